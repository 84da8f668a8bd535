//! The ID card copy as a state machine: the whole way, and a fault or a cancel at every step,
//! each ending on a screen with a way on and the photos dropped when the journey ends.

use kiosk_models::Decision;

use super::*;
use crate::flows::identify::{CardFacts, Input as Login};
use crate::flows::rating::{self, Level};

const CTX: Context = Context {
    login: identify::Context {
        has_reader: true,
        has_scanner: true,
        face: true,
        finger: true,
        agents: false,
    },
    card: CardFacts {
        photo: true,
        fingerprint: true,
    },
    devices: true,
    purposes: 3,
    satisfied_tags: Vec::new(),
    unsatisfied_tags: Vec::new(),
};

fn run(ctx: &Context, inputs: Vec<Input>) -> (Stage, Vec<Effect>) {
    let (mut stage, mut all) = start(ctx);
    for i in inputs {
        let (s, fx) = step(&stage, i, ctx);
        stage = s;
        all.extend(fx);
    }
    (stage, all)
}

fn outcome(fx: &[Effect]) -> Option<Outcome> {
    fx.iter().find_map(|e| match e {
        Effect::Finish(o) => Some(o.clone()),
        _ => None,
    })
}

/// Card, consent, a matching face.
fn logged_in() -> Vec<Input> {
    vec![
        Input::Login(Login::CardRead(Ok(CTX.card))),
        Input::Login(Login::Agree),
        Input::Login(Login::FaceDone(Decision::Verified)),
    ]
}

/// Every input up to the preview of the page for `purpose`.
fn to_preview(purpose: usize) -> Vec<Input> {
    let mut v = logged_in();
    v.extend([
        Input::Capture,
        Input::Captured(Ok(())),
        Input::Capture,
        Input::Captured(Ok(())),
        Input::Purpose(purpose),
        Input::Composed(Ok(())),
    ]);
    v
}

#[test]
fn identify_capture_both_sides_choose_the_use_and_print() {
    let (stage, _) = run(&CTX, logged_in());
    assert_eq!(
        stage,
        Stage::Place {
            side: Side::Front,
            problem: None
        }
    );
    let (stage, fx) = run(&CTX, to_preview(1));
    assert_eq!(stage, Stage::Preview { purpose: 1 });
    let captures: Vec<_> = fx
        .iter()
        .filter(|e| matches!(e, Effect::Capture(_)))
        .collect();
    assert_eq!(
        captures,
        [&Effect::Capture(Side::Front), &Effect::Capture(Side::Back)]
    );
    assert!(fx.contains(&Effect::Compose { purpose: 1 }));
    assert!(fx.contains(&Effect::Login(identify::Effect::Identified(
        identify::Role::Citizen,
        identify::Factor::CardAndFace
    ))));
    assert_eq!(outcome(&fx), None, "the login's end is not the journey's");

    let mut inputs = to_preview(1);
    inputs.extend([Input::Print, Input::Printed(Ok(()))]);
    let (stage, fx) = run(&CTX, inputs.clone());
    assert_eq!(stage, Stage::Printed);
    assert!(
        fx.ends_with(&[Effect::Drop(Side::Front), Effect::Drop(Side::Back)]),
        "the photos go as soon as the copy is out: {fx:?}"
    );
    inputs.push(Input::Done);
    let (_, fx) = run(&CTX, inputs);
    assert!(fx.contains(&Effect::Print { purpose: 1 }));
    assert_eq!(outcome(&fx), Some(Outcome::Printed));
    let tail = &fx[fx.len() - 5..];
    assert!(tail.contains(&Effect::Drop(Side::Front)) && tail.contains(&Effect::Drop(Side::Back)));
}

#[test]
fn printing_only_after_identification() {
    // Whatever reaches the login screens, nothing is captured or printed before a login.
    for i in [
        Input::Capture,
        Input::Purpose(0),
        Input::Print,
        Input::Captured(Ok(())),
        Input::Composed(Ok(())),
        Input::Printed(Ok(())),
        Input::Done,
    ] {
        let (stage, fx) = run(&CTX, vec![i.clone()]);
        assert!(matches!(stage, Stage::Login(_)), "{i:?}");
        assert!(
            !fx.iter().any(|e| matches!(
                e,
                Effect::Capture(_) | Effect::Print { .. } | Effect::Compose { .. }
            )),
            "{i:?}"
        );
    }
    // A failed login ends the journey with its reason, never at the plate.
    let (stage, fx) = run(
        &CTX,
        vec![
            Input::Login(Login::CardRead(Ok(CTX.card))),
            Input::Login(Login::Agree),
            Input::Login(Login::FaceDone(Decision::Spoof)),
        ],
    );
    assert!(matches!(
        stage,
        Stage::Login(identify::Stage::Problem { .. })
    ));
    let (_, fx2) = step(&stage, Input::Back, &CTX);
    assert_eq!(
        outcome(&[fx, fx2].concat()),
        Some(Outcome::NotPrinted {
            problem: "login-go-to-window-spoof".into()
        })
    );
}

#[test]
fn a_side_that_cannot_be_taken_is_asked_for_again() {
    for side_fails in [Side::Front, Side::Back] {
        for problem in [
            CaptureProblem::NoCard,
            CaptureProblem::Camera("offline".into()),
        ] {
            let mut inputs = logged_in();
            if side_fails == Side::Back {
                inputs.extend([Input::Capture, Input::Captured(Ok(()))]);
            }
            inputs.extend([Input::Capture, Input::Captured(Err(problem.clone()))]);
            let (stage, _) = run(&CTX, inputs.clone());
            assert_eq!(
                stage,
                Stage::Place {
                    side: side_fails,
                    problem: Some(problem.clone())
                }
            );
            inputs.extend([Input::Capture, Input::Captured(Ok(()))]);
            let (stage, _) = run(&CTX, inputs);
            let want = match side_fails {
                Side::Front => Stage::Place {
                    side: Side::Back,
                    problem: None,
                },
                Side::Back => Stage::Purpose,
            };
            assert_eq!(stage, want);
        }
    }
}

#[test]
fn back_retakes_the_previous_side_and_the_use_can_change() {
    let mut inputs = logged_in();
    inputs.extend([Input::Capture, Input::Captured(Ok(())), Input::Back]);
    let (stage, fx) = run(&CTX, inputs);
    assert_eq!(
        stage,
        Stage::Place {
            side: Side::Front,
            problem: None
        }
    );
    assert_eq!(fx.last(), Some(&Effect::Drop(Side::Front)));

    let mut inputs = to_preview(2);
    inputs.extend([Input::Back, Input::Purpose(0)]);
    let (stage, fx) = run(&CTX, inputs);
    assert_eq!(stage, Stage::Composing { purpose: 0 });
    assert_eq!(fx.last(), Some(&Effect::Compose { purpose: 0 }));

    // Another use, typed: the keyboard starts, and stops when the use is complete.
    let mut inputs = to_preview(0);
    inputs.extend([Input::Back, Input::TypeUse]);
    let (stage, fx) = run(&CTX, inputs.clone());
    assert_eq!(stage, Stage::TypeUse);
    assert_eq!(fx.last(), Some(&Effect::StartTyping));
    let (s, fx) = step(&stage, Input::UseTyped, &CTX);
    assert_eq!(s, Stage::Composing { purpose: TYPED });
    assert_eq!(fx, [Effect::StopTyping, Effect::Compose { purpose: TYPED }]);
    let (s, fx) = step(&stage, Input::Back, &CTX);
    assert_eq!((s, fx), (Stage::Purpose, vec![Effect::StopTyping]));
    let (_, fx) = step(&stage, Input::Cancel, &CTX);
    assert!(fx.contains(&Effect::StopTyping));
    // "Typed" is not a use to choose without typing.
    assert_eq!(
        step(&Stage::Purpose, Input::Purpose(TYPED), &CTX).0,
        Stage::Purpose
    );

    // A use the hall does not offer is not taken.
    let mut inputs = to_preview(0);
    inputs.extend([Input::Back, Input::Purpose(3)]);
    assert_eq!(run(&CTX, inputs).0, Stage::Purpose);
}

#[test]
fn a_print_fault_offers_another_try_or_a_way_out() {
    for p in [
        PrintProblem::PaperOut,
        PrintProblem::Fault("jam".into()),
        PrintProblem::CoverOpen,
    ] {
        let mut inputs = to_preview(0);
        inputs.extend([Input::Print, Input::Printed(Err(p.clone()))]);
        let (stage, _) = run(&CTX, inputs.clone());
        assert_eq!(
            stage,
            Stage::Problem {
                problem: Problem::Print(p.clone()),
                purpose: Some(0)
            }
        );
        let (s, fx) = step(&stage, Input::Retry, &CTX);
        assert_eq!(s, Stage::Printing { purpose: 0 });
        assert!(fx.contains(&Effect::Print { purpose: 0 }));
        let (_, fx) = step(&stage, Input::Back, &CTX);
        assert_eq!(
            outcome(&fx),
            Some(Outcome::NotPrinted {
                problem: p.code().into()
            })
        );
        assert!(fx.contains(&Effect::Drop(Side::Front)));
    }
    // A page that cannot be made starts the photos again.
    let mut inputs = to_preview(0);
    inputs.truncate(inputs.len() - 1);
    inputs.push(Input::Composed(Err("the front is blank".into())));
    let (stage, _) = run(&CTX, inputs);
    let (s, fx) = step(&stage, Input::Retry, &CTX);
    assert_eq!(
        s,
        Stage::Place {
            side: Side::Front,
            problem: None
        }
    );
    assert!(fx.contains(&Effect::Drop(Side::Back)));
}

#[test]
fn cancel_at_every_step_leaves_with_the_photos_dropped() {
    let mut all = logged_in();
    all.extend(to_preview(0).into_iter().skip(3));
    all.extend([Input::Print, Input::Printed(Ok(()))]);
    for n in 0..=all.len() {
        let (stage, _) = run(&CTX, all[..n].to_vec());
        let (_, fx) = step(&stage, Input::Cancel, &CTX);
        assert_eq!(
            outcome(&fx),
            Some(Outcome::Left),
            "after {n} inputs ({stage:?})"
        );
        if !matches!(stage, Stage::Login(_)) {
            assert!(fx.contains(&Effect::Drop(Side::Front)), "{stage:?}");
            assert!(fx.contains(&Effect::Drop(Side::Back)), "{stage:?}");
            assert!(fx.contains(&Effect::Light(Module::Camera, false)));
        } else {
            assert!(fx.contains(&Effect::Login(identify::Effect::Forget)));
        }
    }
}

#[test]
fn without_its_devices_the_journey_says_so() {
    let ctx = Context {
        devices: false,
        ..CTX
    };
    let (stage, fx) = start(&ctx);
    assert_eq!(
        stage,
        Stage::Problem {
            problem: Problem::Unavailable,
            purpose: None
        }
    );
    assert!(fx.is_empty(), "no login is started for nothing");
    let (_, fx) = step(&stage, Input::Back, &ctx);
    assert_eq!(
        outcome(&fx),
        Some(Outcome::NotPrinted {
            problem: "unavailable".into()
        })
    );
}

#[test]
fn the_service_is_rated_once_after_the_copy() {
    let ctx = Context {
        satisfied_tags: vec!["fast".into()],
        unsatisfied_tags: vec!["slow".into()],
        ..CTX
    };
    let mut inputs = to_preview(0);
    inputs.extend([Input::Print, Input::Printed(Ok(()))]);
    let (printed, _) = run(&ctx, inputs);
    assert_eq!(printed, Stage::Printed);
    // Leaving the tags unrated goes back to the last screen.
    let (s, _) = step(&printed, Input::Rate(Level::Satisfied), &ctx);
    assert_eq!(step(&s, Input::Back, &ctx).0, Stage::Printed);
    // 非常不满意 with a tag and a complaint.
    let (s, _) = step(&printed, Input::Rate(Level::VeryUnsatisfied), &ctx);
    let (s, _) = step(&s, Input::Rating(rating::Input::Tag("slow".into())), &ctx);
    let (s, fx) = step(&s, Input::Rating(rating::Input::Next), &ctx);
    assert_eq!(fx, [Effect::Rating(rating::Effect::StartTyping)]);
    let (thanks, fx) = step(&s, Input::Rating(rating::Input::Complained), &ctx);
    assert!(fx.contains(&Effect::Rating(rating::Effect::Submit {
        level: Level::VeryUnsatisfied,
        tags: vec!["slow".into()],
        complaint: true
    })));
    // Once rated, "done" ends the journey; nothing rates twice.
    let (_, fx) = step(&thanks, Input::Done, &ctx);
    assert_eq!(outcome(&fx), Some(Outcome::Printed));
    assert!(!fx
        .iter()
        .any(|e| matches!(e, Effect::Rating(rating::Effect::Submit { .. }))));
}
