//! The staff pad (a technician's staff number, then the PIN): five wrong PINs lock it for 15 minutes, and the lock holds across a restart
//! of the kiosk; every refusal, the lock, the entry and the exit are in the audit log.

use std::time::Duration;

use kiosk_app::flows::kiosk::Input;
use kiosk_app::runtime::Owner;
use kiosk_app::terminal::Terminal;
use kiosk_app::Profile;
use kiosk_hal::clock::SystemClock;

/// How many audit records of `kind` the terminal's journal holds.
fn audited(t: &Terminal, kind: &str) -> usize {
    let c = rusqlite::Connection::open(t.config.data_dir().join("outbox.db")).unwrap();
    c.query_row("SELECT COUNT(*) FROM audit WHERE kind = ?1", [kind], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap() as usize
}

/// The sim config's technician: staff number 1024, PIN 135790.
const STAFF_NO: &str = "1024";
const PIN: &str = "135790";

fn type_pin(t: &Terminal, pin: &str) {
    t.host.send(Input::StaffEntry);
    for d in STAFF_NO.chars() {
        t.host.send(Input::StaffDigit(d));
    }
    t.host.send(Input::StaffSubmit);
    for d in pin.chars() {
        t.host.send(Input::StaffDigit(d));
    }
    t.host.send(Input::StaffSubmit);
}

#[test]
fn five_wrong_pins_lock_the_staff_pad_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = kiosk_e2e::sample_config("kiosk.sim.toml", dir.path());
    assert!(
        cfg.credentials().personal(),
        "the sim config names a technician"
    );
    let pin = PIN.to_string();
    let t = Terminal::start(cfg.clone(), Profile::Sim, SystemClock::shared()).unwrap();
    // The right PIN opens the staff screens; home closes them.
    type_pin(&t, &pin);
    t.host
        .wait_for(Duration::from_secs(10), |v| {
            v.screen.name() == "device-status"
        })
        .expect("the staff screens open");
    // Admin mode holds every device while its screens are open.
    for d in t.runtime.snapshot() {
        assert_eq!(t.runtime.holder(&d.id), Some(Owner::Admin), "{}", d.id);
    }
    t.host.send(Input::Home);
    t.host
        .wait_for(Duration::from_secs(10), |v| v.screen.name() == "home")
        .expect("home again");
    for d in t.runtime.snapshot() {
        assert_eq!(t.runtime.holder(&d.id), None, "{} given back", d.id);
    }
    for _ in 0..5 {
        type_pin(&t, "000000");
    }
    let locked = t
        .host
        .wait_for(Duration::from_secs(10), |v| v.pin_locked_minutes.is_some())
        .expect("locked after five wrong PINs");
    assert_eq!(locked.pin_locked_minutes, Some(15));
    std::thread::sleep(Duration::from_millis(500));
    t.stop();

    // Started again: still locked, even for the right PIN.
    let t = Terminal::start(cfg, Profile::Sim, SystemClock::shared()).unwrap();
    type_pin(&t, &pin);
    let v = t
        .host
        .wait_for(Duration::from_secs(10), |v| v.pin_locked_minutes.is_some())
        .expect("the lock survives the restart");
    assert!(
        matches!(v.pin_locked_minutes, Some(14 | 15)),
        "{:?}",
        v.pin_locked_minutes
    );
    assert_ne!(v.screen.name(), "device-status");
    std::thread::sleep(Duration::from_millis(500));
    for (kind, want) in [
        ("admin.entered", 1),
        ("admin.left", 1),
        ("admin.login.refused", 4),
        ("admin.login.locked", 1),
    ] {
        assert_eq!(audited(&t, kind), want, "{kind}");
    }
    t.stop();
}
