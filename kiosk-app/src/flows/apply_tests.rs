//! The application as a state machine: the whole way, and a fault or a cancel at every step,
//! each ending on a screen with a way on; once filed, no way out loses the filing.

use kiosk_models::Decision;

use super::*;
use crate::flows::identify::Input as Login;

fn ctx() -> Context {
    Context {
        login: identify::Context {
            has_reader: true,
            has_scanner: true,
            face: true,
            finger: true,
            agents: true,
        },
        card: CardFacts {
            photo: true,
            fingerprint: true,
        },
        // Name (typed), sex (two options), mobile (typed).
        fields: vec![
            FieldShape { options: 0 },
            FieldShape { options: 2 },
            FieldShape { options: 0 },
        ],
        pickups: vec![Pickup::Window, Pickup::Mail, Pickup::Locker],
        captures: vec![PagesWanted {
            min: 2,
            max: 2,
            have: 0,
        }],
        devices: true,
        not_here: false,
        licences: false,
        licences_ready: true,
        satisfied_tags: vec!["态度好".into()],
        unsatisfied_tags: vec!["等待久".into()],
    }
}

fn filed() -> Filed {
    Filed {
        local_ref: "2026120312345678".into(),
        case_number: Some("20261203000001".into()),
    }
}

/// Runs the inputs; `have` follows the `Captured(Ok)` and `DeletePage` inputs as the host's
/// session would.
fn run(ctx: &mut Context, inputs: Vec<Input>) -> (Stage, Vec<Effect>) {
    let (mut stage, mut all) = start(ctx);
    for i in inputs {
        let page_change = match (&stage, &i) {
            (Stage::Capturing { at }, Input::Captured(Ok(()))) => Some((*at, 1i32)),
            (Stage::Pages { at, .. }, Input::DeletePage(p))
                if (*p as u32) < ctx.captures[*at].have =>
            {
                Some((*at, -1))
            }
            _ => None,
        };
        let (s, fx) = step(&stage, i, ctx);
        if let Some((at, d)) = page_change {
            let have = &mut ctx.captures[at].have;
            *have = (*have as i32 + d) as u32;
        }
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

fn logged_in() -> Vec<Input> {
    vec![
        Input::Login(Login::CardRead(Ok(CardFacts {
            photo: true,
            fingerprint: true,
        }))),
        Input::Login(Login::Agree),
        Input::Login(Login::FaceDone(Decision::Verified)),
    ]
}

fn form_done() -> Vec<Input> {
    let mut v = logged_in();
    v.extend([
        Input::Next,
        Input::FieldChecked(Ok(())),
        Input::Choose(1),
        Input::FieldChecked(Ok(())),
        Input::Next,
        Input::FieldChecked(Ok(())),
    ]);
    v
}

fn to_sign() -> Vec<Input> {
    let mut v = form_done();
    v.extend([
        Input::Choose(0),
        Input::Capture,
        Input::Captured(Ok(())),
        Input::Capture,
        Input::Captured(Ok(())),
        Input::Next,
        Input::Next,
    ]);
    v
}

fn to_submitted() -> Vec<Input> {
    let mut v = to_sign();
    v.extend([
        Input::Next,
        Input::SignChecked(Ok(())),
        Input::Submitted(Ok(filed())),
    ]);
    v
}

#[test]
fn the_whole_way_from_login_to_rating() {
    let mut c = ctx();
    let mut inputs = to_submitted();
    inputs.extend([
        Input::Print,
        Input::Printed(Ok(())),
        Input::Rate(Level::VerySatisfied),
        Input::Rating(rating::Input::Next),
    ]);
    let (stage, fx) = run(&mut c, inputs);
    assert_eq!(stage.screen(), "rating-thanks", "{stage:?}");
    let wanted = [
        Effect::EditField { at: 0 },
        Effect::CheckField { at: 0 },
        Effect::ChooseOption { at: 1, option: 1 },
        Effect::EditField { at: 2 },
        Effect::KeepPickup(Pickup::Window),
        Effect::Capture { at: 0 },
        Effect::ClearSignature,
        Effect::CheckSignature,
        Effect::Submit,
        Effect::PrintReceipt { filed: filed() },
    ];
    for w in wanted {
        assert!(fx.contains(&w), "missing {w:?}");
    }
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Rating(rating::Effect::Submit { .. }))));
    let (_, end) = step(&stage, Input::Done, &c);
    assert_eq!(
        outcome(&end),
        Some(Outcome::Filed {
            local_ref: "2026120312345678".into()
        })
    );
}

#[test]
fn a_refused_field_stays_with_its_reason_and_back_walks_the_form() {
    let mut c = ctx();
    let mut inputs = logged_in();
    inputs.extend([Input::Next, Input::FieldChecked(Err(FieldError::Missing))]);
    let (stage, _) = run(&mut c, inputs.clone());
    assert_eq!(
        stage,
        Stage::Form {
            at: 0,
            problem: Some(FieldError::Missing)
        }
    );
    // An option the field does not have is no answer.
    inputs.extend([Input::FieldChecked(Ok(())), Input::Choose(7)]);
    let (stage, fx) = run(&mut c, inputs.clone());
    assert_eq!(
        stage,
        Stage::Form {
            at: 1,
            problem: None
        }
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::ChooseOption { .. })));
    inputs.push(Input::Back);
    let (stage, fx) = run(&mut c, inputs.clone());
    assert_eq!(
        stage,
        Stage::Form {
            at: 0,
            problem: None
        }
    );
    assert_eq!(fx.last(), Some(&Effect::EditField { at: 0 }));
    inputs.push(Input::Back);
    let (_, fx) = run(&mut c, inputs);
    assert_eq!(outcome(&fx), Some(Outcome::Left));
}

#[test]
fn post_asks_for_an_address_and_a_bad_one_is_refused() {
    let mut c = ctx();
    let mut inputs = form_done();
    inputs.extend([Input::Choose(1)]);
    let (stage, fx) = run(&mut c, inputs.clone());
    assert_eq!(stage, Stage::Address { problem: None });
    assert!(fx.contains(&Effect::KeepPickup(Pickup::Mail)));
    assert!(fx.contains(&Effect::EditAddress));
    inputs.extend([
        Input::Next,
        Input::FieldChecked(Err(FieldError::TooShort(8))),
    ]);
    let (stage, _) = run(&mut c, inputs.clone());
    assert_eq!(
        stage,
        Stage::Address {
            problem: Some(FieldError::TooShort(8))
        }
    );
    inputs.extend([Input::Next, Input::FieldChecked(Ok(()))]);
    let (stage, _) = run(&mut c, inputs.clone());
    assert_eq!(
        stage,
        Stage::Pages {
            at: 0,
            problem: None
        }
    );
    inputs.extend([Input::Back, Input::Back]);
    let (stage, _) = run(&mut c, inputs);
    assert_eq!(
        stage,
        Stage::Form {
            at: 2,
            problem: None
        },
        "back to the form's last field"
    );
}

#[test]
fn pages_need_their_count_a_failed_capture_says_why_and_pages_can_go() {
    let mut inputs = form_done();
    inputs.extend([
        Input::Choose(0),
        Input::Capture,
        Input::Captured(Ok(())),
        Input::Next,
    ]);
    let (stage, _) = run(&mut ctx(), inputs.clone());
    assert_eq!(
        stage,
        Stage::Pages {
            at: 0,
            problem: None
        },
        "one page of two is not enough to go on"
    );
    inputs.extend([Input::Capture, Input::Captured(Err(CaptureProblem::NoCard))]);
    let (stage, _) = run(&mut ctx(), inputs.clone());
    assert_eq!(
        stage,
        Stage::Pages {
            at: 0,
            problem: Some(CaptureProblem::NoCard)
        }
    );
    inputs.extend([Input::Capture, Input::Captured(Ok(())), Input::Capture]);
    let (stage, _) = run(&mut ctx(), inputs.clone());
    assert_eq!(
        stage,
        Stage::Pages {
            at: 0,
            problem: None
        },
        "no third page of two"
    );
    inputs.extend([Input::DeletePage(5), Input::DeletePage(0)]);
    let mut c2 = ctx();
    let (stage, fx) = run(&mut c2, inputs.clone());
    assert_eq!(c2.captures[0].have, 1);
    assert!(fx.contains(&Effect::DeletePage { at: 0, page: 0 }));
    assert!(!fx.contains(&Effect::DeletePage { at: 0, page: 5 }));
    assert_eq!(stage.screen(), "apply-pages");
    inputs.extend([Input::Capture, Input::Captured(Ok(())), Input::Next]);
    let (stage, fx) = run(&mut ctx(), inputs);
    assert_eq!(stage, Stage::Review);
    assert!(fx.contains(&Effect::Light(Module::Camera, false)));
}

#[test]
fn too_little_ink_is_asked_again_and_clear_starts_over() {
    let mut c = ctx();
    let mut inputs = to_sign();
    inputs.extend([Input::Next, Input::SignChecked(Err(SignProblem::TooLittle))]);
    let (stage, _) = run(&mut c, inputs.clone());
    assert_eq!(
        stage,
        Stage::Sign {
            problem: Some(SignProblem::TooLittle)
        }
    );
    let (inked, _) = run(&mut ctx(), {
        let mut i = inputs.clone();
        i.push(Input::Inked);
        i
    });
    assert_eq!(
        inked,
        Stage::Sign { problem: None },
        "new ink takes the warning away"
    );
    inputs.push(Input::ClearSignature);
    let (stage, fx) = run(&mut ctx(), inputs);
    assert_eq!(stage, Stage::Sign { problem: None });
    assert_eq!(fx.last(), Some(&Effect::ClearSignature));
}

#[test]
fn a_journal_failure_files_nothing_and_says_so() {
    let mut c = ctx();
    let mut inputs = to_sign();
    inputs.extend([
        Input::Next,
        Input::SignChecked(Ok(())),
        Input::Submitted(Err("disk full".into())),
    ]);
    let (stage, _) = run(&mut c, inputs.clone());
    assert_eq!(
        stage,
        Stage::Problem {
            problem: Problem::Submit("disk full".into()),
            filed: None
        }
    );
    let (retry, _) = step(&stage, Input::Retry, &c);
    assert_eq!(retry, Stage::Sign { problem: None });
    let (_, fx) = step(&stage, Input::Done, &c);
    assert_eq!(
        outcome(&fx),
        Some(Outcome::NotFiled {
            problem: "submit".into()
        })
    );
}

#[test]
fn offline_the_filing_stands_under_the_local_reference() {
    let mut c = ctx();
    let mut inputs = to_sign();
    let offline = Filed {
        local_ref: "2026120387654321".into(),
        case_number: None,
    };
    inputs.extend([
        Input::Next,
        Input::SignChecked(Ok(())),
        Input::Submitted(Ok(offline.clone())),
    ]);
    let (stage, _) = run(&mut c, inputs);
    assert_eq!(
        stage,
        Stage::Submitted {
            filed: offline,
            printed: false
        }
    );
}

#[test]
fn once_filed_every_way_out_keeps_the_filing() {
    let mut c = ctx();
    let (submitted, _) = run(&mut c, to_submitted());
    let (printing, _) = step(&submitted, Input::Print, &c);
    let (print_failed, fx) = step(
        &printing,
        Input::Printed(Err(PrintProblem::Fault("jam".into()))),
        &c,
    );
    assert!(fx.contains(&Effect::Light(Module::Printer, false)));
    assert_eq!(print_failed.screen(), "apply-problem");
    let (back, _) = step(&print_failed, Input::Back, &c);
    assert_eq!(
        back.screen(),
        "apply-submitted",
        "a failed receipt goes back, the case stands"
    );
    let (again, fx) = step(&print_failed, Input::Retry, &c);
    assert_eq!(again.screen(), "apply-printing");
    assert!(fx.contains(&Effect::PrintReceipt { filed: filed() }));
    let (rating, _) = step(&submitted, Input::Rate(Level::Unsatisfied), &c);
    for s in [&submitted, &printing, &print_failed, &rating] {
        let (_, fx) = step(s, Input::Cancel, &c);
        assert_eq!(
            outcome(&fx),
            Some(Outcome::Filed {
                local_ref: filed().local_ref
            }),
            "{s:?}"
        );
    }
}

#[test]
fn cancel_at_every_step_before_filing_leaves() {
    let c = ctx();
    let full = to_submitted();
    for n in 0..full.len() - 1 {
        let mut cc = c.clone();
        let (stage, _) = run(&mut cc, full[..n].to_vec());
        if matches!(stage, Stage::Submitted { .. }) {
            break;
        }
        let (_, fx) = step(&stage, Input::Cancel, &cc);
        let o = outcome(&fx);
        assert!(
            matches!(o, Some(Outcome::Left)),
            "cancel on {stage:?} gave {o:?}"
        );
        assert!(fx.contains(&Effect::StopTyping) || matches!(stage, Stage::Login(_)));
    }
}

#[test]
fn a_terminal_without_what_the_answers_need_says_so_first() {
    let mut c = ctx();
    c.not_here = true;
    let (stage, _) = start(&c);
    assert_eq!(
        stage,
        Stage::Problem {
            problem: Problem::NotHere,
            filed: None
        }
    );
    let mut c = ctx();
    c.devices = false;
    let (stage, _) = start(&c);
    assert_eq!(stage.screen(), "apply-problem");
    let (_, fx) = step(&stage, Input::Done, &c);
    assert_eq!(
        outcome(&fx),
        Some(Outcome::NotFiled {
            problem: "unavailable".into()
        })
    );
}

#[test]
fn a_failed_login_ends_the_application_without_filing() {
    let mut c = ctx();
    let mut inputs = logged_in();
    inputs.pop();
    inputs.extend([
        Input::Login(Login::FaceDone(Decision::NotVerified)),
        Input::Login(Login::Retry),
        Input::Login(Login::FaceDone(Decision::NotVerified)),
    ]);
    let (stage, _) = run(&mut c, inputs);
    assert!(matches!(stage, Stage::Login(_)), "{stage:?}");
    assert!(stage.screen().starts_with("identify-"));
}

/// E-licence materials: fetched after the pages, shown as taken, then the review; a required
/// one missing ends at a window; the library away can be tried again or gone back from.
#[test]
fn e_licences_are_fetched_after_the_pages_and_a_missing_one_sends_to_a_window() {
    let c = Context {
        licences: true,
        licences_ready: true,
        captures: vec![PagesWanted {
            min: 1,
            max: 2,
            have: 1,
        }],
        ..ctx()
    };
    let pages = Stage::Pages {
        at: 0,
        problem: None,
    };
    let (fetching, fx) = step(&pages, Input::Next, &c);
    assert_eq!(fetching, Stage::FetchingLicences);
    assert!(fx.contains(&Effect::FetchLicences));
    assert!(fetching.waits());
    let (shown, _) = step(&fetching, Input::LicencesFound(Ok(())), &c);
    assert_eq!(shown, Stage::Licences);
    assert_eq!(step(&shown, Input::Next, &c).0, Stage::Review);
    assert_eq!(step(&Stage::Review, Input::Back, &c).0, Stage::Licences);
    assert_eq!(step(&shown, Input::Back, &c).0, pages);

    // Nothing in the list: the screen says what is missing; "next" does nothing, "done"
    // ends the application unfiled.
    let missing = Context {
        licences_ready: false,
        ..c.clone()
    };
    let (shown, _) = step(
        &fetching,
        Input::LicencesFound(Err(LookupProblem::NotFound)),
        &missing,
    );
    assert_eq!(shown, Stage::Licences);
    assert_eq!(step(&shown, Input::Next, &missing).0, Stage::Licences);
    let (_, fx) = step(&shown, Input::Done, &missing);
    assert_eq!(
        outcome(&fx),
        Some(Outcome::NotFiled {
            problem: "licence-missing".into()
        })
    );

    let (away, _) = step(
        &fetching,
        Input::LicencesFound(Err(LookupProblem::CentreAway)),
        &c,
    );
    assert_eq!(
        away,
        Stage::Problem {
            problem: Problem::LicencesAway,
            filed: None
        }
    );
    let (again, fx) = step(&away, Input::Retry, &c);
    assert_eq!(again, Stage::FetchingLicences);
    assert!(fx.contains(&Effect::FetchLicences));
    assert_eq!(step(&away, Input::Back, &c).0, pages);
    let (_, fx) = step(&away, Input::Cancel, &c);
    assert_eq!(outcome(&fx), Some(Outcome::Left));
}
