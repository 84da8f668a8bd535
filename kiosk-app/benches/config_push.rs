//! Publish → in force: how long a signed configuration takes to reach a running terminal
//! through the centre's long poll (the tenders ask for 5 s). Printed, never asserted; the
//! poll interval is a minute, so every figure is the push path's.
//!
//!     cargo bench --profile dev -p kiosk-app --bench config_push

use std::path::Path;
use std::time::{Duration, Instant};

use kiosk_app::terminal::Terminal;
use kiosk_app::{Config, Profile};
use kiosk_hal::clock::SystemClock;
use kiosk_protocol::signing::{Algorithm, DocumentKind, SignedDocument, SigningKey};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg =
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kiosk.sim.toml"))
            .unwrap();
    cfg.terminal.data_dir = dir.path().to_path_buf();
    cfg.devices.retain(|d| d.driver != "pcsc");
    if let Some(g) = cfg.gateway.as_mut() {
        g.port = 0;
    }
    let publisher = SigningKey::generate(Algorithm::Ed25519);
    cfg.centre
        .publisher_keys
        .push(publisher.public_key().to_string());
    cfg.centre.command_interval_s = 60;
    let terminal = Terminal::start(cfg, Profile::Sim, SystemClock::shared()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    std::thread::sleep(Duration::from_secs(2));
    let mut took = Vec::new();
    for version in 1..=30u64 {
        let doc = SignedDocument::sign(
            DocumentKind::Config,
            "all",
            version,
            serde_json::json!({ "fault_phone": format!("0512-5555-{version:04}") }),
            &publisher,
        );
        let published = Instant::now();
        let put = rt
            .block_on(
                client
                    .put(format!("{}/api/v1/documents", terminal.centre.base()))
                    .json(&doc)
                    .send(),
            )
            .unwrap();
        assert_eq!(put.status(), 201);
        let deadline = published + Duration::from_secs(60);
        loop {
            let v = terminal
                .journal
                .lock()
                .document(DocumentKind::Config)
                .ok()
                .flatten()
                .map(|d| d.version);
            if v == Some(version) {
                break;
            }
            if Instant::now() > deadline {
                println!("version {version} never arrived");
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        took.push(published.elapsed());
        // Spread the publishes over the long poll's life.
        std::thread::sleep(Duration::from_millis(300));
    }
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "config publish → in force, {} publishes (poll interval 60 s, long poll 25 s): median {:.1} ms, p95 {:.1} ms, slowest {:.1} ms; goal 5000 ms",
        took.len(),
        ms(took[took.len() / 2]),
        ms(took[(took.len() - 1) * 95 / 100]),
        ms(took[took.len() - 1]),
    );
    terminal.stop();
}
