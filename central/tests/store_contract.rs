//! One contract, two stores: every rule of the centre's storage checked against SQLite and
//! against a real PostgreSQL server started for this test binary.

use kiosk_central::store::ConsumeRefusal;
use kiosk_central::{AttachmentError, Store};
use kiosk_protocol::wire::{IngestBatch, SealAuthorisationRequest, TicketRequest, TicketState};
use serde_json::json;

mod common;
use common::{envelope, pg, stores};

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn batch(seqs: &[u64]) -> IngestBatch {
    IngestBatch {
        events: seqs
            .iter()
            .map(|&n| envelope("KSK-1", n, "test.event", json!({"n": n})))
            .collect(),
    }
}

#[test]
fn ingest_is_idempotent_detects_conflicts_and_gaps() {
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        let r = s.ingest("KSK-1", &batch(&[1, 2, 3]), "t").unwrap();
        assert_eq!(
            (r.accepted, r.next_expected, r.gaps.len()),
            (vec![1, 2, 3], 4, 0),
            "{k}"
        );
        let r = s.ingest("KSK-1", &batch(&[2, 3, 6, 7, 9]), "t").unwrap();
        assert_eq!(r.duplicates, vec![2, 3], "{k}");
        assert_eq!(r.accepted, vec![6, 7, 9], "{k}");
        assert_eq!(r.next_expected, 4, "{k}");
        assert_eq!(r.gaps, vec![(4, 5), (8, 8)], "{k}");
        let r = s.ingest("KSK-1", &batch(&[4, 5, 8]), "t").unwrap();
        assert_eq!((r.next_expected, r.gaps.len()), (10, 0), "{k}");
        let changed = envelope("KSK-1", 5, "test.event", json!({"n": "changed"}));
        let mut forged = envelope("KSK-1", 10, "test.event", json!({"n": 10}));
        forged.payload = json!({"n": 11});
        let other = envelope("KSK-2", 11, "test.event", json!({}));
        let r = s
            .ingest(
                "KSK-1",
                &IngestBatch {
                    events: vec![changed, forged, other],
                },
                "t",
            )
            .unwrap();
        assert_eq!(r.rejected.len(), 3, "{k}");
        assert!(
            r.rejected[0].reason.contains("conflict"),
            "{k}: {:?}",
            r.rejected
        );
        assert!(r.rejected[1].reason.contains("sha256"), "{k}");
        assert!(r.rejected[2].reason.contains("KSK-2"), "{k}");
        assert_eq!(
            s.event_seqs("KSK-1").unwrap(),
            (1..=9).collect::<Vec<_>>(),
            "{k}"
        );
    }
}

#[test]
fn tickets_count_per_hall_service_and_day_and_settle_from_print_results() {
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        let req = |id: &str, prefix: &str| TicketRequest {
            device_id: "KSK-1".into(),
            request_id: id.into(),
            prefix: prefix.into(),
            appointment: None,
            holder: None,
            age: None,
        };
        let day = "2026-11-22";
        let a1 = s
            .issue_ticket("kunshan", "social", day, &req("r1", "A"), &[])
            .unwrap()
            .unwrap();
        let a2 = s
            .issue_ticket("kunshan", "social", day, &req("r2", "A"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            (a1.number.as_str(), a2.number.as_str()),
            ("A001", "A002"),
            "{k}"
        );
        assert_eq!(
            s.issue_ticket("kunshan", "social", day, &req("r1", "A"), &[])
                .unwrap()
                .unwrap(),
            a1,
            "{k}: a retry gets the same ticket"
        );
        assert_eq!(
            s.issue_ticket("kunshan", "estate", day, &req("r3", "B"), &[])
                .unwrap()
                .unwrap()
                .number,
            "B001",
            "{k}"
        );
        assert_eq!(
            s.issue_ticket("kunshan", "social", "2026-11-23", &req("r5", "A"), &[])
                .unwrap()
                .unwrap()
                .number,
            "A001",
            "{k}: numbers restart daily"
        );

        let result = |seq: u64, t: &kiosk_protocol::wire::Ticket, outcome: &str| {
            envelope(
                "KSK-1",
                seq,
                "output.result",
                json!({"outcome": outcome, "ticket": {"hall": t.hall, "service": t.service, "day": t.day, "number": t.number}}),
            )
        };
        s.ingest(
            "KSK-1",
            &IngestBatch {
                events: vec![result(1, &a1, "printed"), result(2, &a2, "failed")],
            },
            "t",
        )
        .unwrap();
        let state = |n: &str| {
            s.ticket("kunshan", "social", day, n)
                .unwrap()
                .unwrap()
                .state
        };
        assert_eq!(state("A001"), TicketState::Printed, "{k}");
        assert_eq!(state("A002"), TicketState::Void, "{k}");
        // People ahead: earlier tickets of the service that day, void ones not counted.
        assert_eq!((a1.ahead, a2.ahead), (0, 1), "{k}");
        let a3 = s
            .issue_ticket("kunshan", "social", day, &req("r6", "A"), &[])
            .unwrap()
            .unwrap();
        assert_eq!((a3.number.as_str(), a3.ahead), ("A003", 1), "{k}");
        assert!(
            s.ticket("kunshan", "social", day, "A999")
                .unwrap()
                .is_none(),
            "{k}"
        );
    }
}

#[test]
fn an_appointment_checks_in_once_for_its_service_and_day() {
    use kiosk_central::store::TicketRefusal;
    use kiosk_protocol::wire::AppointmentRequest;
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        let book = |code: &str, service: &str, day: &str| {
            s.book_appointment(
                "kunshan",
                &AppointmentRequest {
                    code: code.into(),
                    service: service.into(),
                    day: day.into(),
                },
            )
            .unwrap()
        };
        let booked = book("YY20261122-0042", "social", "2026-11-22").unwrap();
        assert_eq!(booked.ticket, None, "{k}");
        // Booked again with the same details: fine; with others: refused.
        assert!(
            book("YY20261122-0042", "social", "2026-11-22").is_ok(),
            "{k}"
        );
        assert!(
            book("YY20261122-0042", "estate", "2026-11-22").is_err(),
            "{k}"
        );
        book("YY20261123-0001", "social", "2026-11-23").unwrap();
        let req = |id: &str, code: &str| TicketRequest {
            device_id: "KSK-1".into(),
            request_id: id.into(),
            prefix: "A".into(),
            appointment: Some(code.into()),
            holder: None,
            age: None,
        };
        let day = "2026-11-22";
        let t = s
            .issue_ticket("kunshan", "social", day, &req("a1", "YY20261122-0042"), &[])
            .unwrap()
            .unwrap();
        assert_eq!(t.appointment.as_deref(), Some("YY20261122-0042"), "{k}");
        assert_eq!(
            s.appointment("kunshan", "YY20261122-0042")
                .unwrap()
                .unwrap()
                .ticket
                .as_deref(),
            Some(t.number.as_str()),
            "{k}"
        );
        // The same request again (a lost answer) gets the same ticket; another request with
        // the same code is refused, naming the ticket.
        assert_eq!(
            s.issue_ticket("kunshan", "social", day, &req("a1", "YY20261122-0042"), &[])
                .unwrap()
                .unwrap(),
            t,
            "{k}"
        );
        assert_eq!(
            s.issue_ticket("kunshan", "social", day, &req("a2", "YY20261122-0042"), &[])
                .unwrap()
                .unwrap_err(),
            TicketRefusal::AppointmentUsed {
                code: "YY20261122-0042".into(),
                ticket: t.number.clone()
            },
            "{k}"
        );
        assert!(matches!(
            s.issue_ticket("kunshan", "social", day, &req("a3", "YY20261123-0001"), &[])
                .unwrap(),
            Err(TicketRefusal::AppointmentElsewhere { .. })
        ));
        assert!(matches!(
            s.issue_ticket("kunshan", "social", day, &req("a4", "YY20991231-9999"), &[])
                .unwrap(),
            Err(TicketRefusal::UnknownAppointment(_))
        ));
        // Another hall does not know this hall's bookings.
        assert!(s
            .appointment("taicang", "YY20261122-0042")
            .unwrap()
            .is_none());
    }
}

#[test]
fn concurrent_ticket_requests_get_distinct_numbers() {
    let (_d, stores) = stores();
    for s in &stores {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    (0..10)
                        .map(|i| {
                            let req = TicketRequest {
                                device_id: format!("KSK-{t}"),
                                request_id: format!("{t}-{i}"),
                                prefix: "A".into(),
                                appointment: None,
                                holder: None,
                                age: None,
                            };
                            s.issue_ticket("kunshan", "social", "2026-11-22", &req, &[])
                                .unwrap()
                                .unwrap()
                                .seq
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u32> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort();
        assert_eq!(all, (1..=80).collect::<Vec<_>>(), "{}", s.kind());
    }
}

#[test]
fn attachments_resume_and_verify_their_hash() {
    let (_d, stores) = stores();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = sha256_hex(&data);
    for s in &stores {
        let k = s.kind();
        let size = data.len() as u64;
        let st = s
            .put_attachment_chunk(&sha, size, 0, &data[..64_000])
            .unwrap();
        assert_eq!((st.received, st.complete), (64_000, false), "{k}");
        match s.put_attachment_chunk(&sha, size, 0, &data[..10]) {
            Err(AttachmentError::Offset {
                received: 64_000, ..
            }) => {}
            other => panic!("{k}: expected an offset error, got {other:?}"),
        }
        assert!(
            matches!(
                s.put_attachment_chunk(&sha, size + 1, 64_000, &data[64_000..]),
                Err(AttachmentError::SizeConflict { .. })
            ),
            "{k}"
        );
        let st = s
            .put_attachment_chunk(&sha, size, 64_000, &data[64_000..])
            .unwrap();
        assert!(st.complete, "{k}");
        assert_eq!(s.attachment_status(&sha).unwrap().unwrap(), st, "{k}");
        // A completed attachment sent again is a no-op.
        assert!(
            s.put_attachment_chunk(&sha, size, 0, &data)
                .unwrap()
                .complete,
            "{k}"
        );

        let wrong = sha256_hex(b"something else");
        assert!(
            matches!(
                s.put_attachment_chunk(&wrong, 4, 0, b"abcd"),
                Err(AttachmentError::HashMismatch)
            ),
            "{k}"
        );
        assert_eq!(
            s.attachment_status(&wrong).unwrap().unwrap().received,
            0,
            "{k}: starts over"
        );
        assert!(
            matches!(
                s.put_attachment_chunk("nothex", 4, 0, b"abcd"),
                Err(AttachmentError::BadHash(_))
            ),
            "{k}"
        );
    }
}

/// A terminal's sync loop and its "upload now" may send the same attachment at once; like
/// the client, each uploader resumes from the offset the store reports. The finished file
/// must still hash to its name.
#[test]
fn two_uploaders_of_one_attachment_finish_it_whole() {
    let (_d, stores) = stores();
    for (round, s) in stores.iter().enumerate() {
        let k = s.kind();
        for attempt in 0..8u32 {
            let data: Vec<u8> = (0..300_000u32)
                .map(|i| ((i * 13 + attempt * 31 + round as u32) % 253) as u8)
                .collect();
            let sha = sha256_hex(&data);
            let data = std::sync::Arc::new(data);
            let uploaders: Vec<_> = (0..3)
                .map(|_| {
                    let (s, data, sha) = (s.clone(), data.clone(), sha.clone());
                    std::thread::spawn(move || {
                        let size = data.len() as u64;
                        let mut offset = 0u64;
                        loop {
                            let end = (offset as usize + 7_000).min(data.len());
                            match s.put_attachment_chunk(
                                &sha,
                                size,
                                offset,
                                &data[offset as usize..end],
                            ) {
                                Ok(st) if st.complete => return Ok(()),
                                Ok(st) => offset = st.received,
                                Err(AttachmentError::Offset { received, .. }) => offset = received,
                                Err(e) => return Err(format!("{e:?}")),
                            }
                        }
                    })
                })
                .collect();
            for u in uploaders {
                assert_eq!(u.join().unwrap(), Ok(()), "{k}: attempt {attempt}");
            }
            assert!(s.attachment_status(&sha).unwrap().unwrap().complete, "{k}");
        }
    }
}

#[test]
fn seal_authorisations_are_used_once_by_their_terminal_in_time() {
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        let now = chrono::Utc::now();
        let req = |id: &str| SealAuthorisationRequest {
            device_id: "KSK-1".into(),
            request_id: id.into(),
            seal: 2,
            document_sha256: "ab".repeat(32),
            purpose: "application-receipt".into(),
        };
        let a = s
            .authorise_seal(&req("s1"), now, chrono::Duration::minutes(5))
            .unwrap();
        assert_eq!(
            s.authorise_seal(&req("s1"), now, chrono::Duration::minutes(5))
                .unwrap()
                .id,
            a.id,
            "{k}"
        );
        assert!(
            matches!(
                s.consume_seal(&a.id, "KSK-2", now).unwrap(),
                Err(ConsumeRefusal::OtherDevice(_))
            ),
            "{k}"
        );
        let used = s.consume_seal(&a.id, "KSK-1", now).unwrap().unwrap();
        assert!(used.consumed_at.is_some(), "{k}");
        assert!(
            matches!(
                s.consume_seal(&a.id, "KSK-1", now).unwrap(),
                Err(ConsumeRefusal::AlreadyUsed { .. })
            ),
            "{k}"
        );
        let late = s
            .authorise_seal(&req("s2"), now, chrono::Duration::minutes(5))
            .unwrap();
        assert!(
            matches!(
                s.consume_seal(&late.id, "KSK-1", now + chrono::Duration::minutes(6))
                    .unwrap(),
                Err(ConsumeRefusal::Expired { .. })
            ),
            "{k}"
        );
        assert!(
            matches!(
                s.consume_seal("SA-none", "KSK-1", now).unwrap(),
                Err(ConsumeRefusal::Unknown(_))
            ),
            "{k}"
        );
    }
}

#[test]
fn heartbeats_enrolment_and_schema() {
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        assert!(
            s.enrol_device("KSK-1", "2026-11-22T09:00:00Z").unwrap(),
            "{k}"
        );
        assert!(
            !s.enrol_device("KSK-1", "2026-11-22T10:00:00Z").unwrap(),
            "{k}"
        );
        assert_eq!(s.enrolled_devices().unwrap(), 1, "{k}");
        let hb: kiosk_protocol::wire::Heartbeat = serde_json::from_value(json!({
            "device_id": "KSK-1", "at": "2026-11-22T09:00:00Z", "peripherals": [],
            "queue_pending": 3, "queue_dead": 0, "counters": {}
        }))
        .unwrap();
        assert_eq!(s.record_heartbeat(&hb, "t").unwrap(), 1, "{k}");
        assert_eq!(s.record_heartbeat(&hb, "t").unwrap(), 2, "{k}");
        assert_eq!(
            s.latest_heartbeat("KSK-1").unwrap().unwrap().queue_pending,
            3,
            "{k}"
        );
        assert!(s.latest_heartbeat("KSK-9").unwrap().is_none(), "{k}");
        assert!(s.schema_version().unwrap() >= 1, "{k}");
    }
}

#[test]
fn two_centre_nodes_on_one_database_apply_each_event_once() {
    // Two stores on the same PostgreSQL database stand for two centre nodes behind a balancer.
    let url = pg().server.database().unwrap();
    let (a, b) = (Store::open(&url).unwrap(), Store::open(&url).unwrap());
    let threads: Vec<_> = [a, b]
        .into_iter()
        .map(|node| {
            std::thread::spawn(move || {
                // Each node gets every batch: a device that retried against the other node.
                for start in (1..=200u64).step_by(20) {
                    let seqs: Vec<u64> = (start..start + 20).collect();
                    node.ingest("KSK-1", &batch(&seqs), "t").unwrap();
                }
                node
            })
        })
        .collect();
    let nodes: Vec<Store> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        nodes[0].event_seqs("KSK-1").unwrap(),
        (1..=200).collect::<Vec<_>>()
    );
    let r = nodes[1].ingest("KSK-1", &batch(&[200]), "t").unwrap();
    assert_eq!((r.duplicates, r.next_expected), (vec![200], 201));
}

#[test]
fn a_centre_on_postgres_serves_http_and_takes_a_load() {
    let url = pg().server.database().unwrap();
    // The PostgreSQL client blocks on its own runtime: open it off the async executor, as the
    // server runs every store call through spawn_blocking.
    let store = Store::open(&url).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let centre = kiosk_central::CentreHandle::start("127.0.0.1:0", store)
            .await
            .unwrap();
        let base = centre.base_url();
        let h: kiosk_protocol::wire::CentreHealth = reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!((h.store.as_str(), h.schema_version), ("postgres", 9));
        let plan = kiosk_central::loadgen::LoadPlan {
            devices: 4,
            events: 500,
            batch: 100,
            heartbeats: 20,
        };
        let r = kiosk_central::loadgen::run(&base, plan).await.unwrap();
        assert_eq!((r.ingest.items, r.ingest.errors), (2000, 0), "{r:?}");
        assert_eq!((r.heartbeats.items, r.heartbeats.errors), (80, 0), "{r:?}");
        centre.stop().await.unwrap();
    });
}

#[test]
fn commands_are_delivered_until_acknowledged_once_and_expire() {
    use kiosk_central::store::AckRefusal;
    use kiosk_protocol::wire::{CommandAck, CommandRequest, CommandState, RemoteCommand};
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        let now = chrono::Utc::now();
        let req = |id: &str, expires_in_s: Option<u64>| CommandRequest {
            request_id: id.into(),
            command: RemoteCommand::DeviceAction {
                device: "receipt".into(),
                action: "print-test".into(),
                args: json!({}),
            },
            expires_in_s,
        };
        let c = s.queue_command("KSK-1", &req("c1", None), now).unwrap();
        assert_eq!(c.state, CommandState::Queued, "{k}");
        assert_eq!(
            s.queue_command("KSK-1", &req("c1", None), now).unwrap().id,
            c.id,
            "{k}: a retried request queues nothing new"
        );
        let short = s.queue_command("KSK-1", &req("c2", Some(10)), now).unwrap();
        s.queue_command("KSK-2", &req("c3", None), now).unwrap();

        let pending = s.pending_commands("KSK-1", now).unwrap();
        assert_eq!(
            pending.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![c.id, short.id],
            "{k}"
        );
        assert!(
            pending.iter().all(|c| c.state == CommandState::Delivered),
            "{k}"
        );
        // Not acknowledged yet: delivered again (the terminal may have lost the reply).
        assert_eq!(s.pending_commands("KSK-1", now).unwrap().len(), 2, "{k}");

        let ack = CommandAck {
            ok: true,
            result: json!({"outcome": "printed"}),
            detail: String::new(),
        };
        let done = s.ack_command("KSK-1", c.id, &ack, now).unwrap().unwrap();
        assert_eq!(done.state, CommandState::Done, "{k}");
        assert_eq!(
            s.ack_command("KSK-1", c.id, &ack, now)
                .unwrap()
                .unwrap()
                .acked_at,
            done.acked_at,
            "{k}: a resent ack changes nothing"
        );
        let other = CommandAck {
            ok: false,
            result: json!(null),
            detail: "x".into(),
        };
        assert_eq!(
            s.ack_command("KSK-1", c.id, &other, now).unwrap(),
            Err(AckRefusal::Conflict(c.id)),
            "{k}"
        );
        assert_eq!(
            s.ack_command("KSK-2", c.id, &ack, now).unwrap(),
            Err(AckRefusal::Unknown(c.id)),
            "{k}: another terminal's command"
        );

        let later = now + chrono::Duration::seconds(60);
        assert!(
            s.pending_commands("KSK-1", later).unwrap().is_empty(),
            "{k}: acked and expired are not pending"
        );
        assert_eq!(
            s.command("KSK-1", short.id, later).unwrap().unwrap().state,
            CommandState::Expired,
            "{k}"
        );
        assert_eq!(
            s.ack_command("KSK-1", short.id, &ack, later).unwrap(),
            Err(AckRefusal::Expired(short.id)),
            "{k}"
        );
    }
}

#[test]
fn documents_rise_in_version_and_reach_their_scope() {
    use kiosk_protocol::signing::{Algorithm, DocumentKind, SignedDocument, SigningKey};
    let key = SigningKey::generate(Algorithm::Ed25519);
    let doc = |version: u64, scope: &str| {
        SignedDocument::sign(
            DocumentKind::Config,
            scope,
            version,
            json!({"v": version}),
            &key,
        )
    };
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        assert!(
            s.latest_document(DocumentKind::Config, "KSK-1", 0)
                .unwrap()
                .is_none(),
            "{k}"
        );
        s.publish_document(&doc(1, "all")).unwrap().unwrap();
        s.publish_document(&doc(2, "KSK-2")).unwrap().unwrap();
        assert!(
            s.publish_document(&doc(2, "all")).unwrap().is_err(),
            "{k}: not newer"
        );
        let got = |dev: &str, after: u64| {
            s.latest_document(DocumentKind::Config, dev, after)
                .unwrap()
                .map(|d| d.version)
        };
        assert_eq!(
            got("KSK-1", 0),
            Some(1),
            "{k}: KSK-2's document is not for KSK-1"
        );
        assert_eq!(got("KSK-2", 0), Some(2), "{k}");
        assert_eq!(got("KSK-2", 2), None, "{k}: nothing newer");
        assert!(
            s.latest_document(DocumentKind::Catalogue, "KSK-1", 0)
                .unwrap()
                .is_none(),
            "{k}"
        );
        // What comes back verifies as what was signed.
        let back = s
            .latest_document(DocumentKind::Config, "KSK-1", 0)
            .unwrap()
            .unwrap();
        back.verify(&[key.public_key()]).unwrap();
    }
}

#[test]
fn enrolment_codes_work_once_for_their_terminal_before_they_expire() {
    use kiosk_central::store::{code_sha256, EnrolRefusal};
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        let now = chrono::Utc::now();
        let later = now + chrono::Duration::hours(1);
        s.create_enrolment_code("KSK-1", &code_sha256("CODE1"), later)
            .unwrap();
        s.create_enrolment_code("KSK-2", &code_sha256("CODE2"), now)
            .unwrap();
        assert_eq!(s.device_key("KSK-1").unwrap(), None, "{k}");
        let enrol = |dev: &str, code: &str, at| {
            s.enrol_with_code(dev, &code_sha256(code), "ed25519:aa", at)
                .unwrap()
        };
        assert_eq!(
            enrol("KSK-1", "NOPE", now),
            Err(EnrolRefusal::WrongCode),
            "{k}"
        );
        assert_eq!(
            enrol("KSK-2", "CODE1", now),
            Err(EnrolRefusal::WrongCode),
            "{k}: another terminal's code"
        );
        assert_eq!(
            enrol("KSK-2", "CODE2", later),
            Err(EnrolRefusal::Expired),
            "{k}"
        );
        assert_eq!(
            enrol("KSK-1", "code1", now),
            Ok(()),
            "{k}: codes are not case-sensitive"
        );
        assert_eq!(enrol("KSK-1", "CODE1", now), Err(EnrolRefusal::Used), "{k}");
        assert_eq!(
            s.device_key("KSK-1").unwrap().as_deref(),
            Some("ed25519:aa"),
            "{k}"
        );
    }
}

fn filing(
    local_ref: &str,
    id_number: &str,
    password: &str,
) -> kiosk_protocol::cases::CaseSubmission {
    use kiosk_protocol::cases::{holder_sha256, password_sha256, CaseSubmission, Pickup};
    let salt = format!("salt-{local_ref}-0123456789");
    CaseSubmission {
        device_id: "KSK-1".into(),
        local_ref: local_ref.into(),
        item: "huji-zhengming".into(),
        item_name: "户籍证明".into(),
        holder_sha256: holder_sha256(id_number),
        agent_sha256: None,
        password_sha256: password_sha256(&salt, password),
        password_salt: salt,
        pickup: Pickup::Window,
        submitted_at: "2026-12-03T09:00:00+08:00".into(),
        attachments: vec![sha256_hex(b"form")],
    }
}

#[test]
fn cases_are_numbered_once_found_by_password_or_holder_and_moved_on() {
    use kiosk_central::cases::CaseRefusal;
    use kiosk_protocol::cases::{holder_sha256, CaseProgress, CaseStatus};
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        let a = filing("KSK-1-A", "11010519491231002X", "123456");
        let first = s.file_case(&a, "20261203", "t1").unwrap().unwrap();
        assert_eq!(first.case_number, "20261203000001", "{k}");
        assert_eq!(first.status, CaseStatus::Submitted, "{k}");
        assert_eq!(first.log.len(), 1, "{k}");
        // A retry after a lost reply is the same case, not a second one.
        let again = s.file_case(&a, "20261203", "t2").unwrap().unwrap();
        assert_eq!(again.case_number, first.case_number, "{k}");
        let mut other = a.clone();
        other.item = "juzhuzheng".into();
        assert!(
            matches!(
                s.file_case(&other, "20261203", "t").unwrap(),
                Err(CaseRefusal::Conflict(_))
            ),
            "{k}"
        );
        let mut bad = filing("KSK-1-X", "1", "1");
        bad.holder_sha256 = "110105194912310037".into();
        assert!(
            matches!(
                s.file_case(&bad, "20261203", "t").unwrap(),
                Err(CaseRefusal::Invalid(_))
            ),
            "{k}: a plain ID number is refused where its hash belongs"
        );
        let b = filing("KSK-1-B", "110105194912310037", "654321");
        let second = s.file_case(&b, "20261203", "t3").unwrap().unwrap();
        assert_eq!(second.case_number, "20261203000002", "{k}");

        // Looked up by number or by the terminal's reference, with the password only.
        let found = s
            .lookup_case(&first.case_number, "123456")
            .unwrap()
            .unwrap();
        assert_eq!(found.local_ref, "KSK-1-A", "{k}");
        assert_eq!(
            s.lookup_case("KSK-1-A", "123456")
                .unwrap()
                .unwrap()
                .case_number,
            first.case_number,
            "{k}"
        );
        assert!(
            matches!(
                s.lookup_case(&first.case_number, "654321").unwrap(),
                Err(CaseRefusal::NotFound(_))
            ),
            "{k}: a wrong password reads like no such case"
        );
        assert!(
            matches!(
                s.lookup_case("20991231000001", "123456").unwrap(),
                Err(CaseRefusal::NotFound(_))
            ),
            "{k}"
        );
        let mine = s
            .cases_of(&holder_sha256("11010519491231002x"), 50)
            .unwrap();
        assert_eq!(mine.len(), 1, "{k}");
        assert_eq!(mine[0].case_number, first.case_number, "{k}");

        // A department's road, with the comment the citizen reads; no skipping, no moves
        // after the end.
        let skip = CaseProgress {
            status: CaseStatus::Completed,
            comment: String::new(),
        };
        assert!(
            matches!(
                s.progress_case(&first.case_number, &skip, "t").unwrap(),
                Err(CaseRefusal::NotAllowed { .. })
            ),
            "{k}"
        );
        for (st, comment) in [
            (CaseStatus::Accepted, ""),
            (CaseStatus::Processing, ""),
            (CaseStatus::NeedsMore, "请补充户口簿首页复印件"),
            (CaseStatus::Processing, ""),
            (CaseStatus::Completed, "证明已出具，请到3号窗口领取"),
        ] {
            let c = s
                .progress_case(
                    &first.case_number,
                    &CaseProgress {
                        status: st,
                        comment: comment.into(),
                    },
                    "t",
                )
                .unwrap()
                .unwrap();
            assert_eq!(c.status, st, "{k}");
        }
        let done = s
            .lookup_case(&first.case_number, "123456")
            .unwrap()
            .unwrap();
        assert_eq!(done.log.len(), 6, "{k}");
        assert_eq!(done.log[3].comment, "请补充户口簿首页复印件", "{k}");
        let back = CaseProgress {
            status: CaseStatus::Processing,
            comment: String::new(),
        };
        assert!(
            s.progress_case(&first.case_number, &back, "t")
                .unwrap()
                .is_err(),
            "{k}"
        );
        assert!(
            matches!(
                s.progress_case("nope", &back, "t").unwrap(),
                Err(CaseRefusal::Unknown(_))
            ),
            "{k}"
        );
        let listed = s.list_cases(Some(CaseStatus::Submitted), 10).unwrap();
        assert_eq!(listed.len(), 1, "{k}");
        assert_eq!(listed[0].case_number, second.case_number, "{k}");
    }
}

#[test]
fn a_case_filed_offline_arrives_by_the_journal_and_takes_one_rating() {
    use kiosk_protocol::cases::CaseStatus;
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        let offline = filing("KSK-1-OFF", "11010519491231002X", "222333");
        let record = envelope(
            "KSK-1",
            1,
            "case.submitted",
            json!({ "case": offline, "session": "s-1" }),
        );
        // Another terminal cannot file in this one's name.
        let mut forged = filing("KSK-1-FORGED", "11010519491231002X", "1");
        forged.device_id = "KSK-2".into();
        let forged = envelope("KSK-1", 2, "case.submitted", json!({ "case": forged }));
        let r = s
            .ingest(
                "KSK-1",
                &IngestBatch {
                    events: vec![record, forged],
                },
                "t",
            )
            .unwrap();
        assert_eq!(r.accepted, vec![1, 2], "{k}");
        let case = s.lookup_case("KSK-1-OFF", "222333").unwrap().unwrap();
        assert_eq!(case.status, CaseStatus::Submitted, "{k}");
        assert!(s.lookup_case("KSK-1-FORGED", "1").unwrap().is_err(), "{k}");
        // The terminal asks again when it is back online: the same number.
        let online = s.file_case(&offline, "20261204", "t").unwrap().unwrap();
        assert_eq!(online.case_number, case.case_number, "{k}");

        let rate = |seq: u64, level: u8| {
            envelope(
                "KSK-1",
                seq,
                "session.rated",
                json!({ "case": case.case_number, "level": level, "tags": ["态度好"] }),
            )
        };
        s.ingest(
            "KSK-1",
            &IngestBatch {
                events: vec![rate(3, 5), rate(4, 1)],
            },
            "t",
        )
        .unwrap();
        let rated = s.lookup_case(&case.case_number, "222333").unwrap().unwrap();
        assert_eq!(rated.rating, Some(5), "{k}: one rating per case, the first");
    }
}

#[test]
fn licences_count_prints_from_the_journal_and_proofs_check_by_code() {
    use kiosk_central::documents::{DocumentRefusal, Import};
    use kiosk_protocol::cases::holder_sha256;
    use kiosk_protocol::documents::{LicencePrint, ProofRequest};
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/sample-documents.json"
    ))
    .unwrap();
    let docs = Import::parse(&sample).unwrap();
    let holder = holder_sha256("320583199001011232");
    let (_d, stores) = stores();
    for s in &stores {
        let k = s.kind();
        assert_eq!(s.import_documents(&docs).unwrap(), (4, 2), "{k}");
        let licences = s.licences_of(&holder).unwrap();
        assert_eq!(licences.len(), 4, "{k}");
        assert!(licences.iter().all(|l| l.printed == 0), "{k}");
        assert!(s
            .licences_of(&holder_sha256("11010519491231002X"))
            .unwrap()
            .is_empty());
        let print = |seq: u64, holder: &str| {
            let p = LicencePrint {
                device_id: "KSK-1".into(),
                licence_id: licences[0].licence_id.clone(),
                holder_sha256: holder.into(),
                printed_at: "2026-12-03T10:00:00+08:00".into(),
            };
            envelope("KSK-1", seq, "licence.printed", json!({ "licence": p }))
        };
        let other = holder_sha256("11010519491231002X");
        let batch = IngestBatch {
            events: vec![print(1, &holder), print(2, &holder), print(3, &other)],
        };
        s.ingest("KSK-1", &batch, "t").unwrap();
        // The same records again (a lost reply) count nothing more.
        s.ingest("KSK-1", &batch, "t").unwrap();
        let after = s.licences_of(&holder).unwrap();
        assert_eq!(
            after[0].printed, 2,
            "{k}: two prints by the holder, once each"
        );
        // A re-import keeps the count.
        s.import_documents(&docs).unwrap();
        assert_eq!(s.licences_of(&holder).unwrap()[0].printed, 2, "{k}");

        let kinds = s.proofs_of(&holder).unwrap();
        let names: Vec<&str> = kinds.iter().map(|p| p.kind.as_str()).collect();
        assert_eq!(names, ["gongjijin-jiaocun", "shebao-canbao"], "{k}");
        let ask = |kind: &str, months: u32| ProofRequest {
            device_id: "KSK-1".into(),
            holder_sha256: holder.clone(),
            kind: kind.into(),
            months,
            purpose: "申请住房贷款".into(),
        };
        let a = s
            .issue_proof(&ask("shebao-canbao", 6), "20261203", "t1")
            .unwrap()
            .unwrap();
        assert_eq!(a.proof_number, "ZM20261203000001", "{k}");
        assert_eq!(a.data.rows.len(), 6, "{k}");
        let b = s
            .issue_proof(&ask("gongjijin-jiaocun", 0), "20261203", "t2")
            .unwrap()
            .unwrap();
        assert_eq!(b.proof_number, "ZM20261203000002", "{k}");
        assert!(
            b.data.rows.is_empty() && b.data.columns.is_empty(),
            "{k}: the summary"
        );
        assert_eq!(
            s.issue_proof(&ask("no-such-proof", 0), "20261203", "t")
                .unwrap(),
            Err(DocumentRefusal::NoData("no-such-proof".into())),
            "{k}"
        );
        let checked = s
            .check_proof(&a.proof_number, &a.check_code)
            .unwrap()
            .unwrap();
        assert_eq!(checked.digest, a.digest(), "{k}");
        assert_eq!(checked.title, "社会保险参保缴费证明", "{k}");
        let wrong = if a.check_code == "AAAAAAAA" {
            "BBBBBBBB"
        } else {
            "AAAAAAAA"
        };
        assert!(
            s.check_proof(&a.proof_number, wrong).unwrap().is_err(),
            "{k}"
        );
    }
}
