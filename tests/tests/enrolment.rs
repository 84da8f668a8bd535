//! Device identity end to end: a one-time code, a key pair made on the terminal, and a centre
//! that serves only enrolled terminals whose every request is signed (Ed25519 and SM2).

use std::sync::Arc;

use kiosk_app::centre::identity::DeviceIdentity;
use kiosk_app::centre::sync::SyncClient;
use kiosk_app::centre::CentreClient;
use kiosk_app::journal::{Journal, Outbox};
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
                ..Default::default()
            },
        ))
        .unwrap();
    let base = centre.base_url();
    let outbox = |name: &str, device: &str| {
        let ob = Outbox::open(&dir.path().join(name), device, SystemClock::shared()).unwrap();
        let ob = Journal::new(ob);
        ob.lock().enqueue("e", serde_json::json!({"n": 1})).unwrap();
        ob
    };

    // Not enrolled: refused.
    let unsigned = CentreClient::plain(&base, "KSK-A").unwrap();
    let plain = SyncClient::new(unsigned.clone(), 10);
    let err = tokio
        .block_on(plain.drain(&outbox("a0.db", "KSK-A")))
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    // Enrolment: a wrong code, the right code, and the right code again.
    let a = Arc::new(
        DeviceIdentity::create(&dir.path().join("a.key"), "KSK-A", Algorithm::Ed25519).unwrap(),
    );
    let e = tokio
        .block_on(a.enrol(&unsigned, "WRONG0000000000"))
        .unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
    let e = tokio
        .block_on(a.enrol(&unsigned, "KSK-B's code is not KSK-A's"))
        .unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
    let enrolled = tokio
        .block_on(a.enrol(&unsigned, "abcd2345efgh6789"))
        .unwrap();
    assert_eq!(enrolled.key_id, a.public_key().key_id());
    let e = tokio
        .block_on(a.enrol(&unsigned, "ABCD2345EFGH6789"))
        .unwrap_err();
    assert!(e.to_string().contains("409"), "a code works once: {e}");

    // Signed by the enrolled key: served. Unsigned, or signed by another key: refused.
    let ob = outbox("a.db", "KSK-A");
    let signed = SyncClient::new(
        CentreClient::plain(&base, "KSK-A")
            .unwrap()
            .with_identity(a.clone()),
        10,
    );
    let r = tokio.block_on(signed.drain(&ob)).unwrap();
    assert_eq!(r.accepted, 1);
    let err = tokio
        .block_on(plain.drain(&outbox("a1.db", "KSK-A")))
        .unwrap_err();
    assert!(err.to_string().contains("must be signed"), "{err}");
    let impostor = Arc::new(
        DeviceIdentity::create(&dir.path().join("x.key"), "KSK-A", Algorithm::Ed25519).unwrap(),
    );
    let forged = SyncClient::new(
        CentreClient::plain(&base, "KSK-A")
            .unwrap()
            .with_identity(impostor),
        10,
    );
    let err = tokio
        .block_on(forged.drain(&outbox("a2.db", "KSK-A")))
        .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    assert_eq!(store.event_seqs("KSK-A").unwrap(), vec![1]);

    // The national algorithm enrols and signs the same way; a key file is never overwritten.
    let b = Arc::new(
        DeviceIdentity::create(&dir.path().join("b.key"), "KSK-B", Algorithm::Sm2).unwrap(),
    );
    tokio
        .block_on(b.enrol(
            &CentreClient::plain(&base, "KSK-B").unwrap(),
            "WXYZ2345MNPQ6789",
        ))
        .unwrap();
    let sm2 = SyncClient::new(
        CentreClient::plain(&base, "KSK-B")
            .unwrap()
            .with_identity(b),
        10,
    );
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
    let files =
        kiosk_app::journal::attachments::AttachmentStore::open(&dir.path().join("files")).unwrap();
    let scan = files.put(b"a scanned page", "image/jpeg").unwrap();
    let ob = outbox("a3.db", "KSK-A");
    ob.lock()
        .enqueue(
            "application.submitted",
            serde_json::json!({"attachments": [scan]}),
        )
        .unwrap();
    let with_files = SyncClient::new(
        CentreClient::plain(&base, "KSK-A")
            .unwrap()
            .with_identity(a.clone()),
        10,
    )
    .with_attachments(files);
    let r = tokio.block_on(with_files.drain(&ob)).unwrap();
    assert_eq!(r.attachments, 1);
    let req = kiosk_protocol::wire::TicketRequest {
        device_id: "KSK-A".into(),
        request_id: "t1".into(),
        prefix: "A".into(),
        appointment: None,
        holder: None,
        age: None,
    };
    let e = tokio
        .block_on(unsigned.issue_ticket("kunshan", "social", &req))
        .unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");
    let signed_api = unsigned.clone().with_identity(a.clone());
    assert_eq!(
        tokio
            .block_on(signed_api.issue_ticket("kunshan", "social", &req))
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
