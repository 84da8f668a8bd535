//! Outbox and ingest benchmarks (printed, never asserted):
//! durable enqueue latency (one business transaction each, WAL + synchronous=FULL),
//! and the drain of a 50,000-event backlog to a centre over loopback HTTP.
//!
//!     cargo bench -p kiosk-app --bench outbox

use std::time::{Duration, Instant};

use kiosk_app::centre::sync::SyncClient;
use kiosk_app::centre::CentreClient;
use kiosk_app::journal::{Journal, Outbox};
use kiosk_central::{CentreHandle, SqliteStore};
use kiosk_hal::clock::SystemClock;
use serde_json::json;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");

    // Durable enqueue: each event its own committed transaction, as a citizen's "submit" is.
    let mut ob = Outbox::open(
        &dir.path().join("latency.db"),
        "KSK-BENCH",
        SystemClock::shared(),
    )
    .expect("outbox");
    let n = 2000;
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        ob.enqueue(
            "application.submitted",
            json!({ "case": format!("KS{i:08}"), "items": ["身份证", "户口簿"] }),
        )
        .expect("enqueue");
        lat.push(t.elapsed());
    }
    let total = start.elapsed();
    lat.sort();
    println!(
        "durable enqueue (WAL, synchronous=FULL, 1 event/transaction): p50 {:.2} ms, p99 {:.2} ms, {:.0} events/s over {n}",
        pct(&lat, 0.5).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        n as f64 / total.as_secs_f64()
    );

    // A 50,000-event backlog (days offline), drained to the centre over HTTP.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = SqliteStore::open(&dir.path().join("centre.db")).expect("store");
    let centre = rt
        .block_on(CentreHandle::start("127.0.0.1:0", store.clone()))
        .expect("centre");
    let backlog = Journal::new(
        Outbox::open(
            &dir.path().join("backlog.db"),
            "KSK-BACKLOG",
            SystemClock::shared(),
        )
        .expect("outbox"),
    );
    // One event in a hundred carries a scanned page (a distinct 64 KiB image), as a day of
    // applications with material scans would.
    let files =
        kiosk_app::journal::attachments::AttachmentStore::open(&dir.path().join("attachments"))
            .expect("attachments");
    let mut attached_bytes = 0usize;
    {
        let mut b = backlog.lock();
        for chunk in 0..100 {
            let mut refs = Vec::new();
            for k in 0..5u32 {
                let page: Vec<u8> = (0..65_536u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) ^ (chunk * 5 + k)) as u8)
                    .collect();
                attached_bytes += page.len();
                refs.push(files.put(&page, "image/jpeg").expect("attachment"));
            }
            b.transaction(|tx| {
                for i in 0..500 {
                    let mut payload =
                        json!({ "n": chunk * 500 + i, "service": "不动产登记", "window": 12 });
                    if i % 100 == 0 {
                        payload["attachments"] = json!([refs[(i / 100) as usize]]);
                    }
                    tx.enqueue("application.submitted", payload)?;
                }
                Ok(())
            })
            .expect("backlog");
        }
    }
    let client = SyncClient::new(
        CentreClient::plain(&centre.base_url(), "KSK-BACKLOG").expect("client"),
        500,
    )
    .with_attachments(files);
    let t = Instant::now();
    let report = rt.block_on(client.drain(&backlog)).expect("drain");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "drain of a 50,000-event backlog with {} attachments ({:.1} MiB) over loopback HTTP, 500 per batch: {:.1} s, {:.0} events/s ({} batches, {} accepted, {} attachments uploaded; centre ingest included)",
        report.attachments,
        attached_bytes as f64 / 1_048_576.0,
        secs,
        report.accepted as f64 / secs,
        report.batches,
        report.accepted,
        report.attachments
    );
    rt.block_on(centre.stop()).expect("stop");
}
