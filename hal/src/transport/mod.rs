//! Byte-stream transports: the one interface every driver reads and writes through.
//!
//! A transport is a blocking byte pipe owned by one device actor thread. Reads take a timeout so
//! a driver never blocks forever on a silent device; `reopen` is how hot-plug recovery works (a
//! failed poll drops the link, the next poll reopens it).

mod lp;
mod pty;
mod serial;
mod tcp;
mod usb;

use std::time::Duration;

pub use lp::LpTransport;
pub use pty::{PtyPair, SimPort};
pub use serial::{SerialConfig, SerialTransport};
pub use tcp::TcpTransport;
pub use usb::{EndpointIo, UsbBulkConfig, UsbBulkTransport, UsbSelector};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Nothing arrived before the timeout. The link itself is still usable.
    #[error("timed out after {0:?} waiting for data")]
    Timeout(Duration),
    /// The device is not there (not plugged, no permission to the bus, nothing at the path).
    #[error("no device: {0}")]
    NoDevice(String),
    /// The link was up and went away (unplugged, peer closed, hang-up).
    #[error("device disconnected: {0}")]
    Disconnected(String),
    /// The configuration cannot describe a usable link.
    #[error("invalid transport configuration: {0}")]
    Config(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl TransportError {
    /// True when the link must be reopened before it can be used again.
    pub fn needs_reopen(&self) -> bool {
        !matches!(self, TransportError::Timeout(_) | TransportError::Config(_))
    }

    pub(crate) fn from_io(path: &str, e: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => TransportError::Timeout(Duration::ZERO),
            ErrorKind::NotFound => TransportError::NoDevice(format!("{path}: {e}")),
            ErrorKind::BrokenPipe
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::UnexpectedEof => TransportError::Disconnected(format!("{path}: {e}")),
            // A pty whose master went away and a USB-serial adapter that was pulled both report
            // EIO on the next read or write.
            _ if e.raw_os_error() == Some(libc::EIO) || e.raw_os_error() == Some(libc::ENXIO) => {
                TransportError::Disconnected(format!("{path}: {e}"))
            }
            _ if e.raw_os_error() == Some(libc::ENODEV) => {
                TransportError::NoDevice(format!("{path}: {e}"))
            }
            _ => TransportError::Io {
                path: path.to_string(),
                source: e,
            },
        }
    }
}

/// A blocking, timed byte pipe to one device.
pub trait Transport: Send {
    /// Reads whatever is available (at least one byte) into `buf`, waiting at most `timeout`.
    /// Returns `Err(Timeout)` when nothing arrived, never `Ok(0)`.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;
    /// Writes every byte or fails.
    fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError>;
    /// Waits until written bytes have left the host (serial: drained to the wire).
    fn flush(&mut self) -> Result<(), TransportError>;
    /// Closes and opens the link again, dropping any buffered input.
    fn reopen(&mut self) -> Result<(), TransportError>;
    /// Where this link goes, for logs and the device table (`/dev/ttyUSB0`, `tcp://…`, `usb:…`).
    fn describe(&self) -> String;
    /// Discards any input already received but not read.
    fn discard_input(&mut self) -> Result<(), TransportError> {
        let mut scratch = [0u8; 256];
        loop {
            match self.read(&mut scratch, Duration::ZERO) {
                Ok(_) => continue,
                Err(TransportError::Timeout(_)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        (**self).read(buf, timeout)
    }
    fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError> {
        (**self).write_all(data)
    }
    fn flush(&mut self) -> Result<(), TransportError> {
        (**self).flush()
    }
    fn reopen(&mut self) -> Result<(), TransportError> {
        (**self).reopen()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn discard_input(&mut self) -> Result<(), TransportError> {
        (**self).discard_input()
    }
}

/// Where a device is reached, as written in the device table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "transport", rename_all = "kebab-case")]
pub enum Endpoint {
    Serial(SerialConfig),
    Tcp {
        address: String,
    },
    Usb(UsbBulkConfig),
    /// A printer class character device (`/dev/usb/lp0`).
    Lp {
        path: String,
    },
}

impl Endpoint {
    /// Opens the endpoint. Failure to open is reported, not panicked on: a missing device is a
    /// health state, not a crash.
    pub fn open(&self) -> Result<Box<dyn Transport>, TransportError> {
        Ok(match self {
            Endpoint::Serial(cfg) => Box::new(SerialTransport::open(cfg.clone())?),
            Endpoint::Tcp { address } => Box::new(TcpTransport::connect(address)?),
            Endpoint::Usb(cfg) => Box::new(UsbBulkTransport::open(cfg.clone())?),
            Endpoint::Lp { path } => Box::new(LpTransport::open(path)?),
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Endpoint::Serial(cfg) => format!("{} @{}", cfg.path, cfg.baud),
            Endpoint::Tcp { address } => format!("tcp://{address}"),
            Endpoint::Usb(cfg) => cfg.selector.to_string(),
            Endpoint::Lp { path } => path.clone(),
        }
    }
}

/// How long `n` bytes take on an 8N1 serial line (10 bits a byte): the floor no driver can beat.
pub fn wire_time(bytes: usize, baud: u32) -> Duration {
    if baud == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(baud))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_time_of_an_id_card_read_matches_the_protocol_note() {
        // (10 + 10 + 1295 + framing) bytes at 115200 bps is about 0.115 s.
        let t = wire_time(1325, 115_200);
        assert!((t.as_secs_f64() - 0.115).abs() < 0.001, "{t:?}");
        assert_eq!(wire_time(10, 0), Duration::ZERO);
    }

    #[test]
    fn io_errors_map_to_link_states() {
        let eio = std::io::Error::from_raw_os_error(libc::EIO);
        assert!(matches!(
            TransportError::from_io("/dev/x", eio),
            TransportError::Disconnected(_)
        ));
        let nf = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        assert!(matches!(
            TransportError::from_io("/dev/x", nf),
            TransportError::NoDevice(_)
        ));
        assert!(!TransportError::Timeout(Duration::ZERO).needs_reopen());
        assert!(TransportError::NoDevice("x".into()).needs_reopen());
    }
}
