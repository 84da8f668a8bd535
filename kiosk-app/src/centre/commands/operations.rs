//! The operations team's remote commands: every device's self-test, a masked log bundle as an
//! attachment, a restart, and the power schedule.

use std::sync::LazyLock;

use kiosk_protocol::wire::{CommandAck, PowerSchedule};
use regex::Regex;
use serde_json::json;

use super::RemoteCommands;
use crate::runtime::Owner;

/// The most journal events one bundle carries.
const MAX_EVENTS: u32 = 5000;

fn ack(ok: bool, result: serde_json::Value, detail: impl Into<String>) -> CommandAck {
    CommandAck {
        ok,
        result,
        detail: detail.into(),
    }
}

/// Masks what a log line could carry of a citizen: ID numbers (18 characters: 6 shown, 4 at
/// the end), mobile numbers (3 and 4 shown), as the tenders' masking rules do.
pub fn mask_line(line: &str) -> String {
    static ID: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(\d{6})\d{8}(\d{3}[\dXx])\b").expect("a fixed pattern"));
    static MOBILE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(1[3-9]\d)\d{4}(\d{4})\b").expect("a fixed pattern"));
    let line = ID.replace_all(line, "${1}********${2}");
    MOBILE.replace_all(&line, "${1}****${2}").into_owned()
}

impl RemoteCommands {
    /// Runs `self-test` on every device, each claimed for the command; a device another owner
    /// holds is reported busy and left alone.
    pub(super) fn self_test(&self, id: u64) -> CommandAck {
        let mut results = serde_json::Map::new();
        let mut all_ok = true;
        for d in self.runtime.snapshot() {
            let r = match self.runtime.claim(
                &d.id,
                Owner::Remote(id),
                self.action_timeout * 2,
                std::time::Duration::from_secs(1),
            ) {
                Ok(claim) => {
                    match self
                        .runtime
                        .call(&claim, "self-test", json!({}), self.action_timeout)
                    {
                        Ok(v) => json!({ "ok": true, "result": v }),
                        Err(e) => {
                            all_ok = false;
                            json!({ "ok": false, "completion": e.code(), "detail": e.detail() })
                        }
                    }
                }
                Err(e) => json!({ "ok": false, "busy": true, "detail": e.to_string() }),
            };
            results.insert(d.id, r);
        }
        let detail = if all_ok {
            ""
        } else {
            "some devices failed their self-test"
        };
        ack(all_ok, serde_json::Value::Object(results), detail)
    }

    /// The newest journal events and the service log, masked, as one attachment.
    pub(super) async fn log_bundle(&self, events: Option<u32>) -> CommandAck {
        let Some(store) = self.attachments.clone() else {
            return ack(
                false,
                serde_json::Value::Null,
                "this terminal keeps no attachments",
            );
        };
        let n = events.unwrap_or(500).min(MAX_EVENTS) as usize;
        let recent = match self.journal.with(move |ob| ob.recent_events(n)).await {
            Ok(r) => r,
            Err(e) => return ack(false, serde_json::Value::Null, e.to_string()),
        };
        let mut text = format!(
            "HallKit log bundle of {} at {}\n\n== journal: the newest {} events ==\n",
            self.centre.device_id(),
            chrono::Utc::now().to_rfc3339(),
            recent.len()
        );
        for (seq, kind, at, payload) in &recent {
            text.push_str(&mask_line(&format!("{seq} {at} {kind} {payload}")));
            text.push('\n');
        }
        text.push_str("\n== service log (journalctl -u hallkit-kiosk) ==\n");
        let journalctl = tokio::task::spawn_blocking(|| {
            std::process::Command::new("journalctl")
                .args([
                    "-u",
                    "hallkit-kiosk",
                    "-n",
                    "2000",
                    "--no-pager",
                    "-o",
                    "short-iso",
                ])
                .output()
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        match journalctl {
            Ok(out) => {
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    text.push_str(&mask_line(line));
                    text.push('\n');
                }
            }
            Err(e) => text.push_str(&format!("(not available here: {e})\n")),
        }
        let bytes = text.into_bytes();
        let put =
            tokio::task::spawn_blocking(move || store.put(&bytes, "text/plain; charset=utf-8"))
                .await;
        match put {
            Ok(Ok(r)) => ack(
                true,
                json!({ "attachments": [r], "events": recent.len() }),
                "",
            ),
            Ok(Err(e)) => ack(false, serde_json::Value::Null, e.to_string()),
            Err(e) => ack(false, serde_json::Value::Null, e.to_string()),
        }
    }

    /// What the screen shows now, as a PNG attachment (never a citizen's session).
    pub(super) async fn screenshot(&self) -> CommandAck {
        let Some(store) = self.attachments.clone() else {
            return ack(
                false,
                serde_json::Value::Null,
                "this terminal keeps no attachments",
            );
        };
        let shot = tokio::task::spawn_blocking(move || {
            crate::terminal::screen::grab()
                .map_err(|e| e.to_string())
                .and_then(|png| store.put(&png, "image/png").map_err(|e| e.to_string()))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match shot {
            Ok(r) => ack(true, json!({ "attachments": [r] }), ""),
            Err(e) => ack(false, serde_json::Value::Null, e),
        }
    }

    pub(super) fn set_power(&self, schedule: Option<&PowerSchedule>) -> CommandAck {
        let Some(dir) = &self.data_dir else {
            return ack(
                false,
                serde_json::Value::Null,
                "this terminal keeps no power schedule",
            );
        };
        match crate::services::power::save(dir, schedule) {
            Ok(Some(plan)) => {
                let now = chrono::Local::now().naive_local();
                let next = match plan.decide(now) {
                    crate::services::power::PowerDecision::StayOn { until } => {
                        json!({ "now": "on", "off_at": until.to_string() })
                    }
                    crate::services::power::PowerDecision::PowerOff { wake } => {
                        json!({ "now": "off", "wake_at": wake.to_string() })
                    }
                };
                ack(true, json!({ "schedule": plan.source, "next": next }), "")
            }
            Ok(None) => ack(
                true,
                json!({ "schedule": null }),
                "the power schedule is cleared",
            ),
            Err(e) => ack(false, json!({ "completion": "invalid-data" }), e),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn id_and_mobile_numbers_are_masked_in_log_lines() {
        assert_eq!(
            super::mask_line("holder 11010519491231002X phone 13812345678 seq 12345"),
            "holder 110105********002X phone 138****5678 seq 12345"
        );
    }
}
