//! Printing papers as a state machine: licences by card and face to a print, a proof with its
//! period, nothing found, the centre away, a paper that cannot be made, the printer failing —
//! and cancel at every step.

use kiosk_models::Decision;

use super::*;
use crate::flows::identify::Input as Login;

fn ctx(proof: bool) -> Context {
    Context {
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
        can_print: true,
        identified: false,
        proof,
        months: if proof { vec![0, 6, 12] } else { vec![] },
        count: 3,
        printed: 0,
    }
}

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

fn logged_in(c: &Context) -> (Stage, Vec<Effect>) {
    run(
        c,
        vec![
            Input::Login(Login::CardRead(Ok(c.card))),
            Input::Login(Login::Agree),
            Input::Login(Login::FaceDone(Decision::Verified)),
        ],
    )
}

#[test]
fn licences_list_one_opened_and_printed_then_back_to_the_list() {
    let c = ctx(false);
    let (stage, fx) = logged_in(&c);
    assert_eq!(stage, Stage::Looking);
    assert!(fx.contains(&Effect::LookUp { months: 0 }));
    let (list, _) = step(&stage, Input::Found(Ok(3)), &c);
    assert_eq!(list, Stage::List);
    assert_eq!(step(&list, Input::Open(3), &c).0, list, "no fourth licence");
    let (opening, fx) = step(&list, Input::Open(1), &c);
    assert_eq!(fx, vec![Effect::Render { at: 1 }]);
    let (preview, _) = step(&opening, Input::Opened(Ok(())), &c);
    assert_eq!(
        preview,
        Stage::Preview {
            at: 1,
            printed: false
        }
    );
    let (printing, fx) = step(&preview, Input::Print, &c);
    assert!(fx.contains(&Effect::Print { at: 1 }));
    assert!(printing.waits());
    let (printed, _) = step(&printing, Input::Printed(Ok(())), &c);
    assert_eq!(
        printed,
        Stage::Preview {
            at: 1,
            printed: true
        }
    );
    let (back, fx) = step(&printed, Input::Back, &c);
    assert_eq!(back, Stage::List);
    assert_eq!(outcome(&fx), None);
    let done = Context { printed: 1, ..c };
    let (_, fx) = step(&back, Input::Done, &done);
    assert_eq!(outcome(&fx), Some(Outcome::Seen { printed: 1 }));
}

#[test]
fn a_proof_asks_the_period_then_opens_straight_away() {
    let c = ctx(true);
    let (stage, _) = logged_in(&c);
    assert_eq!(stage, Stage::Months);
    assert_eq!(
        step(&stage, Input::Months(7), &c).0,
        Stage::Months,
        "not offered"
    );
    let (looking, fx) = step(&stage, Input::Months(6), &c);
    assert_eq!(fx, vec![Effect::LookUp { months: 6 }]);
    let (opening, fx) = step(&looking, Input::Found(Ok(1)), &c);
    assert_eq!(opening, Stage::Opening { at: 0 });
    assert_eq!(fx, vec![Effect::Render { at: 0 }]);
    let (preview, _) = step(&opening, Input::Opened(Ok(())), &c);
    let (_, fx) = step(&preview, Input::Back, &c);
    assert_eq!(
        outcome(&fx),
        Some(Outcome::Seen { printed: 0 }),
        "back leaves a proof"
    );
    // A proof without records has no period to choose.
    let summary = Context {
        months: vec![],
        ..c
    };
    assert_eq!(logged_in(&summary).0, Stage::Looking);
}

#[test]
fn problems_say_what_happened_and_retry_where_it_helps() {
    let c = ctx(false);
    let (looking, _) = logged_in(&c);
    let (none, _) = step(&looking, Input::Found(Ok(0)), &c);
    assert_eq!(
        none,
        Stage::Problem {
            problem: Problem::NoneFound,
            at: None
        }
    );
    let (_, fx) = step(&none, Input::Done, &c);
    assert_eq!(
        outcome(&fx),
        Some(Outcome::NotSeen {
            problem: "none-found".into()
        })
    );
    let (away, _) = step(&looking, Input::Found(Err(LookupProblem::CentreAway)), &c);
    let (again, fx) = step(&away, Input::Retry, &c);
    assert_eq!(again, Stage::Looking);
    assert!(fx.contains(&Effect::LookUp { months: 0 }));

    let (bad, _) = step(
        &Stage::Opening { at: 2 },
        Input::Opened(Err("font".into())),
        &c,
    );
    assert_eq!(bad.screen(), "papers-problem");
    assert_eq!(
        step(&bad, Input::Retry, &c).1,
        vec![Effect::Render { at: 2 }]
    );
    assert_eq!(step(&bad, Input::Back, &c).0, Stage::List);

    let jam = PrintProblem::Fault("paper jam".into());
    let (failed, fx) = step(&Stage::Printing { at: 0 }, Input::Printed(Err(jam)), &c);
    assert!(fx.contains(&Effect::Light(Module::Printer, false)));
    let (retried, fx) = step(&failed, Input::Retry, &c);
    assert_eq!(retried, Stage::Printing { at: 0 });
    assert!(fx.contains(&Effect::Print { at: 0 }));

    // No A4 printer: said at once, nothing asked of the citizen.
    let none = Context {
        can_print: false,
        ..c
    };
    let (s, fx) = start(&none);
    assert_eq!(
        s,
        Stage::Problem {
            problem: Problem::Unavailable,
            at: None
        }
    );
    assert!(fx.is_empty());
}

#[test]
fn cancel_at_every_step_finishes_and_turns_the_printer_light_off() {
    for proof in [false, true] {
        let c = ctx(proof);
        let stages = [
            Stage::Months,
            Stage::Looking,
            Stage::List,
            Stage::Opening { at: 0 },
            Stage::Preview {
                at: 0,
                printed: true,
            },
            Stage::Printing { at: 0 },
            Stage::Problem {
                problem: Problem::CentreAway,
                at: None,
            },
        ];
        for s in stages {
            let (_, fx) = step(&s, Input::Cancel, &c);
            assert!(outcome(&fx).is_some(), "{s:?}");
            assert!(fx.contains(&Effect::Light(Module::Printer, false)), "{s:?}");
        }
        // Cancel during the login leaves the journey too.
        let (s, _) = start(&c);
        let (_, fx) = step(&s, Input::Cancel, &c);
        assert!(outcome(&fx).is_some());
    }
}

#[test]
fn a_late_answer_for_another_step_changes_nothing() {
    let c = ctx(false);
    for (s, i) in [
        (Stage::List, Input::Found(Ok(2))),
        (Stage::List, Input::Printed(Ok(()))),
        (
            Stage::Preview {
                at: 0,
                printed: false,
            },
            Input::Opened(Ok(())),
        ),
        (Stage::Looking, Input::Print),
    ] {
        assert_eq!(step(&s, i, &c), (s.clone(), Vec::new()));
    }
}
