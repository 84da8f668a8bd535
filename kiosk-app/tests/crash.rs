//! The kill -9 harness: a child writer is killed at random points, again and again; every event
//! it reported committed reaches the centre exactly once, the sequence has no holes, and the
//! outbox database stays intact. Rounds: $HALLKIT_KILL_RUNS (default 200).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiosk_central::{CentreHandle, SqliteStore};

fn writer(db: &std::path::Path, centre: &str, events: u64) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["outbox-stress", "--db"])
        .arg(db)
        .args([
            "--device",
            "KSK-CRASH",
            "--centre",
            centre,
            "--events",
            &events.to_string(),
        ])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_duplicates_nothing() {
    let runs: u32 = std::env::var("HALLKIT_KILL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = rt
        .block_on(CentreHandle::start("127.0.0.1:0", store.clone()))
        .unwrap();
    let url = centre.base_url();

    let mut reported: Vec<u64> = Vec::new();
    let mut lcg: u64 = 0x5EED_1234;
    let mut killed_mid_stream = 0;
    for _ in 0..runs {
        lcg = lcg
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // Kill after seeing 0..40 commits, so deaths land before, during and after uploads.
        let after = (lcg >> 33) % 40;
        let mut child = writer(&db, &url, 1_000_000);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < after {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Ok(seq) = l.trim().parse::<u64>() {
                        reported.push(seq);
                        seen += 1;
                    }
                }
                _ => break,
            }
        }
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        child.wait().unwrap();
        if seen > 0 {
            killed_mid_stream += 1;
        }
    }
    // A last, unkilled run drains whatever is still queued.
    let mut last = writer(&db, &url, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while last.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "final drain hung");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(last.wait().unwrap().success());

    let at_centre = store.event_seqs("KSK-CRASH").unwrap();
    let max = *at_centre.last().expect("no events reached the centre");
    assert_eq!(
        at_centre,
        (1..=max).collect::<Vec<_>>(),
        "holes or disorder at the centre"
    );
    let mut sorted = reported.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        reported.len(),
        "a sequence number was handed out twice"
    );
    for s in &reported {
        assert!(
            at_centre.binary_search(s).is_ok(),
            "committed event {s} never reached the centre"
        );
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let (pending, acked): (i64, i64) = conn
        .query_row(
            "SELECT SUM(state IN ('pending','sent')), SUM(state = 'acknowledged') FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((pending, acked as u64), (0, max));
    println!(
        "kill -9 harness: {runs} kills ({killed_mid_stream} mid-stream), {} commits reported, {max} events at the centre exactly once",
        reported.len()
    );
    rt.block_on(centre.stop()).unwrap();
}
