//! The host's side of the case look-up: the identified citizen's cases, or one case by the
//! number and password typed, from the centre on a worker thread; the progress slip on the
//! receipt printer. The cases found are the session's and go with it.

use kiosk_protocol::cases::{holder_sha256, Case, CaseLookup, CaseStatus};
use serde_json::json;
use zeroize::Zeroizing;

use super::{spawn, Msg, Worker};
use crate::centre::CentreError;
use crate::flows::kiosk::{self, Screen};
use crate::flows::query::{self, LookupProblem};
use crate::services::guide as lights;
use crate::services::queue::PrintProblem;

/// A case's status as the slip and the screen's Chinese say it.
pub fn status_zh(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::Submitted => "已提交",
        CaseStatus::Accepted => "已受理",
        CaseStatus::Processing => "办理中",
        CaseStatus::NeedsMore => "待补正材料",
        CaseStatus::Completed => "已办结",
        CaseStatus::Rejected => "不予受理",
    }
}

fn lookup_problem(e: &CentreError) -> LookupProblem {
    match e {
        CentreError::Refused { status: 404, .. } => LookupProblem::NotFound,
        CentreError::Refused { status: 400, .. } => LookupProblem::NotFound,
        _ => LookupProblem::CentreAway,
    }
}

impl Worker {
    pub(super) fn query_context(&self) -> query::Context {
        query::Context {
            login: self.login_context(),
            card: self.card_facts,
            can_print: self.claims.as_ref().is_some_and(|c| c.printer.is_some()),
            identified: self.session.as_ref().is_some_and(|s| s.citizen().is_some()),
        }
    }

    pub(super) fn query(&mut self, e: query::Effect) {
        let generation = self.generation;
        match e {
            query::Effect::Login(l) => {
                let on_login = matches!(self.kiosk.screen, Screen::Query(query::Stage::Login(_)));
                self.journey_login(l, on_login);
            }
            query::Effect::Light(m, on) => {
                if let Some(b) = self.claims.as_ref().and_then(|c| c.board.clone()) {
                    lights::set(&self.cfg.runtime, &b, m, on);
                }
            }
            query::Effect::StartTyping { .. } => {
                self.start_typing_with("", query::MAX_REFERENCE, false)
            }
            query::Effect::KeepNumber => {
                self.query_number = self
                    .typing
                    .as_ref()
                    .map(|t| Zeroizing::new(t.text.trim().to_string()));
            }
            query::Effect::StopTyping => {}
            query::Effect::LookUpMine => {
                let holder = self
                    .session
                    .as_ref()
                    .and_then(|s| s.citizen())
                    .map(|(c, _)| holder_sha256(&c.number));
                let (centre, tx) = (self.cfg.desk.centre.clone(), self.tx.clone());
                spawn("query-mine", move || {
                    let r = match (centre, holder) {
                        (Some(c), Some(h)) => c.cases_of(&h).map_err(|e| lookup_problem(&e)),
                        (None, _) => Err(LookupProblem::CentreAway),
                        (_, None) => Err(LookupProblem::NotFound),
                    };
                    let _ = tx.send(Msg::CasesFound(generation, r));
                });
            }
            query::Effect::LookUpByNumber => {
                let reference = self.query_number.take().unwrap_or_default();
                let password = self
                    .typing
                    .take()
                    .map(|t| Zeroizing::new(t.text.trim().to_string()))
                    .unwrap_or_default();
                let (centre, tx) = (self.cfg.desk.centre.clone(), self.tx.clone());
                spawn("query-number", move || {
                    let r = match centre {
                        Some(c) if !reference.is_empty() && !password.is_empty() => {
                            let lookup = CaseLookup {
                                reference: reference.to_string(),
                                password: password.to_string(),
                            };
                            let r = c.lookup_case(&lookup).map(|case| vec![case]);
                            drop(lookup);
                            r.map_err(|e| lookup_problem(&e))
                        }
                        Some(_) => Err(LookupProblem::NotFound),
                        None => Err(LookupProblem::CentreAway),
                    };
                    let _ = tx.send(Msg::CasesFound(generation, r));
                });
            }
            query::Effect::Print { at } => {
                let Some(case) = self.cases.get(at) else {
                    return;
                };
                let hall = self
                    .catalogue
                    .as_ref()
                    .map(|c| c.hall.name.zh.clone())
                    .unwrap_or_default();
                let steps: Vec<serde_json::Value> = case
                    .log
                    .iter()
                    .map(|l| {
                        json!({
                            "at": self.local_time(&l.at),
                            "status": status_zh(l.status),
                            "comment": l.comment,
                        })
                    })
                    .collect();
                let args = json!({
                    "template": "case-progress",
                    "hall": hall,
                    "case_number": case.case_number,
                    "service": case.item_name,
                    "status": status_zh(case.status),
                    "steps": steps,
                    "printed_at": self.local_minute(),
                });
                let printer = self.claims.as_ref().and_then(|c| c.printer.clone());
                let (desk, tx) = (self.cfg.desk.clone(), self.tx.clone());
                spawn("query-slip", move || {
                    let r = match printer {
                        Some(p) => desk
                            .print_receipt(&p, "case-progress", args)
                            .map_err(|e| PrintProblem::Journal(e.to_string()))
                            .and_then(crate::services::queue::printed),
                        None => Err(PrintProblem::Fault("no receipt printer".into())),
                    };
                    let _ = tx.send(Msg::SlipPrinted(generation, r));
                });
            }
            query::Effect::Finish(_) => {}
        }
    }

    pub(super) fn cases_found(&mut self, r: Result<Vec<Case>, LookupProblem>) {
        if r.is_ok() {
            self.cfg.runtime.count_use("queries");
        }
        let r = r.map(|cases| {
            let n = cases.len();
            self.cases = cases;
            n
        });
        self.step(kiosk::Input::Query(query::Input::Found(r)));
    }

    /// An RFC 3339 time from the centre as the hall's local minute (`2026-12-03 10:02`).
    pub(super) fn local_time(&self, at: &str) -> String {
        chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| {
                t.with_timezone(&self.cfg.config.offset())
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|_| at.chars().take(16).collect())
    }
}
