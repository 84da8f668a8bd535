//! A virtual social-security card for the vsmartcard virtual reader (vpcd) of a real pcscd.
//! vpcd listens on TCP (port 35963 for its first slot); a card "is inserted" while it is
//! connected. Each message is a 2-byte big-endian length and a payload: one byte for power off
//! (0), power on (1), reset (2) or ATR request (4), otherwise a command APDU to answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::apdu::{Command, Response, SSSE_AID};
use crate::sim::{SimControl, SimFaults};

pub const VPCD_PORT: u16 = 35963;

/// ATR of the virtual card: T=1, historical bytes "HALLKIT-SSC".
pub fn atr() -> Vec<u8> {
    let hist = b"HALLKIT-SSC";
    let mut a = vec![0x3B, 0x80 | hist.len() as u8, 0x80, 0x01];
    a.extend_from_slice(hist);
    let tck = a[1..].iter().fold(0, |x, b| x ^ b);
    a.push(tck);
    a
}

/// What the card answers: the social-security application and its card-identification file.
pub struct SocialSecurityCard {
    card_number: String,
    selected_app: bool,
    selected_ef: Option<u16>,
    challenges: u64,
}

impl SocialSecurityCard {
    pub fn new(card_number: &str) -> Self {
        SocialSecurityCard {
            card_number: card_number.into(),
            selected_app: false,
            selected_ef: None,
            challenges: 0,
        }
    }

    pub fn reset(&mut self) {
        self.selected_app = false;
        self.selected_ef = None;
    }

    pub fn answer(&mut self, apdu: &[u8]) -> Response {
        let Ok(c) = Command::parse(apdu) else {
            return Response::status(0x6700);
        };
        if c.cla != 0x00 {
            return Response::status(0x6E00);
        }
        match (c.ins, c.p1) {
            (0xA4, 0x04) => {
                if c.data == SSSE_AID {
                    self.selected_app = true;
                    self.selected_ef = None;
                    let mut fci = vec![0x6F, (c.data.len() + 2) as u8, 0x84, c.data.len() as u8];
                    fci.extend_from_slice(&c.data);
                    Response::ok(fci)
                } else {
                    Response::status(0x6A82)
                }
            }
            (0xA4, 0x02) if self.selected_app && c.data == [0xEF, 0x05] => {
                self.selected_ef = Some(0xEF05);
                Response::status(0x9000)
            }
            (0xA4, _) => Response::status(0x6A82),
            (0xB2, record) if self.selected_ef == Some(0xEF05) => match record {
                // Record 7 of EF05 holds the social-security card number (tag 07, length 9).
                0x07 => {
                    let mut d = vec![0x07, 0x09];
                    let mut n = self.card_number.clone().into_bytes();
                    n.resize(9, b' ');
                    d.extend_from_slice(&n);
                    Response::ok(d)
                }
                _ => Response::status(0x6A83),
            },
            (0xB2, _) => Response::status(0x6986),
            (0x84, _) => {
                self.challenges += 1;
                let n = usize::from(c.le.unwrap_or(8)).max(1);
                let mut out =
                    Sha256::digest(format!("{}:{}", self.card_number, self.challenges).as_bytes())
                        .to_vec();
                out.resize(n, 0);
                Response::ok(out)
            }
            _ => Response::status(0x6D00),
        }
    }
}

pub struct VirtualCard {
    id: String,
    port: u16,
    inserted: Arc<AtomicBool>,
    apdus: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl VirtualCard {
    /// Starts a card for the vpcd slot at `port`; it connects (is inserted) when `insert` is
    /// called and keeps trying until pcscd listens.
    pub fn start(id: &str, port: u16, card_number: &str) -> VirtualCard {
        let inserted = Arc::new(AtomicBool::new(false));
        let apdus = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (i, a, s, number) = (
            inserted.clone(),
            apdus.clone(),
            stop.clone(),
            card_number.to_string(),
        );
        let _ = std::thread::Builder::new()
            .name(format!("vicc-{id}"))
            .spawn(move || serve(port, &number, &i, &a, &s));
        VirtualCard {
            id: id.into(),
            port,
            inserted,
            apdus,
            stop,
        }
    }

    pub fn insert(&self) {
        self.inserted.store(true, Ordering::SeqCst);
    }

    pub fn remove(&self) {
        self.inserted.store(false, Ordering::SeqCst);
    }

    pub fn apdus(&self) -> u64 {
        self.apdus.load(Ordering::SeqCst)
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(port: u16, number: &str, inserted: &AtomicBool, apdus: &AtomicU64, stop: &AtomicBool) {
    let mut card = SocialSecurityCard::new(number);
    while !stop.load(Ordering::SeqCst) {
        if !inserted.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
        let _ = conn.set_nodelay(true);
        card.reset();
        // Connected: the card is in the reader until removed or pcscd goes away.
        loop {
            if stop.load(Ordering::SeqCst) || !inserted.load(Ordering::SeqCst) {
                hang_up(&mut conn);
                break;
            }
            let mut len = [0u8; 2];
            match conn.read_exact(&mut len) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => break,
            }
            let n = usize::from(u16::from_be_bytes(len));
            let mut msg = vec![0u8; n];
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            if conn.read_exact(&mut msg).is_err() {
                break;
            }
            let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
            let reply = match msg.as_slice() {
                [0x00] | [0x01] => None,
                [0x02] => {
                    card.reset();
                    None
                }
                [0x04] => Some(atr()),
                apdu => {
                    apdus.fetch_add(1, Ordering::SeqCst);
                    Some(card.answer(apdu).encode())
                }
            };
            if let Some(r) = reply {
                let mut out = (r.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(&r);
                if conn.write_all(&out).is_err() {
                    break;
                }
            }
        }
    }
}

/// Disconnecting from vpcd is how a virtual card leaves the reader.
fn hang_up(conn: &mut TcpStream) {
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

impl SimControl for VirtualCard {
    fn device_id(&self) -> &str {
        &self.id
    }
    fn endpoint(&self) -> String {
        format!("vpcd 127.0.0.1:{}", self.port)
    }
    fn unplug(&self) -> Result<(), String> {
        self.remove();
        Ok(())
    }
    fn replug(&self) -> Result<(), String> {
        self.insert();
        Ok(())
    }
    fn set_faults(&self, _faults: SimFaults) -> Result<(), String> {
        Err("the virtual card speaks through pcscd; line faults do not apply".into())
    }
    fn inject(&self, what: &str, _args: &Value) -> Result<Value, String> {
        match what {
            "insert" => {
                self.insert();
                Ok(Value::Null)
            }
            "remove" => {
                self.remove();
                Ok(Value::Null)
            }
            "stats" => Ok(
                json!({ "inserted": self.inserted.load(Ordering::SeqCst), "apdus": self.apdus() }),
            ),
            other => Err(format!(
                "the virtual card cannot {other:?}; it can: insert, remove, stats"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_answers_without_a_reader() {
        let mut c = SocialSecurityCard::new("D12345678");
        assert_eq!(
            c.answer(&Command::select_file(0xEF05).encode().unwrap()).sw,
            0x6A82
        );
        let r = c.answer(&Command::select_aid(SSSE_AID).encode().unwrap());
        assert!(r.is_ok());
        assert!(c
            .answer(&Command::select_file(0xEF05).encode().unwrap())
            .is_ok());
        let r = c.answer(&Command::read_record(7, 0).encode().unwrap());
        assert_eq!(&r.data[2..], b"D12345678");
        assert_eq!(c.answer(&[0x00]).sw, 0x6700);
        assert_eq!(c.answer(&[0x80, 0xCA, 0, 0]).sw, 0x6E00);
        assert_eq!(
            c.answer(&Command::get_challenge(8).encode().unwrap())
                .data
                .len(),
            8
        );
        let a = atr();
        assert_eq!(
            a[1..].iter().fold(0, |x, b| x ^ b),
            0,
            "TCK makes the XOR of T0..TCK zero"
        );
    }
}
