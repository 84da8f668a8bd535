//! The technicians' admin mode on the simulated terminal, driven through its screens as the
//! `admin-*` tours play it: staff number and PIN, device tests with their results (and a test
//! on a faulty printer), the masked log, a dead letter sent again, the network check with the
//! centre down and up, a supply counter reset — every action journalled and audited with the
//! technician's staff number, and no citizen's data in the clear.

use std::path::PathBuf;

use kiosk_app::cli::tour::{self, Action, Step, Tour, TourOptions};
use kiosk_app::flows::kiosk::Screen;
use serde_json::{json, Value};

struct Run {
    tour: Tour,
    n: usize,
    _dir: tempfile::TempDir,
}

impl Run {
    fn start(name: &str) -> Run {
        Run::start_with(name, false)
    }

    /// With the PC/SC reader (`ic_card`): the caller makes sure pcscd runs.
    fn start_with(name: &str, ic_card: bool) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let cfg = if ic_card {
            kiosk_e2e::sample_config_with_ic_card("kiosk.sim.toml", dir.path())
        } else {
            kiosk_e2e::sample_config("kiosk.sim.toml", dir.path())
        };
        let opts = TourOptions {
            journey: name.into(),
            script: None,
            out: PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join("admin")
                .join(name),
            lang: None,
            portrait: false,
        };
        Run {
            tour: Tour::start(cfg, &opts).unwrap_or_else(|e| panic!("{name}: {e:#}")),
            n: 0,
            _dir: dir,
        }
    }

    fn play(&mut self, steps: &[Step]) {
        for s in steps {
            self.n += 1;
            if let Err(e) = self.tour.step(self.n, s) {
                panic!("{e:#}");
            }
        }
    }

    /// The journal's `admin.action` records' fields.
    fn actions(&self) -> Vec<Value> {
        self.tour
            .terminal
            .journal
            .lock()
            .events_like("admin.action", 10_000)
            .unwrap()
            .into_iter()
            .map(|(_, _, p)| p["fields"].clone())
            .collect()
    }

    fn audited(&self, kind: &str) -> Vec<Value> {
        let c = rusqlite::Connection::open(self.tour.terminal.config.data_dir().join("outbox.db"))
            .unwrap();
        let mut st = c
            .prepare("SELECT body FROM audit WHERE kind = ?1 ORDER BY seq")
            .unwrap();
        st.query_map([kind], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|b| serde_json::from_str(&b.unwrap()).unwrap())
            .collect()
    }
}

fn steps(name: &str) -> Vec<Step> {
    let text = tour::BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap();
    tour::parse(text).unwrap().steps
}

fn step(name: &str, action: Action, expect: &str, until: Option<&str>) -> Step {
    Step {
        name: name.into(),
        action: Some(action),
        expect: expect.into(),
        until: until.map(str::to_string),
    }
}

fn touch(zh: &str) -> Action {
    let mut m = serde_json::Map::new();
    m.insert("zh-CN".into(), json!(zh));
    Action::Touch(m)
}

#[test]
fn device_tests_show_masked_results_and_are_audited_with_the_technician() {
    let mut r = Run::start("admin-devices");
    let all = steps("admin-devices");
    let leave = all.iter().position(|s| s.name == "leave").unwrap();
    r.play(&all[..leave]);
    // A printer out of paper: its test print fails, and says why.
    r.play(&[
        step("all", touch("全部设备"), "device-status", None),
        step("receipt", touch("receipt: 在线"), "admin-device", None),
        step(
            "paper-out",
            Action::Sim("receipt".into(), "paper-out".into(), json!({})),
            "admin-device",
            None,
        ),
        step(
            "print",
            touch("打印测试页"),
            "admin-device",
            Some("admin-result"),
        ),
    ]);
    let v = r.tour.terminal.host.view();
    assert!(matches!(v.screen, Screen::Admin(_)));
    let result = v.admin.as_ref().and_then(|a| a.result.clone()).unwrap();
    assert!(!result.ok, "{result:?}");
    assert!(
        result
            .lines
            .iter()
            .any(|(k, v)| k == "error" && v.contains("paper")),
        "{:?}",
        result.lines
    );
    r.play(&all[leave..]);

    let actions = r.actions();
    let tests: Vec<(String, bool)> = actions
        .iter()
        .map(|a| {
            (
                a["test"].as_str().unwrap_or("").to_string(),
                a["ok"] == json!(true),
            )
        })
        .collect();
    for t in [
        "print-test",
        "read-card",
        "still",
        "fp-capture",
        "seal-test",
        "lights",
    ] {
        assert!(
            tests.contains(&(t.to_string(), true)),
            "{t} passed: {tests:?}"
        );
    }
    assert!(
        tests.contains(&("print-test".to_string(), false)),
        "{tests:?}"
    );
    for a in &actions {
        assert_eq!(a["staff_no"], json!("1024"), "{a}");
    }
    // The card read shows masked only, in the journal as on screen.
    let read = actions
        .iter()
        .find(|a| a["test"] == json!("read-card"))
        .unwrap();
    let text = read.to_string();
    assert!(text.contains("张**"), "{text}");
    assert!(
        !text.contains("320583199001011232") && !text.contains("张三丰"),
        "{text}"
    );
    // Audited: the entry with who, a refusal naming the number typed, every action.
    let entered = r.audited("admin.entered");
    assert_eq!(entered[0]["fields"]["staff_no"], json!("1024"));
    assert_eq!(entered[0]["fields"]["how"], json!("staff-number"));
    let refused = r.audited("admin.login.refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["fields"]["staff_no"], json!("1024"));
    assert_eq!(r.audited("admin.action").len(), actions.len());
    assert_eq!(r.audited("admin.left").len(), 1);
    // The good test print is on the roll's counter (the failed one is not).
    let used = r
        .tour
        .terminal
        .journal
        .lock()
        .supply("receipt")
        .unwrap()
        .used;
    assert_eq!(used, 1);
    // Leaving gave every device back.
    for d in r.tour.terminal.runtime.snapshot() {
        assert_eq!(r.tour.terminal.runtime.holder(&d.id), None, "{}", d.id);
    }
    r.tour.finish("test", "").unwrap();
}

#[test]
fn a_dead_letter_is_sent_again_the_network_checked_and_a_counter_reset() {
    let mut r = Run::start("admin-operations");
    r.play(&steps("admin-operations"));
    let actions = r.actions();
    let find = |what: &str| -> Vec<&Value> {
        actions
            .iter()
            .filter(|a| a["action"] == json!(what))
            .collect()
    };
    let retry = find("retry-dead");
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0]["requeued"], json!(true));
    let checks = find("network-check");
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert_eq!(checks[0]["reachable"], json!(false));
    assert_eq!(checks[1]["reachable"], json!(true));
    assert!(checks[1]["skew_s"].as_i64().unwrap().abs() <= 60);
    let reset = find("reset-supply");
    assert_eq!(reset.len(), 1);
    assert_eq!(reset[0]["device"], json!("receipt"));
    let ob = r.tour.terminal.journal.lock();
    // The refused event went again and the centre took it: no dead letter is left.
    assert!(ob.dead_letters().unwrap().is_empty());
    assert_eq!(ob.supply("receipt").unwrap().used, 0);
    drop(ob);
    assert_eq!(r.audited("admin.action").len(), actions.len());
    r.tour.finish("test", "").unwrap();
}

/// The staff pad holds the IC card reader while it shows: a citizen's card is named as not a
/// staff card, a badge stands in for the staff number, a wrong PIN after it is refused and
/// audited as a card try, the badge and the right PIN open the admin mode — which then holds
/// the reader too — and the reader's page reads a badge's UID for enrolling it. At home, a
/// citizen's card is left alone and a badge opens the pad by itself.
#[test]
fn a_staff_badge_and_pin_open_the_admin_mode_and_the_reader_goes_with_it() {
    kiosk_app::cli::pcscd::ensure().expect("pcscd with vpcd (scripts/setup-debian.sh)");
    let mut r = Run::start_with("admin-card", true);
    let all = steps("admin-card");
    let rt = r.tour.terminal.runtime.clone();
    // A remote command holds the reader: the pad opens without it and takes typed numbers.
    let remote = rt
        .claim(
            "sscard",
            kiosk_app::runtime::Owner::Remote(7),
            std::time::Duration::from_secs(60),
            std::time::Duration::ZERO,
        )
        .unwrap();
    r.play(&all[..1]);
    r.play(&[step("pad", touch("工作人员"), "staff-pin", None)]);
    let v = r.tour.terminal.host.view();
    assert!(!v.pin_takes_cards && v.pin_asks_number);
    r.play(&[step("home", touch("首页"), "home", None)]);
    drop(remote);
    let pad = all.iter().position(|s| s.name == "staff-pad").unwrap();
    r.play(&all[pad..=pad]);
    // While the pad shows, the reader is the pad's.
    assert_eq!(
        rt.holder("sscard").map(|o| o.to_string()),
        Some("flow staff-pad".to_string())
    );
    let devices = all.iter().position(|s| s.name == "devices").unwrap();
    r.play(&all[pad + 1..=devices]);
    // The admin mode took every device, the reader included, with none left busy.
    let entered = r.audited("admin.entered");
    assert_eq!(entered.len(), 1);
    let f = &entered[0]["fields"];
    assert_eq!(f["how"], json!("staff-card"), "{f}");
    assert_eq!(f["staff_no"], json!("1024"));
    assert!(
        f["devices"].as_array().unwrap().contains(&json!("sscard")),
        "{f}"
    );
    assert_eq!(f["busy"], json!([]), "{f}");
    assert_eq!(
        rt.holder("sscard").map(|o| o.to_string()),
        Some("admin mode".into())
    );
    // The wrong PIN after the badge: refused as a card try, naming the badge's holder. The
    // citizen's card cost no try.
    let refused = r.audited("admin.login.refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["fields"]["how"], json!("staff-card"));
    assert_eq!(refused[0]["fields"]["staff_no"], json!("1024"));
    assert_eq!(refused[0]["fields"]["tries_left"], json!(4));
    let leave = all.iter().position(|s| s.name == "leave").unwrap();
    r.play(&all[devices + 1..=leave + 1]);
    // A citizen's card at home is looked at and left alone: no pad, and the reader is free.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(r.tour.terminal.host.view().screen, Screen::Home);
    assert_eq!(rt.holder("sscard"), None);
    r.play(&all[leave + 2..]);
    let entered = r.audited("admin.entered");
    assert_eq!(entered.len(), 2);
    assert_eq!(entered[1]["fields"]["how"], json!("staff-card"));
    let uid = r
        .actions()
        .into_iter()
        .find(|a| a["test"] == json!("card-uid"))
        .unwrap();
    assert_eq!(uid["ok"], json!(true), "{uid}");
    assert!(uid.to_string().contains("04A1B2C3"), "{uid}");
    // Home again: every device is given back, the reader too.
    for d in rt.snapshot() {
        assert_eq!(rt.holder(&d.id), None, "{}", d.id);
    }
    r.tour.finish("test", "").unwrap();
}
