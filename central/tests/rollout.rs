//! `kiosk-central rollout` against a store: ten terminals in groups of 1, 1 and 8; the first
//! group reports the new version in force and passes, so the second goes out; the second
//! reports a printer abnormal after the change, so the rollout halts, that terminal gets the
//! previous body back as a newer version, and the eight others never received it.

use std::process::Command;

use kiosk_central::backend::Store;
use kiosk_protocol::signing::{DocumentKind, SignedDocument, SigningKey};
use kiosk_protocol::wire::{Heartbeat, PeripheralReport};
use serde_json::{json, Value};

fn central(args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk-central"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (
        out.status.success(),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr,
    )
}

fn heartbeat(store: &Store, id: &str, config: u64, printer: &str) {
    let hb = Heartbeat {
        device_id: id.into(),
        at: chrono::Utc::now(),
        peripherals: vec![PeripheralReport {
            id: "receipt".into(),
            kind: "receipt-printer".into(),
            state: printer.into(),
            health: "online".into(),
            detail: String::new(),
        }],
        queue_pending: 0,
        queue_dead: 0,
        counters: Default::default(),
        audit_head: None,
        documents: [("config".to_string(), config)].into_iter().collect(),
    };
    store
        .record_heartbeat(&hb, &chrono::Utc::now().to_rfc3339())
        .unwrap();
}

fn body_for(store: &Store, id: &str) -> (u64, Value) {
    let d = store
        .latest_document(DocumentKind::Config, id, 0)
        .unwrap()
        .unwrap();
    (d.version, d.body)
}

#[test]
fn a_group_over_its_threshold_halts_the_rollout_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db");
    let db_s = db.to_str().unwrap();
    let plan = dir.path().join("plan.json");
    let plan_s = plan.to_str().unwrap();
    let key_path = dir.path().join("publisher.key");
    let (ok, _, err) = central(&["keygen", "--out", key_path.to_str().unwrap()]);
    assert!(ok, "{err}");
    let secret = std::fs::read_to_string(&key_path).unwrap();
    let key = SigningKey::from_secret_string(secret.trim()).unwrap();
    let store = Store::open(db_s).unwrap();
    let base = json!({"fault_phone": "0512-5555-1234"});
    let new = json!({"fault_phone": "0512-5555-9999"});
    let body = dir.path().join("new.json");
    std::fs::write(&body, new.to_string()).unwrap();
    let terminals: Vec<String> = (1..=10).map(|i| format!("KSK-{i:04}")).collect();
    let list = terminals.join(",");

    // No base version for everyone: nothing to roll back to, so no start.
    let start = |plan: &str| {
        central(&[
            "rollout",
            "--db",
            db_s,
            "--plan",
            plan,
            "start",
            "--key",
            key_path.to_str().unwrap(),
            "--kind",
            "config",
            "--terminals",
            &list,
            "--threshold",
            "0.2",
            body.to_str().unwrap(),
        ])
    };
    let (ok, _, err) = start(plan_s);
    assert!(!ok && err.contains("publish a base version"), "{err}");
    assert!(!plan.exists());
    let doc = SignedDocument::sign(DocumentKind::Config, "all", 1, base.clone(), &key);
    store.publish_document(&doc).unwrap().unwrap();

    let (ok, st, err) = start(plan_s);
    assert!(ok, "{err}");
    assert_eq!(st["state"], json!("running"));
    let sizes: Vec<usize> = st["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["terminals"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [1, 1, 8]);
    let (v1, b) = body_for(&store, "KSK-0001");
    assert_eq!(b, new);
    assert!(v1 > 1);
    assert_eq!(body_for(&store, "KSK-0002"), (1, base.clone()), "not yet");
    // A second start on the same plan file is refused.
    let (ok, _, err) = start(plan_s);
    assert!(!ok && err.contains("exists"), "{err}");

    // Group 1 has not reported: advancing now fails it (threshold 0.2 of one terminal).
    // So it reports first: the new version in force, nothing abnormal.
    heartbeat(&store, "KSK-0001", v1, "normal");
    let advance = || {
        central(&[
            "rollout",
            "--db",
            db_s,
            "--plan",
            plan_s,
            "advance",
            "--key",
            key_path.to_str().unwrap(),
        ])
    };
    let (ok, st, err) = advance();
    assert!(ok, "{err}");
    assert_eq!(st["state"], json!("running"));
    assert_eq!(st["current_group"], json!(2));
    let (v2, b) = body_for(&store, "KSK-0002");
    assert_eq!(b, new);

    // Group 2 takes it, and its printer goes abnormal: halted, rolled back.
    heartbeat(&store, "KSK-0002", v2, "abnormal");
    let (ok, st, err) = advance();
    assert!(ok, "{err}");
    assert_eq!(st["state"], json!("halted"));
    let g2 = &st["groups"][1];
    assert_eq!(g2["failed"], json!(1));
    assert!(g2["terminals"][0]["now"]
        .as_str()
        .unwrap()
        .contains("receipt"));
    let (v_back, b) = body_for(&store, "KSK-0002");
    assert_eq!(b, base, "the failed group has the previous body again");
    assert!(v_back > v2);
    assert_eq!(g2["terminals"][0]["rolled_back_to"], json!(v_back));
    // Group 1 keeps the new body; group 3 never got it.
    assert_eq!(body_for(&store, "KSK-0001").1, new);
    for t in &terminals[2..] {
        assert_eq!(body_for(&store, t), (1, base.clone()), "{t}");
    }
    // Halted: nothing more to advance; the status still reads.
    let (ok, _, err) = advance();
    assert!(!ok && err.contains("Halted"), "{err}");
    let (ok, st, err) = central(&["rollout", "--db", db_s, "--plan", plan_s, "status"]);
    assert!(ok, "{err}");
    assert_eq!(st["state"], json!("halted"));
}

#[test]
fn every_group_passing_finishes_the_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db");
    let db_s = db.to_str().unwrap();
    let plan = dir.path().join("plan.json");
    let key_path = dir.path().join("publisher.key");
    assert!(central(&["keygen", "--out", key_path.to_str().unwrap()]).0);
    let secret = std::fs::read_to_string(&key_path).unwrap();
    let key = SigningKey::from_secret_string(secret.trim()).unwrap();
    let store = Store::open(db_s).unwrap();
    let doc = SignedDocument::sign(DocumentKind::Config, "all", 4, json!({"a": 1}), &key);
    store.publish_document(&doc).unwrap().unwrap();
    let body = dir.path().join("new.json");
    std::fs::write(&body, r#"{"a": 2}"#).unwrap();
    let (ok, _, err) = central(&[
        "rollout",
        "--db",
        db_s,
        "--plan",
        plan.to_str().unwrap(),
        "start",
        "--key",
        key_path.to_str().unwrap(),
        "--kind",
        "config",
        "--terminals",
        "A,B,C",
        body.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    for t in ["A", "B", "C"] {
        let (v, b) = body_for(&store, t);
        assert_eq!(b, json!({"a": 2}), "{t} got it when its group went out");
        heartbeat(&store, t, v, "normal");
        let (ok, st, err) = central(&[
            "rollout",
            "--db",
            db_s,
            "--plan",
            plan.to_str().unwrap(),
            "advance",
            "--key",
            key_path.to_str().unwrap(),
        ]);
        assert!(ok, "{err}");
        let want = if t == "C" { "done" } else { "running" };
        assert_eq!(st["state"], json!(want));
    }
}
