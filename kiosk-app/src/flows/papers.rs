//! Printing the citizen's papers, as a pure state machine — the query-and-print journey's
//! steps (登录 － 查询 － 打印 － 完成) for two kinds of paper:
//!
//! - **my e-licences** (我的电子证照): the identified citizen's licences from the licence
//!   library, one opened as its A4 print-out with "printed N times before", printed;
//! - **a proof** (证明, from the guide's "Print here" on a proof item): the centre issues it
//!   from the department's data (for the records period chosen), the A4 paper with the
//!   issuer's seal and a verification QR is shown, printed.
//!
//! Printing only follows identification, on the A4 printer, two-phase. The papers themselves
//! are the host's, held for the session.

use super::identify::{self, CardFacts};
use super::query::LookupProblem;
use crate::services::guide::Module;
use crate::services::queue::PrintProblem;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No A4 printer on this terminal now.
    Unavailable,
    /// The citizen has no licence in the library, or the department no data for the proof.
    NoneFound,
    /// The centre cannot be reached: licences and proofs live there.
    CentreAway,
    /// The paper could not be made.
    Render(String),
    Print(PrintProblem),
}

impl Problem {
    pub fn code(&self) -> String {
        match self {
            Problem::Unavailable => "unavailable".into(),
            Problem::NoneFound => "none-found".into(),
            Problem::CentreAway => "centre-away".into(),
            Problem::Render(_) => "render".into(),
            Problem::Print(p) => p.code().into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Login(identify::Stage),
    /// How many months of records the proof lists.
    Months,
    /// The licences are fetched, or the proof is issued.
    Looking,
    /// The citizen's licences.
    List,
    /// Paper `at` is being made.
    Opening {
        at: usize,
    },
    /// Paper `at` as it will print; `printed` once it did.
    Preview {
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
            Stage::Login(s) => s.screen(),
            Stage::Months => "papers-months",
            Stage::Looking => "papers-looking",
            Stage::List => "papers-list",
            Stage::Opening { .. } => "papers-opening",
            Stage::Preview { .. } => "papers-preview",
            Stage::Printing { .. } => "papers-printing",
            Stage::Problem { .. } => "papers-problem",
        }
    }

    pub fn waits(&self) -> bool {
        matches!(
            self,
            Stage::Looking
                | Stage::Opening { .. }
                | Stage::Printing { .. }
                | Stage::Login(identify::Stage::Face { .. })
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Login(identify::Input),
    /// A records period touched (months).
    Months(u32),
    /// The licences arrived (how many), or the proof was issued (1).
    Found(Result<usize, LookupProblem>),
    Open(usize),
    Opened(Result<(), String>),
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
    /// Fetch the identified citizen's licences, or have the proof issued with `months` of
    /// records.
    LookUp {
        months: u32,
    },
    /// Make paper `at` (licence `at`, or the proof) and its preview.
    Render {
        at: usize,
    },
    /// Print paper `at` on the A4 printer, two-phase.
    Print {
        at: usize,
    },
    Finish(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Seen { printed: usize },
    NotSeen { problem: String },
    Left,
}

#[derive(Debug, Clone)]
pub struct Context {
    pub login: identify::Context,
    pub card: CardFacts,
    /// An A4 printer is held by the session.
    pub can_print: bool,
    /// The session's citizen is already identified (another journey did it).
    pub identified: bool,
    /// A proof rather than the licence list.
    pub proof: bool,
    /// The records periods offered for the proof, in months (empty: no records, no choice).
    pub months: Vec<u32>,
    /// How many licences the host holds.
    pub count: usize,
    /// Papers printed in this journey so far.
    pub printed: usize,
}

pub fn start(ctx: &Context) -> (Stage, Vec<Effect>) {
    if !ctx.can_print {
        return (
            Stage::Problem {
                problem: Problem::Unavailable,
                at: None,
            },
            Vec::new(),
        );
    }
    if ctx.identified {
        return identified(ctx, Vec::new());
    }
    let (s, fx) = identify::start(&ctx.login);
    login(s, fx, ctx)
}

fn identified(ctx: &Context, mut out: Vec<Effect>) -> (Stage, Vec<Effect>) {
    if ctx.proof && !ctx.months.is_empty() {
        return (Stage::Months, out);
    }
    out.push(Effect::LookUp { months: 0 });
    (Stage::Looking, out)
}

fn login(stage: identify::Stage, fx: Vec<identify::Effect>, ctx: &Context) -> (Stage, Vec<Effect>) {
    let (mut out, ended) = identify::wrap(fx, Effect::Login);
    match ended {
        Some(identify::Ended::Identified) => identified(ctx, out),
        Some(identify::Ended::Left) => {
            out.push(Effect::Finish(Outcome::Left));
            (Stage::Login(stage), out)
        }
        Some(identify::Ended::NotIdentified(problem)) => {
            out.push(Effect::Finish(Outcome::NotSeen { problem }));
            (Stage::Login(stage), out)
        }
        None => (Stage::Login(stage), out),
    }
}

fn finish(outcome: Outcome) -> Vec<Effect> {
    vec![
        Effect::Light(Module::Printer, false),
        Effect::Finish(outcome),
    ]
}

fn seen(ctx: &Context) -> Outcome {
    Outcome::Seen {
        printed: ctx.printed,
    }
}

/// Back from a paper: to the list of licences, or out when it was the proof.
fn back_from_paper(stage: &Stage, ctx: &Context) -> (Stage, Vec<Effect>) {
    if ctx.proof {
        (stage.clone(), finish(seen(ctx)))
    } else {
        (Stage::List, vec![Effect::Light(Module::Printer, false)])
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
        (_, Input::Cancel) => (stage.clone(), finish(seen(ctx))),

        (Stage::Months, Input::Months(m)) if ctx.months.contains(&m) => {
            (Stage::Looking, vec![Effect::LookUp { months: m }])
        }
        (Stage::Months, Input::Back | Input::Done) => (stage.clone(), finish(Outcome::Left)),

        (Stage::Looking, Input::Found(Ok(n))) if ctx.proof && n > 0 => {
            (Stage::Opening { at: 0 }, vec![Effect::Render { at: 0 }])
        }
        (Stage::Looking, Input::Found(Ok(n))) if n > 0 => (Stage::List, Vec::new()),
        (Stage::Looking, Input::Found(r)) => {
            let problem = match r {
                Err(LookupProblem::CentreAway) => Problem::CentreAway,
                _ => Problem::NoneFound,
            };
            (Stage::Problem { problem, at: None }, Vec::new())
        }

        (Stage::List, Input::Open(at)) if at < ctx.count => {
            (Stage::Opening { at }, vec![Effect::Render { at }])
        }
        (Stage::List, Input::Back | Input::Done) => (stage.clone(), finish(seen(ctx))),

        (Stage::Opening { at }, Input::Opened(Ok(()))) => (
            Stage::Preview {
                at: *at,
                printed: false,
            },
            Vec::new(),
        ),
        (Stage::Opening { at }, Input::Opened(Err(e))) => (
            Stage::Problem {
                problem: Problem::Render(e),
                at: Some(*at),
            },
            Vec::new(),
        ),

        (Stage::Preview { at, .. }, Input::Print) => (
            Stage::Printing { at: *at },
            vec![
                Effect::Light(Module::Printer, true),
                Effect::Print { at: *at },
            ],
        ),
        (Stage::Preview { .. }, Input::Back) => back_from_paper(stage, ctx),
        (Stage::Preview { .. }, Input::Done) => (stage.clone(), finish(seen(ctx))),

        (Stage::Printing { at }, Input::Printed(Ok(()))) => (
            Stage::Preview {
                at: *at,
                printed: true,
            },
            vec![Effect::Light(Module::Printer, false)],
        ),
        (Stage::Printing { at }, Input::Printed(Err(p))) => (
            Stage::Problem {
                problem: Problem::Print(p),
                at: Some(*at),
            },
            vec![Effect::Light(Module::Printer, false)],
        ),

        (Stage::Problem { problem, at }, Input::Retry) => match (problem, at) {
            (Problem::Print(_), Some(at)) => (
                Stage::Printing { at: *at },
                vec![
                    Effect::Light(Module::Printer, true),
                    Effect::Print { at: *at },
                ],
            ),
            (Problem::Render(_), Some(at)) => {
                (Stage::Opening { at: *at }, vec![Effect::Render { at: *at }])
            }
            // Again from the start: the period, or the look-up.
            (Problem::CentreAway, None) => identified(ctx, Vec::new()),
            _ => unchanged(),
        },
        (Stage::Problem { at: Some(_), .. }, Input::Back) if !ctx.proof => {
            (Stage::List, Vec::new())
        }
        (Stage::Problem { problem, .. }, Input::Back | Input::Done) => {
            let outcome = if ctx.printed > 0 {
                seen(ctx)
            } else {
                Outcome::NotSeen {
                    problem: problem.code(),
                }
            };
            (stage.clone(), finish(outcome))
        }
        _ => unchanged(),
    }
}

#[cfg(test)]
#[path = "papers_tests.rs"]
mod tests;
