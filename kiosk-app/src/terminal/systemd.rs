//! The service manager's notification protocol (sd_notify): `READY=1` once the terminal
//! serves, `WATCHDOG=1` while it is healthy, `STOPPING=1` on the way out. systemd gives the
//! socket in `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace) and the watchdog
//! period in `WATCHDOG_USEC`; outside systemd neither is set and nothing is sent. The protocol
//! is one datagram of `KEY=VALUE` lines, so no library is needed.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where notifications go, from the environment.
pub struct Notifier {
    target: Option<SocketAddr>,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|s| {
            let s = s.to_string_lossy().into_owned();
            match s.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes()).ok(),
                None if s.starts_with('/') => SocketAddr::from_pathname(&s).ok(),
                None => None,
            }
        });
        Notifier { target }
    }

    /// Whether a service manager listens.
    pub fn active(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `state` (`READY=1`, `WATCHDOG=1`, `STATUS=…`); `Ok(false)` outside systemd.
    pub fn notify(&self, state: &str) -> io::Result<bool> {
        let Some(addr) = &self.target else {
            return Ok(false);
        };
        let sock = UnixDatagram::unbound()?;
        sock.send_to_addr(state.as_bytes(), addr)?;
        Ok(true)
    }
}

/// How often to feed the watchdog: half its period, when it is meant for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Sends `state` if a service manager listens; a failure is logged, never fatal.
pub fn notify(state: &str) {
    if let Err(e) = Notifier::from_env().notify(state) {
        tracing::warn!(error = %e, state, "the service manager was not notified");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_arrives_as_one_datagram() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            target: SocketAddr::from_pathname(&path).ok(),
        };
        assert!(n.active());
        assert!(n.notify("READY=1\nSTATUS=serving").unwrap());
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=serving");
        let none = Notifier { target: None };
        assert!(!none.notify("READY=1").unwrap());
    }
}
