//! The outbox on its own, with the centre's store, and over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use kiosk_central::{CentreHandle, SqliteStore};
use kiosk_hal::clock::{ManualClock, SystemClock};
use kiosk_protocol::wire::{IngestBatch, IngestResult, Rejection};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::centre::sync::SyncClient;
use crate::centre::CentreClient;
use crate::journal::Journal;

fn open(dir: &Path) -> Outbox {
    Outbox::open(&dir.join("outbox.db"), "KSK-1", SystemClock::shared()).unwrap()
}

#[test]
fn business_write_and_event_commit_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = open(dir.path());
    ob.conn
        .execute_batch("CREATE TABLE applications (case_no TEXT PRIMARY KEY)")
        .unwrap();
    let ((), events) = ob
        .transaction(|tx| {
            tx.conn()
                .execute("INSERT INTO applications VALUES ('KS-0001')", [])?;
            tx.enqueue("application.submitted", json!({"case": "KS-0001"}))?;
            Ok(())
        })
        .unwrap();
    assert_eq!(events[0].seq, 1);
    // A failure after the event was queued rolls both back and does not consume a sequence.
    let err = ob.transaction(|tx| {
        tx.enqueue("application.submitted", json!({"case": "KS-0001"}))?;
        tx.conn()
            .execute("INSERT INTO applications VALUES ('KS-0001')", [])?;
        Ok(())
    });
    assert!(err.is_err());
    assert_eq!(ob.next_seq().unwrap(), 2);
    assert_eq!(ob.counts().unwrap().pending, 1);
    let n: i64 = ob
        .conn
        .query_row("SELECT COUNT(*) FROM applications", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn sequences_survive_restart_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 1, 0, 0).unwrap();
    let clock = ManualClock::starting_at(t0);
    let path = dir.path().join("outbox.db");
    let mut ob = Outbox::open(&path, "KSK-1", Arc::new(clock.clone())).unwrap();
    for i in 0..5 {
        ob.enqueue("e", json!({ "i": i })).unwrap();
    }
    let batch = ob.next_batch(10).unwrap();
    ob.mark_sent(&[1, 2, 3]).unwrap();
    assert_eq!(
        batch.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    drop(ob);
    // Sent but unanswered before the stop: pending again after it.
    let mut ob = Outbox::open(&path, "KSK-1", Arc::new(clock.clone())).unwrap();
    assert_eq!(
        ob.counts().unwrap(),
        OutboxCounts {
            pending: 5,
            ..Default::default()
        }
    );
    ob.apply(&IngestResult {
        accepted: vec![1, 2, 3, 4, 5],
        next_expected: 6,
        ..Default::default()
    })
    .unwrap();
    clock.advance(Duration::from_secs(8 * 86_400));
    assert_eq!(ob.compact(chrono::Duration::days(7)).unwrap(), 5);
    assert_eq!(
        ob.enqueue("e", json!({})).unwrap().seq,
        6,
        "a compacted sequence is never reused"
    );
}

#[test]
fn refusals_are_dead_lettered_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = open(dir.path());
    ob.enqueue("a", json!(1)).unwrap();
    ob.enqueue("b", json!(2)).unwrap();
    ob.apply(&IngestResult {
        accepted: vec![1],
        rejected: vec![Rejection {
            seq: 2,
            reason: "conflict: sequence 2 was already applied".into(),
        }],
        next_expected: 3,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        ob.counts().unwrap(),
        OutboxCounts {
            acknowledged: 1,
            dead: 1,
            ..Default::default()
        }
    );
    let dead = ob.dead_letters().unwrap();
    assert_eq!((dead[0].seq, dead[0].kind.as_str()), (2, "b"));
    assert!(dead[0].reason.contains("conflict"));
    assert!(
        ob.next_batch(10).unwrap().is_empty(),
        "a dead letter is not retried forever"
    );
}

#[test]
fn a_full_disk_refuses_new_transactions_and_keeps_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut ob = open(dir.path());
    let pages: i64 = ob
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    ob.set_max_pages(pages as u64 + 4).unwrap();
    let big = "x".repeat(2000);
    let mut stored = 0;
    let err = loop {
        match ob.enqueue("big", json!({ "blob": big })) {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 1000, "the size cap did not apply");
    };
    assert!(matches!(err, OutboxError::DiskFull), "{err}");
    assert!(err.to_string().contains("storage is full"));
    assert_eq!(ob.counts().unwrap().pending, stored);
    assert_eq!(ob.next_batch(10_000).unwrap().len() as u64, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drains_over_http_exactly_once_even_when_acks_are_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store.clone())
        .await
        .unwrap();
    let outbox = Journal::new(open(dir.path()));
    for i in 0..250 {
        outbox
            .lock()
            .enqueue("ticket.issued", json!({ "n": i, "service": "社保" }))
            .unwrap();
    }
    let client = SyncClient::new(
        CentreClient::plain(&centre.base_url(), "KSK-1").unwrap(),
        100,
    );
    let r = client.drain(&outbox).await.unwrap();
    assert_eq!((r.batches, r.accepted, r.duplicates), (3, 250, 0));
    assert_eq!(
        store.event_seqs("KSK-1").unwrap(),
        (1..=250).collect::<Vec<_>>()
    );
    assert_eq!(outbox.lock().counts().unwrap().acknowledged, 250);

    // The answer to the last batch was lost: those events go out again and are only
    // acknowledged, not applied twice.
    outbox
        .lock()
        .conn
        .execute("UPDATE outbox SET state = 'pending' WHERE seq > 200", [])
        .unwrap();
    let r = client.drain(&outbox).await.unwrap();
    assert_eq!((r.accepted, r.duplicates), (0, 50));
    assert_eq!(store.event_seqs("KSK-1").unwrap().len(), 250);

    // The centre goes away: the batch stays pending and nothing is lost.
    outbox
        .lock()
        .enqueue("ticket.issued", json!({ "n": 250 }))
        .unwrap();
    centre.stop().await.unwrap();
    assert!(matches!(
        client.drain(&outbox).await,
        Err(crate::centre::sync::SyncError::Centre(
            crate::centre::CentreError::Unreachable(_)
        ))
    ));
    assert_eq!(outbox.lock().counts().unwrap().pending, 1);
}

#[derive(Debug, Clone)]
enum Op {
    Enqueue(u8),
    /// Upload up to n events; the centre applies them; the reply may be lost.
    Upload {
        n: u8,
        lose_reply: bool,
    },
    /// The process dies and starts again.
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u8..5).prop_map(Op::Enqueue),
        3 => (1u8..8, any::<bool>()).prop_map(|(n, lose_reply)| Op::Upload { n, lose_reply }),
        1 => Just(Op::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Against a model: whatever mix of enqueues, uploads, lost replies and crashes, every
    /// committed event reaches the centre exactly once, in sequence, with nothing invented.
    #[test]
    fn outbox_and_centre_agree_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("centre.db")).unwrap();
        let mut ob = open(dir.path());
        let mut committed: Vec<u64> = Vec::new();
        let upload = |ob: &mut Outbox, n: usize, lose: bool| {
            let batch = ob.next_batch(n).unwrap();
            let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
            ob.mark_sent(&seqs).unwrap();
            let r = store.ingest("KSK-1", &IngestBatch { events: batch }, "t").unwrap();
            if !lose {
                ob.apply(&r).unwrap();
                ob.requeue_sent().unwrap();
            }
            r
        };
        for op in ops {
            match op {
                Op::Enqueue(k) => {
                    for _ in 0..k {
                        committed.push(ob.enqueue("e", json!({ "k": committed.len() })).unwrap().seq);
                    }
                }
                Op::Upload { n, lose_reply } => {
                    let r = upload(&mut ob, n as usize, lose_reply);
                    prop_assert!(r.rejected.is_empty(), "{:?}", r.rejected);
                }
                Op::Crash => {
                    drop(ob);
                    ob = open(dir.path());
                }
            }
            // The centre never holds an event the device did not commit.
            for s in store.event_seqs("KSK-1").unwrap() {
                prop_assert!(committed.contains(&s));
            }
        }
        while ob.counts().unwrap().pending + ob.counts().unwrap().sent > 0 {
            upload(&mut ob, 100, false);
        }
        prop_assert_eq!(store.event_seqs("KSK-1").unwrap(), committed.clone());
        let expected: Vec<u64> = (1..=committed.len() as u64).collect();
        prop_assert_eq!(committed, expected);
        prop_assert_eq!(ob.counts().unwrap().dead, 0);
    }
}

/// Days offline: tens of thousands of events queue up under a manual clock while the centre
/// is unreachable, then the link comes back and the backlog drains in order, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_offline_then_reconnect_and_drain() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap();
    let clock = ManualClock::starting_at(t0);
    let outbox = Journal::new(
        Outbox::open(
            &dir.path().join("ob.db"),
            "KSK-OFF",
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    // Nothing listens here: the port was free a moment ago and is closed again.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let offline = SyncClient::new(
        CentreClient::plain(&format!("http://{dead}"), "KSK-OFF").unwrap(),
        500,
    );
    let days = 5;
    let per_day = 6_000;
    for day in 0..days {
        {
            let mut ob = outbox.lock();
            for chunk in 0..(per_day / 500) {
                ob.transaction(|tx| {
                    for i in 0..500 {
                        tx.enqueue("ticket.issued", json!({ "day": day, "n": chunk * 500 + i }))?;
                    }
                    Ok(())
                })
                .unwrap();
            }
        }
        // The terminal keeps trying through the day and keeps failing; nothing is lost.
        assert!(offline.drain(&outbox).await.is_err());
        clock.advance(Duration::from_secs(86_400));
    }
    let total = (days * per_day) as u64;
    assert_eq!(outbox.lock().counts().unwrap().pending, total);
    // Compaction during the outage removes nothing: nothing was acknowledged.
    assert_eq!(outbox.lock().compact(chrono::Duration::days(1)).unwrap(), 0);

    let store = SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store.clone())
        .await
        .unwrap();
    let online = SyncClient::new(
        CentreClient::plain(&centre.base_url(), "KSK-OFF").unwrap(),
        1000,
    );
    let r = online.drain(&outbox).await.unwrap();
    assert_eq!((r.accepted, r.duplicates, r.rejected), (total, 0, 0));
    let seqs = store.event_seqs("KSK-OFF").unwrap();
    assert_eq!(seqs.len() as u64, total);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    // A week after acknowledgement the audit window has passed and the rows go.
    clock.advance(Duration::from_secs(8 * 86_400));
    assert_eq!(
        outbox.lock().compact(chrono::Duration::days(7)).unwrap() as u64,
        total
    );
    centre.stop().await.unwrap();
}

#[test]
fn unconfirmed_outputs_are_closed_as_interrupted_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let at = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 2, 0, 0).unwrap();
    {
        let mut ob = open(dir.path());
        let init = |c| {
            serde_json::to_value(kiosk_protocol::Event::action_init(
                "receipt",
                "print-ticket",
                c,
                at,
            ))
            .unwrap()
        };
        ob.enqueue("device.action.init", init(7)).unwrap();
        let done = kiosk_protocol::Event::action_complete(
            "receipt",
            "print-ticket",
            7,
            kiosk_protocol::Disposition::Success,
            at,
        );
        ob.enqueue(
            "device.action.complete",
            serde_json::to_value(done).unwrap(),
        )
        .unwrap();
        // The process dies after sending the next ticket to the printer.
        ob.enqueue("device.action.init", init(8)).unwrap();
    }
    let mut ob = open(dir.path());
    assert_eq!(
        ob.unfinished_actions().unwrap(),
        vec![(8, "receipt".to_string(), "print-ticket".to_string())]
    );
    assert_eq!(ob.reconcile_interrupted().unwrap(), 1);
    assert!(ob.unfinished_actions().unwrap().is_empty());
    let last = ob.next_batch(10).unwrap().pop().unwrap();
    assert_eq!(last.kind, "device.action.complete");
    assert_eq!(last.payload["disposition"]["code"], "interrupted");
    assert_eq!(
        ob.reconcile_interrupted().unwrap(),
        0,
        "reconciling twice adds nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_upload_resumably_before_their_events() {
    use crate::journal::attachments::AttachmentStore;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("centre/c.db")).unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store.clone())
        .await
        .unwrap();
    let files = AttachmentStore::open(&dir.path().join("att")).unwrap();
    // A 1.1 MB "scan": five chunks.
    let scan: Vec<u8> = (0..1_100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let r = files.put(&scan, "image/jpeg").unwrap();
    assert_eq!(
        files.put(&scan, "image/jpeg").unwrap(),
        r,
        "the same bytes are stored once"
    );

    // The hall link dropped after the first chunk of an earlier attempt.
    let first = files
        .read_chunk(&r.sha256, 0, crate::centre::sync::CHUNK)
        .unwrap();
    let partial = store
        .put_attachment_chunk(&r.sha256, r.size, 0, &first)
        .unwrap();
    // A chunk at the wrong offset is refused with where to resume.
    let resp = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/attachments/{}?offset=0&size={}",
            centre.base_url(),
            r.sha256,
            r.size
        ))
        .body(first.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["received"], crate::centre::sync::CHUNK as u64);
    assert_eq!(
        (partial.received, partial.complete),
        (crate::centre::sync::CHUNK as u64, false)
    );

    let outbox = Journal::new(open(dir.path()));
    outbox
        .lock()
        .enqueue(
            "application.materials",
            json!({ "case": "KS-0002", "attachments": [r.clone()] }),
        )
        .unwrap();
    let client = SyncClient::new(
        CentreClient::plain(&centre.base_url(), "KSK-1").unwrap(),
        10,
    )
    .with_attachments(AttachmentStore::open(&dir.path().join("att")).unwrap());
    let report = client.drain(&outbox).await.unwrap();
    assert_eq!((report.attachments, report.accepted), (1, 1));
    let done = store.attachment_status(&r.sha256).unwrap().unwrap();
    assert!(done.complete && done.received == r.size);
    let held = std::fs::read(dir.path().join("centre/attachments").join(&r.sha256)).unwrap();
    assert_eq!(held, scan);
    // Sent again (a lost acknowledgement): nothing is uploaded twice.
    assert_eq!(
        client
            .upload_attachment(&AttachmentStore::open(&dir.path().join("att")).unwrap(), &r)
            .await
            .unwrap(),
        0
    );

    // Bytes that do not hash to the announced value are refused and the upload starts over.
    let fake = "0".repeat(64);
    let err = store.put_attachment_chunk(&fake, 3, 0, b"abc").unwrap_err();
    assert!(
        matches!(err, kiosk_central::AttachmentError::HashMismatch),
        "{err}"
    );
    assert_eq!(store.attachment_status(&fake).unwrap().unwrap().received, 0);
    assert!(matches!(
        store.put_attachment_chunk("XYZ", 3, 0, b"abc"),
        Err(kiosk_central::AttachmentError::BadHash(_))
    ));
    assert!(matches!(
        store.put_attachment_chunk(&fake, 3, 2, b"a"),
        Err(kiosk_central::AttachmentError::Offset {
            received: 0,
            given: 2
        })
    ));
    centre.stop().await.unwrap();
}

#[test]
fn personal_data_is_purged_after_acknowledgement_and_retention() {
    use crate::journal::attachments::AttachmentStore;
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 1, 0, 0).unwrap();
    let clock = ManualClock::starting_at(t0);
    let mut ob = Outbox::open(&dir.path().join("ob.db"), "KSK-1", Arc::new(clock.clone())).unwrap();
    let files = AttachmentStore::open(&dir.path().join("att")).unwrap();
    let card = files.put(b"front of an ID card", "image/jpeg").unwrap();
    let shared = files.put(b"a form used twice", "image/jpeg").unwrap();
    ob.enqueue(
        "application.submitted",
        json!({ "name": "张三丰", "attachments": [card, shared.clone()] }),
    )
    .unwrap();
    ob.enqueue(
        "application.submitted",
        json!({ "name": "李四", "attachments": [shared.clone()] }),
    )
    .unwrap();
    ob.enqueue("application.submitted", json!({ "name": "王五" }))
        .unwrap();
    ob.apply(&IngestResult {
        accepted: vec![1, 2],
        next_expected: 3,
        ..Default::default()
    })
    .unwrap();
    // Within retention nothing goes.
    assert_eq!(
        ob.purge_personal_data(chrono::Duration::days(30), Some(&files))
            .unwrap(),
        (0, 0)
    );
    clock.advance(Duration::from_secs(31 * 86_400));
    // Event 3 was never acknowledged: it keeps everything. Event 2 still needs `shared`... no:
    // both acknowledged events are purged, so both attachments go.
    let before = ob.next_batch(10).unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(
        ob.purge_personal_data(chrono::Duration::days(30), Some(&files))
            .unwrap(),
        (2, 2)
    );
    assert!(!files.path(&card.sha256).exists() && !files.path(&shared.sha256).exists());
    let kept: String = ob
        .conn
        .query_row("SELECT payload FROM outbox WHERE seq = 3", [], |r| r.get(0))
        .unwrap();
    assert!(kept.contains("王五"));
    let gone: String = ob
        .conn
        .query_row("SELECT payload FROM outbox WHERE seq = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(gone, r#"{"purged":true}"#);
    // The audit trail keeps sequence, kind and hash.
    let (kind, hash): (String, String) = ob
        .conn
        .query_row(
            "SELECT kind, payload_sha256 FROM outbox WHERE seq = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((kind.as_str(), hash.len()), ("application.submitted", 64));
    assert_eq!(
        ob.purge_personal_data(chrono::Duration::days(30), Some(&files))
            .unwrap(),
        (0, 0)
    );
}
