//! USB bulk endpoints through libusb (rusb): devices that are neither CDC serial nor HID.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rusb::{Context, DeviceHandle, UsbContext};

use super::{Transport, TransportError};

/// Which USB device: vendor and product id, and optionally its serial-number string so two
/// identical readers in one cabinet can be told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbSelector {
    pub vid: u16,
    pub pid: u16,
    pub serial: Option<String>,
}

impl fmt::Display for UsbSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "usb:{:04x}:{:04x}", self.vid, self.pid)?;
        if let Some(s) = &self.serial {
            write!(f, ":{s}")?;
        }
        Ok(())
    }
}

impl FromStr for UsbSelector {
    type Err = String;
    /// `vvvv:pppp` or `vvvv:pppp:SERIAL`, hexadecimal ids as lsusb prints them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("usb:").unwrap_or(s);
        let mut parts = s.splitn(3, ':');
        let parse = |p: Option<&str>, what: &str| -> Result<u16, String> {
            let p = p.ok_or_else(|| format!("missing {what} in {s:?} (expected vid:pid)"))?;
            u16::from_str_radix(p, 16).map_err(|_| format!("{what} {p:?} is not a 4-digit hex id"))
        };
        let vid = parse(parts.next(), "vendor id")?;
        let pid = parse(parts.next(), "product id")?;
        let serial = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
        Ok(UsbSelector { vid, pid, serial })
    }
}

impl serde::Serialize for UsbSelector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for UsbSelector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbBulkConfig {
    #[serde(rename = "usb")]
    pub selector: UsbSelector,
    #[serde(default)]
    pub interface: u8,
    /// IN endpoint address, with the direction bit (e.g. 0x81).
    pub ep_in: u8,
    /// OUT endpoint address (e.g. 0x02).
    pub ep_out: u8,
}

/// Bulk I/O on any endpoint of a claimed interface, for devices that split one logical frame
/// across endpoints (full-speed ID card SAM modules: header on one, body on another).
pub trait EndpointIo: Send {
    fn write_endpoint(&mut self, ep: u8, data: &[u8]) -> Result<(), TransportError>;
    /// Reads one transfer from `ep`; `Err(Timeout)` when nothing arrived.
    fn read_endpoint(
        &mut self,
        ep: u8,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError>;
    fn describe(&self) -> String;
}

pub struct UsbBulkTransport {
    config: UsbBulkConfig,
    handle: Option<DeviceHandle<Context>>,
    /// Bytes of the last bulk read that did not fit the caller's buffer.
    pending: Vec<u8>,
}

impl UsbBulkTransport {
    pub fn open(config: UsbBulkConfig) -> Result<Self, TransportError> {
        if config.ep_in & 0x80 == 0 {
            return Err(TransportError::Config(format!(
                "ep_in 0x{:02x} is not an IN endpoint (bit 7 must be set)",
                config.ep_in
            )));
        }
        if config.ep_out & 0x80 != 0 {
            return Err(TransportError::Config(format!(
                "ep_out 0x{:02x} is not an OUT endpoint (bit 7 must be clear)",
                config.ep_out
            )));
        }
        let handle = open_handle(&config)?;
        Ok(UsbBulkTransport {
            config,
            handle: Some(handle),
            pending: Vec::new(),
        })
    }

    fn handle(&self) -> Result<&DeviceHandle<Context>, TransportError> {
        self.handle.as_ref().ok_or_else(|| {
            TransportError::Disconnected(format!("{} is closed", self.config.selector))
        })
    }

    fn fail(&mut self, e: rusb::Error) -> TransportError {
        let err = map_usb_error(&self.config.selector, e);
        if err.needs_reopen() {
            self.handle = None;
        }
        err
    }
}

fn map_usb_error(sel: &UsbSelector, e: rusb::Error) -> TransportError {
    match e {
        rusb::Error::Timeout => TransportError::Timeout(Duration::ZERO),
        rusb::Error::NoDevice => TransportError::Disconnected(format!("{sel}: device gone")),
        rusb::Error::NotFound => TransportError::NoDevice(format!("{sel}: not found")),
        rusb::Error::Access => TransportError::NoDevice(format!(
            "{sel}: permission denied (add a udev rule for this vid:pid)"
        )),
        rusb::Error::Busy => TransportError::NoDevice(format!(
            "{sel}: interface is busy (claimed by another process)"
        )),
        other => TransportError::Disconnected(format!("{sel}: {other}")),
    }
}

fn open_handle(config: &UsbBulkConfig) -> Result<DeviceHandle<Context>, TransportError> {
    let sel = &config.selector;
    // A container or a machine without usbfs has no libusb context: that is "no device".
    let ctx = Context::new()
        .map_err(|e| TransportError::NoDevice(format!("{sel}: USB unavailable ({e})")))?;
    let devices = ctx
        .devices()
        .map_err(|e| TransportError::NoDevice(format!("{sel}: cannot list USB devices ({e})")))?;
    for device in devices.iter() {
        let Ok(desc) = device.device_descriptor() else {
            continue;
        };
        if desc.vendor_id() != sel.vid || desc.product_id() != sel.pid {
            continue;
        }
        let handle = match device.open() {
            Ok(h) => h,
            Err(e) => return Err(map_usb_error(sel, e)),
        };
        if let Some(want) = &sel.serial {
            let got = handle
                .read_serial_number_string_ascii(&desc)
                .unwrap_or_default();
            if &got != want {
                continue;
            }
        }
        // Readers enumerate with a kernel driver on some hosts; detach it only for our session.
        let _ = handle.set_auto_detach_kernel_driver(true);
        handle
            .claim_interface(config.interface)
            .map_err(|e| map_usb_error(sel, e))?;
        return Ok(handle);
    }
    Err(TransportError::NoDevice(format!("{sel}: not connected")))
}

impl EndpointIo for UsbBulkTransport {
    fn write_endpoint(&mut self, ep: u8, data: &[u8]) -> Result<(), TransportError> {
        let mut off = 0;
        while off < data.len() {
            let res = self
                .handle()?
                .write_bulk(ep, &data[off..], Duration::from_secs(2));
            match res {
                Ok(n) => off += n,
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(())
    }

    fn read_endpoint(
        &mut self,
        ep: u8,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, TransportError> {
        let mut scratch = vec![0u8; buf.len().max(512)];
        let res = self
            .handle()?
            .read_bulk(ep, &mut scratch, timeout.max(Duration::from_millis(1)));
        match res {
            Ok(0) | Err(rusb::Error::Timeout) => Err(TransportError::Timeout(timeout)),
            Ok(n) => {
                // A full-speed bulk packet is at most 64 bytes; callers pass larger buffers.
                let take = n.min(buf.len());
                buf[..take].copy_from_slice(&scratch[..take]);
                Ok(take)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn describe(&self) -> String {
        Transport::describe(self)
    }
}

impl Transport for UsbBulkTransport {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        if !self.pending.is_empty() {
            let n = self.pending.len().min(buf.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(n);
        }
        // A bulk IN transfer must accept a whole packet; read into a packet-sized scratch buffer.
        let mut scratch = vec![0u8; buf.len().max(512)];
        let ep = self.config.ep_in;
        let res = self
            .handle()?
            .read_bulk(ep, &mut scratch, timeout.max(Duration::from_millis(1)));
        match res {
            Ok(0) => Err(TransportError::Timeout(timeout)),
            Ok(n) => {
                let take = n.min(buf.len());
                buf[..take].copy_from_slice(&scratch[..take]);
                self.pending.extend_from_slice(&scratch[take..n]);
                Ok(take)
            }
            Err(rusb::Error::Timeout) => Err(TransportError::Timeout(timeout)),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError> {
        let ep = self.config.ep_out;
        let mut off = 0;
        while off < data.len() {
            let res = self
                .handle()?
                .write_bulk(ep, &data[off..], Duration::from_secs(2));
            match res {
                Ok(n) => off += n,
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), TransportError> {
        // Bulk writes complete synchronously; nothing is buffered on the host side.
        Ok(())
    }

    fn reopen(&mut self) -> Result<(), TransportError> {
        self.handle = None;
        self.pending.clear();
        self.handle = Some(open_handle(&self.config)?);
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "{} if{} in 0x{:02x} out 0x{:02x}",
            self.config.selector, self.config.interface, self.config.ep_in, self.config.ep_out
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_parses_and_prints() {
        let s: UsbSelector = "0400:c35a".parse().unwrap();
        assert_eq!((s.vid, s.pid, s.serial.clone()), (0x0400, 0xc35a, None));
        assert_eq!(s.to_string(), "usb:0400:c35a");
        let s: UsbSelector = "usb:10c4:ea60:SN42".parse().unwrap();
        assert_eq!(s.serial.as_deref(), Some("SN42"));
        assert!("zzzz:0001".parse::<UsbSelector>().is_err());
        assert!("0400".parse::<UsbSelector>().is_err());
    }

    #[test]
    fn absent_device_is_no_device_not_a_panic() {
        // 0xffff:0xfffe is reserved by no vendor; on a machine without usbfs the context itself
        // fails, which must read the same way.
        let cfg = UsbBulkConfig {
            selector: "ffff:fffe".parse().unwrap(),
            interface: 0,
            ep_in: 0x81,
            ep_out: 0x02,
        };
        match UsbBulkTransport::open(cfg) {
            Err(TransportError::NoDevice(msg)) => assert!(msg.contains("ffff:fffe"), "{msg}"),
            Err(other) => panic!("expected NoDevice, got {other}"),
            Ok(_) => panic!("a device with a reserved vid:pid was found"),
        }
    }

    #[test]
    fn endpoint_directions_are_checked() {
        let cfg = UsbBulkConfig {
            selector: "0400:c35a".parse().unwrap(),
            interface: 0,
            ep_in: 0x01,
            ep_out: 0x02,
        };
        assert!(matches!(
            UsbBulkTransport::open(cfg),
            Err(TransportError::Config(_))
        ));
    }
}
