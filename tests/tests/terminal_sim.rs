//! The whole terminal in the sim profile: simulated devices over real ptys, the embedded central
//! service over real HTTP, and the device-status screen driven headless.

use std::time::{Duration, Instant};

use i_slint_backend_testing::ElementHandle;
use kiosk_app::centre::health::{watch_health, CentreLink};
use kiosk_app::centre::CentreClient;
use kiosk_app::ui::window::device_lines;
use kiosk_app::{Profile, Runtime};
use kiosk_e2e::sample_config;
use kiosk_hal::clock::SystemClock;
use kiosk_hal::Health;
use kiosk_protocol::EventKind;
use kiosk_ui::{AppWindow, Language, ScreenId, Ui, UiView};

fn labelled(app: &AppWindow, label: &str) -> usize {
    ElementHandle::find_by_accessible_label(app, label).count()
}

fn wait_health(rt: &Runtime, id: &str, want: Health) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = rt.device(id).unwrap().poll_now().unwrap().health;
        if h == want {
            return;
        }
        assert!(Instant::now() < deadline, "{id} stayed {h}, wanted {want}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

#[test]
fn sim_terminal_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config("kiosk.sim.toml", dir.path());
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let rt = Runtime::start(&cfg, Profile::Sim, SystemClock::shared()).unwrap();
    let mut events = rt.events.subscribe();

    // The embedded centre answers over real HTTP and the link watch sees it.
    let centre = tokio
        .block_on(kiosk_app::centre::embedded::start(&cfg))
        .unwrap()
        .expect("embedded centre");
    let (tx, mut link) = tokio::sync::watch::channel(CentreLink::connecting(&centre.base_url()));
    let task = tokio.spawn(watch_health(
        CentreClient::plain(&centre.base_url(), &cfg.terminal.id).unwrap(),
        Duration::from_millis(200),
        rt.events.clone(),
        tx,
    ));
    let reachable = tokio.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), link.wait_for(|l| l.reachable))
            .await
            .is_ok()
    });
    assert!(reachable, "centre not reachable: {:?}", link.borrow().text);

    // Every simulated device comes online, and the status screen says so.
    rt.poll_all();
    i_slint_backend_testing::init_no_event_loop();
    let ui = Ui::new(&kiosk_app::ui::window::texts(&cfg), Language::En, false).unwrap();
    ui.show_view(&UiView {
        screen: ScreenId::DeviceStatus,
        language: Language::En,
        ..UiView::default()
    })
    .unwrap();
    kiosk_app::ui::window::refresh(&ui, &cfg, &rt, &link.borrow());
    let app = &ui.app;
    assert_eq!(labelled(app, "scanner: Online"), 1);
    let snap = rt.snapshot();
    assert_eq!(labelled(app, "board: Online"), 1, "{snap:?}");
    assert_eq!(labelled(app, "idcard: Online"), 1, "{snap:?}");
    assert_eq!(labelled(app, "fingerprint: Online"), 1, "{snap:?}");
    for id in ["receipt", "a4", "seal", "docam", "face"] {
        assert_eq!(labelled(app, &format!("{id}: Online")), 1, "{snap:?}");
    }
    assert_eq!(labelled(app, "9 of 9 devices normal"), 1, "{snap:?}");
    // The banner and its text both carry the label.
    assert!(labelled(app, &format!("Central service: {}", link.borrow().text)) >= 1);

    // A code presented to the simulated scanner arrives as a typed input event.
    let scanner = rt.device("scanner").unwrap();
    scanner
        .sim
        .as_ref()
        .unwrap()
        .inject(
            "scan",
            &serde_json::json!({"text": "https://zwfw.example.gov.cn/q?c=1"}),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = None;
    while got.is_none() && Instant::now() < deadline {
        match events.try_recv() {
            Ok(e) if e.kind == EventKind::DeviceInput => got = Some(e),
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let e = got.expect("no input event");
    assert_eq!(e.device.as_deref(), Some("scanner"));
    assert_eq!(e.fields["payload_type"], "url");
    assert!(
        !serde_json::to_string(&e).unwrap().contains("zwfw"),
        "the event leaked the scanned text"
    );

    // Unplugged, the row turns to "not connected"; plugged back, online again.
    scanner.sim.as_ref().unwrap().unplug().unwrap();
    wait_health(&rt, "scanner", Health::NoDevice);
    ui.set_devices(&device_lines(&rt.snapshot()));
    assert_eq!(labelled(app, "scanner: Not connected"), 1);
    assert_eq!(labelled(app, "8 of 9 devices normal"), 1);
    scanner.sim.as_ref().unwrap().replug().unwrap();
    wait_health(&rt, "scanner", Health::Online);
    ui.set_devices(&device_lines(&rt.snapshot()));
    assert_eq!(labelled(app, "scanner: Online"), 1);

    // The cabinet door shows on the board's row as a warning.
    let board = rt.device("board").unwrap();
    board
        .sim
        .as_ref()
        .unwrap()
        .inject("door", &serde_json::json!({"open": true}))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rt
        .device("board")
        .unwrap()
        .poll_now()
        .unwrap()
        .centre_state()
        != kiosk_hal::CentreState::Warning
    {
        assert!(Instant::now() < deadline, "door never showed");
        std::thread::sleep(Duration::from_millis(30));
    }
    ui.set_devices(&device_lines(&rt.snapshot()));
    assert_eq!(labelled(app, "board: Online"), 1);
    assert_eq!(labelled(app, "8 of 9 devices normal"), 1);

    task.abort();
    tokio.block_on(centre.stop()).unwrap();
    rt.shutdown();
}
