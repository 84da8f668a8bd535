//! USB HID keyboard-wedge scanners, read through evdev with an exclusive grab (EVIOCGRAB) so a
//! scan never reaches the UI — or a focused form field — as keystrokes.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use evdev::{Device as EvDevice, EventType};
use kiosk_hal::actor::{ActionSpec, CommandContext, Device, DeviceInput};
use kiosk_hal::device::{CommandError, DeviceInfo, Health, HealthReport, Progress};
use kiosk_hal::privacy::mask_free_text;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde_json::{json, Value};

use super::{rules_from_spec, PayloadRules};
use crate::{DeviceSpec, DriverError};

pub const DRIVER: &str = "qr-hid";
const OPTIONS: &[&str] = &["grab", "max_len", "onecode_prefixes", "appointment_pattern"];

const KEY_ENTER: u16 = 28;
const KEY_KPENTER: u16 = 96;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_RIGHTSHIFT: u16 = 54;
const KEY_CAPSLOCK: u16 = 58;

/// The character a key gives on a US layout, which is what scanners emit unless configured
/// otherwise.
fn key_char(code: u16, shift: bool, caps: bool) -> Option<char> {
    const ROW_DIGITS: &[u8; 10] = b"1234567890";
    const ROW_DIGITS_SHIFT: &[u8; 10] = b"!@#$%^&*()";
    const LETTERS: [(u16, char); 26] = [
        (16, 'q'),
        (17, 'w'),
        (18, 'e'),
        (19, 'r'),
        (20, 't'),
        (21, 'y'),
        (22, 'u'),
        (23, 'i'),
        (24, 'o'),
        (25, 'p'),
        (30, 'a'),
        (31, 's'),
        (32, 'd'),
        (33, 'f'),
        (34, 'g'),
        (35, 'h'),
        (36, 'j'),
        (37, 'k'),
        (38, 'l'),
        (44, 'z'),
        (45, 'x'),
        (46, 'c'),
        (47, 'v'),
        (48, 'b'),
        (49, 'n'),
        (50, 'm'),
    ];
    const SYMBOLS: [(u16, char, char); 11] = [
        (12, '-', '_'),
        (13, '=', '+'),
        (26, '[', '{'),
        (27, ']', '}'),
        (39, ';', ':'),
        (40, '\'', '"'),
        (41, '`', '~'),
        (43, '\\', '|'),
        (51, ',', '<'),
        (52, '.', '>'),
        (53, '/', '?'),
    ];
    const KEYPAD: [(u16, char); 15] = [
        (71, '7'),
        (72, '8'),
        (73, '9'),
        (74, '-'),
        (75, '4'),
        (76, '5'),
        (77, '6'),
        (78, '+'),
        (79, '1'),
        (80, '2'),
        (81, '3'),
        (82, '0'),
        (83, '.'),
        (98, '/'),
        (55, '*'),
    ];
    if (2..=11).contains(&code) {
        let i = usize::from(code - 2);
        return Some(if shift {
            ROW_DIGITS_SHIFT[i]
        } else {
            ROW_DIGITS[i]
        } as char);
    }
    if let Some((_, c)) = LETTERS.iter().find(|(k, _)| *k == code) {
        return Some(if shift ^ caps {
            c.to_ascii_uppercase()
        } else {
            *c
        });
    }
    if let Some((_, plain, shifted)) = SYMBOLS.iter().find(|(k, _, _)| *k == code) {
        return Some(if shift { *shifted } else { *plain });
    }
    if let Some((_, c)) = KEYPAD.iter().find(|(k, _)| *k == code) {
        return Some(*c);
    }
    match code {
        57 => Some(' '),
        15 => Some('\t'),
        _ => None,
    }
}

/// Turns key events into scanned lines.
#[derive(Debug, Default)]
pub struct KeyWedge {
    shift_keys: u8,
    caps: bool,
    line: String,
    max_len: usize,
    /// Keys with no character on the layout, counted so a misconfigured scanner shows up.
    pub unknown_keys: u64,
}

impl KeyWedge {
    pub fn new(max_len: usize) -> Self {
        KeyWedge {
            max_len,
            ..Default::default()
        }
    }

    /// Feeds one key event (`value` 1 press, 0 release, 2 auto-repeat); returns a finished
    /// line at Enter.
    pub fn feed(&mut self, code: u16, value: i32) -> Option<String> {
        let pressed = value == 1;
        match code {
            KEY_LEFTSHIFT | KEY_RIGHTSHIFT => {
                let bit = if code == KEY_LEFTSHIFT { 1 } else { 2 };
                match value {
                    1 => self.shift_keys |= bit,
                    0 => self.shift_keys &= !bit,
                    _ => {}
                }
                None
            }
            KEY_CAPSLOCK if pressed => {
                self.caps = !self.caps;
                None
            }
            KEY_ENTER | KEY_KPENTER if pressed => {
                let line = std::mem::take(&mut self.line);
                (!line.is_empty()).then_some(line)
            }
            _ if pressed => {
                match key_char(code, self.shift_keys != 0, self.caps) {
                    Some(c) if self.line.len() < self.max_len.max(1) => self.line.push(c),
                    Some(_) => {}
                    None => self.unknown_keys += 1,
                }
                None
            }
            _ => None,
        }
    }
}

pub struct HidScanner {
    info: DeviceInfo,
    path: String,
    grab: bool,
    device: Option<EvDevice>,
    wedge: KeyWedge,
    rules: PayloadRules,
    scans: u64,
}

impl HidScanner {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Self, DriverError> {
        let cfg = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(cfg)?;
        let path = spec.path.clone().filter(|p| !p.is_empty()).ok_or_else(|| {
            cfg("a HID scanner needs `path` (/dev/input/by-id/…-event-kbd)".into())
        })?;
        let mut info = DeviceInfo::new(&spec.id, spec.kind, DRIVER);
        info.transport = path.clone();
        info.model = "USB HID keyboard-wedge scanner".into();
        Ok(HidScanner {
            info,
            path,
            grab: spec.opt_bool("grab").map_err(cfg)?.unwrap_or(true),
            device: None,
            wedge: KeyWedge::new(spec.opt_u64("max_len").map_err(cfg)?.unwrap_or(4096) as usize),
            rules: rules_from_spec(spec).map_err(cfg)?,
            scans: 0,
        })
    }

    fn open(&mut self) -> Result<&mut EvDevice, String> {
        if self.device.is_none() {
            let mut d = EvDevice::open(&self.path).map_err(|e| format!("{}: {e}", self.path))?;
            if self.grab {
                // Without the grab every scan would also type into whatever has focus.
                d.grab()
                    .map_err(|e| format!("{}: exclusive grab failed: {e}", self.path))?;
            }
            d.set_nonblocking(true)
                .map_err(|e| format!("{}: {e}", self.path))?;
            self.info.model = d.name().unwrap_or("USB HID scanner").to_string();
            self.device = Some(d);
        }
        self.device
            .as_mut()
            .ok_or_else(|| "device closed".to_string())
    }

    /// Reads pending key events, waiting at most `budget` for the first.
    fn read_lines(&mut self, budget: Duration) -> Result<Vec<String>, String> {
        let dev = self.open()?;
        let ms = i32::try_from(budget.as_millis()).unwrap_or(i32::MAX);
        let ready = {
            let mut fds = [PollFd::new(dev.as_fd(), PollFlags::POLLIN)];
            poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            )
            .map_err(|e| e.to_string())?
        };
        if ready == 0 {
            return Ok(Vec::new());
        }
        let fetched: Result<Vec<(u16, i32)>, std::io::Error> = dev.fetch_events().map(|evs| {
            evs.filter(|e| e.event_type() == EventType::KEY)
                .map(|e| (e.code(), e.value()))
                .collect()
        });
        let events = match fetched {
            Ok(evs) => evs,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Vec::new(),
            Err(e) => {
                // ENODEV: unplugged. Drop it; the next poll reopens.
                self.device = None;
                return Err(format!("{}: {e}", self.path));
            }
        };
        let mut lines = Vec::new();
        for (code, value) in events {
            if let Some(l) = self.wedge.feed(code, value) {
                self.scans += 1;
                tracing::info!(device = %self.info.id, text = %mask_free_text(&l), "code scanned");
                lines.push(l);
            }
        }
        Ok(lines)
    }
}

impl Device for HidScanner {
    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    fn poll(&mut self) -> HealthReport {
        let grab = self.grab;
        match self.open() {
            Ok(_) => HealthReport::new(Health::Online).with_detail(format!(
                "{} codes read{}",
                self.scans,
                if grab { ", grabbed" } else { "" }
            )),
            Err(e) if e.contains("No such file") => {
                HealthReport::new(Health::NoDevice).with_detail(e)
            }
            Err(e) => HealthReport::new(Health::HardwareError).with_detail(e),
        }
    }

    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        self.device = None;
        self.open().map_err(CommandError::not_ready)?;
        Ok(
            json!({ "path": self.path, "name": self.info.model, "grabbed": self.grab, "unknown_keys": self.wedge.unknown_keys }),
        )
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![ActionSpec {
            name: "scan",
            summary: "wait for the next code",
            args: &["timeout_ms=how long to wait"],
        }]
    }

    fn run(
        &mut self,
        action: &str,
        args: &Value,
        ctx: &CommandContext,
    ) -> Result<Value, CommandError> {
        if action != "scan" {
            return Err(CommandError::unsupported(format!(
                "HID scanner has no action {action:?}"
            )));
        }
        let timeout = args
            .get("timeout_ms")
            .and_then(Value::as_u64)
            .map_or(ctx.timeout, Duration::from_millis)
            .min(ctx.timeout);
        let deadline = Instant::now() + timeout;
        ctx.progress.emit(Progress::PresentCode);
        loop {
            ctx.cancel.check()?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CommandError::timeout("no code was presented"));
            }
            let lines = self
                .read_lines(left.min(Duration::from_millis(200)))
                .map_err(CommandError::not_ready)?;
            if let Some(l) = lines.into_iter().next() {
                return Ok(json!({ "payload": self.rules.classify(&l) }));
            }
        }
    }

    fn produces_input(&self) -> bool {
        true
    }

    fn take_input(&mut self, budget: Duration) -> Vec<DeviceInput> {
        if self.device.is_none() {
            std::thread::sleep(budget);
            return Vec::new();
        }
        match self.read_lines(budget) {
            Ok(lines) => lines
                .into_iter()
                .map(|l| DeviceInput {
                    device: self.info.id.clone(),
                    kind: "scan".into(),
                    data: json!({ "payload": self.rules.classify(&l) }),
                })
                .collect(),
            Err(e) => {
                tracing::warn!(device = %self.info.id, error = %e, "HID scanner lost");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::TransportKind;
    use kiosk_hal::DeviceKind;
    use proptest::prelude::*;

    /// Key events as a scanner sends them for `s` (US layout, shift for capitals and symbols).
    fn keystrokes(s: &str) -> Vec<(u16, i32)> {
        let mut out = Vec::new();
        for ch in s.chars() {
            let (code, shift) = (1..=127u16)
                .flat_map(|c| [(c, false), (c, true)])
                .find(|(c, sh)| {
                    key_char(*c, *sh, false) == Some(ch)
                        && !(71..=83).contains(c)
                        && *c != 55
                        && *c != 98
                })
                .unwrap_or_else(|| panic!("no key for {ch:?}"));
            if shift {
                out.push((KEY_LEFTSHIFT, 1));
            }
            out.push((code, 1));
            out.push((code, 0));
            if shift {
                out.push((KEY_LEFTSHIFT, 0));
            }
        }
        out.push((KEY_ENTER, 1));
        out.push((KEY_ENTER, 0));
        out
    }

    #[test]
    fn scans_decode_from_key_events() {
        let mut w = KeyWedge::new(4096);
        let code = "https://zwfw.example.gov.cn/Q?c=AB_12&x=~!";
        let lines: Vec<String> = keystrokes(code)
            .into_iter()
            .filter_map(|(c, v)| w.feed(c, v))
            .collect();
        assert_eq!(lines, vec![code.to_string()]);
        // Keypad digits, caps lock and auto-repeat.
        let mut w = KeyWedge::new(4096);
        let evs = [
            (KEY_CAPSLOCK, 1),
            (KEY_CAPSLOCK, 0),
            (30, 1),
            (30, 2),
            (30, 0),
            (79, 1),
            (79, 0),
            (KEY_KPENTER, 1),
        ];
        let lines: Vec<String> = evs.into_iter().filter_map(|(c, v)| w.feed(c, v)).collect();
        assert_eq!(lines, vec!["A1".to_string()]);
        // Unknown keys are counted, not typed; an empty line is no scan.
        assert_eq!(w.feed(183, 1), None);
        assert_eq!(w.unknown_keys, 1);
        assert_eq!(w.feed(KEY_ENTER, 1), None);
    }

    #[test]
    fn missing_input_device_is_no_device() {
        let mut spec =
            DeviceSpec::new("hidscan", DeviceKind::QrScanner, DRIVER, TransportKind::Hid);
        assert!(HidScanner::from_spec(&spec).is_err());
        spec.path = Some("/dev/input/by-id/usb-none-event-kbd".into());
        let mut s = HidScanner::from_spec(&spec).unwrap();
        assert_eq!(s.poll().health, Health::NoDevice);
        assert_eq!(
            s.run(
                "scan",
                &json!({}),
                &CommandContext::with_timeout(Duration::from_millis(50))
            )
            .unwrap_err()
            .code,
            kiosk_hal::CompletionCode::NotReady
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn any_event_stream_is_safe(evs in proptest::collection::vec((any::<u16>(), 0i32..3), 0..200)) {
            let mut w = KeyWedge::new(64);
            for (c, v) in evs {
                if let Some(l) = w.feed(c, v) {
                    prop_assert!(!l.is_empty() && l.len() <= 64);
                }
            }
        }
    }
}
