//! What the store test binaries share: a real PostgreSQL started once per binary, and both
//! stores fresh for a test.

use std::sync::OnceLock;

use kiosk_central::pgserver::PgServer;
use kiosk_central::{SqliteStore, Store};
use kiosk_protocol::wire::{payload_sha256, EventEnvelope, IngestBatch, TicketRequest};
use serde_json::json;

pub struct Pg {
    pub server: PgServer,
    _dir: tempfile::TempDir,
}

pub fn pg() -> &'static Pg {
    static PG: OnceLock<Pg> = OnceLock::new();
    PG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let server = PgServer::start(&dir.path().join("pg")).unwrap_or_else(|e| {
            panic!("PostgreSQL must start (scripts/setup-debian.sh installs it): {e}")
        });
        Pg { server, _dir: dir }
    })
}

/// Both stores, fresh. The temp dir keeps the SQLite file alive for the test.
#[allow(dead_code)] // not every test binary uses both helpers
pub fn stores() -> (tempfile::TempDir, Vec<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::from(SqliteStore::open(&dir.path().join("c.db")).unwrap());
    let url = pg().server.database().unwrap();
    let postgres = Store::open(&url).unwrap_or_else(|e| panic!("{e}\n{}", pg().server.log()));
    (dir, vec![sqlite, postgres])
}

/// One journal event of `device`, as a terminal uploads it.
pub fn envelope(device: &str, seq: u64, kind: &str, payload: serde_json::Value) -> EventEnvelope {
    EventEnvelope {
        device_id: device.into(),
        seq,
        uuid: format!("u-{seq}"),
        kind: kind.into(),
        created_at: chrono::DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
        payload_sha256: payload_sha256(&payload),
        payload,
    }
}

#[allow(dead_code)] // not every test binary issues tickets
/// Issues `n` tickets of `service` and settles them as printed through the journal, as a
/// ticket machine does.
pub fn printed_tickets(
    s: &Store,
    hall: &str,
    service: &str,
    prefix: &str,
    n: u32,
    first_seq: u64,
) -> Vec<String> {
    let day = kiosk_central::queue::today();
    let mut numbers = Vec::new();
    let mut events = Vec::new();
    for i in 0..n {
        let req = TicketRequest {
            device_id: "KSK-1".into(),
            request_id: format!("{service}-{first_seq}-{i}"),
            prefix: prefix.into(),
            appointment: None,
            holder: None,
            age: None,
        };
        let t = s
            .issue_ticket(hall, service, &day, &req, &[])
            .unwrap()
            .unwrap();
        events.push(envelope(
            "KSK-1",
            first_seq + i as u64,
            "output.result",
            json!({"outcome": "printed", "ticket": {"hall": hall, "service": service, "day": t.day, "number": t.number}}),
        ));
        numbers.push(t.number);
    }
    s.ingest("KSK-1", &IngestBatch { events }, "t").unwrap();
    numbers
}
