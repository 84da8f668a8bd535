//! A configuration reaches a terminal within 5 s of publishing (the tenders' 「5 秒内生效」):
//! the terminal holds a long poll open at the centre, which answers it the moment a document is
//! published. Measured against the clock with the poll interval set to a minute, so only the
//! push path can meet it; `cargo bench -p kiosk-app --bench config_push` reports the figures.

use std::time::{Duration, Instant};

use kiosk_app::terminal::Terminal;
use kiosk_app::Profile;
use kiosk_hal::clock::SystemClock;
use kiosk_protocol::signing::{Algorithm, DocumentKind, SignedDocument, SigningKey};
use serde_json::json;

#[test]
fn a_published_configuration_is_in_force_within_five_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let publisher = SigningKey::generate(Algorithm::Ed25519);
    let mut cfg = kiosk_e2e::sample_config("kiosk.sim.toml", dir.path());
    cfg.centre
        .publisher_keys
        .push(publisher.public_key().to_string());
    // Polling alone would take up to a minute.
    cfg.centre.command_interval_s = 60;
    let terminal = Terminal::start(cfg, Profile::Sim, SystemClock::shared()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let in_force = |version: u64| {
        terminal
            .journal
            .lock()
            .document(DocumentKind::Config)
            .unwrap()
            .is_some_and(|d| d.version == version)
    };
    // Let the first fetch round and the first long poll settle.
    std::thread::sleep(Duration::from_secs(2));
    let mut took = Vec::new();
    for version in 1..=3u64 {
        let doc = SignedDocument::sign(
            DocumentKind::Config,
            "all",
            version,
            json!({ "fault_phone": format!("0512-5555-{version:04}") }),
            &publisher,
        );
        let published = Instant::now();
        let put = rt
            .block_on(
                reqwest::Client::new()
                    .put(format!("{}/api/v1/documents", terminal.centre.base()))
                    .json(&doc)
                    .send(),
            )
            .unwrap();
        assert_eq!(put.status(), 201);
        while !in_force(version) {
            assert!(
                published.elapsed() < Duration::from_secs(5),
                "version {version} not in force 5 s after publishing"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        took.push(published.elapsed());
    }
    eprintln!("publish → in force: {took:?}");
    terminal.stop();
}
