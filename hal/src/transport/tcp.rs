//! TCP links: network receipt printers (port 9100), serial-over-IP converters, TCP simulators.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{Transport, TransportError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub struct TcpTransport {
    address: String,
    stream: Option<TcpStream>,
}

impl TcpTransport {
    pub fn connect(address: &str) -> Result<Self, TransportError> {
        let stream = connect(address)?;
        Ok(TcpTransport {
            address: address.to_string(),
            stream: Some(stream),
        })
    }

    fn stream(&mut self) -> Result<&mut TcpStream, TransportError> {
        self.stream.as_mut().ok_or_else(|| {
            TransportError::Disconnected(format!("tcp://{} is closed", self.address))
        })
    }

    fn fail(&mut self, e: std::io::Error) -> TransportError {
        let err = TransportError::from_io(&format!("tcp://{}", self.address), e);
        if err.needs_reopen() {
            self.stream = None;
        }
        err
    }
}

fn connect(address: &str) -> Result<TcpStream, TransportError> {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| TransportError::Config(format!("tcp address {address:?}: {e}")))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                // Device commands are small and latency-bound; Nagle would add 40 ms stalls.
                s.set_nodelay(true).ok();
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(TransportError::NoDevice(match last {
        Some(e) => format!("tcp://{address}: {e}"),
        None => format!("tcp://{address}: no address"),
    }))
}

impl Transport for TcpTransport {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let address = self.address.clone();
        let stream = self.stream()?;
        stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|e| TransportError::from_io(&address, e))?;
        match stream.read(buf) {
            Ok(0) => {
                self.stream = None;
                Err(TransportError::Disconnected(format!(
                    "tcp://{address}: peer closed"
                )))
            }
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(TransportError::Timeout(timeout))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let res = self.stream()?.write_all(data);
        res.map_err(|e| self.fail(e))
    }

    fn flush(&mut self) -> Result<(), TransportError> {
        let res = self.stream()?.flush();
        res.map_err(|e| self.fail(e))
    }

    fn reopen(&mut self) -> Result<(), TransportError> {
        self.stream = None;
        self.stream = Some(connect(&self.address)?);
        Ok(())
    }

    fn describe(&self) -> String {
        format!("tcp://{}", self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn round_trip_timeout_and_peer_close() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut b = [0u8; 4];
            s.read_exact(&mut b).unwrap();
            s.write_all(&b).unwrap();
            // Give the client time to observe a timeout, then close.
            std::thread::sleep(Duration::from_millis(150));
        });
        let mut t = TcpTransport::connect(&addr).unwrap();
        t.write_all(b"ping").unwrap();
        let mut buf = [0u8; 16];
        let mut got = Vec::new();
        while got.len() < 4 {
            let n = t.read(&mut buf, Duration::from_secs(2)).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"ping");
        assert!(matches!(
            t.read(&mut buf, Duration::from_millis(20)),
            Err(TransportError::Timeout(_))
        ));
        server.join().unwrap();
        assert!(matches!(
            t.read(&mut buf, Duration::from_secs(2)),
            Err(TransportError::Disconnected(_))
        ));
        // The peer is gone for good: reopening reports that nothing is there.
        assert!(matches!(t.reopen(), Err(TransportError::NoDevice(_))));
    }

    #[test]
    fn bad_address_is_a_config_error() {
        assert!(matches!(
            TcpTransport::connect("not an address"),
            Err(TransportError::Config(_))
        ));
    }
}
