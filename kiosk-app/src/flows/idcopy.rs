//! ID card copy (身份证复印), as a pure state machine: the citizen identifies (card and face or
//! fingerprint, or e-ID), lays the card's front and then its back on the document camera's
//! plate, picks what the copy may be used for (the watermark across both sides, 仅供……使用，
//! 他用无效), sees the A4 page and prints it on the A4 printer.
//!
//! Printing only follows identification: a copy of someone else's card needs that person. The
//! state holds no pictures; the session does, and drops them when the journey ends.

use super::identify::{self, CardFacts};
use super::rating::{self, Level};
use crate::services::guide::Module;
use crate::services::queue::PrintProblem;

/// The copy's use when the citizen typed it ("仅供……使用，他用无效" around their words)
/// instead of choosing one the hall offers.
pub const TYPED: usize = usize::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Front,
    Back,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Front => "front",
            Side::Back => "back",
        }
    }
}

/// Why a side could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureProblem {
    /// No card-shaped object on the plate (or it lies across the edge).
    NoCard,
    /// The camera did not answer.
    Camera(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No document camera or no A4 printer on this terminal now.
    Unavailable,
    /// The page could not be made from the two photos.
    Compose(String),
    Print(PrintProblem),
}

impl Problem {
    pub fn code(&self) -> String {
        match self {
            Problem::Unavailable => "unavailable".into(),
            Problem::Compose(_) => "compose".into(),
            Problem::Print(p) => p.code().into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Identifying the citizen first.
    Login(identify::Stage),
    /// "Lay the front (back) of your card on the plate"; the last try's problem, if any.
    Place {
        side: Side,
        problem: Option<CaptureProblem>,
    },
    Capturing {
        side: Side,
    },
    /// Which use the copy is for (the watermark).
    Purpose,
    /// The citizen types the use on the on-screen keyboard (pinyin).
    TypeUse,
    Composing {
        purpose: usize,
    },
    /// The A4 page as it will print.
    Preview {
        purpose: usize,
    },
    Printing {
        purpose: usize,
    },
    /// "Take your copy from the printer", and how was the service.
    Printed,
    /// Rating the service (好差评), once.
    Rating(rating::Stage),
    Problem {
        problem: Problem,
        purpose: Option<usize>,
    },
}

impl Stage {
    pub fn screen(&self) -> &'static str {
        match self {
            Stage::Login(s) => s.screen(),
            Stage::Place { .. } => "idcopy-place",
            Stage::Capturing { .. } => "idcopy-capturing",
            Stage::Purpose => "idcopy-purpose",
            Stage::TypeUse => "idcopy-type-use",
            Stage::Composing { .. } => "idcopy-composing",
            Stage::Preview { .. } => "idcopy-preview",
            Stage::Printing { .. } => "idcopy-printing",
            Stage::Printed => "idcopy-printed",
            Stage::Rating(s) => s.screen(),
            Stage::Problem { .. } => "idcopy-problem",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Login(identify::Input),
    Capture,
    Captured(Result<(), CaptureProblem>),
    Purpose(usize),
    /// "Another use…": type it.
    TypeUse,
    /// The typed use is complete (the host sends it only with words typed).
    UseTyped,
    Composed(Result<(), String>),
    Print,
    Printed(Result<(), PrintProblem>),
    /// A level touched on the last screen.
    Rate(Level),
    Rating(rating::Input),
    Back,
    Retry,
    Done,
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Login(identify::Effect),
    Light(Module, bool),
    /// Photograph the plate and keep the card's `side` in the session.
    Capture(Side),
    /// Drop the session's photo of `side` (it is to be taken again).
    Drop(Side),
    /// The on-screen keyboard starts (a fresh text) or stops (the text is kept).
    StartTyping,
    StopTyping,
    /// Make the A4 page from the two sides with the watermark of `purpose`.
    Compose {
        purpose: usize,
    },
    /// Print the page made last, two-phase.
    Print {
        purpose: usize,
    },
    Rating(rating::Effect),
    Finish(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Printed,
    NotPrinted { problem: String },
    Left,
}

#[derive(Debug, Clone)]
pub struct Context {
    pub login: identify::Context,
    /// What the card read told the login.
    pub card: CardFacts,
    /// A document camera and an A4 printer are held by the session.
    pub devices: bool,
    /// How many uses the hall offers for the watermark.
    pub purposes: usize,
    /// The catalogue's rating tags, for the satisfied and the unsatisfied levels.
    pub satisfied_tags: Vec<String>,
    pub unsatisfied_tags: Vec<String>,
}

pub fn start(ctx: &Context) -> (Stage, Vec<Effect>) {
    if !ctx.devices {
        return (
            Stage::Problem {
                problem: Problem::Unavailable,
                purpose: None,
            },
            Vec::new(),
        );
    }
    let (s, fx) = identify::start(&ctx.login);
    login(s, fx)
}

fn login(stage: identify::Stage, fx: Vec<identify::Effect>) -> (Stage, Vec<Effect>) {
    let (mut out, ended) = identify::wrap(fx, Effect::Login);
    match ended {
        Some(identify::Ended::Identified) => {
            out.push(Effect::Light(Module::Camera, true));
            (place(Side::Front, None), out)
        }
        Some(identify::Ended::Left) => {
            out.push(Effect::Finish(Outcome::Left));
            (Stage::Login(stage), out)
        }
        Some(identify::Ended::NotIdentified(problem)) => {
            out.push(Effect::Finish(Outcome::NotPrinted { problem }));
            (Stage::Login(stage), out)
        }
        None => (Stage::Login(stage), out),
    }
}

fn place(side: Side, problem: Option<CaptureProblem>) -> Stage {
    Stage::Place { side, problem }
}

fn finish(outcome: Outcome) -> Vec<Effect> {
    vec![
        Effect::StopTyping,
        Effect::Light(Module::Camera, false),
        Effect::Light(Module::Printer, false),
        Effect::Drop(Side::Front),
        Effect::Drop(Side::Back),
        Effect::Finish(outcome),
    ]
}

pub fn step(stage: &Stage, input: Input, ctx: &Context) -> (Stage, Vec<Effect>) {
    let unchanged = || (stage.clone(), Vec::new());
    match (stage, input) {
        (Stage::Login(s), Input::Cancel) => {
            let (s, fx) = identify::step(s, identify::Input::Cancel, &ctx.login, ctx.card);
            login(s, fx)
        }
        (Stage::Login(s), Input::Login(i)) => {
            let (s, fx) = identify::step(s, i, &ctx.login, ctx.card);
            login(s, fx)
        }
        (Stage::Login(s), Input::Back) => {
            let (s, fx) = identify::step(s, identify::Input::Back, &ctx.login, ctx.card);
            login(s, fx)
        }
        (Stage::Login(s), Input::Retry) => {
            let (s, fx) = identify::step(s, identify::Input::Retry, &ctx.login, ctx.card);
            login(s, fx)
        }
        (_, Input::Cancel) => (stage.clone(), finish(Outcome::Left)),

        (Stage::Place { side, .. }, Input::Capture) => (
            Stage::Capturing { side: *side },
            vec![Effect::Capture(*side)],
        ),
        (
            Stage::Place {
                side: Side::Front, ..
            },
            Input::Back,
        ) => (stage.clone(), finish(Outcome::Left)),
        (
            Stage::Place {
                side: Side::Back, ..
            },
            Input::Back,
        ) => (place(Side::Front, None), vec![Effect::Drop(Side::Front)]),
        (Stage::Capturing { side }, Input::Captured(result)) => match (side, result) {
            (Side::Front, Ok(())) => (place(Side::Back, None), Vec::new()),
            (Side::Back, Ok(())) => (Stage::Purpose, vec![Effect::Light(Module::Camera, false)]),
            (side, Err(p)) => (place(*side, Some(p)), Vec::new()),
        },
        (Stage::Purpose, Input::Purpose(i)) if i < ctx.purposes => (
            Stage::Composing { purpose: i },
            vec![Effect::Compose { purpose: i }],
        ),
        (Stage::Purpose, Input::TypeUse) => (Stage::TypeUse, vec![Effect::StartTyping]),
        (Stage::TypeUse, Input::UseTyped) => (
            Stage::Composing { purpose: TYPED },
            vec![Effect::StopTyping, Effect::Compose { purpose: TYPED }],
        ),
        (Stage::TypeUse, Input::Back) => (Stage::Purpose, vec![Effect::StopTyping]),
        (Stage::Purpose, Input::Back) => (
            place(Side::Back, None),
            vec![
                Effect::Drop(Side::Back),
                Effect::Light(Module::Camera, true),
            ],
        ),
        (Stage::Composing { purpose }, Input::Composed(result)) => match result {
            Ok(()) => (Stage::Preview { purpose: *purpose }, Vec::new()),
            Err(why) => (
                Stage::Problem {
                    problem: Problem::Compose(why),
                    purpose: None,
                },
                Vec::new(),
            ),
        },
        (Stage::Preview { purpose }, Input::Print) => print(*purpose),
        (Stage::Preview { .. }, Input::Back) => (Stage::Purpose, Vec::new()),
        (Stage::Printing { purpose }, Input::Printed(result)) => match result {
            // The copy is out: the photos and the page go now, not when the citizen leaves.
            Ok(()) => (
                Stage::Printed,
                vec![
                    Effect::Light(Module::Printer, false),
                    Effect::Drop(Side::Front),
                    Effect::Drop(Side::Back),
                ],
            ),
            Err(p) => (
                Stage::Problem {
                    problem: Problem::Print(p),
                    purpose: Some(*purpose),
                },
                vec![Effect::Light(Module::Printer, false)],
            ),
        },
        (Stage::Printed, Input::Done | Input::Back) => (stage.clone(), finish(Outcome::Printed)),
        (Stage::Printed, Input::Rate(level)) => (Stage::Rating(rating::start(level)), Vec::new()),
        (Stage::Rating(r), input @ (Input::Rating(_) | Input::Back | Input::Done)) => {
            let i = match input {
                Input::Rating(i) => i,
                Input::Back => rating::Input::Back,
                _ => rating::Input::Done,
            };
            let rctx = rating::Context {
                satisfied_tags: &ctx.satisfied_tags,
                unsatisfied_tags: &ctx.unsatisfied_tags,
            };
            match rating::step(r, i, &rctx) {
                Some((s, fx)) => (
                    Stage::Rating(s),
                    fx.into_iter().map(Effect::Rating).collect(),
                ),
                // Rated: the journey is done. Left before rating: the last screen again.
                None if *r == rating::Stage::Thanks => (stage.clone(), finish(Outcome::Printed)),
                None => (Stage::Printed, Vec::new()),
            }
        }
        (
            Stage::Problem {
                problem: Problem::Print(_),
                purpose: Some(p),
            },
            Input::Retry,
        ) => print(*p),
        (
            Stage::Problem {
                problem: Problem::Compose(_),
                ..
            },
            Input::Retry,
        ) => (
            place(Side::Front, None),
            vec![
                Effect::Drop(Side::Front),
                Effect::Drop(Side::Back),
                Effect::Light(Module::Camera, true),
            ],
        ),
        (Stage::Problem { problem, .. }, Input::Back | Input::Done) => (
            stage.clone(),
            finish(Outcome::NotPrinted {
                problem: problem.code(),
            }),
        ),
        _ => unchanged(),
    }
}

fn print(purpose: usize) -> (Stage, Vec<Effect>) {
    (
        Stage::Printing { purpose },
        vec![
            Effect::Light(Module::Printer, true),
            Effect::Print { purpose },
        ],
    )
}

#[cfg(test)]
#[path = "idcopy_tests.rs"]
mod tests;
