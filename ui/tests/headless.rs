//! The screens driven headless through Slint's testing backend; accessible labels are the
//! selectors. The UI shows what it is given and sends intents; it decides nothing.

use std::cell::RefCell;
use std::rc::Rc;

use i_slint_backend_testing::ElementHandle;
use kiosk_ui::{
    AppWindow, DeviceLine, GroupLine, JourneyLine, Language, Problem, ProblemKind, ScreenId,
    TerminalTexts, Ui, UiIntent, UiView, Why,
};

fn line(id: &str, health: &str, state: &str) -> DeviceLine {
    DeviceLine {
        id: id.into(),
        name: format!("{id} name"),
        kind: "qr-scanner".into(),
        health: health.into(),
        state: state.into(),
        detail: String::new(),
        transport: "/dev/ttyACM0 @115200".into(),
    }
}

fn labelled(app: &AppWindow, label: &str) -> usize {
    ElementHandle::find_by_accessible_label(app, label).count()
}

fn click(app: &AppWindow, label: &str) {
    let found: Vec<_> = ElementHandle::find_by_accessible_label(app, label).collect();
    assert!(!found.is_empty(), "no element labelled {label:?}");
    found[0].invoke_accessible_default_action();
}

fn texts() -> TerminalTexts {
    TerminalTexts {
        service_point: "Kunshan Service Centre".into(),
        device_id: "KSK-320583-0001".into(),
        fault_phone: "0512-5555-1234".into(),
        title: None,
    }
}

fn group(id: &str, name: &str, prefix: &str) -> GroupLine {
    GroupLine {
        id: id.into(),
        name: name.into(),
        summary: "summary".into(),
        prefix: prefix.into(),
        identify: "required".into(),
    }
}

#[test]
fn screens_show_their_view_and_touches_become_intents() {
    i_slint_backend_testing::init_no_event_loop();
    let ui = Ui::new(&texts(), Language::En, false).unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    {
        let got = got.clone();
        ui.on_intent(move |i| got.borrow_mut().push(i));
    }
    let app = &ui.app;
    let mut v = UiView {
        language: Language::En,
        ..UiView::default()
    };
    ui.show_view(&v).unwrap();
    // The attract screen: one touch anywhere wakes it.
    click(app, "Touch the screen to start");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Wake));

    // Home: the header and footer, the offered journey, disabled with its reason when needed.
    v.screen = ScreenId::Home;
    v.journeys = vec![JourneyLine {
        id: "ticket".into(),
        available: false,
        why: Why::Printer,
    }];
    ui.show_view(&v).unwrap();
    assert_eq!(labelled(app, "Government Service Self-Service Terminal"), 1);
    assert_eq!(labelled(app, "Kunshan Service Centre"), 1);
    assert_eq!(labelled(app, "Terminal KSK-320583-0001"), 1);
    assert_eq!(labelled(app, "Fault hotline 0512-5555-1234"), 1);
    click(app, "Take a queue ticket");
    assert_ne!(
        got.borrow().last(),
        Some(&UiIntent::Start("ticket".into())),
        "disabled"
    );
    v.journeys[0].available = true;
    ui.show_view(&v).unwrap();
    click(app, "Take a queue ticket");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Start("ticket".into())));

    // Groups, by their names; back and home are always there.
    v.screen = ScreenId::TicketGroups;
    v.groups = vec![
        group("huji", "Household registration", "A"),
        group("shuiwu", "Taxation", "H"),
    ];
    ui.show_view(&v).unwrap();
    click(app, "Taxation");
    assert_eq!(
        got.borrow().last(),
        Some(&UiIntent::ChooseGroup("shuiwu".into()))
    );
    click(app, "Back");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Back));
    click(app, "Home");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Home));

    // Identify: both ways, and skipping only where allowed.
    v.screen = ScreenId::TicketIdentify;
    v.group = Some(group("huji", "Household registration", "A"));
    v.by_card = true;
    v.by_code = true;
    ui.show_view(&v).unwrap();
    assert_eq!(labelled(app, "Place your ID card on the reader"), 1);
    assert_eq!(labelled(app, "Or scan your appointment code"), 1);
    assert_eq!(labelled(app, "Take a ticket without identifying"), 0);
    v.may_skip = true;
    ui.show_view(&v).unwrap();
    click(app, "Take a ticket without identifying");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Skip));

    // Taken: the number and the people ahead.
    v.screen = ScreenId::TicketTaken;
    v.number = "A023".into();
    v.ahead = Some(7);
    ui.show_view(&v).unwrap();
    assert_eq!(labelled(app, "Your number A023"), 1);
    assert_eq!(
        labelled(app, "Household registration · 7 people ahead of you"),
        1
    );

    // A problem says what happened and what to do; "try again" only where it helps.
    v.screen = ScreenId::TicketProblem;
    v.problem = Some(Problem {
        kind: ProblemKind::PrintPaperOut,
        detail: String::new(),
        can_retry: false,
    });
    ui.show_view(&v).unwrap();
    assert_eq!(labelled(app, "The ticket printer ran out of paper"), 1);
    assert_eq!(labelled(app, "Try again"), 0);
    click(app, "Back to home");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Done));
    v.problem = Some(Problem {
        kind: ProblemKind::CardExpired,
        detail: "2025-03-10".into(),
        can_retry: true,
    });
    ui.show_view(&v).unwrap();
    assert_eq!(labelled(app, "This ID card expired on 2025-03-10"), 1);
    click(app, "Try again");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Retry));

    // "Still there?" covers any screen and "Continue" answers it.
    v.asking = Some(12);
    ui.show_view(&v).unwrap();
    assert_eq!(
        labelled(
            app,
            "To protect your information, this page closes in 12 seconds."
        ),
        1
    );
    click(app, "Continue");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Continue));
    v.asking = None;

    // Staff: the PIN pad, then the device table, updated in place.
    click(app, "Staff");
    assert_eq!(got.borrow().last(), Some(&UiIntent::StaffEntry));
    v.screen = ScreenId::StaffPin;
    v.pin_length = 3;
    ui.show_view(&v).unwrap();
    assert_eq!(labelled(app, "3 digits entered"), 1);
    click(app, "7");
    assert_eq!(got.borrow().last(), Some(&UiIntent::StaffDigit('7')));
    click(app, "OK");
    assert_eq!(got.borrow().last(), Some(&UiIntent::StaffSubmit));
    // A staff badge instead of the number: the pad says what it takes, then asks the PIN
    // without naming whose badge it is, and offers the typed number instead.
    v.pin_length = 0;
    v.pin_asks_number = true;
    v.pin_takes_cards = true;
    ui.show_view(&v).unwrap();
    let asks = "Put your staff card on the card reader, or enter your staff number.";
    assert_eq!(labelled(app, asks), 1);
    v.pin_asks_number = false;
    v.pin_by_card = true;
    ui.show_view(&v).unwrap();
    assert_eq!(labelled(app, asks), 0);
    assert_eq!(labelled(app, "Staff card read: enter your PIN."), 1);
    assert_eq!(labelled(app, "0 digits entered"), 1);
    click(app, "Type a staff number instead");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Back));
    v.pin_by_card = false;
    v.pin_asks_number = true;
    v.pin_not_a_badge = true;
    ui.show_view(&v).unwrap();
    assert_eq!(
        labelled(
            app,
            "That card is not a staff card. Put your staff card on the reader, or enter your staff number."
        ),
        1
    );
    v.pin_not_a_badge = false;
    v.pin_asks_number = false;
    v.pin_takes_cards = false;
    v.screen = ScreenId::DeviceStatus;
    ui.show_view(&v).unwrap();
    ui.set_devices(&[
        line("scanner", "online", "normal"),
        line("printer", "no-device", "offline"),
    ]);
    assert_eq!(labelled(app, "scanner: Online"), 1);
    assert_eq!(labelled(app, "printer: Not connected"), 1);
    assert_eq!(labelled(app, "1 of 2 devices normal"), 1);
    // The staff are in already: the footer offers no way in.
    assert_eq!(labelled(app, "Staff"), 0);
    ui.set_devices(&[
        line("scanner", "offline", "offline"),
        line("printer", "online", "normal"),
    ]);
    assert_eq!(labelled(app, "scanner: Offline"), 1);
    // The admin mode: a device's row opens its tests, a tab its page, and the way out.
    click(app, "scanner: Offline");
    assert_eq!(
        got.borrow().last(),
        Some(&UiIntent::Admin(kiosk_ui::AdminIntent::OpenDevice(
            "scanner".into()
        )))
    );
    click(app, "Journal");
    assert_eq!(
        got.borrow().last(),
        Some(&UiIntent::Admin(kiosk_ui::AdminIntent::Tab(
            "journal".into()
        )))
    );
    click(app, "Leave admin mode");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Home));
    v.screen = ScreenId::AdminDevice;
    v.admin = kiosk_ui::AdminUiView {
        tab: "devices".into(),
        device_id: "printer".into(),
        device_name: "Receipt printer".into(),
        held: true,
        tests: vec![("print-test".into(), "Test print".into())],
        result: Some((
            "Test print".into(),
            false,
            vec![("error".into(), "paper out".into())],
        )),
        ..Default::default()
    };
    ui.show_view(&v).unwrap();
    assert_eq!(labelled(app, "Test print: failed"), 1);
    assert_eq!(labelled(app, "error: paper out"), 1);
    click(app, "Test print");
    assert_eq!(
        got.borrow().last(),
        Some(&UiIntent::Admin(kiosk_ui::AdminIntent::Test {
            device: "printer".into(),
            test: "print-test".into()
        }))
    );
    v.screen = ScreenId::AdminJournal;
    v.admin.dead = vec![(7, "session.rated".into(), "refused".into())];
    ui.show_view(&v).unwrap();
    click(app, "Send #7 again");
    assert_eq!(
        got.borrow().last(),
        Some(&UiIntent::Admin(kiosk_ui::AdminIntent::Retry(Some(7))))
    );
    click(app, "Send all again");
    assert_eq!(
        got.borrow().last(),
        Some(&UiIntent::Admin(kiosk_ui::AdminIntent::Retry(None)))
    );
    v.screen = ScreenId::DeviceStatus;
    v.admin = Default::default();
    ui.show_view(&v).unwrap();

    // Help, and Chinese one switch away; the language button offers the way back.
    click(app, "Help");
    assert_eq!(got.borrow().last(), Some(&UiIntent::Help(true)));
    v.help = true;
    v.language = Language::ZhCn;
    ui.show_view(&v).unwrap();
    assert_eq!(
        labelled(app, "请向服务台工作人员咨询，或拨打 0512-5555-1234。"),
        1
    );
    assert!(labelled(app, "English") >= 1);
    assert_eq!(labelled(app, "scanner: 离线"), 1);
    assert_eq!(labelled(app, "2 台设备中 1 台正常"), 1);
    assert_eq!(labelled(app, "终端编号 KSK-320583-0001"), 1);
}
