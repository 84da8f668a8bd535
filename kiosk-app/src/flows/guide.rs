//! The service guide (办事指南) as a pure state machine: find an item (common items, a
//! category, or a search by words or pinyin initials), read its guide (notice, legal basis,
//! time limit, fee), answer its situation questions one per screen, and get the material list
//! for those answers — on screen, as a QR code to read on a phone, and printed on the receipt
//! printer. Nobody identifies for it: it holds no personal data.

use std::collections::BTreeSet;

use crate::services::catalogue::{Answers, Catalogue, Category, Choice, ServiceItem};
use crate::services::queue::PrintProblem;

/// Which items the list shows when nothing is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shelf {
    Common,
    Category(Category),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The catalogue has no service items (or none arrived yet).
    NoItems,
    Print(PrintProblem),
}

impl Problem {
    pub fn code(&self) -> &'static str {
        match self {
            Problem::NoItems => "no-items",
            Problem::Print(p) => p.code(),
        }
    }
}

/// The longest search the keyboard takes.
pub const MAX_QUERY: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Items {
        shelf: Shelf,
        query: String,
    },
    Item {
        item: String,
    },
    /// The `at`-th question of those the answers so far ask.
    Question {
        item: String,
        answers: Answers,
        at: usize,
    },
    Materials {
        item: String,
        answers: Answers,
        printed: bool,
    },
    Printing {
        item: String,
        answers: Answers,
    },
    Problem {
        item: Option<String>,
        answers: Answers,
        problem: Problem,
    },
}

impl Stage {
    pub fn screen(&self) -> &'static str {
        match self {
            Stage::Items { .. } => "guide-items",
            Stage::Item { .. } => "guide-item",
            Stage::Question { .. } => "guide-question",
            Stage::Materials { .. } => "guide-materials",
            Stage::Printing { .. } => "guide-printing",
            Stage::Problem { .. } => "guide-problem",
        }
    }

    pub fn item(&self) -> Option<&str> {
        match self {
            Stage::Items { .. } => None,
            Stage::Item { item }
            | Stage::Question { item, .. }
            | Stage::Materials { item, .. }
            | Stage::Printing { item, .. } => Some(item),
            Stage::Problem { item, .. } => item.as_deref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Shelf(Shelf),
    /// A letter or a character from the on-screen keyboard.
    Type(char),
    Erase,
    ClearQuery,
    Open(String),
    /// "Start" on the guide: the questions, or the materials when there are none.
    Begin,
    /// An answer touched on a question screen: chosen (single) or toggled (multiple).
    Choose(String),
    Next,
    Back,
    Print,
    Printed(Result<(), PrintProblem>),
    Retry,
    Done,
    Cancel,
    /// "Apply here" on the material list (for a proof item: "Print here").
    Apply,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Print the material list of `item` for `answers` on the receipt printer.
    Print {
        item: String,
        answers: Answers,
    },
    Finish(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The citizen saw a material list (`printed` when it was printed too).
    Listed {
        item: String,
        printed: bool,
    },
    /// The citizen applies for `item` with these answers here: the application journey
    /// takes over.
    Apply {
        item: String,
        answers: Answers,
    },
    /// The citizen has the proof `item` printed here with these answers: the papers journey
    /// takes over.
    Proof {
        item: String,
        answers: Answers,
    },
    Left,
}

pub struct Context<'a> {
    pub catalogue: Option<&'a Catalogue>,
    pub can_print: bool,
    /// This terminal takes applications (`apply` is offered).
    pub can_apply: bool,
    /// This terminal prints proofs (`proof` is offered, with an A4 printer).
    pub can_prove: bool,
}

impl Context<'_> {
    /// Whether "Apply here" shows on the material list of `item` for `answers`: an item that
    /// is a case, answers that keep it out of a window, and a terminal that takes them.
    pub fn applicable(&self, item: &str, answers: &Answers) -> bool {
        self.can_apply
            && self.item(item).is_some_and(|i| {
                i.kind == crate::services::catalogue::ItemKind::Apply
                    && i.plan(answers).is_ok_and(|p| p.at_window.is_empty())
            })
    }
}

impl Context<'_> {
    /// Whether "Print here" shows on the material list of `item`: a proof item on a terminal
    /// that prints proofs.
    pub fn provable(&self, item: &str) -> bool {
        self.can_prove
            && self.item(item).is_some_and(|i| {
                i.kind == crate::services::catalogue::ItemKind::Proof && i.proof.is_some()
            })
    }

    fn item(&self, id: &str) -> Option<&ServiceItem> {
        self.catalogue.and_then(|c| c.item(id))
    }
}

pub fn start(ctx: &Context<'_>) -> (Stage, Vec<Effect>) {
    match ctx.catalogue {
        Some(c) if !c.items.is_empty() => {
            let shelf = if c.common_items().next().is_some() {
                Shelf::Common
            } else {
                Shelf::Category(c.items[0].category)
            };
            (
                Stage::Items {
                    shelf,
                    query: String::new(),
                },
                Vec::new(),
            )
        }
        _ => (
            Stage::Problem {
                item: None,
                answers: Answers::new(),
                problem: Problem::NoItems,
            },
            Vec::new(),
        ),
    }
}

/// Drops answers to questions the other answers no longer ask (a branch closed).
fn prune(item: &ServiceItem, answers: &mut Answers) {
    loop {
        let asked: BTreeSet<String> = item
            .questions_for(answers)
            .iter()
            .map(|q| q.id.clone())
            .collect();
        let before = answers.len();
        answers.retain(|q, _| asked.contains(q));
        if answers.len() == before {
            return;
        }
    }
}

/// The question screen at `at`, or the materials once every asked question is passed.
fn question_or_materials(item: &ServiceItem, answers: Answers, at: usize) -> Stage {
    if at < item.questions_for(&answers).len() {
        Stage::Question {
            item: item.id.clone(),
            answers,
            at,
        }
    } else {
        Stage::Materials {
            item: item.id.clone(),
            answers,
            printed: false,
        }
    }
}

pub fn step(stage: &Stage, input: Input, ctx: &Context<'_>) -> (Stage, Vec<Effect>) {
    let unchanged = || (stage.clone(), Vec::new());
    let leave = |outcome: Outcome| (stage.clone(), vec![Effect::Finish(outcome)]);
    match (stage, input) {
        (Stage::Printing { .. }, Input::Cancel) => unchanged(),
        (Stage::Materials { item, printed, .. }, Input::Cancel | Input::Done) => {
            leave(Outcome::Listed {
                item: item.clone(),
                printed: *printed,
            })
        }
        (_, Input::Cancel) => leave(Outcome::Left),

        (Stage::Items { query, .. }, Input::Shelf(shelf)) => (
            Stage::Items {
                shelf,
                query: query.clone(),
            },
            Vec::new(),
        ),
        (Stage::Items { shelf, query }, Input::Type(c)) => {
            if query.chars().count() >= MAX_QUERY || c.is_control() {
                return unchanged();
            }
            let mut q = query.clone();
            q.extend(c.to_lowercase());
            (
                Stage::Items {
                    shelf: *shelf,
                    query: q,
                },
                Vec::new(),
            )
        }
        (Stage::Items { shelf, query }, Input::Erase) => {
            let mut q = query.clone();
            q.pop();
            (
                Stage::Items {
                    shelf: *shelf,
                    query: q,
                },
                Vec::new(),
            )
        }
        (Stage::Items { shelf, .. }, Input::ClearQuery) => (
            Stage::Items {
                shelf: *shelf,
                query: String::new(),
            },
            Vec::new(),
        ),
        (Stage::Items { .. }, Input::Open(id)) => match ctx.item(&id) {
            Some(i) => (Stage::Item { item: i.id.clone() }, Vec::new()),
            None => unchanged(),
        },
        (Stage::Items { .. }, Input::Back) => leave(Outcome::Left),

        (Stage::Item { item }, Input::Begin) => match ctx.item(item) {
            Some(i) => (question_or_materials(i, Answers::new(), 0), Vec::new()),
            None => unchanged(),
        },
        (Stage::Item { item }, Input::Back) => {
            let shelf = ctx
                .item(item)
                .map_or(Shelf::Common, |i| Shelf::Category(i.category));
            (
                Stage::Items {
                    shelf,
                    query: String::new(),
                },
                Vec::new(),
            )
        }

        (Stage::Question { item, answers, at }, Input::Choose(answer)) => {
            let Some(i) = ctx.item(item) else {
                return unchanged();
            };
            let asked = i.questions_for(answers);
            let Some(q) = asked.get(*at) else {
                return unchanged();
            };
            if !q.answers.iter().any(|a| a.id == answer) {
                return unchanged();
            }
            let mut answers = answers.clone();
            let chosen = answers.entry(q.id.clone()).or_default();
            match q.choice {
                Choice::Single => {
                    chosen.clear();
                    chosen.insert(answer);
                    prune(i, &mut answers);
                    // One touch answers a single-choice question: on to the next.
                    (question_or_materials(i, answers, at + 1), Vec::new())
                }
                Choice::Multiple => {
                    if !chosen.remove(&answer) {
                        chosen.insert(answer);
                    }
                    if chosen.is_empty() {
                        answers.remove(&q.id);
                    }
                    prune(i, &mut answers);
                    (
                        Stage::Question {
                            item: item.clone(),
                            answers,
                            at: *at,
                        },
                        Vec::new(),
                    )
                }
            }
        }
        (Stage::Question { item, answers, at }, Input::Next) => {
            let Some(i) = ctx.item(item) else {
                return unchanged();
            };
            let asked = i.questions_for(answers);
            let answered = asked
                .get(*at)
                .is_some_and(|q| !q.required || answers.get(&q.id).is_some_and(|a| !a.is_empty()));
            if !answered {
                return unchanged();
            }
            (
                question_or_materials(i, answers.clone(), at + 1),
                Vec::new(),
            )
        }
        (Stage::Question { item, answers, at }, Input::Back) => {
            if *at == 0 {
                (Stage::Item { item: item.clone() }, Vec::new())
            } else {
                (
                    Stage::Question {
                        item: item.clone(),
                        answers: answers.clone(),
                        at: at - 1,
                    },
                    Vec::new(),
                )
            }
        }

        (Stage::Materials { item, answers, .. }, Input::Apply) if ctx.provable(item) => (
            stage.clone(),
            vec![Effect::Finish(Outcome::Proof {
                item: item.clone(),
                answers: answers.clone(),
            })],
        ),
        (Stage::Materials { item, answers, .. }, Input::Apply) if ctx.applicable(item, answers) => {
            (
                stage.clone(),
                vec![Effect::Finish(Outcome::Apply {
                    item: item.clone(),
                    answers: answers.clone(),
                })],
            )
        }
        (Stage::Materials { item, answers, .. }, Input::Print) if ctx.can_print => (
            Stage::Printing {
                item: item.clone(),
                answers: answers.clone(),
            },
            vec![Effect::Print {
                item: item.clone(),
                answers: answers.clone(),
            }],
        ),
        (Stage::Materials { item, answers, .. }, Input::Back) => {
            let Some(i) = ctx.item(item) else {
                return unchanged();
            };
            let asked = i.questions_for(answers).len();
            if asked == 0 {
                (Stage::Item { item: item.clone() }, Vec::new())
            } else {
                (
                    Stage::Question {
                        item: item.clone(),
                        answers: answers.clone(),
                        at: asked - 1,
                    },
                    Vec::new(),
                )
            }
        }

        (Stage::Printing { item, answers }, Input::Printed(result)) => match result {
            Ok(()) => (
                Stage::Materials {
                    item: item.clone(),
                    answers: answers.clone(),
                    printed: true,
                },
                Vec::new(),
            ),
            Err(p) => (
                Stage::Problem {
                    item: Some(item.clone()),
                    answers: answers.clone(),
                    problem: Problem::Print(p),
                },
                Vec::new(),
            ),
        },

        (
            Stage::Problem {
                item: Some(item),
                answers,
                problem: Problem::Print(_),
            },
            Input::Retry,
        ) if ctx.can_print => (
            Stage::Printing {
                item: item.clone(),
                answers: answers.clone(),
            },
            vec![Effect::Print {
                item: item.clone(),
                answers: answers.clone(),
            }],
        ),
        // After a print problem the list is still there to read or photograph.
        (
            Stage::Problem {
                item: Some(item),
                answers,
                problem: Problem::Print(_),
            },
            Input::Back,
        ) => (
            Stage::Materials {
                item: item.clone(),
                answers: answers.clone(),
                printed: false,
            },
            Vec::new(),
        ),
        (Stage::Problem { .. }, Input::Back | Input::Done) => leave(Outcome::Left),

        _ => unchanged(),
    }
}

#[cfg(test)]
#[path = "guide_tests.rs"]
mod tests;
