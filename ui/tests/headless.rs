//! The shell driven headless through Slint's testing backend; accessible labels are the selectors.

use i_slint_backend_testing::ElementHandle;
use kiosk_ui::{
    apply_language, build_app, set_devices, AppWindow, DeviceLine, Language, Screen, TerminalTexts,
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

fn labelled(app: &AppWindow, label: &str) -> Vec<ElementHandle> {
    ElementHandle::find_by_accessible_label(app, label).collect()
}

fn click(app: &AppWindow, label: &str) {
    let found = labelled(app, label);
    assert!(!found.is_empty(), "no element labelled {label:?}");
    found[0].invoke_accessible_default_action();
}

#[test]
fn home_status_help_and_language() {
    i_slint_backend_testing::init_no_event_loop();
    let texts = TerminalTexts {
        service_point: "Kunshan Service Centre".into(),
        device_id: "KSK-320583-0001".into(),
        fault_phone: "0512-5555-1234".into(),
        title: None,
    };
    let app = build_app(&texts, Language::En, false).unwrap();
    set_devices(
        &app,
        &[
            line("scanner", "online", "normal"),
            line("printer", "no-device", "offline"),
        ],
    );

    // Home: header, footer and the summary on the status button.
    assert_eq!(app.get_screen(), Screen::Home);
    assert_eq!(
        labelled(&app, "Government Service Self-Service Terminal").len(),
        1
    );
    assert_eq!(labelled(&app, "Kunshan Service Centre").len(), 1);
    assert_eq!(labelled(&app, "Terminal KSK-320583-0001").len(), 1);
    assert_eq!(labelled(&app, "Fault hotline 0512-5555-1234").len(), 1);

    click(&app, "Device status");
    assert_eq!(app.get_screen(), Screen::DeviceStatus);
    assert_eq!(labelled(&app, "scanner: Online").len(), 1);
    assert_eq!(labelled(&app, "printer: Not connected").len(), 1);
    assert_eq!(labelled(&app, "1 of 2 devices normal").len(), 1);

    // Live: a new snapshot replaces the rows in place.
    set_devices(
        &app,
        &[
            line("scanner", "offline", "offline"),
            line("printer", "online", "normal"),
        ],
    );
    assert_eq!(labelled(&app, "scanner: Offline").len(), 1);
    assert_eq!(labelled(&app, "printer: Online").len(), 1);

    click(&app, "Back");
    assert_eq!(app.get_screen(), Screen::Home);

    click(&app, "Help");
    assert!(app.get_help_visible());
    assert_eq!(
        labelled(
            &app,
            "Please ask the staff at the service desk, or call 0512-5555-1234."
        )
        .len(),
        1
    );
    click(&app, "Close");
    assert!(!app.get_help_visible());

    // Chinese is one switch away, and the language button offers the way back.
    apply_language(&app, Language::ZhCn).unwrap();
    assert_eq!(app.get_language_label(), "English");
    click(&app, "设备状态");
    assert_eq!(labelled(&app, "scanner: 离线").len(), 1);
    assert_eq!(labelled(&app, "2 台设备中 1 台正常").len(), 1);
    assert_eq!(labelled(&app, "终端编号 KSK-320583-0001").len(), 1);
}
