//! Pseudo-terminal pairs: the simulators' side of a serial link.
//!
//! A simulator holds the master; the driver opens the slave by path exactly as it would open
//! `/dev/ttyUSB0`, through the same `SerialTransport`, so the driver code under test is the code
//! that runs on a kiosk. A stable symlink stands in for a udev `/dev/serial/by-id/…` name, which is
//! what makes unplug and replug testable: the link disappears, then points at a new pty.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};

/// One open pseudo-terminal: the master end as a file, and the slave kept open so the master
/// never sees EIO while no driver has the port open.
pub struct PtyPair {
    master: File,
    _slave: OwnedFd,
    slave_path: PathBuf,
}

impl PtyPair {
    pub fn open() -> io::Result<Self> {
        let pty = openpty(None, None).map_err(io::Error::from)?;
        // Raw mode on both ends: no echo, no CR/LF translation, no line buffering. Binary frames
        // must arrive exactly as written.
        for fd in [&pty.master, &pty.slave] {
            let mut t = tcgetattr(fd.as_fd()).map_err(io::Error::from)?;
            cfmakeraw(&mut t);
            tcsetattr(fd.as_fd(), SetArg::TCSANOW, &t).map_err(io::Error::from)?;
        }
        // openpty does not set close-on-exec. A child process started later (a CUPS scheduler,
        // a test's helper) would otherwise inherit the master, and "unplugging" the simulator
        // would not hang up the driver's side while that child lives.
        for fd in [&pty.master, &pty.slave] {
            use nix::fcntl::{fcntl, FcntlArg, FdFlag};
            use std::os::fd::AsRawFd;
            fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
                .map_err(io::Error::from)?;
        }
        let slave_path = nix::unistd::ttyname(pty.slave.as_fd()).map_err(io::Error::from)?;
        Ok(PtyPair {
            master: File::from(pty.master),
            _slave: pty.slave,
            slave_path,
        })
    }

    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// Writes all of `data` to the driver's side.
    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.master.write_all(data)?;
        self.master.flush()
    }

    /// Reads what the driver sent, waiting at most `timeout`. `Ok(0)` means nothing arrived.
    pub fn read(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let ready = {
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            )
            .map_err(io::Error::from)?
        };
        if ready == 0 {
            return Ok(0);
        }
        match self.master.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// A simulated serial device's port: a pty behind a stable symlink that can be unplugged and
/// plugged back in.
pub struct SimPort {
    link: PathBuf,
    pty: Option<PtyPair>,
}

impl SimPort {
    /// Opens a pty and points `link` at its slave. An existing file at `link` is replaced.
    pub fn create(link: impl Into<PathBuf>) -> io::Result<Self> {
        let mut port = SimPort {
            link: link.into(),
            pty: None,
        };
        port.replug()?;
        Ok(port)
    }

    /// The path a driver opens.
    pub fn path(&self) -> &Path {
        &self.link
    }

    pub fn is_plugged(&self) -> bool {
        self.pty.is_some()
    }

    /// Pulls the cable: the driver's next read or write fails and the path disappears.
    pub fn unplug(&mut self) {
        self.pty = None;
        let _ = std::fs::remove_file(&self.link);
    }

    /// Plugs a fresh device in at the same path.
    pub fn replug(&mut self) -> io::Result<()> {
        self.unplug();
        let pty = PtyPair::open()?;
        if let Some(dir) = self.link.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::os::unix::fs::symlink(pty.slave_path(), &self.link)?;
        self.pty = Some(pty);
        Ok(())
    }

    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.pty {
            Some(p) => p.write_all(data),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "unplugged")),
        }
    }

    pub fn read(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        match &mut self.pty {
            Some(p) => p.read(buf, timeout),
            None => {
                std::thread::sleep(timeout);
                Ok(0)
            }
        }
    }
}

impl Drop for SimPort {
    fn drop(&mut self) {
        self.unplug();
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SerialConfig, SerialTransport, Transport, TransportError};
    use super::*;

    #[test]
    fn an_unplug_hangs_up_the_driver_even_with_a_child_process_running() {
        let dir = tempfile::tempdir().unwrap();
        let mut port = SimPort::create(dir.path().join("tty-x")).unwrap();
        let mut t = SerialTransport::open(SerialConfig::new(
            port.path().to_string_lossy().to_string(),
            115_200,
        ))
        .unwrap();
        // A child started after the pty exists must not keep its master open.
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        port.unplug();
        let mut buf = [0u8; 4];
        let r = t.read(&mut buf, Duration::from_millis(500));
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            matches!(r, Err(TransportError::Disconnected(_))),
            "the driver side did not hang up: {r:?}"
        );
    }

    #[test]
    fn serial_transport_talks_to_a_pty_and_survives_replug() {
        let dir = tempfile::tempdir().unwrap();
        let mut sim = SimPort::create(dir.path().join("ttySIM0")).unwrap();
        let cfg = SerialConfig::new(sim.path().to_string_lossy(), 115_200);
        let mut t = SerialTransport::open(cfg).unwrap();

        t.write_all(&[0xAA, 0x0A, 0x0D, 0x00, 0xFF]).unwrap();
        t.flush().unwrap();
        let mut buf = [0u8; 16];
        let mut got = Vec::new();
        while got.len() < 5 {
            let n = sim.read(&mut buf, Duration::from_secs(2)).unwrap();
            assert!(n > 0, "simulator saw nothing");
            got.extend_from_slice(&buf[..n]);
        }
        // Raw mode: CR and LF pass untouched, no echo comes back.
        assert_eq!(got, [0xAA, 0x0A, 0x0D, 0x00, 0xFF]);
        assert!(matches!(
            t.read(&mut buf, Duration::from_millis(30)),
            Err(TransportError::Timeout(_))
        ));

        sim.write_all(b"\r\nok").unwrap();
        let mut got = Vec::new();
        while got.len() < 4 {
            let n = t.read(&mut buf, Duration::from_secs(2)).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"\r\nok");

        sim.unplug();
        let err = t.read(&mut buf, Duration::from_millis(200)).unwrap_err();
        assert!(
            err.needs_reopen(),
            "unplug must read as a lost link, got {err}"
        );
        assert!(matches!(t.reopen(), Err(TransportError::NoDevice(_))));

        sim.replug().unwrap();
        t.reopen().unwrap();
        sim.write_all(b"back").unwrap();
        let n = t.read(&mut buf, Duration::from_secs(2)).unwrap();
        assert!(n > 0);
    }
}
