//! The USB allow-list at run time. Halls differ: one kiosk must take only keyboards and
//! pointing devices besides its own peripherals, another must accept a citizen's U-disk. So
//! the policy is the terminal's own (`[usb]`): classes allowed, vid:pid allowed, and every
//! configured device's `usb` selector. A device outside it is de-authorised through sysfs
//! (`authorized` = 0: the kernel unbinds its drivers and keeps it off until re-authorised)
//! and reported as a security event.
//!
//! `flash.sh` installs the same policy as udev rules, so a device is refused at plug time even
//! while the kiosk is not running; this sweep covers devices that were present before, policy
//! changes, and hosts where the rules were removed. Reads and writes go to a sysfs root given
//! in the config, so tests run against a fake tree.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use kiosk_hal::transport::UsbSelector;
use kiosk_protocol::{Event, EventKind};
use serde::Deserialize;

/// USB class codes by the names the config uses (usb.org's defined class codes).
pub const CLASSES: &[(&str, u8)] = &[
    ("audio", 0x01),
    ("cdc", 0x02),
    ("hid", 0x03),
    ("image", 0x06),
    ("printer", 0x07),
    ("storage", 0x08),
    ("hub", 0x09),
    ("cdc-data", 0x0a),
    ("smartcard", 0x0b),
    ("video", 0x0e),
    ("wireless", 0xe0),
    ("misc", 0xef),
    ("vendor", 0xff),
];

pub fn class_code(name: &str) -> Option<u8> {
    CLASSES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

pub fn class_name(code: u8) -> String {
    CLASSES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| format!("{code:02x}"))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsbMode {
    /// De-authorise devices outside the policy.
    #[default]
    Enforce,
    /// Report them only (a hall trying a policy out).
    Report,
}

/// `[usb]`: which USB devices this terminal accepts. Absent: not watched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbPolicyConfig {
    #[serde(default)]
    pub mode: UsbMode,
    /// Classes accepted whatever their maker: keyboards, mice and touch screens are `hid`.
    #[serde(default = "default_classes")]
    pub allow_classes: Vec<String>,
    /// Further devices accepted by `vid:pid` (lsusb's hex), besides the configured devices.
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default = "default_sysfs")]
    pub sysfs: PathBuf,
    #[serde(default = "default_interval_ms")]
    pub scan_interval_ms: u64,
}

fn default_classes() -> Vec<String> {
    vec!["hid".into(), "hub".into()]
}

fn default_sysfs() -> PathBuf {
    PathBuf::from("/sys/bus/usb/devices")
}

fn default_interval_ms() -> u64 {
    1000
}

impl UsbPolicyConfig {
    /// Checks names and ids; the message names the bad entry.
    pub fn check(&self) -> Result<(), String> {
        for c in &self.allow_classes {
            if class_code(c).is_none() {
                return Err(format!(
                    "usb.allow_classes: unknown class {c:?} (known: {})",
                    CLASSES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        for a in &self.allow {
            a.parse::<UsbSelector>()
                .map_err(|e| format!("usb.allow: {a:?}: {e}"))?;
        }
        if self.scan_interval_ms < 100 {
            return Err("usb.scan_interval_ms is at least 100".into());
        }
        Ok(())
    }
}

/// The policy in force: the config's lists plus the configured devices' selectors.
#[derive(Debug, Clone)]
pub struct UsbPolicy {
    pub mode: UsbMode,
    pub classes: BTreeSet<u8>,
    pub devices: Vec<UsbSelector>,
}

impl UsbPolicy {
    pub fn new(cfg: &UsbPolicyConfig, configured: impl IntoIterator<Item = UsbSelector>) -> Self {
        let mut devices: Vec<UsbSelector> = configured.into_iter().collect();
        devices.extend(cfg.allow.iter().filter_map(|a| a.parse().ok()));
        UsbPolicy {
            mode: cfg.mode,
            classes: cfg
                .allow_classes
                .iter()
                .filter_map(|c| class_code(c))
                .collect(),
            devices,
        }
    }

    /// Whether `d` may stay. Root hubs always stay: refusing one would cut off every port.
    pub fn allows(&self, d: &UsbDevice) -> bool {
        if d.root_hub {
            return true;
        }
        let named = self.devices.iter().any(|s| {
            s.vid == d.vid
                && s.pid == d.pid
                && s.serial
                    .as_ref()
                    .is_none_or(|want| d.serial.as_deref() == Some(want))
        });
        // A device is of its interfaces' classes (or its own, when it declares one); every one
        // of them must be allowed: a keyboard that is also a mass-storage device is not a
        // keyboard.
        named || (!d.classes.is_empty() && d.classes.iter().all(|c| self.classes.contains(c)))
    }
}

/// One USB device as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbDevice {
    /// The sysfs name: the port path (`1-1.4`), or `usb1` for a root hub.
    pub port: String,
    pub vid: u16,
    pub pid: u16,
    pub serial: Option<String>,
    pub product: String,
    pub manufacturer: String,
    pub classes: BTreeSet<u8>,
    pub authorized: bool,
    pub root_hub: bool,
}

fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name))
        .ok()
        .map(|s| s.trim().to_string())
}

fn hex_u8(s: Option<String>) -> Option<u8> {
    u8::from_str_radix(s?.as_str(), 16).ok()
}

/// Reads one device directory; `None` when it is not a device (an interface, a stray file) or
/// its ids cannot be read.
pub fn read_device(dir: &Path) -> Option<UsbDevice> {
    let port = dir.file_name()?.to_str()?.to_string();
    if port.contains(':') {
        return None;
    }
    let vid = u16::from_str_radix(&read(dir, "idVendor")?, 16).ok()?;
    let pid = u16::from_str_radix(&read(dir, "idProduct")?, 16).ok()?;
    let mut classes = BTreeSet::new();
    // 00 means "per interface"; ef (misc) says the same with interface associations.
    match hex_u8(read(dir, "bDeviceClass")) {
        Some(0x00 | 0xef) | None => {}
        Some(c) => {
            classes.insert(c);
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&format!("{port}:")) {
                if let Some(c) = hex_u8(read(&e.path(), "bInterfaceClass")) {
                    classes.insert(c);
                }
            }
        }
    }
    Some(UsbDevice {
        root_hub: port.starts_with("usb"),
        authorized: read(dir, "authorized").as_deref() != Some("0"),
        serial: read(dir, "serial"),
        product: read(dir, "product").unwrap_or_default(),
        manufacturer: read(dir, "manufacturer").unwrap_or_default(),
        port,
        vid,
        pid,
        classes,
    })
}

/// Every device under the sysfs root, in name order.
pub fn scan(root: &Path) -> std::io::Result<Vec<UsbDevice>> {
    let mut out: Vec<UsbDevice> = std::fs::read_dir(root)?
        .flatten()
        .filter_map(|e| read_device(&e.path()))
        .collect();
    out.sort_by(|a, b| a.port.cmp(&b.port));
    Ok(out)
}

/// Watches one sysfs tree against one policy; remembers what it already reported.
pub struct UsbGuard {
    policy: UsbPolicy,
    root: PathBuf,
    reported: HashSet<(String, u16, u16)>,
}

impl UsbGuard {
    pub fn new(policy: UsbPolicy, root: PathBuf) -> Self {
        UsbGuard {
            policy,
            root,
            reported: HashSet::new(),
        }
    }

    /// One pass: de-authorises (or only reports) each device outside the policy, once per
    /// plug-in. The events are what happened, for the journal.
    pub fn sweep(&mut self, now: chrono::DateTime<chrono::Utc>) -> std::io::Result<Vec<Event>> {
        let devices = scan(&self.root)?;
        let present: HashSet<_> = devices
            .iter()
            .map(|d| (d.port.clone(), d.vid, d.pid))
            .collect();
        // Unplugged: a later plug-in is a new event.
        self.reported.retain(|k| present.contains(k));
        let mut events = Vec::new();
        for d in devices {
            if self.policy.allows(&d) {
                continue;
            }
            let key = (d.port.clone(), d.vid, d.pid);
            if self.reported.contains(&key) {
                continue;
            }
            let (action, error) = match (self.policy.mode, d.authorized) {
                (UsbMode::Report, _) => ("reported", None),
                (UsbMode::Enforce, false) => ("already-blocked", None),
                (UsbMode::Enforce, true) => {
                    match std::fs::write(self.root.join(&d.port).join("authorized"), "0") {
                        Ok(()) => ("blocked", None),
                        Err(e) => ("not-blocked", Some(e.to_string())),
                    }
                }
            };
            let mut e = Event::new(EventKind::UsbDeviceRefused, now)
                .field("port", d.port.clone())
                .field("usb", format!("{:04x}:{:04x}", d.vid, d.pid))
                .field(
                    "classes",
                    d.classes.iter().map(|c| class_name(*c)).collect::<Vec<_>>(),
                )
                .field(
                    "product",
                    format!("{} {}", d.manufacturer, d.product).trim(),
                )
                .field("action", action);
            if let Some(err) = error {
                tracing::error!(port = %d.port, error = %err, "could not de-authorise a USB device outside the policy");
                e = e.field("error", err);
            } else {
                tracing::warn!(port = %d.port, usb = %format!("{:04x}:{:04x}", d.vid, d.pid), action, "USB device outside the policy");
            }
            self.reported.insert(key);
            events.push(e);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `/sys/bus/usb/devices`: one directory per device with its attributes and one
    /// per interface, as the kernel lays it out.
    pub(crate) fn plug(
        root: &Path,
        port: &str,
        usb: &str,
        device_class: &str,
        interfaces: &[&str],
        product: &str,
    ) {
        let dir = root.join(port);
        std::fs::create_dir_all(&dir).unwrap();
        let (vid, pid) = usb.split_once(':').unwrap();
        for (k, v) in [
            ("idVendor", vid),
            ("idProduct", pid),
            ("bDeviceClass", device_class),
            ("product", product),
            ("manufacturer", "Maker"),
            ("authorized", "1"),
        ] {
            std::fs::write(dir.join(k), format!("{v}\n")).unwrap();
        }
        for (i, class) in interfaces.iter().enumerate() {
            let intf = dir.join(format!("{port}:1.{i}"));
            std::fs::create_dir_all(&intf).unwrap();
            std::fs::write(intf.join("bInterfaceClass"), format!("{class}\n")).unwrap();
        }
    }

    fn authorized(root: &Path, port: &str) -> String {
        std::fs::read_to_string(root.join(port).join("authorized"))
            .unwrap()
            .trim()
            .to_string()
    }

    fn config(text: &str) -> UsbPolicyConfig {
        toml::from_str(text).unwrap()
    }

    fn hall(root: &Path) {
        plug(
            root,
            "usb1",
            "1d6b:0002",
            "09",
            &["09"],
            "xHCI Host Controller",
        );
        plug(root, "1-1", "05e3:0610", "09", &["09"], "USB2.1 Hub");
        plug(
            root,
            "1-1.1",
            "413c:2113",
            "00",
            &["03", "03"],
            "Dell KB216 Keyboard",
        );
        plug(root, "1-1.2", "1a86:7523", "ff", &["ff"], "USB Serial");
        plug(root, "1-1.3", "0781:5583", "00", &["08"], "Ultra Fit");
        plug(
            root,
            "1-1.4",
            "1234:5678",
            "00",
            &["03", "08"],
            "Keyboard with a disk",
        );
    }

    #[test]
    fn devices_outside_the_policy_are_de_authorised_once_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        hall(root);
        let cfg = config("allow = [\"1a86:7523\"]");
        cfg.check().unwrap();
        let mut guard = UsbGuard::new(UsbPolicy::new(&cfg, []), root.to_path_buf());
        let now = chrono::Utc::now();
        let events = guard.sweep(now).unwrap();
        let ports: Vec<_> = events.iter().map(|e| e.fields["port"].clone()).collect();
        assert_eq!(ports, vec!["1-1.3", "1-1.4"]);
        assert_eq!(events[0].kind, EventKind::UsbDeviceRefused);
        assert_eq!(events[0].fields["usb"], "0781:5583");
        assert_eq!(events[0].fields["classes"], serde_json::json!(["storage"]));
        assert_eq!(events[0].fields["action"], "blocked");
        assert_eq!(
            events[1].fields["classes"],
            serde_json::json!(["hid", "storage"])
        );
        for (port, want) in [
            ("usb1", "1"),
            ("1-1", "1"),
            ("1-1.1", "1"),
            ("1-1.2", "1"),
            ("1-1.3", "0"),
            ("1-1.4", "0"),
        ] {
            assert_eq!(authorized(root, port), want, "{port}");
        }
        // Reported once: the next sweep is quiet.
        assert!(guard.sweep(now).unwrap().is_empty());
        // Unplugged and plugged again: a new event.
        std::fs::remove_dir_all(root.join("1-1.3")).unwrap();
        assert!(guard.sweep(now).unwrap().is_empty());
        plug(root, "1-1.3", "0781:5583", "00", &["08"], "Ultra Fit");
        let again = guard.sweep(now).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(authorized(root, "1-1.3"), "0");
    }

    #[test]
    fn a_hall_that_takes_u_disks_and_a_configured_reader_by_serial() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        hall(root);
        std::fs::write(root.join("1-1.2/serial"), "A1\n").unwrap();
        let cfg = config("allow_classes = [\"hid\", \"hub\", \"storage\"]");
        let reader: UsbSelector = "1a86:7523:A1".parse().unwrap();
        let mut guard = UsbGuard::new(UsbPolicy::new(&cfg, [reader]), root.to_path_buf());
        assert!(guard.sweep(chrono::Utc::now()).unwrap().is_empty());
        // The same model with another serial is not the configured reader.
        std::fs::write(root.join("1-1.2/serial"), "B2\n").unwrap();
        std::fs::remove_dir_all(root.join("1-1.1")).unwrap();
        let events = guard.sweep(chrono::Utc::now()).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].fields["port"], "1-1.2");
    }

    #[test]
    fn report_mode_touches_nothing_and_a_failed_write_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        hall(root);
        let mut guard = UsbGuard::new(
            UsbPolicy::new(&config("mode = \"report\""), []),
            root.to_path_buf(),
        );
        let events = guard.sweep(chrono::Utc::now()).unwrap();
        assert_eq!(events.len(), 3, "the serial adapter is not allowed either");
        assert!(events.iter().all(|e| e.fields["action"] == "reported"));
        assert_eq!(authorized(root, "1-1.3"), "1");

        // `authorized` not writable (no udev rule gave the kiosk the attribute).
        let mut guard = UsbGuard::new(UsbPolicy::new(&config(""), []), root.to_path_buf());
        std::fs::remove_file(root.join("1-1.3/authorized")).unwrap();
        std::fs::create_dir(root.join("1-1.3/authorized")).unwrap();
        let events = guard.sweep(chrono::Utc::now()).unwrap();
        let e = events.iter().find(|e| e.fields["port"] == "1-1.3").unwrap();
        assert_eq!(e.fields["action"], "not-blocked");
        assert!(e.fields.contains_key("error"));
    }

    #[test]
    fn bad_policies_and_odd_trees_are_told_apart() {
        assert!(config("allow_classes = [\"floppy\"]")
            .check()
            .unwrap_err()
            .contains("floppy"));
        assert!(config("allow = [\"12:zz\"]").check().is_err());
        assert!(config("scan_interval_ms = 5").check().is_err());
        let dir = tempfile::tempdir().unwrap();
        // Stray files and a device without ids are skipped, never a panic.
        std::fs::write(dir.path().join("stray"), "x").unwrap();
        std::fs::create_dir(dir.path().join("2-1")).unwrap();
        std::fs::write(dir.path().join("2-1/idVendor"), "zzzz").unwrap();
        assert!(scan(dir.path()).unwrap().is_empty());
        assert!(scan(&dir.path().join("absent")).is_err());
    }
}
