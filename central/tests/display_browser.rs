//! The hall display page in a real headless Chromium (Debian's, driven by playwright-core):
//! it needs its token, shows the windows, the waiting counts under the catalogue's service
//! names, a banner and a flash for each new call, and keeps a recall out of the history twice.
//! It prints the browser-measured time from a call to the page showing it.
//! `HALLKIT_SHOTS=DIR` keeps the screenshots.

use std::path::{Path, PathBuf};

use kiosk_central::queue::{BuiltinQueue, QueueEngine, QueueRules};
use kiosk_central::{CentreHandle, SqliteStore, Store};
use kiosk_protocol::queue::WindowCommand;
use kiosk_protocol::signing::{Algorithm, DocumentKind, SignedDocument, SigningKey};

mod common;
use common::printed_tickets;

const HALL: &str = "kunshan-zwfw";

fn node_modules() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
    cache.join("hallkit/browser-tests-1/node_modules")
}

/// A hall with the sample catalogue published, three windows open, and tickets printed.
fn hall(db: &Path) -> Store {
    let store = Store::from(SqliteStore::open(db).unwrap());
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalogue: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(here.join("../config/hall-catalogue.json")).unwrap(),
    )
    .unwrap();
    let key = SigningKey::generate(Algorithm::Ed25519);
    store
        .publish_document(&SignedDocument::sign(
            DocumentKind::Catalogue,
            "all",
            1,
            catalogue,
            &key,
        ))
        .unwrap()
        .unwrap();
    let q = BuiltinQueue::new(store.clone(), QueueRules::default());
    for (w, services) in [("1", "huji"), ("2", "huji"), ("3", "churujing")] {
        q.set_window(HALL, w, &[services.to_string()]).unwrap();
        q.command(
            HALL,
            w,
            &WindowCommand::Login {
                staff: format!("S00{w}"),
            },
        )
        .unwrap()
        .unwrap();
    }
    printed_tickets(&store, HALL, "huji", "A", 10, 1);
    printed_tickets(&store, HALL, "churujing", "B", 6, 11);
    store
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hall_display_follows_calls_in_a_real_browser() {
    assert!(
        node_modules().join("playwright-core").exists() && Path::new("/usr/bin/chromium").exists(),
        "run scripts/setup-debian.sh: it installs Debian's chromium and playwright-core"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = hall(&dir.path().join("c.db"));
    let token = store.create_display_token(HALL).unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store).await.unwrap();
    let shots = std::env::var_os("HALLKIT_SHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    std::fs::create_dir_all(&shots).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/display/display.cjs");
    let (base, shots_dir) = (centre.base_url(), shots.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(&script)
            .args([&base, HALL, &token])
            .arg(&shots_dir)
            .arg("9")
            .env("NODE_PATH", node_modules())
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    centre.stop().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed:\n{stderr}");
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));

    assert_eq!(seen["refused_status"], 403, "a display without the token");
    assert_eq!(seen["status"], 200);
    let waiting: Vec<String> = serde_json::from_value(seen["waiting_before"].clone()).unwrap();
    assert!(
        waiting.contains(&"A 户籍业务10人".to_string())
            && waiting.contains(&"B 出入境业务6人".to_string())
            && waiting.contains(&"C 社保业务0人".to_string()),
        "waiting counts under the catalogue's names: {waiting:?}"
    );
    let banner = seen["first_banner"].as_str().unwrap();
    assert!(
        banner.contains("请 A001 号 到 1 号窗口办理")
            && banner.contains("Ticket A001, please go to window 1"),
        "{banner}"
    );
    assert_eq!(
        seen["flashing"],
        serde_json::json!(["1"]),
        "the called window flashes"
    );
    // Nine calls over three windows: windows 1 and 2 took A001…A006, window 3 B001…B003.
    let recalled = seen["recalled"].as_str().unwrap();
    let recent: Vec<String> = serde_json::from_value(seen["recent"].clone()).unwrap();
    assert_eq!(recent.first().map(String::as_str), Some(recalled));
    let mut unique = recent.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        recent.len(),
        "a recall is not doubled: {recent:?}"
    );
    assert_eq!(recent.len(), 8, "the last eight calls");
    assert_eq!(seen["windows"]["1"], recalled);
    assert_eq!(seen["windows"]["3"], "B003");
    assert!(
        seen["last_banner"].as_str().unwrap().contains(recalled),
        "the banner shows the newest call"
    );
    let after: Vec<String> = serde_json::from_value(seen["waiting_after"].clone()).unwrap();
    assert!(
        after.contains(&"A 户籍业务4人".to_string())
            && after.contains(&"B 出入境业务3人".to_string()),
        "the counts follow the calls: {after:?}"
    );
    for shot in ["display-idle.png", "display-call.png", "display-recall.png"] {
        assert!(
            shots.join(shot).metadata().unwrap().len() > 10_000,
            "{shot}"
        );
    }
    let mut ms: Vec<f64> = serde_json::from_value(seen["latencies_ms"].clone()).unwrap();
    assert_eq!(ms.len(), 9);
    ms.sort_by(f64::total_cmp);
    println!(
        "call → display in the browser: median {:.1} ms, p99 {:.1} ms over {} calls (make bench has more)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.len()
    );
}
