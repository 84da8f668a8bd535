//! The queue-ticket journey (取号) as a pure state machine: choose the service group, identify
//! when the group asks for it (ID card on the reader, appointment code on the scanner, or no
//! identification where the hall allows), the centre numbers the ticket, the ticket prints,
//! "please take your ticket". Every fault ends on a screen that says what happened and what to
//! do. The state holds no personal data: the session does (`flows::session`).

use crate::services::card::CardProblem;
use crate::services::catalogue::{Catalogue, Identification, Method, QueueGroup};
use crate::services::guide::Module;
use crate::services::queue::{NumberProblem, PrintProblem};

/// A numbered ticket, as the screens show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketInfo {
    pub number: String,
    /// People ahead; `None` for a ticket numbered from the machine's reserved block while the
    /// centre was out of reach.
    pub ahead: Option<u32>,
    /// Printed by a printer that could not confirm it.
    pub unconfirmed: bool,
}

/// How the citizen identified for the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Card,
    Appointment,
    Nobody,
}

/// What went wrong, in terms the screens turn into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The catalogue has no queue groups (or none arrived yet).
    NoGroups,
    /// The group needs an ID card or appointment and this terminal has neither device.
    CannotIdentifyHere,
    Card(CardProblem),
    /// A code was scanned that is not an appointment.
    NotAnAppointment,
    Number(NumberProblem),
    Print(PrintProblem),
    /// Another owner holds a device the journey needs.
    DevicesBusy(String),
}

impl Problem {
    /// A stable name for records and tours (`print-paper-out`).
    pub fn code(&self) -> &'static str {
        match self {
            Problem::NoGroups => "no-groups",
            Problem::CannotIdentifyHere => "cannot-identify-here",
            Problem::Card(c) => match c {
                CardProblem::NoCard => "card-none",
                CardProblem::Moved => "card-moved",
                CardProblem::Unreadable(_) => "card-unreadable",
                CardProblem::Expired(_) => "card-expired",
                CardProblem::ReaderFault(_) => "card-reader-fault",
                CardProblem::Busy(_) => "card-reader-busy",
                CardProblem::Canceled => "card-canceled",
            },
            Problem::NotAnAppointment => "not-an-appointment",
            Problem::Number(n) => match n {
                NumberProblem::CentreUnreachable(_) => "centre-unreachable",
                NumberProblem::AppointmentUnknown => "appointment-unknown",
                NumberProblem::AppointmentElsewhere(_) => "appointment-elsewhere",
                NumberProblem::AppointmentUsed(_) => "appointment-used",
                NumberProblem::Refused(_) => "centre-refused",
            },
            Problem::Print(p) => p.code(),
            Problem::DevicesBusy(_) => "devices-busy",
        }
    }
}

/// What "try again" does from a problem screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Back to identifying for the same group.
    Identify,
    /// Ask the centre again with the same request (a lost answer gives the same number).
    Number(How),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Groups,
    Identify {
        group: String,
    },
    Numbering {
        group: String,
        how: How,
    },
    Printing {
        group: String,
        ticket: TicketInfo,
    },
    Taken {
        group: String,
        ticket: TicketInfo,
    },
    Problem {
        group: Option<String>,
        problem: Problem,
        retry: Option<Retry>,
    },
}

impl Stage {
    /// The screen's name (for idle settings, tours and records).
    pub fn screen(&self) -> &'static str {
        match self {
            Stage::Groups => "ticket-groups",
            Stage::Identify { .. } => "ticket-identify",
            Stage::Numbering { .. } => "ticket-numbering",
            Stage::Printing { .. } => "ticket-printing",
            Stage::Taken { .. } => "ticket-taken",
            Stage::Problem { .. } => "ticket-problem",
        }
    }

    pub fn group(&self) -> Option<&str> {
        match self {
            Stage::Groups => None,
            Stage::Identify { group }
            | Stage::Numbering { group, .. }
            | Stage::Printing { group, .. }
            | Stage::Taken { group, .. } => Some(group),
            Stage::Problem { group, .. } => group.as_deref(),
        }
    }
}

/// What a scanned code turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// An appointment code (the session keeps the code itself).
    Appointment,
    /// Anything else (a link, a one-code QR, text).
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Choose(String),
    /// Take the ticket without identifying (groups where identifying is optional).
    Skip,
    Back,
    Cancel,
    Retry,
    /// "Done" on the last screen.
    Done,
    CardRead(Result<(), CardProblem>),
    Scanned(Scan),
    Numbered(Result<TicketInfo, NumberProblem>),
    Printed(Result<TicketInfo, PrintProblem>),
    /// The "please take your ticket" screen has been shown long enough.
    TakenElapsed,
}

/// How the journey ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Taken {
        group: String,
        number: String,
    },
    NotTaken {
        group: Option<String>,
        problem: String,
    },
    Left,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Light(Module, bool),
    WaitForCard,
    WaitForCode,
    /// Stop waiting for a card and a code.
    StopWaiting,
    /// Drop what the session learnt about the citizen for this ticket (identity, code).
    Forget,
    Number {
        group: String,
        how: How,
    },
    Print {
        group: String,
    },
    /// Start the "please take your ticket" timer.
    StartTakenTimer,
    Finish(Outcome),
}

/// What the journey knows of the terminal it runs on.
pub struct Context<'a> {
    pub catalogue: Option<&'a Catalogue>,
    pub has_reader: bool,
    pub has_scanner: bool,
}

impl Context<'_> {
    fn group(&self, id: &str) -> Option<&QueueGroup> {
        self.catalogue.and_then(|c| c.group(id))
    }

    fn can(&self, g: &QueueGroup, m: Method) -> bool {
        g.accepts(m)
            && match m {
                Method::IdCard => self.has_reader,
                Method::Appointment => self.has_scanner,
            }
    }
}

/// The journey's first stage, with its effects.
pub fn start(ctx: &Context<'_>) -> (Stage, Vec<Effect>) {
    match ctx.catalogue {
        Some(c) if !c.queue.groups.is_empty() => (Stage::Groups, Vec::new()),
        _ => problem(None, Problem::NoGroups, None, Vec::new()),
    }
}

fn problem(
    group: Option<String>,
    problem: Problem,
    retry: Option<Retry>,
    effects: Vec<Effect>,
) -> (Stage, Vec<Effect>) {
    (
        Stage::Problem {
            group,
            problem,
            retry,
        },
        effects,
    )
}

/// Leaves identifying: lights off, waits stopped.
fn stop_identifying() -> Vec<Effect> {
    vec![
        Effect::StopWaiting,
        Effect::Light(Module::IdCard, false),
        Effect::Light(Module::Scanner, false),
    ]
}

/// Enters identifying for `group`, or goes straight on when it needs no identification.
fn identify(ctx: &Context<'_>, group: &QueueGroup) -> (Stage, Vec<Effect>) {
    let id = group.id.clone();
    // Numbered without anyone identifying.
    let anonymous = |id: String| {
        (
            Stage::Numbering {
                group: id.clone(),
                how: How::Nobody,
            },
            vec![Effect::Number {
                group: id,
                how: How::Nobody,
            }],
        )
    };
    if group.identify == Identification::None {
        return anonymous(id);
    }
    let card = ctx.can(group, Method::IdCard);
    let code = ctx.can(group, Method::Appointment);
    if !card && !code {
        if group.identify == Identification::Optional {
            return anonymous(id);
        }
        return problem(Some(id), Problem::CannotIdentifyHere, None, Vec::new());
    }
    let mut effects = Vec::new();
    if card {
        effects.push(Effect::Light(Module::IdCard, true));
        effects.push(Effect::WaitForCard);
    }
    if code {
        effects.push(Effect::Light(Module::Scanner, true));
        effects.push(Effect::WaitForCode);
    }
    (Stage::Identify { group: id }, effects)
}

fn finish(effects: &mut Vec<Effect>, outcome: Outcome) {
    effects.extend(stop_identifying());
    effects.push(Effect::Light(Module::Printer, false));
    effects.push(Effect::Forget);
    effects.push(Effect::Finish(outcome));
}

/// One step: `(stage, input) → (stage, effects)`. Inputs that do not belong to the stage (a
/// card read that arrives after the citizen went back) change nothing.
pub fn step(stage: &Stage, input: Input, ctx: &Context<'_>) -> (Stage, Vec<Effect>) {
    let unchanged = || (stage.clone(), Vec::new());
    let mut fx = Vec::new();
    match (stage, input) {
        (_, Input::Cancel) => {
            let outcome = match stage {
                Stage::Taken { group, ticket } => Outcome::Taken {
                    group: group.clone(),
                    number: ticket.number.clone(),
                },
                _ => Outcome::Left,
            };
            finish(&mut fx, outcome);
            (stage.clone(), fx)
        }

        (Stage::Groups, Input::Choose(id)) => match ctx.group(&id) {
            Some(g) => identify(ctx, g),
            None => unchanged(),
        },
        (Stage::Groups, Input::Back) => {
            finish(&mut fx, Outcome::Left);
            (stage.clone(), fx)
        }

        (Stage::Identify { .. }, Input::Back) => {
            let mut fx = stop_identifying();
            fx.push(Effect::Forget);
            (Stage::Groups, fx)
        }
        (Stage::Identify { group }, Input::Skip) => match ctx.group(group) {
            Some(g) if g.identify == Identification::Optional => {
                let mut fx = stop_identifying();
                fx.push(Effect::Number {
                    group: group.clone(),
                    how: How::Nobody,
                });
                (
                    Stage::Numbering {
                        group: group.clone(),
                        how: How::Nobody,
                    },
                    fx,
                )
            }
            _ => unchanged(),
        },
        (Stage::Identify { group }, Input::CardRead(result)) => match result {
            Ok(()) => {
                let mut fx = stop_identifying();
                fx.push(Effect::Number {
                    group: group.clone(),
                    how: How::Card,
                });
                (
                    Stage::Numbering {
                        group: group.clone(),
                        how: How::Card,
                    },
                    fx,
                )
            }
            // Stopped on purpose (the citizen scanned a code, went back): nothing to say.
            Err(CardProblem::Canceled) => unchanged(),
            // Nobody placed a card yet: keep waiting, the light keeps blinking.
            Err(CardProblem::NoCard) => (stage.clone(), vec![Effect::WaitForCard]),
            Err(p) => {
                let mut fx = stop_identifying();
                fx.push(Effect::Forget);
                problem(
                    Some(group.clone()),
                    Problem::Card(p),
                    Some(Retry::Identify),
                    fx,
                )
            }
        },
        (Stage::Identify { group }, Input::Scanned(scan)) => {
            let accepts = ctx
                .group(group)
                .is_some_and(|g| ctx.can(g, Method::Appointment));
            if !accepts {
                return unchanged();
            }
            let mut fx = stop_identifying();
            match scan {
                Scan::Appointment => {
                    fx.push(Effect::Number {
                        group: group.clone(),
                        how: How::Appointment,
                    });
                    (
                        Stage::Numbering {
                            group: group.clone(),
                            how: How::Appointment,
                        },
                        fx,
                    )
                }
                Scan::Other => {
                    fx.push(Effect::Forget);
                    problem(
                        Some(group.clone()),
                        Problem::NotAnAppointment,
                        Some(Retry::Identify),
                        fx,
                    )
                }
            }
        }

        (Stage::Numbering { group, how }, Input::Numbered(result)) => match result {
            Ok(ticket) => (
                Stage::Printing {
                    group: group.clone(),
                    ticket,
                },
                vec![
                    Effect::Light(Module::Printer, true),
                    Effect::Print {
                        group: group.clone(),
                    },
                ],
            ),
            Err(p) => {
                let retry = match &p {
                    NumberProblem::CentreUnreachable(_) => Some(Retry::Number(*how)),
                    NumberProblem::AppointmentUnknown
                    | NumberProblem::AppointmentElsewhere(_)
                    | NumberProblem::AppointmentUsed(_) => Some(Retry::Identify),
                    NumberProblem::Refused(_) => None,
                };
                let fx = if retry == Some(Retry::Identify) {
                    vec![Effect::Forget]
                } else {
                    Vec::new()
                };
                problem(Some(group.clone()), Problem::Number(p), retry, fx)
            }
        },

        (Stage::Printing { group, .. }, Input::Printed(result)) => match result {
            Ok(ticket) => (
                Stage::Taken {
                    group: group.clone(),
                    ticket,
                },
                vec![Effect::StartTakenTimer],
            ),
            // The number is voided at the centre when this result reaches it; the printer's
            // health takes the ticket service off the home screen until it recovers.
            Err(p) => problem(
                Some(group.clone()),
                Problem::Print(p),
                None,
                vec![Effect::Light(Module::Printer, false), Effect::Forget],
            ),
        },

        (Stage::Taken { group, ticket }, Input::TakenElapsed | Input::Done) => {
            finish(
                &mut fx,
                Outcome::Taken {
                    group: group.clone(),
                    number: ticket.number.clone(),
                },
            );
            (stage.clone(), fx)
        }

        (
            Stage::Problem {
                group,
                retry: Some(retry),
                ..
            },
            Input::Retry,
        ) => match (retry, group.as_deref().and_then(|g| ctx.group(g))) {
            (Retry::Identify, Some(g)) => identify(ctx, g),
            (Retry::Number(how), Some(g)) => (
                Stage::Numbering {
                    group: g.id.clone(),
                    how: *how,
                },
                vec![Effect::Number {
                    group: g.id.clone(),
                    how: *how,
                }],
            ),
            _ => unchanged(),
        },
        (Stage::Problem { group, problem, .. }, Input::Back | Input::Done) => {
            finish(
                &mut fx,
                Outcome::NotTaken {
                    group: group.clone(),
                    problem: problem.code().to_string(),
                },
            );
            (stage.clone(), fx)
        }

        _ => unchanged(),
    }
}

/// A problem raised from outside the journey's own inputs (the devices it needs are held).
pub fn blocked(why: String) -> (Stage, Vec<Effect>) {
    problem(None, Problem::DevicesBusy(why), None, Vec::new())
}
