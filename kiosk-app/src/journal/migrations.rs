//! Versioned schema of the terminal's journal database. `PRAGMA user_version` holds the version;
//! each step upgrades one version inside a transaction, so a terminal updated in the field
//! carries its unsent events, dead letters and records across. A database written by a newer
//! kiosk is refused rather than guessed at.
//!
//! Version 0 with tables present is the schema the outbox had before versions were numbered
//! (it created its tables with `IF NOT EXISTS` and never set `user_version`); it is the same as
//! version 1, so that step only records the number.

use rusqlite::{Connection, Transaction};

/// One upgrade: from `version - 1` to `version`.
struct Step {
    version: u32,
    what: &'static str,
    sql: &'static str,
}

/// The schema the outbox had when it first shipped (identical to what it created unnumbered).
const V1: &str = "
CREATE TABLE IF NOT EXISTS outbox_sequence (
    device_id TEXT PRIMARY KEY,
    next_seq  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq            INTEGER PRIMARY KEY,
    uuid           TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    payload        TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'acknowledged', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    reason         TEXT,
    acked_at       TEXT
);
CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (state, seq);
CREATE TABLE IF NOT EXISTS documents (
    kind       TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    document   TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS remote_commands (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    ack         TEXT
);
";

/// Version 2: events are looked up by kind (the reconciliation at start joins output intents to
/// their results), and a remote command records when it finished.
const V2: &str = "
CREATE INDEX IF NOT EXISTS outbox_by_kind ON outbox (kind, seq);
ALTER TABLE remote_commands ADD COLUMN finished_at TEXT;
";

/// Version 3: the number blocks a ticket machine reserved, to number tickets on its own while
/// the centre cannot be reached (`next` is the next number it will issue).
const V3: &str = "
CREATE TABLE IF NOT EXISTS number_blocks (
    hall    TEXT NOT NULL,
    service TEXT NOT NULL,
    day     TEXT NOT NULL,
    first   INTEGER NOT NULL,
    last    INTEGER NOT NULL,
    next    INTEGER NOT NULL,
    PRIMARY KEY (hall, service, day, first)
);
";

/// Version 4: the audit log of sensitive operations, an SM3 hash chain (see `journal::audit`).
/// Triggers refuse every UPDATE and DELETE, so the kiosk itself can only append; someone who
/// edits the file by other means breaks the chain, which `kiosk audit verify` finds.
const V4: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    outbox_seq INTEGER,
    body       TEXT NOT NULL,
    prev       TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";
/// Version 5: the supplies' counters (prints since a roll or tray was replaced), kept by the
/// outbox as it records each successful print, so no print path can forget to count.
const V5: &str = "
CREATE TABLE IF NOT EXISTS supplies (
    device TEXT PRIMARY KEY,
    used   INTEGER NOT NULL,
    since  TEXT NOT NULL
);
";
const STEPS: &[Step] = &[
    Step {
        version: 1,
        what: "the first outbox schema",
        sql: V1,
    },
    Step {
        version: 2,
        what: "index by kind; remote commands' finish time",
        sql: V2,
    },
    Step {
        version: 3,
        what: "reserved ticket number blocks",
        sql: V3,
    },
    Step {
        version: 4,
        what: "the audit log's hash chain",
        sql: V4,
    },
    Step {
        version: 5,
        what: "the supplies' counters",
        sql: V5,
    },
];

/// The version this kiosk writes.
pub const LATEST: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "the journal database is at schema version {found}, newer than this kiosk understands \
         ({latest}); it was written by a newer HallKit. Nothing was changed: install that \
         version again, or move the database aside to start a new one"
    )]
    Newer { found: u32, latest: u32 },
    #[error("upgrading the journal database to version {version} ({what}): {source}")]
    Step {
        version: u32,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("journal database: {0}")]
    Db(#[from] rusqlite::Error),
}

pub fn version(conn: &Connection) -> Result<u32, rusqlite::Error> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
}

/// Brings the database to [`LATEST`]; returns the version it found.
pub fn migrate(conn: &mut Connection) -> Result<u32, MigrationError> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(MigrationError::Newer {
            found,
            latest: LATEST,
        });
    }
    for step in STEPS.iter().filter(|s| s.version > found) {
        let tx = conn.transaction()?;
        apply(&tx, step).map_err(|source| MigrationError::Step {
            version: step.version,
            what: step.what,
            source,
        })?;
        tx.commit().map_err(|source| MigrationError::Step {
            version: step.version,
            what: step.what,
            source,
        })?;
        if found > 0 || step.version > 1 {
            tracing::info!(
                version = step.version,
                what = step.what,
                "journal schema upgraded"
            );
        }
    }
    Ok(found)
}

fn apply(tx: &Transaction<'_>, step: &Step) -> Result<(), rusqlite::Error> {
    tx.execute_batch(step.sql)?;
    // user_version cannot take a bound parameter; the number comes from the table above.
    tx.execute_batch(&format!("PRAGMA user_version = {}", step.version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::outbox::{CommandRecord, Outbox};
    use kiosk_hal::clock::SystemClock;
    use kiosk_protocol::signing::DocumentKind;

    /// `tests/fixtures/outbox-v1.db` was written by the outbox as it shipped before versions were
    /// numbered (commit fc5b45e): 15 events — 4 acknowledged, 1 dead-lettered, 2 sent awaiting an
    /// answer, 8 pending (one an output intent without a result) — a catalogue document in
    /// force at version 3, and remote commands 41 (started, never finished) and 42 (finished).
    fn v1_copy(dir: &std::path::Path) -> std::path::PathBuf {
        let src =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/outbox-v1.db");
        let dst = dir.join("outbox.db");
        std::fs::copy(src, &dst).unwrap();
        dst
    }

    #[test]
    fn a_database_of_the_first_schema_upgrades_in_place_with_nothing_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = v1_copy(dir.path());
        {
            let c = Connection::open(&path).unwrap();
            assert_eq!(
                version(&c).unwrap(),
                0,
                "the fixture predates numbered versions"
            );
        }
        let mut ob = Outbox::open(&path, "KSK-320583-0001", SystemClock::shared()).unwrap();
        let c = Connection::open(&path).unwrap();
        assert_eq!(version(&c).unwrap(), LATEST);
        // Every event is there in its state (sent ones go back to pending on open, as they
        // always did: the centre's idempotent ingest makes the resend harmless).
        let counts = ob.counts().unwrap();
        assert_eq!(
            (
                counts.pending,
                counts.sent,
                counts.acknowledged,
                counts.dead
            ),
            (10, 0, 4, 1)
        );
        let dead = ob.dead_letters().unwrap();
        assert_eq!(
            (dead[0].seq, dead[0].reason.as_str()),
            (5, "conflict: same key, other content")
        );
        let batch = ob.next_batch(100).unwrap();
        assert_eq!(
            batch.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (6..=15).collect::<Vec<_>>()
        );
        assert_eq!(batch[0].payload["text"], "办件 application");
        // Hashes still match their payloads: the centre will accept them unchanged.
        for e in &batch {
            assert_eq!(
                e.payload_sha256,
                kiosk_protocol::wire::payload_sha256(&e.payload)
            );
        }
        // Numbering continues where it stopped; the document and commands are as they were.
        assert_eq!(ob.next_seq().unwrap(), 16);
        assert_eq!(
            ob.document(DocumentKind::Catalogue)
                .unwrap()
                .unwrap()
                .version,
            3
        );
        assert_eq!(ob.command_record(41).unwrap(), Some(CommandRecord::Started));
        assert!(matches!(ob.command_record(42).unwrap(), Some(CommandRecord::Finished(a)) if a.ok));
        assert_eq!(ob.unfinished_outputs().unwrap().len(), 1);
        // The new column is in use from now on.
        ob.command_started(43).unwrap();
        ob.command_finished(
            43,
            &kiosk_protocol::wire::RemoteCommand::UploadNow,
            &kiosk_protocol::wire::CommandAck {
                ok: true,
                result: serde_json::Value::Null,
                detail: String::new(),
            },
        )
        .unwrap();
        let finished: Option<String> = c
            .query_row(
                "SELECT finished_at FROM remote_commands WHERE id = 43",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(finished.is_some());
        // Opening again changes nothing.
        drop(ob);
        let ob = Outbox::open(&path, "KSK-320583-0001", SystemClock::shared()).unwrap();
        assert_eq!(ob.next_seq().unwrap(), 17);
    }

    #[test]
    fn a_newer_schema_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = v1_copy(dir.path());
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(&format!("PRAGMA user_version = {}", LATEST + 1))
                .unwrap();
        }
        let e = Outbox::open(&path, "KSK-320583-0001", SystemClock::shared())
            .err()
            .expect("refused");
        let text = e.to_string();
        assert!(
            text.contains(&format!("schema version {}", LATEST + 1)),
            "{text}"
        );
        assert!(text.contains("newer than this kiosk understands"), "{text}");
        let c = Connection::open(&path).unwrap();
        assert_eq!(version(&c).unwrap(), LATEST + 1);
        let states: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE state = 'sent'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(states, 2, "nothing was requeued in a database it refused");
    }

    #[test]
    fn a_new_database_starts_at_the_latest_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        Outbox::open(&path, "KSK-1", SystemClock::shared()).unwrap();
        let c = Connection::open(&path).unwrap();
        assert_eq!(version(&c).unwrap(), LATEST);
    }
}
