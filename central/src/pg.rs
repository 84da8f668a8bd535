//! The PostgreSQL store, for centres that run on several nodes against one database. Same
//! rules as the SQLite store (they live in `store.rs` as functions both use); what differs is
//! how work is serialised: a device's ingest locks its progress row, ticket numbering takes a
//! transaction-scoped advisory lock per hall, service and day, and a seal authorisation is
//! locked while it is used. Attachments live in the database, so any node can finish an upload
//! another node started.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kiosk_protocol::wire::{
    canonical_json, AttachmentStatus, CommandAck, CommandRequest, CommandState, Heartbeat,
    IngestBatch, IngestResult, QueuedCommand, SealAuthorisation, SealAuthorisationRequest, Ticket,
    TicketRequest, TicketState,
};
use postgres::{Client, NoTls, Row};

mod blocks;
mod cases;
mod documents;
pub(crate) mod queue;
mod staff;
mod updates;
use sha2::{Digest, Sha256};

use crate::store::{
    ack_check, check_chunk, check_event, check_hash, command_state, conflict, consume_check,
    expiry, new_authorisation, ticket_settlement, walk_gaps, AckRefusal, AttachmentError,
    ConsumeRefusal, EnrolRefusal, PublishRefusal, StoreError,
};
use crate::store::{
    check_appointment, enrol_check, ticket_number, BookingRefusal, TicketRefusal, TICKET_COLUMNS,
};
use kiosk_protocol::signing::{DocumentKind, SignedDocument};
use kiosk_protocol::wire::{Appointment, AppointmentRequest};

/// Each entry moves the schema from version `index` to `index + 1`; never edit a shipped one.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE devices (
        device_id   TEXT PRIMARY KEY,
        enrolled_at TEXT NOT NULL
    );
    CREATE TABLE events (
        device_id      TEXT NOT NULL,
        seq            BIGINT NOT NULL,
        uuid           TEXT NOT NULL,
        kind           TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        payload        TEXT NOT NULL,
        payload_sha256 TEXT NOT NULL,
        received_at    TEXT NOT NULL,
        PRIMARY KEY (device_id, seq)
    );
    CREATE TABLE device_progress (
        device_id       TEXT PRIMARY KEY,
        contiguous_upto BIGINT NOT NULL
    );
    CREATE TABLE heartbeats (
        device_id   TEXT PRIMARY KEY,
        at          TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body        TEXT NOT NULL,
        count       BIGINT NOT NULL
    );
    CREATE TABLE attachments (
        sha256     TEXT PRIMARY KEY,
        size       BIGINT NOT NULL,
        received   BIGINT NOT NULL,
        complete   BOOLEAN NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        data       BYTEA NOT NULL DEFAULT ''::bytea
    );
    CREATE TABLE tickets (
        hall       TEXT NOT NULL,
        service    TEXT NOT NULL,
        day        TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        number     TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        request_id TEXT NOT NULL UNIQUE,
        state      TEXT NOT NULL DEFAULT 'issued',
        PRIMARY KEY (hall, service, day, seq)
    );
    CREATE TABLE seal_authorisations (
        id              TEXT PRIMARY KEY,
        device_id       TEXT NOT NULL,
        seal            INTEGER NOT NULL,
        document_sha256 TEXT NOT NULL,
        purpose         TEXT NOT NULL,
        request_id      TEXT NOT NULL UNIQUE,
        issued_at       TIMESTAMPTZ NOT NULL,
        expires_at      TIMESTAMPTZ NOT NULL,
        consumed_at     TIMESTAMPTZ
    );",
    "CREATE TABLE commands (
        id          BIGSERIAL PRIMARY KEY,
        device_id   TEXT NOT NULL,
        request_id  TEXT NOT NULL UNIQUE,
        command     TEXT NOT NULL,
        queued_at   TIMESTAMPTZ NOT NULL,
        expires_at  TIMESTAMPTZ NOT NULL,
        delivered_at TIMESTAMPTZ,
        acked_at    TIMESTAMPTZ,
        ack         TEXT
    );
    CREATE INDEX commands_by_device ON commands (device_id, id);",
    "CREATE TABLE documents (
        kind     TEXT NOT NULL,
        version  BIGINT NOT NULL,
        scope    TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (kind, version)
    );",
    "ALTER TABLE devices ADD COLUMN public_key TEXT;
    CREATE TABLE enrolment_codes (
        code_sha256 TEXT PRIMARY KEY,
        device_id   TEXT NOT NULL,
        expires_at  TIMESTAMPTZ NOT NULL,
        used_at     TIMESTAMPTZ
    );",
    "ALTER TABLE tickets ADD COLUMN appointment TEXT;
    ALTER TABLE tickets ADD COLUMN holder TEXT;
    CREATE TABLE appointments (
        hall    TEXT NOT NULL,
        code    TEXT NOT NULL,
        service TEXT NOT NULL,
        day     TEXT NOT NULL,
        ticket  TEXT,
        PRIMARY KEY (hall, code)
    );",
    "CREATE TABLE cases (
        case_number     TEXT PRIMARY KEY,
        day             TEXT NOT NULL,
        seq             BIGINT NOT NULL,
        device_id       TEXT NOT NULL,
        local_ref       TEXT NOT NULL,
        item            TEXT NOT NULL,
        item_name       TEXT NOT NULL,
        holder_sha256   TEXT NOT NULL,
        agent_sha256    TEXT,
        password_salt   TEXT NOT NULL,
        password_sha256 TEXT NOT NULL,
        pickup          TEXT NOT NULL,
        submitted_at    TEXT NOT NULL,
        status          TEXT NOT NULL,
        attachments     TEXT NOT NULL,
        UNIQUE (device_id, local_ref),
        UNIQUE (day, seq)
    );
    CREATE INDEX cases_by_holder ON cases (holder_sha256);
    CREATE INDEX cases_by_ref ON cases (local_ref);
    CREATE TABLE case_log (
        case_number TEXT NOT NULL,
        n           INTEGER NOT NULL,
        at          TEXT NOT NULL,
        status      TEXT NOT NULL,
        comment     TEXT NOT NULL,
        PRIMARY KEY (case_number, n)
    );
    CREATE TABLE case_ratings (
        case_number TEXT PRIMARY KEY,
        level       INTEGER NOT NULL,
        tags        TEXT NOT NULL,
        device_id   TEXT NOT NULL,
        at          TEXT NOT NULL
    );",
    "CREATE TABLE licences (
        licence_id    TEXT PRIMARY KEY,
        holder_sha256 TEXT NOT NULL,
        licence_type  TEXT NOT NULL,
        body          TEXT NOT NULL,
        printed       BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX licences_by_holder ON licences (holder_sha256);
    CREATE TABLE licence_prints (
        device_id   TEXT NOT NULL,
        licence_id  TEXT NOT NULL,
        printed_at  TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE TABLE proof_data (
        holder_sha256 TEXT NOT NULL,
        kind          TEXT NOT NULL,
        body          TEXT NOT NULL,
        PRIMARY KEY (holder_sha256, kind)
    );
    CREATE TABLE proofs (
        proof_number  TEXT PRIMARY KEY,
        day           TEXT NOT NULL,
        seq           BIGINT NOT NULL,
        device_id     TEXT NOT NULL,
        holder_sha256 TEXT NOT NULL,
        kind          TEXT NOT NULL,
        check_code    TEXT NOT NULL,
        issued_at     TEXT NOT NULL,
        body          TEXT NOT NULL,
        UNIQUE (day, seq)
    );",
    "CREATE TABLE queue_tickets (
        hall    TEXT NOT NULL,
        day     TEXT NOT NULL,
        number  TEXT NOT NULL,
        service    TEXT NOT NULL,
        state      TEXT NOT NULL,
        arrived_at TEXT NOT NULL,
        body       TEXT NOT NULL,
        PRIMARY KEY (hall, day, number)
    );
    CREATE INDEX queue_tickets_by_state ON queue_tickets (hall, day, state);
    CREATE TABLE queue_windows (
        hall      TEXT NOT NULL,
        window_no TEXT NOT NULL,
        body      TEXT NOT NULL,
        PRIMARY KEY (hall, window_no)
    );
    CREATE TABLE queue_events (
        hall TEXT NOT NULL,
        id   BIGINT NOT NULL,
        at   TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (hall, id)
    );
    CREATE TABLE display_tokens (
        token_sha256 TEXT PRIMARY KEY,
        hall         TEXT NOT NULL,
        created_at   TEXT NOT NULL
    );
    CREATE TABLE number_blocks (
        hall       TEXT NOT NULL,
        service    TEXT NOT NULL,
        day        TEXT NOT NULL,
        first      INTEGER NOT NULL,
        last       INTEGER NOT NULL,
        device_id  TEXT NOT NULL,
        request_id TEXT NOT NULL UNIQUE,
        PRIMARY KEY (hall, service, day, first)
    );
    CREATE TABLE queue_ratings (
        hall      TEXT NOT NULL,
        day       TEXT NOT NULL,
        number    TEXT NOT NULL,
        device_id TEXT NOT NULL,
        rated_at  TEXT NOT NULL,
        body      TEXT NOT NULL,
        PRIMARY KEY (hall, day, number)
    );
    CREATE TABLE staff (
        hall         TEXT NOT NULL,
        staff_no     TEXT NOT NULL,
        body         TEXT NOT NULL,
        failures     INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT,
        PRIMARY KEY (hall, staff_no)
    );
    CREATE TABLE staff_audit (
        hall      TEXT NOT NULL,
        staff_no  TEXT NOT NULL,
        at        TEXT NOT NULL,
        device_id TEXT NOT NULL,
        window_no TEXT NOT NULL,
        outcome   TEXT NOT NULL
    );",
    // Update bundles terminals may fetch; their bytes are attachments.
    "CREATE TABLE update_bundles (
        sha256   TEXT PRIMARY KEY,
        version  TEXT NOT NULL,
        size     BIGINT NOT NULL,
        added_at TEXT NOT NULL
    );",
];

/// Connections kept open; requests take the next one in turn.
const POOL: usize = 4;

#[derive(Clone)]
pub struct PgStore {
    url: String,
    clients: Arc<Pool>,
    next: Arc<AtomicUsize>,
}

/// The open connections. The client blocks on a runtime of its own, also when it closes, so
/// the last reference may not drop it on an async worker thread (a centre stopping inside
/// tokio): closing happens on a thread of its own.
struct Pool(Vec<Mutex<Client>>);

impl Drop for Pool {
    fn drop(&mut self) {
        let clients = std::mem::take(&mut self.0);
        let _ = std::thread::spawn(move || drop(clients)).join();
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`) and brings the schema up to date.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let shown = redact(url);
        let connect = || {
            Client::connect(url, NoTls).map_err(|e| StoreError::PgOpen {
                url: shown.clone(),
                message: crate::store::pg_message(&e),
            })
        };
        let mut first = connect()?;
        migrate(&mut first, &shown)?;
        let mut clients = vec![Mutex::new(first)];
        for _ in 1..POOL {
            clients.push(Mutex::new(connect()?));
        }
        Ok(PgStore {
            url: shown,
            clients: Arc::new(Pool(clients)),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        let pool = &self.clients.0;
        let i = self.next.fetch_add(1, Ordering::Relaxed) % pool.len();
        pool[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let row = self
            .client()
            .query_one("SELECT version FROM hallkit_schema", &[])?;
        Ok(row.get::<_, i32>(0) as u32)
    }

    pub fn enrolled_devices(&self) -> Result<u64, StoreError> {
        let row = self
            .client()
            .query_one("SELECT COUNT(*) FROM devices", &[])?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    pub fn enrol_device(&self, device_id: &str, at: &str) -> Result<bool, StoreError> {
        let n = self.client().execute(
            "INSERT INTO devices (device_id, enrolled_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&device_id, &at],
        )?;
        Ok(n == 1)
    }

    pub fn ingest(
        &self,
        device_id: &str,
        batch: &IngestBatch,
        now: &str,
    ) -> Result<IngestResult, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        // One writer per device at a time, whichever node it reached.
        tx.execute(
            "INSERT INTO device_progress (device_id, contiguous_upto) VALUES ($1, 0) ON CONFLICT DO NOTHING",
            &[&device_id],
        )?;
        let upto: i64 = tx
            .query_one(
                "SELECT contiguous_upto FROM device_progress WHERE device_id = $1 FOR UPDATE",
                &[&device_id],
            )?
            .get(0);
        let mut result = IngestResult::default();
        for e in &batch.events {
            if let Some(r) = check_event(device_id, e) {
                result.rejected.push(r);
                continue;
            }
            let seq = i64::try_from(e.seq).unwrap_or(i64::MAX);
            let inserted = tx.execute(
                "INSERT INTO events (device_id, seq, uuid, kind, created_at, payload, payload_sha256, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (device_id, seq) DO NOTHING",
                &[
                    &device_id,
                    &seq,
                    &e.uuid,
                    &e.kind,
                    &e.created_at.to_rfc3339(),
                    &canonical_json(&e.payload),
                    &e.payload_sha256,
                    &now,
                ],
            )?;
            if inserted == 1 {
                result.accepted.push(e.seq);
                if let Some(filing) = crate::cases::filing_in(e) {
                    if let Err(r) =
                        cases::file_case_in(&mut tx, &filing, &crate::cases::cst_day(), now)?
                    {
                        tracing::warn!(device = device_id, seq = e.seq, refusal = %r, "journal filing not taken");
                    }
                }
                if let Some((case, level, tags)) = crate::cases::rating_in(e) {
                    cases::rate_case_in(&mut tx, &case, level, &tags, device_id, now)?;
                }
                if let Some(print) = crate::documents::print_in(e) {
                    documents::count_print_in(&mut tx, &print, now)?;
                }
                if let Some(t) = crate::queue::offline_ticket_in(e) {
                    blocks::offline_ticket_in(&mut tx, device_id, &t)?;
                }
                if let Some(r) = crate::queue::ticket_rating_in(e) {
                    queue::rate_in(&mut tx, device_id, &r)?;
                }
                if e.kind == "output.result" {
                    if let Some(t) = ticket_settlement(&e.payload) {
                        tx.execute(
                            "UPDATE tickets SET state = $5 WHERE hall = $1 AND service = $2 AND day = $3 AND number = $4",
                            &[&t.hall, &t.service, &t.day, &t.number, &t.state.as_str()],
                        )?;
                        queue::settle_in(
                            &mut tx,
                            t.hall,
                            t.day,
                            t.number,
                            t.state != TicketState::Void,
                            &crate::queue::now_rfc3339(),
                        )?;
                    }
                }
                continue;
            }
            let held: String = tx
                .query_one(
                    "SELECT payload_sha256 FROM events WHERE device_id = $1 AND seq = $2",
                    &[&device_id, &seq],
                )?
                .get(0);
            if held == e.payload_sha256 {
                result.duplicates.push(e.seq);
            } else {
                result.rejected.push(conflict(e.seq));
            }
        }
        let later: Vec<i64> = tx
            .query(
                "SELECT seq FROM events WHERE device_id = $1 AND seq > $2 ORDER BY seq",
                &[&device_id, &upto],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let (upto, gaps) = walk_gaps(upto, &later);
        result.gaps = gaps;
        tx.execute(
            "UPDATE device_progress SET contiguous_upto = $2 WHERE device_id = $1",
            &[&device_id, &upto],
        )?;
        tx.commit()?;
        result.next_expected = upto as u64 + 1;
        if !result.gaps.is_empty() {
            tracing::warn!(device = device_id, gaps = ?result.gaps, "sequence gaps");
        }
        Ok(result)
    }

    pub fn record_heartbeat(&self, hb: &Heartbeat, now: &str) -> Result<u64, StoreError> {
        let body = serde_json::to_string(hb).unwrap_or_default();
        let row = self.client().query_one(
            "INSERT INTO heartbeats (device_id, at, received_at, body, count) VALUES ($1, $2, $3, $4, 1)
             ON CONFLICT (device_id) DO UPDATE SET at = excluded.at, received_at = excluded.received_at,
                 body = excluded.body, count = heartbeats.count + 1
             RETURNING count",
            &[&hb.device_id, &hb.at.to_rfc3339(), &now, &body],
        )?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    pub fn latest_heartbeat(&self, device_id: &str) -> Result<Option<Heartbeat>, StoreError> {
        let row = self.client().query_opt(
            "SELECT body FROM heartbeats WHERE device_id = $1",
            &[&device_id],
        )?;
        Ok(row.and_then(|r| serde_json::from_str(&r.get::<_, String>(0)).ok()))
    }

    pub fn attachment_status(&self, sha256: &str) -> Result<Option<AttachmentStatus>, StoreError> {
        let row = self.client().query_opt(
            "SELECT size, received, complete FROM attachments WHERE sha256 = $1",
            &[&sha256],
        )?;
        Ok(row.map(|r| status_row(sha256, &r)))
    }

    pub fn put_attachment_chunk(
        &self,
        sha256: &str,
        size: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<AttachmentStatus, AttachmentError> {
        check_hash(sha256)?;
        let mut client = self.client();
        let mut tx = client.transaction().map_err(StoreError::from)?;
        tx.execute(
            "INSERT INTO attachments (sha256, size, received, complete) VALUES ($1, $2, 0, false)
             ON CONFLICT DO NOTHING",
            &[&sha256, &(size as i64)],
        )
        .map_err(StoreError::from)?;
        let row = tx
            .query_one(
                "SELECT size, received, complete FROM attachments WHERE sha256 = $1 FOR UPDATE",
                &[&sha256],
            )
            .map_err(StoreError::from)?;
        let status = status_row(sha256, &row);
        if let Some(done) = check_chunk(&status, size, offset, bytes.len())? {
            return Ok(done);
        }
        let received = offset + bytes.len() as u64;
        // Whatever a failed earlier write left past `received` is cut off first.
        tx.execute(
            "UPDATE attachments SET data = substring(data FROM 1 FOR $2::int) || $3, received = $4
             WHERE sha256 = $1",
            &[&sha256, &(offset as i32), &bytes, &(received as i64)],
        )
        .map_err(StoreError::from)?;
        let mut complete = false;
        if received == size {
            let data: Vec<u8> = tx
                .query_one("SELECT data FROM attachments WHERE sha256 = $1", &[&sha256])
                .map_err(StoreError::from)?
                .get(0);
            if hex::encode(Sha256::digest(&data)) != sha256 {
                tx.execute(
                    "UPDATE attachments SET data = ''::bytea, received = 0 WHERE sha256 = $1",
                    &[&sha256],
                )
                .map_err(StoreError::from)?;
                tx.commit().map_err(StoreError::from)?;
                return Err(AttachmentError::HashMismatch);
            }
            tx.execute(
                "UPDATE attachments SET complete = true WHERE sha256 = $1",
                &[&sha256],
            )
            .map_err(StoreError::from)?;
            complete = true;
        }
        tx.commit().map_err(StoreError::from)?;
        Ok(AttachmentStatus {
            sha256: sha256.into(),
            size,
            received,
            complete,
        })
    }

    pub fn issue_ticket(
        &self,
        hall: &str,
        service: &str,
        day: &str,
        req: &TicketRequest,
        priority: &[kiosk_protocol::queue::PriorityReason],
    ) -> Result<Result<Ticket, TicketRefusal>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let key = format!("{hall}/{service}/{day}");
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
        let by_request = format!("SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.request_id = $1");
        if let Some(r) = tx.query_opt(&by_request, &[&req.request_id])? {
            return Ok(Ok(ticket_row(&r)));
        }
        if let Some(code) = &req.appointment {
            // Locks the booking: two terminals checking in one code get one ticket.
            let booked = tx
                .query_opt(
                    "SELECT code, hall, service, day, ticket FROM appointments WHERE hall = $1 AND code = $2 FOR UPDATE",
                    &[&hall, code],
                )?
                .map(|r| appointment_row(&r));
            if let Err(refusal) = check_appointment(booked.as_ref(), code, service, day) {
                return Ok(Err(refusal));
            }
        }
        let seq = blocks::next_seq_in(&mut tx, hall, service, day)?;
        let number = ticket_number(&req.prefix, seq as u32);
        tx.execute(
            "INSERT INTO tickets (hall, service, day, seq, number, device_id, request_id, appointment, holder) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&hall, &service, &day, &seq, &number, &req.device_id, &req.request_id, &req.appointment, &req.holder],
        )?;
        if let Some(code) = &req.appointment {
            tx.execute(
                "UPDATE appointments SET ticket = $3 WHERE hall = $1 AND code = $2",
                &[&hall, code, &number],
            )?;
        }
        queue::admit_in(
            &mut tx,
            hall,
            crate::queue::new_ticket(&number, service, day, priority),
            &crate::queue::now_rfc3339(),
        )?;
        let t = ticket_row(&tx.query_one(&by_request, &[&req.request_id])?);
        tx.commit()?;
        Ok(Ok(t))
    }

    pub fn ticket(
        &self,
        hall: &str,
        service: &str,
        day: &str,
        number: &str,
    ) -> Result<Option<Ticket>, StoreError> {
        let row = self.client().query_opt(
            &format!(
                "SELECT {TICKET_COLUMNS} FROM tickets t
                 WHERE t.hall = $1 AND t.service = $2 AND t.day = $3 AND t.number = $4"
            ),
            &[&hall, &service, &day, &number],
        )?;
        Ok(row.map(|r| ticket_row(&r)))
    }

    pub fn book_appointment(
        &self,
        hall: &str,
        req: &AppointmentRequest,
    ) -> Result<Result<Appointment, BookingRefusal>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        tx.execute(
            "INSERT INTO appointments (hall, code, service, day) VALUES ($1, $2, $3, $4) ON CONFLICT (hall, code) DO NOTHING",
            &[&hall, &req.code, &req.service, &req.day],
        )?;
        let a = appointment_row(&tx.query_one(
            "SELECT code, hall, service, day, ticket FROM appointments WHERE hall = $1 AND code = $2",
            &[&hall, &req.code],
        )?);
        tx.commit()?;
        if a.service != req.service || a.day != req.day {
            return Ok(Err(BookingRefusal::Conflict(req.code.clone())));
        }
        Ok(Ok(a))
    }

    pub fn appointment(&self, hall: &str, code: &str) -> Result<Option<Appointment>, StoreError> {
        Ok(self
            .client()
            .query_opt(
                "SELECT code, hall, service, day, ticket FROM appointments WHERE hall = $1 AND code = $2",
                &[&hall, &code],
            )?
            .map(|r| appointment_row(&r)))
    }

    pub fn authorise_seal(
        &self,
        req: &SealAuthorisationRequest,
        now: chrono::DateTime<chrono::Utc>,
        valid: chrono::Duration,
    ) -> Result<SealAuthorisation, StoreError> {
        let a = new_authorisation(req, now, valid);
        let mut client = self.client();
        let n = client.execute(
            "INSERT INTO seal_authorisations (id, device_id, seal, document_sha256, purpose, request_id, issued_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (request_id) DO NOTHING",
            &[
                &a.id,
                &a.device_id,
                &i32::from(a.seal),
                &a.document_sha256,
                &a.purpose,
                &req.request_id,
                &a.issued_at,
                &a.expires_at,
            ],
        )?;
        if n == 1 {
            return Ok(a);
        }
        let r = client.query_one(
            &format!("SELECT {SEAL_COLUMNS} FROM seal_authorisations WHERE request_id = $1"),
            &[&req.request_id],
        )?;
        Ok(seal_row(&r))
    }

    pub fn consume_seal(
        &self,
        id: &str,
        device_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<SealAuthorisation, ConsumeRefusal>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let Some(r) = tx.query_opt(
            &format!("SELECT {SEAL_COLUMNS} FROM seal_authorisations WHERE id = $1 FOR UPDATE"),
            &[&id],
        )?
        else {
            return Ok(Err(ConsumeRefusal::Unknown(id.to_string())));
        };
        let mut a = seal_row(&r);
        if let Err(refusal) = consume_check(&a, device_id, now) {
            return Ok(Err(refusal));
        }
        tx.execute(
            "UPDATE seal_authorisations SET consumed_at = $2 WHERE id = $1",
            &[&id, &now],
        )?;
        tx.commit()?;
        a.consumed_at = Some(now);
        Ok(Ok(a))
    }

    pub fn queue_command(
        &self,
        device_id: &str,
        req: &CommandRequest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<QueuedCommand, StoreError> {
        let command = serde_json::to_string(&req.command).unwrap_or_default();
        let mut client = self.client();
        client.execute(
            "INSERT INTO commands (device_id, request_id, command, queued_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING",
            &[
                &device_id,
                &req.request_id,
                &command,
                &now,
                &expiry(req, now),
            ],
        )?;
        let r = client.query_one(
            &format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE request_id = $1"),
            &[&req.request_id],
        )?;
        command_row(&r, now)
    }

    pub fn pending_commands(
        &self,
        device_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<QueuedCommand>, StoreError> {
        let mut client = self.client();
        client.execute(
            "UPDATE commands SET delivered_at = $2
             WHERE device_id = $1 AND acked_at IS NULL AND expires_at >= $2 AND delivered_at IS NULL",
            &[&device_id, &now],
        )?;
        client
            .query(
                &format!(
                    "SELECT {COMMAND_COLUMNS} FROM commands
                     WHERE device_id = $1 AND acked_at IS NULL AND expires_at >= $2 ORDER BY id"
                ),
                &[&device_id, &now],
            )?
            .iter()
            .map(|r| command_row(r, now))
            .collect()
    }

    pub fn ack_command(
        &self,
        device_id: &str,
        id: u64,
        ack: &CommandAck,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<QueuedCommand, AckRefusal>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let Some(r) = tx.query_opt(
            &format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE id = $1 AND device_id = $2 FOR UPDATE"),
            &[&(id as i64), &device_id],
        )?
        else {
            return Ok(Err(AckRefusal::Unknown(id)));
        };
        let mut c = command_row(&r, now)?;
        match ack_check(&c, ack, now) {
            Err(refusal) => return Ok(Err(refusal)),
            Ok(false) => {}
            Ok(true) => {
                let stored = tx.query_one(
                    "UPDATE commands SET acked_at = $2, ack = $3 WHERE id = $1 RETURNING acked_at",
                    &[
                        &(id as i64),
                        &now,
                        &serde_json::to_string(ack).unwrap_or_default(),
                    ],
                )?;
                // As stored: microsecond precision.
                c.acked_at = stored.get(0);
                c.ack = Some(ack.clone());
            }
        }
        tx.commit()?;
        c.state = command_state(&c, now);
        Ok(Ok(c))
    }

    pub fn command(
        &self,
        device_id: &str,
        id: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<QueuedCommand>, StoreError> {
        self.client()
            .query_opt(
                &format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE id = $1 AND device_id = $2"),
                &[&(id as i64), &device_id],
            )?
            .map(|r| command_row(&r, now))
            .transpose()
    }

    pub fn create_enrolment_code(
        &self,
        device_id: &str,
        code_sha256: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.client().execute(
            "INSERT INTO enrolment_codes (code_sha256, device_id, expires_at) VALUES ($1, $2, $3)",
            &[&code_sha256, &device_id, &expires_at],
        )?;
        Ok(())
    }

    /// Whether `code_sha256` would enrol `device_id` now, without using it.
    pub fn check_enrolment_code(
        &self,
        device_id: &str,
        code_sha256: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<(), EnrolRefusal>, StoreError> {
        let row = self.client().query_opt(
            "SELECT device_id, expires_at, used_at FROM enrolment_codes WHERE code_sha256 = $1",
            &[&code_sha256],
        )?;
        Ok(match row {
            None => Err(EnrolRefusal::WrongCode),
            Some(r) => {
                let used: Option<chrono::DateTime<chrono::Utc>> = r.get(2);
                enrol_check(
                    &r.get::<_, String>(0),
                    used.is_some(),
                    r.get(1),
                    device_id,
                    now,
                )
            }
        })
    }

    pub fn enrol_with_code(
        &self,
        device_id: &str,
        code_sha256: &str,
        public_key: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<(), EnrolRefusal>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let Some(r) = tx.query_opt(
            "SELECT device_id, expires_at, used_at FROM enrolment_codes WHERE code_sha256 = $1 FOR UPDATE",
            &[&code_sha256],
        )?
        else {
            return Ok(Err(EnrolRefusal::WrongCode));
        };
        let used: Option<chrono::DateTime<chrono::Utc>> = r.get(2);
        if let Err(e) = enrol_check(
            &r.get::<_, String>(0),
            used.is_some(),
            r.get(1),
            device_id,
            now,
        ) {
            return Ok(Err(e));
        }
        tx.execute(
            "UPDATE enrolment_codes SET used_at = $2 WHERE code_sha256 = $1",
            &[&code_sha256, &now],
        )?;
        tx.execute(
            "INSERT INTO devices (device_id, enrolled_at, public_key) VALUES ($1, $2, $3)
             ON CONFLICT (device_id) DO UPDATE SET public_key = excluded.public_key",
            &[&device_id, &now.to_rfc3339(), &public_key],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }

    pub fn device_key(&self, device_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .client()
            .query_opt(
                "SELECT public_key FROM devices WHERE device_id = $1",
                &[&device_id],
            )?
            .and_then(|r| r.get::<_, Option<String>>(0)))
    }

    pub fn publish_document(
        &self,
        doc: &SignedDocument,
    ) -> Result<Result<(), PublishRefusal>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let key = format!("documents/{}", doc.kind.as_str());
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM documents WHERE kind = $1",
                &[&doc.kind.as_str()],
            )?
            .get(0);
        if doc.version <= current as u64 {
            return Ok(Err(PublishRefusal::NotNewer {
                kind: doc.kind.as_str().into(),
                given: doc.version,
                current: current as u64,
            }));
        }
        tx.execute(
            "INSERT INTO documents (kind, version, scope, document) VALUES ($1, $2, $3, $4)",
            &[
                &doc.kind.as_str(),
                &(doc.version as i64),
                &doc.scope,
                &serde_json::to_string(doc).unwrap_or_default(),
            ],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }

    pub fn latest_document(
        &self,
        kind: DocumentKind,
        device_id: &str,
        after: u64,
    ) -> Result<Option<SignedDocument>, StoreError> {
        let row = self.client().query_opt(
            "SELECT document FROM documents
             WHERE kind = $1 AND (scope = 'all' OR scope = $2) AND version > $3
             ORDER BY version DESC LIMIT 1",
            &[
                &kind.as_str(),
                &device_id,
                &(after.min(i64::MAX as u64) as i64),
            ],
        )?;
        Ok(row.and_then(|r| serde_json::from_str(&r.get::<_, String>(0)).ok()))
    }

    pub fn event_seqs(&self, device_id: &str) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .client()
            .query(
                "SELECT seq FROM events WHERE device_id = $1 ORDER BY seq",
                &[&device_id],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
    }
}

const SEAL_COLUMNS: &str =
    "id, device_id, seal, document_sha256, purpose, issued_at, expires_at, consumed_at";

const COMMAND_COLUMNS: &str =
    "id, device_id, command, queued_at, expires_at, delivered_at, acked_at, ack";

fn command_row(r: &Row, now: chrono::DateTime<chrono::Utc>) -> Result<QueuedCommand, StoreError> {
    let bad = |e: serde_json::Error| StoreError::Postgres(format!("stored command: {e}"));
    let mut c = QueuedCommand {
        id: r.get::<_, i64>(0) as u64,
        device_id: r.get(1),
        command: serde_json::from_str(&r.get::<_, String>(2)).map_err(bad)?,
        state: CommandState::Queued,
        queued_at: r.get(3),
        expires_at: r.get(4),
        delivered_at: r.get(5),
        acked_at: r.get(6),
        ack: r
            .get::<_, Option<String>>(7)
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(bad)?,
    };
    c.state = command_state(&c, now);
    Ok(c)
}

fn seal_row(r: &Row) -> SealAuthorisation {
    SealAuthorisation {
        id: r.get(0),
        device_id: r.get(1),
        seal: u8::try_from(r.get::<_, i32>(2)).unwrap_or(0),
        document_sha256: r.get(3),
        purpose: r.get(4),
        issued_at: r.get(5),
        expires_at: r.get(6),
        consumed_at: r.get(7),
    }
}

fn ticket_row(r: &Row) -> Ticket {
    Ticket {
        hall: r.get(0),
        service: r.get(1),
        day: r.get(2),
        seq: r.get::<_, i32>(3) as u32,
        number: r.get(4),
        state: TicketState::parse(&r.get::<_, String>(5)),
        appointment: r.get(6),
        ahead: u32::try_from(r.get::<_, i64>(7)).unwrap_or(u32::MAX),
        offline: false,
    }
}

fn appointment_row(r: &Row) -> Appointment {
    Appointment {
        code: r.get(0),
        hall: r.get(1),
        service: r.get(2),
        day: r.get(3),
        ticket: r.get(4),
    }
}

fn status_row(sha256: &str, r: &Row) -> AttachmentStatus {
    AttachmentStatus {
        sha256: sha256.to_string(),
        size: r.get::<_, i64>(0) as u64,
        received: r.get::<_, i64>(1) as u64,
        complete: r.get(2),
    }
}

fn migrate(client: &mut Client, url: &str) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    // Several nodes may start together; one migrates, the others wait and find it done.
    tx.execute("SELECT pg_advisory_xact_lock(7001234)", &[])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS hallkit_schema (version INTEGER NOT NULL)")?;
    let found: i32 = match tx.query_opt("SELECT version FROM hallkit_schema", &[])? {
        Some(r) => r.get(0),
        None => {
            tx.execute("INSERT INTO hallkit_schema (version) VALUES (0)", &[])?;
            0
        }
    };
    let known = MIGRATIONS.len() as i32;
    if found > known {
        return Err(StoreError::TooNew {
            path: url.to_string(),
            found: found as u32,
            known: known as u32,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql)?;
        tx.execute("UPDATE hallkit_schema SET version = $1", &[&(i as i32 + 1)])?;
    }
    tx.commit()?;
    Ok(())
}
