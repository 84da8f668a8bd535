//! The staff pad's card reader: while the pad shows and some technician has a staff badge, the
//! host holds the PC/SC reader and reads the UID of each card put on it (PC/SC's `FF CA`), for
//! the pad to take in place of a staff number. The hold ends when the pad closes, and before
//! the admin mode takes every device, so the admin mode gets the reader too.
//!
//! At home or attract the reader is not held (a browser page may want it): a card coming to
//! it is looked at once, and a technician's badge opens the pad, which then asks its PIN. Any
//! other card (a citizen's social-security card) is left alone.

use std::sync::Arc;
use std::time::Duration;

use kiosk_hal::device::{CancelToken, CompletionCode};
use kiosk_hal::DeviceKind;
use serde_json::Value;

use super::{spawn, Msg, Worker, LEASE};
use crate::flows::kiosk::{self, Screen};
use crate::runtime::{CallError, Claim, Owner, Runtime};
use crate::services::card;

/// The reader held for the pad, and the job reading it.
pub(super) struct StaffCardWatch {
    claim: Arc<Claim>,
    cancel: CancelToken,
    /// Tells this watch's reads from an earlier one's.
    pub(super) token: u64,
}

/// What one card on the reader turned out to be.
#[derive(Debug)]
pub(super) enum CardSeen {
    /// A badge's UID (hex).
    Badge(String),
    /// A card with no UID to give: not a staff badge.
    NotABadge,
}

impl Worker {
    /// Holds the reader while the pad shows (and gives it up when it does not).
    pub(super) fn follow_staff_card(&mut self) {
        let wanted = self.kiosk.screen == Screen::StaffPin && self.credentials.takes_cards();
        if !wanted {
            self.stop_staff_card();
            return;
        }
        if self.staff_card.is_some() {
            return;
        }
        let Some(reader) = self.device(DeviceKind::CardReader, &None) else {
            return;
        };
        // The pad opens from home or attract only, so no session holds the reader; a remote
        // command or a browser page may, and then the pad takes typed numbers only.
        let claim = match self.cfg.runtime.claim(
            &reader,
            Owner::Flow("staff-pad".into()),
            LEASE,
            Duration::ZERO,
        ) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::info!(device = %reader, error = %e, "the staff pad cannot hold the card reader");
                return;
            }
        };
        self.staff_card_token += 1;
        let watch = StaffCardWatch {
            claim: claim.clone(),
            cancel: CancelToken::new(),
            token: self.staff_card_token,
        };
        let (rt, tx, cancel, token) = (
            self.cfg.runtime.clone(),
            self.tx.clone(),
            watch.cancel.clone(),
            watch.token,
        );
        self.staff_card = Some(watch);
        spawn("staff-card", move || {
            while let Some(seen) = next_card(&rt, &claim, &cancel) {
                if tx.send(Msg::StaffCard(token, seen)).is_err() {
                    return;
                }
                wait_until_taken_away(&rt, &claim, &cancel);
            }
        });
    }

    /// Gives the reader back: the job sees the cancel within a tenth of a second and drops
    /// its hold.
    pub(super) fn stop_staff_card(&mut self) {
        if let Some(w) = self.staff_card.take() {
            w.cancel.cancel();
        }
    }

    /// Keeps the reader's lease while the pad shows.
    pub(super) fn renew_staff_card(&self) {
        if let Some(w) = &self.staff_card {
            let _ = w.claim.renew(LEASE);
        }
    }

    pub(super) fn staff_card_seen(&mut self, token: u64, seen: CardSeen) {
        if self.staff_card.as_ref().is_none_or(|w| w.token != token) {
            return;
        }
        let uid = match seen {
            CardSeen::Badge(uid) => Some(uid),
            CardSeen::NotABadge => None,
        };
        self.step(kiosk::Input::StaffCard(uid));
    }
}

impl Worker {
    /// A card came to or left `device`: at home or attract, with badges configured, one look
    /// at it on a job of its own.
    pub(super) fn card_moved(&mut self, device: &str) {
        let idle = matches!(self.kiosk.screen, Screen::Home | Screen::Attract);
        let reader = self.device(DeviceKind::CardReader, &None);
        if !idle
            || self.session.is_some()
            || !self.credentials.takes_cards()
            || reader.as_deref() != Some(device)
        {
            return;
        }
        // Nothing waits for it: a reader someone holds, or no card there now, is no badge.
        let Ok(claim) = self.cfg.runtime.claim(
            device,
            Owner::Flow("staff-pad".into()),
            Duration::from_secs(10),
            Duration::ZERO,
        ) else {
            return;
        };
        let (rt, tx, staff) = (
            self.cfg.runtime.clone(),
            self.tx.clone(),
            self.credentials.clone(),
        );
        spawn("staff-badge", move || {
            let ctx = || card::context(Duration::from_secs(2), CancelToken::new());
            let present = rt
                .call_with(&claim, "card-present", Value::Null, ctx())
                .is_ok_and(|v| v["present"] == true);
            if !present {
                return;
            }
            let uid = rt
                .call_with(&claim, "card-uid", Value::Null, ctx())
                .ok()
                .and_then(|v| v["uid"].as_str().map(str::to_string));
            // Given back before the pad opens, so the pad can hold the reader itself.
            drop(claim);
            if let Some(uid) = uid.filter(|u| staff.card_holder(u).is_some()) {
                let _ = tx.send(Msg::BadgeAtHome(uid));
            }
        });
    }

    /// A technician's badge at home or attract: the pad opens, asking the badge's PIN.
    pub(super) fn badge_at_home(&mut self, uid: String) {
        if !matches!(self.kiosk.screen, Screen::Home | Screen::Attract) || self.session.is_some() {
            return;
        }
        self.step(kiosk::Input::StaffEntry);
        // The pad's watch, started by that step, reads the same badge again at once: that
        // leaves the pad as this leaves it.
        self.step(kiosk::Input::StaffCard(Some(uid)));
    }
}

/// Waits for the next card and reads its UID; None once canceled.
fn next_card(rt: &Runtime, reader: &Claim, cancel: &CancelToken) -> Option<CardSeen> {
    loop {
        if cancel.is_canceled() {
            return None;
        }
        let ctx = card::context(Duration::from_secs(30), cancel.clone());
        match rt.call_with(reader, "wait-card", Value::Null, ctx) {
            Ok(_) => {}
            Err(e) if quiet(&e) => continue,
            Err(e) => {
                pause_after(&e, cancel);
                continue;
            }
        }
        let ctx = card::context(Duration::from_secs(5), cancel.clone());
        match rt.call_with(reader, "card-uid", Value::Null, ctx) {
            Ok(v) => match v["uid"].as_str() {
                Some(uid) => return Some(CardSeen::Badge(uid.to_string())),
                None => return Some(CardSeen::NotABadge),
            },
            Err(e) if invalid(&e) => return Some(CardSeen::NotABadge),
            // Taken away mid-read, or the reader failed: wait for the next card.
            Err(e) => pause_after(&e, cancel),
        }
    }
}

/// Until the card is taken off the reader (or the watch is canceled), so one card is read
/// once.
fn wait_until_taken_away(rt: &Runtime, reader: &Claim, cancel: &CancelToken) {
    while !cancel.is_canceled() {
        let ctx = card::context(Duration::from_secs(2), cancel.clone());
        match rt.call_with(reader, "card-present", Value::Null, ctx) {
            Ok(v) if v["present"] == false => return,
            Ok(_) => {}
            Err(e) => pause_after(&e, cancel),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A wait that ran out with no card, or was canceled: nothing to report.
fn quiet(e: &CallError) -> bool {
    e.device_error()
        .is_some_and(|d| matches!(d.code, CompletionCode::Timeout | CompletionCode::Canceled))
}

fn invalid(e: &CallError) -> bool {
    e.device_error()
        .is_some_and(|d| d.code == CompletionCode::InvalidData)
}

/// A reader fault: logged, then a pause (checking the cancel) before trying again.
fn pause_after(e: &CallError, cancel: &CancelToken) {
    if cancel.is_canceled() {
        return;
    }
    tracing::debug!(error = %e, "the staff pad's card reader");
    for _ in 0..5 {
        if cancel.is_canceled() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
