//! The `kiosk` binary as technicians and the operations team use it: the audit log.

use std::path::Path;
use std::time::Duration;

mod common;
use common::*;

fn verify(cfg: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = kiosk()
        .args(["audit", "verify", "--config"])
        .arg(cfg)
        .args(extra)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What someone with the journal file and a SQLite shell could do.
fn tamper(db: &Path, sql: &str) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch(&format!(
        "DROP TRIGGER IF EXISTS audit_append_only_update; \
         DROP TRIGGER IF EXISTS audit_append_only_delete; {sql}"
    ))
    .unwrap();
}

#[test]
fn a_run_is_audited_and_kiosk_audit_verify_finds_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    // Two runs: each audits the configuration it loaded, chained across restarts.
    for _ in 0..2 {
        let run = KioskRun::start(&cfg, None);
        let ready: serde_json::Value = serde_json::from_str(&run.ready).unwrap();
        let url = ready["centre"].as_str().unwrap().to_string();
        // The heartbeat carries the audit log's head to the centre.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let head = rt.block_on(async {
            // Asked for now rather than waiting for the interval.
            let asked = reqwest::Client::new()
                .post(format!("{url}/api/v1/devices/KSK-320583-0001/commands"))
                .json(&serde_json::json!({
                    "request_id": uuid::Uuid::new_v4().to_string(),
                    "command": {"type": "heartbeat"},
                }))
                .send()
                .await
                .unwrap();
            assert!(asked.status().is_success(), "{}", asked.status());
            for _ in 0..600 {
                let r = reqwest::get(format!("{url}/api/v1/devices/KSK-320583-0001/status"))
                    .await
                    .unwrap();
                if r.status() == 200 {
                    let v: serde_json::Value = r.json().await.unwrap();
                    if v["audit_head"]["seq"].as_u64().is_some() {
                        return v["audit_head"].clone();
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("no heartbeat with the audit head reached the centre");
        });
        assert_eq!(head["hash"].as_str().unwrap().len(), 64, "{head}");
        run.stop();
    }

    let (code, report, err) = verify(&cfg, &[]);
    assert_eq!(code, Some(0), "{report} {err}");
    assert_eq!(report["intact"], true);
    let records = report["records"].as_u64().unwrap();
    assert!(records >= 2, "{report}");
    let head = format!(
        "{}:{}",
        report["head"]["seq"],
        report["head"]["hash"].as_str().unwrap()
    );
    let list = kiosk()
        .args(["audit", "list", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, records);
    let loaded: Vec<_> = lines
        .iter()
        .filter(|r| r["kind"] == "system.config.loaded")
        .collect();
    assert_eq!(loaded.len(), 2, "one per start: {lines:?}");
    let body: serde_json::Value =
        serde_json::from_str(loaded[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["fields"]["sha256"].as_str().unwrap().len(),
        64,
        "{body}"
    );

    // Edited, then cut from the end: each is named.
    let db = dir.path().join("data/outbox.db");
    tamper(
        &db,
        "UPDATE audit SET body = replace(body, 'sha256', 'SHA256') WHERE seq = 1;",
    );
    let (code, report, err) = verify(&cfg, &[]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["intact"], false);
    assert!(
        err.contains("record 1 was changed after it was written"),
        "{err}"
    );
    tamper(&db, &format!("DELETE FROM audit WHERE seq = {records};"));
    let (code, _, err) = verify(&cfg, &["--expect", &head]);
    assert_eq!(code, Some(1));
    assert!(err.contains("cut from the end"), "{err}");

    // A bad head or a missing journal is a usage error, not a finding.
    let (code, _, err) = verify(&cfg, &["--expect", "12"]);
    assert_eq!(code, Some(2), "{err}");
    let out = kiosk()
        .args(["audit", "verify", "--db"])
        .arg(dir.path().join("nowhere.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no journal at"));
}

/// One device directory of a fake `/sys/bus/usb/devices`.
fn plug(root: &Path, port: &str, usb: &str, interface_class: &str) {
    let dir = root.join(port);
    std::fs::create_dir_all(dir.join(format!("{port}:1.0"))).unwrap();
    let (vid, pid) = usb.split_once(':').unwrap();
    for (k, v) in [
        ("idVendor", vid),
        ("idProduct", pid),
        ("bDeviceClass", "00"),
        ("authorized", "1"),
        ("product", "Ultra Fit"),
    ] {
        std::fs::write(dir.join(k), format!("{v}\n")).unwrap();
    }
    std::fs::write(
        dir.join(format!("{port}:1.0/bInterfaceClass")),
        format!("{interface_class}\n"),
    )
    .unwrap();
}

#[test]
fn a_u_disk_plugged_into_a_running_kiosk_is_de_authorised_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let sysfs = dir.path().join("sys-bus-usb-devices");
    plug(&sysfs, "1-1.1", "413c:2113", "03");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "\n[usb]\nmode = \"enforce\"\nallow_classes = [\"hid\", \"hub\"]\nsysfs = {:?}\nscan_interval_ms = 200\n",
        sysfs
    ));
    std::fs::write(&cfg, text).unwrap();
    let run = KioskRun::start(&cfg, None);
    plug(&sysfs, "1-1.3", "0781:5583", "08");
    let authorized = |port: &str| {
        std::fs::read_to_string(sysfs.join(port).join("authorized"))
            .unwrap()
            .trim()
            .to_string()
    };
    let mut blocked = false;
    for _ in 0..100 {
        if authorized("1-1.3") == "0" {
            blocked = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let err = run.stop();
    assert!(blocked, "the U-disk is still authorised: {err}");
    assert_eq!(authorized("1-1.1"), "1", "the keyboard stays");
    let list = kiosk()
        .args(["audit", "list", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    let refused: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "security.usb.refused")
        .collect();
    assert_eq!(refused.len(), 1, "{text}");
    let body: serde_json::Value =
        serde_json::from_str(refused[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["fields"]["usb"], "0781:5583");
    assert_eq!(body["fields"]["action"], "blocked");
    assert_eq!(body["fields"]["port"], "1-1.3");
}

#[test]
fn under_systemd_the_kiosk_says_ready_feeds_the_watchdog_and_says_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let socket = dir.path().join("notify");
    let listener = UnixDatagram::bind(&socket).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let run = KioskRun::start_with(
        &cfg,
        &[
            ("NOTIFY_SOCKET", socket.to_str().unwrap()),
            ("WATCHDOG_USEC", "300000"),
        ],
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.iter().filter(|m: &&String| *m == "WATCHDOG=1").count() < 3 {
        let n = listener.recv(&mut buf).expect("a notification");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    run.stop();
    loop {
        let n = listener.recv(&mut buf).expect("STOPPING=1 before the end");
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        if m == "STOPPING=1" {
            break;
        }
        got.push(m);
    }
    let ready = got
        .iter()
        .position(|m| m.starts_with("READY=1\nSTATUS=serving as KSK-320583-0001"));
    assert!(ready.is_some(), "{got:?}");
}

/// Queues `command` for the sim terminal at its embedded centre and waits for its answer.
fn remote(url: &str, command: serde_json::Value) -> serde_json::Value {
    let client = reqwest::blocking::Client::new();
    let queued: serde_json::Value = client
        .post(format!("{url}/api/v1/devices/KSK-320583-0001/commands"))
        .json(&serde_json::json!({
            "request_id": uuid::Uuid::new_v4().to_string(),
            "command": command,
        }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = queued["id"].as_u64().unwrap_or_else(|| panic!("{queued}"));
    for _ in 0..600 {
        let c: serde_json::Value = client
            .get(format!(
                "{url}/api/v1/devices/KSK-320583-0001/commands/{id}"
            ))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if !c["ack"].is_null() {
            return c["ack"].clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("command {command} was never answered");
}

#[test]
fn remote_self_test_log_bundle_power_schedule_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "health_interval_s = 5",
        "health_interval_s = 5\ncommand_interval_s = 1",
    );
    std::fs::write(&cfg, text).unwrap();
    let run = KioskRun::start(&cfg, None);
    let ready: serde_json::Value = serde_json::from_str(&run.ready).unwrap();
    let url = ready["centre"].as_str().unwrap().to_string();

    let test = remote(&url, serde_json::json!({"type": "self-test"}));
    let results = test["result"].as_object().unwrap();
    assert_eq!(results.len(), 9, "every device answers: {test}");
    assert!(
        results.values().all(|r| r["ok"] == true),
        "the sim devices pass: {test}"
    );

    let set = remote(
        &url,
        serde_json::json!({"type": "set-power-schedule", "schedule": {"days": "Mon-Fri", "on": "07:30", "off": "19:00"}}),
    );
    assert_eq!(set["ok"], true, "{set}");
    let bad = remote(
        &url,
        serde_json::json!({"type": "set-power-schedule", "schedule": {"days": "Mon-Fri", "on": "19:00", "off": "07:30"}}),
    );
    assert_eq!(bad["ok"], false, "{bad}");
    // The root timer's side, for a Friday night: off until Monday 07:30.
    let out = kiosk()
        .args([
            "power",
            "apply",
            "--dry-run",
            "--at",
            "2026-12-04 22:00",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["action"], "power-off", "{plan}");
    assert_eq!(plan["wake_at"], "2026-12-07 07:30:00");
    assert!(plan["command"]
        .as_str()
        .unwrap()
        .starts_with("rtcwake -m off -t "));

    // A headless kiosk has no screen to take: the answer says so.
    let shot = remote(&url, serde_json::json!({"type": "screenshot"}));
    assert_eq!(shot["ok"], false, "{shot}");
    assert!(
        shot["detail"].as_str().unwrap().contains("shows no screen"),
        "{shot}"
    );

    let bundle = remote(
        &url,
        serde_json::json!({"type": "log-bundle", "events": 50}),
    );
    assert_eq!(bundle["ok"], true, "{bundle}");
    let sha = bundle["result"]["attachments"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    // The bundle reaches the centre with the command's record.
    let client = reqwest::blocking::Client::new();
    let mut complete = false;
    for _ in 0..100 {
        let s: serde_json::Value = client
            .get(format!("{url}/api/v1/attachments/{sha}"))
            .send()
            .unwrap()
            .json()
            .unwrap_or_default();
        if s["complete"] == true {
            complete = true;
            break;
        }
        let _ = remote(&url, serde_json::json!({"type": "upload-now"}));
    }
    assert!(complete, "the log bundle never reached the centre");

    // A restart: the centre is embedded in this kiosk, so it goes down with it; the answer
    // is in the terminal's own record.
    let queued = client
        .post(format!("{url}/api/v1/devices/KSK-320583-0001/commands"))
        .json(&serde_json::json!({
            "request_id": "restart-1",
            "command": {"type": "restart"},
        }))
        .send()
        .unwrap();
    assert!(queued.status().is_success());
    let (status, err, _) = run.finish();
    assert!(!status.success(), "a restart exits for the service manager");
    assert!(err.contains("restart asked by the centre"), "{err}");
    let db = rusqlite::Connection::open(dir.path().join("data/outbox.db")).unwrap();
    let ack: String = db
        .query_row(
            "SELECT ack FROM remote_commands ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(ack.contains("\"restarting\":true"), "{ack}");
}
