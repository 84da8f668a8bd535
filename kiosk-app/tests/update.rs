//! Signed A/B updates end to end: `kiosk-central update-bundle` makes a bundle, `kiosk update
//! install` puts it in the other slot, systemd's `kiosk update boot-check` counts the start,
//! and a real `kiosk run` on the sim profile commits it once its devices, journal and screen
//! are well — or, when it cannot pass its gate, stops failing and is rolled back at the next
//! start. The outcome reaches the journal and the audit log. The same on the centre's order:
//! `kiosk-central update add`, an `install-update` command, and the kiosk fetches, stages,
//! installs at an idle moment and restarts into it.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::*;

fn central() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_kiosk")).with_file_name("kiosk-central");
    assert!(
        p.exists(),
        "build kiosk-central first: cargo build -p kiosk-central"
    );
    p
}

fn ok(c: &mut Command) -> serde_json::Value {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}\n{}",
        c,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// A base as flash.sh makes it, a publisher key, and the sim config with `[update]` there.
struct Setup {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    key: PathBuf,
}

fn setup(extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("opt-hallkit");
    std::fs::create_dir_all(base.join("slots/a")).unwrap();
    std::fs::write(base.join("slots/a/kiosk"), "#!/bin/sh\necho 1.0.0\n").unwrap();
    std::fs::write(base.join("slots/a/VERSION"), "1.0.0").unwrap();
    std::os::unix::fs::symlink("slots/a", base.join("current")).unwrap();
    std::os::unix::fs::symlink("slots/a", base.join("committed")).unwrap();
    let key = dir.path().join("publisher.key");
    let made = ok(Command::new(central())
        .args(["keygen", "--algorithm", "sm2", "--out"])
        .arg(&key));
    let public = made["public_key"].as_str().unwrap().to_string();
    let cfg = config_in(dir.path(), "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "publisher_keys = []",
        &format!("publisher_keys = [{public:?}]"),
    );
    std::fs::write(
        &cfg,
        format!("{text}\n[update]\nbase = {base:?}\nbusiness_hours = []\n{extra}"),
    )
    .unwrap();
    Setup { dir, cfg, key }
}

impl Setup {
    fn bundle(&self, version: &str) -> PathBuf {
        let files = self.dir.path().join(format!("release-{version}"));
        std::fs::create_dir_all(&files).unwrap();
        std::fs::write(files.join("kiosk"), format!("#!/bin/sh\necho {version}\n")).unwrap();
        let out = self.dir.path().join(format!("hallkit-{version}.hkupd"));
        let made = ok(Command::new(central())
            .args(["update-bundle", "--version", version, "--key"])
            .arg(&self.key)
            .arg("--out")
            .arg(&out)
            .arg(files.join("kiosk")));
        assert_eq!(made["version"], version);
        out
    }

    fn kiosk(&self, args: &[&str]) -> Command {
        let mut c = kiosk();
        c.args(args).arg("--config").arg(&self.cfg);
        c
    }

    fn status(&self) -> serde_json::Value {
        ok(&mut self.kiosk(&["update", "status"]))
    }

    /// Whether the running kiosk commits `slot` within a minute.
    fn commits_to(&self, slot: &str) -> bool {
        for _ in 0..600 {
            if self.status()["committed"] == slot {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }
}

fn audited(cfg: &Path) -> Vec<serde_json::Value> {
    let out = kiosk()
        .args(["audit", "list", "--limit", "1000", "--config"])
        .arg(cfg)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "system.update.outcome")
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn a_healthy_new_version_commits_itself_and_reports_it() {
    let s = setup("health_gate_s = 120\n");
    let bundle = s.bundle("2.0.0");
    let installed = ok(&mut s.kiosk(&["update", "install", bundle.to_str().unwrap()]));
    assert_eq!(installed["installed"], "2.0.0");
    assert_eq!(installed["slot"], "b");
    // systemd's start check counts the new version's first start.
    ok(&mut s.kiosk(&["update", "boot-check"]));
    assert_eq!(s.status()["pending"]["starts"], 1);
    // That start: the terminal passes its gate and commits.
    let run = KioskRun::start(&s.cfg, None);
    let committed = s.commits_to("b");
    let err = run.stop();
    assert!(committed, "not committed: {} {err}", s.status());
    let st = s.status();
    assert_eq!(st["current_version"], "2.0.0");
    assert_eq!(st["last"]["result"], "committed");
    assert!(st["pending"].is_null());
    let outcomes = audited(&s.cfg);
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0]["fields"]["version"], "2.0.0");
    assert_eq!(outcomes[0]["fields"]["result"], "committed");
    // Later starts change nothing.
    ok(&mut s.kiosk(&["update", "boot-check"]));
    assert_eq!(s.status()["current"], "b");
}

#[test]
fn a_new_version_that_fails_its_gate_stops_and_is_rolled_back_at_the_next_start() {
    // The centre cannot be reached: the journal never drains, so the gate stays shut.
    let s = setup("health_gate_s = 3\n");
    let text = std::fs::read_to_string(&s.cfg)
        .unwrap()
        .replace("listen = \"127.0.0.1:0\"", "url = \"http://127.0.0.1:9\"");
    std::fs::write(&s.cfg, text).unwrap();
    let bundle = s.bundle("2.1.0");
    ok(&mut s.kiosk(&["update", "install", bundle.to_str().unwrap()]));
    ok(&mut s.kiosk(&["update", "boot-check"]));
    let run = KioskRun::start(&s.cfg, None);
    let (status, err, _) = run.finish();
    assert!(!status.success(), "the kiosk should stop failing: {err}");
    assert!(err.contains("did not pass its health gate"), "{err}");
    assert!(err.contains("not yet at the centre"), "{err}");
    // systemd starts it again: the check rolls back to the committed slot.
    let back = ok(&mut s.kiosk(&["update", "boot-check"]));
    assert_eq!(back["current"], "a", "{back}");
    assert_eq!(back["ended"]["result"], "rolled-back");
    let st = s.status();
    assert_eq!(st["current_version"], "1.0.0");
    // The old version, started, reports how the update ended.
    let run = KioskRun::start(&s.cfg, None);
    run.stop();
    let outcomes = audited(&s.cfg);
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0]["fields"]["result"], "rolled-back");
    assert!(outcomes[0]["fields"]["reason"]
        .as_str()
        .unwrap()
        .contains("health gate"));
}

#[test]
fn a_forged_bundle_or_business_hours_are_refused_and_nothing_moves() {
    let s = setup("");
    // Business hours every day, all day: refused without --now.
    let text = std::fs::read_to_string(&s.cfg).unwrap().replace(
        "business_hours = []",
        "business_hours = [\"Mon-Sun 00:00-23:59\"]",
    );
    std::fs::write(&s.cfg, text).unwrap();
    let bundle = s.bundle("3.0.0");
    let out = s
        .kiosk(&["update", "install", bundle.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("business hours"));
    assert_eq!(s.status()["current"], "a");
    // A bundle from a key the terminal does not pin.
    let other = s.dir.path().join("other.key");
    ok(Command::new(central())
        .args(["keygen", "--out"])
        .arg(&other));
    let forged = s.dir.path().join("forged.hkupd");
    let files = s.dir.path().join("release-3.0.0/kiosk");
    ok(Command::new(central())
        .args(["update-bundle", "--version", "3.0.0", "--key"])
        .arg(&other)
        .arg("--out")
        .arg(&forged)
        .arg(&files));
    let out = s
        .kiosk(&["update", "install", "--now", forged.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not trust"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = s.status();
    assert_eq!(st["current"], "a");
    assert_eq!(st["last"]["result"], "refused");
    // --now overrides the hours for a technician at the terminal.
    ok(&mut s.kiosk(&["update", "install", "--now", bundle.to_str().unwrap()]));
    assert_eq!(s.status()["current"], "b");
}

/// Queues `command` at the embedded centre `url`: the answer's status and body.
fn order(url: &str, command: serde_json::Value) -> (u16, serde_json::Value) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{url}/api/v1/devices/KSK-320583-0001/commands"))
        .json(&serde_json::json!({
            "request_id": format!("order-{}", command),
            "command": command,
        }))
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or_default())
}

#[test]
fn the_centres_order_fetches_stages_and_installs_an_update_then_the_kiosk_restarts_into_it() {
    let s = setup("");
    let text = std::fs::read_to_string(&s.cfg).unwrap().replace(
        "health_interval_s = 5",
        "health_interval_s = 5\ncommand_interval_s = 1",
    );
    std::fs::write(&s.cfg, text).unwrap();
    let bundle = s.bundle("2.0.0");
    let run = KioskRun::start(&s.cfg, None);
    let ready: serde_json::Value = serde_json::from_str(&run.ready).unwrap();
    let url = ready["centre"].as_str().unwrap().to_string();
    let db = s.dir.path().join("data/central/central.db");
    // The operator adds the bundle to the centre; an order for one it does not hold is refused.
    let held = ok(Command::new(central())
        .args(["update", "--db"])
        .arg(&db)
        .arg("add")
        .arg(&bundle));
    assert_eq!(held["version"], "2.0.0");
    let (sha, size) = (held["sha256"].clone(), held["size"].clone());
    let (code, why) = order(
        &url,
        serde_json::json!({"type": "install-update", "version": "2.0.0", "sha256": "0".repeat(64), "size": 10}),
    );
    assert_eq!(code, 409, "{why}");
    assert!(why.to_string().contains("add it first"), "{why}");
    let listed = Command::new(central())
        .args(["update", "--db"])
        .arg(&db)
        .arg("list")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(sha.as_str().unwrap()));
    // The order: fetched, checked, staged, installed with the screen idle, and the kiosk
    // stops in order so the service manager starts the new version.
    let (code, queued) = order(
        &url,
        serde_json::json!({"type": "install-update", "version": "2.0.0", "sha256": sha, "size": size}),
    );
    assert_eq!(code, 201, "{queued}");
    let (status, err, _) = run.finish();
    assert!(
        !status.success(),
        "a restart exits for the service manager: {err}"
    );
    assert!(
        err.contains("restarting into update 2.0.0, as the centre ordered"),
        "{err}"
    );
    let st = s.status();
    assert_eq!(st["current"], "b", "{st}");
    assert_eq!(st["pending"]["version"], "2.0.0");
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("opt-hallkit/slots/b/kiosk")).unwrap(),
        "#!/bin/sh\necho 2.0.0\n"
    );
    assert!(
        !s.dir.path().join("opt-hallkit/staged/bundle").exists(),
        "the installed bundle is not kept"
    );
    // systemd's start check, then the new version's first start.
    ok(&mut s.kiosk(&["update", "boot-check"]));
    assert_eq!(s.status()["pending"]["starts"], 1);
    let run = KioskRun::start(&s.cfg, None);
    let ready: serde_json::Value = serde_json::from_str(&run.ready).unwrap();
    let url = ready["centre"].as_str().unwrap().to_string();
    let id = queued["id"].as_u64().unwrap();
    let c: serde_json::Value = reqwest::blocking::get(format!(
        "{url}/api/v1/devices/KSK-320583-0001/commands/{id}"
    ))
    .unwrap()
    .json()
    .unwrap();
    // The command's answer, recorded before the restart: fetched, checked and staged.
    assert_eq!(c["ack"]["ok"], true, "{c}");
    assert_eq!(c["ack"]["result"]["staged"], "2.0.0", "{c}");
    // The new version passes its gate and commits itself.
    let committed = s.commits_to("b");
    let err = run.stop();
    assert!(committed, "not committed: {} {err}", s.status());
    let outcomes = audited(&s.cfg);
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0]["fields"]["result"], "committed");
}
