//! Rating the service (好差评) at the end of a journey, as a pure state machine: five levels
//! from 非常满意 to 非常不满意, the catalogue's tags for satisfied or unsatisfied levels, and for
//! the two lowest a complaint in the citizen's words (typed on the on-screen keyboard), so the
//! hall can follow it up. One rating per visit; it leaves through the journal.

/// The national 好差评 scale, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    VeryUnsatisfied = 1,
    Unsatisfied = 2,
    Basic = 3,
    Satisfied = 4,
    VerySatisfied = 5,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::VerySatisfied,
        Level::Satisfied,
        Level::Basic,
        Level::Unsatisfied,
        Level::VeryUnsatisfied,
    ];

    pub fn score(self) -> u8 {
        self as u8
    }

    pub fn from_score(n: u8) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.score() == n)
    }

    /// 不满意 and 非常不满意 ask what went wrong.
    pub fn unsatisfied(self) -> bool {
        self <= Level::Unsatisfied
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::VerySatisfied => "very-satisfied",
            Level::Satisfied => "satisfied",
            Level::Basic => "basic",
            Level::Unsatisfied => "unsatisfied",
            Level::VeryUnsatisfied => "very-unsatisfied",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// The tags that go with the level chosen (several may be chosen).
    Tags { level: Level, chosen: Vec<String> },
    /// What went wrong, typed (the two lowest levels).
    Complaint { level: Level, chosen: Vec<String> },
    /// "Thank you" after the rating went to the journal.
    Thanks,
}

impl Stage {
    pub fn screen(&self) -> &'static str {
        match self {
            Stage::Tags { .. } => "rating-tags",
            Stage::Complaint { .. } => "rating-complaint",
            Stage::Thanks => "rating-thanks",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A tag touched: chosen, or not chosen any more.
    Tag(String),
    /// "Next" on the tags of a low level; "Submit" otherwise.
    Next,
    /// The complaint is typed (the host sends it only with words typed).
    Complained,
    Back,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    StartTyping,
    StopTyping,
    /// Record the rating (with the typed complaint, when `complaint`).
    Submit {
        level: Level,
        tags: Vec<String>,
        complaint: bool,
    },
}

/// What the rating knows: the tags the catalogue offers for each side of the scale.
pub struct Context<'a> {
    pub satisfied_tags: &'a [String],
    pub unsatisfied_tags: &'a [String],
}

/// The citizen chose `level` on the journey's last screen.
pub fn start(level: Level) -> Stage {
    Stage::Tags {
        level,
        chosen: Vec::new(),
    }
}

fn submit(level: Level, chosen: &[String], complaint: bool) -> (Stage, Vec<Effect>) {
    (
        Stage::Thanks,
        vec![
            Effect::StopTyping,
            Effect::Submit {
                level,
                tags: chosen.to_vec(),
                complaint,
            },
        ],
    )
}

/// One step; `None` when the rating is left (back to the journey's last screen) or done.
pub fn step(stage: &Stage, input: Input, ctx: &Context<'_>) -> Option<(Stage, Vec<Effect>)> {
    let unchanged = Some((stage.clone(), Vec::new()));
    match (stage, input) {
        (Stage::Tags { level, chosen }, Input::Tag(t)) => {
            let offered = if level.unsatisfied() {
                ctx.unsatisfied_tags
            } else {
                ctx.satisfied_tags
            };
            if !offered.contains(&t) {
                return unchanged;
            }
            let mut chosen = chosen.clone();
            match chosen.iter().position(|c| *c == t) {
                Some(i) => {
                    chosen.remove(i);
                }
                None => chosen.push(t),
            }
            Some((
                Stage::Tags {
                    level: *level,
                    chosen,
                },
                Vec::new(),
            ))
        }
        (Stage::Tags { level, chosen }, Input::Next) if level.unsatisfied() => Some((
            Stage::Complaint {
                level: *level,
                chosen: chosen.clone(),
            },
            vec![Effect::StartTyping],
        )),
        (Stage::Tags { level, chosen }, Input::Next) => Some(submit(*level, chosen, false)),
        (Stage::Tags { .. }, Input::Back) => None,
        (Stage::Complaint { level, chosen }, Input::Complained) => {
            Some(submit(*level, chosen, true))
        }
        (Stage::Complaint { level, chosen }, Input::Back) => Some((
            Stage::Tags {
                level: *level,
                chosen: chosen.clone(),
            },
            vec![Effect::StopTyping],
        )),
        (Stage::Thanks, Input::Done | Input::Back) => None,
        _ => unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(s: &'a [String], u: &'a [String]) -> Context<'a> {
        Context {
            satisfied_tags: s,
            unsatisfied_tags: u,
        }
    }

    #[test]
    fn a_good_rating_takes_its_tags_and_submits() {
        let (s, u) = (vec!["fast".to_string()], vec!["slow".to_string()]);
        let c = ctx(&s, &u);
        let stage = start(Level::VerySatisfied);
        let (stage, _) = step(&stage, Input::Tag("fast".into()), &c).unwrap();
        // A tag of the other side is not taken.
        let (stage, _) = step(&stage, Input::Tag("slow".into()), &c).unwrap();
        let (stage, fx) = step(&stage, Input::Next, &c).unwrap();
        assert_eq!(stage, Stage::Thanks);
        assert_eq!(
            fx,
            [
                Effect::StopTyping,
                Effect::Submit {
                    level: Level::VerySatisfied,
                    tags: vec!["fast".into()],
                    complaint: false
                }
            ]
        );
        assert_eq!(step(&stage, Input::Done, &c), None);
        // Touching a tag again takes it back.
        let st = start(Level::Basic);
        let (st, _) = step(&st, Input::Tag("fast".into()), &c).unwrap();
        let (st, _) = step(&st, Input::Tag("fast".into()), &c).unwrap();
        assert_eq!(st, start(Level::Basic));
    }

    #[test]
    fn the_two_lowest_ask_what_went_wrong() {
        let (s, u) = (vec!["fast".to_string()], vec!["slow".to_string()]);
        let c = ctx(&s, &u);
        for level in [Level::Unsatisfied, Level::VeryUnsatisfied] {
            let stage = start(level);
            let (stage, _) = step(&stage, Input::Tag("slow".into()), &c).unwrap();
            let (stage, fx) = step(&stage, Input::Next, &c).unwrap();
            assert!(matches!(stage, Stage::Complaint { .. }));
            assert_eq!(fx, [Effect::StartTyping]);
            // Back keeps the tags and stops the keyboard.
            let (back, fx) = step(&stage, Input::Back, &c).unwrap();
            assert_eq!(
                back,
                Stage::Tags {
                    level,
                    chosen: vec!["slow".into()]
                }
            );
            assert_eq!(fx, [Effect::StopTyping]);
            // "Next" alone is not a complaint: the host sends Complained with words typed.
            assert_eq!(step(&stage, Input::Next, &c).unwrap().0, stage);
            let (done, fx) = step(&stage, Input::Complained, &c).unwrap();
            assert_eq!(done, Stage::Thanks);
            assert!(fx.contains(&Effect::Submit {
                level,
                tags: vec!["slow".into()],
                complaint: true
            }));
        }
        assert!(!Level::Basic.unsatisfied());
        assert_eq!(Level::from_score(2), Some(Level::Unsatisfied));
        assert_eq!(Level::from_score(6), None);
        // Back from the tags leaves the rating unsent.
        assert_eq!(step(&start(Level::Basic), Input::Back, &c), None);
    }
}
