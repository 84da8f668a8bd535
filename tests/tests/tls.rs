//! TLS with a pinned CA: the terminal reaches an https centre whose certificate its hall's CA
//! signed, and refuses one whose certificate another CA signed — even a CA the terminal would
//! otherwise know nothing against.

use std::time::Duration;

use kiosk_app::centre::sync::SyncClient;
use kiosk_app::centre::tls::PinnedCa;
use kiosk_app::centre::CentreClient;
use kiosk_app::journal::{Journal, Outbox};
use kiosk_central::{CentreHandle, CentreOptions, SqliteStore};
use kiosk_hal::clock::SystemClock;

fn centre(
    tokio: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    bundle: &kiosk_central::tls::TlsBundle,
) -> CentreHandle {
    let store = SqliteStore::open(&dir.join("centre.db")).unwrap();
    let config = kiosk_central::tls::server_config(
        bundle.server_cert.as_bytes(),
        bundle.server_key.as_bytes(),
    )
    .unwrap();
    tokio
        .block_on(async {
            CentreHandle::start_tls("127.0.0.1:0", store, CentreOptions::default(), config).await
        })
        .unwrap()
}

#[test]
fn a_terminal_trusts_its_pinned_ca_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let hall = kiosk_central::tls::make_bundle("kunshan", &hosts).unwrap();
    let rogue = kiosk_central::tls::make_bundle("rogue", &hosts).unwrap();
    hall.write(&dir.path().join("pki")).unwrap();
    let genuine = centre(&tokio, &dir.path().join("a"), &hall);
    let impostor = centre(&tokio, &dir.path().join("b"), &rogue);
    assert!(genuine.base_url().starts_with("https://"));

    let ca = PinnedCa::load(&dir.path().join("pki/ca.pem")).unwrap();
    let pinned = |base: &str| {
        SyncClient::new(
            CentreClient::new(base, "KSK-T", Some(&ca), Duration::from_secs(10)).unwrap(),
            10,
        )
    };
    let outbox = Journal::new(
        Outbox::open(&dir.path().join("ob.db"), "KSK-T", SystemClock::shared()).unwrap(),
    );
    outbox
        .lock()
        .enqueue("e", serde_json::json!({"n": 1}))
        .unwrap();

    let to_impostor = pinned(&impostor.base_url());
    let err = tokio.block_on(to_impostor.drain(&outbox)).unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate")
            || err.to_string().contains("error sending request"),
        "{err}"
    );
    assert_eq!(
        outbox.lock().counts().unwrap().pending,
        1,
        "nothing went to the impostor"
    );

    let to_centre = pinned(&genuine.base_url());
    assert_eq!(
        tokio.block_on(to_centre.drain(&outbox)).unwrap().accepted,
        1
    );

    // Without the pin the hall CA is unknown, and the real centre is refused too: the roots
    // the terminal trusts are exactly the pinned one. The pin belongs to the client: another
    // client in the same process is not affected by it.
    outbox
        .lock()
        .enqueue("e", serde_json::json!({"n": 2}))
        .unwrap();
    let unpinned = SyncClient::new(
        CentreClient::plain(&genuine.base_url(), "KSK-T").unwrap(),
        10,
    );
    assert!(tokio.block_on(unpinned.drain(&outbox)).is_err());
    assert!(PinnedCa::from_pem(b"not a certificate".to_vec()).is_err());
    assert!(PinnedCa::load(&dir.path().join("pki/missing.pem"))
        .unwrap_err()
        .to_string()
        .contains("missing.pem"));

    tokio.block_on(genuine.stop()).unwrap();
    tokio.block_on(impostor.stop()).unwrap();
}
