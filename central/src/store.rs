//! The centre's storage. SQLite by default: one file, WAL, foreign keys on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kiosk_protocol::queue::PriorityReason;
use kiosk_protocol::signing::{DocumentKind, SignedDocument};
use kiosk_protocol::wire::{
    canonical_json, payload_sha256, AttachmentStatus, CommandAck, CommandRequest, CommandState,
    Heartbeat, IngestBatch, IngestResult, QueuedCommand, Rejection, SealAuthorisation,
    SealAuthorisationRequest, Ticket, TicketRequest, TicketState,
};
use kiosk_protocol::wire::{Appointment, AppointmentRequest};
use rusqlite::{params, Connection, OptionalExtension};

mod blocks;
mod cases;
mod documents;
pub(crate) mod queue;
mod staff;
mod updates;

/// Each entry moves the schema from version `index` to `index + 1`; never edit a shipped one.
const SEAL_COLUMNS: &str =
    "id, device_id, seal, document_sha256, purpose, issued_at, expires_at, consumed_at";

/// A terminal's print result settles its queue ticket: only a printed (or, on a one-way
/// printer, unconfirmed) ticket is called; one whose print failed is void.
fn apply_ticket_result(
    tx: &rusqlite::Transaction<'_>,
    payload: &serde_json::Value,
) -> rusqlite::Result<()> {
    let Some(t) = ticket_settlement(payload) else {
        return Ok(());
    };
    tx.execute(
        "UPDATE tickets SET state = ?5 WHERE hall = ?1 AND service = ?2 AND day = ?3 AND number = ?4",
        params![t.hall, t.service, t.day, t.number, t.state.as_str()],
    )?;
    queue::settle_in(
        tx,
        t.hall,
        t.day,
        t.number,
        t.state != TicketState::Void,
        &crate::queue::now_rfc3339(),
    )
}

/// What an `output.result` event says about the queue ticket it printed, if it printed one.
pub(crate) struct TicketSettlement<'a> {
    pub hall: &'a str,
    pub service: &'a str,
    pub day: &'a str,
    pub number: &'a str,
    pub state: TicketState,
}

pub(crate) fn ticket_settlement(payload: &serde_json::Value) -> Option<TicketSettlement<'_>> {
    let t = &payload["ticket"];
    let state = match payload["outcome"].as_str() {
        Some("printed") => TicketState::Printed,
        // Interrupted mid-print: the citizen may hold the ticket, so it stays callable.
        Some("unconfirmed") | Some("interrupted") => TicketState::Unconfirmed,
        _ => TicketState::Void,
    };
    Some(TicketSettlement {
        hall: t["hall"].as_str()?,
        service: t["service"].as_str()?,
        day: t["day"].as_str()?,
        number: t["number"].as_str()?,
        state,
    })
}

/// Why an event is refused before it is looked up, if it is.
pub(crate) fn check_event(
    device_id: &str,
    e: &kiosk_protocol::wire::EventEnvelope,
) -> Option<Rejection> {
    if e.device_id != device_id {
        return Some(Rejection {
            seq: e.seq,
            reason: format!(
                "event is from device {} but was sent as {device_id}",
                e.device_id
            ),
        });
    }
    if e.seq == 0 {
        return Some(Rejection {
            seq: 0,
            reason: "sequence numbers start at 1".into(),
        });
    }
    // The stores keep sequences as signed 64-bit integers; a number past that range would
    // collide with another once stored.
    if e.seq > i64::MAX as u64 {
        return Some(Rejection {
            seq: e.seq,
            reason: format!("sequence numbers go up to {}", i64::MAX),
        });
    }
    if payload_sha256(&e.payload) != e.payload_sha256 {
        return Some(Rejection {
            seq: e.seq,
            reason: "payload does not match its sha256".into(),
        });
    }
    None
}

pub(crate) fn conflict(seq: u64) -> Rejection {
    Rejection {
        seq,
        reason: format!("conflict: sequence {seq} was already applied with different content"),
    }
}

/// Walks the sequences held above the contiguous prefix `upto`: the prefix grows while there is
/// no hole; every hole after that is reported. Returns the new prefix and the holes.
pub(crate) fn walk_gaps(mut upto: i64, later: &[i64]) -> (i64, Vec<(u64, u64)>) {
    let mut gaps = Vec::new();
    let mut prev = upto;
    for &s in later {
        if s == prev + 1 {
            if gaps.is_empty() {
                upto = s;
            }
        } else {
            gaps.push(((prev + 1) as u64, (s - 1) as u64));
        }
        prev = s;
    }
    (upto, gaps)
}

/// Checks a chunk against what is held. `Ok(Some(status))`: the attachment is already complete
/// and nothing is to be written.
pub(crate) fn check_chunk(
    status: &AttachmentStatus,
    size: u64,
    offset: u64,
    len: usize,
) -> Result<Option<AttachmentStatus>, AttachmentError> {
    if status.size != size {
        return Err(AttachmentError::SizeConflict {
            known: status.size,
            given: size,
        });
    }
    if status.complete {
        return Ok(Some(status.clone()));
    }
    if offset != status.received {
        return Err(AttachmentError::Offset {
            received: status.received,
            given: offset,
        });
    }
    if offset + len as u64 > size {
        return Err(AttachmentError::TooLong);
    }
    Ok(None)
}

pub(crate) fn check_hash(sha256: &str) -> Result<(), AttachmentError> {
    if sha256.len() != 64
        || !sha256
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        return Err(AttachmentError::BadHash(sha256.to_string()));
    }
    Ok(())
}

/// Whether an authorisation may be used by `device_id` at `now`.
pub(crate) fn consume_check(
    a: &SealAuthorisation,
    device_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ConsumeRefusal> {
    if a.device_id != device_id {
        return Err(ConsumeRefusal::OtherDevice(a.id.clone()));
    }
    if let Some(at) = a.consumed_at {
        return Err(ConsumeRefusal::AlreadyUsed {
            id: a.id.clone(),
            at: at.to_rfc3339(),
        });
    }
    if now > a.expires_at {
        return Err(ConsumeRefusal::Expired {
            id: a.id.clone(),
            at: a.expires_at.to_rfc3339(),
        });
    }
    Ok(())
}

/// A new one-time authorisation for `req`.
pub(crate) fn new_authorisation(
    req: &SealAuthorisationRequest,
    now: chrono::DateTime<chrono::Utc>,
    valid: chrono::Duration,
) -> SealAuthorisation {
    SealAuthorisation {
        id: format!("SA-{}", uuid::Uuid::new_v4().simple()),
        device_id: req.device_id.clone(),
        seal: req.seal,
        document_sha256: req.document_sha256.clone(),
        purpose: req.purpose.clone(),
        issued_at: now,
        expires_at: now + valid,
        consumed_at: None,
    }
}

/// Why a command acknowledgement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckRefusal {
    #[error("no command {0} for this terminal")]
    Unknown(u64),
    #[error("command {0} expired before it was acknowledged")]
    Expired(u64),
    #[error("command {0} was already acknowledged with another result")]
    Conflict(u64),
}

/// Why a document is not accepted for distribution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishRefusal {
    #[error("version {given} is not newer than the {kind} already published (version {current})")]
    NotNewer {
        kind: String,
        given: u64,
        current: u64,
    },
}

/// What a ticket shows: its service's prefix and a 3-digit number (`A012`).
pub(crate) fn ticket_number(prefix: &str, seq: u32) -> String {
    format!("{prefix}{seq:03}")
}

/// Why a ticket is not issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketRefusal {
    #[error("no appointment {0} is booked at this hall")]
    UnknownAppointment(String),
    #[error("appointment {code} is booked for {service} on {day}")]
    AppointmentElsewhere {
        code: String,
        service: String,
        day: String,
    },
    #[error("appointment {code} was already checked in as ticket {ticket}")]
    AppointmentUsed { code: String, ticket: String },
}

/// Why an appointment is not booked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingRefusal {
    #[error("appointment code {0} is already booked with other details")]
    Conflict(String),
}

/// Checks a ticket request's appointment against the booking: `Ok` when it may be used now.
pub(crate) fn check_appointment(
    booked: Option<&Appointment>,
    code: &str,
    service: &str,
    day: &str,
) -> Result<(), TicketRefusal> {
    let Some(a) = booked else {
        return Err(TicketRefusal::UnknownAppointment(code.to_string()));
    };
    if a.service != service || a.day != day {
        return Err(TicketRefusal::AppointmentElsewhere {
            code: code.to_string(),
            service: a.service.clone(),
            day: a.day.clone(),
        });
    }
    if let Some(t) = &a.ticket {
        return Err(TicketRefusal::AppointmentUsed {
            code: code.to_string(),
            ticket: t.clone(),
        });
    }
    Ok(())
}

/// The columns `ticket_row` reads, with the people ahead counted at read time.
/// The people ahead are the tickets of the service that arrived earlier and still wait in the
/// queue (a ticket at a window, served, gone or void is not ahead of anyone). Two tickets
/// that arrived within the same clock tick are ordered by number, so the later one still has
/// the earlier one ahead.
pub(crate) const TICKET_COLUMNS: &str =
    "t.hall, t.service, t.day, t.seq, t.number, t.state, t.appointment,
     (SELECT COUNT(*) FROM queue_tickets q, queue_tickets me
        WHERE me.hall = t.hall AND me.day = t.day AND me.number = t.number
        AND q.hall = t.hall AND q.service = t.service AND q.day = t.day
        AND (q.arrived_at < me.arrived_at
             OR (q.arrived_at = me.arrived_at AND q.number < me.number))
        AND q.state IN ('issued', 'waiting'))";

/// How a one-time enrolment code is kept: only its hash is stored.
pub fn code_sha256(code: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        code.trim().to_ascii_uppercase().as_bytes(),
    ))
}

/// Why an enrolment is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrolRefusal {
    #[error("the enrolment code is wrong for this terminal")]
    WrongCode,
    #[error("the enrolment code was already used")]
    Used,
    #[error("the enrolment code expired")]
    Expired,
}

/// Whether a stored code (for `code_device`, used or not, expiring at `expires`) enrols
/// `device_id` at `now`.
pub(crate) fn enrol_check(
    code_device: &str,
    used: bool,
    expires: chrono::DateTime<chrono::Utc>,
    device_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), EnrolRefusal> {
    if code_device != device_id {
        Err(EnrolRefusal::WrongCode)
    } else if used {
        Err(EnrolRefusal::Used)
    } else if now > expires {
        Err(EnrolRefusal::Expired)
    } else {
        Ok(())
    }
}

/// How long a command waits for its terminal unless the request says otherwise.
pub const COMMAND_DEFAULT_EXPIRY_S: u64 = 86_400;

/// A command's state as of `now`.
pub(crate) fn command_state(c: &QueuedCommand, now: chrono::DateTime<chrono::Utc>) -> CommandState {
    match (&c.ack, c.delivered_at) {
        (Some(a), _) if a.ok => CommandState::Done,
        (Some(_), _) => CommandState::Failed,
        (None, _) if now > c.expires_at => CommandState::Expired,
        (None, Some(_)) => CommandState::Delivered,
        (None, None) => CommandState::Queued,
    }
}

/// Whether `ack` may be recorded for `c`: `Ok(true)` to record it, `Ok(false)` when the same
/// acknowledgement is already held (a resend after a lost reply).
pub(crate) fn ack_check(
    c: &QueuedCommand,
    ack: &CommandAck,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, AckRefusal> {
    match &c.ack {
        Some(held) if held == ack => Ok(false),
        Some(_) => Err(AckRefusal::Conflict(c.id)),
        None if now > c.expires_at => Err(AckRefusal::Expired(c.id)),
        None => Ok(true),
    }
}

pub(crate) fn expiry(
    req: &CommandRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    let s = req
        .expires_in_s
        .unwrap_or(COMMAND_DEFAULT_EXPIRY_S)
        .min(30 * 86_400);
    now + chrono::Duration::seconds(s as i64)
}

fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(v).unwrap_or_default()
}

const COMMAND_COLUMNS: &str =
    "id, device_id, command, queued_ms, expires_ms, delivered_ms, acked_ms, ack";

fn json<T: serde::de::DeserializeOwned>(i: usize, text: String) -> rusqlite::Result<T> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn command_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedCommand> {
    let ack = match r.get::<_, Option<String>>(7)? {
        Some(t) => Some(json(7, t)?),
        None => None,
    };
    Ok(QueuedCommand {
        id: r.get::<_, i64>(0)? as u64,
        device_id: r.get(1)?,
        command: json(2, r.get(2)?)?,
        state: CommandState::Queued,
        queued_at: from_ms(r.get(3)?),
        expires_at: from_ms(r.get(4)?),
        delivered_at: r.get::<_, Option<i64>>(5)?.map(from_ms),
        acked_at: r.get::<_, Option<i64>>(6)?.map(from_ms),
        ack,
    })
}

fn ticket_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Ticket> {
    Ok(Ticket {
        hall: r.get(0)?,
        service: r.get(1)?,
        day: r.get(2)?,
        seq: r.get::<_, i64>(3)? as u32,
        number: r.get(4)?,
        state: TicketState::parse(&r.get::<_, String>(5)?),
        appointment: r.get(6)?,
        ahead: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(u32::MAX),
        offline: false,
    })
}

fn appointment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Appointment> {
    Ok(Appointment {
        code: r.get(0)?,
        hall: r.get(1)?,
        service: r.get(2)?,
        day: r.get(3)?,
        ticket: r.get(4)?,
    })
}

fn time_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<chrono::DateTime<chrono::Utc>> {
    let s: String = r.get(i)?;
    chrono::DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn seal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SealAuthorisation> {
    Ok(SealAuthorisation {
        id: r.get(0)?,
        device_id: r.get(1)?,
        seal: r.get(2)?,
        document_sha256: r.get(3)?,
        purpose: r.get(4)?,
        issued_at: time_col(r, 5)?,
        expires_at: time_col(r, 6)?,
        consumed_at: match r.get::<_, Option<String>>(7)? {
            Some(_) => Some(time_col(r, 7)?),
            None => None,
        },
    })
}

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE devices (
        device_id   TEXT PRIMARY KEY,
        enrolled_at TEXT NOT NULL
    );",
    "CREATE TABLE events (
        device_id      TEXT NOT NULL,
        seq            INTEGER NOT NULL,
        uuid           TEXT NOT NULL,
        kind           TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        payload        TEXT NOT NULL,
        payload_sha256 TEXT NOT NULL,
        received_at    TEXT NOT NULL,
        PRIMARY KEY (device_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE device_progress (
        device_id       TEXT PRIMARY KEY,
        contiguous_upto INTEGER NOT NULL
    );",
    "CREATE TABLE heartbeats (
        device_id   TEXT PRIMARY KEY,
        at          TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body        TEXT NOT NULL,
        count       INTEGER NOT NULL
    );",
    "CREATE TABLE attachments (
        sha256     TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        received   INTEGER NOT NULL,
        complete   INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );",
    "CREATE TABLE tickets (
        hall       TEXT NOT NULL,
        service    TEXT NOT NULL,
        day        TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        number     TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        request_id TEXT NOT NULL UNIQUE,
        PRIMARY KEY (hall, service, day, seq)
    );",
    "ALTER TABLE tickets ADD COLUMN state TEXT NOT NULL DEFAULT 'issued';
    CREATE TABLE seal_authorisations (
        id              TEXT PRIMARY KEY,
        device_id       TEXT NOT NULL,
        seal            INTEGER NOT NULL,
        document_sha256 TEXT NOT NULL,
        purpose         TEXT NOT NULL,
        request_id      TEXT NOT NULL UNIQUE,
        issued_at       TEXT NOT NULL,
        expires_at      TEXT NOT NULL,
        consumed_at     TEXT
    );",
    "CREATE TABLE commands (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id    TEXT NOT NULL,
        request_id   TEXT NOT NULL UNIQUE,
        command      TEXT NOT NULL,
        queued_ms    INTEGER NOT NULL,
        expires_ms   INTEGER NOT NULL,
        delivered_ms INTEGER,
        acked_ms     INTEGER,
        ack          TEXT
    );
    CREATE INDEX commands_by_device ON commands (device_id, id);",
    "CREATE TABLE documents (
        kind     TEXT NOT NULL,
        version  INTEGER NOT NULL,
        scope    TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (kind, version)
    );",
    "ALTER TABLE devices ADD COLUMN public_key TEXT;
    CREATE TABLE enrolment_codes (
        code_sha256 TEXT PRIMARY KEY,
        device_id   TEXT NOT NULL,
        expires_ms  INTEGER NOT NULL,
        used_ms     INTEGER
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
        seq             INTEGER NOT NULL,
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
        printed       INTEGER NOT NULL DEFAULT 0
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
        seq           INTEGER NOT NULL,
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
        id   INTEGER NOT NULL,
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
        size     INTEGER NOT NULL,
        added_at TEXT NOT NULL
    );",
];

/// Why a seal authorisation cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeRefusal {
    #[error("no seal authorisation {0}")]
    Unknown(String),
    #[error("seal authorisation {0} was issued to another terminal")]
    OtherDevice(String),
    #[error("seal authorisation {id} was already used at {at}")]
    AlreadyUsed { id: String, at: String },
    #[error("seal authorisation {id} expired at {at}")]
    Expired { id: String, at: String },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path} has schema version {found}, newer than this build knows ({known}); upgrade the centre")]
    TooNew {
        path: String,
        found: u32,
        known: u32,
    },
    #[error("database query failed: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("PostgreSQL {url}: {message}")]
    PgOpen { url: String, message: String },
    #[error("PostgreSQL query failed: {0}")]
    Postgres(String),
    #[error("the store's files: {0}")]
    Io(String),
}

/// The server's own words (SQLSTATE and message) rather than the client's bare "db error".
pub fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Postgres(pg_message(&e))
    }
}

/// Why an attachment chunk was refused.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    #[error("{0:?} is not a sha256 (64 lowercase hex digits)")]
    BadHash(String),
    #[error("the attachment was announced with size {known}, not {given}")]
    SizeConflict { known: u64, given: u64 },
    #[error("chunk at offset {given}, but {received} bytes are held: resume from there")]
    Offset { received: u64, given: u64 },
    #[error("chunk would run past the announced size")]
    TooLong,
    #[error("the received bytes do not hash to the attachment's sha256; the upload starts over")]
    HashMismatch,
    #[error("attachment storage: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    /// Held across an attachment chunk's check, file write and status update: two uploads of
    /// the same file (a terminal's loop and its "upload now") must not interleave their writes
    /// to the part file, or the finished file no longer hashes to its name.
    attachment_writes: Arc<Mutex<()>>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let open_err = |source| StoreError::Open {
            path: shown.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                open_err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("cannot create {}: {e}", dir.display())),
                ))
            })?;
        }
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        migrate(&mut conn, &shown)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
            attachment_writes: Arc::new(Mutex::new(())),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection. Callers on the async executor go through `spawn_blocking`.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&conn)?)
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
    }

    pub fn enrolled_devices(&self) -> Result<u64, StoreError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM devices", [], |r| r.get::<_, i64>(0)))
            .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Records a device as enrolled; enrolling twice keeps the first time.
    pub fn enrol_device(&self, device_id: &str, at: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            let existing: Option<String> = c
                .query_row(
                    "SELECT enrolled_at FROM devices WHERE device_id = ?1",
                    params![device_id],
                    |r| r.get(0),
                )
                .optional()?;
            if existing.is_some() {
                return Ok(false);
            }
            c.execute(
                "INSERT INTO devices (device_id, enrolled_at) VALUES (?1, ?2)",
                params![device_id, at],
            )?;
            Ok(true)
        })
    }
}

impl SqliteStore {
    /// Applies a batch from one device exactly once per `(device, seq)`, in one transaction:
    /// a resend with the same hash is a duplicate (acknowledged, not applied again); the same key
    /// with a different hash is rejected as a conflict.
    pub fn ingest(
        &self,
        device_id: &str,
        batch: &IngestBatch,
        now: &str,
    ) -> Result<IngestResult, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let mut result = IngestResult::default();
        for e in &batch.events {
            if let Some(r) = check_event(device_id, e) {
                result.rejected.push(r);
                continue;
            }
            let seq = i64::try_from(e.seq).unwrap_or(i64::MAX);
            let existing: Option<String> = tx
                .query_row(
                    "SELECT payload_sha256 FROM events WHERE device_id = ?1 AND seq = ?2",
                    params![device_id, seq],
                    |r| r.get(0),
                )
                .optional()?;
            match existing {
                Some(h) if h == e.payload_sha256 => result.duplicates.push(e.seq),
                Some(_) => result.rejected.push(conflict(e.seq)),
                None => {
                    tx.execute(
                        "INSERT INTO events (device_id, seq, uuid, kind, created_at, payload, payload_sha256, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            device_id,
                            seq,
                            e.uuid,
                            e.kind,
                            e.created_at.to_rfc3339(),
                            canonical_json(&e.payload),
                            e.payload_sha256,
                            now
                        ],
                    )?;
                    result.accepted.push(e.seq);
                    if let Some(t) = crate::queue::offline_ticket_in(e) {
                        blocks::offline_ticket_in(&tx, device_id, &t)?;
                    }
                    if let Some(r) = crate::queue::ticket_rating_in(e) {
                        queue::rate_in(&tx, device_id, &r)?;
                    }
                    if e.kind == "output.result" {
                        apply_ticket_result(&tx, &e.payload)?;
                    }
                    if let Some(filing) = crate::cases::filing_in(e) {
                        // Filed offline: the case number is made now; a filing the centre
                        // already took online is the same case.
                        if let Err(r) =
                            cases::file_case_in(&tx, &filing, &crate::cases::cst_day(), now)?
                        {
                            tracing::warn!(device = device_id, seq = e.seq, refusal = %r, "journal filing not taken");
                        }
                    }
                    if let Some((case, level, tags)) = crate::cases::rating_in(e) {
                        cases::rate_case_in(&tx, &case, level, &tags, device_id, now)?;
                    }
                    if let Some(print) = crate::documents::print_in(e) {
                        documents::count_print_in(&tx, &print, now)?;
                    }
                }
            }
        }
        let upto: i64 = tx
            .query_row(
                "SELECT contiguous_upto FROM device_progress WHERE device_id = ?1",
                params![device_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let later: Vec<i64> = {
            let mut st = tx
                .prepare("SELECT seq FROM events WHERE device_id = ?1 AND seq > ?2 ORDER BY seq")?;
            let rows = st.query_map(params![device_id, upto], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let (upto, gaps) = walk_gaps(upto, &later);
        result.gaps = gaps;
        tx.execute(
            "INSERT INTO device_progress (device_id, contiguous_upto) VALUES (?1, ?2)
             ON CONFLICT(device_id) DO UPDATE SET contiguous_upto = excluded.contiguous_upto",
            params![device_id, upto],
        )?;
        tx.commit()?;
        result.next_expected = upto as u64 + 1;
        if !result.gaps.is_empty() {
            tracing::warn!(device = device_id, gaps = ?result.gaps, "sequence gaps");
        }
        Ok(result)
    }

    /// Keeps a device's latest heartbeat (the monitoring view) and counts them.
    pub fn record_heartbeat(&self, hb: &Heartbeat, now: &str) -> Result<u64, StoreError> {
        let body = serde_json::to_string(hb).unwrap_or_default();
        self.with(|c| {
            c.query_row(
                "INSERT INTO heartbeats (device_id, at, received_at, body, count) VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT(device_id) DO UPDATE SET at = excluded.at, received_at = excluded.received_at,
                     body = excluded.body, count = count + 1
                 RETURNING count",
                params![hb.device_id, hb.at.to_rfc3339(), now, body],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n as u64)
    }

    /// A device's latest heartbeat, if it ever sent one.
    pub fn latest_heartbeat(&self, device_id: &str) -> Result<Option<Heartbeat>, StoreError> {
        let body: Option<String> = self.with(|c| {
            c.query_row(
                "SELECT body FROM heartbeats WHERE device_id = ?1",
                params![device_id],
                |r| r.get(0),
            )
            .optional()
        })?;
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }

    fn blob_dir(&self) -> PathBuf {
        self.path
            .parent()
            .unwrap_or(Path::new("."))
            .join("attachments")
    }

    pub fn attachment_status(&self, sha256: &str) -> Result<Option<AttachmentStatus>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT size, received, complete FROM attachments WHERE sha256 = ?1",
                params![sha256],
                |r| {
                    Ok(AttachmentStatus {
                        sha256: sha256.to_string(),
                        size: r.get::<_, i64>(0)? as u64,
                        received: r.get::<_, i64>(1)? as u64,
                        complete: r.get::<_, i64>(2)? != 0,
                    })
                },
            )
            .optional()
        })
    }

    /// Appends one chunk of an attachment at `offset`; the last chunk completes it once the
    /// bytes hash to the announced sha256. Re-sending a completed attachment is a no-op.
    pub fn put_attachment_chunk(
        &self,
        sha256: &str,
        size: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<AttachmentStatus, AttachmentError> {
        check_hash(sha256)?;
        let _one_writer = self
            .attachment_writes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let status = match self.attachment_status(sha256)? {
            Some(s) => s,
            None => {
                self.with(|c| {
                    c.execute(
                        "INSERT OR IGNORE INTO attachments (sha256, size, received, complete, created_at) VALUES (?1, ?2, 0, 0, datetime('now'))",
                        params![sha256, size as i64],
                    )
                })?;
                AttachmentStatus {
                    sha256: sha256.into(),
                    size,
                    received: 0,
                    complete: false,
                }
            }
        };
        if let Some(done) = check_chunk(&status, size, offset, bytes.len())? {
            return Ok(done);
        }
        let dir = self.blob_dir();
        std::fs::create_dir_all(&dir)?;
        let part = dir.join(format!("{sha256}.part"));
        {
            use std::io::{Seek, Write};
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&part)?;
            // Whatever a crashed earlier write left past `received` is overwritten.
            f.set_len(offset)?;
            f.seek(std::io::SeekFrom::Start(offset))?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        let received = offset + bytes.len() as u64;
        let complete = if received == size {
            let actual = kiosk_protocol::wire::sha256_file(&part)?;
            if actual != sha256 {
                std::fs::remove_file(&part)?;
                self.with(|c| {
                    c.execute(
                        "UPDATE attachments SET received = 0 WHERE sha256 = ?1",
                        params![sha256],
                    )
                })?;
                return Err(AttachmentError::HashMismatch);
            }
            std::fs::rename(&part, dir.join(sha256))?;
            true
        } else {
            false
        };
        self.with(|c| {
            c.execute(
                "UPDATE attachments SET received = ?2, complete = ?3 WHERE sha256 = ?1",
                params![sha256, received as i64, complete as i64],
            )
        })?;
        Ok(AttachmentStatus {
            sha256: sha256.into(),
            size,
            received,
            complete,
        })
    }

    /// Issues the next ticket number of a hall's service for `day`; the same request id always
    /// gets the same ticket. With an appointment, the booking must be for this service and day
    /// and not checked in yet; it is marked checked in with the ticket.
    pub fn issue_ticket(
        &self,
        hall: &str,
        service: &str,
        day: &str,
        req: &TicketRequest,
        priority: &[PriorityReason],
    ) -> Result<Result<Ticket, TicketRefusal>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let existing = tx
            .query_row(
                &format!("SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.request_id = ?1"),
                params![req.request_id],
                ticket_row,
            )
            .optional()?;
        if let Some(t) = existing {
            return Ok(Ok(t));
        }
        if let Some(code) = &req.appointment {
            let booked = tx
                .query_row(
                    "SELECT code, hall, service, day, ticket FROM appointments WHERE hall = ?1 AND code = ?2",
                    params![hall, code],
                    appointment_row,
                )
                .optional()?;
            if let Err(refusal) = check_appointment(booked.as_ref(), code, service, day) {
                return Ok(Err(refusal));
            }
        }
        let seq = blocks::next_seq_in(&tx, hall, service, day)?;
        let number = ticket_number(&req.prefix, seq as u32);
        tx.execute(
            "INSERT INTO tickets (hall, service, day, seq, number, device_id, request_id, appointment, holder) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![hall, service, day, seq, number, req.device_id, req.request_id, req.appointment, req.holder],
        )?;
        if let Some(code) = &req.appointment {
            tx.execute(
                "UPDATE appointments SET ticket = ?3 WHERE hall = ?1 AND code = ?2",
                params![hall, code, number],
            )?;
        }
        queue::admit_in(
            &tx,
            hall,
            crate::queue::new_ticket(&number, service, day, priority),
            &crate::queue::now_rfc3339(),
        )?;
        let t = tx.query_row(
            &format!("SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.request_id = ?1"),
            params![req.request_id],
            ticket_row,
        )?;
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
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {TICKET_COLUMNS} FROM tickets t
                     WHERE t.hall = ?1 AND t.service = ?2 AND t.day = ?3 AND t.number = ?4"
                ),
                params![hall, service, day, number],
                ticket_row,
            )
            .optional()
        })
    }

    /// Registers a booked appointment; the same code with the same details again is accepted.
    pub fn book_appointment(
        &self,
        hall: &str,
        req: &AppointmentRequest,
    ) -> Result<Result<Appointment, BookingRefusal>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO appointments (hall, code, service, day) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (hall, code) DO NOTHING",
            params![hall, req.code, req.service, req.day],
        )?;
        let a = tx.query_row(
            "SELECT code, hall, service, day, ticket FROM appointments WHERE hall = ?1 AND code = ?2",
            params![hall, req.code],
            appointment_row,
        )?;
        tx.commit()?;
        if a.service != req.service || a.day != req.day {
            return Ok(Err(BookingRefusal::Conflict(req.code.clone())));
        }
        Ok(Ok(a))
    }

    pub fn appointment(&self, hall: &str, code: &str) -> Result<Option<Appointment>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT code, hall, service, day, ticket FROM appointments WHERE hall = ?1 AND code = ?2",
                params![hall, code],
                appointment_row,
            )
            .optional()
        })
    }

    /// Issues (or, for a repeated request id, returns) a one-time seal authorisation valid
    /// for `valid`.
    pub fn authorise_seal(
        &self,
        req: &SealAuthorisationRequest,
        now: chrono::DateTime<chrono::Utc>,
        valid: chrono::Duration,
    ) -> Result<SealAuthorisation, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        if let Some(a) = tx
            .query_row(
                &format!("SELECT {SEAL_COLUMNS} FROM seal_authorisations WHERE request_id = ?1"),
                params![req.request_id],
                seal_row,
            )
            .optional()?
        {
            return Ok(a);
        }
        let a = new_authorisation(req, now, valid);
        tx.execute(
            "INSERT INTO seal_authorisations (id, device_id, seal, document_sha256, purpose, request_id, issued_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                a.id,
                a.device_id,
                a.seal,
                a.document_sha256,
                a.purpose,
                req.request_id,
                a.issued_at.to_rfc3339(),
                a.expires_at.to_rfc3339()
            ],
        )?;
        tx.commit()?;
        Ok(a)
    }

    /// Uses an authorisation, once.
    pub fn consume_seal(
        &self,
        id: &str,
        device_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<SealAuthorisation, ConsumeRefusal>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let Some(mut a) = tx
            .query_row(
                &format!("SELECT {SEAL_COLUMNS} FROM seal_authorisations WHERE id = ?1"),
                params![id],
                seal_row,
            )
            .optional()?
        else {
            return Ok(Err(ConsumeRefusal::Unknown(id.to_string())));
        };
        if let Err(refusal) = consume_check(&a, device_id, now) {
            return Ok(Err(refusal));
        }
        tx.execute(
            "UPDATE seal_authorisations SET consumed_at = ?2 WHERE id = ?1 AND consumed_at IS NULL",
            params![id, now.to_rfc3339()],
        )?;
        tx.commit()?;
        a.consumed_at = Some(now);
        Ok(Ok(a))
    }

    /// Queues a command for a terminal; a repeated request id returns the command it queued.
    pub fn queue_command(
        &self,
        device_id: &str,
        req: &CommandRequest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<QueuedCommand, StoreError> {
        let command = serde_json::to_string(&req.command).unwrap_or_default();
        let mut c = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO commands (device_id, request_id, command, queued_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![device_id, req.request_id, command, ms(now), ms(expiry(req, now))],
            )?;
            c.query_row(
                &format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE request_id = ?1"),
                params![req.request_id],
                command_row,
            )
        })?;
        c.state = command_state(&c, now);
        Ok(c)
    }

    /// Commands the terminal has not acknowledged and that have not expired, oldest first;
    /// they are marked delivered.
    pub fn pending_commands(
        &self,
        device_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<QueuedCommand>, StoreError> {
        let mut list = self.with(|c| {
            c.execute(
                "UPDATE commands SET delivered_ms = ?2
                 WHERE device_id = ?1 AND acked_ms IS NULL AND expires_ms >= ?2 AND delivered_ms IS NULL",
                params![device_id, ms(now)],
            )?;
            let mut st = c.prepare(&format!(
                "SELECT {COMMAND_COLUMNS} FROM commands
                 WHERE device_id = ?1 AND acked_ms IS NULL AND expires_ms >= ?2 ORDER BY id"
            ))?;
            let rows = st.query_map(params![device_id, ms(now)], command_row)?;
            rows.collect::<Result<Vec<_>, _>>()
        })?;
        for c in &mut list {
            c.state = command_state(c, now);
        }
        Ok(list)
    }

    /// Records a terminal's acknowledgement, once.
    pub fn ack_command(
        &self,
        device_id: &str,
        id: u64,
        ack: &CommandAck,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<QueuedCommand, AckRefusal>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let Some(mut c) = tx
            .query_row(
                &format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE id = ?1 AND device_id = ?2"),
                params![id as i64, device_id],
                command_row,
            )
            .optional()?
        else {
            return Ok(Err(AckRefusal::Unknown(id)));
        };
        match ack_check(&c, ack, now) {
            Err(refusal) => return Ok(Err(refusal)),
            Ok(false) => {}
            Ok(true) => {
                tx.execute(
                    "UPDATE commands SET acked_ms = ?2, ack = ?3 WHERE id = ?1",
                    params![
                        id as i64,
                        ms(now),
                        serde_json::to_string(ack).unwrap_or_default()
                    ],
                )?;
                // As stored: millisecond precision.
                c.acked_at = Some(from_ms(ms(now)));
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
        let c = self.with(|c| {
            c.query_row(
                &format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE id = ?1 AND device_id = ?2"),
                params![id as i64, device_id],
                command_row,
            )
            .optional()
        })?;
        Ok(c.map(|mut c| {
            c.state = command_state(&c, now);
            c
        }))
    }

    /// Records a one-time enrolment code (by its hash) for a terminal.
    pub fn create_enrolment_code(
        &self,
        device_id: &str,
        code_sha256: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO enrolment_codes (code_sha256, device_id, expires_ms) VALUES (?1, ?2, ?3)",
                params![code_sha256, device_id, ms(expires_at)],
            )
        })
        .map(drop)
    }

    /// Whether `code_sha256` would enrol `device_id` now, without using it.
    pub fn check_enrolment_code(
        &self,
        device_id: &str,
        code_sha256: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<(), EnrolRefusal>, StoreError> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT device_id, expires_ms, used_ms FROM enrolment_codes WHERE code_sha256 = ?1",
                params![code_sha256],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .optional()
        })?;
        Ok(match row {
            None => Err(EnrolRefusal::WrongCode),
            Some((code_device, expires, used)) => enrol_check(
                &code_device,
                used.is_some(),
                from_ms(expires),
                device_id,
                now,
            ),
        })
    }

    /// Uses a one-time code to register a terminal's public key.
    pub fn enrol_with_code(
        &self,
        device_id: &str,
        code_sha256: &str,
        public_key: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<(), EnrolRefusal>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let Some((code_device, expires, used)) = tx
            .query_row(
                "SELECT device_id, expires_ms, used_ms FROM enrolment_codes WHERE code_sha256 = ?1",
                params![code_sha256],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .optional()?
        else {
            return Ok(Err(EnrolRefusal::WrongCode));
        };
        if let Err(e) = enrol_check(
            &code_device,
            used.is_some(),
            from_ms(expires),
            device_id,
            now,
        ) {
            return Ok(Err(e));
        }
        tx.execute(
            "UPDATE enrolment_codes SET used_ms = ?2 WHERE code_sha256 = ?1",
            params![code_sha256, ms(now)],
        )?;
        tx.execute(
            "INSERT INTO devices (device_id, enrolled_at, public_key) VALUES (?1, ?2, ?3)
             ON CONFLICT(device_id) DO UPDATE SET public_key = excluded.public_key",
            params![device_id, now.to_rfc3339(), public_key],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }

    /// The public key a terminal enrolled with, if it did.
    pub fn device_key(&self, device_id: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT public_key FROM devices WHERE device_id = ?1",
                params![device_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
        })
        .map(Option::flatten)
    }

    /// Stores a signed document for distribution; its version must exceed every earlier one of
    /// its kind.
    pub fn publish_document(
        &self,
        doc: &SignedDocument,
    ) -> Result<Result<(), PublishRefusal>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let current: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM documents WHERE kind = ?1",
            params![doc.kind.as_str()],
            |r| r.get(0),
        )?;
        if doc.version <= current as u64 {
            return Ok(Err(PublishRefusal::NotNewer {
                kind: doc.kind.as_str().into(),
                given: doc.version,
                current: current as u64,
            }));
        }
        tx.execute(
            "INSERT INTO documents (kind, version, scope, document) VALUES (?1, ?2, ?3, ?4)",
            params![
                doc.kind.as_str(),
                doc.version as i64,
                doc.scope,
                serde_json::to_string(doc).unwrap_or_default()
            ],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }

    /// The newest document of `kind` for `device_id` (addressed to it or to all), if newer than
    /// `after`.
    pub fn latest_document(
        &self,
        kind: DocumentKind,
        device_id: &str,
        after: u64,
    ) -> Result<Option<SignedDocument>, StoreError> {
        let text: Option<String> = self.with(|c| {
            c.query_row(
                "SELECT document FROM documents
                 WHERE kind = ?1 AND (scope = 'all' OR scope = ?2) AND version > ?3
                 ORDER BY version DESC LIMIT 1",
                params![kind.as_str(), device_id, after.min(i64::MAX as u64) as i64],
                |r| r.get(0),
            )
            .optional()
        })?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// How many events the centre holds for a device, and their sequence numbers (for tests
    /// and the technicians' console).
    pub fn event_seqs(&self, device_id: &str) -> Result<Vec<u64>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare("SELECT seq FROM events WHERE device_id = ?1 ORDER BY seq")?;
            let rows = st.query_map(params![device_id], |r| r.get::<_, i64>(0))?;
            rows.map(|r| r.map(|v| v as u64)).collect()
        })
    }
}

fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as u32;
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_string(),
            found,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The storage rules common to both backends are in tests/store_contract.rs.

    #[test]
    fn migrates_persists_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/centre.db");
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), 14);
        assert!(s.enrol_device("KSK-0001", "2026-11-22T09:00:00Z").unwrap());
        assert!(!s.enrol_device("KSK-0001", "2026-11-22T10:00:00Z").unwrap());
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.enrolled_devices().unwrap(), 1);
        s.with(|c| c.pragma_update(None, "user_version", 99))
            .unwrap();
        drop(s);
        match SqliteStore::open(&path) {
            Err(StoreError::TooNew { found: 99, .. }) => {}
            other => panic!("expected TooNew, got {:?}", other.err()),
        }
    }
}
