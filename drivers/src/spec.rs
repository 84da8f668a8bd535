//! One row of the device table: what a device is and how it is reached.

use std::collections::BTreeMap;

use kiosk_hal::transport::{Endpoint, SerialConfig, UsbBulkConfig, UsbSelector};
use kiosk_hal::DeviceKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    Serial,
    Tcp,
    Usb,
    /// Board pins (GPIO character device).
    Gpio,
    /// A Linux input device (`/dev/input/event*`): USB HID keyboard-wedge scanners.
    Hid,
    /// A reader managed by pcscd, found by name.
    Pcsc,
    /// A printer class character device (`/dev/usb/lp0`).
    Lp,
    /// An IPP printer, by `uri`.
    Ipp,
    /// A V4L2 video node (`/dev/video0`), read through OpenCV videoio.
    Video,
}

impl TransportKind {
    /// Whether the device is reached through a byte-stream [`Endpoint`].
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            TransportKind::Serial | TransportKind::Tcp | TransportKind::Usb | TransportKind::Lp
        )
    }
}

/// A device table entry as written in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    pub id: String,
    pub kind: DeviceKind,
    pub driver: String,
    pub transport: TransportKind,
    /// Serial device path, or the GPIO chip for board pins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baud: Option<u32>,
    /// `host:port` for TCP devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `vid:pid[:serial]` for USB devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb: Option<UsbSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ep_in: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ep_out: Option<u8>,
    /// Second endpoints of devices that split frames (SAM modules: body OUT 0x06, IN 0x85).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ep_out_data: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ep_in_data: Option<u8>,
    /// A human name for screens ("扫码器 / QR scanner"); defaults to the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Driver-specific settings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, Value>,
}

impl DeviceSpec {
    pub fn new(id: &str, kind: DeviceKind, driver: &str, transport: TransportKind) -> Self {
        DeviceSpec {
            id: id.to_string(),
            kind,
            driver: driver.to_string(),
            transport,
            path: None,
            baud: None,
            address: None,
            usb: None,
            interface: None,
            ep_in: None,
            ep_out: None,
            ep_out_data: None,
            ep_in_data: None,
            name: None,
            options: BTreeMap::new(),
        }
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// The byte-stream endpoint of a serial, TCP or USB device.
    pub fn endpoint(&self) -> Result<Endpoint, String> {
        let need = |v: &Option<String>, what: &str| {
            v.clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("transport {:?} needs `{what}`", self.transport))
        };
        match self.transport {
            TransportKind::Serial => Ok(Endpoint::Serial(SerialConfig::new(
                need(&self.path, "path")?,
                self.baud.unwrap_or(115_200),
            ))),
            TransportKind::Tcp => Ok(Endpoint::Tcp {
                address: need(&self.address, "address")?,
            }),
            TransportKind::Usb => Ok(Endpoint::Usb(UsbBulkConfig {
                selector: self
                    .usb
                    .clone()
                    .ok_or("transport \"usb\" needs `usb = \"vid:pid\"`")?,
                interface: self.interface.unwrap_or(0),
                ep_in: self.ep_in.ok_or("transport \"usb\" needs `ep_in`")?,
                ep_out: self.ep_out.ok_or("transport \"usb\" needs `ep_out`")?,
            })),
            TransportKind::Lp => Ok(Endpoint::Lp {
                path: need(&self.path, "path")?,
            }),
            TransportKind::Gpio
            | TransportKind::Hid
            | TransportKind::Pcsc
            | TransportKind::Ipp
            | TransportKind::Video => Err(format!(
                "transport {:?} is not a byte stream",
                self.transport
            )),
        }
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, String> {
        match self.options.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!("option `{key}` must be a string, not {other}")),
        }
    }

    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.options.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("option `{key}` must be a non-negative integer, not {v}")),
        }
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.options.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!("option `{key}` must be true or false, not {other}")),
        }
    }

    /// Rejects options the driver does not know, so a typo is caught at start, not in the hall.
    pub fn check_options(&self, known: &[&str]) -> Result<(), String> {
        for key in self.options.keys() {
            if !known.contains(&key.as_str()) {
                return Err(format!(
                    "unknown option `{key}` for driver {}; known options: {}",
                    self.driver,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_table_rows() {
        let mut s = DeviceSpec::new(
            "scanner",
            DeviceKind::QrScanner,
            "qr-serial",
            TransportKind::Serial,
        );
        assert!(s.endpoint().unwrap_err().contains("path"));
        s.path = Some("/dev/ttyACM0".into());
        assert_eq!(s.endpoint().unwrap().describe(), "/dev/ttyACM0 @115200");
        s.transport = TransportKind::Usb;
        s.usb = Some("0400:c35a".parse().unwrap());
        assert!(s.endpoint().unwrap_err().contains("ep_in"));
        s.ep_in = Some(0x81);
        s.ep_out = Some(0x02);
        assert_eq!(s.endpoint().unwrap().describe(), "usb:0400:c35a");
        s.options.insert("sufix".into(), Value::String("\r".into()));
        assert!(s.check_options(&["suffix"]).unwrap_err().contains("sufix"));
        assert!(s.opt_u64("sufix").is_err());
    }
}
