//! The login as a state machine: every path, and every fault at every step, each ending on a
//! defined screen with a way on.

use kiosk_models::{Decision, Prompt};

use super::*;

const ALL: Context = Context {
    has_reader: true,
    has_scanner: true,
    face: true,
    finger: true,
    agents: true,
};

const FULL_CARD: CardFacts = CardFacts {
    photo: true,
    fingerprint: true,
};

/// Runs `inputs` from the start; the last stage and every effect.
fn run(ctx: &Context, card: CardFacts, inputs: Vec<Input>) -> (Stage, Vec<Effect>) {
    let (mut stage, mut all) = start(ctx);
    for i in inputs {
        let (s, fx) = step(&stage, i, ctx, card);
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

fn card() -> Input {
    Input::CardRead(Ok(FULL_CARD))
}

#[test]
fn card_consent_face_identifies_the_citizen() {
    let (stage, fx) = run(&ALL, FULL_CARD, vec![card()]);
    assert_eq!(
        stage,
        Stage::Consent {
            role: Role::Citizen
        }
    );
    assert!(
        !fx.contains(&Effect::VerifyFace(Role::Citizen)),
        "no camera before consent"
    );
    let (_, fx) = run(
        &ALL,
        FULL_CARD,
        vec![
            card(),
            Input::Agree,
            Input::FacePrompt(Prompt::ComeCloser),
            Input::FaceDone(Decision::Verified),
        ],
    );
    assert!(fx.contains(&Effect::VerifyFace(Role::Citizen)));
    assert!(fx.contains(&Effect::Identified(Role::Citizen, Factor::CardAndFace)));
    assert_eq!(outcome(&fx), Some(Outcome::Identified { agent: false }));
}

#[test]
fn prompts_from_the_face_service_reach_the_screen() {
    let (stage, _) = run(
        &ALL,
        FULL_CARD,
        vec![card(), Input::Agree, Input::FacePrompt(Prompt::HoldStill)],
    );
    assert_eq!(
        stage,
        Stage::Face {
            role: Role::Citizen,
            attempt: 1,
            prompt: Prompt::HoldStill
        }
    );
}

#[test]
fn use_fingerprint_instead_works_from_every_face_screen() {
    for path in [
        vec![card(), Input::UseFingerprint],
        vec![card(), Input::Agree, Input::UseFingerprint],
        vec![
            card(),
            Input::Agree,
            Input::FaceDone(Decision::NotVerified),
            Input::UseFingerprint,
        ],
    ] {
        let (stage, fx) = run(&ALL, FULL_CARD, path.clone());
        assert_eq!(
            stage,
            Stage::Finger {
                role: Role::Citizen,
                attempt: 1,
                missed: false
            },
            "{path:?}"
        );
        assert!(fx.contains(&Effect::VerifyFinger(Role::Citizen)));
        let (_, fx) = run(
            &ALL,
            FULL_CARD,
            [path, vec![Input::FingerDone(Ok(true))]].concat(),
        );
        assert!(fx.contains(&Effect::Identified(
            Role::Citizen,
            Factor::CardAndFingerprint
        )));
        assert_eq!(outcome(&fx), Some(Outcome::Identified { agent: false }));
    }
}

#[test]
fn face_failing_twice_leads_to_fingerprint_and_once_offers_a_retry() {
    let (stage, _) = run(
        &ALL,
        FULL_CARD,
        vec![card(), Input::Agree, Input::FaceDone(Decision::NotVerified)],
    );
    assert_eq!(
        stage,
        Stage::FaceFailed {
            role: Role::Citizen,
            attempt: 1
        }
    );
    for second in [
        Decision::NotVerified,
        Decision::NoFace,
        Decision::SeveralFaces,
    ] {
        let (stage, fx) = run(
            &ALL,
            FULL_CARD,
            vec![
                card(),
                Input::Agree,
                Input::FaceDone(Decision::NoFace),
                Input::Retry,
                Input::FaceDone(second),
            ],
        );
        assert!(
            matches!(stage, Stage::Finger { attempt: 1, .. }),
            "{second:?}"
        );
        assert_eq!(
            fx.iter()
                .filter(|e| **e == Effect::VerifyFace(Role::Citizen))
                .count(),
            2
        );
    }
    // Without a fingerprint module, two failures send the citizen to a window.
    let no_finger = Context {
        finger: false,
        ..ALL
    };
    let (stage, _) = run(
        &no_finger,
        FULL_CARD,
        vec![
            card(),
            Input::Agree,
            Input::FaceDone(Decision::NotVerified),
            Input::Retry,
            Input::FaceDone(Decision::NotVerified),
        ],
    );
    assert_eq!(
        stage,
        Stage::Problem {
            role: Role::Citizen,
            problem: Problem::GoToWindow(WhyWindow::FaceFailed)
        }
    );
}

#[test]
fn without_face_the_fingerprint_is_the_path_and_without_both_a_window() {
    let no_face = Context { face: false, ..ALL };
    let (stage, _) = run(&no_face, FULL_CARD, vec![card()]);
    assert!(matches!(stage, Stage::Finger { .. }));
    // The models or the camera went away during the check.
    let (stage, _) = run(
        &ALL,
        FULL_CARD,
        vec![card(), Input::Agree, Input::FaceDone(Decision::Unavailable)],
    );
    assert!(matches!(stage, Stage::Finger { .. }));
    // A card without a readable photo, on a terminal with no fingerprint module.
    let bare = CardFacts {
        photo: false,
        fingerprint: true,
    };
    let no_finger = Context {
        finger: false,
        ..ALL
    };
    let (stage, fx) = run(&no_finger, bare, vec![Input::CardRead(Ok(bare))]);
    assert_eq!(
        stage,
        Stage::Problem {
            role: Role::Citizen,
            problem: Problem::GoToWindow(WhyWindow::NoSecondFactor)
        }
    );
    assert!(fx.contains(&Effect::Forget));
    // A card that carries no fingerprint: face or a window.
    let no_print = CardFacts {
        photo: true,
        fingerprint: false,
    };
    let (stage, _) = run(
        &ALL,
        no_print,
        vec![Input::CardRead(Ok(no_print)), Input::UseFingerprint],
    );
    assert!(matches!(
        stage,
        Stage::Problem {
            problem: Problem::GoToWindow(WhyWindow::NoSecondFactor),
            ..
        }
    ));
}

#[test]
fn a_spoof_goes_to_a_window_at_once() {
    let (stage, _) = run(
        &ALL,
        FULL_CARD,
        vec![card(), Input::Agree, Input::FaceDone(Decision::Spoof)],
    );
    assert_eq!(
        stage,
        Stage::Problem {
            role: Role::Citizen,
            problem: Problem::GoToWindow(WhyWindow::Spoof)
        }
    );
    // And there is no "try again" from it.
    let (same, fx) = step(&stage, Input::Retry, &ALL, FULL_CARD);
    assert_eq!((same, fx), (stage, Vec::new()));
}

#[test]
fn fingerprints_get_three_tries_and_an_empty_sensor_is_not_a_miss() {
    let to_finger = vec![card(), Input::UseFingerprint];
    let (stage, fx) = run(
        &ALL,
        FULL_CARD,
        [
            to_finger.clone(),
            vec![Input::FingerDone(Err(FingerProblem::NoFinger))],
        ]
        .concat(),
    );
    assert_eq!(
        stage,
        Stage::Finger {
            role: Role::Citizen,
            attempt: 1,
            missed: false
        }
    );
    assert_eq!(
        fx.iter()
            .filter(|e| **e == Effect::VerifyFinger(Role::Citizen))
            .count(),
        2
    );
    let (stage, _) = run(
        &ALL,
        FULL_CARD,
        [to_finger.clone(), vec![Input::FingerDone(Ok(false))]].concat(),
    );
    assert_eq!(
        stage,
        Stage::Finger {
            role: Role::Citizen,
            attempt: 2,
            missed: true
        }
    );
    let (stage, _) = run(
        &ALL,
        FULL_CARD,
        [to_finger.clone(), vec![Input::FingerDone(Ok(false)); 3]].concat(),
    );
    assert_eq!(
        stage,
        Stage::Problem {
            role: Role::Citizen,
            problem: Problem::GoToWindow(WhyWindow::FingerFailed)
        }
    );
    let (stage, _) = run(
        &ALL,
        FULL_CARD,
        [
            to_finger,
            vec![Input::FingerDone(Err(FingerProblem::Module(
                "offline".into(),
            )))],
        ]
        .concat(),
    );
    assert!(matches!(
        stage,
        Stage::Problem {
            problem: Problem::GoToWindow(WhyWindow::FingerUnavailable),
            ..
        }
    ));
}

#[test]
fn an_eid_code_identifies_alone_and_each_refusal_says_why() {
    let (_, fx) = run(&ALL, FULL_CARD, vec![Input::Code(Ok(()))]);
    assert!(fx.contains(&Effect::Identified(Role::Citizen, Factor::Eid)));
    assert!(!fx.iter().any(|e| matches!(e, Effect::VerifyFace(_))));
    assert_eq!(outcome(&fx), Some(Outcome::Identified { agent: false }));
    for refusal in [
        EidError::Forged,
        EidError::Expired,
        EidError::Replayed,
        EidError::UnknownIssuer("x".into()),
        EidError::NoPool,
        EidError::Malformed("payload"),
    ] {
        let (stage, fx) = run(&ALL, FULL_CARD, vec![Input::Code(Err(refusal.clone()))]);
        assert_eq!(
            stage,
            Stage::Problem {
                role: Role::Citizen,
                problem: Problem::Eid(refusal.clone())
            }
        );
        assert!(fx.contains(&Effect::StopWaiting));
        let (again, fx) = step(&stage, Input::Retry, &ALL, FULL_CARD);
        assert_eq!(
            again,
            Stage::Present {
                role: Role::Citizen
            }
        );
        assert!(fx.contains(&Effect::WaitForCard) && fx.contains(&Effect::WaitForCode));
    }
    let (stage, _) = run(&ALL, FULL_CARD, vec![Input::Code(Err(EidError::NotAnEid))]);
    assert!(matches!(
        stage,
        Stage::Problem {
            problem: Problem::NotAnEid,
            ..
        }
    ));
}

#[test]
fn an_agent_identifies_then_the_principals_card_is_read() {
    let (stage, fx) = run(
        &ALL,
        FULL_CARD,
        vec![
            Input::ForSomeoneElse,
            card(),
            Input::Agree,
            Input::FaceDone(Decision::Verified),
        ],
    );
    assert_eq!(stage, Stage::Principal);
    assert!(fx.contains(&Effect::Identified(Role::Agent, Factor::CardAndFace)));
    assert_eq!(outcome(&fx), None, "not done before the principal's card");
    let (_, fx) = step(&stage, card(), &ALL, FULL_CARD);
    assert!(fx.contains(&Effect::PrincipalRead));
    assert_eq!(outcome(&fx), Some(Outcome::Identified { agent: true }));
    // The principal's card turned out to be the agent's own: asked again, agent kept.
    let (problem_stage, fx) = same_person();
    assert!(!fx.contains(&Effect::Forget));
    let (again, fx) = step(&problem_stage, Input::Retry, &ALL, FULL_CARD);
    assert_eq!(again, Stage::Principal);
    assert!(fx.contains(&Effect::WaitForCard));
    // Agents by e-ID too.
    let (stage, _) = run(
        &ALL,
        FULL_CARD,
        vec![Input::ForSomeoneElse, Input::Code(Ok(()))],
    );
    assert_eq!(stage, Stage::Principal);
    // A hall that does not allow agents at the terminal ignores the button.
    let no_agents = Context {
        agents: false,
        ..ALL
    };
    let (stage, _) = run(&no_agents, FULL_CARD, vec![Input::ForSomeoneElse]);
    assert_eq!(
        stage,
        Stage::Present {
            role: Role::Citizen
        }
    );
}

/// Every stage the login can be on, with the card facts that lead there.
fn every_stage() -> Vec<(Stage, Vec<Input>)> {
    vec![
        (
            Stage::Present {
                role: Role::Citizen,
            },
            vec![],
        ),
        (
            Stage::Present { role: Role::Agent },
            vec![Input::ForSomeoneElse],
        ),
        (
            Stage::Consent {
                role: Role::Citizen,
            },
            vec![card()],
        ),
        (
            Stage::Face {
                role: Role::Citizen,
                attempt: 1,
                prompt: Prompt::LookAtCamera,
            },
            vec![card(), Input::Agree],
        ),
        (
            Stage::FaceFailed {
                role: Role::Citizen,
                attempt: 1,
            },
            vec![card(), Input::Agree, Input::FaceDone(Decision::NoFace)],
        ),
        (
            Stage::Finger {
                role: Role::Citizen,
                attempt: 1,
                missed: false,
            },
            vec![card(), Input::UseFingerprint],
        ),
        (
            Stage::Principal,
            vec![Input::ForSomeoneElse, Input::Code(Ok(()))],
        ),
    ]
}

/// Every device fault and refusal, at every stage: the login ends on a defined screen (the
/// same one, or a problem screen) and from there "back" or "cancel" always leads out, with
/// the camera, the finger sensor and the waits stopped and the identities forgotten.
#[test]
fn every_fault_at_every_step_ends_on_a_screen_with_a_way_on() {
    let faults = vec![
        Input::CardRead(Err(CardProblem::Moved)),
        Input::CardRead(Err(CardProblem::Unreadable("crc".into()))),
        Input::CardRead(Err(CardProblem::Expired("2020-01-01".into()))),
        Input::CardRead(Err(CardProblem::ReaderFault("offline".into()))),
        Input::CardRead(Err(CardProblem::Busy("admin".into()))),
        Input::CardRead(Err(CardProblem::NoCard)),
        Input::CardRead(Err(CardProblem::Canceled)),
        Input::Code(Err(EidError::Forged)),
        Input::Code(Err(EidError::NotAnEid)),
        Input::FaceDone(Decision::Unavailable),
        Input::FaceDone(Decision::Spoof),
        Input::FaceDone(Decision::SeveralFaces),
        Input::FaceDone(Decision::NoFace),
        Input::FingerDone(Err(FingerProblem::Module("gone".into()))),
        Input::FingerDone(Err(FingerProblem::NoFinger)),
        Input::FingerDone(Ok(false)),
    ];
    for (want, path) in every_stage() {
        let (stage, _) = run(&ALL, FULL_CARD, path.clone());
        assert_eq!(stage, want, "{path:?}");
        for fault in &faults {
            let (after, _) = step(&stage, fault.clone(), &ALL, FULL_CARD);
            let (_, fx) = step(&after, Input::Cancel, &ALL, FULL_CARD);
            assert_eq!(
                outcome(&fx),
                Some(Outcome::Left),
                "{stage:?} + {fault:?} → {after:?}: cancel leads out"
            );
            for must in [
                Effect::StopFace,
                Effect::StopFinger,
                Effect::StopWaiting,
                Effect::Forget,
            ] {
                assert!(fx.contains(&must), "{after:?}: cancel without {must:?}");
            }
            // Back from a problem screen also leads out, naming the problem.
            if let Stage::Problem { problem, .. } = &after {
                let (_, fx) = step(&after, Input::Back, &ALL, FULL_CARD);
                assert_eq!(
                    outcome(&fx),
                    Some(Outcome::NotIdentified {
                        problem: problem.code()
                    }),
                    "{after:?}"
                );
            }
        }
    }
}

/// A result that arrives after the citizen moved on (a face decision after "use fingerprint
/// instead", a card read on the consent screen) changes nothing.
#[test]
fn late_results_change_nothing() {
    let (finger, _) = run(
        &ALL,
        FULL_CARD,
        vec![card(), Input::Agree, Input::UseFingerprint],
    );
    for late in [
        Input::FaceDone(Decision::Verified),
        Input::FacePrompt(Prompt::HoldStill),
        card(),
        Input::Code(Ok(())),
    ] {
        assert_eq!(
            step(&finger, late.clone(), &ALL, FULL_CARD),
            (finger.clone(), Vec::new()),
            "{late:?}"
        );
    }
    let (consent, _) = run(&ALL, FULL_CARD, vec![card()]);
    assert_eq!(
        step(&consent, Input::FingerDone(Ok(true)), &ALL, FULL_CARD),
        (consent.clone(), Vec::new())
    );
}

#[test]
fn a_terminal_without_reader_or_scanner_says_so() {
    let none = Context {
        has_reader: false,
        has_scanner: false,
        ..ALL
    };
    let (stage, _) = start(&none);
    assert!(matches!(
        stage,
        Stage::Problem {
            problem: Problem::CannotIdentifyHere,
            ..
        }
    ));
}
