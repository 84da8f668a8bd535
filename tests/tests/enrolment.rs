//! Device identity end to end: a one-time code, a key pair made on the terminal, and a centre
//! that serves only enrolled terminals whose every request is signed (Ed25519 and SM2).

use std::sync::{Arc, Mutex};

use kiosk_app::identity::DeviceIdentity;
use kiosk_app::outbox::Outbox;
use kiosk_app::sync::SyncClient;
use kiosk_central::{CentreHandle, CentreOptions, SqliteStore, Store};
use kiosk_hal::clock::SystemClock;
use kiosk_protocol::signing::Algorithm;

#[test]
fn only_enrolled_terminals_with_signed_requests_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let store = Store::from(SqliteStore::open(&dir.path().join("centre.db")).unwrap());
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    for (device, code) in [("KSK-A", "ABCD2345EFGH6789"), ("KSK-B", "WXYZ2345MNPQ6789")] {
        store
            .create_enrolment_code(device, &kiosk_central::store::code_sha256(code), expires)
            .unwrap();
    }
    let centre = tokio
        .block_on(CentreHandle::start_with(
            "127.0.0.1:0",
            store.clone(),
            CentreOptions {
                require_enrolment: true,
            },
        ))
        .unwrap();
    let base = centre.base_url();
    let outbox = |name: &str, device: &str| {
        let ob = Outbox::open(&dir.path().join(name), device, SystemClock::shared()).unwrap();
        let ob = Arc::new(Mutex::new(ob));
        ob.lock()
            .unwrap()
            .enqueue("e", serde_json::json!({"n": 1}))
            .unwrap();
        ob
    };

    // Not enrolled: refused.
    let plain = SyncClient::new(&base, "KSK-A", 10).unwrap();
    let err = tokio
        .block_on(plain.drain(&outbox("a0.db", "KSK-A")))
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    // Enrolment: a wrong code, the right code, and the right code again.
    let a = Arc::new(
        DeviceIdentity::create(&dir.path().join("a.key"), "KSK-A", Algorithm::Ed25519).unwrap(),
    );
    let e = tokio
        .block_on(a.enrol(&base, "WRONG0000000000"))
        .unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
    let e = tokio
        .block_on(a.enrol(&base, "KSK-B's code is not KSK-A's"))
        .unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
    let enrolled = tokio.block_on(a.enrol(&base, "abcd2345efgh6789")).unwrap();
    assert_eq!(enrolled.key_id, a.public_key().key_id());
    let e = tokio
        .block_on(a.enrol(&base, "ABCD2345EFGH6789"))
        .unwrap_err();
    assert!(e.to_string().contains("409"), "a code works once: {e}");

    // Signed by the enrolled key: served. Unsigned, or signed by another key: refused.
    let ob = outbox("a.db", "KSK-A");
    let signed = SyncClient::new(&base, "KSK-A", 10)
        .unwrap()
        .with_identity(a.clone());
    let r = tokio.block_on(signed.drain(&ob)).unwrap();
    assert_eq!(r.accepted, 1);
    let err = tokio
        .block_on(plain.drain(&outbox("a1.db", "KSK-A")))
        .unwrap_err();
    assert!(err.to_string().contains("must be signed"), "{err}");
    let impostor = Arc::new(
        DeviceIdentity::create(&dir.path().join("x.key"), "KSK-A", Algorithm::Ed25519).unwrap(),
    );
    let forged = SyncClient::new(&base, "KSK-A", 10)
        .unwrap()
        .with_identity(impostor);
    let err = tokio
        .block_on(forged.drain(&outbox("a2.db", "KSK-A")))
        .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    assert_eq!(store.event_seqs("KSK-A").unwrap(), vec![1]);

    // The national algorithm enrols and signs the same way; a key file is never overwritten.
    let b = Arc::new(
        DeviceIdentity::create(&dir.path().join("b.key"), "KSK-B", Algorithm::Sm2).unwrap(),
    );
    tokio.block_on(b.enrol(&base, "WXYZ2345MNPQ6789")).unwrap();
    let sm2 = SyncClient::new(&base, "KSK-B", 10)
        .unwrap()
        .with_identity(b);
    assert_eq!(
        tokio
            .block_on(sm2.drain(&outbox("b.db", "KSK-B")))
            .unwrap()
            .accepted,
        1
    );
    assert!(DeviceIdentity::create(&dir.path().join("b.key"), "KSK-B", Algorithm::Sm2).is_err());
    let reloaded = DeviceIdentity::load(&dir.path().join("b.key"), "KSK-B")
        .unwrap()
        .unwrap();
    assert_eq!(reloaded.public_key().algorithm, Algorithm::Sm2);

    // Attachments, tickets and seal authorisations are signed too.
    let files = kiosk_app::attachments::AttachmentStore::open(&dir.path().join("files")).unwrap();
    let scan = files.put(b"a scanned page", "image/jpeg").unwrap();
    let ob = outbox("a3.db", "KSK-A");
    ob.lock()
        .unwrap()
        .enqueue(
            "application.submitted",
            serde_json::json!({"attachments": [scan]}),
        )
        .unwrap();
    let with_files = SyncClient::new(&base, "KSK-A", 10)
        .unwrap()
        .with_identity(a.clone())
        .with_attachments(files);
    let r = tokio.block_on(with_files.drain(&ob)).unwrap();
    assert_eq!(r.attachments, 1);
    let req = kiosk_protocol::wire::TicketRequest {
        device_id: "KSK-A".into(),
        request_id: "t1".into(),
        prefix: "A".into(),
    };
    let unsigned = kiosk_app::outputs::CentreApi::new(&base).unwrap();
    let e = unsigned
        .issue_ticket("kunshan", "social", &req)
        .unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");
    let signed_api = kiosk_app::outputs::CentreApi::new(&base)
        .unwrap()
        .with_identity(a.clone());
    assert_eq!(
        signed_api
            .issue_ticket("kunshan", "social", &req)
            .unwrap()
            .number,
        "A001"
    );

    // A replayed request (its time too old) is refused.
    let url = format!("{base}/api/v1/devices/KSK-A/commands/pending");
    let mut headers = a.headers("GET", &url, b"");
    headers[1].1 = (chrono::Utc::now().timestamp() - 3600).to_string();
    let mut req = reqwest::blocking::Client::new().get(&url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.text().unwrap().contains("request time"));

    tokio.block_on(centre.stop()).unwrap();
}
