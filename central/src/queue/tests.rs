//! The queue's rules on in-memory snapshots: who comes next, recalls, transfers, holds,
//! refusals, the timelines and the figures drawn from them; and a property test of many
//! windows working one queue.

use kiosk_protocol::queue::{
    PriorityReason, QueueEventKind, QueueState, QueueTicket, QueueWindow, WindowCommand,
    WindowState,
};
use proptest::prelude::*;

use super::engine::{priority_of, HallQueue, QueueRefusal};
use super::{new_ticket, QueueRules};

fn at(minute: u32) -> String {
    format!("2026-12-03T01:{:02}:{:02}.000Z", minute / 60, minute % 60)
}

fn hall(windows: &[(&str, &[&str])]) -> HallQueue {
    let mut q = HallQueue {
        hall: "kunshan".into(),
        day: "2026-12-03".into(),
        next_event: 1,
        ..HallQueue::default()
    };
    for (w, services) in windows {
        q.windows.insert(
            w.to_string(),
            QueueWindow {
                window: w.to_string(),
                services: services.iter().map(|s| s.to_string()).collect(),
                state: WindowState::Closed,
                staff: None,
                current: None,
            },
        );
    }
    q
}

/// A printed ticket that arrived at `minute`.
fn arrive(q: &mut HallQueue, number: &str, service: &str, minute: u32, p: &[PriorityReason]) {
    let mut t: QueueTicket = new_ticket(number, service, "2026-12-03", p);
    t.arrived_at = at(minute);
    t.periods[0].from = at(minute);
    q.admit(t, &at(minute));
    q.settle(number, true, &at(minute));
}

fn run(
    q: &mut HallQueue,
    w: &str,
    cmd: WindowCommand,
    minute: u32,
) -> Result<Option<String>, QueueRefusal> {
    q.command(&QueueRules::default(), w, &cmd, &at(minute))
}

fn login(q: &mut HallQueue, w: &str, staff: &str) {
    run(
        q,
        w,
        WindowCommand::Login {
            staff: staff.into(),
        },
        0,
    )
    .unwrap();
}

#[test]
fn priority_comes_first_then_arrival_and_only_for_the_windows_services() {
    let mut q = hall(&[("1", &["social"]), ("2", &["property"])]);
    login(&mut q, "1", "S001");
    login(&mut q, "2", "S002");
    arrive(&mut q, "A001", "social", 1, &[]);
    arrive(&mut q, "B001", "property", 2, &[]);
    arrive(&mut q, "A002", "social", 3, &[PriorityReason::Elderly]);
    arrive(&mut q, "A003", "social", 4, &[PriorityReason::Appointment]);
    let mut order = Vec::new();
    for m in 10..13 {
        order.push(
            run(&mut q, "1", WindowCommand::CallNext, m)
                .unwrap()
                .unwrap(),
        );
        run(&mut q, "1", WindowCommand::Finish, m).unwrap();
    }
    assert_eq!(
        order,
        ["A003", "A002", "A001"],
        "appointment (2) > elderly (1) > arrival"
    );
    assert_eq!(
        run(&mut q, "1", WindowCommand::CallNext, 14),
        Err(QueueRefusal::NobodyWaiting("1".into())),
        "B001 is not window 1's service"
    );
    assert_eq!(
        run(&mut q, "2", WindowCommand::CallNext, 14)
            .unwrap()
            .as_deref(),
        Some("B001")
    );
}

#[test]
fn an_unsettled_or_failed_print_is_never_called() {
    let mut q = hall(&[("1", &["social"])]);
    login(&mut q, "1", "S001");
    let t = new_ticket("A001", "social", "2026-12-03", &[]);
    q.admit(t, &at(1));
    assert!(matches!(
        run(&mut q, "1", WindowCommand::CallNext, 2),
        Err(QueueRefusal::NobodyWaiting(_))
    ));
    q.settle("A001", false, &at(3));
    assert_eq!(q.tickets["A001"].state, QueueState::Cancelled);
    assert!(q.events.iter().any(|e| e.kind == QueueEventKind::Cancelled));
    // A late "printed" cannot bring a cancelled ticket back.
    q.settle("A001", true, &at(4));
    assert_eq!(q.tickets["A001"].state, QueueState::Cancelled);
}

#[test]
fn recalls_up_to_the_limit_then_a_no_show_and_the_window_is_free() {
    let mut q = hall(&[("3", &["social"])]);
    login(&mut q, "3", "S003");
    arrive(&mut q, "A001", "social", 1, &[]);
    arrive(&mut q, "A002", "social", 2, &[]);
    run(&mut q, "3", WindowCommand::CallNext, 5).unwrap();
    run(&mut q, "3", WindowCommand::Recall, 6).unwrap();
    run(&mut q, "3", WindowCommand::Recall, 7).unwrap();
    assert_eq!(q.tickets["A001"].calls, 3);
    let calls: Vec<u32> = q
        .events
        .iter()
        .filter(|e| e.kind == QueueEventKind::Called)
        .map(|e| e.calls)
        .collect();
    assert_eq!(
        calls,
        [1, 2, 3],
        "each announcement is an event with its count"
    );
    // A fourth call is past max_calls = 3: the ticket is a no-show.
    run(&mut q, "3", WindowCommand::Recall, 8).unwrap();
    assert_eq!(q.tickets["A001"].state, QueueState::NoShow);
    assert_eq!(q.windows["3"].current, None);
    assert_eq!(
        run(&mut q, "3", WindowCommand::CallNext, 9)
            .unwrap()
            .as_deref(),
        Some("A002")
    );
}

#[test]
fn a_window_with_a_ticket_must_settle_it_before_calling_again() {
    let mut q = hall(&[("1", &["social"])]);
    assert_eq!(
        run(&mut q, "1", WindowCommand::CallNext, 1),
        Err(QueueRefusal::NotLoggedIn("1".into()))
    );
    assert_eq!(
        run(&mut q, "9", WindowCommand::CallNext, 1),
        Err(QueueRefusal::UnknownWindow("9".into()))
    );
    login(&mut q, "1", "S001");
    arrive(&mut q, "A001", "social", 1, &[]);
    arrive(&mut q, "A002", "social", 2, &[]);
    run(&mut q, "1", WindowCommand::CallNext, 3).unwrap();
    assert!(matches!(
        run(&mut q, "1", WindowCommand::CallNext, 4),
        Err(QueueRefusal::Busy { .. })
    ));
    run(&mut q, "1", WindowCommand::Pause, 4).unwrap_err();
    run(&mut q, "1", WindowCommand::Start, 4).unwrap();
    assert!(matches!(
        run(&mut q, "1", WindowCommand::Recall, 5),
        Err(QueueRefusal::WrongState { .. })
    ));
    run(&mut q, "1", WindowCommand::Finish, 6).unwrap();
    run(&mut q, "1", WindowCommand::Pause, 7).unwrap();
    assert_eq!(
        run(&mut q, "1", WindowCommand::CallNext, 8),
        Err(QueueRefusal::Paused("1".into()))
    );
    run(&mut q, "1", WindowCommand::Resume, 9).unwrap();
    assert_eq!(
        run(&mut q, "1", WindowCommand::CallNext, 9)
            .unwrap()
            .as_deref(),
        Some("A002")
    );
    // One clerk, one window.
    assert_eq!(
        q.command(
            &QueueRules::default(),
            "1",
            &WindowCommand::Login {
                staff: "S001".into()
            },
            &at(9)
        ),
        Ok(None),
        "logging in again at the same window is fine"
    );
}

/// Pause refuses while a ticket is out; it is allowed once the window is free.
#[test]
fn pause_is_refused_while_serving() {
    let mut q = hall(&[("1", &["social"])]);
    login(&mut q, "1", "S001");
    arrive(&mut q, "A001", "social", 1, &[]);
    run(&mut q, "1", WindowCommand::CallNext, 2).unwrap();
    assert!(matches!(
        run(&mut q, "1", WindowCommand::Pause, 3),
        Err(QueueRefusal::Busy { .. })
    ));
}

#[test]
fn a_transfer_keeps_the_arrival_so_the_citizen_keeps_their_place() {
    let mut q = hall(&[
        ("1", &["social"]),
        ("2", &["property"]),
        ("5", &["property"]),
    ]);
    for (w, s) in [("1", "S1"), ("2", "S2"), ("5", "S5")] {
        login(&mut q, w, s);
    }
    arrive(&mut q, "A001", "social", 1, &[]);
    arrive(&mut q, "B001", "property", 2, &[]);
    arrive(&mut q, "B002", "property", 3, &[]);
    run(&mut q, "1", WindowCommand::CallNext, 4).unwrap();
    run(&mut q, "1", WindowCommand::Start, 4).unwrap();
    run(
        &mut q,
        "1",
        WindowCommand::Transfer {
            service: Some("property".into()),
            window: None,
        },
        6,
    )
    .unwrap();
    let t = &q.tickets["A001"];
    assert_eq!(
        (t.service.as_str(), t.state, t.arrived_at.as_str()),
        ("property", QueueState::Waiting, at(1).as_str())
    );
    assert_eq!(
        run(&mut q, "2", WindowCommand::CallNext, 7)
            .unwrap()
            .as_deref(),
        Some("A001"),
        "arrived at minute 1: ahead of B001 and B002"
    );
    // A transfer to one window: only that window calls it.
    run(
        &mut q,
        "2",
        WindowCommand::Transfer {
            service: None,
            window: Some("5".into()),
        },
        8,
    )
    .unwrap();
    assert_eq!(q.tickets["A001"].for_window.as_deref(), Some("5"));
    assert_eq!(
        run(&mut q, "2", WindowCommand::CallNext, 9)
            .unwrap()
            .as_deref(),
        Some("B001")
    );
    assert_eq!(
        run(&mut q, "5", WindowCommand::CallNext, 9)
            .unwrap()
            .as_deref(),
        Some("A001")
    );
    assert_eq!(
        run(
            &mut q,
            "5",
            WindowCommand::Transfer {
                service: Some("tax".into()),
                window: None
            },
            10
        ),
        Err(QueueRefusal::UnknownService("tax".into()))
    );
}

#[test]
fn hold_sets_a_ticket_aside_and_the_window_calls_it_back_by_number() {
    let mut q = hall(&[("1", &["social"])]);
    login(&mut q, "1", "S001");
    arrive(&mut q, "A001", "social", 1, &[]);
    arrive(&mut q, "A002", "social", 2, &[]);
    run(&mut q, "1", WindowCommand::CallNext, 3).unwrap();
    run(&mut q, "1", WindowCommand::Start, 3).unwrap();
    run(&mut q, "1", WindowCommand::Hold, 4).unwrap();
    assert_eq!(q.tickets["A001"].state, QueueState::Hold);
    assert_eq!(
        run(&mut q, "1", WindowCommand::CallNext, 5)
            .unwrap()
            .as_deref(),
        Some("A002")
    );
    run(&mut q, "1", WindowCommand::Finish, 6).unwrap();
    assert_eq!(
        run(
            &mut q,
            "1",
            WindowCommand::CallHeld {
                number: "A002".into()
            },
            7
        ),
        Err(QueueRefusal::NotHeld("A002".into()))
    );
    assert_eq!(
        run(
            &mut q,
            "1",
            WindowCommand::CallHeld {
                number: "A001".into()
            },
            7
        )
        .unwrap()
        .as_deref(),
        Some("A001")
    );
}

#[test]
fn logging_out_hands_an_unfinished_ticket_back_in_its_place() {
    let mut q = hall(&[("1", &["social"]), ("2", &["social"])]);
    login(&mut q, "1", "S001");
    login(&mut q, "2", "S002");
    assert_eq!(
        q.command(
            &QueueRules::default(),
            "2",
            &WindowCommand::Login {
                staff: "S001".into()
            },
            &at(0)
        ),
        Err(QueueRefusal::StaffElsewhere("S001".into(), "1".into()))
    );
    arrive(&mut q, "A001", "social", 1, &[]);
    arrive(&mut q, "A002", "social", 2, &[]);
    run(&mut q, "1", WindowCommand::CallNext, 3).unwrap();
    run(&mut q, "1", WindowCommand::Logout, 4).unwrap();
    assert_eq!(q.windows["1"].state, WindowState::Closed);
    assert_eq!(
        run(&mut q, "2", WindowCommand::CallNext, 5)
            .unwrap()
            .as_deref(),
        Some("A001")
    );
}

#[test]
fn the_timeline_gives_wait_handling_and_satisfaction() {
    let mut q = hall(&[("1", &["social"])]);
    login(&mut q, "1", "S001");
    arrive(&mut q, "A001", "social", 0, &[]);
    arrive(&mut q, "A002", "social", 60, &[]);
    arrive(&mut q, "A003", "social", 120, &[]);
    // A001 waits 300 s, is served 120 s.
    run(&mut q, "1", WindowCommand::CallNext, 300).unwrap();
    run(&mut q, "1", WindowCommand::Start, 330).unwrap();
    run(&mut q, "1", WindowCommand::Finish, 450).unwrap();
    // A002 waits 400 s, never comes.
    run(&mut q, "1", WindowCommand::CallNext, 460).unwrap();
    run(&mut q, "1", WindowCommand::NoShow, 520).unwrap();
    // A003 waits 420 s, is served 60 s.
    run(&mut q, "1", WindowCommand::CallNext, 540).unwrap();
    run(&mut q, "1", WindowCommand::Start, 550).unwrap();
    run(&mut q, "1", WindowCommand::Finish, 610).unwrap();
    q.tickets.get_mut("A001").unwrap().rating = Some(5);
    q.tickets.get_mut("A003").unwrap().rating = Some(2);
    let tickets: Vec<QueueTicket> = q.tickets.values().cloned().collect();
    let s = super::stats::figures("kunshan", "2026-12-03", "2026-12-03", &tickets);
    let f = &s.total;
    assert_eq!((f.issued, f.calls, f.served, f.no_shows), (3, 3, 2, 1));
    assert_eq!(
        f.average_wait_s,
        Some((300.0 + 400.0 + 420.0) / 3.0 * 10.0_f64).map(|v| (v).round() / 10.0)
    );
    assert_eq!(f.average_handling_s, Some(90.0));
    assert_eq!((f.ratings, f.satisfaction), (2, Some(0.5)));
    assert_eq!(s.by_window["1"].served, 2);
    assert_eq!(s.by_service["social"].issued, 3);
    assert_eq!(
        s.by_hour.keys().collect::<Vec<_>>(),
        ["09"],
        "01:00 UTC is 09 in the hall"
    );
    assert_eq!(s.by_day["2026-12-03"].issued, 3);
}

#[test]
fn priority_follows_the_halls_rules() {
    let rules = QueueRules {
        elderly_age: Some(65),
        ..QueueRules::default()
    };
    assert_eq!(priority_of(&rules, false, Some(64)), []);
    assert_eq!(
        priority_of(&rules, false, Some(65)),
        [PriorityReason::Elderly]
    );
    assert_eq!(
        priority_of(&rules, true, Some(80)),
        [PriorityReason::Appointment, PriorityReason::Elderly]
    );
    assert_eq!(
        priority_of(&QueueRules::default(), false, Some(90)),
        [],
        "off unless the hall turns it on"
    );
}

#[test]
fn online_numbers_step_over_blocks_and_blocks_start_apart() {
    use super::{next_block_start, next_online};
    assert_eq!(next_online(0, &[]), 1);
    assert_eq!(next_online(7, &[(501, 530)]), 8);
    assert_eq!(
        next_online(500, &[(501, 530), (531, 560)]),
        561,
        "never into a block"
    );
    assert_eq!(next_block_start(0, 0), 501);
    assert_eq!(next_block_start(12, 530), 531);
    assert_eq!(
        next_block_start(700, 530),
        701,
        "past online numbers that ran high"
    );
}

#[derive(Debug, Clone)]
enum Step {
    Arrive { service: usize, priority: bool },
    Window { window: usize, cmd: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, any::<bool>())
            .prop_map(|(service, priority)| Step::Arrive { service, priority }),
        (0..4usize, 0..9u8).prop_map(|(window, cmd)| Step::Window { window, cmd }),
    ]
}

const SERVICES: [&str; 3] = ["social", "property", "tax"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Windows working one queue in any order: no ticket is ever at two windows, a call-next
    /// always takes the best ticket the window may call, and no number is called again once
    /// it is finished.
    #[test]
    fn windows_never_share_a_ticket_or_skip_a_better_one(steps in proptest::collection::vec(step(), 1..120)) {
        let services: [&[&str]; 4] = [&["social"], &["social", "property"], &["property", "tax"], &["tax"]];
        let mut q = hall(&[("1", services[0]), ("2", services[1]), ("3", services[2]), ("4", services[3])]);
        for w in 1..=4 {
            login(&mut q, &w.to_string(), &format!("S{w}"));
        }
        let rules = QueueRules::default();
        let mut n = 0;
        for (minute, s) in steps.into_iter().enumerate() {
            let minute = minute as u32 + 1;
            match s {
                Step::Arrive { service, priority } => {
                    n += 1;
                    let p: &[PriorityReason] = if priority { &[PriorityReason::Appointment] } else { &[] };
                    arrive(&mut q, &format!("T{n:03}"), SERVICES[service], minute, p);
                }
                Step::Window { window, cmd } => {
                    let w = (window + 1).to_string();
                    let command = match cmd {
                        0 | 1 => WindowCommand::CallNext,
                        2 => WindowCommand::Recall,
                        3 => WindowCommand::Start,
                        4 => WindowCommand::Finish,
                        5 => WindowCommand::NoShow,
                        6 => WindowCommand::Hold,
                        7 => WindowCommand::Transfer { service: Some(SERVICES[(window + 1) % 3].into()), window: None },
                        _ => WindowCommand::Transfer { service: None, window: Some(((window + 1) % 4 + 1).to_string()) },
                    };
                    let best = q.windows.get(&w).and_then(|win| q.callable(&rules, win).first().map(|t| t.number.clone()));
                    let before = q.clone();
                    match q.command(&rules, &w, &command, &at(minute)) {
                        Ok(Some(called)) if command == WindowCommand::CallNext => {
                            prop_assert_eq!(Some(called), best);
                        }
                        Ok(_) => {}
                        Err(_) => {
                            // A refusal changes nothing.
                            prop_assert_eq!(&q.tickets, &before.tickets);
                            prop_assert_eq!(&q.windows, &before.windows);
                            prop_assert_eq!(q.events.len(), before.events.len());
                        }
                    }
                }
            }
            // At most one window has each ticket, and a window's ticket names that window.
            let mut seen = std::collections::BTreeSet::new();
            for win in q.windows.values() {
                if let Some(c) = &win.current {
                    prop_assert!(seen.insert(c.clone()), "{} at two windows", c);
                    let t = &q.tickets[c];
                    prop_assert_eq!(t.window.as_deref(), Some(win.window.as_str()));
                    prop_assert!(matches!(t.state, QueueState::Called | QueueState::Serving));
                }
            }
            for t in q.tickets.values() {
                if matches!(t.state, QueueState::Called | QueueState::Serving) {
                    let w = t.window.clone().unwrap_or_default();
                    prop_assert_eq!(q.windows[&w].current.as_deref(), Some(t.number.as_str()));
                }
                // Every ticket's timeline is one unbroken line: each period starts where the
                // last one ended, and only the last is open.
                for pair in t.periods.windows(2) {
                    prop_assert_eq!(pair[0].to.as_deref(), Some(pair[1].from.as_str()));
                }
            }
        }
        // Event ids rise by one.
        for (i, e) in q.events.iter().enumerate() {
            prop_assert_eq!(e.id, i as u64 + 1);
        }
    }
}
