//! The host's side of the ID card copy: the sides taken from the document camera into the
//! session, the page made from them, and the print on the A4 printer, each on a worker thread
//! and answered as a message of the session's generation.

use super::{spawn, Msg, Worker};
use crate::flows::idcopy::{self, Side};
use crate::flows::identify;
use crate::flows::kiosk::Screen;
use crate::flows::rating;
use crate::services::catalogue::TagFor;
use crate::services::guide as lights;
use crate::services::idcopy as copies;
use crate::services::queue::PrintProblem;

/// What the session keeps the copy's parts under.
pub(super) fn kept_name(side: Side) -> &'static str {
    match side {
        Side::Front => "idcopy-front",
        Side::Back => "idcopy-back",
    }
}
pub(super) const PDF: &str = "idcopy-pdf";
pub(super) const PREVIEW: &str = "idcopy-preview";

impl Worker {
    pub(super) fn idcopy_context(&self) -> idcopy::Context {
        let devices = match &self.claims {
            Some(c) => c.document_camera.is_some() && c.a4.is_some(),
            // Before the session claims them: what the device table has.
            None => self.id_copy_unavailable().is_none(),
        };
        idcopy::Context {
            login: self.login_context(),
            card: self.card_facts,
            devices,
            purposes: self.purposes.len(),
            satisfied_tags: self.rating_tags(TagFor::Satisfied),
            unsatisfied_tags: self.rating_tags(TagFor::Unsatisfied),
        }
    }

    /// The catalogue's rating tags for the satisfied or the unsatisfied levels.
    pub(super) fn rating_tags(&self, side: TagFor) -> Vec<String> {
        self.catalogue
            .as_ref()
            .map(|c| {
                c.rating
                    .tags
                    .iter()
                    .filter(|t| t.for_levels == side && t.offered_at(false))
                    .map(|t| t.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A login effect from a journey: waits and checks start only while its login shows
    /// (`on_login`), so a journey that left its login (its devices were not to be had)
    /// starts nothing.
    pub(super) fn journey_login(&mut self, l: identify::Effect, on_login: bool) {
        let starts = matches!(
            l,
            identify::Effect::WaitForCard
                | identify::Effect::WaitForCode
                | identify::Effect::VerifyFace(_)
                | identify::Effect::VerifyFinger(_)
        );
        if !starts || on_login {
            self.login(l);
        }
    }

    pub(super) fn idcopy(&mut self, e: idcopy::Effect) {
        let generation = self.generation;
        match e {
            idcopy::Effect::Login(l) => {
                let on_login = matches!(self.kiosk.screen, Screen::IdCopy(idcopy::Stage::Login(_)));
                self.journey_login(l, on_login);
            }
            idcopy::Effect::Light(m, on) => {
                if let Some(b) = self.claims.as_ref().and_then(|c| c.board.clone()) {
                    lights::set(&self.cfg.runtime, &b, m, on);
                }
            }
            idcopy::Effect::Capture(side) => {
                let camera = self.claims.as_ref().and_then(|c| c.document_camera.clone());
                let (rt, tx) = (self.cfg.runtime.clone(), self.tx.clone());
                spawn("idcopy-capture", move || {
                    let r = match camera {
                        Some(c) => copies::capture_side(&rt, &c),
                        None => Err(idcopy::CaptureProblem::Camera("no document camera".into())),
                    };
                    let _ = tx.send(Msg::SideCaptured(generation, side, r));
                });
            }
            idcopy::Effect::Drop(side) => {
                let gone = [kept_name(side), PREVIEW];
                self.pictures.retain(|(n, _)| !gone.contains(n));
                if let Some(s) = self.session.as_mut() {
                    s.drop_kept(kept_name(side));
                    s.drop_kept(PDF);
                    s.drop_kept(PREVIEW);
                }
            }
            idcopy::Effect::Compose { purpose } => {
                let tx = self.tx.clone();
                let session = self.session.as_ref();
                let sides = session.and_then(|s| {
                    Some((
                        s.kept(kept_name(Side::Front))?.clone(),
                        s.kept(kept_name(Side::Back))?.clone(),
                    ))
                });
                let watermark = if purpose == idcopy::TYPED {
                    self.typed()
                        .map(|t| format!("仅供{}使用，他用无效", t.trim()))
                } else {
                    self.purposes.get(purpose).map(|t| t.zh.clone())
                };
                spawn("idcopy-compose", move || {
                    let r = match (sides, watermark) {
                        (Some((front, back)), Some(w)) => copies::compose(&front, &back, &w),
                        _ => Err("a side or the use is missing".into()),
                    };
                    let _ = tx.send(Msg::Composed(generation, r));
                });
            }
            idcopy::Effect::Print { .. } => {
                let tx = self.tx.clone();
                let printer = self.claims.as_ref().and_then(|c| c.a4.clone());
                let pdf = self.session.as_ref().and_then(|s| s.kept(PDF).cloned());
                let (desk, spool) = (
                    self.cfg.desk.clone(),
                    self.cfg.config.data_dir().join("spool"),
                );
                spawn("idcopy-print", move || {
                    let r = match (printer, pdf) {
                        (Some(p), Some(pdf)) => copies::print(&desk, &p, &pdf, &spool),
                        _ => Err(PrintProblem::Fault("nothing to print".into())),
                    };
                    let _ = tx.send(Msg::CopyPrinted(generation, r));
                });
            }
            idcopy::Effect::Rating(rating::Effect::StartTyping) => self.start_typing(),
            idcopy::Effect::Rating(rating::Effect::StopTyping) => self.stop_typing(),
            idcopy::Effect::Rating(rating::Effect::Submit {
                level,
                tags,
                complaint,
            }) => self.record_rating(level, &tags, complaint, None),
            idcopy::Effect::StartTyping => self.start_typing(),
            idcopy::Effect::StopTyping => self.stop_typing(),
            idcopy::Effect::Finish(_) => {}
        }
    }
}
