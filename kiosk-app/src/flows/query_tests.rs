//! The case look-up as a state machine: by card to the list and a case, by number and
//! password straight to the case, a wrong password, the centre away, the slip printed or not.

use kiosk_models::Decision;

use super::*;
use crate::flows::identify::Input as Login;

fn ctx(identified: bool) -> Context {
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
        identified,
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

#[test]
fn by_card_the_list_a_case_and_its_slip() {
    let c = ctx(true);
    let (stage, fx) = run(
        &c,
        vec![
            Input::ByCard,
            Input::Login(Login::CardRead(Ok(c.card))),
            Input::Login(Login::Agree),
            Input::Login(Login::FaceDone(Decision::Verified)),
        ],
    );
    assert_eq!(stage, Stage::Looking);
    assert!(fx.contains(&Effect::LookUpMine));
    let (list, _) = step(&stage, Input::Found(Ok(3)), &c);
    assert_eq!(list, Stage::List { count: 3 });
    let (nothing, _) = step(&list, Input::Open(3), &c);
    assert_eq!(nothing, list, "no fourth case");
    let (detail, _) = step(&list, Input::Open(1), &c);
    assert_eq!(
        detail,
        Stage::Detail {
            at: 1,
            printed: false
        }
    );
    let (printing, fx) = step(&detail, Input::Print, &c);
    assert!(fx.contains(&Effect::Print { at: 1 }));
    let (printed, _) = step(&printing, Input::Printed(Ok(())), &c);
    assert_eq!(
        printed,
        Stage::Detail {
            at: 1,
            printed: true
        }
    );
    let (back, fx) = step(&printed, Input::Back, &c);
    assert_eq!(back, Stage::Looking, "back to the list, looked up again");
    assert!(fx.contains(&Effect::LookUpMine));
    let (_, fx) = step(&printed, Input::Done, &c);
    assert_eq!(outcome(&fx), Some(Outcome::Seen { printed: true }));
}

#[test]
fn by_number_and_password_straight_to_the_case() {
    let c = ctx(false);
    let (stage, fx) = run(&c, vec![Input::ByNumber, Input::Next, Input::Next]);
    assert_eq!(stage, Stage::Looking);
    assert!(fx.contains(&Effect::KeepNumber));
    assert!(fx.contains(&Effect::StartTyping { password: true }));
    assert!(fx.contains(&Effect::LookUpByNumber));
    let (detail, _) = step(&stage, Input::Found(Ok(1)), &c);
    assert_eq!(
        detail,
        Stage::Detail {
            at: 0,
            printed: false
        }
    );
    let (_, fx) = step(&detail, Input::Back, &c);
    assert_eq!(outcome(&fx), Some(Outcome::Seen { printed: false }));
}

#[test]
fn a_wrong_password_asks_again_and_the_centre_away_says_so() {
    let c = ctx(false);
    let (stage, _) = run(
        &c,
        vec![
            Input::ByNumber,
            Input::Next,
            Input::Next,
            Input::Found(Err(LookupProblem::NotFound)),
        ],
    );
    assert_eq!(
        stage,
        Stage::Problem {
            problem: Problem::NotFound,
            at: None
        }
    );
    let (again, fx) = step(&stage, Input::Retry, &c);
    assert_eq!(again, Stage::Number);
    assert!(fx.contains(&Effect::StartTyping { password: false }));
    let (away, _) = step(
        &Stage::Looking,
        Input::Found(Err(LookupProblem::CentreAway)),
        &c,
    );
    assert_eq!(away.screen(), "query-problem");
    let (_, fx) = step(&away, Input::Done, &c);
    assert_eq!(
        outcome(&fx),
        Some(Outcome::NotSeen {
            problem: "centre-away".into()
        })
    );
}

#[test]
fn a_failed_slip_goes_back_to_the_case_and_can_be_tried_again() {
    let c = ctx(true);
    let detail = Stage::Detail {
        at: 0,
        printed: false,
    };
    let (printing, _) = step(&detail, Input::Print, &c);
    let (failed, fx) = step(&printing, Input::Printed(Err(PrintProblem::PaperOut)), &c);
    assert!(fx.contains(&Effect::Light(Module::Printer, false)));
    assert_eq!(failed.screen(), "query-problem");
    let (retry, fx) = step(&failed, Input::Retry, &c);
    assert_eq!(retry, Stage::Printing { at: 0 });
    assert!(fx.contains(&Effect::Print { at: 0 }));
    let (back, _) = step(&failed, Input::Back, &c);
    assert_eq!(back, detail);
    let mut no_printer = ctx(true);
    no_printer.can_print = false;
    let (same, fx) = step(&detail, Input::Print, &no_printer);
    assert_eq!(same, detail);
    assert!(fx.is_empty());
}

#[test]
fn leaving_the_login_goes_back_to_the_choice_and_cancel_anywhere_leaves() {
    let c = ctx(false);
    let (stage, _) = run(&c, vec![Input::ByCard, Input::Back]);
    assert_eq!(stage, Stage::How);
    for s in [
        Stage::How,
        Stage::Number,
        Stage::Password,
        Stage::Looking,
        Stage::List { count: 2 },
        Stage::Detail {
            at: 0,
            printed: false,
        },
    ] {
        let (_, fx) = step(&s, Input::Cancel, &c);
        assert!(outcome(&fx).is_some(), "{s:?}");
        assert!(fx.contains(&Effect::StopTyping));
    }
    let (_, fx) = step(&Stage::Printing { at: 0 }, Input::Cancel, &c);
    assert!(fx.is_empty(), "a slip being printed is waited for");
}
