//! `kiosk power status | apply`: the power schedule the centre set (`set-power-schedule`).
//! `apply` is what the root `hallkit-power.timer` runs each minute: outside the schedule's
//! hours it powers the terminal off with `rtcwake -m off -t <wake>`, so the RTC switches it on
//! again. `--at` decides for another local time (tests, and a technician checking a plan);
//! `--dry-run` prints the command instead of running it.

use std::process::ExitCode;

use chrono::{Local, NaiveDateTime, TimeZone};

use crate::config::Config;
use crate::services::power::{self, PowerDecision};

fn when(at: Option<&str>) -> Result<NaiveDateTime, String> {
    match at {
        None => Ok(Local::now().naive_local()),
        Some(s) => NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .map_err(|_| format!("--at {s:?}: expected \"YYYY-MM-DD HH:MM\" (local time)")),
    }
}

pub fn run(
    config: &Config,
    apply: bool,
    at: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let now = match when(at) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kiosk power: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let plan = match power::load(&config.data_dir()) {
        Ok(Some(p)) => p,
        Ok(None) => {
            println!(
                "{}",
                serde_json::json!({ "schedule": null, "action": "none" })
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            eprintln!("kiosk power: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    match plan.decide(now) {
        PowerDecision::StayOn { until } => {
            println!(
                "{}",
                serde_json::json!({ "schedule": plan.source, "at": now.to_string(), "action": "stay-on", "off_at": until.to_string() })
            );
            Ok(ExitCode::SUCCESS)
        }
        PowerDecision::PowerOff { wake } => {
            let epoch = Local
                .from_local_datetime(&wake)
                .earliest()
                .map(|t| t.timestamp())
                .unwrap_or_default();
            let command = ["rtcwake", "-m", "off", "-t", &epoch.to_string()];
            println!(
                "{}",
                serde_json::json!({ "schedule": plan.source, "at": now.to_string(), "action": "power-off", "wake_at": wake.to_string(), "command": command.join(" ") })
            );
            if !apply || dry_run {
                return Ok(ExitCode::SUCCESS);
            }
            let status = std::process::Command::new(command[0])
                .args(&command[1..])
                .status();
            match status {
                Ok(s) if s.success() => Ok(ExitCode::SUCCESS),
                Ok(s) => {
                    eprintln!("kiosk power: rtcwake exited {s}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => {
                    eprintln!("kiosk power: rtcwake: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
