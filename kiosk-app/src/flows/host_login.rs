//! The host's side of the login (`identify`): the card read with its photo and fingerprint
//! block into the session, the face check against that photo on the face camera (models loaded
//! once, on the first check), the finger on the EF01 module against the card's block, and e-ID
//! codes checked against the key pool in force. Results come back as messages of the session's
//! generation; a stopped check answers nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk_hal::device::{CancelToken, CompletionCode};
use kiosk_hal::DeviceKind;
use kiosk_models::{Decision, Prompt};
use kiosk_protocol::{Event, EventKind};
use serde_json::json;

use super::{spawn, Msg, Worker};
use crate::flows::identify::{self, CardFacts, FingerProblem};
use crate::services::card;
use crate::services::eid;
use crate::services::face::FaceService;
use crate::services::guide as lights;

/// The face screen's mirror of the citizen, among the host's pictures (never in the session).
pub(super) const FACE_PREVIEW: &str = "face-preview";

/// How long the finger module waits for a finger before the screen asks again.
const FINGER_WAIT: Duration = Duration::from_secs(10);

/// The face service, loaded on the first check and kept for the terminal's life.
pub(super) type SharedFace = Arc<Mutex<Option<FaceService>>>;

impl Worker {
    /// The login's context for this session's devices.
    pub(super) fn login_context(&self) -> identify::Context {
        let Some(c) = self.claims.as_ref() else {
            // Before the session claims them: what the device table has.
            let j = &self.cfg.config.journeys;
            let has = |kind, named: &Option<String>| self.device(kind, named).is_some();
            return identify::Context {
                has_reader: has(DeviceKind::IdCardReader, &j.ticket.card_reader),
                has_scanner: has(DeviceKind::QrScanner, &j.ticket.scanner),
                face: has(DeviceKind::FaceCamera, &j.id_copy.face_camera),
                finger: has(DeviceKind::Fingerprint, &j.id_copy.fingerprint),
                agents: self.pending_apply.is_some() && j.apply.agents,
            };
        };
        // Filing for someone is for applications; a copy of a card needs its holder.
        let applying = self.session.as_ref().is_some_and(|s| s.journey == "apply");
        identify::Context {
            has_reader: c.reader.is_some(),
            has_scanner: c.scanner.is_some(),
            face: c.face_camera.is_some(),
            finger: c.fingerprint.is_some(),
            agents: applying && self.cfg.config.journeys.apply.agents,
        }
    }

    /// Performs one of the login's effects; `wrap` turns the login's inputs into the kiosk's.
    pub(super) fn login(&mut self, e: identify::Effect) {
        let generation = self.generation;
        let Some(claims) = self.claims.as_ref() else {
            return;
        };
        match e {
            identify::Effect::Light(m, on) => {
                if let Some(b) = &claims.board {
                    lights::set(&self.cfg.runtime, b, m, on);
                }
            }
            identify::Effect::WaitForCard => {
                let Some(reader) = claims.reader.clone() else {
                    return;
                };
                if let Some(t) = self.card_wait.take() {
                    t.cancel();
                }
                let cancel = CancelToken::new();
                self.card_wait = Some(cancel.clone());
                let (rt, tx) = (self.cfg.runtime.clone(), self.tx.clone());
                let timeout = Duration::from_secs(self.cfg.config.journeys.ticket.card_timeout_s);
                spawn("login-card", move || {
                    let r = card::wait_and_read_biometrics(
                        &rt,
                        &reader,
                        card::context(timeout, cancel),
                    );
                    let _ = tx.send(Msg::LoginCard(generation, r));
                });
            }
            identify::Effect::WaitForCode => {
                if let Some(scanner) = claims.scanner.clone() {
                    self.wait_for_code(scanner);
                }
            }
            identify::Effect::StopWaiting => self.stop_waiting(),
            identify::Effect::VerifyFace(_) => self.verify_face(generation),
            identify::Effect::StopFace => {
                if let Some(c) = self.face_cancel.take() {
                    c.store(true, Ordering::Relaxed);
                }
                self.drop_face_preview();
            }
            identify::Effect::VerifyFinger(_) => self.verify_finger(generation),
            identify::Effect::StopFinger => {
                if let Some(c) = self.finger_cancel.take() {
                    c.cancel();
                }
            }
            identify::Effect::Identified(role, factor) => {
                let bus = &self.cfg.runtime.events;
                if let Some(s) = self.session.as_mut() {
                    s.identified(factor.as_str());
                    let masked = s.identity().map(|i| i.masked_number()).unwrap_or_default();
                    bus.emit(
                        Event::new(EventKind::SessionIdentified, bus.now())
                            .field("session", s.id)
                            .field("journey", s.journey)
                            .field("factor", factor.as_str())
                            .field("role", role.as_str())
                            .field("holder", masked),
                    );
                    if role == identify::Role::Agent {
                        s.identity_is_agent();
                    }
                }
            }
            // The principal's card was read after the agent's check: the session names the
            // principal, and the agent stays beside (the record says who acted for whom).
            identify::Effect::PrincipalRead => {
                let bus = &self.cfg.runtime.events;
                if let Some(s) = self.session.as_ref() {
                    let principal = s.identity().map(|i| i.masked_number()).unwrap_or_default();
                    let agent = s.agent().map(|i| i.masked_number()).unwrap_or_default();
                    bus.emit(
                        Event::new(EventKind::SessionIdentified, bus.now())
                            .field("session", s.id)
                            .field("journey", s.journey)
                            .field("factor", "principal-card")
                            .field("role", "principal")
                            .field("holder", principal)
                            .field("agent", agent),
                    );
                }
            }
            identify::Effect::Forget => {
                self.card_facts = CardFacts {
                    photo: false,
                    fingerprint: false,
                };
                if let Some(s) = self.session.as_mut() {
                    s.forget();
                }
            }
            identify::Effect::Finish(_) => {}
        }
    }

    /// A card was read for the login: who it names and what it carries go to the session.
    pub(super) fn login_card(
        &mut self,
        result: Result<(card::CitizenIdentity, card::CardBiometrics), card::CardProblem>,
    ) -> identify::Input {
        identify::Input::CardRead(result.map(|(identity, biometrics)| {
            let facts = CardFacts {
                photo: biometrics.photo_bmp.is_some(),
                fingerprint: biometrics.fingerprint.is_some(),
            };
            self.card_facts = facts;
            if let Some(s) = self.session.as_mut() {
                s.set_identity(identity);
                s.set_biometrics(biometrics);
            }
            facts
        }))
    }

    /// A code was scanned during the login: an e-ID is checked offline against the pool.
    pub(super) fn login_code(&mut self, code: &str) -> identify::Input {
        let pool = match eid::Pool::in_force(&self.cfg.journal) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "the e-ID key pool cannot be used");
                None
            }
        };
        let now = self.cfg.runtime.events.now();
        let result = eid::verify(code, pool.as_ref(), now, &mut self.eid_replay);
        identify::Input::Code(result.map(|identity| {
            if let Some(s) = self.session.as_mut() {
                s.set_identity(identity);
            }
        }))
    }

    /// The screen's mirror goes when the check does.
    pub(super) fn drop_face_preview(&mut self) {
        self.pictures.retain(|(n, _)| *n != FACE_PREVIEW);
    }

    fn verify_face(&mut self, generation: u64) {
        let tx = self.tx.clone();
        let camera = self.claims.as_ref().and_then(|c| c.face_camera.clone());
        let photo = self
            .session
            .as_ref()
            .and_then(|s| s.biometrics())
            .and_then(|b| b.photo_bmp.clone());
        let (Some(camera), Some(photo)) = (camera, photo) else {
            let _ = tx.send(Msg::FaceDone(generation, Decision::Unavailable));
            return;
        };
        if let Some(c) = self.face_cancel.take() {
            c.store(true, Ordering::Relaxed);
        }
        let cancel = Arc::new(AtomicBool::new(false));
        self.face_cancel = Some(cancel.clone());
        let (rt, face, config) = (
            self.cfg.runtime.clone(),
            self.face.clone(),
            self.cfg.config.face.clone(),
        );
        spawn("login-face", move || {
            let card_photo = match kiosk_image::scan::decode(&photo) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "the card photo cannot be decoded");
                    let _ = tx.send(Msg::FaceDone(generation, Decision::Unavailable));
                    return;
                }
            };
            drop(photo);
            let mut guard = face.lock().unwrap_or_else(|p| p.into_inner());
            let service = guard.get_or_insert_with(|| FaceService::load(&config));
            // Every third frame, small and mirrored, for the screen: the citizen sees where
            // to stand. In memory only, dropped when the check ends.
            let preview_tx = tx.clone();
            let mut n = 0u32;
            let mut watch = |m: &opencv::core::Mat| {
                n += 1;
                if n % 3 == 1 {
                    if let Some(jpeg) = mirror_preview(m) {
                        let _ = preview_tx.send(Msg::FacePreview(generation, jpeg));
                    }
                }
            };
            let mut last = None;
            let progress_tx = tx.clone();
            let mut progress = |p: Prompt| {
                if last != Some(p) {
                    last = Some(p);
                    let _ = progress_tx.send(Msg::FacePrompt(generation, p));
                }
            };
            let v = service.verify_watched(
                &rt,
                &camera,
                &card_photo,
                &mut progress,
                &cancel,
                &mut watch,
            );
            if !cancel.load(Ordering::Relaxed) {
                let _ = tx.send(Msg::FaceDone(generation, v.decision));
            }
        });
    }

    fn verify_finger(&mut self, generation: u64) {
        let tx = self.tx.clone();
        let module = self.claims.as_ref().and_then(|c| c.fingerprint.clone());
        let block = self
            .session
            .as_ref()
            .and_then(|s| s.biometrics())
            .and_then(|b| b.fingerprint.clone());
        let (Some(module), Some(block)) = (module, block) else {
            let _ = tx.send(Msg::FingerDone(
                generation,
                Err(FingerProblem::Module("no fingerprint to compare".into())),
            ));
            return;
        };
        if let Some(c) = self.finger_cancel.take() {
            c.cancel();
        }
        let cancel = CancelToken::new();
        self.finger_cancel = Some(cancel.clone());
        let rt = self.cfg.runtime.clone();
        spawn("login-finger", move || {
            let mut args = json!({ "block": hex::encode(block.as_slice()) });
            drop(block);
            let r = rt.call_with(
                &module,
                "fp-verify-card",
                args.clone(),
                card::context(FINGER_WAIT, cancel.clone()),
            );
            card::wipe_json(&mut args);
            if cancel.is_canceled() {
                return;
            }
            // A match answers with its score; "confirmation 08" is the module's "no match".
            let result = match r {
                Ok(_) => Ok(true),
                Err(e) => match e.device_error() {
                    Some(d) if d.detail.starts_with("confirmation 08") => Ok(false),
                    Some(d) if d.code == CompletionCode::Timeout => Err(FingerProblem::NoFinger),
                    Some(d) if d.code == CompletionCode::Canceled => return,
                    _ => Err(FingerProblem::Module(e.detail())),
                },
            };
            let _ = tx.send(Msg::FingerDone(generation, result));
        });
    }
}

/// A frame as the face screen shows it: 480 px wide, mirrored like a looking glass, JPEG.
fn mirror_preview(m: &opencv::core::Mat) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    use opencv::prelude::*;
    if m.cols() <= 0 {
        return None;
    }
    let h = (f64::from(m.rows()) * 480.0 / f64::from(m.cols())).round() as i32;
    let mut small = opencv::core::Mat::default();
    opencv::imgproc::resize(
        m,
        &mut small,
        opencv::core::Size::new(480, h.max(1)),
        0.0,
        0.0,
        opencv::imgproc::INTER_AREA,
    )
    .ok()?;
    let mut mirrored = opencv::core::Mat::default();
    opencv::core::flip(&small, &mut mirrored, 1).ok()?;
    kiosk_image::encode::jpeg(&mirrored, 70)
        .ok()
        .map(|j| zeroize::Zeroizing::new(j.bytes))
}
