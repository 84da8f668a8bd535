//! Printer class character devices (`/dev/usb/lp0` from the kernel's usblp driver). No line
//! settings apply: bytes are written as they are, and a bidirectional printer's status replies
//! are read back from the same file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::{Transport, TransportError};

pub struct LpTransport {
    path: String,
    file: Option<File>,
}

impl LpTransport {
    pub fn open(path: &str) -> Result<Self, TransportError> {
        let file = open(path)?;
        Ok(LpTransport {
            path: path.to_string(),
            file: Some(file),
        })
    }

    fn file(&mut self) -> Result<&mut File, TransportError> {
        let path = self.path.clone();
        self.file
            .as_mut()
            .ok_or_else(|| TransportError::Disconnected(format!("{path} is closed")))
    }

    fn fail(&mut self, e: std::io::Error) -> TransportError {
        let err = TransportError::from_io(&self.path, e);
        if err.needs_reopen() {
            self.file = None;
        }
        err
    }
}

fn open(path: &str) -> Result<File, TransportError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        // O_NOCTTY: a pty standing in for the printer must not become our controlling terminal.
        .custom_flags(libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TransportError::NoDevice(format!("{path}: {e}")),
            std::io::ErrorKind::PermissionDenied => TransportError::NoDevice(format!(
                "{path}: {e} (is the kiosk user in the lp group?)"
            )),
            _ => TransportError::from_io(path, e),
        })
}

impl Transport for LpTransport {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let ready = {
            let file = self.file()?;
            let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
            poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            )
            .map_err(std::io::Error::from)
            .map(|n| (n, fds[0].revents().unwrap_or(PollFlags::empty())))
        };
        let (n, revents) = ready.map_err(|e| self.fail(e))?;
        if n == 0 {
            return Err(TransportError::Timeout(timeout));
        }
        if revents.contains(PollFlags::POLLHUP) && !revents.contains(PollFlags::POLLIN) {
            self.file = None;
            return Err(TransportError::Disconnected(format!(
                "{}: hung up",
                self.path
            )));
        }
        match self.file()?.read(buf) {
            Ok(0) => Err(TransportError::Timeout(timeout)),
            Ok(n) => Ok(n),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let res = self.file()?.write_all(data);
        res.map_err(|e| self.fail(e))
    }

    fn flush(&mut self) -> Result<(), TransportError> {
        let res = self.file()?.flush();
        res.map_err(|e| self.fail(e))
    }

    fn reopen(&mut self) -> Result<(), TransportError> {
        self.file = None;
        self.file = Some(open(&self.path)?);
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::SimPort;

    #[test]
    fn an_lp_device_carries_bytes_both_ways_and_reports_its_absence() {
        // A pty slave is a character device like /dev/usb/lp0; termios is never touched.
        let dir = tempfile::tempdir().unwrap();
        let mut port = SimPort::create(dir.path().join("lp0")).unwrap();
        let path = port.path().to_string_lossy().to_string();
        let mut lp = LpTransport::open(&path).unwrap();
        lp.write_all(b"\x10\x04\x01").unwrap();
        let mut buf = [0u8; 8];
        let n = port.read(&mut buf, Duration::from_secs(2)).unwrap();
        assert_eq!(&buf[..n], b"\x10\x04\x01");
        port.write_all(&[0x16]).unwrap();
        let n = lp.read(&mut buf, Duration::from_secs(2)).unwrap();
        assert_eq!(&buf[..n], &[0x16]);
        assert!(matches!(
            lp.read(&mut buf, Duration::from_millis(20)),
            Err(TransportError::Timeout(_))
        ));
        assert!(matches!(
            LpTransport::open(&format!("{path}-missing")),
            Err(TransportError::NoDevice(_))
        ));
    }
}
