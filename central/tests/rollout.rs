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
    running(store, id, config, printer, None);
}

fn running(store: &Store, id: &str, config: u64, printer: &str, software: Option<&str>) {
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
        software: software.map(str::to_string),
    };
    store
        .record_heartbeat(&hb, &chrono::Utc::now().to_rfc3339())
        .unwrap();
}

/// A store, a publisher key and a plan file in a temporary folder.
struct Setup {
    dir: tempfile::TempDir,
    db: String,
    plan: String,
    key_path: String,
    key: SigningKey,
    store: Store,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let path = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
        let (db, plan, key_path) = (path("central.db"), path("plan.json"), path("publisher.key"));
        let (ok, _, err) = central(&["keygen", "--out", &key_path]);
        assert!(ok, "{err}");
        let secret = std::fs::read_to_string(&key_path).unwrap();
        let key = SigningKey::from_secret_string(secret.trim()).unwrap();
        let store = Store::open(&db).unwrap();
        Setup {
            dir,
            db,
            plan,
            key_path,
            key,
            store,
        }
    }

    /// Publishes `body` to all terminals as `version` (what a failed group goes back to).
    fn base(&self, version: u64, body: &Value) {
        let doc = SignedDocument::sign(
            DocumentKind::Config,
            "all",
            version,
            body.clone(),
            &self.key,
        );
        self.store.publish_document(&doc).unwrap().unwrap();
    }

    fn start(&self, terminals: &str, threshold: &str, body: &Value) -> (bool, Value, String) {
        let file = self.dir.path().join("new.json");
        std::fs::write(&file, body.to_string()).unwrap();
        central(&[
            "rollout",
            "--db",
            &self.db,
            "--plan",
            &self.plan,
            "start",
            "--key",
            &self.key_path,
            "--kind",
            "config",
            "--terminals",
            terminals,
            "--threshold",
            threshold,
            file.to_str().unwrap(),
        ])
    }

    fn advance(&self) -> (bool, Value, String) {
        central(&[
            "rollout",
            "--db",
            &self.db,
            "--plan",
            &self.plan,
            "advance",
            "--key",
            &self.key_path,
        ])
    }

    fn status(&self) -> (bool, Value, String) {
        central(&["rollout", "--db", &self.db, "--plan", &self.plan, "status"])
    }

    fn body_for(&self, id: &str) -> (u64, Value) {
        let d = self
            .store
            .latest_document(DocumentKind::Config, id, 0)
            .unwrap()
            .unwrap();
        (d.version, d.body)
    }
}

#[test]
fn a_group_over_its_threshold_halts_the_rollout_and_rolls_back() {
    let s = Setup::new();
    let base = json!({"fault_phone": "0512-5555-1234"});
    let new = json!({"fault_phone": "0512-5555-9999"});
    let terminals: Vec<String> = (1..=10).map(|i| format!("KSK-{i:04}")).collect();
    let list = terminals.join(",");

    // No base version for everyone: nothing to roll back to, so no start.
    let (ok, _, err) = s.start(&list, "0.2", &new);
    assert!(!ok && err.contains("publish a base version"), "{err}");
    assert!(!std::path::Path::new(&s.plan).exists());
    s.base(1, &base);

    let (ok, st, err) = s.start(&list, "0.2", &new);
    assert!(ok, "{err}");
    assert_eq!(st["state"], json!("running"));
    let sizes: Vec<usize> = st["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["terminals"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [1, 1, 8]);
    let (v1, b) = s.body_for("KSK-0001");
    assert_eq!(b, new);
    assert!(v1 > 1);
    assert_eq!(s.body_for("KSK-0002"), (1, base.clone()), "not yet");
    // A second start on the same plan file is refused.
    let (ok, _, err) = s.start(&list, "0.2", &new);
    assert!(!ok && err.contains("exists"), "{err}");

    // Group 1 reports the new version in force, nothing abnormal: it passes.
    heartbeat(&s.store, "KSK-0001", v1, "normal");
    let (ok, st, err) = s.advance();
    assert!(ok, "{err}");
    assert_eq!(st["state"], json!("running"));
    assert_eq!(st["current_group"], json!(2));
    let (v2, b) = s.body_for("KSK-0002");
    assert_eq!(b, new);

    // Group 2 takes it, and its printer goes abnormal: halted, rolled back.
    heartbeat(&s.store, "KSK-0002", v2, "abnormal");
    let (ok, st, err) = s.advance();
    assert!(ok, "{err}");
    assert_eq!(st["state"], json!("halted"));
    let g2 = &st["groups"][1];
    assert_eq!(g2["failed"], json!(1));
    assert!(g2["terminals"][0]["now"]
        .as_str()
        .unwrap()
        .contains("receipt"));
    let (v_back, b) = s.body_for("KSK-0002");
    assert_eq!(b, base, "the failed group has the previous body again");
    assert!(v_back > v2);
    assert_eq!(g2["terminals"][0]["rolled_back_to"], json!(v_back));
    // Group 1 keeps the new body; group 3 never got it.
    assert_eq!(s.body_for("KSK-0001").1, new);
    for t in &terminals[2..] {
        assert_eq!(s.body_for(t), (1, base.clone()), "{t}");
    }
    // Halted: nothing more to advance; the status still reads.
    let (ok, _, err) = s.advance();
    assert!(!ok && err.contains("Halted"), "{err}");
    let (ok, st, err) = s.status();
    assert!(ok, "{err}");
    assert_eq!(st["state"], json!("halted"));
}

#[test]
fn every_group_passing_finishes_the_rollout() {
    let s = Setup::new();
    s.base(4, &json!({"a": 1}));
    let (ok, _, err) = s.start("A,B,C", "0", &json!({"a": 2}));
    assert!(ok, "{err}");
    for t in ["A", "B", "C"] {
        let (v, b) = s.body_for(t);
        assert_eq!(b, json!({"a": 2}), "{t} got it when its group went out");
        heartbeat(&s.store, t, v, "normal");
        let (ok, st, err) = s.advance();
        assert!(ok, "{err}");
        let want = if t == "C" { "done" } else { "running" };
        assert_eq!(st["state"], json!(want));
    }
}

/// The install orders queued for `terminal`, as (version, sha256).
fn orders(store: &Store, terminal: &str) -> Vec<(String, String)> {
    store
        .pending_commands(terminal, chrono::Utc::now())
        .unwrap()
        .into_iter()
        .filter_map(|c| match c.command {
            kiosk_protocol::wire::RemoteCommand::InstallUpdate {
                version, sha256, ..
            } => Some((version, sha256)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_update_rolls_out_by_install_orders_and_a_failed_group_is_ordered_back() {
    let s = Setup::new();
    let add = |version: &str| -> Value {
        let bytes = kiosk_protocol::update_bundle::make(
            version,
            &[("kiosk", format!("binary {version}").as_bytes(), 0o755)],
            &s.key,
        );
        let path = s.dir.path().join(format!("{version}.hkupd"));
        std::fs::write(&path, bytes).unwrap();
        let (ok, added, err) = central(&["update", "--db", &s.db, "add", path.to_str().unwrap()]);
        assert!(ok, "{err}");
        assert_eq!(added["version"], json!(version));
        added
    };
    let (old, new) = (add("1.0.0"), add("2.0.0"));
    let sha = |b: &Value| b["sha256"].as_str().unwrap().to_string();
    let start = |bundle: &str, previous: &str| {
        central(&[
            "rollout",
            "--db",
            &s.db,
            "--plan",
            &s.plan,
            "start-update",
            "--bundle",
            bundle,
            "--previous",
            previous,
            "--terminals",
            "A,B,C",
            "--threshold",
            "0",
        ])
    };
    let (ok, _, err) = start(&"f".repeat(64), &sha(&old));
    assert!(!ok && err.contains("add it first"), "{err}");
    let (ok, _, err) = start(&sha(&new), &sha(&new));
    assert!(!ok && err.contains("both version 2.0.0"), "{err}");
    let (ok, st, err) = start(&sha(&new), &sha(&old));
    assert!(ok, "{err}");
    assert_eq!(st["kind"], json!("update"));
    assert_eq!(
        (&st["version"], &st["previous_version"]),
        (&json!("2.0.0"), &json!("1.0.0"))
    );
    assert_eq!(orders(&s.store, "A"), [("2.0.0".to_string(), sha(&new))]);
    assert!(orders(&s.store, "B").is_empty(), "not yet");

    // While A still runs 1.0.0 (the order not yet carried out), the status says why it
    // would fail.
    running(&s.store, "A", 1, "normal", Some("1.0.0"));
    let (ok, st, _) = s.status();
    assert!(ok);
    assert!(st["groups"][0]["terminals"][0]["now"]
        .as_str()
        .unwrap()
        .contains("runs 1.0.0, not 2.0.0"));
    // Once it runs 2.0.0 and is well, it passes and B is ordered. No key: updates sign
    // nothing.
    running(&s.store, "A", 1, "normal", Some("2.0.0"));
    let (ok, st, err) = central(&["rollout", "--db", &s.db, "--plan", &s.plan, "advance"]);
    assert!(ok, "{err}");
    assert_eq!(st["current_group"], json!(2));
    assert_eq!(orders(&s.store, "B"), [("2.0.0".to_string(), sha(&new))]);

    // B runs 2.0.0 with its printer abnormal: halted, and B is ordered back to 1.0.0.
    running(&s.store, "B", 1, "abnormal", Some("2.0.0"));
    let (ok, st, err) = central(&["rollout", "--db", &s.db, "--plan", &s.plan, "advance"]);
    assert!(ok, "{err}");
    assert_eq!(st["state"], json!("halted"));
    assert!(
        st["groups"][1]["terminals"][0]["rollback_order"].is_u64(),
        "{st}"
    );
    assert_eq!(
        orders(&s.store, "B"),
        [
            ("2.0.0".to_string(), sha(&new)),
            ("1.0.0".to_string(), sha(&old))
        ]
    );
    assert!(
        orders(&s.store, "C").is_empty(),
        "group 3 was never ordered"
    );
    assert_eq!(orders(&s.store, "A").len(), 1, "group 1 keeps 2.0.0");
}
