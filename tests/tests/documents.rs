//! Signed configuration and catalogue from publisher to terminal through the centre: applied
//! when signed by a pinned key (Ed25519 or SM2) and newer; refused, once, otherwise.

use kiosk_app::centre::documents::{DocumentError, DocumentSync, Fetched};
use kiosk_app::centre::CentreClient;
use kiosk_app::journal::{Journal, Outbox};
use kiosk_hal::clock::SystemClock;
use kiosk_protocol::signing::{Algorithm, DocumentKind, SignedDocument, SigningKey};
use serde_json::json;

const DEVICE: &str = "KSK-320583-0001";

fn publish(base: &str, doc: &SignedDocument) -> u16 {
    reqwest::blocking::Client::new()
        .put(format!("{base}/api/v1/documents"))
        .json(doc)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn only_newer_documents_signed_by_a_pinned_key_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let store = kiosk_central::SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = tokio
        .block_on(kiosk_central::CentreHandle::start("127.0.0.1:0", store))
        .unwrap();
    let base = centre.base_url();
    let publisher = SigningKey::generate(Algorithm::Ed25519);
    let national = SigningKey::generate(Algorithm::Sm2);
    let stranger = SigningKey::generate(Algorithm::Ed25519);
    let outbox = Journal::new(
        Outbox::open(&dir.path().join("outbox.db"), DEVICE, SystemClock::shared()).unwrap(),
    );
    let sync = DocumentSync::new(
        CentreClient::plain(&base, DEVICE).unwrap(),
        vec![publisher.public_key(), national.public_key()],
        outbox.clone(),
    );
    let fetch = |kind| tokio.block_on(sync.fetch(kind));
    let in_force = |kind| outbox.lock().document(kind).unwrap().map(|d| d.version);
    let config = |v: u64, key: &SigningKey| {
        SignedDocument::sign(
            DocumentKind::Config,
            "all",
            v,
            json!({"fault_phone": format!("0512-5555-{v:04}")}),
            key,
        )
    };

    assert_eq!(fetch(DocumentKind::Config).unwrap(), Fetched::Current(None));
    assert_eq!(publish(&base, &config(1, &publisher)), 201);
    assert_eq!(fetch(DocumentKind::Config).unwrap(), Fetched::Applied(1));
    assert_eq!(in_force(DocumentKind::Config), Some(1));
    assert_eq!(
        fetch(DocumentKind::Config).unwrap(),
        Fetched::Current(Some(1))
    );

    // Signed by a key this terminal does not pin: refused, version 1 stays in force.
    assert_eq!(publish(&base, &config(2, &stranger)), 201);
    match fetch(DocumentKind::Config) {
        Err(DocumentError::Refused {
            version: 2, reason, ..
        }) => {
            assert!(reason.contains("does not trust"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(in_force(DocumentKind::Config), Some(1));

    // Changed on the way (the body no longer matches the signature): refused.
    let mut forged = config(3, &publisher);
    forged.body["fault_phone"] = json!("110");
    assert_eq!(publish(&base, &forged), 201);
    match fetch(DocumentKind::Config) {
        Err(DocumentError::Refused {
            version: 3, reason, ..
        }) => {
            assert!(reason.contains("does not match"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Asked again, the same bad document is refused again but reported once.
    assert!(fetch(DocumentKind::Config).is_err());
    let refusals = outbox
        .lock()
        .events_like("security.document.rejected", 100)
        .unwrap();
    assert_eq!(refusals.len(), 2, "one event per refused version");

    // The national algorithm in the same slot: an SM2-signed version 4 is applied.
    assert_eq!(publish(&base, &config(4, &national)), 201);
    assert_eq!(fetch(DocumentKind::Config).unwrap(), Fetched::Applied(4));
    let doc = outbox
        .lock()
        .document(DocumentKind::Config)
        .unwrap()
        .unwrap();
    assert_eq!(
        (doc.algorithm, doc.body["fault_phone"].as_str()),
        (Algorithm::Sm2, Some("0512-5555-0004"))
    );

    // The centre refuses a version that is not newer; a catalogue for another terminal never
    // reaches this one.
    assert_eq!(publish(&base, &config(4, &publisher)), 409);
    let other = SignedDocument::sign(
        DocumentKind::Catalogue,
        "KSK-OTHER",
        1,
        json!({"services": []}),
        &publisher,
    );
    assert_eq!(publish(&base, &other), 201);
    assert_eq!(
        fetch(DocumentKind::Catalogue).unwrap(),
        Fetched::Current(None)
    );
    let ours = SignedDocument::sign(
        DocumentKind::Catalogue,
        DEVICE,
        2,
        json!({"services": [{"id": "social", "name": "社保业务", "prefix": "A"}]}),
        &publisher,
    );
    assert_eq!(publish(&base, &ours), 201);
    assert_eq!(fetch(DocumentKind::Catalogue).unwrap(), Fetched::Applied(2));
    let applied = outbox
        .lock()
        .events_like("system.document.applied", 100)
        .unwrap();
    assert_eq!(applied.len(), 3);

    tokio.block_on(centre.stop()).unwrap();
}

/// The e-ID key pool travels like every document: published signed, fetched, verified against
/// the pinned publisher key, then used offline: with the centre stopped, a code from a pool
/// issuer is accepted and a forged one refused.
#[test]
fn an_eid_key_pool_arrives_signed_and_checks_codes_with_the_centre_gone() {
    use kiosk_app::services::eid::{self, CodeIssuer, EidError, KeyPool, Pool, ReplayGuard};
    let dir = tempfile::tempdir().unwrap();
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let store = kiosk_central::SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = tokio
        .block_on(kiosk_central::CentreHandle::start("127.0.0.1:0", store))
        .unwrap();
    let base = centre.base_url();
    let publisher = SigningKey::generate(Algorithm::Sm2);
    let outbox = Journal::new(
        Outbox::open(&dir.path().join("outbox.db"), DEVICE, SystemClock::shared()).unwrap(),
    );
    let sync = DocumentSync::new(
        CentreClient::plain(&base, DEVICE).unwrap(),
        vec![publisher.public_key()],
        outbox.clone(),
    );
    let issuer = CodeIssuer {
        id: "js-ctid".into(),
        key: SigningKey::generate(Algorithm::Sm2),
    };
    let now = chrono::Utc::now();
    let pool = KeyPool {
        issuers: vec![issuer.entry(
            "江苏省网上身份认证平台",
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(365),
        )],
        max_code_life_s: 120,
    };
    let doc = SignedDocument::sign(
        DocumentKind::EidKeys,
        "all",
        1,
        serde_json::to_value(&pool).unwrap(),
        &publisher,
    );
    assert_eq!(publish(&base, &doc), 201);
    assert_eq!(
        tokio.block_on(sync.fetch(DocumentKind::EidKeys)).unwrap(),
        Fetched::Applied(1)
    );
    tokio.block_on(centre.stop()).unwrap();

    let pool = Pool::in_force(&outbox).unwrap().expect("pool in force");
    assert_eq!(pool.issuer_count(), 1);
    let mut guard = ReplayGuard::default();
    let code = issuer.issue(
        "王五",
        "11010519491231002X",
        now.timestamp(),
        60,
        "a1b2c3d4e5",
    );
    let who = eid::verify(&code, Some(&pool), now, &mut guard).unwrap();
    assert_eq!(
        who.masked_number(),
        kiosk_hal::privacy::mask_id_number("11010519491231002X")
    );
    let stranger = CodeIssuer {
        id: "js-ctid".into(),
        key: SigningKey::generate(Algorithm::Ed25519),
    };
    let forged = stranger.issue(
        "王五",
        "11010519491231002X",
        now.timestamp(),
        60,
        "f0f0f0f0f0",
    );
    assert_eq!(
        eid::verify(&forged, Some(&pool), now, &mut guard),
        Err(EidError::Forged)
    );
}
