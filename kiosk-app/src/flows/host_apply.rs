//! The host's side of an application: the application prepared from the guide's item and
//! answers, its devices claimed, values kept as the citizen confirms them, pages taken from the
//! document camera, the signature's strokes, the filing and the receipt on worker threads, and
//! what the application screens show. The application (all personal data) lives here for the
//! session and is wiped with it.

use std::sync::Arc;

use kiosk_hal::DeviceKind;
use kiosk_protocol::cases::Pickup;

use super::{spawn, Msg, Picture, Worker};
use crate::flows::apply::{self, FieldShape, PagesWanted, SignProblem};
use crate::flows::kiosk::{self, Screen};
use crate::flows::rating;
use crate::services::apply::filing::{self, When, Who};
use crate::services::apply::ink::InkPoint;
use crate::services::apply::{document, shape, Application, Keyboard};
use crate::services::catalogue::{Answers, TagFor, Text};
use crate::services::guide as lights;
use crate::services::queue::PrintProblem;
use zeroize::Zeroizing;

/// The document camera's live picture of the plate (the session's pictures).
pub(super) const PLATE_PREVIEW: &str = "plate-preview";

/// What the application screens show (no value in the clear but what the citizen is typing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplyView {
    pub item: Text,
    pub form_title: Text,
    pub label: Text,
    pub hint: Text,
    pub at: usize,
    pub fields: usize,
    pub keyboard: Option<Keyboard>,
    /// The digit pad's extra key for the field (X, -, .), or none.
    pub digit_extra: &'static str,
    pub options: Vec<Text>,
    pub chosen: Option<usize>,
    /// The value came from the ID card.
    pub prefilled: bool,
    /// What is typed now passes the field's rules (checked as the citizen types; what is
    /// wrong is said when they confirm).
    pub typed_ok: bool,
    pub error: Option<Text>,
    pub pickups: Vec<Pickup>,
    pub material: Text,
    pub material_note: Text,
    pub material_at: usize,
    pub materials: usize,
    pub pages: Vec<Picture>,
    /// The plate as the document camera sees it now.
    pub plate: Option<Picture>,
    pub min_pages: u32,
    pub max_pages: u32,
    /// The review: each field's label and its value as shown (personal ones masked).
    pub review: Vec<(Text, String)>,
    pub pickup: Option<Pickup>,
    pub address: String,
    pub page_total: usize,
    /// The signature as an SVG path in pad units.
    pub ink: String,
    /// The case number, or the terminal's reference while the centre is away.
    pub number: String,
    pub numbered: bool,
    pub password: Secret,
    pub not_here: Vec<Text>,
    /// The e-licence materials: name, where the licence came from (issuer, issued on; empty
    /// when the citizen has none of that type), required.
    pub licences: Vec<(Text, String, bool)>,
    /// Every required e-licence was found.
    pub licences_ready: bool,
    /// The agent filing for the citizen, masked.
    pub agent: String,
}

/// A secret for the screen that never prints in a log.
#[derive(Clone, PartialEq, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl Worker {
    /// The guide handed over: keep the item and answers and start the application journey.
    pub(super) fn begin_apply(&mut self, item: String, answers: Answers) {
        self.pending_apply = Some((item, answers));
        self.step(kiosk::Input::Start("apply".into()));
        self.pending_apply = None;
    }

    /// The application for `pending_apply`, with its shape; `None` when the item is gone.
    fn prepared(&self) -> Option<Application> {
        let (id, answers) = self.pending_apply.as_ref()?;
        let item = self.catalogue.as_ref()?.item(id)?.clone();
        let plan = item.plan(answers).ok()?;
        let s = shape(&item, &plan)
            .map_err(|e| tracing::error!(error = %e, "the catalogue's item cannot be applied for"))
            .ok()?;
        Some(Application::new(item, answers.clone(), s))
    }

    /// Claims what an application needs; a device it cannot have is simply not there.
    pub(super) fn claims_for_apply(
        &self,
        claim: &dyn Fn(Option<String>) -> Option<Arc<crate::runtime::Claim>>,
    ) -> (super::Claims, Option<Application>) {
        let j = &self.cfg.config.journeys;
        let app = self.prepared();
        let pages = app.as_ref().is_some_and(|a| !a.shape.captures.is_empty());
        let dev = |kind, named: &Option<String>| self.device(kind, named);
        let claims = super::Claims {
            reader: claim(dev(DeviceKind::IdCardReader, &j.ticket.card_reader)),
            scanner: claim(dev(DeviceKind::QrScanner, &j.ticket.scanner)),
            board: claim(dev(DeviceKind::Board, &j.ticket.board)),
            face_camera: claim(dev(DeviceKind::FaceCamera, &j.apply.face_camera)),
            fingerprint: claim(dev(DeviceKind::Fingerprint, &j.apply.fingerprint)),
            document_camera: if pages {
                claim(dev(DeviceKind::DocumentCamera, &j.apply.document_camera))
            } else {
                None
            },
            printer: claim(dev(DeviceKind::ReceiptPrinter, &j.ticket.printer)),
            a4: None,
        };
        (claims, app)
    }

    pub(super) fn apply_context(&self) -> Option<apply::Context> {
        let prepared;
        let app = match &self.application {
            Some(a) => a,
            None if self.pending_apply.is_some() => {
                prepared = self.prepared()?;
                &prepared
            }
            // The filing thread holds the application: the shape as it was.
            None => return self.apply_shape.clone(),
        };
        let c = self.claims.as_ref();
        let login = self.login_context();
        let devices = (login.has_reader || login.has_scanner)
            && (app.shape.captures.is_empty()
                || c.map_or(
                    self.device(
                        DeviceKind::DocumentCamera,
                        &self.cfg.config.journeys.apply.document_camera,
                    )
                    .is_some(),
                    |c| c.document_camera.is_some(),
                ));
        Some(apply::Context {
            login,
            card: self.card_facts,
            fields: app
                .shape
                .entries
                .iter()
                .map(|e| FieldShape {
                    options: e.field.field.options.len(),
                })
                .collect(),
            pickups: self.pickups(),
            captures: app
                .shape
                .captures
                .iter()
                .enumerate()
                .map(|(i, m)| PagesWanted {
                    min: m.min,
                    max: m.max,
                    have: app.page_count(i),
                })
                .collect(),
            devices,
            not_here: !app.shape.not_here.is_empty(),
            licences: !app.shape.licences.is_empty(),
            licences_ready: app.licences_ready(),
            satisfied_tags: self.rating_tags(TagFor::Satisfied),
            unsatisfied_tags: self.rating_tags(TagFor::Unsatisfied),
        })
    }

    fn pickups(&self) -> Vec<Pickup> {
        self.cfg
            .config
            .journeys
            .apply
            .pickups
            .iter()
            .filter_map(|p| Pickup::parse(p))
            .collect()
    }

    fn answer(&mut self, i: apply::Input) {
        self.step(kiosk::Input::Apply(i));
    }

    pub(super) fn apply(&mut self, e: apply::Effect) {
        let generation = self.generation;
        match e {
            apply::Effect::Login(l) => {
                let on_login = matches!(self.kiosk.screen, Screen::Apply(apply::Stage::Login(_)));
                self.journey_login(l, on_login);
                if matches!(self.kiosk.screen, Screen::Apply(apply::Stage::Form { .. })) {
                    self.prefill();
                }
            }
            apply::Effect::Light(m, on) => {
                if let Some(b) = self.claims.as_ref().and_then(|c| c.board.clone()) {
                    lights::set(&self.cfg.runtime, &b, m, on);
                }
            }
            apply::Effect::EditField { at } => {
                let Some(app) = self.application.as_ref() else {
                    return;
                };
                let (initial, max, kb) = match app.shape.entries.get(at) {
                    Some(e) => (
                        app.value(at).unwrap_or("").to_string(),
                        e.max_chars(),
                        e.keyboard(),
                    ),
                    None => return,
                };
                self.start_typing_with(&initial, max, kb == Keyboard::Pinyin);
            }
            apply::Effect::CheckField { at } => {
                let typed = self
                    .typing
                    .as_ref()
                    .map(|t| t.text.to_string())
                    .map(zeroize::Zeroizing::new);
                let r = match self.application.as_mut() {
                    Some(app) => match (typed, app.shape.entries.get(at)) {
                        (_, Some(e)) if e.keyboard() == Keyboard::None => {
                            e.field.check(app.value(at).unwrap_or(""))
                        }
                        (Some(t), _) => app.set(at, &t),
                        (None, _) => app.set(at, ""),
                    },
                    None => return,
                };
                self.answer(apply::Input::FieldChecked(r));
            }
            apply::Effect::ChooseOption { at, option } => {
                let Some(app) = self.application.as_mut() else {
                    return;
                };
                let r = app.choose(at, option);
                self.answer(apply::Input::FieldChecked(r));
            }
            apply::Effect::EditAddress => {
                let initial = self
                    .application
                    .as_ref()
                    .and_then(|a| a.address.as_deref().cloned())
                    .unwrap_or_default();
                self.start_typing_with(&initial, crate::services::apply::ADDRESS_MAX, true);
            }
            apply::Effect::CheckAddress => {
                let typed = self
                    .typing
                    .as_ref()
                    .map(|t| zeroize::Zeroizing::new(t.text.to_string()))
                    .unwrap_or_default();
                let Some(app) = self.application.as_mut() else {
                    return;
                };
                let r = app.set_address(&typed);
                self.answer(apply::Input::FieldChecked(r));
            }
            apply::Effect::StopTyping => self.typing = None,
            apply::Effect::KeepPickup(p) => {
                if let Some(app) = self.application.as_mut() {
                    app.pickup = Some(p);
                    if p != Pickup::Mail {
                        app.address = None;
                    }
                }
            }
            apply::Effect::Capture { at } => {
                let camera = self.claims.as_ref().and_then(|c| c.document_camera.clone());
                let (rt, tx) = (self.cfg.runtime.clone(), self.tx.clone());
                spawn("apply-capture", move || {
                    let r = match camera {
                        Some(c) => crate::services::idcopy::still(&rt, &c)
                            .and_then(|photo| document::page_from_photo(&photo)),
                        None => Err(apply::CaptureProblem::Camera("no document camera".into())),
                    };
                    let _ = tx.send(Msg::PageCaptured(generation, at, r));
                });
            }
            apply::Effect::DeletePage { at, page } => {
                if let Some(pages) = self.application.as_mut().and_then(|a| a.pages.get_mut(at)) {
                    if page < pages.len() {
                        pages.remove(page);
                    }
                }
            }
            apply::Effect::FetchLicences => {
                let holder = self
                    .session
                    .as_ref()
                    .and_then(|s| s.citizen())
                    .map(|(c, _)| kiosk_protocol::cases::holder_sha256(&c.number));
                let (centre, tx) = (self.cfg.desk.centre.clone(), self.tx.clone());
                spawn("apply-licences", move || {
                    use crate::flows::query::LookupProblem;
                    let r = match (centre, holder) {
                        (Some(c), Some(h)) => c.licences_of(&h).map_err(|e| match e {
                            crate::centre::CentreError::Refused { status: 404, .. } => {
                                LookupProblem::NotFound
                            }
                            _ => LookupProblem::CentreAway,
                        }),
                        (None, _) => Err(LookupProblem::CentreAway),
                        (_, None) => Err(LookupProblem::NotFound),
                    };
                    let _ = tx.send(Msg::ApplyLicences(generation, r));
                });
            }
            apply::Effect::ClearSignature => {
                if let Some(app) = self.application.as_mut() {
                    app.ink.clear();
                }
            }
            apply::Effect::CheckSignature => {
                let enough = self.application.as_ref().is_some_and(|a| a.ink.enough());
                self.answer(apply::Input::SignChecked(if enough {
                    Ok(())
                } else {
                    Err(SignProblem::TooLittle)
                }));
            }
            apply::Effect::Submit => self.submit(),
            apply::Effect::PrintReceipt { filed } => self.print_application_receipt(&filed),
            apply::Effect::Rating(rating::Effect::StartTyping) => self.start_typing(),
            apply::Effect::Rating(rating::Effect::StopTyping) => self.stop_typing(),
            apply::Effect::Rating(rating::Effect::Submit {
                level,
                tags,
                complaint,
            }) => {
                let case = match &self.kiosk.screen {
                    Screen::Apply(apply::Stage::Rating { filed, .. }) => Some(
                        filed
                            .case_number
                            .clone()
                            .unwrap_or_else(|| filed.local_ref.clone()),
                    ),
                    _ => None,
                };
                self.record_rating(level, &tags, complaint, case.as_deref());
            }
            apply::Effect::Finish(_) => {}
        }
    }

    /// Fills the fields the card gives, once the login confirmed the citizen.
    fn prefill(&mut self) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let Some((citizen, _)) = s.citizen() else {
            return;
        };
        if let Some(app) = self.application.as_mut() {
            app.prefill(citizen, s.agent());
        }
        // The first field's keyboard opened before the values were there.
        if let Screen::Apply(apply::Stage::Form { at, .. }) = self.kiosk.screen {
            if let Some(app) = self.application.as_ref() {
                if let Some(e) = app.shape.entries.get(at) {
                    if e.keyboard() != Keyboard::None {
                        let initial = app.value(at).unwrap_or("").to_string();
                        let (max, pinyin) = (e.max_chars(), e.keyboard() == Keyboard::Pinyin);
                        self.start_typing_with(&initial, max, pinyin);
                    }
                }
            }
        }
    }

    /// Files on a worker thread; the application goes with it and comes back with the answer.
    fn submit(&mut self) {
        let generation = self.generation;
        self.apply_shape = self.apply_context();
        let Some(app) = self.application.take() else {
            self.answer(apply::Input::Submitted(Err("no application".into())));
            return;
        };
        let session = self.session.as_ref();
        let who = session.and_then(|s| {
            let (citizen, factor) = s.citizen()?;
            Some((citizen.clone(), s.agent().cloned(), factor))
        });
        let Some((applicant, agent, factor)) = who else {
            self.application = Some(app);
            self.answer(apply::Input::Submitted(Err("nobody identified".into())));
            return;
        };
        let session_id = session.map_or(0, |s| s.id);
        let hall = self
            .catalogue
            .as_ref()
            .map(|c| c.hall.name.zh.clone())
            .unwrap_or_default();
        let at = self.cfg.runtime.events.now().to_rfc3339();
        let date = self.local_minute().chars().take(10).collect::<String>();
        let store = crate::terminal::attachment_store(&self.cfg.config);
        let (journal, centre, tx) = (
            self.cfg.journal.clone(),
            self.cfg.desk.centre.clone(),
            self.tx.clone(),
        );
        spawn("apply-submit", move || {
            let r = store.map_err(|e| e.to_string()).and_then(|store| {
                filing::file(
                    &app,
                    &Who {
                        applicant: &applicant,
                        agent: agent.as_ref(),
                        factor,
                    },
                    &When {
                        hall: &hall,
                        session: session_id,
                        at: &at,
                        date: &date,
                    },
                    &store,
                    &journal,
                    centre.as_ref(),
                )
            });
            let _ = tx.send(Msg::Filed(generation, Box::new(app), r));
        });
    }

    fn print_application_receipt(&mut self, filed: &apply::Filed) {
        let generation = self.generation;
        let tx = self.tx.clone();
        let printer = self.claims.as_ref().and_then(|c| c.printer.clone());
        let (Some(app), Some(s)) = (self.application.as_ref(), self.session.as_ref()) else {
            return;
        };
        let Some((applicant, _)) = s.citizen() else {
            return;
        };
        let password = app.password.clone().unwrap_or_default();
        let (hall, query_url) = self
            .catalogue
            .as_ref()
            .map(|c| (c.hall.name.zh.clone(), c.hall.query_url.clone()))
            .unwrap_or_default();
        let args = filing::receipt_args(
            app,
            applicant,
            filed,
            &password,
            &hall,
            &query_url,
            &self.local_minute(),
        );
        let desk = self.cfg.desk.clone();
        spawn("apply-receipt", move || {
            let r = match printer {
                Some(p) => filing::print_receipt(&desk, &p, args),
                None => Err(PrintProblem::Fault("no receipt printer".into())),
            };
            let _ = tx.send(Msg::ReceiptPrinted(generation, r));
        });
    }

    /// A stroke finished on the signature pad.
    pub(super) fn ink(&mut self, stroke: Vec<InkPoint>) {
        if !matches!(self.kiosk.screen, Screen::Apply(apply::Stage::Sign { .. })) {
            return;
        }
        let added = self
            .application
            .as_mut()
            .is_some_and(|app| app.ink.add(stroke));
        if added {
            self.answer(apply::Input::Inked);
        }
    }

    pub(super) fn page_captured(
        &mut self,
        at: usize,
        r: Result<crate::services::apply::Page, apply::CaptureProblem>,
    ) {
        let r = r.and_then(|page| {
            let pages = self
                .application
                .as_mut()
                .and_then(|a| a.pages.get_mut(at))
                .ok_or_else(|| apply::CaptureProblem::Camera("the application is gone".into()))?;
            pages.push(page);
            Ok(())
        });
        self.answer(apply::Input::Captured(r));
    }

    /// Starts the document camera's live picture when a material's pages are on screen, and
    /// stops it when they are not (another screen, the session's end).
    pub(super) fn follow_plate_preview(&mut self) {
        // On through taking a page, so the picture is there again when the page is taken.
        let wanted = matches!(
            self.kiosk.screen,
            Screen::Apply(apply::Stage::Pages { .. } | apply::Stage::Capturing { .. })
        );
        if !wanted {
            self.stop_plate_preview();
            return;
        }
        if self.plate_preview.is_some() {
            return;
        }
        let Some(camera) = self.claims.as_ref().and_then(|c| c.document_camera.clone()) else {
            return;
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        self.plate_preview = Some(stop.clone());
        let (rt, tx, generation) = (self.cfg.runtime.clone(), self.tx.clone(), self.generation);
        spawn("plate-preview", move || {
            use std::sync::atomic::Ordering;
            // About four pictures a second: live enough to lay a page straight, light on the
            // camera and the CPU.
            let every = std::time::Duration::from_millis(250);
            while !stop.load(Ordering::Relaxed) {
                let started = std::time::Instant::now();
                match crate::services::apply::document::plate_preview(&rt, &camera) {
                    Ok(jpeg) => {
                        if tx.send(Msg::PlatePreview(generation, jpeg)).is_err() {
                            break;
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "no plate picture now"),
                }
                std::thread::sleep(every.saturating_sub(started.elapsed()));
            }
        });
    }

    pub(super) fn stop_plate_preview(&mut self) {
        if let Some(stop) = self.plate_preview.take() {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.pictures.retain(|(n, _)| *n != PLATE_PREVIEW);
    }

    pub(super) fn plate_preview_frame(&mut self, jpeg: Zeroizing<Vec<u8>>) {
        if self.plate_preview.is_some() {
            self.pictures.retain(|(n, _)| *n != PLATE_PREVIEW);
            self.pictures.push((PLATE_PREVIEW, Picture(Arc::new(jpeg))));
        }
    }

    /// The citizen's licence list arrived: matched to the e-licence materials.
    pub(super) fn apply_licences(
        &mut self,
        r: Result<Vec<kiosk_protocol::documents::Licence>, crate::flows::query::LookupProblem>,
    ) {
        let r = r.map(|list| {
            if let Some(app) = self.application.as_mut() {
                app.take_licences(&list);
            }
        });
        self.answer(apply::Input::LicencesFound(r));
    }

    pub(super) fn filed(&mut self, app: Box<Application>, r: Result<filing::Receipt, String>) {
        let mut app = *app;
        if r.is_ok() {
            self.cfg.runtime.count_use("applications");
        }
        let r = r.map(|receipt| {
            app.password = Some(receipt.password);
            receipt.filed
        });
        self.application = Some(app);
        self.apply_shape = None;
        self.answer(apply::Input::Submitted(r));
    }

    pub(super) fn apply_view(&self) -> Option<ApplyView> {
        let Screen::Apply(stage) = &self.kiosk.screen else {
            return None;
        };
        let english = self.kiosk.english;
        let app = self.application.as_ref()?;
        let mut v = ApplyView {
            item: app.item.name.clone(),
            fields: app.shape.entries.len(),
            pickups: self.pickups(),
            materials: app.shape.captures.len(),
            pickup: app.pickup,
            address: app.shown_address(),
            page_total: app.pages.iter().map(Vec::len).sum(),
            not_here: app.shape.not_here.clone(),
            licences: app
                .shape
                .licences
                .iter()
                .zip(&app.licences)
                .map(|(w, l)| {
                    (
                        w.name.clone(),
                        l.as_ref()
                            .map(|l| format!("{} · {}", l.issuer, l.issued_on))
                            .unwrap_or_default(),
                        w.required,
                    )
                })
                .collect(),
            licences_ready: app.licences_ready(),
            agent: self
                .session
                .as_ref()
                .and_then(|s| s.agent())
                .map(|a| a.masked_name())
                .unwrap_or_default(),
            ..ApplyView::default()
        };
        match stage {
            apply::Stage::Form { at, problem } => {
                if let Some(e) = app.shape.entries.get(*at) {
                    let f = &e.field.field;
                    v.at = *at;
                    v.form_title = e.form_title.clone();
                    v.label = f.label.clone();
                    v.hint = f.hint.clone();
                    v.keyboard = Some(e.keyboard());
                    v.digit_extra = e.digit_extra();
                    v.typed_ok = e.keyboard() != Keyboard::None
                        && self.typing.as_ref().is_some_and(|t| {
                            !t.text.trim().is_empty() && e.field.check(&t.text).is_ok()
                        });
                    v.options = f.options.iter().map(|o| o.label.clone()).collect();
                    v.chosen = app
                        .value(*at)
                        .and_then(|val| f.options.iter().position(|o| o.value == val));
                    v.prefilled = f.prefill.is_some() && app.value(*at).is_some();
                    v.error = problem.as_ref().map(|p| p.message());
                }
            }
            apply::Stage::Address { problem } => {
                v.keyboard = Some(Keyboard::Pinyin);
                v.error = problem.as_ref().map(|p| p.message());
            }
            apply::Stage::Pages { at, .. } | apply::Stage::Capturing { at } => {
                if let Some(m) = app.shape.captures.get(*at) {
                    v.material_at = *at;
                    v.material = m.name.clone();
                    v.material_note = m.note.clone();
                    v.min_pages = m.min;
                    v.max_pages = m.max;
                    v.pages = app.pages[*at]
                        .iter()
                        .map(|p| Picture(p.thumb.clone()))
                        .collect();
                    v.plate = self.picture(PLATE_PREVIEW);
                }
            }
            apply::Stage::Review => {
                v.review = (0..app.shape.entries.len())
                    .map(|i| {
                        (
                            app.shape.entries[i].field.field.label.clone(),
                            app.shown(i, english),
                        )
                    })
                    .collect();
                // The e-licences taken, by where they came from.
                for (w, l) in app.shape.licences.iter().zip(&app.licences) {
                    if let Some(l) = l {
                        let from = if english { "e-licence" } else { "电子证照" };
                        v.review
                            .push((w.name.clone(), format!("{from} · {}", l.issuer)));
                    }
                }
            }
            apply::Stage::Sign { .. } => v.ink = app.ink.svg_path(),
            apply::Stage::Submitted { filed, .. }
            | apply::Stage::PrintingReceipt { filed }
            | apply::Stage::Rating { filed, .. }
            | apply::Stage::Problem {
                filed: Some(filed), ..
            } => {
                v.numbered = filed.case_number.is_some();
                v.number = filed
                    .case_number
                    .clone()
                    .unwrap_or_else(|| filed.local_ref.clone());
                v.password = Secret(
                    app.password
                        .as_deref()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                );
            }
            _ => {}
        }
        Some(v)
    }
}
