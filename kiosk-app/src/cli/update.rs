//! `kiosk update install | boot-check | status`: the technician's and systemd's side of the
//! signed A/B updates (`crate::update`).

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;
use crate::update::{no_faults, Slots};

fn slots(config: &Config) -> Result<(Slots, &crate::update::window::UpdateConfig), ExitCode> {
    match &config.update {
        Some(u) => Ok((Slots::new(u.base.clone()), u)),
        None => {
            eprintln!(
                "kiosk update: {} has no [update] section: this terminal is not updated in place",
                config.source.display()
            );
            Err(ExitCode::from(2))
        }
    }
}

/// Installs a bundle into the other slot and switches to it; the kiosk's next start runs it
/// and commits it once healthy. Refused inside business hours unless `now` is forced.
pub fn install(config: &Config, bundle: &Path, now: bool) -> anyhow::Result<ExitCode> {
    let (slots, u) = match slots(config) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let local = chrono::Local::now().naive_local();
    // A technician at the terminal is not a citizen; the running kiosk checks its own screen
    // when it installs on the centre's order.
    let deferred = if now {
        None
    } else {
        crate::update::window::deferred(&u.business_hours, local, false)
    };
    match slots.install(bundle, &config.centre.trusted_keys(), deferred, &no_faults) {
        Ok(version) => {
            println!(
                "{}",
                serde_json::json!({
                    "installed": version,
                    "slot": slots.current()?,
                    "next": "restart the kiosk (systemctl restart hallkit-kiosk); it commits once healthy, or is rolled back",
                })
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if let crate::update::UpdateError::Bundle(_) = e {
                let _ = slots.record_refusal("unknown", &e.to_string());
            }
            eprintln!("kiosk update: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Run by systemd before each start (ExecStartPre, from the committed slot).
pub fn boot_check(config: &Config) -> anyhow::Result<ExitCode> {
    let (slots, _) = match slots(config) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    match slots.boot_check(&no_faults) {
        Ok(outcome) => {
            println!(
                "{}",
                serde_json::json!({ "current": slots.current().ok(), "ended": outcome.map(|o| serde_json::json!({"version": o.version, "result": o.result, "reason": o.reason})) })
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("kiosk update: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

pub fn status(config: &Config) -> anyhow::Result<ExitCode> {
    let (slots, _) = match slots(config) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let state = slots.state()?;
    let version = |slot: &str| std::fs::read_to_string(slots.slot_dir(slot).join("VERSION")).ok();
    let current = slots.current().ok();
    let committed = slots.committed().ok();
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "current": current,
            "current_version": current.as_deref().and_then(version),
            "committed": committed,
            "pending": state.pending,
            "staged": crate::update::staging::Staging::new(slots.base()).staged(),
            "last": state.last,
        }))?
    );
    Ok(ExitCode::SUCCESS)
}
