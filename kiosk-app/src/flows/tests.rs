//! The journeys as state machines, without devices or screens: the happy paths, and every fault
//! at every step, each ending on a defined screen with a way on.

use std::time::Duration;

use serde_json::json;

use super::admin;
use super::kiosk::{self, Kiosk, Offer, Screen, Unavailable};
use super::session::EndReason;
use super::ticket::{self, Effect, How, Input, Outcome, Problem, Retry, Scan, Stage, TicketInfo};
use crate::config::IdleConfig;
use crate::services::card::CardProblem;
use crate::services::catalogue::Catalogue;
use crate::services::guide::Module;
use crate::services::queue::{NumberProblem, PrintProblem};
use crate::services::technicians::Opener;

fn catalogue() -> Catalogue {
    Catalogue::from_json(&json!({
        "hall": {"id": "ks", "name": {"zh-CN": "昆山"}},
        "queue": {"groups": [
            {"id": "huji", "prefix": "A", "name": {"zh-CN": "户籍"}, "identify": "required", "methods": ["id-card", "appointment"]},
            {"id": "shebao", "prefix": "C", "name": {"zh-CN": "社保"}, "identify": "optional", "methods": ["id-card"]},
            {"id": "shuiwu", "prefix": "H", "name": {"zh-CN": "税务"}, "identify": "none"},
            {"id": "budongchan", "prefix": "F", "name": {"zh-CN": "不动产"}, "identify": "required", "methods": ["appointment"]}
        ]}
    }))
    .unwrap()
}

fn ctx(c: &Catalogue) -> ticket::Context<'_> {
    ticket::Context {
        catalogue: Some(c),
        has_reader: true,
        has_scanner: true,
    }
}

fn info(n: &str) -> TicketInfo {
    TicketInfo {
        number: n.into(),
        ahead: Some(7),
        unconfirmed: false,
    }
}

/// Runs `inputs` from the first stage; returns the last stage and every effect on the way.
fn run(c: &Catalogue, inputs: Vec<Input>) -> (Stage, Vec<Effect>) {
    let cx = ctx(c);
    let (mut stage, mut all) = ticket::start(&cx);
    for i in inputs {
        let (s, fx) = ticket::step(&stage, i, &cx);
        stage = s;
        all.extend(fx);
    }
    (stage, all)
}

fn finished(fx: &[Effect]) -> Option<Outcome> {
    fx.iter().find_map(|e| match e {
        Effect::Finish(o) => Some(o.clone()),
        _ => None,
    })
}

/// After the journey ends, no light is left blinking and nothing is left waiting.
fn assert_tidy(fx: &[Effect]) {
    for m in [Module::IdCard, Module::Scanner, Module::Printer] {
        let last = fx.iter().rev().find_map(|e| match e {
            Effect::Light(x, on) if *x == m => Some(*on),
            _ => None,
        });
        assert_ne!(last, Some(true), "{m:?} light left on: {fx:?}");
    }
    let waits = fx
        .iter()
        .rposition(|e| matches!(e, Effect::WaitForCard | Effect::WaitForCode));
    let stop = fx.iter().rposition(|e| matches!(e, Effect::StopWaiting));
    if let Some(w) = waits {
        assert!(
            stop.is_some_and(|s| s > w),
            "a wait was never stopped: {fx:?}"
        );
    }
}

#[test]
fn a_ticket_with_the_id_card() {
    let c = catalogue();
    let (stage, fx) = run(&c, vec![Input::Choose("huji".into())]);
    assert_eq!(
        stage,
        Stage::Identify {
            group: "huji".into()
        }
    );
    assert_eq!(
        fx,
        vec![
            Effect::Light(Module::IdCard, true),
            Effect::WaitForCard,
            Effect::Light(Module::Scanner, true),
            Effect::WaitForCode,
        ],
        "the reader and the scanner blink: either identifies"
    );
    let (stage, fx) = run(
        &c,
        vec![
            Input::Choose("huji".into()),
            Input::CardRead(Ok(())),
            Input::Numbered(Ok(info("A023"))),
            Input::Printed(Ok(info("A023"))),
        ],
    );
    assert_eq!(
        stage,
        Stage::Taken {
            group: "huji".into(),
            ticket: info("A023")
        }
    );
    assert!(fx.contains(&Effect::Number {
        group: "huji".into(),
        how: How::Card
    }));
    assert!(fx.contains(&Effect::Light(Module::Printer, true)));
    assert_eq!(fx.last(), Some(&Effect::StartTakenTimer));
    for end in [Input::TakenElapsed, Input::Done] {
        let (_, fx2) = ticket::step(&stage, end, &ctx(&c));
        assert_eq!(
            finished(&fx2),
            Some(Outcome::Taken {
                group: "huji".into(),
                number: "A023".into()
            })
        );
        let mut all = fx.clone();
        all.extend(fx2.clone());
        assert_tidy(&all);
        assert!(fx2.contains(&Effect::Forget));
    }
}

#[test]
fn a_ticket_by_appointment_without_identification_and_skipping() {
    let c = catalogue();
    let (stage, fx) = run(
        &c,
        vec![
            Input::Choose("budongchan".into()),
            Input::Scanned(Scan::Appointment),
        ],
    );
    assert_eq!(
        stage,
        Stage::Numbering {
            group: "budongchan".into(),
            how: How::Appointment
        }
    );
    assert!(
        !fx.contains(&Effect::WaitForCard),
        "this group takes appointments only"
    );
    // No identification: straight to the number.
    let (stage, fx) = run(&c, vec![Input::Choose("shuiwu".into())]);
    assert_eq!(
        (stage, fx),
        (
            Stage::Numbering {
                group: "shuiwu".into(),
                how: How::Nobody
            },
            vec![Effect::Number {
                group: "shuiwu".into(),
                how: How::Nobody
            }]
        )
    );
    // Optional: the citizen may skip; a required group cannot be skipped.
    let (stage, _) = run(&c, vec![Input::Choose("shebao".into()), Input::Skip]);
    assert!(matches!(
        stage,
        Stage::Numbering {
            how: How::Nobody,
            ..
        }
    ));
    let (stage, _) = run(&c, vec![Input::Choose("huji".into()), Input::Skip]);
    assert_eq!(
        stage,
        Stage::Identify {
            group: "huji".into()
        }
    );
    // An optional group on a terminal without a reader goes on without identification; a
    // required one cannot be served here.
    let bare = ticket::Context {
        catalogue: Some(&c),
        has_reader: false,
        has_scanner: false,
    };
    let (s, _) = ticket::step(&Stage::Groups, Input::Choose("shebao".into()), &bare);
    assert!(matches!(
        s,
        Stage::Numbering {
            how: How::Nobody,
            ..
        }
    ));
    let (s, _) = ticket::step(&Stage::Groups, Input::Choose("huji".into()), &bare);
    assert!(matches!(
        s,
        Stage::Problem {
            problem: Problem::CannotIdentifyHere,
            ..
        }
    ));
}

/// The stages a journey passes through, each with the inputs that reach it.
fn stages() -> Vec<(&'static str, Vec<Input>)> {
    vec![
        ("groups", vec![]),
        ("identify", vec![Input::Choose("huji".into())]),
        (
            "numbering",
            vec![Input::Choose("huji".into()), Input::CardRead(Ok(()))],
        ),
        (
            "printing",
            vec![
                Input::Choose("huji".into()),
                Input::CardRead(Ok(())),
                Input::Numbered(Ok(info("A023"))),
            ],
        ),
        (
            "taken",
            vec![
                Input::Choose("huji".into()),
                Input::CardRead(Ok(())),
                Input::Numbered(Ok(info("A023"))),
                Input::Printed(Ok(info("A023"))),
            ],
        ),
    ]
}

/// Every fault a device or the centre can answer with.
fn faults() -> Vec<(Input, &'static str, Option<&'static str>)> {
    // (input, the problem it makes, the stage where it belongs)
    vec![
        (
            Input::CardRead(Err(CardProblem::Moved)),
            "card-moved",
            Some("identify"),
        ),
        (
            Input::CardRead(Err(CardProblem::Unreadable("SW3 32".into()))),
            "card-unreadable",
            Some("identify"),
        ),
        (
            Input::CardRead(Err(CardProblem::Expired("2025-03-10".into()))),
            "card-expired",
            Some("identify"),
        ),
        (
            Input::CardRead(Err(CardProblem::ReaderFault("SW3 60".into()))),
            "card-reader-fault",
            Some("identify"),
        ),
        (
            Input::Scanned(Scan::Other),
            "not-an-appointment",
            Some("identify"),
        ),
        (
            Input::Numbered(Err(NumberProblem::CentreUnreachable("timed out".into()))),
            "centre-unreachable",
            Some("numbering"),
        ),
        (
            Input::Numbered(Err(NumberProblem::Refused("hall closed".into()))),
            "centre-refused",
            Some("numbering"),
        ),
        (
            Input::Numbered(Err(NumberProblem::AppointmentUsed("A001".into()))),
            "appointment-used",
            Some("numbering"),
        ),
        (
            Input::Printed(Err(PrintProblem::PaperOut)),
            "print-paper-out",
            Some("printing"),
        ),
        (
            Input::Printed(Err(PrintProblem::CoverOpen)),
            "print-cover-open",
            Some("printing"),
        ),
        (
            Input::Printed(Err(PrintProblem::CutterJam)),
            "print-cutter-jam",
            Some("printing"),
        ),
        (
            Input::Printed(Err(PrintProblem::Fault("offline".into()))),
            "print-fault",
            Some("printing"),
        ),
    ]
}

#[test]
fn every_fault_at_every_step_ends_on_a_problem_screen_or_changes_nothing() {
    let c = catalogue();
    let cx = ctx(&c);
    for (name, path) in stages() {
        let (stage, before) = run(&c, path);
        for (fault, code, belongs) in faults() {
            let (after, fx) = ticket::step(&stage, fault.clone(), &cx);
            if belongs == Some(name) {
                let Stage::Problem { problem, retry, .. } = &after else {
                    panic!("{fault:?} at {name} ended on {after:?}");
                };
                assert_eq!(problem.code(), code, "{fault:?} at {name}");
                // A problem screen always has a way on: back home, and "try again" where
                // trying again can help.
                let (_, home) = ticket::step(&after, Input::Back, &cx);
                let outcome = finished(&home).expect("back leaves the journey");
                assert!(
                    matches!(&outcome, Outcome::NotTaken { problem, .. } if problem == code),
                    "{outcome:?}"
                );
                let mut all = before.clone();
                all.extend(fx.clone());
                all.extend(home);
                assert_tidy(&all);
                let print_fault = code.starts_with("print-");
                assert_eq!(
                    retry.is_none(),
                    print_fault || code == "centre-refused",
                    "{code}: {retry:?}"
                );
                if let Some(r) = retry {
                    let (again, _) = ticket::step(&after, Input::Retry, &cx);
                    match r {
                        Retry::Identify => {
                            assert_eq!(
                                again,
                                Stage::Identify {
                                    group: "huji".into()
                                }
                            )
                        }
                        Retry::Number(how) => assert_eq!(
                            again,
                            Stage::Numbering {
                                group: "huji".into(),
                                how: *how
                            }
                        ),
                    }
                }
                if print_fault {
                    assert!(fx.contains(&Effect::Light(Module::Printer, false)));
                }
            } else {
                // A late or stray answer for another stage changes nothing.
                assert_eq!((after, fx), (stage.clone(), vec![]), "{fault:?} at {name}");
            }
        }
        // Leaving is possible from every stage, and leaves nothing running.
        let (_, fx) = ticket::step(&stage, Input::Cancel, &cx);
        let outcome = finished(&fx).unwrap();
        if name == "taken" {
            assert!(matches!(outcome, Outcome::Taken { .. }));
        } else {
            assert_eq!(outcome, Outcome::Left);
        }
        let mut all = before;
        all.extend(fx);
        assert_tidy(&all);
    }
}

#[test]
fn a_card_left_unplaced_keeps_the_reader_waiting_and_a_cancelled_wait_is_silent() {
    let c = catalogue();
    let (stage, _) = run(&c, vec![Input::Choose("huji".into())]);
    let (s, fx) = ticket::step(&stage, Input::CardRead(Err(CardProblem::NoCard)), &ctx(&c));
    assert_eq!((s, fx), (stage.clone(), vec![Effect::WaitForCard]));
    let (s, fx) = ticket::step(
        &stage,
        Input::CardRead(Err(CardProblem::Canceled)),
        &ctx(&c),
    );
    assert_eq!((s, fx), (stage, vec![]));
}

#[test]
fn back_from_identifying_forgets_the_citizen_and_retries_reuse_the_request() {
    let c = catalogue();
    let (stage, _) = run(&c, vec![Input::Choose("huji".into())]);
    let (s, fx) = ticket::step(&stage, Input::Back, &ctx(&c));
    assert_eq!(s, Stage::Groups);
    assert!(fx.contains(&Effect::Forget) && fx.contains(&Effect::StopWaiting));
    // Centre away, then back: the retry asks again the same way (the host reuses the request
    // id, so the citizen gets one number even if the first answer was lost).
    let (stage, _) = run(
        &c,
        vec![
            Input::Choose("huji".into()),
            Input::Scanned(Scan::Appointment),
            Input::Numbered(Err(NumberProblem::CentreUnreachable("refused".into()))),
        ],
    );
    let (s, fx) = ticket::step(&stage, Input::Retry, &ctx(&c));
    assert_eq!(
        fx,
        vec![Effect::Number {
            group: "huji".into(),
            how: How::Appointment
        }]
    );
    assert!(matches!(s, Stage::Numbering { .. }));
}

#[test]
fn no_catalogue_is_a_problem_screen_not_an_empty_list() {
    let cx = ticket::Context {
        catalogue: None,
        has_reader: true,
        has_scanner: true,
    };
    let (s, _) = ticket::start(&cx);
    assert!(matches!(
        s,
        Stage::Problem {
            problem: Problem::NoGroups,
            ..
        }
    ));
}

// The kiosk around the journey.

struct Shell {
    k: Kiosk,
    now: Duration,
    idle: IdleConfig,
    offers: Vec<Offer>,
    c: Catalogue,
    staff: crate::services::technicians::Credentials,
}

impl Shell {
    fn new() -> Shell {
        Shell {
            k: Kiosk::new(Duration::ZERO, false),
            now: Duration::ZERO,
            idle: IdleConfig::default(),
            offers: vec![
                Offer {
                    id: "ticket".into(),
                    available: true,
                    why: None,
                },
                Offer {
                    id: "id-copy".into(),
                    available: true,
                    why: None,
                },
            ],
            c: catalogue(),
            staff: crate::services::technicians::Credentials {
                technicians: Vec::new(),
                shared_pin: Some("246810".into()),
            },
        }
    }

    fn step(&mut self, i: kiosk::Input) -> Vec<kiosk::Effect> {
        let cx = kiosk::Context {
            now: self.now,
            idle: &self.idle,
            staff: &self.staff,
            offers: &self.offers,
            ticket: ctx(&self.c),
            guide: super::guide::Context {
                catalogue: Some(&self.c),
                can_print: true,
                can_apply: true,
                can_prove: false,
            },
            idcopy: super::idcopy::Context {
                login: super::identify::Context {
                    has_reader: true,
                    has_scanner: true,
                    face: true,
                    finger: true,
                    agents: false,
                },
                card: super::identify::CardFacts {
                    photo: true,
                    fingerprint: true,
                },
                devices: true,
                purposes: 5,
                satisfied_tags: Vec::new(),
                unsatisfied_tags: Vec::new(),
            },
            apply: None,
            query: super::query::Context {
                login: super::identify::Context {
                    has_reader: true,
                    has_scanner: true,
                    face: true,
                    finger: true,
                    agents: false,
                },
                card: super::identify::CardFacts {
                    photo: true,
                    fingerprint: true,
                },
                can_print: true,
                identified: false,
            },
            papers: super::papers::Context {
                login: super::identify::Context {
                    has_reader: true,
                    has_scanner: true,
                    face: true,
                    finger: true,
                    agents: false,
                },
                card: super::identify::CardFacts {
                    photo: true,
                    fingerprint: true,
                },
                can_print: true,
                identified: false,
                proof: false,
                months: Vec::new(),
                count: 0,
                printed: 0,
            },
            default_english: false,
        };
        self.k.step(i, &cx)
    }

    fn wait(&mut self, secs: u64) -> Vec<kiosk::Effect> {
        self.now += Duration::from_secs(secs);
        self.step(kiosk::Input::Tick)
    }
}

#[test]
fn attract_home_journey_and_back_home() {
    let mut s = Shell::new();
    assert_eq!(s.k.screen, Screen::Attract);
    assert!(
        s.wait(3600).is_empty(),
        "the attract screen never times out"
    );
    s.step(kiosk::Input::Wake);
    assert_eq!(s.k.screen, Screen::Home);
    let fx = s.step(kiosk::Input::Start("ticket".into()));
    assert_eq!(fx, vec![kiosk::Effect::StartSession("ticket")]);
    assert_eq!(s.k.screen, Screen::Ticket(Stage::Groups));
    for i in [
        Input::Choose("shuiwu".into()),
        Input::Numbered(Ok(info("H001"))),
        Input::Printed(Ok(info("H001"))),
    ] {
        s.step(kiosk::Input::Journey(i));
    }
    // The last screen waits for its own timer, not for "Still there?".
    assert!(s.wait(300).is_empty());
    assert!(s.k.asking.is_none());
    let fx = s.step(kiosk::Input::Journey(Input::TakenElapsed));
    assert_eq!(fx.last(), Some(&kiosk::Effect::EndSession(EndReason::Done)));
    assert_eq!(s.k.screen, Screen::Home);
    // Home, left alone: "Still there?", then the attract screen.
    s.wait(60);
    assert_eq!(s.k.asking, Some(20));
    s.wait(20);
    assert_eq!(s.k.screen, Screen::Attract);
}

#[test]
fn a_forgotten_session_is_ended_and_tidied_by_the_idle_countdown() {
    let mut s = Shell::new();
    s.idle.screens.insert(
        "ticket-identify".into(),
        crate::config::IdleOverride {
            after_s: Some(30),
            countdown_s: Some(10),
        },
    );
    s.step(kiosk::Input::Wake);
    s.step(kiosk::Input::ToggleLanguage);
    assert!(s.k.english);
    s.step(kiosk::Input::Start("ticket".into()));
    s.step(kiosk::Input::Journey(Input::Choose("huji".into())));
    assert!(s.wait(29).is_empty());
    s.wait(1);
    assert_eq!(s.k.asking, Some(10), "this screen's own times");
    // "Continue" starts over.
    s.step(kiosk::Input::Continue);
    assert_eq!(s.k.asking, None);
    s.wait(35);
    let fx = s.wait(5);
    assert_eq!(
        fx.last(),
        Some(&kiosk::Effect::EndSession(EndReason::TimedOut))
    );
    let journey: Vec<Effect> = fx
        .iter()
        .filter_map(|e| match e {
            kiosk::Effect::Journey(j) => Some(j.clone()),
            _ => None,
        })
        .collect();
    assert!(journey.contains(&Effect::StopWaiting) && journey.contains(&Effect::Forget));
    assert_tidy(&journey);
    assert_eq!(s.k.screen, Screen::Attract);
    assert!(!s.k.english, "the next citizen gets the hall's language");
}

#[test]
fn an_unavailable_service_cannot_be_started_and_home_leaves_a_journey() {
    let mut s = Shell::new();
    s.step(kiosk::Input::Wake);
    s.offers[0] = Offer {
        id: "ticket".into(),
        available: false,
        why: Some(Unavailable::Printer),
    };
    assert!(s.step(kiosk::Input::Start("ticket".into())).is_empty());
    assert_eq!(s.k.screen, Screen::Home);
    s.offers[0].available = true;
    s.step(kiosk::Input::Start("ticket".into()));
    s.step(kiosk::Input::Journey(Input::Choose("huji".into())));
    let fx = s.step(kiosk::Input::Home);
    assert_eq!(
        fx.last(),
        Some(&kiosk::Effect::EndSession(EndReason::Cancelled))
    );
    assert_eq!(s.k.screen, Screen::Home);
}

#[test]
fn the_staff_pin_opens_the_device_status_and_locks_after_five_wrong_tries() {
    let mut s = Shell::new();
    s.step(kiosk::Input::Wake);
    s.step(kiosk::Input::StaffEntry);
    assert_eq!(s.k.screen, Screen::StaffPin);
    for d in "246810".chars() {
        s.step(kiosk::Input::StaffDigit(d));
    }
    assert_eq!(s.k.pin.len(), 6);
    let fx = s.step(kiosk::Input::StaffSubmit);
    assert_eq!(s.k.screen.name(), "device-status");
    assert_eq!(
        fx,
        vec![
            kiosk::Effect::Staff(kiosk::StaffEffect::Entered(
                Opener::SharedPin,
                kiosk::StaffWay::SharedPin
            )),
            kiosk::Effect::Staff(kiosk::StaffEffect::Admin(admin::Effect::Load(
                admin::Page::Devices
            ))),
        ]
    );
    let fx = s.step(kiosk::Input::Home);
    assert_eq!(fx, vec![kiosk::Effect::Staff(kiosk::StaffEffect::Left)]);
    s.step(kiosk::Input::StaffEntry);
    for i in 1..=kiosk::PIN_TRIES {
        for d in "1111".chars() {
            s.step(kiosk::Input::StaffDigit(d));
        }
        let fx = s.step(kiosk::Input::StaffSubmit);
        assert!(s.k.pin.wrong);
        let want = if i < kiosk::PIN_TRIES {
            kiosk::StaffEffect::Refused {
                tries_left: kiosk::PIN_TRIES - i,
                staff_no: None,
                way: kiosk::StaffWay::SharedPin,
            }
        } else {
            kiosk::StaffEffect::Locked {
                for_: kiosk::PIN_LOCK,
                way: kiosk::StaffWay::SharedPin,
            }
        };
        assert_eq!(fx, vec![kiosk::Effect::Staff(want)]);
    }
    assert!(s.k.pin.locked_until.is_some());
    for d in "246810".chars() {
        s.step(kiosk::Input::StaffDigit(d));
    }
    s.step(kiosk::Input::StaffSubmit);
    assert_eq!(
        s.k.screen,
        Screen::StaffPin,
        "locked: even the right PIN waits"
    );
    s.now += kiosk::PIN_LOCK;
    for d in "246810".chars() {
        s.step(kiosk::Input::StaffDigit(d));
    }
    s.step(kiosk::Input::StaffSubmit);
    assert_eq!(s.k.screen.name(), "device-status");
}

/// A staff badge stands in for the staff number: the pad asks its PIN, without showing whose
/// badge it is. An unknown badge is asked its PIN too and refused after it; a card that is not
/// a badge is named as such and costs no try; failures by card count toward the lock like
/// typed ones; a locked pad ignores cards.
#[test]
fn a_staff_badge_stands_in_for_the_staff_number_and_the_pin_is_still_asked() {
    let mut s = Shell::new();
    s.staff = technician_1024(Some("04A1B2C3"), None);
    // Not on the pad: a card does nothing.
    s.step(kiosk::Input::Wake);
    assert!(s
        .step(kiosk::Input::StaffCard(Some("04A1B2C3".into())))
        .is_empty());
    assert_eq!(s.k.screen, Screen::Home);
    s.step(kiosk::Input::StaffEntry);
    // A citizen's card on the reader: named, not counted.
    s.step(kiosk::Input::StaffCard(None));
    assert!(s.k.pin.not_a_badge && !s.k.pin.wrong);
    assert!(s.k.pin.asks_number(true));
    s.step(kiosk::Input::StaffDigit('1'));
    assert!(!s.k.pin.not_a_badge, "typing clears the notice");
    // A badge replaces the number half typed, and its holder is not shown.
    s.step(kiosk::Input::StaffCard(Some("04a1b2c3".into())));
    assert!(!s.k.pin.asks_number(true) && s.k.pin.by_card);
    assert_eq!(s.k.pin.staff_number(true), "");
    assert!(s.k.pin.is_empty());
    // A wrong PIN after the badge: refused, naming the holder, and the pad asks again.
    assert_eq!(
        type_digits(&mut s, "000000"),
        vec![kiosk::Effect::Staff(kiosk::StaffEffect::Refused {
            tries_left: kiosk::PIN_TRIES - 1,
            staff_no: Some("1024".into()),
            way: kiosk::StaffWay::StaffCard,
        })]
    );
    assert!(s.k.pin.wrong && s.k.pin.wrong_card && s.k.pin.asks_number(true));
    // An unknown badge: asked its PIN like any other, refused after it, naming no one.
    s.step(kiosk::Input::StaffCard(Some("DEADBEEF".into())));
    assert!(!s.k.pin.asks_number(true));
    assert_eq!(
        type_digits(&mut s, "135790"),
        vec![kiosk::Effect::Staff(kiosk::StaffEffect::Refused {
            tries_left: kiosk::PIN_TRIES - 2,
            staff_no: None,
            way: kiosk::StaffWay::StaffCard,
        })]
    );
    // "Type a staff number instead" goes back to the number.
    s.step(kiosk::Input::StaffCard(Some("04A1B2C3".into())));
    s.step(kiosk::Input::Back);
    assert!(s.k.pin.asks_number(true) && !s.k.pin.by_card);
    assert_eq!(s.k.screen, Screen::StaffPin);
    // The right badge and PIN open the admin mode, audited as a card.
    s.step(kiosk::Input::StaffCard(Some("04A1B2C3".into())));
    let fx = type_digits(&mut s, "135790");
    assert_eq!(s.k.screen.name(), "device-status");
    assert_eq!(fx[0], entered_1024(kiosk::StaffWay::StaffCard));
    // In the admin mode a card changes nothing.
    assert!(s
        .step(kiosk::Input::StaffCard(Some("04A1B2C3".into())))
        .is_empty());
    assert_eq!(s.k.screen.name(), "device-status");
    // Out, and five wrong tries by badge lock the pad; a locked pad ignores badges.
    s.step(kiosk::Input::Home);
    s.step(kiosk::Input::StaffEntry);
    let mut last = Vec::new();
    for _ in 0..kiosk::PIN_TRIES {
        s.step(kiosk::Input::StaffCard(Some("04A1B2C3".into())));
        last = type_digits(&mut s, "111111");
    }
    assert_eq!(
        last,
        vec![kiosk::Effect::Staff(kiosk::StaffEffect::Locked {
            for_: kiosk::PIN_LOCK,
            way: kiosk::StaffWay::StaffCard,
        })]
    );
    s.step(kiosk::Input::StaffCard(Some("04A1B2C3".into())));
    assert!(s.k.pin.asks_number(true), "locked: the badge is not taken");
    s.now += kiosk::PIN_LOCK;
    s.step(kiosk::Input::StaffCard(Some("04A1B2C3".into())));
    type_digits(&mut s, "135790");
    assert_eq!(s.k.screen.name(), "device-status");
}

/// Technician 1024 (PIN 135790), with a badge or not, beside a shared PIN or not.
fn technician_1024(
    card_uid: Option<&str>,
    shared_pin: Option<&str>,
) -> crate::services::technicians::Credentials {
    crate::services::technicians::Credentials {
        technicians: vec![crate::services::technicians::Technician {
            staff_no: "1024".into(),
            name: "王工".into(),
            pin_hash: kiosk_central::staff::hash_pin("135790").unwrap(),
            card_uid: card_uid.map(str::to_string),
        }],
        shared_pin: shared_pin.map(str::to_string),
    }
}

/// Technician 1024 entered the admin mode, by `way`.
fn entered_1024(way: kiosk::StaffWay) -> kiosk::Effect {
    let opener = Opener::Technician {
        staff_no: "1024".into(),
        name: "王工".into(),
    };
    kiosk::Effect::Staff(kiosk::StaffEffect::Entered(opener, way))
}

fn type_digits(s: &mut Shell, digits: &str) -> Vec<kiosk::Effect> {
    for d in digits.chars() {
        s.step(kiosk::Input::StaffDigit(d));
    }
    s.step(kiosk::Input::StaffSubmit)
}

/// Personal credentials: the staff number, then the PIN; a wrong PIN or an unknown number is
/// refused alike (naming the number typed) and the pad asks for the number again; "back" on
/// the PIN returns to the number.
#[test]
fn a_technician_opens_the_admin_mode_with_staff_number_and_pin() {
    let mut s = Shell::new();
    s.staff = technician_1024(None, Some("246810"));
    s.step(kiosk::Input::Wake);
    s.step(kiosk::Input::StaffEntry);
    assert!(s.k.pin.asks_number(true));
    assert_eq!(type_digits(&mut s, "1024"), vec![]);
    assert!(!s.k.pin.asks_number(true));
    assert_eq!(s.k.pin.staff_number(true), "1024");
    // Back to the number, and again.
    s.step(kiosk::Input::Back);
    assert!(s.k.pin.asks_number(true));
    assert_eq!(s.k.screen, Screen::StaffPin);
    type_digits(&mut s, "1024");
    // The shared PIN does not open once technicians are configured.
    let fx = type_digits(&mut s, "246810");
    assert_eq!(
        fx,
        vec![kiosk::Effect::Staff(kiosk::StaffEffect::Refused {
            tries_left: kiosk::PIN_TRIES - 1,
            staff_no: Some("1024".into()),
            way: kiosk::StaffWay::StaffNumber,
        })]
    );
    assert!(s.k.pin.asks_number(true), "asks for the number again");
    type_digits(&mut s, "9999");
    let fx = type_digits(&mut s, "135790");
    assert_eq!(
        fx,
        vec![kiosk::Effect::Staff(kiosk::StaffEffect::Refused {
            tries_left: kiosk::PIN_TRIES - 2,
            staff_no: Some("9999".into()),
            way: kiosk::StaffWay::StaffNumber,
        })]
    );
    type_digits(&mut s, "1024");
    let fx = type_digits(&mut s, "135790");
    assert_eq!(s.k.screen.name(), "device-status");
    assert_eq!(fx[0], entered_1024(kiosk::StaffWay::StaffNumber));
    // The tabs, a device's page, back to the list, and out.
    let fx = s.step(kiosk::Input::Admin(admin::Input::Open(
        admin::Page::Device("printer".into()),
    )));
    assert_eq!(s.k.screen.name(), "admin-device");
    assert_eq!(fx.len(), 1);
    let test = admin::Action::Test {
        device: "printer".into(),
        test: "print-test".into(),
    };
    let fx = s.step(kiosk::Input::Admin(admin::Input::Do(test.clone())));
    assert_eq!(
        fx,
        vec![kiosk::Effect::Staff(kiosk::StaffEffect::Admin(
            admin::Effect::Run(test)
        ))]
    );
    // While a test runs, the idle countdown does not send the technician home.
    s.now += Duration::from_secs(3600);
    s.step(kiosk::Input::Tick);
    assert_eq!(s.k.screen.name(), "admin-device");
    s.step(kiosk::Input::Admin(admin::Input::Done));
    s.step(kiosk::Input::Back);
    assert_eq!(s.k.screen.name(), "device-status");
    let fx = s.step(kiosk::Input::Back);
    assert_eq!(s.k.screen, Screen::Home);
    assert_eq!(fx, vec![kiosk::Effect::Staff(kiosk::StaffEffect::Left)]);
}

/// The guide inside the kiosk: started from home, "back" and "done" reach it, home and the
/// idle countdown end its session.
#[test]
fn the_guide_runs_inside_the_kiosk_and_ends_its_session() {
    use super::guide;
    let mut s = guide_shell();
    s.step(kiosk::Input::Wake);
    let fx = s.step(kiosk::Input::Start("guide".into()));
    assert_eq!(fx, vec![kiosk::Effect::StartSession("guide")]);
    assert!(matches!(
        s.k.screen,
        Screen::Guide(guide::Stage::Items { .. })
    ));
    s.step(kiosk::Input::Guide(guide::Input::Open("x".into())));
    s.step(kiosk::Input::Guide(guide::Input::Begin));
    assert!(matches!(
        s.k.screen,
        Screen::Guide(guide::Stage::Materials { .. })
    ));
    // "Back" as the screen's button says it reaches the guide.
    s.step(kiosk::Input::Back);
    assert!(matches!(
        s.k.screen,
        Screen::Guide(guide::Stage::Item { .. })
    ));
    s.step(kiosk::Input::Guide(guide::Input::Begin));
    let fx = s.step(kiosk::Input::Done);
    assert_eq!(fx.last(), Some(&kiosk::Effect::EndSession(EndReason::Done)));
    assert_eq!(s.k.screen, Screen::Home);
    // Home from the middle of the guide, and a forgotten guide, end the session.
    s.step(kiosk::Input::Start("guide".into()));
    let fx = s.step(kiosk::Input::Home);
    assert_eq!(
        fx.last(),
        Some(&kiosk::Effect::EndSession(EndReason::Cancelled))
    );
    s.step(kiosk::Input::Start("guide".into()));
    let fx = s.wait(3600);
    assert!(fx.contains(&kiosk::Effect::EndSession(EndReason::TimedOut)));
    assert_eq!(s.k.screen, Screen::Attract);
}

/// Care mode is the citizen's: it goes with their journey and is off for the next one.
#[test]
fn care_mode_switches_off_when_the_session_ends() {
    use super::guide;
    let mut s = guide_shell();
    s.step(kiosk::Input::Wake);
    s.step(kiosk::Input::ToggleCare);
    assert!(s.k.care);
    s.step(kiosk::Input::Start("guide".into()));
    assert!(s.k.care, "on through the journey");
    s.step(kiosk::Input::Guide(guide::Input::Open("x".into())));
    s.step(kiosk::Input::Guide(guide::Input::Begin));
    s.step(kiosk::Input::Done);
    assert_eq!(s.k.screen, Screen::Home);
    assert!(!s.k.care, "off when the session ended");
    s.step(kiosk::Input::ToggleCare);
    s.wait(3600);
    assert_eq!(s.k.screen, Screen::Attract);
    assert!(!s.k.care, "off for the next citizen");
}

/// A kiosk offering the guide over a catalogue of one item.
fn guide_shell() -> Shell {
    let mut s = Shell::new();
    s.c = Catalogue::from_json(&json!({
        "hall": {"id": "ks", "name": {"zh-CN": "昆山"}},
        "items": [{"id": "x", "name": {"zh-CN": "事项"}, "department": {"zh-CN": "局"},
                   "category": "personal", "kind": "apply", "common": true}]
    }))
    .unwrap();
    s.offers.push(Offer {
        id: "guide".into(),
        available: true,
        why: None,
    });
    s
}

#[test]
fn an_id_copy_left_or_forgotten_ends_its_session_with_the_photos_dropped() {
    use super::idcopy::{Effect as C, Input as CI, Side};
    use super::identify::{self, Input as L};
    let mut s = Shell::new();
    s.step(kiosk::Input::Wake);
    let fx = s.step(kiosk::Input::Start("id-copy".into()));
    assert_eq!(fx[0], kiosk::Effect::StartSession("id-copy"));
    assert_eq!(s.k.screen.name(), "identify-present");
    // Home during the login: the login's waits stop and the session ends.
    let fx = s.step(kiosk::Input::Home);
    assert!(fx.contains(&kiosk::Effect::IdCopy(C::Login(
        identify::Effect::StopWaiting
    ))));
    assert_eq!(
        fx.last(),
        Some(&kiosk::Effect::EndSession(EndReason::Cancelled))
    );
    assert_eq!(s.k.screen, Screen::Home);

    // Identified, the front taken, then nobody touches the screen.
    s.step(kiosk::Input::Start("id-copy".into()));
    for i in [
        CI::Login(L::CardRead(Ok(identify::CardFacts {
            photo: true,
            fingerprint: true,
        }))),
        CI::Login(L::Agree),
        CI::Login(L::FaceDone(kiosk_models::Decision::Verified)),
        CI::Capture,
        CI::Captured(Ok(())),
    ] {
        s.step(kiosk::Input::IdCopy(i));
    }
    assert_eq!(s.k.screen.name(), "idcopy-place");
    let mut fx = Vec::new();
    for _ in 0..10 {
        fx.extend(s.wait(10));
    }
    assert!(fx.contains(&kiosk::Effect::IdCopy(C::Drop(Side::Front))));
    assert!(fx.contains(&kiosk::Effect::EndSession(EndReason::TimedOut)));
    assert!(
        !fx.iter()
            .any(|e| matches!(e, kiosk::Effect::IdCopy(C::Finish(_)))),
        "a timeout is not the journey's own end"
    );
    assert_eq!(s.k.screen, Screen::Attract);
}
