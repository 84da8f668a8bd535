//! The window unit's state machine: a whole visit, and every fault (centre down, a refusal,
//! the card reader, the journal, the printer) at every step, each leaving the desk where a
//! clerk can carry on.

use kiosk_protocol::queue::{QueueTicket, QueueWindow};

use super::*;

fn plate() -> StaffPlate {
    StaffPlate {
        staff: "8801".into(),
        name: "张晓梅".into(),
        title: "综合受理".into(),
        photo_jpeg_base64: None,
        stars: Some(4.8),
        window: "3".into(),
    }
}

fn ticket(number: &str, state: QueueState, calls: u32) -> QueueTicket {
    QueueTicket {
        number: number.into(),
        service: "hukou".into(),
        day: "2026-12-03".into(),
        arrived_at: "2026-12-03T01:00:00Z".into(),
        state,
        calls,
        priority: Vec::new(),
        for_window: None,
        window: Some("3".into()),
        staff: Some("8801".into()),
        case_number: None,
        rating: None,
        periods: Vec::new(),
    }
}

fn outcome(t: Option<QueueTicket>, state: WindowState) -> WindowOutcome {
    WindowOutcome {
        window: QueueWindow {
            window: "3".into(),
            services: vec!["hukou".into()],
            state,
            staff: Some("8801".into()),
            current: t.as_ref().map(|t| t.number.clone()),
        },
        ticket: t,
        waiting: 4,
    }
}

fn facts() -> CardFacts {
    CardFacts {
        name: "王小明".into(),
        masked_name: "王*明".into(),
        masked_number: "3205**********1234".into(),
    }
}

fn desk() -> Desk {
    Desk::new("3", vec!["fast".into()], vec!["slow".into()])
}

fn pin(p: &str) -> Pin {
    Pin(Zeroizing::new(p.to_string()))
}

fn signed_in() -> Desk {
    let mut d = desk();
    let fx = d.step(Input::Clerk(ClerkAct::SignIn {
        staff: "8801".into(),
        pin: pin("135790"),
    }));
    assert!(matches!(&fx[..], [Effect::SignIn { staff, .. }] if staff == "8801"));
    // Signed in, the unit asks how many wait at once.
    assert_eq!(
        d.step(Input::SignedIn(Ok(plate()))),
        [Effect::RefreshWaiting, Effect::RefreshFigures]
    );
    d.step(Input::Waiting(3));
    assert_eq!(d.waiting, Some(3));
    d.step(Input::Figures(QueueFigures {
        served: 2,
        ..Default::default()
    }));
    assert_eq!(d.figures.as_ref().map(|f| f.served), Some(2));
    d
}

fn answer(d: &mut Desk, cmd: WindowCommand, out: WindowOutcome) -> Vec<Effect> {
    d.step(Input::Answer {
        command: cmd,
        result: Ok(Box::new(out)),
    })
}

/// Signed in, A001 called and the citizen at the window.
fn serving() -> Desk {
    let mut d = signed_in();
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::CallNext)),
        [Effect::Command(WindowCommand::CallNext)]
    );
    let fx = answer(
        &mut d,
        WindowCommand::CallNext,
        outcome(
            Some(ticket("A001", QueueState::Called, 1)),
            WindowState::Open,
        ),
    );
    assert_eq!(
        fx,
        [Effect::Announce {
            number: "A001".into()
        }]
    );
    assert_eq!(d.citizen, Citizen::Called);
    d.step(Input::Clerk(ClerkAct::Start));
    // The citizen sits down: the speaker welcomes them.
    let fx = answer(
        &mut d,
        WindowCommand::Start,
        outcome(
            Some(ticket("A001", QueueState::Serving, 1)),
            WindowState::Open,
        ),
    );
    assert_eq!(fx, [Effect::Prompt(VoicePrompt::Welcome)]);
    assert_eq!(d.citizen, Citizen::Plate);
    d
}

#[test]
fn a_whole_visit_call_serve_confirm_sign_finish_rate() {
    let mut d = serving();
    // The speaker tells the citizen what the reader waits for.
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::ReadCard)),
        [Effect::ReadCard, Effect::Prompt(VoicePrompt::PlaceIdCard)]
    );
    d.step(Input::Card(Ok(facts())));
    assert_eq!(
        d.identity.as_ref().map(|f| f.masked_name.as_str()),
        Some("王*明")
    );
    d.step(Input::Clerk(ClerkAct::SetCase("20261203000042".into())));
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::AskConfirm)),
        [Effect::Prompt(VoicePrompt::Confirm)]
    );
    assert_eq!(d.citizen, Citizen::Confirm);
    d.step(Input::Citizen(CitizenAct::Confirm(true)));
    assert_eq!(d.confirmed, Some(true));
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::AskSignature)),
        [Effect::ClearInk, Effect::Prompt(VoicePrompt::Sign)]
    );
    assert_eq!(d.citizen, Citizen::Sign { too_short: false });
    assert!(d
        .step(Input::Citizen(CitizenAct::SignDone { enough: false }))
        .is_empty());
    assert_eq!(d.citizen, Citizen::Sign { too_short: true });
    let fx = d.step(Input::Citizen(CitizenAct::SignDone { enough: true }));
    assert!(
        matches!(&fx[..], [Effect::KeepSignature { ticket, case_number: Some(c), .. }]
        if ticket.number == "A001" && c == "20261203000042")
    );
    d.step(Input::Kept(Kept::Signature, Ok(())));
    assert!(d.signed);
    // The clerk asks for the rating while serving; the citizen rates, then the clerk finishes.
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::AskRating)),
        [Effect::Prompt(VoicePrompt::Rate)]
    );
    assert_eq!(d.citizen, Citizen::Rating(None));
    d.step(Input::Citizen(CitizenAct::Rate(5)));
    d.step(Input::Citizen(CitizenAct::RatingTag("fast".into())));
    let fx = d.step(Input::Citizen(CitizenAct::RatingNext));
    let draft = fx
        .iter()
        .find_map(|e| match e {
            Effect::Rate(r) => Some(r.clone()),
            _ => None,
        })
        .expect("a rating to record");
    assert_eq!(draft.ticket.number, "A001");
    assert_eq!(draft.staff, "8801");
    assert_eq!(draft.case_number.as_deref(), Some("20261203000042"));
    assert_eq!(draft.level, Level::VerySatisfied);
    assert_eq!(draft.tags, ["fast"]);
    assert_eq!(
        d.step(Input::Kept(Kept::Rating, Ok(()))),
        [Effect::ThanksTimer, Effect::Prompt(VoicePrompt::Thanks)]
    );
    assert_eq!(d.citizen, Citizen::Thanks);
    // One rating per ticket.
    assert!(d.ratable().is_none());
    assert!(d.step(Input::Clerk(ClerkAct::AskRating)).is_empty());
    d.step(Input::Clerk(ClerkAct::Finish));
    let fx = answer(
        &mut d,
        WindowCommand::Finish,
        outcome(
            Some(ticket("A001", QueueState::Finished, 1)),
            WindowState::Open,
        ),
    );
    // What the desk held of the citizen goes with them; the day's figures are read again.
    assert!(fx.contains(&Effect::Forget));
    assert!(fx.contains(&Effect::RefreshFigures));
    assert!(d.identity.is_none() && !d.signed && d.case_number.is_none());
    assert!(d.ticket.is_none());
    d.step(Input::ThanksOver);
    assert_eq!(d.citizen, Citizen::Plate);
}

#[test]
fn a_rating_after_finish_is_for_the_ticket_just_served_and_the_next_call_leaves_it() {
    let mut d = serving();
    d.step(Input::Clerk(ClerkAct::SetCase("20261203000007".into())));
    d.step(Input::Clerk(ClerkAct::Finish));
    answer(
        &mut d,
        WindowCommand::Finish,
        outcome(
            Some(ticket("A001", QueueState::Finished, 1)),
            WindowState::Open,
        ),
    );
    assert_eq!(d.ratable().map(|t| t.number.as_str()), Some("A001"));
    // The slip and the rating of the ticket just finished still name its case.
    let fx = d.step(Input::Clerk(ClerkAct::PrintSlip));
    assert!(
        matches!(&fx[..], [Effect::PrintSlip { case_number: Some(c), .. }] if c == "20261203000007")
    );
    d.step(Input::Kept(Kept::Slip, Ok(())));
    d.step(Input::Clerk(ClerkAct::AskRating));
    d.step(Input::Citizen(CitizenAct::Rate(4)));
    let fx = d.step(Input::Citizen(CitizenAct::RatingNext));
    assert!(fx.iter().any(
        |e| matches!(e, Effect::Rate(r) if r.case_number.as_deref() == Some("20261203000007"))
    ));
    d.step(Input::Kept(
        Kept::Rating,
        Err(DeskProblem::Journal("disk full".into())),
    ));
    d.step(Input::Clerk(ClerkAct::Dismiss));
    d.step(Input::Clerk(ClerkAct::AskRating));
    d.step(Input::Citizen(CitizenAct::Rate(2)));
    d.step(Input::Citizen(CitizenAct::RatingTag("slow".into())));
    assert_eq!(
        d.step(Input::Citizen(CitizenAct::RatingNext)),
        [Effect::StartTyping]
    );
    // The clerk calls the next citizen: the complaint half typed is left, nothing recorded.
    d.step(Input::Clerk(ClerkAct::CallNext));
    let fx = answer(
        &mut d,
        WindowCommand::CallNext,
        outcome(
            Some(ticket("A002", QueueState::Called, 1)),
            WindowState::Open,
        ),
    );
    assert!(fx.contains(&Effect::StopTyping));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Rate(_))));
    assert_eq!(d.citizen, Citizen::Called);
    assert!(d.ratable().is_none());
}

#[test]
fn a_low_rating_takes_the_complaint_before_it_is_recorded() {
    let mut d = serving();
    d.step(Input::Clerk(ClerkAct::AskRating));
    d.step(Input::Citizen(CitizenAct::Rate(1)));
    d.step(Input::Citizen(CitizenAct::RatingNext));
    let fx = d.step(Input::Citizen(CitizenAct::Complained));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Rate(r) if r.complaint && r.level == Level::VeryUnsatisfied)));
    assert!(fx.contains(&Effect::StopTyping));
}

#[test]
fn sign_in_checks_the_form_and_shows_each_refusal() {
    let mut d = desk();
    for (staff, p) in [
        ("", "1234"),
        ("8801", "12"),
        ("8801", "12ab"),
        ("88\u{1}01", "1234"),
    ] {
        assert!(d
            .step(Input::Clerk(ClerkAct::SignIn {
                staff: staff.into(),
                pin: pin(p)
            }))
            .is_empty());
        assert_eq!(d.login_problem, Some(LoginProblem::Form));
    }
    for problem in [
        LoginProblem::Unknown,
        LoginProblem::WrongPin { tries_left: 4 },
        LoginProblem::Locked {
            until: "2026-12-03T10:15:00+08:00".into(),
        },
        LoginProblem::Elsewhere("5".into()),
        LoginProblem::Centre("connection refused".into()),
    ] {
        d.step(Input::Clerk(ClerkAct::SignIn {
            staff: "8801".into(),
            pin: pin("135790"),
        }));
        assert_eq!(d.pending, Some("sign-in"));
        // A second press while the centre answers does nothing.
        assert!(d.step(Input::Clerk(ClerkAct::CallNext)).is_empty());
        d.step(Input::SignedIn(Err(problem.clone())));
        assert_eq!(d.login_problem, Some(problem));
        assert!(d.clerk.is_none());
        assert_eq!(d.citizen, Citizen::Closed);
    }
}

#[test]
fn every_command_failing_at_the_centre_changes_nothing_and_the_clerk_can_go_on() {
    let commands = [
        (ClerkAct::CallNext, WindowCommand::CallNext),
        (ClerkAct::Recall, WindowCommand::Recall),
        (ClerkAct::Start, WindowCommand::Start),
        (ClerkAct::NoShow, WindowCommand::NoShow),
        (ClerkAct::Hold, WindowCommand::Hold),
        (ClerkAct::Finish, WindowCommand::Finish),
        (
            ClerkAct::Transfer {
                service: Some("residence".into()),
                window: None,
            },
            WindowCommand::Transfer {
                service: Some("residence".into()),
                window: None,
            },
        ),
        (ClerkAct::Pause, WindowCommand::Pause),
        (ClerkAct::Resume, WindowCommand::Resume),
        (ClerkAct::SignOut, WindowCommand::Logout),
    ];
    for start in [signed_in(), serving()] {
        for (act, cmd) in &commands {
            for problem in [
                DeskProblem::Centre("timed out".into()),
                DeskProblem::Refused {
                    reason: "no-ticket".into(),
                    message: "this window has no ticket".into(),
                },
            ] {
                let mut d = start.clone();
                let fx = d.step(Input::Clerk(act.clone()));
                assert_eq!(fx, [Effect::Command(cmd.clone())], "{act:?}");
                let fx = d.step(Input::Answer {
                    command: cmd.clone(),
                    result: Err(problem.clone()),
                });
                assert!(fx.is_empty());
                assert_eq!(d.problem, Some(problem));
                assert_eq!(d.ticket, start.ticket);
                assert_eq!(d.clerk, start.clerk);
                assert_eq!(d.citizen, start.citizen);
                assert!(d.pending.is_none());
                d.step(Input::Clerk(ClerkAct::Dismiss));
                assert!(d.problem.is_none());
                // The same button works again.
                assert_eq!(
                    d.step(Input::Clerk(act.clone())),
                    [Effect::Command(cmd.clone())]
                );
            }
        }
    }
}

#[test]
fn every_card_fault_is_shown_and_nothing_is_kept() {
    for problem in [
        DeskProblem::NoCard,
        DeskProblem::Card("the card moved while it was read".into()),
        DeskProblem::Card("the reader is not working".into()),
    ] {
        let mut d = serving();
        d.step(Input::Clerk(ClerkAct::ReadCard));
        d.step(Input::Card(Err(problem.clone())));
        assert_eq!(d.problem, Some(problem));
        assert!(d.identity.is_none());
        assert!(d.pending.is_none());
        // Without the card nothing is put to the citizen to confirm.
        assert!(d.step(Input::Clerk(ClerkAct::AskConfirm)).is_empty());
        assert_eq!(d.problem, Some(DeskProblem::NoIdentity));
        assert_eq!(d.citizen, Citizen::Plate);
    }
    // A card read that ends after the citizen left is not kept.
    let mut d = serving();
    d.step(Input::Clerk(ClerkAct::ReadCard));
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::CancelCard)),
        [Effect::CancelCard]
    );
    d.step(Input::Card(Err(DeskProblem::Card("canceled".into()))));
    d.step(Input::Clerk(ClerkAct::NoShow));
    answer(
        &mut d,
        WindowCommand::NoShow,
        outcome(
            Some(ticket("A001", QueueState::NoShow, 1)),
            WindowState::Open,
        ),
    );
    d.step(Input::Card(Ok(facts())));
    assert!(d.identity.is_none());
}

#[test]
fn journal_and_printer_faults_are_told_to_the_clerk() {
    let mut d = serving();
    d.step(Input::Clerk(ClerkAct::AskSignature));
    d.step(Input::Citizen(CitizenAct::SignDone { enough: true }));
    d.step(Input::Kept(
        Kept::Signature,
        Err(DeskProblem::Journal("disk full".into())),
    ));
    assert!(!d.signed);
    assert!(matches!(d.citizen, Citizen::Sign { .. }));
    assert_eq!(d.problem, Some(DeskProblem::Journal("disk full".into())));

    d.step(Input::Clerk(ClerkAct::AskRating));
    d.step(Input::Citizen(CitizenAct::Rate(4)));
    d.step(Input::Citizen(CitizenAct::RatingNext));
    d.step(Input::Kept(
        Kept::Rating,
        Err(DeskProblem::Journal("disk full".into())),
    ));
    // The citizen is thanked; the ticket may be rated again, as nothing was kept.
    assert_eq!(d.citizen, Citizen::Thanks);
    assert!(d.ratable().is_some());

    d.step(Input::Clerk(ClerkAct::Dismiss));
    let fx = d.step(Input::Clerk(ClerkAct::PrintSlip));
    assert!(matches!(&fx[..], [Effect::PrintSlip { ticket, .. }] if ticket.number == "A001"));
    d.step(Input::Kept(
        Kept::Slip,
        Err(DeskProblem::Printer("out of paper".into())),
    ));
    assert_eq!(d.problem, Some(DeskProblem::Printer("out of paper".into())));
    assert!(d.pending.is_none());
}

#[test]
fn recall_past_the_limit_is_a_no_show_and_hold_keeps_the_number_to_call_back() {
    let mut d = signed_in();
    d.step(Input::Clerk(ClerkAct::CallNext));
    answer(
        &mut d,
        WindowCommand::CallNext,
        outcome(
            Some(ticket("A001", QueueState::Called, 1)),
            WindowState::Open,
        ),
    );
    d.step(Input::Clerk(ClerkAct::Recall));
    let fx = answer(
        &mut d,
        WindowCommand::Recall,
        outcome(
            Some(ticket("A001", QueueState::Called, 2)),
            WindowState::Open,
        ),
    );
    assert_eq!(
        fx,
        [Effect::Announce {
            number: "A001".into()
        }]
    );
    assert_eq!(d.ticket.as_ref().map(|t| t.calls), Some(2));
    d.step(Input::Clerk(ClerkAct::Recall));
    answer(
        &mut d,
        WindowCommand::Recall,
        outcome(
            Some(ticket("A001", QueueState::NoShow, 3)),
            WindowState::Open,
        ),
    );
    assert_eq!(d.done, Some("no-show"));
    assert!(d.ticket.is_none());
    assert_eq!(d.citizen, Citizen::Plate);

    let mut d = serving();
    d.step(Input::Clerk(ClerkAct::Hold));
    let mut held = ticket("A001", QueueState::Hold, 1);
    held.window = Some("3".into());
    answer(
        &mut d,
        WindowCommand::Hold,
        outcome(Some(held), WindowState::Open),
    );
    assert_eq!(d.held, ["A001"]);
    assert!(d.ticket.is_none());
    d.step(Input::Clerk(ClerkAct::CallHeld("A001".into())));
    answer(
        &mut d,
        WindowCommand::CallHeld {
            number: "A001".into(),
        },
        outcome(
            Some(ticket("A001", QueueState::Called, 1)),
            WindowState::Open,
        ),
    );
    assert!(d.held.is_empty());
    assert_eq!(d.citizen, Citizen::Called);
}

#[test]
fn pause_shows_on_the_citizen_screen_and_sign_out_closes_the_window() {
    let mut d = signed_in();
    d.step(Input::Clerk(ClerkAct::Pause));
    answer(
        &mut d,
        WindowCommand::Pause,
        outcome(None, WindowState::Paused),
    );
    assert_eq!(d.citizen, Citizen::Paused);
    d.step(Input::Clerk(ClerkAct::Resume));
    answer(
        &mut d,
        WindowCommand::Resume,
        outcome(None, WindowState::Open),
    );
    assert_eq!(d.citizen, Citizen::Plate);
    d.step(Input::Clerk(ClerkAct::SignOut));
    answer(
        &mut d,
        WindowCommand::Logout,
        outcome(None, WindowState::Closed),
    );
    assert!(d.clerk.is_none());
    assert_eq!(d.citizen, Citizen::Closed);
    d.step(Input::Hours(false));
    assert!(d.asleep());
    d.step(Input::Hours(true));
    assert!(!d.asleep());
}

#[test]
fn transfer_hands_the_citizen_on_and_wipes_what_was_read() {
    let mut d = serving();
    d.step(Input::Clerk(ClerkAct::ReadCard));
    d.step(Input::Card(Ok(facts())));
    // Neither a service nor a window: nothing to send.
    assert!(d
        .step(Input::Clerk(ClerkAct::Transfer {
            service: Some(" ".into()),
            window: None
        }))
        .is_empty());
    d.step(Input::Clerk(ClerkAct::Transfer {
        service: None,
        window: Some("5".into()),
    }));
    let mut moved = ticket("A001", QueueState::Waiting, 1);
    moved.window = None;
    moved.for_window = Some("5".into());
    let fx = answer(
        &mut d,
        WindowCommand::Transfer {
            service: None,
            window: Some("5".into()),
        },
        outcome(Some(moved), WindowState::Open),
    );
    assert!(fx.contains(&Effect::Forget));
    assert!(d.identity.is_none() && d.ticket.is_none() && d.last.is_none());
    assert_eq!(d.done, Some("transfer"));
}

#[test]
fn a_code_at_the_scanner_identifies_or_links_the_case_and_its_faults_are_shown() {
    let mut d = serving();
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::ScanCode)),
        [Effect::ScanCode, Effect::Prompt(VoicePrompt::ShowCode)]
    );
    assert_eq!(d.pending, Some("scan"));
    d.step(Input::Code(Ok(Scanned::Identity(facts()))));
    assert_eq!(
        d.identity.as_ref().map(|f| f.masked_name.as_str()),
        Some("王*明")
    );
    assert_eq!(d.done, Some("code-read"));
    d.step(Input::Clerk(ClerkAct::ScanCode));
    d.step(Input::Code(Ok(Scanned::Case("20261203000042".into()))));
    assert_eq!(d.case_number.as_deref(), Some("20261203000042"));
    for problem in [
        DeskProblem::Code("expired".into()),
        DeskProblem::Code("not an e-ID or case code".into()),
        DeskProblem::Card("the scanner is in use".into()),
    ] {
        d.step(Input::Clerk(ClerkAct::ScanCode));
        assert_eq!(
            d.step(Input::Clerk(ClerkAct::CancelCard)),
            [Effect::CancelCard]
        );
        d.step(Input::Code(Err(problem.clone())));
        assert_eq!(d.problem, Some(problem));
        assert!(d.pending.is_none());
        // What was read before stays.
        assert!(d.identity.is_some());
    }
    // Nothing is scanned for a citizen not being served.
    let mut d = signed_in();
    assert!(d.step(Input::Clerk(ClerkAct::ScanCode)).is_empty());
}

#[test]
fn casting_shows_the_clerks_screen_until_the_citizen_leaves_and_questions_come_first() {
    let mut d = signed_in();
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::ToggleCast)),
        [Effect::StartCast]
    );
    assert!(d.casting);
    assert_eq!(d.citizen, Citizen::Cast);
    // A call shows the number; once the citizen is at the window the cast is back.
    d.step(Input::Clerk(ClerkAct::CallNext));
    answer(
        &mut d,
        WindowCommand::CallNext,
        outcome(
            Some(ticket("A001", QueueState::Called, 1)),
            WindowState::Open,
        ),
    );
    assert_eq!(d.citizen, Citizen::Called);
    d.step(Input::Clerk(ClerkAct::Start));
    answer(
        &mut d,
        WindowCommand::Start,
        outcome(
            Some(ticket("A001", QueueState::Serving, 1)),
            WindowState::Open,
        ),
    );
    assert_eq!(d.citizen, Citizen::Cast);
    // Asking the citizen something takes the screen, and gives it back after.
    d.step(Input::Card(Ok(facts())));
    d.step(Input::Clerk(ClerkAct::AskConfirm));
    assert_eq!(d.citizen, Citizen::Confirm);
    d.step(Input::Citizen(CitizenAct::Confirm(true)));
    assert_eq!(d.citizen, Citizen::Cast);
    // The citizen leaves: the next one must not see this one's forms.
    d.step(Input::Clerk(ClerkAct::Finish));
    let fx = answer(
        &mut d,
        WindowCommand::Finish,
        outcome(
            Some(ticket("A001", QueueState::Finished, 1)),
            WindowState::Open,
        ),
    );
    assert!(fx.contains(&Effect::StopCast), "{fx:?}");
    assert!(!d.casting);
    assert_eq!(d.citizen, Citizen::Plate);

    // The name plate and the cast are one or the other.
    d.step(Input::Clerk(ClerkAct::ToggleCast));
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::TogglePlate)),
        [Effect::StopCast]
    );
    assert!(d.plate_only && !d.casting);
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::ToggleCast)),
        [Effect::StartCast]
    );
    assert!(!d.plate_only && d.casting);
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::ToggleCast)),
        [Effect::StopCast]
    );
    assert_eq!(d.citizen, Citizen::Plate);

    // A screen that cannot be grabbed stops the cast and says why.
    d.step(Input::Clerk(ClerkAct::ToggleCast));
    let fx = d.step(Input::CastFailed(DeskProblem::Cast("no display".into())));
    assert_eq!(fx, [Effect::StopCast]);
    assert!(!d.casting);
    assert_eq!(d.citizen, Citizen::Plate);
    assert_eq!(d.problem.as_ref().map(DeskProblem::code), Some("cast"));

    // Signing out stops it too.
    d.step(Input::Clerk(ClerkAct::ToggleCast));
    d.step(Input::Clerk(ClerkAct::SignOut));
    let fx = answer(
        &mut d,
        WindowCommand::Logout,
        outcome(None, WindowState::Closed),
    );
    assert!(fx.contains(&Effect::StopCast), "{fx:?}");
    assert_eq!(d.citizen, Citizen::Closed);
    // Signed out, the toolbar has no cast.
    assert!(d.step(Input::Clerk(ClerkAct::ToggleCast)).is_empty());
}

#[test]
fn the_ic_card_and_the_document_camera_serve_the_ticket_and_their_faults_are_shown() {
    // Not without a citizen being served.
    let mut d = signed_in();
    assert!(d.step(Input::Clerk(ClerkAct::ReadIcCard)).is_empty());
    assert!(d.step(Input::Clerk(ClerkAct::CaptureMaterial)).is_empty());

    let mut d = serving();
    // The IC card: every fault shown, the button works again.
    for p in [
        DeskProblem::NoCard,
        DeskProblem::IcCard("this card is not a social-security card".into()),
        DeskProblem::IcCard("the reader is in use".into()),
    ] {
        assert_eq!(
            d.step(Input::Clerk(ClerkAct::ReadIcCard)),
            [
                Effect::ReadIcCard,
                Effect::Prompt(VoicePrompt::InsertSsCard)
            ]
        );
        assert_eq!(d.pending, Some("ic-card"));
        d.step(Input::IcCard(Err(p.clone())));
        assert_eq!(d.pending, None);
        assert_eq!(d.problem, Some(p));
        assert_eq!(d.ic_card, None);
    }
    // Canceled while waiting.
    d.step(Input::Clerk(ClerkAct::ReadIcCard));
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::CancelCard)),
        [Effect::CancelCard]
    );
    d.step(Input::IcCard(Err(DeskProblem::IcCard("canceled".into()))));
    assert_eq!(d.pending, None);
    d.step(Input::Clerk(ClerkAct::ReadIcCard));
    d.step(Input::IcCard(Ok("D123****8".into())));
    assert_eq!(d.ic_card.as_deref(), Some("D123****8"));
    assert_eq!(d.done, Some("ic-card-read"));
    assert_eq!(d.problem, None);

    // The document camera: the page is kept with the ticket and its case.
    d.step(Input::Clerk(ClerkAct::SetCase("20261203000042".into())));
    let fx = d.step(Input::Clerk(ClerkAct::CaptureMaterial));
    assert!(matches!(
        &fx[..],
        [Effect::CaptureMaterial { ticket, staff, case_number }]
            if ticket.number == "A001" && staff == "8801"
                && case_number.as_deref() == Some("20261203000042")
    ));
    assert_eq!(d.pending, Some("capture"));
    // Nothing else while it is taken.
    assert!(d.step(Input::Clerk(ClerkAct::Finish)).is_empty());
    for p in [
        DeskProblem::Camera("no page lies on the camera's plate".into()),
        DeskProblem::Journal("disk full".into()),
    ] {
        d.step(Input::Kept(Kept::Material, Err(p.clone())));
        assert_eq!((d.pending, d.materials), (None, 0));
        assert_eq!(d.problem, Some(p));
        d.step(Input::Clerk(ClerkAct::CaptureMaterial));
    }
    d.step(Input::Kept(Kept::Material, Ok(())));
    d.step(Input::Clerk(ClerkAct::CaptureMaterial));
    d.step(Input::Kept(Kept::Material, Ok(())));
    assert_eq!((d.materials, d.done), (2, Some("captured")));

    // The citizen leaves: what was read is forgotten, the count starts again.
    d.step(Input::Clerk(ClerkAct::Finish));
    let fx = answer(
        &mut d,
        WindowCommand::Finish,
        outcome(
            Some(ticket("A001", QueueState::Finished, 1)),
            WindowState::Open,
        ),
    );
    assert!(fx.contains(&Effect::Forget), "{fx:?}");
    assert_eq!((d.ic_card.as_deref(), d.materials), (None, 0));
    // A card read after the ticket left is not kept.
    d.step(Input::IcCard(Ok("D123****8".into())));
    assert_eq!(d.ic_card, None);
}

#[test]
fn the_speakers_prompts_are_said_in_the_halls_words() {
    use crate::flows::window_host::prompt_words;
    assert_eq!(
        prompt_words(VoicePrompt::Welcome, "3", false),
        "您好，三 号窗口为您服务"
    );
    assert_eq!(
        prompt_words(VoicePrompt::Welcome, "12", true),
        "Hello. Window 12 is serving you."
    );
    for p in [
        VoicePrompt::PlaceIdCard,
        VoicePrompt::ShowCode,
        VoicePrompt::InsertSsCard,
        VoicePrompt::Confirm,
        VoicePrompt::Sign,
        VoicePrompt::Rate,
        VoicePrompt::Thanks,
    ] {
        assert!(!prompt_words(p, "3", false).is_empty());
        assert!(prompt_words(p, "3", true).is_ascii());
    }
}

#[test]
fn the_business_systems_lines_are_confirmed_with_the_card_and_leave_with_the_ticket() {
    let mut d = serving();
    let lines = vec![("办理事项".to_string(), "居住证签注".to_string())];
    // Without the card read, the citizen is not asked; the clerk is told why.
    assert!(d
        .step(Input::Clerk(ClerkAct::AskConfirmWith(lines.clone())))
        .is_empty());
    assert_eq!(d.problem, Some(DeskProblem::NoIdentity));
    assert_ne!(d.citizen, Citizen::Confirm);
    d.step(Input::Card(Ok(facts())));
    assert_eq!(
        d.step(Input::Clerk(ClerkAct::AskConfirmWith(lines.clone()))),
        [Effect::Prompt(VoicePrompt::Confirm)]
    );
    assert_eq!(d.citizen, Citizen::Confirm);
    assert_eq!(d.page_lines, lines);
    d.step(Input::Citizen(CitizenAct::Confirm(false)));
    assert_eq!(d.confirmed, Some(false));
    // The clerk's own question shows only the card's facts.
    d.step(Input::Clerk(ClerkAct::AskConfirm));
    assert!(d.page_lines.is_empty());
    d.step(Input::Clerk(ClerkAct::AskConfirmWith(lines)));
    d.step(Input::Clerk(ClerkAct::Finish));
    answer(
        &mut d,
        WindowCommand::Finish,
        outcome(
            Some(ticket("A001", QueueState::Finished, 1)),
            WindowState::Open,
        ),
    );
    assert!(d.page_lines.is_empty() && d.identity.is_none());
}
