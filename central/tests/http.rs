//! The central service over real HTTP on loopback.

use kiosk_central::{CentreHandle, SqliteStore};
use kiosk_protocol::wire::CentreHealth;

#[tokio::test]
async fn health_over_http_and_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("c.db")).unwrap();
    store
        .enrol_device("KSK-320505-0001", "2026-11-22T09:00:00Z")
        .unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store).await.unwrap();
    let url = centre.base_url();
    let client = reqwest::Client::new();
    let resp = client.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h: CentreHealth = resp.json().await.unwrap();
    assert!(h.is_ok());
    assert_eq!(
        (
            h.api_version.as_str(),
            h.store.as_str(),
            h.schema_version,
            h.enrolled_devices
        ),
        ("v1", "sqlite", 14, 1)
    );
    assert_eq!(
        client
            .get(format!("{url}/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    centre.stop().await.unwrap();
    assert!(
        client.get(format!("{url}/health")).send().await.is_err(),
        "centre still answers after stop"
    );
}

/// `kiosk-central serve` on a free loopback port with its own database.
struct Served {
    child: std::process::Child,
    port: u16,
    /// The line it printed when ready.
    line: String,
    _dir: tempfile::TempDir,
}

impl Served {
    fn start() -> Served {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk-central"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"])
            .arg(dir.path().join("c.db"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Served {
            child,
            port,
            line,
            _dir: dir,
        }
    }

    /// SIGTERMs it and waits for it to end.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        self.child.wait().unwrap()
    }
}

#[test]
fn serve_binary_starts_answers_and_stops_on_sigterm() {
    let served = Served::start();
    let (port, line) = (served.port, served.line.clone());
    assert!(line.contains("serving http://127.0.0.1:"), "{line}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = rt.block_on(async move {
        reqwest::get(format!("http://127.0.0.1:{port}/health"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let status = served.stop();
    assert!(
        status.success(),
        "kiosk-central exited with {status} on SIGTERM"
    );
}

#[test]
fn loadgen_against_a_served_centre() {
    let served = Served::start();
    let port = served.port;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk-central"))
        .args([
            "loadgen",
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--devices",
            "4",
            "--events",
            "250",
            "--batch",
            "50",
            "--heartbeats",
            "10",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(report["ingest"]["items"], 1000, "{text}");
    assert_eq!(report["ingest"]["errors"], 0);
    assert_eq!(report["heartbeats"]["items"], 40);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hb: serde_json::Value = rt.block_on(async {
        reqwest::get(format!(
            "http://127.0.0.1:{port}/api/v1/devices/LOAD-00002/status"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    });
    assert_eq!(hb["queue_pending"], 9);
    assert_eq!(hb["peripherals"][0]["state"], "normal");
    assert!(served.stop().success());
}

fn envelope(
    device: &str,
    seq: u64,
    kind: &str,
    payload: serde_json::Value,
) -> kiosk_protocol::wire::EventEnvelope {
    kiosk_protocol::wire::EventEnvelope {
        device_id: device.into(),
        seq,
        uuid: format!("00000000-0000-4000-8000-{seq:012}"),
        kind: kind.into(),
        created_at: chrono::Utc::now(),
        payload_sha256: kiosk_protocol::wire::payload_sha256(&payload),
        payload,
    }
}

#[tokio::test]
async fn a_ticket_whose_print_failed_is_void_and_seal_authorisations_are_used_once() {
    use kiosk_protocol::wire::{IngestBatch, SealAuthorisation, Ticket, TicketState};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("c.db")).unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store).await.unwrap();
    let url = centre.base_url();
    let client = reqwest::Client::new();
    let dev = "KSK-320505-0001";

    let mut tickets = Vec::new();
    for r in ["r1", "r2"] {
        let t: Ticket = client
            .post(format!(
                "{url}/api/v1/halls/kunshan/services/social/tickets"
            ))
            .json(&serde_json::json!({"device_id": dev, "request_id": r, "prefix": "A"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(t.state, TicketState::Issued);
        tickets.push(t);
    }
    let result = |t: &Ticket, outcome: &str| {
        serde_json::json!({
            "output_id": format!("out-{}", t.number),
            "outcome": outcome,
            "ticket": { "hall": t.hall, "service": t.service, "day": t.day, "number": t.number },
        })
    };
    let batch = IngestBatch {
        events: vec![
            envelope(dev, 1, "output.result", result(&tickets[0], "failed")),
            envelope(dev, 2, "output.result", result(&tickets[1], "printed")),
        ],
    };
    let resp = client
        .post(format!("{url}/api/v1/devices/{dev}/events"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for (t, want) in tickets
        .iter()
        .zip([TicketState::Void, TicketState::Printed])
    {
        let got: Ticket = client
            .get(format!(
                "{url}/api/v1/halls/kunshan/services/social/tickets/{}/{}",
                t.day, t.number
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(got.state, want, "{}", t.number);
    }

    let sha = "ab".repeat(32);
    let ask = serde_json::json!({"device_id": dev, "request_id": "s1", "seal": 2, "document_sha256": sha, "purpose": "application-receipt"});
    let resp = client
        .post(format!("{url}/api/v1/seal-authorisations"))
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let a: SealAuthorisation = resp.json().await.unwrap();
    assert_eq!((a.seal, a.consumed_at), (2, None));
    let again: SealAuthorisation = client
        .post(format!("{url}/api/v1/seal-authorisations"))
        .json(&ask)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        again.id, a.id,
        "a retried request gets the same authorisation"
    );
    let consume = |id: String, device: &str| {
        let client = client.clone();
        let body = serde_json::json!({"device_id": device});
        let url = format!("{url}/api/v1/seal-authorisations/{id}/consume");
        async move { client.post(url).json(&body).send().await.unwrap() }
    };
    assert_eq!(consume(a.id.clone(), "KSK-OTHER").await.status(), 403);
    let used = consume(a.id.clone(), dev).await;
    assert_eq!(used.status(), 200);
    assert!(used
        .json::<SealAuthorisation>()
        .await
        .unwrap()
        .consumed_at
        .is_some());
    let twice = consume(a.id.clone(), dev).await;
    assert_eq!(twice.status(), 409);
    assert!(twice.text().await.unwrap().contains("already used"));
    assert_eq!(consume("SA-nope".into(), dev).await.status(), 404);
    let bad = serde_json::json!({"device_id": dev, "request_id": "s2", "seal": 1, "document_sha256": "xyz", "purpose": "p"});
    assert_eq!(
        client
            .post(format!("{url}/api/v1/seal-authorisations"))
            .json(&bad)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    centre.stop().await.unwrap();
}

#[test]
fn keygen_and_publish_put_a_verifiable_document_in_the_centre() {
    let served = Served::start();
    let url = format!("http://127.0.0.1:{}", served.port);
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_kiosk-central");
    for alg in ["ed25519", "sm2"] {
        let key = dir.path().join(format!("{alg}.key"));
        let out = std::process::Command::new(bin)
            .args(["keygen", "--algorithm", alg, "--out"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let public: kiosk_protocol::signing::PublicKey =
            printed["public_key"].as_str().unwrap().parse().unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A second keygen never overwrites a key.
        let again = std::process::Command::new(bin)
            .args(["keygen", "--out"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(!again.status.success());

        let body = dir.path().join("catalogue.json");
        std::fs::write(
            &body,
            r#"{"services":[{"id":"social","name":"社保业务","prefix":"A"}]}"#,
        )
        .unwrap();
        let version = if alg == "sm2" { "2" } else { "1" };
        let out = std::process::Command::new(bin)
            .args([
                "publish",
                "--url",
                &url,
                "--kind",
                "catalogue",
                "--version",
                version,
                "--key",
            ])
            .arg(&key)
            .arg(&body)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: kiosk_protocol::signing::SignedDocument =
            reqwest::blocking::get(format!("{url}/api/v1/devices/KSK-1/documents/catalogue"))
                .unwrap()
                .json()
                .unwrap();
        assert_eq!(doc.version.to_string(), version);
        doc.verify(&[public]).unwrap();
    }
    // Publishing an old version again is refused by the centre.
    let out = std::process::Command::new(bin)
        .args([
            "publish",
            "--url",
            &url,
            "--kind",
            "catalogue",
            "--version",
            "1",
            "--key",
        ])
        .arg(dir.path().join("ed25519.key"))
        .arg(dir.path().join("catalogue.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("409"));
    served.stop();
}

/// The sample hall catalogue in config/ (hall, queue, service items with guides, situation
/// trees, forms and materials, rating tags) goes out as a hall would send it: signed offline
/// and published with the CLI; terminals get it back byte for byte in meaning.
#[test]
fn the_sample_hall_catalogue_is_published_with_the_cli() {
    let served = Served::start();
    let url = format!("http://127.0.0.1:{}", served.port);
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_kiosk-central");
    let key = dir.path().join("publisher.key");
    let out = std::process::Command::new(bin)
        .args(["keygen", "--algorithm", "sm2", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let public: kiosk_protocol::signing::PublicKey =
        printed["public_key"].as_str().unwrap().parse().unwrap();
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hall-catalogue.json");
    let out = std::process::Command::new(bin)
        .args([
            "publish",
            "--url",
            &url,
            "--kind",
            "catalogue",
            "--version",
            "1",
            "--key",
        ])
        .arg(&key)
        .arg(&sample)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: kiosk_protocol::signing::SignedDocument =
        reqwest::blocking::get(format!("{url}/api/v1/devices/KSK-7/documents/catalogue"))
            .unwrap()
            .json()
            .unwrap();
    doc.verify(&[public]).unwrap();
    let want: serde_json::Value = serde_json::from_slice(&std::fs::read(&sample).unwrap()).unwrap();
    assert_eq!(doc.body, want);
    assert!(doc.body["items"].as_array().unwrap().len() >= 6);
    served.stop();
}

#[test]
fn enrol_code_prints_a_code_that_enrols_its_terminal_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk-central"))
        .args(["enrol-code", "--device", "KSK-9", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let code = v["code"].as_str().unwrap();
    assert_eq!(code.len(), 16);
    let store = SqliteStore::open(&db).unwrap();
    let sha = kiosk_central::store::code_sha256(code);
    let now = chrono::Utc::now();
    assert_eq!(
        store
            .enrol_with_code("KSK-9", &sha, "ed25519:00", now)
            .unwrap(),
        Ok(())
    );
    assert!(store
        .enrol_with_code("KSK-9", &sha, "ed25519:00", now)
        .unwrap()
        .is_err());
}

#[test]
fn tls_init_and_serve_over_https_with_the_hall_ca() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_kiosk-central");
    let pki = dir.path().join("pki");
    let out = std::process::Command::new(bin)
        .args(["tls-init", "--hall", "kunshan", "--dir"])
        .arg(&pki)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(dir.path().join("c.db"))
        .arg("--tls-cert")
        .arg(pki.join("server.pem"))
        .arg("--tls-key")
        .arg(pki.join("server.key"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("https://"), "{line}");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.join("ca.pem")).unwrap()).unwrap();
    let client = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let body = client
        .get(format!("https://localhost:{port}/health"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    // A publisher reaches the https centre through the hall CA, and only through it.
    let key = dir.path().join("pub.key");
    let made = std::process::Command::new(bin)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(made.status.success());
    let doc = dir.path().join("catalogue.json");
    std::fs::write(
        &doc,
        br#"{"hall": {"id": "ks", "name": {"zh-CN": "\u6606\u5c71"}}}"#,
    )
    .unwrap();
    let publish = |ca: Option<&std::path::Path>, version: &str| {
        let mut c = std::process::Command::new(bin);
        c.args([
            "publish",
            "--url",
            &format!("https://localhost:{port}"),
            "--kind",
            "catalogue",
            "--version",
            version,
            "--key",
        ])
        .arg(&key);
        if let Some(ca) = ca {
            c.arg("--ca").arg(ca);
        }
        c.arg(&doc).output().unwrap()
    };
    let out = publish(Some(&pki.join("ca.pem")), "1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = publish(None, "2");
    assert!(!out.status.success(), "published without the hall CA");
    // Plain HTTP to the TLS port gets nowhere.
    let plain = reqwest::blocking::get(format!("http://127.0.0.1:{port}/health"));
    assert!(!plain.map(|r| r.status().is_success()).unwrap_or(false));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn loadgen_without_a_centre_fails_and_publish_gives_up_on_a_silent_one() {
    let bin = env!("CARGO_BIN_EXE_kiosk-central");
    // Nothing listens here: every request fails, so the load test must say so.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = std::process::Command::new(bin)
        .args([
            "loadgen",
            "--url",
            &format!("http://{dead}"),
            "--devices",
            "2",
            "--events",
            "10",
            "--heartbeats",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a load test with only failures exited 0"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("requests failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A centre that accepts the connection and never answers: publish gives up after its
    // timeout instead of hanging.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    assert!(std::process::Command::new(bin)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap()
        .status
        .success());
    let doc = dir.path().join("d.json");
    std::fs::write(&doc, b"{}").unwrap();
    let t = std::time::Instant::now();
    let out = std::process::Command::new(bin)
        .args([
            "publish",
            "--url",
            &format!("http://{addr}"),
            "--kind",
            "config",
            "--version",
            "1",
            "--timeout",
            "2",
            "--key",
        ])
        .arg(&key)
        .arg(&doc)
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Bounds a hang, not a speed: far below the 60 s it would otherwise wait at least.
    assert!(
        t.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        t.elapsed()
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("publishing to"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(silent);
}

#[tokio::test]
async fn cases_over_http_and_a_department_moving_one_with_the_cli() {
    use kiosk_protocol::cases::{holder_sha256, password_sha256, Case, CaseStatus, Pickup};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let centre = CentreHandle::start("127.0.0.1:0", SqliteStore::open(&db).unwrap())
        .await
        .unwrap();
    let url = centre.base_url();
    let client = reqwest::Client::new();
    let salt = "0123456789abcdef";
    let filing = serde_json::json!({
        "device_id": "KSK-1", "local_ref": "KSK-1-20261203-AB12", "item": "huji-zhengming",
        "item_name": "户籍证明", "holder_sha256": holder_sha256("11010519491231002X"),
        "password_salt": salt, "password_sha256": password_sha256(salt, "482913"),
        "pickup": Pickup::Mail, "submitted_at": "2026-12-03T09:00:00+08:00",
    });
    let resp = client
        .post(format!("{url}/api/v1/cases"))
        .json(&filing)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let case: Case = resp.json().await.unwrap();
    assert_eq!(case.case_number.len(), 14);
    assert!(case.case_number.bytes().all(|b| b.is_ascii_digit()));

    let look = |password: &str| {
        client
            .post(format!("{url}/api/v1/cases/lookup"))
            .json(&serde_json::json!({ "reference": case.case_number, "password": password }))
            .send()
    };
    assert_eq!(look("000000").await.unwrap().status(), 404);
    assert_eq!(look("482913").await.unwrap().status(), 200);
    let bad_holder = client
        .get(format!("{url}/api/v1/holders/11010519491231002X/cases"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad_holder.status(),
        400,
        "a plain ID number is not a holder key"
    );
    let mine: Vec<Case> = client
        .get(format!(
            "{url}/api/v1/holders/{}/cases",
            holder_sha256("11010519491231002X")
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);

    let bin = env!("CARGO_BIN_EXE_kiosk-central");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(["case", "--db"])
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    let moved = run(&["move", &case.case_number, "accepted", "--comment", "已受理"]);
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    let skipped = run(&["move", &case.case_number, "completed"]);
    assert!(!skipped.status.success());
    assert!(String::from_utf8_lossy(&skipped.stderr).contains("cannot become completed"));
    let listed = run(&["list", "--status", "accepted"]);
    let line = String::from_utf8_lossy(&listed.stdout);
    assert!(line.contains(&case.case_number), "{line}");
    let now: Case = look("482913").await.unwrap().json().await.unwrap();
    assert_eq!(now.status, CaseStatus::Accepted);
    assert_eq!(now.log[1].comment, "已受理");
    centre.stop().await.unwrap();
}
