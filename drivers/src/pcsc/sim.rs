//! A virtual social-security card for the vsmartcard virtual reader (vpcd) of a real pcscd.
//! vpcd listens on TCP (port 35963 for its first slot); a card "is inserted" while it is
//! connected. Each message is a 2-byte big-endian length and a payload: one byte for power off
//! (0), power on (1), reset (2) or ATR request (4), otherwise a command APDU to answer.
//!
//! The card put in is the social-security card, or a technician's contactless staff badge when
//! `insert` names a UID: the badge answers only PC/SC's GET UID, as a reader does for one.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

/// The ATR a PC/SC reader makes up for a contactless card (PC/SC part 3, 3.1.3.2.3): here a
/// MIFARE Classic 1K, as staff badges commonly are.
pub fn badge_atr() -> Vec<u8> {
    let mut a = vec![
        0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00,
    ];
    let tck = a[1..].iter().fold(0, |x, b| x ^ b);
    a.push(tck);
    a
}

/// What a staff badge answers through the reader: its UID to `FF CA 00 00`, nothing else.
pub fn badge_answer(uid: &[u8], apdu: &[u8]) -> Response {
    let Ok(c) = Command::parse(apdu) else {
        return Response::status(0x6700);
    };
    match (c.cla, c.ins, c.p1, c.p2) {
        (0xFF, 0xCA, 0x00, 0x00) => Response::ok(uid.to_vec()),
        (0xFF, 0xCA, _, _) => Response::status(0x6A81),
        (0xFF, _, _, _) => Response::status(0x6D00),
        _ => Response::status(0x6E00),
    }
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
    /// The staff badge's UID when a badge is on the reader rather than the social-security
    /// card; a change makes the card leave and come back, so pcscd reads the new ATR.
    badge: Arc<Mutex<Option<Vec<u8>>>>,
    swaps: Arc<AtomicU64>,
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
        let badge = Arc::new(Mutex::new(None));
        let swaps = Arc::new(AtomicU64::new(0));
        let line = Line {
            inserted: inserted.clone(),
            apdus: apdus.clone(),
            stop: stop.clone(),
            badge: badge.clone(),
            swaps: swaps.clone(),
        };
        let number = card_number.to_string();
        let _ = std::thread::Builder::new()
            .name(format!("vicc-{id}"))
            .spawn(move || serve(port, &number, &line));
        VirtualCard {
            id: id.into(),
            port,
            inserted,
            badge,
            swaps,
            apdus,
            stop,
        }
    }

    /// Puts the social-security card in.
    pub fn insert(&self) {
        self.put(None);
    }

    /// Puts a staff badge with `uid` on the reader instead.
    pub fn insert_badge(&self, uid: &[u8]) {
        self.put(Some(uid.to_vec()));
    }

    fn put(&self, badge: Option<Vec<u8>>) {
        let mut held = self.badge.lock().unwrap_or_else(|p| p.into_inner());
        if *held != badge {
            *held = badge;
            self.swaps.fetch_add(1, Ordering::SeqCst);
        }
        self.inserted.store(true, Ordering::SeqCst);
    }

    /// Takes the card out. Counted as a change, so a card put back at once still leaves the
    /// reader for a moment that pcscd sees.
    pub fn remove(&self) {
        self.inserted.store(false, Ordering::SeqCst);
        self.swaps.fetch_add(1, Ordering::SeqCst);
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

/// What the serving thread shares with its `VirtualCard`.
struct Line {
    inserted: Arc<AtomicBool>,
    apdus: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    badge: Arc<Mutex<Option<Vec<u8>>>>,
    swaps: Arc<AtomicU64>,
}

fn serve(port: u16, number: &str, line: &Line) {
    let (inserted, apdus, stop) = (&line.inserted, &line.apdus, &line.stop);
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
        let swap = line.swaps.load(Ordering::SeqCst);
        let badge = line.badge.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // Connected: the card is in the reader until removed, swapped or pcscd goes away.
        loop {
            if stop.load(Ordering::SeqCst)
                || !inserted.load(Ordering::SeqCst)
                || line.swaps.load(Ordering::SeqCst) != swap
            {
                hang_up(&mut conn);
                // Long enough for pcscd, which asks vpcd about the card every 400 ms, to see
                // the reader empty before the next card.
                for _ in 0..10 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
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
                [0x04] => Some(if badge.is_some() { badge_atr() } else { atr() }),
                apdu => {
                    apdus.fetch_add(1, Ordering::SeqCst);
                    Some(match &badge {
                        Some(uid) => badge_answer(uid, apdu).encode(),
                        None => card.answer(apdu).encode(),
                    })
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
    fn inject(&self, what: &str, args: &Value) -> Result<Value, String> {
        match what {
            // `{"uid": "04A1B2C3"}` puts a staff badge on the reader; without, the card.
            "insert" => {
                match args.get("uid").and_then(Value::as_str) {
                    Some(h) => {
                        let uid = hex::decode(h)
                            .ok()
                            .filter(|u| (4..=10).contains(&u.len()))
                            .ok_or_else(|| format!("uid {h:?} is not 4 to 10 bytes of hex"))?;
                        self.insert_badge(&uid);
                    }
                    None => self.insert(),
                }
                Ok(Value::Null)
            }
            "remove" => {
                self.remove();
                Ok(Value::Null)
            }
            "stats" => Ok(json!({
                "inserted": self.inserted.load(Ordering::SeqCst),
                "badge": self.badge.lock().unwrap_or_else(|p| p.into_inner()).is_some(),
                "apdus": self.apdus()
            })),
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
        // A contact card has no UID to give; a badge gives only that.
        assert_eq!(c.answer(&Command::get_uid().encode().unwrap()).sw, 0x6E00);
        let uid = [0x04, 0xA1, 0xB2, 0xC3];
        let r = badge_answer(&uid, &Command::get_uid().encode().unwrap());
        assert_eq!((r.data.as_slice(), r.sw), (&uid[..], 0x9000));
        assert_eq!(
            badge_answer(&uid, &[0xFF, 0xCA, 0x01, 0x00, 0x00]).sw,
            0x6A81
        );
        assert_eq!(
            badge_answer(&uid, &Command::select_aid(SSSE_AID).encode().unwrap()).sw,
            0x6E00
        );
        assert_eq!(badge_answer(&uid, &[0xFF]).sw, 0x6700);
        let b = badge_atr();
        assert_eq!(b[1..].iter().fold(0, |x, b| x ^ b), 0);
        let a = atr();
        assert_eq!(
            a[1..].iter().fold(0, |x, b| x ^ b),
            0,
            "TCK makes the XOR of T0..TCK zero"
        );
    }
}
