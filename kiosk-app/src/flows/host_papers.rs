//! The host's side of printing papers: the citizen's licences from the centre's licence
//! library, or the proof the centre issues; the A4 paper made on a worker thread (shown as a
//! preview, kept in the session for the printer); the print two-phase, and for a licence the
//! `licence.printed` journal record the centre counts. All of it goes with the session.

use kiosk_protocol::cases::holder_sha256;
use kiosk_protocol::documents::{Licence, LicencePrint, Proof};
use zeroize::Zeroizing;

use super::{spawn, Msg, Worker};
use crate::flows::kiosk;
use crate::flows::papers;
use crate::flows::query::LookupProblem;
use crate::services::catalogue::Answers;
use crate::services::guide as lights;
use crate::services::papers::{self as paper, Holder};
use crate::services::queue::PrintProblem;

/// The session's picture of the paper on screen, and its PDF.
pub(super) const PREVIEW: &str = "paper-preview";
const PDF: &str = "paper-pdf";

/// A proof the guide handed over: which, the periods it offers, what it is for.
#[derive(Debug, Clone)]
pub(super) struct ProofOrder {
    /// The item's name, for the screens.
    pub item_name: crate::services::catalogue::Text,
    /// The centre's proof kind.
    pub kind: String,
    pub months: Vec<u32>,
    pub purpose: String,
}

/// What the papers journey holds for its session.
#[derive(Default)]
pub(super) struct Papers {
    pub order: Option<ProofOrder>,
    pub licences: Vec<Licence>,
    pub proof: Option<Proof>,
    /// The paper on screen had this many pages.
    pub pages: usize,
    pub printed: usize,
}

impl Drop for Papers {
    fn drop(&mut self) {
        self.licences.iter_mut().for_each(paper::wipe_licence);
        if let Some(p) = self.proof.as_mut() {
            paper::wipe_proof(p);
        }
    }
}

/// The order for proof item `item` with `answers`: the periods when the answers ask for the
/// records (a form with a `months` field), the purpose when a question `use` was answered
/// with something other than "other".
pub(super) fn proof_order(
    item: &crate::services::catalogue::ServiceItem,
    answers: &Answers,
    months: &[u32],
) -> Option<ProofOrder> {
    let kind = item.proof.clone()?;
    let plan = item.plan(answers).ok()?;
    let wants_records = plan.forms.iter().any(|f| {
        item.form(f)
            .is_some_and(|f| f.fields.iter().any(|x| x.code == "months"))
    });
    let purpose = item
        .questions
        .iter()
        .filter(|q| q.id == "use")
        .flat_map(|q| {
            answers
                .get(&q.id)
                .into_iter()
                .flatten()
                .filter(|a| a.as_str() != "other")
                .filter_map(|a| q.answers.iter().find(|x| &x.id == a))
                .map(|a| a.label.zh.clone())
        })
        .collect::<Vec<_>>()
        .join("、");
    Some(ProofOrder {
        item_name: item.name.clone(),
        kind,
        months: if wants_records {
            months.to_vec()
        } else {
            Vec::new()
        },
        purpose,
    })
}

impl Worker {
    pub(super) fn papers_context(&self) -> papers::Context {
        let can_print = match &self.claims {
            Some(c) => c.a4.is_some(),
            None => self.proof_unavailable().is_none(),
        };
        papers::Context {
            login: self.login_context(),
            card: self.card_facts,
            can_print,
            identified: self.session.as_ref().is_some_and(|s| s.citizen().is_some()),
            proof: self.papers.order.is_some(),
            months: self
                .papers
                .order
                .as_ref()
                .map(|o| o.months.clone())
                .unwrap_or_default(),
            count: self.papers.licences.len(),
            printed: self.papers.printed,
        }
    }

    /// The guide handed a proof over: prepared, then started.
    pub(super) fn begin_proof(&mut self, item: String, answers: Answers) {
        let months = self.cfg.config.journeys.papers.months.clone();
        let order = self
            .catalogue
            .as_ref()
            .and_then(|c| c.item(&item))
            .and_then(|i| proof_order(i, &answers, &months));
        let Some(order) = order else {
            tracing::warn!(item, "the proof item is not in the catalogue any more");
            return;
        };
        self.papers.order = Some(order);
        self.step(kiosk::Input::Start("proof".into()));
        if !matches!(self.kiosk.screen, super::Screen::Papers(_)) {
            self.papers = Papers::default();
        }
    }

    fn hall_name(&self) -> String {
        self.catalogue
            .as_ref()
            .map(|c| c.hall.name.zh.clone())
            .unwrap_or_default()
    }

    fn holder(&self) -> Option<(String, Zeroizing<String>, Zeroizing<String>)> {
        let (c, _) = self.session.as_ref()?.citizen()?;
        Some((
            holder_sha256(&c.number),
            Zeroizing::new(c.name.clone()),
            Zeroizing::new(c.number.clone()),
        ))
    }

    pub(super) fn papers(&mut self, e: papers::Effect) {
        let generation = self.generation;
        match e {
            papers::Effect::Login(l) => {
                let on_login = matches!(
                    self.kiosk.screen,
                    super::Screen::Papers(papers::Stage::Login(_))
                );
                self.journey_login(l, on_login);
            }
            papers::Effect::Light(m, on) => {
                if let Some(b) = self.claims.as_ref().and_then(|c| c.board.clone()) {
                    lights::set(&self.cfg.runtime, &b, m, on);
                }
            }
            papers::Effect::LookUp { months } => {
                let holder = self.holder().map(|(h, ..)| h);
                let order = self.papers.order.clone();
                let (centre, tx) = (self.cfg.desk.centre.clone(), self.tx.clone());
                spawn("papers-look-up", move || {
                    let problem = |e: crate::centre::CentreError| match e {
                        crate::centre::CentreError::Refused { status: 404, .. } => {
                            LookupProblem::NotFound
                        }
                        _ => LookupProblem::CentreAway,
                    };
                    let r = match (centre, holder, order) {
                        (None, ..) => Err(LookupProblem::CentreAway),
                        (_, None, _) => Err(LookupProblem::NotFound),
                        (Some(c), Some(h), None) => {
                            c.licences_of(&h).map(Found::Licences).map_err(problem)
                        }
                        (Some(c), Some(h), Some(o)) => c
                            .issue_proof(&h, &o.kind, months, &o.purpose)
                            .map(|p| Found::Proof(Box::new(p)))
                            .map_err(problem),
                    };
                    let _ = tx.send(Msg::PapersFound(generation, r));
                });
            }
            papers::Effect::Render { at } => {
                let Some((_, name, number)) = self.holder() else {
                    let _ = self.tx.send(Msg::PaperMade(
                        generation,
                        Err("nobody is identified".into()),
                    ));
                    return;
                };
                let hall = self.hall_name();
                let date = self.local_minute();
                let day = self
                    .cfg
                    .runtime
                    .events
                    .now()
                    .with_timezone(&self.cfg.config.offset())
                    .format("%Y年%m月%d日")
                    .to_string();
                let centre = self
                    .cfg
                    .desk
                    .centre
                    .as_ref()
                    .map(|c| c.base_url())
                    .unwrap_or_default();
                let licence = self.papers.licences.get(at).cloned();
                let proof = self.papers.proof.clone();
                let tx = self.tx.clone();
                spawn("papers-render", move || {
                    let holder = Holder {
                        name: &name,
                        number: &number,
                    };
                    let r = match (licence, proof) {
                        (_, Some(p)) => {
                            paper::proof_paper(&p, &holder, &paper::verify_url(&centre, &p), &day)
                        }
                        (Some(l), None) => {
                            paper::licence_paper(&l, &holder, &hall, l.printed, &date)
                        }
                        (None, None) => Err("no such paper".into()),
                    };
                    let _ = tx.send(Msg::PaperMade(generation, r));
                });
            }
            papers::Effect::Print { at } => {
                let tx = self.tx.clone();
                let printer = self.claims.as_ref().and_then(|c| c.a4.clone());
                let pdf = self.session.as_ref().and_then(|s| s.kept(PDF).cloned());
                let (desk, spool) = (
                    self.cfg.desk.clone(),
                    self.cfg.config.data_dir().join("spool"),
                );
                let what = if self.papers.proof.is_some() {
                    "proof"
                } else {
                    "licence"
                };
                // A licence printed before in this session says so on the next print: made
                // again with the count as it is now.
                let again = match (self.papers.licences.get(at), self.holder()) {
                    (Some(l), Some((_, name, number)))
                        if what == "licence" && self.papers.printed > 0 =>
                    {
                        Some((
                            l.clone(),
                            name,
                            number,
                            self.hall_name(),
                            self.local_minute(),
                        ))
                    }
                    _ => None,
                };
                spawn("papers-print", move || {
                    let pdf = match again {
                        Some((l, name, number, hall, date)) => {
                            let holder = Holder {
                                name: &name,
                                number: &number,
                            };
                            paper::licence_paper(&l, &holder, &hall, l.printed, &date)
                                .ok()
                                .map(|p| p.pdf)
                                .or(pdf)
                        }
                        None => pdf,
                    };
                    let r = match (printer, pdf) {
                        (Some(p), Some(pdf)) => {
                            crate::services::spool::print_a4_pdf(&desk, &p, what, &pdf, &spool)
                        }
                        _ => Err(PrintProblem::Fault("nothing to print".into())),
                    };
                    let _ = tx.send(Msg::PaperPrinted(generation, at, r));
                });
            }
            papers::Effect::Finish(_) => {}
        }
    }

    pub(super) fn papers_found(&mut self, r: Result<Found, LookupProblem>) {
        let r = r.map(|f| match f {
            Found::Licences(l) => {
                let n = l.len();
                self.papers.licences = l;
                n
            }
            Found::Proof(p) => {
                self.papers.proof = Some(*p);
                1
            }
        });
        self.step(kiosk::Input::Papers(papers::Input::Found(r)));
    }

    pub(super) fn paper_made(&mut self, r: Result<paper::Paper, String>) {
        let r = r.map(|p| {
            self.papers.pages = p.pages;
            self.keep_picture(PREVIEW, p.preview);
            if let Some(s) = self.session.as_mut() {
                s.keep(PDF, p.pdf);
            }
        });
        self.step(kiosk::Input::Papers(papers::Input::Opened(r)));
    }

    /// A paper printed: counted; a licence's print recorded in the journal for the centre, and
    /// its count on screen goes up for this session.
    pub(super) fn paper_printed(&mut self, at: usize, r: Result<(), PrintProblem>) {
        if r.is_ok() {
            self.papers.printed += 1;
            if self.papers.proof.is_none() {
                self.record_licence_print(at);
            }
        }
        self.step(kiosk::Input::Papers(papers::Input::Printed(r)));
    }

    fn record_licence_print(&mut self, at: usize) {
        let Some(holder) = self.holder().map(|(h, ..)| h) else {
            return;
        };
        let Some(l) = self.papers.licences.get_mut(at) else {
            return;
        };
        l.printed = l.printed.saturating_add(1);
        let journal = &self.cfg.journal;
        let print = LicencePrint {
            device_id: journal.lock().device_id().to_string(),
            licence_id: l.licence_id.clone(),
            holder_sha256: holder,
            printed_at: self.cfg.runtime.events.now().to_rfc3339(),
        };
        let record = paper::print_record(&print, &l.licence_type);
        if let Err(e) = journal
            .lock()
            .transaction(|tx| tx.enqueue("licence.printed", record))
        {
            // The paper is out; only the count at the centre misses this one.
            tracing::warn!(error = %e, "the licence print was not recorded");
        }
    }
}

/// What the papers screens show.
#[derive(Debug, Clone, PartialEq)]
pub struct PapersView {
    pub proof: bool,
    /// The proof item's name (empty for the licences).
    pub item: crate::services::catalogue::Text,
    pub licences: Vec<LicenceLine>,
    /// The paper on screen: its title, pages, how often printed before (licences).
    pub title: String,
    pub title_en: String,
    pub pages: usize,
    pub printed_before: u32,
    pub preview: Option<super::Picture>,
    pub months: Vec<u32>,
    /// The identified citizen, masked.
    pub citizen: String,
}

/// A licence in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenceLine {
    pub name: String,
    pub name_en: String,
    pub issuer: String,
    pub issued_on: String,
    pub printed: u32,
}

impl Worker {
    pub(super) fn papers_view(&self) -> Option<PapersView> {
        let super::Screen::Papers(stage) = &self.kiosk.screen else {
            return None;
        };
        let open = match stage {
            papers::Stage::Opening { at }
            | papers::Stage::Preview { at, .. }
            | papers::Stage::Printing { at }
            | papers::Stage::Problem { at: Some(at), .. } => Some(*at),
            _ => None,
        };
        let licence = open.and_then(|at| self.papers.licences.get(at));
        let (title, title_en) = match (&self.papers.proof, licence) {
            (Some(p), _) => (p.data.title.clone(), p.data.title_en.clone()),
            (None, Some(l)) => (l.name.clone(), l.name_en.clone()),
            _ => Default::default(),
        };
        Some(PapersView {
            proof: self.papers.order.is_some(),
            item: self
                .papers
                .order
                .as_ref()
                .map(|o| o.item_name.clone())
                .unwrap_or_default(),
            licences: self
                .papers
                .licences
                .iter()
                .map(|l| LicenceLine {
                    name: l.name.clone(),
                    name_en: l.name_en.clone(),
                    issuer: l.issuer.clone(),
                    issued_on: l.issued_on.clone(),
                    printed: l.printed,
                })
                .collect(),
            title,
            title_en,
            pages: self.papers.pages,
            // The paper on screen was made before this print: it says the count then.
            printed_before: licence.map_or(0, |l| l.printed),
            preview: self.picture(PREVIEW),
            months: self
                .papers
                .order
                .as_ref()
                .map(|o| o.months.clone())
                .unwrap_or_default(),
            citizen: self
                .session
                .as_ref()
                .and_then(|s| s.citizen())
                .map(|(c, _)| kiosk_hal::privacy::mask_name(&c.name))
                .unwrap_or_default(),
        })
    }
}

/// What the look-up found.
pub(super) enum Found {
    Licences(Vec<Licence>),
    Proof(Box<Proof>),
}
