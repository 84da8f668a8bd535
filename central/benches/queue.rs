//! The hall queue under load (printed, never asserted): 50 windows calling the next ticket at
//! once over loopback HTTP, SQLite and PostgreSQL side by side — each call-next timed from the
//! request to the answer; then, in Debian's Chromium, the time from a call to the display page
//! showing it.
//!
//!     cargo bench -p kiosk-central --bench queue

use std::path::{Path, PathBuf};
use std::time::Instant;

use kiosk_central::pgserver::PgServer;
use kiosk_central::queue::{BuiltinQueue, QueueEngine, QueueRules};
use kiosk_central::{CentreHandle, SqliteStore, Store};
use kiosk_protocol::queue::WindowCommand;
use kiosk_protocol::wire::{payload_sha256, EventEnvelope, IngestBatch, TicketRequest};
use serde_json::json;

const HALL: &str = "kunshan-zwfw";
const WINDOWS: usize = 50;
const TICKETS: u32 = 1500;

/// Windows open and `n` printed tickets of `service` waiting.
fn fill(store: &Store, service: &str, prefix: &str, n: u32, windows: usize) {
    let q = BuiltinQueue::new(store.clone(), QueueRules::default());
    for w in 1..=windows {
        q.set_window(HALL, &w.to_string(), &[service.to_string()])
            .expect("window");
        q.command(
            HALL,
            &w.to_string(),
            &WindowCommand::Login {
                staff: format!("S{w:03}"),
            },
        )
        .expect("store")
        .expect("login");
    }
    let day = kiosk_central::queue::today();
    let mut events = Vec::new();
    for i in 0..n {
        let req = TicketRequest {
            device_id: "KSK-BENCH".into(),
            request_id: format!("{service}-{i}"),
            prefix: prefix.into(),
            appointment: None,
            holder: None,
            age: None,
        };
        let t = store
            .issue_ticket(HALL, service, &day, &req, &[])
            .expect("store")
            .expect("ticket");
        let payload = json!({"outcome": "printed", "ticket": {"hall": HALL, "service": service, "day": day, "number": t.number}});
        events.push(EventEnvelope {
            device_id: "KSK-BENCH".into(),
            seq: u64::from(i) + 1,
            uuid: format!("u{service}{i}"),
            kind: "output.result".into(),
            created_at: chrono::Utc::now(),
            payload_sha256: payload_sha256(&payload),
            payload,
        });
    }
    for chunk in events.chunks(500) {
        store
            .ingest(
                "KSK-BENCH",
                &IngestBatch {
                    events: chunk.to_vec(),
                },
                "bench",
            )
            .expect("ingest");
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn call_next_under_load(name: &str, store: Store) {
    fill(&store, "huji", "A", TICKETS, WINDOWS);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (mut ms, wall) = rt.block_on(async {
        let centre = CentreHandle::start("127.0.0.1:0", store)
            .await
            .expect("centre");
        let base = centre.base_url();
        let http = reqwest::Client::new();
        let started = Instant::now();
        let windows: Vec<_> = (1..=WINDOWS)
            .map(|w| {
                let (http, base) = (http.clone(), base.clone());
                tokio::spawn(async move {
                    let url = format!("{base}/api/v1/halls/{HALL}/queue/windows/{w}/commands");
                    let mut times = Vec::new();
                    loop {
                        let t0 = Instant::now();
                        let r = http
                            .post(&url)
                            .json(&json!({"command": "call-next"}))
                            .send()
                            .await
                            .expect("call");
                        let status = r.status();
                        let _ = r.bytes().await;
                        if status == 409 {
                            return times;
                        }
                        assert!(status.is_success(), "call-next: {status}");
                        times.push(t0.elapsed().as_secs_f64() * 1000.0);
                        let r = http
                            .post(&url)
                            .json(&json!({"command": "finish"}))
                            .send()
                            .await
                            .expect("finish");
                        assert!(r.status().is_success());
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in windows {
            all.extend(w.await.expect("window"));
        }
        let wall = started.elapsed().as_secs_f64();
        centre.stop().await.expect("stop");
        (all, wall)
    });
    ms.sort_by(f64::total_cmp);
    println!(
        "{name:<10} call-next with {WINDOWS} windows at once: {} calls, median {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.0} calls/s",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0),
        ms.len() as f64 / wall
    );
}

fn node_modules() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache"));
    cache.join("hallkit/browser-tests-1/node_modules")
}

fn call_to_display(dir: &Path) {
    if !node_modules().join("playwright-core").exists() {
        println!("display    not measured: run scripts/setup-debian.sh (playwright-core)");
        return;
    }
    let store = Store::from(SqliteStore::open(&dir.join("display.db")).expect("sqlite"));
    fill(&store, "huji", "A", 200, 3);
    let token = store.create_display_token(HALL).expect("token");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let centre = rt
        .block_on(CentreHandle::start("127.0.0.1:0", store))
        .expect("centre");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/display/display.cjs");
    let out = std::process::Command::new("node")
        .arg(script)
        .args([&centre.base_url(), HALL, &token])
        .arg(dir)
        .arg("150")
        .env("NODE_PATH", node_modules())
        .output()
        .expect("node");
    rt.block_on(centre.stop()).expect("stop");
    if !out.status.success() {
        println!(
            "display    not measured: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut ms: Vec<f64> = serde_json::from_value(seen["latencies_ms"].clone()).expect("latencies");
    ms.sort_by(f64::total_cmp);
    println!(
        "display    call → shown on the hall display (Chromium, measured in the page): {} calls, median {:.1} ms, p99 {:.1} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99)
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    println!("{TICKETS} printed tickets waiting; each of {WINDOWS} windows calls next and finishes until none are left");
    let sqlite = SqliteStore::open(&dir.path().join("centre.db")).expect("sqlite");
    call_next_under_load("sqlite", sqlite.into());
    match PgServer::start(&dir.path().join("pg")) {
        Ok(pg) => {
            let url = pg.database().expect("database");
            call_next_under_load("postgres", Store::open(&url).expect("postgres store"));
        }
        Err(e) => println!("postgres   not measured: {e}"),
    }
    call_to_display(dir.path());
}
