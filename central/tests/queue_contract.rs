//! The hall queue on both stores: tickets issued and printed join the queue, many windows
//! calling at once never get one ticket twice and take tickets in their order, a restart in
//! the middle of a call loses nothing, and the feed and the statistics tell what happened.

use kiosk_central::queue::{BuiltinQueue, QueueEngine, QueueRefusal, QueueRules};
use kiosk_central::{SqliteStore, Store};
use kiosk_protocol::queue::{QueueEventKind, QueueState, WindowCommand};
use kiosk_protocol::wire::{IngestBatch, TicketRequest};
use serde_json::json;

mod common;
use common::{envelope, pg, printed_tickets};

const HALL: &str = "kunshan";

/// Both stores as targets that can be opened again (a restart).
fn targets() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("c.db").display().to_string();
    SqliteStore::open(std::path::Path::new(&sqlite)).unwrap();
    (dir, vec![sqlite, pg().server.database().unwrap()])
}

#[test]
fn windows_calling_at_once_never_call_one_ticket_twice_and_keep_the_order() {
    let (_d, targets) = targets();
    for target in &targets {
        let s = Store::open(target).unwrap();
        let k = s.kind();
        let q = BuiltinQueue::new(s.clone(), QueueRules::default());
        const WINDOWS: usize = 8;
        for w in 1..=WINDOWS {
            q.set_window(HALL, &w.to_string(), &["social".into()])
                .unwrap();
            q.command(
                HALL,
                &w.to_string(),
                &WindowCommand::Login {
                    staff: format!("S{w:03}"),
                },
            )
            .unwrap()
            .unwrap();
        }
        let issued = printed_tickets(&s, HALL, "social", "A", 60, 1);
        let windows: Vec<_> = (1..=WINDOWS)
            .map(|w| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let w = w.to_string();
                    let mut mine = Vec::new();
                    loop {
                        match q.command(HALL, &w, &WindowCommand::CallNext).unwrap() {
                            Ok(o) => {
                                mine.push(o.ticket.unwrap().number);
                                q.command(HALL, &w, &WindowCommand::Finish)
                                    .unwrap()
                                    .unwrap();
                            }
                            Err(QueueRefusal::NobodyWaiting(_)) => return mine,
                            Err(e) => panic!("window {w}: {e}"),
                        }
                    }
                })
            })
            .collect();
        let mut called: Vec<String> = windows
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(called.len(), 60, "{k}: every ticket called once");
        called.sort();
        called.dedup();
        assert_eq!(called, issued, "{k}: no ticket twice, none left out");
        // The feed shows the calls in the order they were made: the order of arrival.
        let feed = q.events_after(HALL, 0, 10_000).unwrap();
        let calls: Vec<&str> = feed
            .iter()
            .filter(|e| e.kind == QueueEventKind::Called)
            .filter_map(|e| e.number.as_deref())
            .collect();
        let mut in_order = calls.clone();
        in_order.sort();
        assert_eq!(calls, in_order, "{k}: called in arrival order");
        for (i, e) in feed.iter().enumerate() {
            assert_eq!(e.id, i as u64 + 1, "{k}: the feed has no gaps");
        }
        let stats = q
            .stats(
                HALL,
                &kiosk_central::queue::today(),
                &kiosk_central::queue::today(),
            )
            .unwrap();
        assert_eq!(
            (stats.total.issued, stats.total.calls, stats.total.served),
            (60, 60, 60),
            "{k}"
        );
        assert_eq!(
            stats.by_window.values().map(|f| f.served).sum::<u32>(),
            60,
            "{k}"
        );
    }
}

#[test]
fn a_restart_in_the_middle_of_a_call_loses_nothing() {
    let (_d, targets) = targets();
    for target in &targets {
        let k;
        {
            let s = Store::open(target).unwrap();
            k = s.kind();
            let q = BuiltinQueue::new(s.clone(), QueueRules::default());
            q.set_window(HALL, "3", &["social".into(), "estate".into()])
                .unwrap();
            q.command(
                HALL,
                "3",
                &WindowCommand::Login {
                    staff: "S003".into(),
                },
            )
            .unwrap()
            .unwrap();
            printed_tickets(&s, HALL, "social", "A", 2, 1);
            let o = q
                .command(HALL, "3", &WindowCommand::CallNext)
                .unwrap()
                .unwrap();
            assert_eq!(o.ticket.unwrap().number, "A001", "{k}");
        }
        // The centre comes back: the call stands, the recall counts on, the feed resumes.
        let s = Store::open(target).unwrap();
        let q = BuiltinQueue::new(s, QueueRules::default());
        let board = q.board(HALL).unwrap();
        let w3 = board.windows.iter().find(|w| w.window == "3").unwrap();
        assert_eq!(w3.current.as_deref(), Some("A001"), "{k}");
        assert_eq!(board.waiting.get("social"), Some(&1), "{k}");
        assert_eq!(board.recent.len(), 1, "{k}");
        let seen = board.last_event;
        let o = q
            .command(HALL, "3", &WindowCommand::Recall)
            .unwrap()
            .unwrap();
        let t = o.ticket.unwrap();
        assert_eq!(
            (t.number.as_str(), t.calls, t.state),
            ("A001", 2, QueueState::Called),
            "{k}"
        );
        let news = q.events_after(HALL, seen, 100).unwrap();
        assert_eq!(news.len(), 1, "{k}");
        assert_eq!(
            (news[0].kind, news[0].calls),
            (QueueEventKind::Called, 2),
            "{k}"
        );
        // A recall moves the ticket up the board, never twice on it.
        assert_eq!(q.board(HALL).unwrap().recent.len(), 1, "{k}");
    }
}

#[test]
fn a_failed_print_never_joins_the_queue_and_display_tokens_open_one_hall() {
    let (_d, targets) = targets();
    for target in &targets {
        let s = Store::open(target).unwrap();
        let k = s.kind();
        let q = BuiltinQueue::new(s.clone(), QueueRules::default());
        q.set_window(HALL, "1", &["social".into()]).unwrap();
        q.command(HALL, "1", &WindowCommand::Login { staff: "S1".into() })
            .unwrap()
            .unwrap();
        let day = kiosk_central::queue::today();
        let req = TicketRequest {
            device_id: "KSK-1".into(),
            request_id: "lost".into(),
            prefix: "A".into(),
            appointment: None,
            holder: None,
            age: None,
        };
        let t = s
            .issue_ticket(HALL, "social", &day, &req, &[])
            .unwrap()
            .unwrap();
        let failed = envelope(
            "KSK-1",
            1,
            "output.result",
            json!({"outcome": "failed", "ticket": {"hall": HALL, "service": "social", "day": day, "number": t.number}}),
        );
        s.ingest(
            "KSK-1",
            &IngestBatch {
                events: vec![failed],
            },
            "t",
        )
        .unwrap();
        assert!(
            matches!(
                q.command(HALL, "1", &WindowCommand::CallNext).unwrap(),
                Err(QueueRefusal::NobodyWaiting(_))
            ),
            "{k}"
        );
        let token = s.create_display_token(HALL).unwrap();
        assert!(s.display_token_allows(HALL, &token).unwrap(), "{k}");
        assert!(
            !s.display_token_allows("other-hall", &token).unwrap(),
            "{k}"
        );
        assert!(!s.display_token_allows(HALL, "guess").unwrap(), "{k}");
    }
}

#[test]
fn offline_tickets_from_a_reserved_block_join_in_arrival_order_and_never_repeat_a_number() {
    use kiosk_protocol::wire::NumberBlockRequest;
    let (_d, targets) = targets();
    for target in &targets {
        let s = Store::open(target).unwrap();
        let k = s.kind();
        let q = BuiltinQueue::new(s.clone(), QueueRules::default());
        q.set_window(HALL, "1", &["social".into()]).unwrap();
        q.command(HALL, "1", &WindowCommand::Login { staff: "S1".into() })
            .unwrap()
            .unwrap();
        let day = kiosk_central::queue::today();
        let ask = |id: &str, size: u32| NumberBlockRequest {
            device_id: "KSK-2".into(),
            request_id: id.into(),
            size,
        };
        // In advance: the machine reserves five numbers; a retry gets the same five.
        let block = s
            .reserve_block(HALL, "social", &day, &ask("b1", 5))
            .unwrap();
        assert_eq!(
            (block.first, block.last),
            (501, 505),
            "{k}: apart from the online numbers"
        );
        assert_eq!(
            s.reserve_block(HALL, "social", &day, &ask("b1", 5))
                .unwrap(),
            block,
            "{k}"
        );

        // The centre is cut off from KSK-2: it prints A501 and A502 from its block. Meanwhile
        // another machine, online, numbers on from A001.
        let early = |minutes: i64| {
            (chrono::Utc::now() - chrono::Duration::minutes(minutes))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let online = printed_tickets(&s, HALL, "social", "A", 1, 1);
        assert_eq!(
            online,
            ["A001"],
            "{k}: online numbering is not held up by the block"
        );
        let offline = |seq: u32, number: &str, at: String, request: &str| {
            json!({"ticket": {"hall": HALL, "service": "social", "day": day, "seq": seq,
                              "number": number, "issued_at": at, "request_id": request}})
        };
        let printed = |number: &str| json!({"outcome": "printed", "ticket": {"hall": HALL, "service": "social", "day": day, "number": number}});
        // Back online: its journal arrives, each ticket before its print result.
        let events = vec![
            envelope(
                "KSK-2",
                1,
                "ticket.offline",
                offline(501, "A501", early(10), "o1"),
            ),
            envelope("KSK-2", 2, "output.result", printed("A501")),
            envelope(
                "KSK-2",
                3,
                "ticket.offline",
                offline(502, "A502", early(8), "o2"),
            ),
            envelope("KSK-2", 4, "output.result", printed("A502")),
            // Outside its block, a number already used, and a number that is not its
            // sequence: none is taken.
            envelope(
                "KSK-2",
                5,
                "ticket.offline",
                offline(509, "A509", early(7), "o3"),
            ),
            envelope(
                "KSK-2",
                6,
                "ticket.offline",
                offline(502, "A502", early(6), "o4"),
            ),
            envelope(
                "KSK-2",
                7,
                "ticket.offline",
                offline(503, "A999", early(6), "o5"),
            ),
        ];
        s.ingest("KSK-2", &IngestBatch { events }, "t").unwrap();
        let mut called = Vec::new();
        while let Ok(o) = q.command(HALL, "1", &WindowCommand::CallNext).unwrap() {
            called.push(o.ticket.unwrap().number);
            q.command(HALL, "1", &WindowCommand::Finish)
                .unwrap()
                .unwrap();
        }
        assert_eq!(
            called,
            ["A501", "A502", "A001"],
            "{k}: in the order they were issued"
        );
        let stats = q.stats(HALL, &day, &day).unwrap();
        assert_eq!(
            stats.total.issued, 3,
            "{k}: A509, A999 and the second A502 were not taken"
        );
        // The next block starts after every block; online numbering goes on below.
        let next = s
            .reserve_block(HALL, "social", &day, &ask("b2", 3))
            .unwrap();
        assert_eq!((next.first, next.last), (506, 508), "{k}");
        assert_eq!(
            printed_tickets(&s, HALL, "social", "A", 1, 100),
            ["A002"],
            "{k}"
        );
    }
}

#[test]
fn one_rating_per_ticket_bound_to_case_window_and_clerk_through_the_journal() {
    use kiosk_protocol::queue::TicketRating;
    let (_d, targets) = targets();
    for target in &targets {
        let s = Store::open(target).unwrap();
        let k = s.kind();
        let q = BuiltinQueue::new(s.clone(), QueueRules::default());
        q.set_window(HALL, "3", &["social".into()]).unwrap();
        q.command(
            HALL,
            "3",
            &WindowCommand::Login {
                staff: "S003".into(),
            },
        )
        .unwrap()
        .unwrap();
        printed_tickets(&s, HALL, "social", "A", 1, 1);
        q.command(HALL, "3", &WindowCommand::CallNext)
            .unwrap()
            .unwrap();
        q.command(HALL, "3", &WindowCommand::Start)
            .unwrap()
            .unwrap();
        q.command(HALL, "3", &WindowCommand::Finish)
            .unwrap()
            .unwrap();
        let day = kiosk_central::queue::today();
        let rating = |level: u8, complaint: Option<&str>| TicketRating {
            hall: HALL.into(),
            day: day.clone(),
            number: "A001".into(),
            service: "social".into(),
            window: "3".into(),
            staff: "S003".into(),
            case_number: Some("20261203000042".into()),
            level,
            tags: vec!["办事效率高".into()],
            complaint: complaint.map(str::to_string),
            complaint_sha256: None,
            channel: "window-pad".into(),
            rated_at: kiosk_central::queue::now_rfc3339(),
        };
        let first = rating(2, Some("等待时间太长"));
        let events = vec![
            envelope("WIN-3", 1, "queue.rated", json!({ "rating": first })),
            // The same ticket again (a second tap): the first rating stands.
            envelope(
                "WIN-3",
                2,
                "queue.rated",
                json!({ "rating": rating(5, None) }),
            ),
            // A level out of range is no rating.
            envelope(
                "WIN-3",
                3,
                "queue.rated",
                json!({ "rating": rating(9, None) }),
            ),
        ];
        s.ingest("WIN-3", &IngestBatch { events }, "t").unwrap();
        let kept = s.queue_ratings(HALL, &day, &day).unwrap();
        assert_eq!(kept, std::slice::from_ref(&first), "{k}: every field, once");
        let stats = q.stats(HALL, &day, &day).unwrap();
        assert_eq!(
            (stats.total.ratings, stats.total.satisfaction),
            (1, Some(0.0)),
            "{k}"
        );
        assert_eq!(stats.by_window["3"].ratings, 1, "{k}");
        let t = s.queue_tickets_between(HALL, &day, &day).unwrap();
        assert_eq!(t[0].rating, Some(2), "{k}");
        assert_eq!(t[0].case_number.as_deref(), Some("20261203000042"), "{k}");
    }
}

#[test]
fn five_wrong_pins_lock_a_clerk_for_fifteen_minutes_across_restarts_and_every_try_is_audited() {
    use kiosk_central::staff::{hash_pin, StaffEntry, StaffRefusal};
    let (_d, targets) = targets();
    let t0 = chrono::Utc::now();
    for target in &targets {
        let k;
        {
            let s = Store::open(target).unwrap();
            k = s.kind();
            s.put_staff(
                HALL,
                &StaffEntry {
                    staff: "S003".into(),
                    name: "张三".into(),
                    title: "综合窗口".into(),
                    photo_jpeg_base64: None,
                    pin_hash: hash_pin("246810").unwrap(),
                },
            )
            .unwrap();
            let login = |pin: &str| s.staff_login(HALL, "S003", pin, "3", "WIN-3", t0).unwrap();
            assert_eq!(login("246810").unwrap().name, "张三", "{k}");
            for left in [4, 3, 2, 1] {
                assert_eq!(
                    login("000000"),
                    Err(StaffRefusal::WrongPin { tries_left: left }),
                    "{k}"
                );
            }
            assert!(
                matches!(login("000000"), Err(StaffRefusal::Locked { .. })),
                "{k}"
            );
        }
        // The centre restarts: still locked, even for the right PIN, until 15 minutes pass.
        let s = Store::open(target).unwrap();
        let at = |m: i64| t0 + chrono::Duration::minutes(m);
        assert!(
            matches!(
                s.staff_login(HALL, "S003", "246810", "3", "WIN-3", at(14))
                    .unwrap(),
                Err(StaffRefusal::Locked { .. })
            ),
            "{k}"
        );
        assert!(
            s.staff_login(HALL, "S003", "246810", "3", "WIN-3", at(16))
                .unwrap()
                .is_ok(),
            "{k}"
        );
        assert_eq!(
            s.staff_login(HALL, "S999", "246810", "3", "WIN-3", at(16))
                .unwrap(),
            Err(StaffRefusal::Unknown("S999".into())),
            "{k}"
        );
        let audit = s.staff_audit(HALL, "S003").unwrap();
        let outcomes: Vec<&str> = audit.iter().map(|a| a.3.as_str()).collect();
        assert_eq!(outcomes.len(), 8, "{k}: every try: {outcomes:?}");
        assert_eq!(
            outcomes.iter().filter(|o| **o == "logged-in").count(),
            2,
            "{k}"
        );
        assert_eq!(
            outcomes.iter().filter(|o| **o == "locked").count(),
            2,
            "{k}"
        );
        assert!(audit.iter().all(|a| a.1 == "WIN-3" && a.2 == "3"), "{k}");
    }
}
