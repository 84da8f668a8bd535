//! Serial ports (RS-232, USB-CDC, pseudo-terminals) through the `serialport` crate.

use std::io::{Read, Write};
use std::time::Duration;

use serialport::{SerialPort, TTYPort};

use super::{Transport, TransportError};

fn default_baud() -> u32 {
    115_200
}

/// 8N1 is what every hall peripheral uses; only the path and speed vary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialConfig {
    pub path: String,
    #[serde(default = "default_baud")]
    pub baud: u32,
}

impl SerialConfig {
    pub fn new(path: impl Into<String>, baud: u32) -> Self {
        SerialConfig {
            path: path.into(),
            baud,
        }
    }
}

pub struct SerialTransport {
    config: SerialConfig,
    port: Option<TTYPort>,
}

impl SerialTransport {
    pub fn open(config: SerialConfig) -> Result<Self, TransportError> {
        let port = open_port(&config)?;
        Ok(SerialTransport {
            config,
            port: Some(port),
        })
    }

    pub fn config(&self) -> &SerialConfig {
        &self.config
    }

    fn port(&mut self) -> Result<&mut TTYPort, TransportError> {
        self.port
            .as_mut()
            .ok_or_else(|| TransportError::Disconnected(format!("{} is closed", self.config.path)))
    }
}

/// Maps an error from an operation on an open port: anything but "no device" means the link
/// is broken and must be reopened.
fn map_serial_error(path: &str, e: serialport::Error) -> TransportError {
    match e.kind() {
        serialport::ErrorKind::NoDevice => {
            TransportError::NoDevice(format!("{path}: {}", e.description))
        }
        serialport::ErrorKind::Io(kind) => {
            // serialport keeps only the kind; EIO from a vanished device arrives as Other.
            let io = std::io::Error::new(kind, e.description.clone());
            match TransportError::from_io(path, io) {
                TransportError::Io { .. } => {
                    TransportError::Disconnected(format!("{path}: {}", e.description))
                }
                other => other,
            }
        }
        _ => TransportError::Disconnected(format!("{path}: {}", e.description)),
    }
}

fn open_port(config: &SerialConfig) -> Result<TTYPort, TransportError> {
    if config.baud == 0 {
        return Err(TransportError::Config(format!(
            "{}: baud rate must be positive",
            config.path
        )));
    }
    if !std::path::Path::new(&config.path).exists() {
        return Err(TransportError::NoDevice(format!(
            "{}: no such device",
            config.path
        )));
    }
    let mut port = serialport::new(&config.path, config.baud)
        .timeout(Duration::from_millis(100))
        .open_native()
        .map_err(|e| match e.kind() {
            serialport::ErrorKind::NoDevice => {
                TransportError::NoDevice(format!("{}: {}", config.path, e.description))
            }
            serialport::ErrorKind::Io(kind) => {
                TransportError::from_io(&config.path, std::io::Error::new(kind, e.description))
            }
            _ => TransportError::Config(format!("{}: {}", config.path, e.description)),
        })?;
    // Another process holding the port exclusively would corrupt frames; TIOCEXCL keeps it ours.
    port.set_exclusive(true)
        .map_err(|e| TransportError::Config(format!("{}: {}", config.path, e.description)))?;
    Ok(port)
}

impl Transport for SerialTransport {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let path = self.config.path.clone();
        let port = self.port()?;
        // serialport polls with this timeout; zero would mean "block", so use the smallest tick.
        if let Err(e) = port.set_timeout(timeout.max(Duration::from_millis(1))) {
            let err = map_serial_error(&path, e);
            if err.needs_reopen() {
                self.port = None;
            }
            return Err(err);
        }
        match port.read(buf) {
            Ok(0) => Err(TransportError::Disconnected(format!("{path}: end of file"))),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                Err(TransportError::Timeout(timeout))
            }
            Err(e) => {
                let err = TransportError::from_io(&path, e);
                if err.needs_reopen() {
                    self.port = None;
                }
                Err(err)
            }
        }
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let path = self.config.path.clone();
        let port = self.port()?;
        port.write_all(data).map_err(|e| {
            let err = TransportError::from_io(&path, e);
            if err.needs_reopen() {
                self.port = None;
            }
            err
        })
    }

    fn flush(&mut self) -> Result<(), TransportError> {
        let path = self.config.path.clone();
        let port = self.port()?;
        port.flush().map_err(|e| TransportError::from_io(&path, e))
    }

    fn reopen(&mut self) -> Result<(), TransportError> {
        self.port = None;
        self.port = Some(open_port(&self.config)?);
        Ok(())
    }

    fn describe(&self) -> String {
        format!("{} @{}", self.config.path, self.config.baud)
    }

    fn discard_input(&mut self) -> Result<(), TransportError> {
        let path = self.config.path.clone();
        let port = self.port()?;
        let res = port.clear(serialport::ClearBuffer::Input);
        res.map_err(|e| {
            let err = map_serial_error(&path, e);
            if err.needs_reopen() {
                self.port = None;
            }
            err
        })
    }
}
