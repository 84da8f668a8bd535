//! The window unit's work outside the desk's state: the centre's queue and staff answers
//! read as the desk's problems, the ID card read through a claim on the unit's reader, the
//! signature kept sealed, the rating recorded, the handling slip printed two-phase.

use std::time::Duration;

use kiosk_hal::device::CancelToken;
use kiosk_hal::DeviceKind;
use kiosk_protocol::queue::TicketRating;
use serde_json::json;

use super::DeskHost;
use crate::centre::{BlockingCentre, CentreError};
use crate::flows::window::{
    CardFacts, DeskProblem, DeskTicket, Input, LoginProblem, RatingDraft, Scanned,
};
use crate::runtime::{Claim, Owner};
use crate::services::{card, eid};

pub(super) fn centre_problem(e: CentreError) -> DeskProblem {
    match e {
        CentreError::Refused { status, body } => {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let message = v["error"].as_str().unwrap_or(&body).to_string();
            match v["reason"].as_str() {
                Some(r) => DeskProblem::Refused {
                    reason: r.to_string(),
                    message,
                },
                None => DeskProblem::Centre(format!("{status}: {message}")),
            }
        }
        other => DeskProblem::Centre(other.to_string()),
    }
}

pub(super) fn login_problem(e: CentreError) -> LoginProblem {
    match e {
        CentreError::Refused { status, body } => {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let message = v["error"].as_str().unwrap_or(&body).to_string();
            match v["reason"].as_str() {
                Some("staff-unknown") => LoginProblem::Unknown,
                Some("pin-wrong") => LoginProblem::WrongPin {
                    tries_left: message
                        .split_whitespace()
                        .find_map(|w| w.parse().ok())
                        .unwrap_or(0),
                },
                Some("locked") => LoginProblem::Locked {
                    until: message
                        .rsplit("until ")
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                },
                Some("staff-elsewhere") => LoginProblem::Elsewhere(message),
                _ => LoginProblem::Refused(format!("{status}: {message}")),
            }
        }
        other => LoginProblem::Centre(other.to_string()),
    }
}

impl DeskHost {
    pub(super) fn centre(&self) -> Result<&BlockingCentre, String> {
        self.shared
            .cfg
            .desk
            .centre
            .as_ref()
            .ok_or_else(|| "no centre is configured".to_string())
    }

    pub(super) fn owner(&self) -> Owner {
        Owner::Flow(format!("window-{}", self.shared.window.number))
    }

    /// Claims the window's device `named` (or the first of `kind`) for `lease`; what goes
    /// wrong comes back as `problem` (the desk's word for that device), `missing` when the
    /// unit has none.
    pub(super) fn claim_device(
        &self,
        named: Option<&str>,
        kind: DeviceKind,
        lease: Duration,
        problem: fn(String) -> DeskProblem,
        missing: &str,
    ) -> Result<Claim, DeskProblem> {
        let cfg = &self.shared.cfg;
        let id = cfg
            .config
            .device_for(named, kind)
            .ok_or_else(|| problem(missing.to_string()))?;
        cfg.runtime
            .claim(&id, self.owner(), lease, Duration::from_secs(2))
            .map_err(|e| problem(e.to_string()))
    }

    /// Asks the queue how many tickets this window may call; a failure is left for the next
    /// try (the count is informative, the commands say what went wrong).
    pub(super) fn refresh_waiting(&self) {
        let Some(hall) = self.hall() else { return };
        let window = self.shared.window.number.clone();
        let Ok(centre) = self.centre() else { return };
        match centre.run(|c| async move { c.window_now(&hall, &window).await }) {
            Ok(o) => self.send(Input::Waiting(o.waiting)),
            Err(e) => tracing::debug!(error = %e, "the queue's waiting count was not read"),
        }
    }

    /// Asks the centre for this window's figures of today (a window with none yet has zeros).
    pub(super) fn refresh_figures(&self) {
        let Some(hall) = self.hall() else { return };
        let Ok(centre) = self.centre() else { return };
        match centre.run(|c| async move { c.queue_stats_today(&hall).await }) {
            Ok(mut s) => {
                let mine = s
                    .by_window
                    .remove(&self.shared.window.number)
                    .unwrap_or_default();
                self.send(Input::Figures(mine));
            }
            Err(e) => tracing::debug!(error = %e, "the window's figures were not read"),
        }
    }

    pub(super) fn read_card(&self, cancel: CancelToken) -> Result<CardFacts, DeskProblem> {
        let cfg = &self.shared.cfg;
        let claim = self.claim_device(
            self.shared.window.card_reader.as_deref(),
            DeviceKind::IdCardReader,
            Duration::from_secs(120),
            DeskProblem::Card,
            "this window has no ID card reader",
        )?;
        let timeout = Duration::from_secs(self.shared.window.card_timeout_s);
        let identity = card::wait_and_read(&cfg.runtime, &claim, card::context(timeout, cancel))
            .map_err(|p| match p {
                card::CardProblem::NoCard => DeskProblem::NoCard,
                other => DeskProblem::Card(other.to_string()),
            })?;
        let facts = facts_of(&identity);
        self.lock().identity = Some(identity);
        Ok(facts)
    }

    /// Waits for a code on the window's scanner: an e-ID is verified offline against the
    /// pool; a case number (or the case's QR link) links the case.
    pub(super) fn scan_code(&self, cancel: CancelToken) -> Result<Scanned, DeskProblem> {
        let cfg = &self.shared.cfg;
        let claim = self.claim_device(
            self.shared.window.scanner.as_deref(),
            DeviceKind::QrScanner,
            Duration::from_secs(600),
            DeskProblem::Code,
            "this window has no code scanner",
        )?;
        let (code, _) = crate::flows::host::wait_for_code(&cfg.runtime, &claim, &cancel)
            .map_err(|()| DeskProblem::Code("canceled".into()))?;
        if eid::looks_like_eid(&code) {
            let pool =
                eid::Pool::in_force(&cfg.journal).map_err(|e| DeskProblem::Code(e.to_string()))?;
            let now = cfg.runtime.events.now();
            let identity = {
                let mut inner = self.lock();
                eid::verify(&code, pool.as_ref(), now, &mut inner.eid_replay)
            }
            .map_err(|e| DeskProblem::Code(e.to_string()))?;
            let facts = facts_of(&identity);
            self.lock().identity = Some(identity);
            return Ok(Scanned::Identity(facts));
        }
        case_in(&code)
            .map(Scanned::Case)
            .ok_or_else(|| DeskProblem::Code("not an e-ID or a case code".into()))
    }

    pub(super) fn keep_signature(
        &self,
        ticket: &DeskTicket,
        staff: &str,
        case_number: Option<&str>,
    ) -> Result<(), DeskProblem> {
        let png = self.ink_png().map_err(DeskProblem::Journal)?;
        let stored = self.seal(&png, "image/png")?;
        self.record_for_ticket("window.signed", ticket, staff, case_number, stored)
    }

    /// The signature pad's ink as a PNG, 1000 px wide.
    fn ink_png(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
        let inner = self.lock();
        let img = inner.ink.picture(1000).map_err(|e| e.to_string())?;
        let mut buf = opencv::core::Vector::<u8>::new();
        opencv::imgcodecs::imencode(".png", &img, &mut buf, &opencv::core::Vector::new())
            .map_err(|e| e.to_string())?;
        Ok(zeroize::Zeroizing::new(buf.as_slice().to_vec()))
    }

    /// The citizen's signature of the ticket being served, once they signed (for the clerk's
    /// business system through the local device API); gone with the ticket.
    pub fn signature_png(&self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        if !self.view().signed {
            return None;
        }
        self.ink_png().ok()
    }

    /// `bytes` sealed in the attachment store (personal data at rest).
    pub(super) fn seal(
        &self,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<kiosk_protocol::wire::AttachmentRef, DeskProblem> {
        crate::terminal::attachment_store(&self.shared.cfg.config)
            .and_then(|s| s.put(bytes, media_type))
            .map_err(|e| DeskProblem::Journal(e.to_string()))
    }

    /// A journal record `kind` of something kept for `ticket` at this window: the ticket,
    /// window, clerk, case and the sealed attachment.
    pub(super) fn record_for_ticket(
        &self,
        kind: &str,
        ticket: &DeskTicket,
        staff: &str,
        case_number: Option<&str>,
        stored: kiosk_protocol::wire::AttachmentRef,
    ) -> Result<(), DeskProblem> {
        let cfg = &self.shared.cfg;
        let mut payload = json!({
            "hall": self.hall().unwrap_or_default(),
            "day": ticket.day,
            "number": ticket.number,
            "service": ticket.service,
            "window": self.shared.window.number,
            "staff": staff,
            "at": cfg.runtime.events.now(),
            "attachments": [stored],
        });
        if let Some(c) = case_number {
            payload["case"] = json!(c);
        }
        cfg.journal
            .lock()
            .enqueue(kind, payload)
            .map_err(|e| DeskProblem::Journal(e.to_string()))?;
        Ok(())
    }

    /// The rating as `queue.rated`; a complaint typed with it is the citizen's own words (it
    /// may name them), so it is sealed in the attachment store and the record names its hash.
    pub(super) fn record_rating(&self, d: &RatingDraft) -> Result<(), DeskProblem> {
        let text = if d.complaint {
            self.lock()
                .typing
                .as_ref()
                .map(|t| zeroize::Zeroizing::new(t.text.trim().as_bytes().to_vec()))
                .filter(|t| !t.is_empty())
        } else {
            None
        };
        let complaint = match text {
            Some(t) => Some(self.seal(&t, "text/plain; charset=utf-8")?),
            None => None,
        };
        let rating = TicketRating {
            hall: self.hall().unwrap_or_default(),
            day: d.ticket.day.clone(),
            number: d.ticket.number.clone(),
            service: d.ticket.service.clone(),
            window: self.shared.window.number.clone(),
            staff: d.staff.clone(),
            case_number: d.case_number.clone(),
            level: d.level.score(),
            tags: d.tags.clone(),
            complaint: None,
            complaint_sha256: complaint.as_ref().map(|c| c.sha256.clone()),
            channel: "window-pad".into(),
            rated_at: self.shared.cfg.clock.now().to_rfc3339(),
        };
        let attachments: Vec<_> = complaint.into_iter().collect();
        self.shared
            .cfg
            .journal
            .lock()
            .enqueue(
                "queue.rated",
                json!({ "rating": rating, "attachments": attachments }),
            )
            .map_err(|e| DeskProblem::Journal(e.to_string()))?;
        Ok(())
    }

    /// The handling slip (办理凭条): ticket, service, window, clerk, case and time.
    pub(super) fn print_slip(
        &self,
        ticket: &DeskTicket,
        staff: &str,
        case_number: Option<&str>,
    ) -> Result<(), DeskProblem> {
        use kiosk_drivers::escpos::doc::{Align, Block, Paper, Receipt};
        let cfg = &self.shared.cfg;
        let claim = self.claim_device(
            self.shared.window.printer.as_deref(),
            DeviceKind::ReceiptPrinter,
            Duration::from_secs(60),
            DeskProblem::Printer,
            "this window has no receipt printer",
        )?;
        let (hall, service) = {
            let inner = self.lock();
            let c = inner.catalogue.as_ref();
            (
                c.map(|c| c.hall.name.zh.clone()).unwrap_or_default(),
                c.and_then(|c| c.group(&ticket.service))
                    .map(|g| g.name.zh.clone())
                    .unwrap_or_else(|| ticket.service.clone()),
            )
        };
        let now = cfg
            .clock
            .now()
            .with_timezone(&cfg.config.offset())
            .format("%Y-%m-%d %H:%M")
            .to_string();
        let mut r = Receipt::new(Paper::Mm80)
            .styled(&hall, Align::Center, true, (1, 1))
            .styled("办理凭条", Align::Center, true, (2, 2))
            .block(Block::Rule)
            .text(format!("排队号码：{}", ticket.number))
            .text(format!("办理事项：{service}"))
            .text(format!("受理窗口：{} 号窗口", self.shared.window.number))
            .text(format!("受理人员：工号 {staff}"));
        if let Some(c) = case_number {
            r = r.text(format!("办件编号：{c}"));
        }
        r = r
            .text(format!("办理时间：{now}"))
            .block(Block::Rule)
            .styled(
                "感谢您的耐心等候，欢迎评价我们的服务",
                Align::Center,
                false,
                (1, 1),
            );
        let record = cfg
            .desk
            .print_receipt(&claim, "window-slip", json!({ "receipt": r }))
            .map_err(|e| DeskProblem::Printer(e.to_string()))?;
        crate::services::queue::printed(record).map_err(|p| DeskProblem::Printer(p.to_string()))
    }
}

/// With an embedded centre (a demo or a bench), the window's services are set up at start.
pub fn set_up_window(host: &DeskHost, centre: &BlockingCentre) -> Result<(), String> {
    let hall = host.hall().ok_or("the catalogue has not arrived")?;
    let services = host.services();
    let number = host.shared.window.number.clone();
    let setup = kiosk_protocol::queue::WindowSetup { services };
    centre
        .run(|c| async move { c.set_window(&hall, &number, &setup).await })
        .map(drop)
        .map_err(|e| e.to_string())
}

/// What the desk may show of a card's identity (the name for the citizen's own screen, the
/// masks for the clerk's).
fn facts_of(identity: &card::CitizenIdentity) -> CardFacts {
    CardFacts {
        name: identity.name.clone(),
        masked_name: identity.masked_name(),
        masked_number: identity.masked_number(),
    }
}

/// The case number a code names: 14 digits alone, or a link's `case=` parameter.
pub(super) fn case_in(code: &str) -> Option<String> {
    let code = code.trim();
    let is_number = |s: &str| s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit());
    if is_number(code) {
        return Some(code.to_string());
    }
    let (_, query) = code.split_once('?')?;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, v)| *k == "case" && is_number(v))
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, body: &str) -> CentreError {
        CentreError::Refused {
            status,
            body: body.into(),
        }
    }

    #[test]
    fn a_case_code_is_its_number_or_a_link_to_it() {
        assert_eq!(
            case_in(" 20261203000042\r\n").as_deref(),
            Some("20261203000042")
        );
        assert_eq!(
            case_in("https://zwfw.ks.gov.cn/case?lang=zh&case=20261203000042").as_deref(),
            Some("20261203000042")
        );
        for bad in [
            "2026120300004",
            "https://x/case?case=abc",
            "hello",
            "",
            "?case=",
        ] {
            assert_eq!(case_in(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_centres_refusals_become_the_desks_problems() {
        assert_eq!(
            login_problem(refused(
                403,
                r#"{"error":"wrong PIN; 3 tries left before a 15-minute lock","reason":"pin-wrong"}"#
            )),
            LoginProblem::WrongPin { tries_left: 3 }
        );
        assert_eq!(
            login_problem(refused(
                423,
                r#"{"error":"too many wrong PINs: locked until 2026-12-03T10:15:00+08:00","reason":"locked"}"#
            )),
            LoginProblem::Locked {
                until: "2026-12-03T10:15:00+08:00".into()
            }
        );
        assert_eq!(
            login_problem(refused(
                404,
                r#"{"error":"no staff number 9","reason":"staff-unknown"}"#
            )),
            LoginProblem::Unknown
        );
        // An answer that is not the API's JSON still says what came back.
        assert!(matches!(
            login_problem(refused(502, "<html>bad gateway</html>")),
            LoginProblem::Refused(m) if m.contains("502")
        ));
        assert!(matches!(
            login_problem(CentreError::Unreachable("connection refused".into())),
            LoginProblem::Centre(_)
        ));
        assert_eq!(
            centre_problem(refused(
                409,
                r#"{"error":"nobody is waiting for this window","reason":"nobody-waiting"}"#
            )),
            DeskProblem::Refused {
                reason: "nobody-waiting".into(),
                message: "nobody is waiting for this window".into()
            }
        );
        assert!(matches!(
            centre_problem(refused(500, "")),
            DeskProblem::Centre(m) if m.starts_with("500")
        ));
    }
}
