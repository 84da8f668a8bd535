//! Identifying a citizen for an application or a print (登录), as a pure state machine.
//!
//! The citizen places an ID card or shows an e-ID code. A card is only the first factor: a
//! notice-and-consent screen comes first (what is compared, that nothing is kept), then the
//! live face against the card photo. Face is never the only way: "use fingerprint instead" is
//! on every face screen, and fingerprint (the live finger against the card's fingerprint on the
//! EF01 module) is the path when face is unavailable or fails twice. When neither works the
//! screen says to go to a window. An e-ID code checked offline identifies on its own (the
//! issuing app checked the face when it made the code).
//!
//! Filing for someone (代办): the agent identifies the same way, then the principal's card is
//! read; the record says who acted for whom. The state holds no personal data: the session does.

use kiosk_models::{Decision, Prompt};

use crate::services::card::CardProblem;
use crate::services::eid::EidError;
use crate::services::guide::Module;

/// Failed face checks before the fingerprint path is the way on.
pub const FACE_TRIES: u8 = 2;
/// Failed finger matches before the citizen is sent to a window.
pub const FINGER_TRIES: u8 = 3;

/// Whose identity is being established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The citizen applying for themself.
    Citizen,
    /// Someone filing on another's behalf (代办人); identified in person.
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Agent => "agent",
        }
    }
}

/// How a person was identified, for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    CardAndFace,
    CardAndFingerprint,
    Eid,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::CardAndFace => "id-card+face",
            Factor::CardAndFingerprint => "id-card+fingerprint",
            Factor::Eid => "e-id",
        }
    }
}

/// What the card read told the journey (the identity itself goes to the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardFacts {
    /// The card's photo decoded: face comparison is possible.
    pub photo: bool,
    /// The card carries fingerprint features: fingerprint comparison is possible.
    pub fingerprint: bool,
}

/// Why a finger check gave no match decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FingerProblem {
    /// No finger came to the sensor in time.
    NoFinger,
    /// The module is offline, busy or failing.
    Module(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Neither face nor fingerprint can confirm this person here: go to a window.
    GoToWindow(WhyWindow),
    Card(CardProblem),
    Eid(EidError),
    /// A code was scanned that is not an e-ID.
    NotAnEid,
    /// The principal's card is the agent's own.
    SamePerson,
    /// Neither a card reader nor a scanner on this terminal.
    CannotIdentifyHere,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhyWindow {
    /// The face did not match twice, and fingerprint is not possible.
    FaceFailed,
    /// Fingerprints did not match three times.
    FingerFailed,
    /// No face check and no fingerprint check are available for this card here.
    NoSecondFactor,
    /// The fingerprint module failed.
    FingerUnavailable,
    /// The face check found a spoof: no retry at the terminal.
    Spoof,
}

impl Problem {
    /// A stable name for records and tours.
    pub fn code(&self) -> String {
        match self {
            Problem::GoToWindow(w) => format!(
                "go-to-window-{}",
                match w {
                    WhyWindow::FaceFailed => "face-failed",
                    WhyWindow::FingerFailed => "finger-failed",
                    WhyWindow::NoSecondFactor => "no-second-factor",
                    WhyWindow::FingerUnavailable => "finger-unavailable",
                    WhyWindow::Spoof => "spoof",
                }
            ),
            Problem::Card(_) => "card".into(),
            Problem::Eid(e) => format!("eid-{}", e.code()),
            Problem::NotAnEid => "not-an-eid".into(),
            Problem::SamePerson => "same-person".into(),
            Problem::CannotIdentifyHere => "cannot-identify-here".into(),
        }
    }

    /// Whether "try again" makes sense (the citizen can do something different).
    fn retryable(&self) -> bool {
        matches!(
            self,
            Problem::Card(_) | Problem::Eid(_) | Problem::NotAnEid | Problem::SamePerson
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// "Place your ID card, or show your e-ID code"; `role` says whose.
    Present {
        role: Role,
    },
    /// What the face check compares and that nothing is kept; agree, or use fingerprint.
    Consent {
        role: Role,
    },
    /// The face check runs; the latest prompt for the citizen.
    Face {
        role: Role,
        attempt: u8,
        prompt: Prompt,
    },
    /// The face did not match; try again or use fingerprint.
    FaceFailed {
        role: Role,
        attempt: u8,
    },
    /// "Place your finger"; `attempt` counts from 1.
    Finger {
        role: Role,
        attempt: u8,
        missed: bool,
    },
    /// The agent is identified; now the principal's card.
    Principal,
    Problem {
        role: Role,
        problem: Problem,
    },
}

impl Stage {
    pub fn screen(&self) -> &'static str {
        match self {
            Stage::Present { .. } => "identify-present",
            Stage::Consent { .. } => "identify-consent",
            Stage::Face { .. } => "identify-face",
            Stage::FaceFailed { .. } => "identify-face-failed",
            Stage::Finger { .. } => "identify-finger",
            Stage::Principal => "identify-present",
            Stage::Problem { .. } => "identify-problem",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// "I am filing for someone else" on the first screen.
    ForSomeoneElse,
    CardRead(Result<CardFacts, CardProblem>),
    /// A scanned code: `Ok` an e-ID verified, `Err` refused (`NotAnEid` for other codes).
    Code(Result<(), EidError>),
    Agree,
    UseFingerprint,
    FacePrompt(Prompt),
    FaceDone(Decision),
    FingerDone(Result<bool, FingerProblem>),
    Retry,
    Back,
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Light(Module, bool),
    WaitForCard,
    WaitForCode,
    StopWaiting,
    /// Compare the live face with the photo of the card the session holds for `role`.
    VerifyFace(Role),
    StopFace,
    /// Compare the live finger with the fingerprint on the card the session holds for `role`.
    VerifyFinger(Role),
    StopFinger,
    /// `role` is who the session's card (or e-ID) says; record how.
    Identified(Role, Factor),
    /// The card just read is the principal's (filing for someone).
    PrincipalRead,
    /// Drop the identities the session holds for this login.
    Forget,
    Finish(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Identified; `agent` when filed on someone's behalf.
    Identified {
        agent: bool,
    },
    NotIdentified {
        problem: String,
    },
    Left,
}

/// How a login ended, for the journey that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Identified,
    Left,
    /// Why, as `login-…` for the journey's outcome.
    NotIdentified(String),
}

/// The login's effects as the journey's (`wrap` each, in order, the finish too: the host
/// performs it) and how the login ended, when it did.
pub fn wrap<E>(fx: Vec<Effect>, wrap: impl Fn(Effect) -> E) -> (Vec<E>, Option<Ended>) {
    let mut ended = None;
    let mut out = Vec::with_capacity(fx.len());
    for e in fx {
        if let Effect::Finish(o) = &e {
            ended = Some(match o {
                Outcome::Identified { .. } => Ended::Identified,
                Outcome::Left => Ended::Left,
                Outcome::NotIdentified { problem } => {
                    Ended::NotIdentified(format!("login-{problem}"))
                }
            });
        }
        out.push(wrap(e));
    }
    (out, ended)
}

/// What the journey knows of the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub has_reader: bool,
    pub has_scanner: bool,
    /// A face camera and the face models.
    pub face: bool,
    /// An EF01 fingerprint module.
    pub finger: bool,
    /// Whether agents may file here.
    pub agents: bool,
}

/// Lights on and waits started for whatever this terminal can identify by.
fn waits(ctx: &Context) -> Vec<Effect> {
    let mut fx = Vec::new();
    if ctx.has_reader {
        fx.push(Effect::Light(Module::IdCard, true));
        fx.push(Effect::WaitForCard);
    }
    if ctx.has_scanner {
        fx.push(Effect::Light(Module::Scanner, true));
        fx.push(Effect::WaitForCode);
    }
    fx
}

fn stop_waits() -> Vec<Effect> {
    vec![
        Effect::StopWaiting,
        Effect::Light(Module::IdCard, false),
        Effect::Light(Module::Scanner, false),
    ]
}

pub fn start(ctx: &Context) -> (Stage, Vec<Effect>) {
    present(Role::Citizen, ctx)
}

fn present(role: Role, ctx: &Context) -> (Stage, Vec<Effect>) {
    if !ctx.has_reader && !ctx.has_scanner {
        return (
            Stage::Problem {
                role,
                problem: Problem::CannotIdentifyHere,
            },
            Vec::new(),
        );
    }
    (Stage::Present { role }, waits(ctx))
}

fn problem(role: Role, problem: Problem, mut fx: Vec<Effect>) -> (Stage, Vec<Effect>) {
    fx.push(Effect::Forget);
    (Stage::Problem { role, problem }, fx)
}

/// The fingerprint path, or a window when it is not possible for this card here.
fn finger_or_window(
    role: Role,
    card: CardFacts,
    ctx: &Context,
    why: WhyWindow,
) -> (Stage, Vec<Effect>) {
    if ctx.finger && card.fingerprint {
        (
            Stage::Finger {
                role,
                attempt: 1,
                missed: false,
            },
            vec![Effect::VerifyFinger(role)],
        )
    } else {
        problem(role, Problem::GoToWindow(why), Vec::new())
    }
}

/// `role` is confirmed: the citizen is done; an agent goes on to the principal's card.
fn confirmed(role: Role, factor: Factor, ctx: &Context) -> (Stage, Vec<Effect>) {
    let mut fx = vec![Effect::Identified(role, factor)];
    match role {
        // The journey that asked for the login takes over from here; the stage is not shown.
        Role::Citizen => {
            fx.push(Effect::Finish(Outcome::Identified { agent: false }));
            (Stage::Present { role }, fx)
        }
        Role::Agent => {
            if ctx.has_reader {
                fx.push(Effect::Light(Module::IdCard, true));
                fx.push(Effect::WaitForCard);
            }
            (Stage::Principal, fx)
        }
    }
}

fn finish(stage: &Stage, outcome: Outcome) -> (Stage, Vec<Effect>) {
    let mut fx = stop_waits();
    fx.extend([
        Effect::StopFace,
        Effect::StopFinger,
        Effect::Forget,
        Effect::Finish(outcome),
    ]);
    (stage.clone(), fx)
}

/// One step. `card` is what the last card read said (kept by the session, no personal data):
/// the fingerprint path needs it again after face fails.
pub fn step(stage: &Stage, input: Input, ctx: &Context, card: CardFacts) -> (Stage, Vec<Effect>) {
    let unchanged = || (stage.clone(), Vec::new());
    match (stage, input) {
        (_, Input::Cancel) => finish(stage, Outcome::Left),

        (
            Stage::Present {
                role: Role::Citizen,
            },
            Input::ForSomeoneElse,
        ) if ctx.agents => (Stage::Present { role: Role::Agent }, Vec::new()),
        (Stage::Present { role: Role::Agent }, Input::Back) => (
            Stage::Present {
                role: Role::Citizen,
            },
            Vec::new(),
        ),
        (
            Stage::Present {
                role: Role::Citizen,
            },
            Input::Back,
        ) => finish(stage, Outcome::Left),

        (Stage::Present { role }, Input::CardRead(result)) => match result {
            Ok(facts) => {
                let mut fx = stop_waits();
                if ctx.face && facts.photo {
                    (Stage::Consent { role: *role }, fx)
                } else {
                    let (s, more) = finger_or_window(*role, facts, ctx, WhyWindow::NoSecondFactor);
                    fx.extend(more);
                    (s, fx)
                }
            }
            Err(CardProblem::Canceled) => unchanged(),
            Err(CardProblem::NoCard) => (stage.clone(), vec![Effect::WaitForCard]),
            Err(p) => problem(*role, Problem::Card(p), stop_waits()),
        },
        (Stage::Present { role }, Input::Code(result)) => match result {
            Ok(()) => {
                let mut fx = stop_waits();
                let (s, more) = confirmed(*role, Factor::Eid, ctx);
                fx.extend(more);
                (s, fx)
            }
            Err(EidError::NotAnEid) => problem(*role, Problem::NotAnEid, stop_waits()),
            Err(e) => problem(*role, Problem::Eid(e), stop_waits()),
        },

        (Stage::Consent { role }, Input::Agree) => (
            Stage::Face {
                role: *role,
                attempt: 1,
                prompt: Prompt::LookAtCamera,
            },
            vec![Effect::VerifyFace(*role)],
        ),
        (Stage::Consent { role }, Input::UseFingerprint) => {
            finger_or_window(*role, card, ctx, WhyWindow::NoSecondFactor)
        }
        (Stage::Consent { role }, Input::Back) => {
            let mut fx = vec![Effect::Forget];
            let (s, more) = present(*role, ctx);
            fx.extend(more);
            (s, fx)
        }

        (Stage::Face { role, attempt, .. }, Input::FacePrompt(p)) => (
            Stage::Face {
                role: *role,
                attempt: *attempt,
                prompt: p,
            },
            Vec::new(),
        ),
        (Stage::Face { role, .. } | Stage::FaceFailed { role, .. }, Input::UseFingerprint) => {
            let mut fx = vec![Effect::StopFace];
            let (s, more) = finger_or_window(*role, card, ctx, WhyWindow::NoSecondFactor);
            fx.extend(more);
            (s, fx)
        }
        (Stage::Face { role, attempt, .. }, Input::FaceDone(decision)) => match decision {
            Decision::Verified => confirmed(*role, Factor::CardAndFace, ctx),
            // The camera or the models are not there: fingerprint at once.
            Decision::Unavailable => finger_or_window(*role, card, ctx, WhyWindow::NoSecondFactor),
            // A photo or a screen held up: no second try here, whatever the path.
            Decision::Spoof => problem(*role, Problem::GoToWindow(WhyWindow::Spoof), Vec::new()),
            Decision::NotVerified | Decision::NoFace | Decision::SeveralFaces => {
                if *attempt >= FACE_TRIES {
                    finger_or_window(*role, card, ctx, WhyWindow::FaceFailed)
                } else {
                    (
                        Stage::FaceFailed {
                            role: *role,
                            attempt: *attempt,
                        },
                        Vec::new(),
                    )
                }
            }
        },
        (Stage::Face { role, .. }, Input::Back) => {
            let mut fx = vec![Effect::StopFace, Effect::Forget];
            let (s, more) = present(*role, ctx);
            fx.extend(more);
            (s, fx)
        }
        (Stage::FaceFailed { role, attempt }, Input::Retry) => (
            Stage::Face {
                role: *role,
                attempt: attempt + 1,
                prompt: Prompt::LookAtCamera,
            },
            vec![Effect::VerifyFace(*role)],
        ),
        (Stage::FaceFailed { role, .. } | Stage::Finger { role, .. }, Input::Back) => {
            let mut fx = vec![Effect::StopFinger, Effect::Forget];
            let (s, more) = present(*role, ctx);
            fx.extend(more);
            (s, fx)
        }

        (Stage::Finger { role, attempt, .. }, Input::FingerDone(result)) => match result {
            Ok(true) => confirmed(*role, Factor::CardAndFingerprint, ctx),
            Ok(false) if *attempt >= FINGER_TRIES => problem(
                *role,
                Problem::GoToWindow(WhyWindow::FingerFailed),
                Vec::new(),
            ),
            Ok(false) => (
                Stage::Finger {
                    role: *role,
                    attempt: attempt + 1,
                    missed: true,
                },
                vec![Effect::VerifyFinger(*role)],
            ),
            // Nobody put a finger down: keep asking, it is not a failed match.
            Err(FingerProblem::NoFinger) => (stage.clone(), vec![Effect::VerifyFinger(*role)]),
            Err(FingerProblem::Module(_)) => problem(
                *role,
                Problem::GoToWindow(WhyWindow::FingerUnavailable),
                Vec::new(),
            ),
        },

        (Stage::Principal, Input::CardRead(result)) => match result {
            Ok(_) => {
                let mut fx = vec![
                    Effect::StopWaiting,
                    Effect::Light(Module::IdCard, false),
                    Effect::PrincipalRead,
                ];
                fx.push(Effect::Finish(Outcome::Identified { agent: true }));
                (Stage::Principal, fx)
            }
            Err(CardProblem::Canceled) => unchanged(),
            Err(CardProblem::NoCard) => (stage.clone(), vec![Effect::WaitForCard]),
            Err(p) => problem(Role::Agent, Problem::Card(p), stop_waits()),
        },
        (Stage::Principal, Input::Back) => finish(stage, Outcome::Left),

        // The agent stays identified: only the principal's card is asked for again.
        (
            Stage::Problem {
                problem: Problem::SamePerson,
                ..
            },
            Input::Retry,
        ) => (
            Stage::Principal,
            vec![Effect::Light(Module::IdCard, true), Effect::WaitForCard],
        ),
        (Stage::Problem { role, problem }, Input::Retry) if problem.retryable() => {
            present(*role, ctx)
        }
        (Stage::Problem { problem, .. }, Input::Back) => finish(
            stage,
            Outcome::NotIdentified {
                problem: problem.code(),
            },
        ),

        _ => unchanged(),
    }
}

/// The host's answer when the principal's card turns out to be the agent's own: the agent
/// stays identified, the card is asked for again.
pub fn same_person() -> (Stage, Vec<Effect>) {
    (
        Stage::Problem {
            role: Role::Agent,
            problem: Problem::SamePerson,
        },
        stop_waits(),
    )
}

#[cfg(test)]
#[path = "identify_tests.rs"]
mod tests;
