//! Looking a case up (办件查询) as a pure state machine, the query-and-print journey's four
//! steps (登录 － 查询 － 打印 － 完成): with the ID card or e-ID the citizen sees all their cases;
//! without, a case by its number (or the terminal's reference) and query password. A case shows
//! its status and the department's log and comments, and prints as a progress slip.
//!
//! The cases themselves (the citizen's) are held by the host for the session; the state only
//! knows how many there are and which one is open.

use super::identify::{self, CardFacts};
use crate::services::guide::Module;
use crate::services::queue::PrintProblem;

/// The longest case number or reference the keypad takes.
pub const MAX_REFERENCE: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No case by that number and password (one answer for both).
    NotFound,
    /// The centre cannot be reached: cases live there.
    CentreAway,
    Print(PrintProblem),
}

impl Problem {
    pub fn code(&self) -> String {
        match self {
            Problem::NotFound => "not-found".into(),
            Problem::CentreAway => "centre-away".into(),
            Problem::Print(p) => p.code().into(),
        }
    }
}

/// Why a look-up gave no cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupProblem {
    NotFound,
    CentreAway,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// With the ID card, or with the case number and password.
    How,
    Login(identify::Stage),
    /// The case number (or reference) on the keypad.
    Number,
    /// The query password on the keypad.
    Password,
    Looking,
    /// The identified citizen's cases (`count` of them, newest first).
    List {
        count: usize,
    },
    /// Case `at` of those found, with its log.
    Detail {
        at: usize,
        printed: bool,
    },
    Printing {
        at: usize,
    },
    Problem {
        problem: Problem,
        at: Option<usize>,
    },
}

impl Stage {
    pub fn screen(&self) -> &'static str {
        match self {
            Stage::How => "query-how",
            Stage::Login(s) => s.screen(),
            Stage::Number => "query-number",
            Stage::Password => "query-password",
            Stage::Looking => "query-looking",
            Stage::List { .. } => "query-list",
            Stage::Detail { .. } => "query-detail",
            Stage::Printing { .. } => "query-printing",
            Stage::Problem { .. } => "query-problem",
        }
    }

    pub fn waits(&self) -> bool {
        matches!(
            self,
            Stage::Looking | Stage::Printing { .. } | Stage::Login(identify::Stage::Face { .. })
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// "With my ID card".
    ByCard,
    /// "With the case number and password".
    ByNumber,
    Login(identify::Input),
    /// The host checked there is something typed.
    Next,
    /// The look-up answered: how many cases.
    Found(Result<usize, LookupProblem>),
    Open(usize),
    Print,
    Printed(Result<(), PrintProblem>),
    Back,
    Retry,
    Done,
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Login(identify::Effect),
    Light(Module, bool),
    /// The keypad starts empty for the number, or for the password.
    StartTyping {
        password: bool,
    },
    /// Keep what is typed as the number (the password is kept when the look-up starts).
    KeepNumber,
    StopTyping,
    /// The identified citizen's cases from the centre.
    LookUpMine,
    /// The case by the number and password typed.
    LookUpByNumber,
    /// Print case `at`'s progress slip on the receipt printer, two-phase.
    Print {
        at: usize,
    },
    Finish(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Seen { printed: bool },
    NotSeen { problem: String },
    Left,
}

#[derive(Debug, Clone)]
pub struct Context {
    pub login: identify::Context,
    pub card: CardFacts,
    /// A receipt printer for the slip.
    pub can_print: bool,
    /// The session's citizen is confirmed: the cases are theirs, listed.
    pub identified: bool,
}

pub fn start(_ctx: &Context) -> (Stage, Vec<Effect>) {
    (Stage::How, Vec::new())
}

fn login(stage: identify::Stage, fx: Vec<identify::Effect>) -> (Stage, Vec<Effect>) {
    let (mut out, ended) = identify::wrap(fx, Effect::Login);
    match ended {
        Some(identify::Ended::Identified) => {
            out.push(Effect::LookUpMine);
            (Stage::Looking, out)
        }
        // Leaving the login goes back to the choice, not out of the journey.
        Some(identify::Ended::Left) => (Stage::How, out),
        Some(identify::Ended::NotIdentified(problem)) => {
            out.push(Effect::Finish(Outcome::NotSeen { problem }));
            (Stage::Login(stage), out)
        }
        None => (Stage::Login(stage), out),
    }
}

fn finish(outcome: Outcome) -> Vec<Effect> {
    vec![
        Effect::StopTyping,
        Effect::Light(Module::Printer, false),
        Effect::Finish(outcome),
    ]
}

fn seen(stage: &Stage) -> Outcome {
    match stage {
        Stage::Detail { printed, .. } => Outcome::Seen { printed: *printed },
        Stage::List { .. } => Outcome::Seen { printed: false },
        _ => Outcome::Left,
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
            let cancel = i == identify::Input::Cancel;
            let (s, fx) = identify::step(s, i, &ctx.login, ctx.card);
            let (s, mut fx) = login(s, fx);
            if cancel && s == Stage::How {
                fx.extend(finish(Outcome::Left));
            }
            (s, fx)
        }
        (Stage::Printing { .. }, Input::Cancel) => unchanged(),
        (_, Input::Cancel) => (stage.clone(), finish(seen(stage))),

        (Stage::How, Input::ByCard) => {
            let (s, fx) = identify::start(&ctx.login);
            login(s, fx)
        }
        (Stage::How, Input::ByNumber) => {
            (Stage::Number, vec![Effect::StartTyping { password: false }])
        }
        (Stage::How, Input::Back | Input::Done) => (stage.clone(), finish(Outcome::Left)),

        (Stage::Number, Input::Next) => (
            Stage::Password,
            vec![Effect::KeepNumber, Effect::StartTyping { password: true }],
        ),
        (Stage::Number, Input::Back) => (Stage::How, vec![Effect::StopTyping]),
        (Stage::Password, Input::Next) => (
            Stage::Looking,
            vec![Effect::LookUpByNumber, Effect::StopTyping],
        ),
        (Stage::Password, Input::Back) => {
            (Stage::Number, vec![Effect::StartTyping { password: false }])
        }

        (Stage::Looking, Input::Found(result)) => match result {
            Ok(0) => (Stage::List { count: 0 }, Vec::new()),
            // A look-up by number finds one case: it opens.
            Ok(1) if !ctx.identified => (
                Stage::Detail {
                    at: 0,
                    printed: false,
                },
                Vec::new(),
            ),
            Ok(n) => (Stage::List { count: n }, Vec::new()),
            Err(p) => (
                Stage::Problem {
                    problem: match p {
                        LookupProblem::NotFound => Problem::NotFound,
                        LookupProblem::CentreAway => Problem::CentreAway,
                    },
                    at: None,
                },
                Vec::new(),
            ),
        },
        (Stage::List { count }, Input::Open(at)) if at < *count => {
            (Stage::Detail { at, printed: false }, Vec::new())
        }
        (Stage::List { .. }, Input::Back | Input::Done) => {
            (stage.clone(), finish(Outcome::Seen { printed: false }))
        }
        (Stage::Detail { at, .. }, Input::Print) if ctx.can_print => print(*at),
        (Stage::Detail { .. }, Input::Done) => (stage.clone(), finish(seen(stage))),
        // Back from a case: the list when the citizen identified, else done.
        (Stage::Detail { .. }, Input::Back) if ctx.identified => {
            (Stage::Looking, vec![Effect::LookUpMine])
        }
        (Stage::Detail { .. }, Input::Back) => (stage.clone(), finish(seen(stage))),
        (Stage::Printing { at }, Input::Printed(result)) => match result {
            Ok(()) => (
                Stage::Detail {
                    at: *at,
                    printed: true,
                },
                vec![Effect::Light(Module::Printer, false)],
            ),
            Err(p) => (
                Stage::Problem {
                    problem: Problem::Print(p),
                    at: Some(*at),
                },
                vec![Effect::Light(Module::Printer, false)],
            ),
        },
        (
            Stage::Problem {
                problem: Problem::Print(_),
                at: Some(at),
            },
            Input::Retry,
        ) => print(*at),
        (
            Stage::Problem {
                problem: Problem::Print(_),
                at: Some(at),
            },
            Input::Back,
        ) => (
            Stage::Detail {
                at: *at,
                printed: false,
            },
            Vec::new(),
        ),
        (
            Stage::Problem {
                problem: Problem::NotFound,
                ..
            },
            Input::Retry | Input::Back,
        ) => (Stage::Number, vec![Effect::StartTyping { password: false }]),
        (
            Stage::Problem {
                problem: Problem::CentreAway,
                ..
            },
            Input::Retry,
        ) => (Stage::How, Vec::new()),
        (Stage::Problem { problem, .. }, Input::Back | Input::Done) => (
            stage.clone(),
            finish(Outcome::NotSeen {
                problem: problem.code(),
            }),
        ),
        _ => unchanged(),
    }
}

fn print(at: usize) -> (Stage, Vec<Effect>) {
    (
        Stage::Printing { at },
        vec![Effect::Light(Module::Printer, true), Effect::Print { at }],
    )
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
