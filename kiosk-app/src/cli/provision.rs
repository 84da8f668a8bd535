//! `kiosk provision udev-rules`: the udev rules `flash.sh` installs, made from the terminal's
//! configuration so the names and the policy cannot drift from it:
//! - stable names `/dev/hallkit/<id>` (group `hallkit`) for every configured device that has a
//!   `usb = "vid:pid[:serial]"` selector, whatever order the kernel enumerates them in;
//! - the USB allow-list of `[usb]` at plug time: an interface of a class the policy does not
//!   allow, on a device it does not name, de-authorises its device before any driver binds;
//! - `authorized` made writable by the `hallkit` group, so the kiosk's run-time sweep can act.

use std::fmt::Write as _;
use std::process::ExitCode;

use kiosk_drivers::spec::TransportKind;

use crate::config::Config;
use crate::services::usb_guard::{class_code, UsbMode};

/// The udev subsystem and kernel-name match of a device node reached by `transport`.
fn node_match(t: TransportKind) -> Option<&'static str> {
    match t {
        TransportKind::Serial => Some("SUBSYSTEM==\"tty\""),
        TransportKind::Video => Some("SUBSYSTEM==\"video4linux\""),
        TransportKind::Lp => Some("SUBSYSTEM==\"usbmisc\""),
        TransportKind::Hid => Some("SUBSYSTEM==\"input\", KERNEL==\"event*\""),
        TransportKind::Usb => Some("SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\""),
        TransportKind::Tcp | TransportKind::Gpio | TransportKind::Pcsc | TransportKind::Ipp => None,
    }
}

/// A udev string value: only what a vid, pid, serial or id may hold, so no rule can be broken
/// out of by a config value.
fn safe(s: &str) -> Result<&str, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Ok(s)
    } else {
        Err(format!(
            "{s:?} cannot go into a udev rule (letters, digits, - _ . only)"
        ))
    }
}

/// The rules file for `config`.
pub fn udev_rules(config: &Config) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HallKit device names and USB policy, made by `kiosk provision udev-rules` from\n\
         # {}. Do not edit: run flash.sh again after changing the configuration.\n",
        config.source.display()
    );
    let _ = writeln!(out, "# Stable names for the configured USB peripherals.");
    let mut named = 0;
    for d in &config.devices {
        let (Some(sel), Some(node)) = (&d.usb, node_match(d.transport)) else {
            continue;
        };
        let mut line = format!(
            "{node}, ATTRS{{idVendor}}==\"{:04x}\", ATTRS{{idProduct}}==\"{:04x}\"",
            sel.vid, sel.pid
        );
        if let Some(serial) = &sel.serial {
            let _ = write!(line, ", ATTRS{{serial}}==\"{}\"", safe(serial)?);
        }
        let _ = write!(line, ", GROUP=\"hallkit\", MODE=\"0660\"");
        if d.transport != TransportKind::Usb {
            let _ = write!(line, ", SYMLINK+=\"hallkit/{}\"", safe(&d.id)?);
        }
        let _ = writeln!(out, "{line}");
        named += 1;
    }
    if named == 0 {
        let _ = writeln!(
            out,
            "# (none: no device in the table has a `usb = \"vid:pid\"` selector)"
        );
    }

    let Some(usb) = &config.usb else {
        let _ = writeln!(out, "\n# No [usb] policy: every USB device is accepted.");
        return Ok(out);
    };
    let _ = writeln!(
        out,
        "\n# The kiosk's run-time sweep may de-authorise a device: let it write `authorized`.\n\
         ACTION==\"add\", SUBSYSTEM==\"usb\", ENV{{DEVTYPE}}==\"usb_device\", \
         RUN+=\"/bin/chgrp hallkit /sys%p/authorized\", RUN+=\"/bin/chmod g+w /sys%p/authorized\""
    );
    if usb.mode == UsbMode::Report {
        let _ = writeln!(
            out,
            "\n# [usb] mode = \"report\": devices outside the policy are reported by the kiosk, \
             not refused here."
        );
        return Ok(out);
    }
    let _ = writeln!(
        out,
        "\n# The allow-list at plug time: classes {:?}, the configured devices and {:?}.\n\
         ACTION!=\"add\", GOTO=\"hallkit_usb_end\"\n\
         SUBSYSTEM!=\"usb\", GOTO=\"hallkit_usb_end\"\n\
         ENV{{DEVTYPE}}!=\"usb_interface\", GOTO=\"hallkit_usb_end\"\n\
         # Root hubs always stay: refusing one would cut off every port.\n\
         KERNEL==\"*-0:*\", GOTO=\"hallkit_usb_end\"",
        usb.allow_classes, usb.allow
    );
    let selectors = config
        .devices
        .iter()
        .filter_map(|d| d.usb.clone())
        .chain(usb.allow.iter().filter_map(|a| a.parse().ok()));
    for sel in selectors {
        let mut line = format!(
            "ATTRS{{idVendor}}==\"{:04x}\", ATTRS{{idProduct}}==\"{:04x}\"",
            sel.vid, sel.pid
        );
        if let Some(serial) = &sel.serial {
            let _ = write!(line, ", ATTRS{{serial}}==\"{}\"", safe(serial)?);
        }
        let _ = writeln!(out, "{line}, GOTO=\"hallkit_usb_end\"");
    }
    for class in &usb.allow_classes {
        let code = class_code(class).ok_or_else(|| format!("unknown USB class {class:?}"))?;
        let _ = writeln!(
            out,
            "ATTR{{bInterfaceClass}}==\"{code:02x}\", GOTO=\"hallkit_usb_end\""
        );
    }
    let _ = writeln!(
        out,
        "# Anything else: the whole device is refused.\n\
         RUN+=\"/bin/sh -c 'echo 0 > /sys%p/../authorized'\"\n\
         LABEL=\"hallkit_usb_end\""
    );
    Ok(out)
}

/// Prints the rules for the configuration (exit 2 when a value cannot go into a rule).
pub fn print_udev_rules(config: &Config) -> anyhow::Result<ExitCode> {
    match udev_rules(config) {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("kiosk provision: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[terminal]
id = "KSK-1"
service_point = "Hall"
fault_phone = "0512-1"
profile = "hardware"
[[devices]]
id = "idcard"
kind = "id-card-reader"
driver = "idcard-sam"
transport = "serial"
path = "/dev/hallkit/idcard"
usb = "1a86:7523:A1"
[[devices]]
id = "docam"
kind = "document-camera"
driver = "uvc-document"
transport = "video"
path = "/dev/hallkit/docam"
usb = "0c45:6366"
[[devices]]
id = "a4"
kind = "a4-printer"
driver = "ipp"
transport = "ipp"
options = { uri = "ipp://localhost/printers/a4" }
"#;

    fn config(extra: &str) -> Config {
        Config::parse(
            &format!("{BASE}{extra}"),
            std::path::Path::new("/etc/hallkit/kiosk.toml"),
        )
        .unwrap()
    }

    #[test]
    fn configured_usb_devices_get_stable_names() {
        let rules = udev_rules(&config("")).unwrap();
        assert!(
            rules.contains(
                "SUBSYSTEM==\"tty\", ATTRS{idVendor}==\"1a86\", ATTRS{idProduct}==\"7523\", \
             ATTRS{serial}==\"A1\", GROUP=\"hallkit\", MODE=\"0660\", SYMLINK+=\"hallkit/idcard\""
            ),
            "{rules}"
        );
        assert!(rules.contains("SUBSYSTEM==\"video4linux\", ATTRS{idVendor}==\"0c45\""));
        assert!(!rules.contains("hallkit/a4"), "an IPP printer has no node");
        assert!(rules.contains("No [usb] policy"));
        assert!(!rules.contains("authorized"));
    }

    #[test]
    fn the_policy_becomes_plug_time_rules() {
        let rules = udev_rules(&config(
            "\n[usb]\nallow_classes = [\"hid\", \"hub\"]\nallow = [\"0483:5750\"]\n",
        ))
        .unwrap();
        for want in [
            "ENV{DEVTYPE}!=\"usb_interface\", GOTO=\"hallkit_usb_end\"",
            "KERNEL==\"*-0:*\", GOTO=\"hallkit_usb_end\"",
            "ATTRS{idVendor}==\"1a86\", ATTRS{idProduct}==\"7523\", ATTRS{serial}==\"A1\", GOTO=\"hallkit_usb_end\"",
            "ATTRS{idVendor}==\"0483\", ATTRS{idProduct}==\"5750\", GOTO=\"hallkit_usb_end\"",
            "ATTR{bInterfaceClass}==\"03\", GOTO=\"hallkit_usb_end\"",
            "ATTR{bInterfaceClass}==\"09\", GOTO=\"hallkit_usb_end\"",
            "RUN+=\"/bin/sh -c 'echo 0 > /sys%p/../authorized'\"",
            "RUN+=\"/bin/chmod g+w /sys%p/authorized\"",
        ] {
            assert!(rules.contains(want), "missing {want}\n{rules}");
        }
        // Every GOTO has its label.
        assert_eq!(rules.matches("LABEL=\"hallkit_usb_end\"").count(), 1);
        let report = udev_rules(&config("\n[usb]\nmode = \"report\"\n")).unwrap();
        assert!(!report.contains("echo 0"), "{report}");
        assert!(report.contains("chmod g+w"));
    }

    #[test]
    fn a_value_that_would_break_a_rule_is_refused() {
        let bad = BASE.replace("1a86:7523:A1", "1a86:7523:A1\\\", RUN+=\\\"/bin/sh");
        let c = Config::parse(&bad, std::path::Path::new("k.toml")).unwrap();
        assert!(udev_rules(&c)
            .unwrap_err()
            .contains("cannot go into a udev rule"));
    }
}
