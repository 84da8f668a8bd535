//! The simulator harness. A simulator runs the device side of a protocol at the other end of a
//! real pseudo-terminal ([`SimPort`]) or TCP socket ([`SimTcp`]) and can be scripted to misbehave
//! the way field devices do: stay silent, send line noise, deliver replies in fragments or
//! slowly, corrupt a byte, or be unplugged and plugged back in.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use kiosk_hal::transport::SimPort;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where simulators put their ports.
#[derive(Debug, Clone)]
pub struct SimEnv {
    pub dir: PathBuf,
}

impl SimEnv {
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(SimEnv { dir })
    }

    /// A per-process directory under the system temp dir.
    pub fn for_process() -> io::Result<Self> {
        Self::new(std::env::temp_dir().join(format!("hallkit-sim-{}", std::process::id())))
    }

    pub fn port_path(&self, device_id: &str) -> PathBuf {
        self.dir.join(format!("tty-{device_id}"))
    }
}

/// How a simulator misbehaves. Applies to every reply until changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimFaults {
    /// Swallow requests and say nothing.
    pub no_reply: bool,
    /// Swallow only the next this many replies, then answer again (a reply lost on a busy
    /// line); counts down as replies are swallowed.
    pub swallow_next: std::cell::Cell<u32>,
    /// Bytes sent before each reply, as line noise would.
    pub garbage: Vec<u8>,
    /// Split each reply into chunks of this many bytes.
    pub fragment: Option<usize>,
    /// Pause between chunks (or before a whole reply).
    pub delay_ms: u64,
    /// Flip the bits of the reply's last byte (breaks a checksum or a terminator).
    pub corrupt_last: bool,
    /// Pace the line like a real UART at this speed (8N1), both ways: a pty moves bytes
    /// instantly, which would make wire-time comparisons meaningless.
    pub pace_baud: Option<u32>,
}

impl SimFaults {
    /// How long `bytes` took to arrive on a paced line; the simulator waits this long before it
    /// acts on a request, as the device would still be receiving it.
    pub fn arrival(&self, bytes: usize) {
        if let Some(baud) = self.pace_baud {
            std::thread::sleep(kiosk_hal::transport::wire_time(bytes, baud));
        }
    }
}

/// The device side of a link.
pub trait SimLink: Send {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Reads what the host sent; `Ok(0)` when nothing arrived within `timeout`.
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
    fn unplug(&mut self);
    fn replug(&mut self) -> io::Result<()>;
    fn is_plugged(&self) -> bool;
}

impl SimLink for SimPort {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        self.read(buf, timeout)
    }
    fn unplug(&mut self) {
        SimPort::unplug(self)
    }
    fn replug(&mut self) -> io::Result<()> {
        SimPort::replug(self)
    }
    fn is_plugged(&self) -> bool {
        SimPort::is_plugged(self)
    }
}

/// A TCP device (network printer, serial-over-IP box) that serves one host connection at a time.
pub struct SimTcp {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    conn: Option<TcpStream>,
}

impl SimTcp {
    pub fn bind_loopback() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        Ok(SimTcp {
            addr: listener.local_addr()?,
            listener: Some(listener),
            conn: None,
        })
    }

    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    fn accept(&mut self) -> io::Result<()> {
        if let Some(l) = &self.listener {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nodelay(true)?;
                    // The newest host connection wins, as on a device that allows one client.
                    self.conn = Some(s);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl SimLink for SimTcp {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.accept()?;
        match &mut self.conn {
            Some(c) => c.write_all(bytes),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "no host connected",
            )),
        }
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        self.accept()?;
        let Some(c) = &mut self.conn else {
            std::thread::sleep(timeout.min(Duration::from_millis(20)));
            return Ok(0);
        };
        c.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match c.read(buf) {
            Ok(0) => {
                self.conn = None;
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(0)
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }

    fn unplug(&mut self) {
        self.conn = None;
        self.listener = None;
    }

    fn replug(&mut self) -> io::Result<()> {
        self.unplug();
        let l = TcpListener::bind(self.addr)?;
        l.set_nonblocking(true)?;
        self.listener = Some(l);
        Ok(())
    }

    fn is_plugged(&self) -> bool {
        self.listener.is_some()
    }
}

/// Sends a reply the way `faults` says.
pub fn send_with_faults(
    link: &mut dyn SimLink,
    faults: &SimFaults,
    reply: &[u8],
) -> io::Result<()> {
    if faults.no_reply {
        return Ok(());
    }
    let swallow = faults.swallow_next.get();
    if swallow > 0 {
        faults.swallow_next.set(swallow - 1);
        return Ok(());
    }
    let mut bytes = faults.garbage.clone();
    bytes.extend_from_slice(reply);
    if faults.corrupt_last {
        if let Some(b) = bytes.last_mut() {
            *b ^= 0xFF;
        }
    }
    let delay = Duration::from_millis(faults.delay_ms);
    if let Some(baud) = faults.pace_baud {
        // A UART delivers a byte every 10 bit times; send in small bursts at that rate.
        let start = std::time::Instant::now();
        let mut sent = 0usize;
        for chunk in bytes.chunks(faults.fragment.unwrap_or(16).max(1)) {
            link.send(chunk)?;
            sent += chunk.len();
            let due = kiosk_hal::transport::wire_time(sent, baud);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        return Ok(());
    }
    match faults.fragment {
        Some(n) if n > 0 => {
            for chunk in bytes.chunks(n) {
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                link.send(chunk)?;
            }
            Ok(())
        }
        _ => {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            link.send(&bytes)
        }
    }
}

/// Remote control of a running simulator, for tests, the sim profile and devctl.
pub trait SimControl: Send + Sync {
    fn device_id(&self) -> &str;
    /// Where the driver reaches the simulator (a pty symlink, a TCP address).
    fn endpoint(&self) -> String;
    fn unplug(&self) -> Result<(), String>;
    fn replug(&self) -> Result<(), String>;
    fn set_faults(&self, faults: SimFaults) -> Result<(), String>;
    /// Device-specific stimulus: present a code, step in front of the sensor, open a door.
    fn inject(&self, what: &str, args: &Value) -> Result<Value, String>;
}

/// What every pty simulator does to its link on request.
pub(crate) enum LinkReq {
    Unplug,
    Replug,
    Faults(SimFaults),
}

impl LinkReq {
    /// Carries the request out on the simulator's thread; `on_unplug` drops whatever the
    /// device had half received, as a power cut empties a UART buffer.
    pub(crate) fn apply(
        self,
        port: &mut dyn SimLink,
        faults: &mut SimFaults,
        on_unplug: impl FnOnce(),
    ) -> Result<Value, String> {
        match self {
            LinkReq::Unplug => {
                port.unplug();
                on_unplug();
            }
            LinkReq::Replug => port.replug().map_err(|e| e.to_string())?,
            LinkReq::Faults(f) => *faults = f,
        }
        Ok(Value::Null)
    }
}

/// The five `SimControl` methods every pty simulator shares, for a type with `id`, `endpoint`
/// and a `mailbox` of requests that wrap [`LinkReq`]. Used inside `impl SimControl for …`.
macro_rules! pty_sim_link_controls {
    () => {
        fn device_id(&self) -> &str {
            &self.id
        }
        fn endpoint(&self) -> String {
            self.endpoint.clone()
        }
        fn unplug(&self) -> Result<(), String> {
            $crate::sim::ask_link(&self.mailbox, $crate::sim::LinkReq::Unplug)
        }
        fn replug(&self) -> Result<(), String> {
            $crate::sim::ask_link(&self.mailbox, $crate::sim::LinkReq::Replug)
        }
        fn set_faults(&self, faults: $crate::sim::SimFaults) -> Result<(), String> {
            $crate::sim::ask_link(&self.mailbox, $crate::sim::LinkReq::Faults(faults))
        }
    };
}
pub(crate) use pty_sim_link_controls;

/// The link half of `SimControl` for simulators whose requests wrap a [`LinkReq`].
pub(crate) fn ask_link<Req: From<LinkReq> + Send + 'static>(
    mailbox: &SimMailbox<Req>,
    req: LinkReq,
) -> Result<(), String> {
    mailbox.ask(Req::from(req)).map(drop)
}

/// A request to a simulator thread with the channel its one answer goes back on.
pub(crate) type Mail<Req> = (Req, std::sync::mpsc::Sender<Result<Value, String>>);

/// A simulator thread's mailbox: requests in, one answer out per request.
pub(crate) struct SimMailbox<Req> {
    tx: std::sync::Mutex<std::sync::mpsc::Sender<Mail<Req>>>,
}

impl<Req: Send + 'static> SimMailbox<Req> {
    pub(crate) fn new() -> (Self, std::sync::mpsc::Receiver<Mail<Req>>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (
            SimMailbox {
                tx: std::sync::Mutex::new(tx),
            },
            rx,
        )
    }

    pub(crate) fn ask(&self, req: Req) -> Result<Value, String> {
        let (reply_tx, reply_rx) = std::sync::mpsc::channel();
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((req, reply_tx))
            .map_err(|_| "simulator has stopped".to_string())?;
        reply_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "simulator did not answer".to_string())?
    }
}

pub(crate) fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_sim_serves_a_host_and_can_be_unplugged() {
        let mut sim = SimTcp::bind_loopback().unwrap();
        let mut host = TcpStream::connect(sim.address()).unwrap();
        host.write_all(b"hi").unwrap();
        let mut buf = [0u8; 8];
        let mut n = 0;
        for _ in 0..1000 {
            n = sim.recv(&mut buf, Duration::from_millis(20)).unwrap();
            if n > 0 {
                break;
            }
        }
        assert_eq!(&buf[..n], b"hi");
        let faults = SimFaults {
            garbage: vec![0xEE],
            fragment: Some(1),
            corrupt_last: true,
            ..Default::default()
        };
        send_with_faults(&mut sim, &faults, b"ok").unwrap();
        let mut got = Vec::new();
        host.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        while got.len() < 3 {
            let n = host.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, [0xEE, b'o', b'k' ^ 0xFF]);
        sim.unplug();
        assert!(TcpStream::connect(sim.address()).is_err());
        sim.replug().unwrap();
        assert!(TcpStream::connect(sim.address()).is_ok());
    }
}
