//! The host's side of the admin mode: the figures each page shows, loaded when it opens, and
//! the technician's actions carried out — a device test on the device the admin mode holds (on
//! a thread of its own; a print takes seconds), a dead letter sent again, a supply counter
//! reset, the network check. Every action and its result is journalled as `admin.action`, and
//! so audited, with who did it.

use std::sync::Arc;
use std::time::Duration;

use kiosk_protocol::signing::DocumentKind;
use kiosk_protocol::{Event, EventKind};
use serde_json::json;

use super::{Msg, Picture, Worker};
use crate::centre::netcheck::{self, NetworkCheck, Transport};
use crate::flows::admin::{self, Action, Page};
use crate::flows::kiosk::{self, Screen};
use crate::journal::outbox::{DeadLetter, OutboxCounts};
use crate::runtime::DeviceStatus;
use crate::services::diagnostics::{self, Test};
use crate::services::technicians::Opener;

/// What the admin pages show. Holds no personal data: results are masked, a camera's still
/// lives only while its page shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AdminView {
    /// Who opened the admin mode: `王工 (1024)`, or the shared PIN.
    pub opener: Option<Opener>,
    /// The device page's device, its tests and the last result.
    pub device: Option<DeviceStatus>,
    /// Who holds the device now (the admin mode, or why it could not take it).
    pub held: bool,
    pub tests: Vec<Test>,
    pub result: Option<TestResult>,
    /// The action running (its test name, `retry`, `reset`, `network`).
    pub running: Option<String>,
    pub logs: Vec<LogLine>,
    pub counts: OutboxCounts,
    pub oldest_pending: Option<String>,
    pub dead: Vec<DeadLetter>,
    /// What the last retry or reset did, for the page's notice.
    pub notice: Option<Notice>,
    pub config: ConfigFacts,
    pub network: Option<NetworkCheck>,
    pub supplies: Vec<Supply>,
    /// Actions finished since the admin mode opened (a new result shows when it grows).
    pub finished: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub test: String,
    pub ok: bool,
    pub lines: Vec<(String, String)>,
    pub picture: Option<Picture>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub seq: u64,
    pub at: String,
    pub kind: String,
    /// The event's device and fields, masked.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Requeued(usize),
    Reset(String),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigFacts {
    pub path: String,
    pub sha256: String,
    pub loaded_at: String,
    pub terminal: String,
    pub role: String,
    pub centre: String,
    /// Each signed document kind, and the one in force if any.
    pub documents: Vec<(String, Option<DocumentFacts>)>,
}

/// A signed document in force: version, scope, algorithm and key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFacts {
    pub version: u64,
    pub scope: String,
    pub algorithm: String,
    pub key_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supply {
    pub device: String,
    pub name: String,
    /// `paper` (a printer's roll or tray) or `ink` (a seal module's pads, in percent).
    pub what: &'static str,
    pub used: u64,
    pub capacity: u64,
    pub since: Option<String>,
    /// A seal module's ink levels in percent, one per seal.
    pub ink: Vec<u8>,
}

impl Supply {
    /// Replace soon: 90 % of the roll used, or a seal below 20 % ink.
    pub fn low(&self) -> bool {
        (self.what == "paper" && self.used * 10 >= self.capacity * 9)
            || self.ink.iter().any(|i| *i < 20)
    }
}

/// What a finished action brings back to the host thread.
pub(super) enum AdminDone {
    Test(diagnostics::Outcome),
    Network(NetworkCheck),
}

const LOG_LINES: usize = 40;

impl Worker {
    /// Effects of the admin state machine.
    pub(super) fn admin_effect(&mut self, e: admin::Effect) {
        match e {
            admin::Effect::Load(page) => self.admin_load(&page),
            admin::Effect::Run(action) => self.admin_run(action),
        }
    }

    fn admin_load(&mut self, page: &Page) {
        if let Page::Supplies = page {
            self.admin_view.supplies = self.supplies();
            return;
        }
        let offset = self.cfg.config.offset();
        let v = &mut self.admin_view;
        match page {
            Page::Devices => {}
            Page::Device(id) => {
                let rt = &self.cfg.runtime;
                v.device = rt.snapshot().into_iter().find(|d| &d.id == id);
                v.held = self.admin.iter().any(|c| c.device() == id);
                v.tests = match rt.device(id) {
                    Ok(d) => {
                        let actions: Vec<&str> = d.actions().iter().map(|a| a.name).collect();
                        diagnostics::tests_for(d.spec.kind, &actions)
                    }
                    Err(_) => Vec::new(),
                };
                if v.result
                    .as_ref()
                    .is_some_and(|r| !v.tests.iter().any(|t| t.name == r.test))
                {
                    v.result = None;
                }
            }
            Page::Logs => {
                let rows = self.cfg.journal.lock().recent_events(LOG_LINES);
                v.logs = match rows {
                    Ok(rows) => rows.into_iter().map(|r| log_line(r, offset)).collect(),
                    Err(e) => vec![LogLine {
                        seq: 0,
                        at: String::new(),
                        kind: "journal".into(),
                        text: e.to_string(),
                    }],
                };
            }
            Page::Journal => {
                let ob = self.cfg.journal.lock();
                v.counts = ob.counts().unwrap_or_default();
                v.oldest_pending = ob
                    .oldest_pending()
                    .ok()
                    .flatten()
                    .map(|t| local(&t, offset));
                v.dead = ob.dead_letters().unwrap_or_default();
            }
            Page::Config => {
                let c = &self.cfg.config;
                let ob = self.cfg.journal.lock();
                let loaded = ob
                    .latest_audited(EventKind::ConfigLoaded.key())
                    .ok()
                    .flatten()
                    .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                    .unwrap_or_default();
                v.config = ConfigFacts {
                    path: c.source.display().to_string(),
                    sha256: loaded["fields"]["sha256"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    loaded_at: local(loaded["at"].as_str().unwrap_or(""), offset),
                    terminal: c.terminal.id.clone(),
                    role: format!("{:?}", c.terminal.role).to_lowercase(),
                    centre: self.cfg.link.borrow().url.clone(),
                    documents: DocumentKind::ALL
                        .iter()
                        .map(|k| {
                            let d = ob.document(*k).ok().flatten().map(|d| DocumentFacts {
                                version: d.version,
                                scope: d.scope,
                                algorithm: format!("{:?}", d.algorithm),
                                key_id: d.key_id,
                            });
                            (k.as_str().to_string(), d)
                        })
                        .collect(),
                };
            }
            Page::Network => {}
            Page::Supplies => {}
        }
    }

    /// The printers' paper counters and the seal modules' ink.
    fn supplies(&self) -> Vec<Supply> {
        let offset = self.cfg.config.offset();
        let rt = &self.cfg.runtime;
        let mut out = Vec::new();
        for d in rt.snapshot() {
            let kind = rt.device(&d.id).map(|m| m.spec.kind).ok();
            let (what, default) = match kind {
                Some(kiosk_hal::DeviceKind::ReceiptPrinter) => ("paper", 500),
                Some(kiosk_hal::DeviceKind::A4Printer) => ("paper", 250),
                Some(kiosk_hal::DeviceKind::SealModule) => ("ink", 0),
                _ => continue,
            };
            let count = self.cfg.journal.lock().supply(&d.id).ok();
            let ink = if what == "ink" {
                self.seal_ink(&d.id)
            } else {
                Vec::new()
            };
            out.push(Supply {
                capacity: self
                    .cfg
                    .config
                    .admin
                    .supplies
                    .get(&d.id)
                    .copied()
                    .unwrap_or(default),
                used: count.as_ref().map_or(0, |c| c.used),
                since: count.and_then(|c| c.since).map(|t| local(&t, offset)),
                device: d.id,
                name: d.name,
                what,
                ink,
            });
        }
        out
    }

    fn admin_run(&mut self, action: Action) {
        self.admin_view.notice = None;
        match action {
            Action::Test { device, test } => {
                let spec = self
                    .admin_view
                    .tests
                    .iter()
                    .find(|t| t.name == test)
                    .copied();
                let claim = self.admin.iter().find(|c| c.device() == device).cloned();
                let (Some(spec), Some(claim)) = (spec, claim) else {
                    let why = format!("{device}: not held by the admin mode, or no test {test:?}");
                    self.admin_view.result = Some(TestResult {
                        test,
                        ok: false,
                        lines: vec![("error".into(), why)],
                        picture: None,
                    });
                    self.admin_done();
                    return;
                };
                self.admin_view.running = Some(spec.name.to_string());
                let (rt, tx) = (self.cfg.runtime.clone(), self.tx.clone());
                let spawned =
                    std::thread::Builder::new()
                        .name("admin-test".into())
                        .spawn(move || {
                            let outcome = diagnostics::run(&rt, &claim, &spec);
                            let _ = tx.send(Msg::AdminDone(AdminDone::Test(outcome)));
                        });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "the admin test thread could not start");
                    self.admin_done();
                }
            }
            Action::RetryDead(seq) => {
                let r = self.cfg.journal.lock().retry_dead(seq);
                let notice = match r {
                    Ok(n) => Notice::Requeued(n),
                    Err(e) => Notice::Failed(e.to_string()),
                };
                self.admin_audit(
                    json!({"action": "retry-dead", "seq": seq, "requeued": matches!(notice, Notice::Requeued(_))}),
                );
                self.admin_view.notice = Some(notice);
                self.admin_done();
            }
            Action::ResetSupply(device) => {
                let event = self.admin_event(json!({"action": "reset-supply", "device": device}));
                let r = serde_json::to_value(&event)
                    .map_err(|e| e.to_string())
                    .and_then(|ev| {
                        self.cfg
                            .journal
                            .lock()
                            .reset_supply(&device, ev)
                            .map_err(|e| e.to_string())
                    });
                self.admin_view.notice = Some(match r {
                    Ok(()) => Notice::Reset(device),
                    Err(e) => Notice::Failed(e),
                });
                self.admin_done();
            }
            Action::CheckNetwork => {
                self.admin_view.running = Some("network".into());
                let centre = self.cfg.desk.centre.clone();
                let pinned = self.cfg.config.centre_ca().is_some();
                let bus = self.cfg.runtime.events.clone();
                let url = self.cfg.link.borrow().url.clone();
                let tx = self.tx.clone();
                let spawned = std::thread::Builder::new()
                    .name("admin-network".into())
                    .spawn(move || {
                        let check = match centre {
                            Some(c) => c.run(|client| async move {
                                netcheck::check(&client, pinned, || bus.now()).await
                            }),
                            None => NetworkCheck {
                                url,
                                reachable: false,
                                round_trip_ms: 0,
                                transport: Transport::Plain,
                                skew_s: None,
                                detail: "no centre is configured for this terminal".into(),
                            },
                        };
                        let _ = tx.send(Msg::AdminDone(AdminDone::Network(check)));
                    });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "the network check thread could not start");
                    self.admin_done();
                }
            }
        }
    }

    /// A finished test or check: its result shows, and is audited.
    pub(super) fn admin_finished(&mut self, done: AdminDone) {
        if !self.kiosk.in_admin() {
            return;
        }
        match done {
            AdminDone::Test(o) => {
                let device = self.admin_view.device.as_ref().map(|d| d.id.clone());
                self.admin_audit(json!({
                    "action": "test", "device": device, "test": o.test, "ok": o.ok,
                    "result": o.lines.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>(),
                }));
                self.admin_view.result = Some(TestResult {
                    test: o.test.to_string(),
                    ok: o.ok,
                    lines: o.lines,
                    picture: o.picture.map(|p| Picture(Arc::new(p))),
                });
            }
            AdminDone::Network(n) => {
                self.admin_audit(json!({
                    "action": "network-check", "url": n.url, "reachable": n.reachable,
                    "round_trip_ms": n.round_trip_ms, "skew_s": n.skew_s,
                    "transport": format!("{:?}", n.transport), "detail": n.detail,
                }));
                self.admin_view.network = Some(n);
            }
        }
        self.admin_done();
    }

    fn admin_done(&mut self) {
        self.admin_view.running = None;
        self.admin_view.finished += 1;
        self.step(kiosk::Input::Admin(admin::Input::Done));
    }

    fn admin_event(&self, fields: serde_json::Value) -> Event {
        let bus = &self.cfg.runtime.events;
        let mut e = Event::new(EventKind::AdminAction, bus.now());
        if let Some(Opener::Technician { staff_no, .. }) = &self.admin_view.opener {
            e = e.field("staff_no", staff_no.clone());
        }
        if let serde_json::Value::Object(m) = fields {
            for (k, v) in m {
                e = e.field(&k, v);
            }
        }
        e
    }

    fn admin_audit(&self, fields: serde_json::Value) {
        let e = self.admin_event(fields);
        self.cfg.runtime.events.emit(e);
    }

    /// A seal module's ink levels in percent, one per seal, asked of the module the admin mode
    /// holds (empty when it cannot say).
    fn seal_ink(&self, device: &str) -> Vec<u8> {
        let Some(claim) = self.admin.iter().find(|c| c.device() == device) else {
            return Vec::new();
        };
        let v =
            self.cfg
                .runtime
                .call_unrecorded(claim, "status", json!({}), Duration::from_secs(3));
        v.ok()
            .and_then(|v| v["ink"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|x| x.as_u64().and_then(|x| u8::try_from(x).ok()))
            .collect()
    }

    /// The admin mode opened or closed: its view starts empty.
    pub(super) fn admin_reset(&mut self, opener: Option<Opener>) {
        self.admin_view = AdminView {
            opener,
            ..AdminView::default()
        };
    }

    /// The admin view the screens show, while the admin mode is open.
    pub(super) fn admin_view(&self) -> Option<AdminView> {
        matches!(self.kiosk.screen, Screen::Admin(_)).then(|| self.admin_view.clone())
    }
}

/// An RFC 3339 time on the terminal's own clock face (`2026-12-04 08:15:02`); what does
/// not parse stays as it was.
fn local(rfc3339: &str, offset: chrono::FixedOffset) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&offset)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// One journal event as the logs page shows it: the device and fields, masked.
fn log_line(
    (seq, kind, at, payload): (u64, String, String, String),
    offset: chrono::FixedOffset,
) -> LogLine {
    let v: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(d) = v["device"].as_str() {
        parts.push(d.to_string());
    }
    if let Some(r) = v["disposition"]["result"].as_str() {
        parts.push(r.to_string());
    }
    if let Some(m) = v["fields"].as_object() {
        for (k, x) in m.iter().take(4) {
            let x = match x {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let x: String = x.chars().take(48).collect();
            parts.push(format!("{k}={x}"));
        }
    }
    LogLine {
        seq,
        at: local(&at, offset).get(11..).unwrap_or_default().to_string(),
        kind,
        text: crate::centre::commands::mask_line(&parts.join(" · ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_short_and_masked() {
        let utc8 = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        let l = log_line((
            7,
            "session.identified".into(),
            "2026-12-03T10:11:12.5+00:00".into(),
            r#"{"device":"reader","fields":{"number":"11010519491231002X","phone":"13812345678"}}"#
                .into(),
        ), utc8);
        assert_eq!(l.at, "18:11:12");
        assert!(l.text.contains("reader"));
        assert!(
            !l.text.contains("19491231") && !l.text.contains("12345678"),
            "{}",
            l.text
        );
        let l = log_line(
            (
                8,
                "x".into(),
                "2026-12-03T20:00:00Z".into(),
                "not json".into(),
            ),
            utc8,
        );
        assert_eq!((l.at.as_str(), l.text.as_str()), ("04:00:00", ""));
        assert_eq!(local("not a time", utc8), "not a time");
    }

    #[test]
    fn supplies_are_low_near_the_end_of_the_roll_or_the_ink() {
        let mut s = Supply {
            device: "printer".into(),
            name: "Receipt printer".into(),
            what: "paper",
            used: 449,
            capacity: 500,
            since: None,
            ink: vec![],
        };
        assert!(!s.low());
        s.used = 450;
        assert!(s.low());
        s.what = "ink";
        s.used = 0;
        s.ink = vec![80, 15];
        assert!(s.low());
    }
}
