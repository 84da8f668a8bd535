//! Applying for a service item (办事申请) at the terminal, as a pure state machine. The citizen
//! found the item and answered its situation questions in the guide, so the forms and
//! materials are known when this starts:
//!
//! login → the form, one field per screen (prefilled from the card, checked as it is
//! confirmed) → how the result is collected (window, post with an address, locker) → each
//! material photographed page by page on the document camera → review → signature on the
//! screen → submitted (one journal transaction; the centre's case number, or a local
//! reference when the centre is away) → receipt → rating.
//!
//! The state holds no personal data: field values, pages, the signature and the query
//! password live in the session and go with it.

use kiosk_protocol::cases::Pickup;

use super::identify::{self, CardFacts};
use super::query::LookupProblem;
use super::rating::{self, Level};
use crate::services::catalogue::FieldError;
use crate::services::guide::Module;
use crate::services::queue::PrintProblem;

/// Why a page could not be taken.
pub use super::idcopy::CaptureProblem;

/// A form field as the flow needs it: how many options it offers (0: typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldShape {
    pub options: usize,
}

/// A material photographed on the document camera: how many pages it takes, and how many
/// the session holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagesWanted {
    pub min: u32,
    pub max: u32,
    pub have: u32,
}

impl PagesWanted {
    pub fn enough(&self) -> bool {
        self.have >= self.min.max(1)
    }

    pub fn room(&self) -> bool {
        self.have < self.max.max(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignProblem {
    /// Too little ink to be a signature (a dot, a short line).
    TooLittle,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No document camera, or no reader and e-ID scanner, on this terminal now.
    Unavailable,
    /// The answers ask for a material this terminal cannot take (an e-licence, or one for a
    /// window): the citizen is told where to go instead.
    NotHere,
    /// Nothing was filed: the application could not be written to the journal.
    Submit(String),
    /// The receipt did not print (the application stands).
    Print(PrintProblem),
    /// The licence library cannot be reached for the e-licence materials.
    LicencesAway,
}

impl Problem {
    pub fn code(&self) -> String {
        match self {
            Problem::Unavailable => "unavailable".into(),
            Problem::NotHere => "not-here".into(),
            Problem::Submit(_) => "submit".into(),
            Problem::Print(p) => p.code().into(),
            Problem::LicencesAway => "licences-away".into(),
        }
    }
}

/// What the terminal got for a filed application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    /// The terminal's reference (what the receipt shows until the number is known).
    pub local_ref: String,
    /// The centre's case number (办件编号), when it answered.
    pub case_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Login(identify::Stage),
    /// Field `at` of the form; the last confirmation's problem, if any.
    Form {
        at: usize,
        problem: Option<FieldError>,
    },
    /// How the result is collected.
    Pickup,
    /// The postal address, typed (only for pick-up by post).
    Address {
        problem: Option<FieldError>,
    },
    /// The pages of capture material `at` so far, with the last capture's problem.
    Pages {
        at: usize,
        problem: Option<CaptureProblem>,
    },
    Capturing {
        at: usize,
    },
    /// The citizen's e-licences (电子证照) the answers ask for, fetched from the licence
    /// library.
    FetchingLicences,
    /// The e-licences found for the materials (taken into the application), or which are
    /// missing.
    Licences,
    /// Everything at a glance before signing.
    Review,
    Sign {
        problem: Option<SignProblem>,
    },
    /// Making the application PDF, sealing it with the pages, filing it, asking the centre.
    Submitting,
    /// Filed: the number (or reference) and password on screen; the receipt printed or not.
    Submitted {
        filed: Filed,
        printed: bool,
    },
    PrintingReceipt {
        filed: Filed,
    },
    Rating {
        filed: Filed,
        stage: rating::Stage,
    },
    Problem {
        problem: Problem,
        filed: Option<Filed>,
    },
}

impl Stage {
    pub fn screen(&self) -> &'static str {
        match self {
            Stage::Login(s) => s.screen(),
            Stage::Form { .. } => "apply-form",
            Stage::Pickup => "apply-pickup",
            Stage::Address { .. } => "apply-address",
            Stage::Pages { .. } => "apply-pages",
            Stage::Capturing { .. } => "apply-capturing",
            Stage::FetchingLicences => "apply-fetching-licences",
            Stage::Licences => "apply-licences",
            Stage::Review => "apply-review",
            Stage::Sign { .. } => "apply-sign",
            Stage::Submitting => "apply-submitting",
            Stage::Submitted { .. } => "apply-submitted",
            Stage::PrintingReceipt { .. } => "apply-printing",
            Stage::Rating { stage, .. } => stage.screen(),
            Stage::Problem { .. } => "apply-problem",
        }
    }

    /// The terminal is working; the citizen waits.
    pub fn waits(&self) -> bool {
        matches!(
            self,
            Stage::Capturing { .. }
                | Stage::FetchingLicences
                | Stage::Submitting
                | Stage::PrintingReceipt { .. }
                | Stage::Login(identify::Stage::Face { .. })
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Login(identify::Input),
    /// An option of a choice field, or a pick-up way, touched.
    Choose(usize),
    /// The host checked the field (or address) just confirmed.
    FieldChecked(Result<(), FieldError>),
    Capture,
    /// A page was taken (and kept in the session), or not.
    Captured(Result<(), CaptureProblem>),
    /// Page `page` of the material showing is deleted.
    DeletePage(usize),
    /// The citizen's e-licences arrived (the host matched them to the materials), or not.
    LicencesFound(Result<(), LookupProblem>),
    /// The host checked the ink on the pad.
    SignChecked(Result<(), SignProblem>),
    /// "Clear" on the signature pad.
    ClearSignature,
    /// A stroke landed on the pad (the host keeps it): an earlier "too little" goes.
    Inked,
    Submitted(Result<Filed, String>),
    Print,
    Printed(Result<(), PrintProblem>),
    Rate(Level),
    Rating(rating::Input),
    Next,
    Back,
    Retry,
    Done,
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Login(identify::Effect),
    Light(Module, bool),
    /// The keyboard for field `at` starts with its value so far (prefilled or typed before).
    EditField {
        at: usize,
    },
    /// Check the text on the keyboard for field `at` and keep it; answer `FieldChecked`.
    CheckField {
        at: usize,
    },
    /// Keep option `option` for choice field `at`; answer `FieldChecked`.
    ChooseOption {
        at: usize,
        option: usize,
    },
    EditAddress,
    CheckAddress,
    StopTyping,
    /// Photograph a page for capture material `at`; answer `Captured`.
    Capture {
        at: usize,
    },
    DeletePage {
        at: usize,
        page: usize,
    },
    /// Fetch the identified citizen's e-licences for the e-licence materials; answer
    /// `LicencesFound`.
    FetchLicences,
    /// The signature pad starts empty.
    ClearSignature,
    /// Check the ink on the pad; answer `SignChecked`.
    CheckSignature,
    /// How the result is collected, kept for the filing.
    KeepPickup(Pickup),
    /// File the application: PDF, sealed attachments, one journal transaction, the centre.
    Submit,
    PrintReceipt {
        filed: Filed,
    },
    Rating(rating::Effect),
    Finish(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Filed { local_ref: String },
    NotFiled { problem: String },
    Left,
}

#[derive(Debug, Clone)]
pub struct Context {
    pub login: identify::Context,
    pub card: CardFacts,
    pub fields: Vec<FieldShape>,
    pub pickups: Vec<Pickup>,
    pub captures: Vec<PagesWanted>,
    /// A document camera is held when there are pages to take.
    pub devices: bool,
    /// The answers need something this terminal cannot take.
    pub not_here: bool,
    /// The answers ask for e-licences from the citizen's licence list.
    pub licences: bool,
    /// Every required e-licence was found (after the fetch).
    pub licences_ready: bool,
    pub satisfied_tags: Vec<String>,
    pub unsatisfied_tags: Vec<String>,
}

pub fn start(ctx: &Context) -> (Stage, Vec<Effect>) {
    let problem = if ctx.not_here {
        Some(Problem::NotHere)
    } else if !ctx.devices || ctx.pickups.is_empty() {
        Some(Problem::Unavailable)
    } else {
        None
    };
    if let Some(problem) = problem {
        return (
            Stage::Problem {
                problem,
                filed: None,
            },
            Vec::new(),
        );
    }
    let (s, fx) = identify::start(&ctx.login);
    login(s, fx, ctx)
}

fn login(stage: identify::Stage, fx: Vec<identify::Effect>, ctx: &Context) -> (Stage, Vec<Effect>) {
    let (mut out, ended) = identify::wrap(fx, Effect::Login);
    match ended {
        Some(identify::Ended::Identified) => {
            let (s, more) = first_field(ctx);
            out.extend(more);
            (s, out)
        }
        Some(identify::Ended::Left) => {
            out.push(Effect::Finish(Outcome::Left));
            (Stage::Login(stage), out)
        }
        Some(identify::Ended::NotIdentified(problem)) => {
            out.push(Effect::Finish(Outcome::NotFiled { problem }));
            (Stage::Login(stage), out)
        }
        None => (Stage::Login(stage), out),
    }
}

fn first_field(ctx: &Context) -> (Stage, Vec<Effect>) {
    if ctx.fields.is_empty() {
        (Stage::Pickup, Vec::new())
    } else {
        field(0, ctx)
    }
}

fn field(at: usize, ctx: &Context) -> (Stage, Vec<Effect>) {
    let fx = if ctx.fields[at].options == 0 {
        vec![Effect::EditField { at }]
    } else {
        vec![Effect::StopTyping]
    };
    (Stage::Form { at, problem: None }, fx)
}

fn pages(at: usize) -> (Stage, Vec<Effect>) {
    (
        Stage::Pages { at, problem: None },
        vec![Effect::Light(Module::Camera, true)],
    )
}

/// After the pages (or the pick-up when there are none): the e-licences, or the review.
fn after_pages(ctx: &Context) -> (Stage, Vec<Effect>) {
    let mut fx = vec![Effect::Light(Module::Camera, false)];
    if ctx.licences {
        fx.push(Effect::FetchLicences);
        (Stage::FetchingLicences, fx)
    } else {
        (Stage::Review, fx)
    }
}

/// Back from the e-licences or the review: the last material's pages, or the pick-up.
fn before_licences(ctx: &Context) -> (Stage, Vec<Effect>) {
    if ctx.captures.is_empty() {
        (Stage::Pickup, Vec::new())
    } else {
        pages(ctx.captures.len() - 1)
    }
}

/// After the pick-up: the first material's pages, or what follows them.
fn after_pickup(ctx: &Context) -> (Stage, Vec<Effect>) {
    if ctx.captures.is_empty() {
        let (s, mut fx) = after_pages(ctx);
        fx.insert(0, Effect::StopTyping);
        (s, fx)
    } else {
        let (s, mut fx) = pages(0);
        fx.insert(0, Effect::StopTyping);
        (s, fx)
    }
}

fn finish(outcome: Outcome) -> Vec<Effect> {
    vec![
        Effect::StopTyping,
        Effect::Light(Module::Camera, false),
        Effect::Light(Module::Printer, false),
        Effect::Finish(outcome),
    ]
}

fn filed_outcome(filed: &Filed) -> Outcome {
    Outcome::Filed {
        local_ref: filed.local_ref.clone(),
    }
}

pub fn step(stage: &Stage, input: Input, ctx: &Context) -> (Stage, Vec<Effect>) {
    let unchanged = || (stage.clone(), Vec::new());
    match (stage, input) {
        (Stage::Login(s), i @ (Input::Login(_) | Input::Cancel | Input::Back | Input::Retry)) => {
            let i = match i {
                Input::Login(i) => i,
                Input::Cancel => identify::Input::Cancel,
                Input::Back => identify::Input::Back,
                _ => identify::Input::Retry,
            };
            let (s, fx) = identify::step(s, i, &ctx.login, ctx.card);
            login(s, fx, ctx)
        }
        // Once filed, leaving is finishing: the application stands.
        (
            Stage::Submitted { filed, .. }
            | Stage::PrintingReceipt { filed }
            | Stage::Rating { filed, .. }
            | Stage::Problem {
                filed: Some(filed), ..
            },
            Input::Cancel,
        ) => (stage.clone(), finish(filed_outcome(filed))),
        (_, Input::Cancel) => (stage.clone(), finish(Outcome::Left)),

        // The form, one field at a time.
        (Stage::Form { at, .. }, Input::Next) => {
            (stage.clone(), vec![Effect::CheckField { at: *at }])
        }
        (Stage::Form { at, .. }, Input::Choose(option))
            if option < ctx.fields.get(*at).map_or(0, |f| f.options) =>
        {
            (
                stage.clone(),
                vec![Effect::ChooseOption { at: *at, option }],
            )
        }
        (Stage::Form { at, .. }, Input::FieldChecked(result)) => match result {
            Ok(()) if at + 1 < ctx.fields.len() => field(at + 1, ctx),
            Ok(()) => (Stage::Pickup, vec![Effect::StopTyping]),
            Err(e) => (
                Stage::Form {
                    at: *at,
                    problem: Some(e),
                },
                Vec::new(),
            ),
        },
        (Stage::Form { at: 0, .. }, Input::Back) => (stage.clone(), finish(Outcome::Left)),
        (Stage::Form { at, .. }, Input::Back) => field(at - 1, ctx),

        // How the result is collected.
        (Stage::Pickup, Input::Choose(i)) => match ctx.pickups.get(i).copied() {
            Some(Pickup::Mail) => (
                Stage::Address { problem: None },
                vec![Effect::KeepPickup(Pickup::Mail), Effect::EditAddress],
            ),
            Some(p) => {
                let (s, mut fx) = after_pickup(ctx);
                fx.insert(0, Effect::KeepPickup(p));
                (s, fx)
            }
            None => unchanged(),
        },
        (Stage::Pickup, Input::Back) if ctx.fields.is_empty() => {
            (stage.clone(), finish(Outcome::Left))
        }
        (Stage::Pickup, Input::Back) => field(ctx.fields.len() - 1, ctx),
        (Stage::Address { .. }, Input::Next) => (stage.clone(), vec![Effect::CheckAddress]),
        (Stage::Address { .. }, Input::FieldChecked(result)) => match result {
            Ok(()) => after_pickup(ctx),
            Err(e) => (Stage::Address { problem: Some(e) }, Vec::new()),
        },
        (Stage::Address { .. }, Input::Back) => (Stage::Pickup, vec![Effect::StopTyping]),

        // The materials, page by page.
        (Stage::Pages { at, .. }, Input::Capture) if ctx.captures[*at].room() => (
            Stage::Capturing { at: *at },
            vec![Effect::Capture { at: *at }],
        ),
        (Stage::Capturing { at }, Input::Captured(result)) => (
            Stage::Pages {
                at: *at,
                problem: result.err(),
            },
            Vec::new(),
        ),
        (Stage::Pages { at, .. }, Input::DeletePage(page))
            if page < ctx.captures[*at].have as usize =>
        {
            (
                Stage::Pages {
                    at: *at,
                    problem: None,
                },
                vec![Effect::DeletePage { at: *at, page }],
            )
        }
        (Stage::Pages { at, .. }, Input::Next) if !ctx.captures[*at].enough() => unchanged(),
        (Stage::Pages { at, .. }, Input::Next) if at + 1 < ctx.captures.len() => pages(at + 1),
        (Stage::Pages { .. }, Input::Next) => after_pages(ctx),
        (Stage::Pages { at: 0, .. }, Input::Back) => {
            (Stage::Pickup, vec![Effect::Light(Module::Camera, false)])
        }
        (Stage::Pages { at, .. }, Input::Back) => pages(at - 1),

        (Stage::Review, Input::Next) => {
            (Stage::Sign { problem: None }, vec![Effect::ClearSignature])
        }
        // The e-licences: taken when every required one was found; otherwise the screen says
        // which are missing and the citizen goes to a window with them.
        (Stage::FetchingLicences, Input::LicencesFound(Ok(()))) => (Stage::Licences, Vec::new()),
        (Stage::FetchingLicences, Input::LicencesFound(Err(LookupProblem::NotFound))) => {
            (Stage::Licences, Vec::new())
        }
        (Stage::FetchingLicences, Input::LicencesFound(Err(LookupProblem::CentreAway))) => (
            Stage::Problem {
                problem: Problem::LicencesAway,
                filed: None,
            },
            Vec::new(),
        ),
        (Stage::Licences, Input::Next) if ctx.licences_ready => (Stage::Review, Vec::new()),
        (Stage::Licences, Input::Done) if !ctx.licences_ready => (
            stage.clone(),
            finish(Outcome::NotFiled {
                problem: "licence-missing".into(),
            }),
        ),
        (Stage::Licences, Input::Back) => before_licences(ctx),
        (
            Stage::Problem {
                problem: Problem::LicencesAway,
                ..
            },
            Input::Retry,
        ) => (Stage::FetchingLicences, vec![Effect::FetchLicences]),
        (
            Stage::Problem {
                problem: Problem::LicencesAway,
                ..
            },
            Input::Back,
        ) => before_licences(ctx),

        (Stage::Review, Input::Back) if ctx.licences => (Stage::Licences, Vec::new()),
        (Stage::Review, Input::Back) => before_licences(ctx),

        (Stage::Sign { .. }, Input::ClearSignature) => {
            (Stage::Sign { problem: None }, vec![Effect::ClearSignature])
        }
        (Stage::Sign { .. }, Input::Inked) => (Stage::Sign { problem: None }, Vec::new()),
        (Stage::Sign { .. }, Input::Next) => (stage.clone(), vec![Effect::CheckSignature]),
        (Stage::Sign { .. }, Input::SignChecked(result)) => match result {
            Ok(()) => (Stage::Submitting, vec![Effect::Submit]),
            Err(p) => (Stage::Sign { problem: Some(p) }, Vec::new()),
        },
        (Stage::Sign { .. }, Input::Back) => (Stage::Review, Vec::new()),

        (Stage::Submitting, Input::Submitted(result)) => match result {
            Ok(filed) => (
                Stage::Submitted {
                    filed,
                    printed: false,
                },
                Vec::new(),
            ),
            Err(why) => (
                Stage::Problem {
                    problem: Problem::Submit(why),
                    filed: None,
                },
                Vec::new(),
            ),
        },
        (Stage::Submitted { filed, .. }, Input::Print) => print(filed),
        (Stage::PrintingReceipt { filed }, Input::Printed(result)) => match result {
            Ok(()) => (
                Stage::Submitted {
                    filed: filed.clone(),
                    printed: true,
                },
                vec![Effect::Light(Module::Printer, false)],
            ),
            Err(p) => (
                Stage::Problem {
                    problem: Problem::Print(p),
                    filed: Some(filed.clone()),
                },
                vec![Effect::Light(Module::Printer, false)],
            ),
        },
        (Stage::Submitted { filed, .. }, Input::Done | Input::Back) => {
            (stage.clone(), finish(filed_outcome(filed)))
        }
        (Stage::Submitted { filed, .. }, Input::Rate(level)) => (
            Stage::Rating {
                filed: filed.clone(),
                stage: rating::start(level),
            },
            Vec::new(),
        ),
        (
            Stage::Rating { filed, stage: r },
            input @ (Input::Rating(_) | Input::Back | Input::Done | Input::Next),
        ) => {
            let i = match input {
                Input::Rating(i) => i,
                Input::Back => rating::Input::Back,
                Input::Next => rating::Input::Next,
                _ => rating::Input::Done,
            };
            let rctx = rating::Context {
                satisfied_tags: &ctx.satisfied_tags,
                unsatisfied_tags: &ctx.unsatisfied_tags,
            };
            match rating::step(r, i, &rctx) {
                Some((s, fx)) => (
                    Stage::Rating {
                        filed: filed.clone(),
                        stage: s,
                    },
                    fx.into_iter().map(Effect::Rating).collect(),
                ),
                None if *r == rating::Stage::Thanks => {
                    (stage.clone(), finish(filed_outcome(filed)))
                }
                None => (
                    Stage::Submitted {
                        filed: filed.clone(),
                        printed: false,
                    },
                    Vec::new(),
                ),
            }
        }
        (
            Stage::Problem {
                problem: Problem::Print(_),
                filed: Some(filed),
            },
            Input::Retry,
        ) => print(filed),
        (
            Stage::Problem {
                problem: Problem::Print(_),
                filed: Some(filed),
            },
            Input::Back,
        ) => (
            Stage::Submitted {
                filed: filed.clone(),
                printed: false,
            },
            Vec::new(),
        ),
        (
            Stage::Problem {
                problem: Problem::Submit(_),
                ..
            },
            Input::Retry,
        ) => (Stage::Sign { problem: None }, vec![Effect::ClearSignature]),
        (Stage::Problem { problem, filed }, Input::Back | Input::Done) => {
            let outcome = match filed {
                Some(f) => filed_outcome(f),
                None => Outcome::NotFiled {
                    problem: problem.code(),
                },
            };
            (stage.clone(), finish(outcome))
        }
        _ => unchanged(),
    }
}

fn print(filed: &Filed) -> (Stage, Vec<Effect>) {
    (
        Stage::PrintingReceipt {
            filed: filed.clone(),
        },
        vec![
            Effect::Light(Module::Printer, true),
            Effect::PrintReceipt {
                filed: filed.clone(),
            },
        ],
    )
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
