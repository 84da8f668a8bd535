//! The durable outbox: nothing a citizen was told is done may be lost or applied twice.
//!
//! SQLite in WAL mode with `synchronous=FULL`. A business write and its outbox event commit in
//! one transaction, and the event's per-device sequence number is assigned inside it, so the UI
//! says "done" only after a commit that holds both. Events move pending → sent → acknowledged;
//! the centre's refusals are dead-lettered with its reason, never dropped. Sequence numbers come
//! from a counter row, not from the table, so compaction can never make one reused.

use std::path::Path;

use chrono::{DateTime, Utc};
use kiosk_hal::clock::SharedClock;
use kiosk_protocol::wire::{canonical_json, payload_sha256, EventEnvelope, IngestResult};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::Value;

/// What this terminal knows of a remote command it was given.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandRecord {
    /// Begun and never finished: the terminal stopped while running it.
    Started,
    /// Finished with this acknowledgement (to be sent, or sent again).
    Finished(kiosk_protocol::wire::CommandAck),
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The disk (or the database's size limit) is full: new citizen transactions must be
    /// refused with a clear message; nothing already queued is touched.
    #[error("the terminal's storage is full; new transactions are refused until a technician frees space")]
    DiskFull,
    #[error("outbox database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("outbox payload: {0}")]
    Payload(#[from] serde_json::Error),
    #[error(transparent)]
    Schema(#[from] super::migrations::MigrationError),
}

fn classify(e: rusqlite::Error) -> OutboxError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => OutboxError::DiskFull,
        _ => OutboxError::Db(e),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sent: u64,
    pub acknowledged: u64,
    pub dead: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub seq: u64,
    pub kind: String,
    pub reason: String,
}

pub struct Outbox {
    conn: Connection,
    device_id: String,
    clock: SharedClock,
}

/// A business transaction with the outbox inside it.
pub struct OutboxTx<'a> {
    tx: Transaction<'a>,
    device_id: &'a str,
    now: DateTime<Utc>,
    events: Vec<EventEnvelope>,
}

impl OutboxTx<'_> {
    /// The connection, for the business write that goes with the event.
    pub fn conn(&self) -> &Connection {
        &self.tx
    }

    /// Queues an event; its sequence number is taken in this transaction.
    pub fn enqueue(&mut self, kind: &str, payload: Value) -> Result<EventEnvelope, OutboxError> {
        let seq: i64 = self
            .tx
            .query_row(
                "UPDATE outbox_sequence SET next_seq = next_seq + 1 WHERE device_id = ?1 RETURNING next_seq - 1",
                params![self.device_id],
                |r| r.get(0),
            )
            .map_err(classify)?;
        let env = EventEnvelope {
            device_id: self.device_id.to_string(),
            seq: seq as u64,
            uuid: uuid::Uuid::new_v4().to_string(),
            kind: kind.to_string(),
            created_at: self.now,
            payload_sha256: payload_sha256(&payload),
            payload,
        };
        self.tx
            .execute(
                "INSERT INTO outbox (seq, uuid, kind, created_at, payload, payload_sha256, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
                params![
                    seq,
                    env.uuid,
                    env.kind,
                    env.created_at.to_rfc3339(),
                    canonical_json(&env.payload),
                    env.payload_sha256
                ],
            )
            .map_err(classify)?;
        // A sensitive operation is audited in the same transaction: in both or in neither.
        if super::audit::is_sensitive(kind, &env.payload) {
            super::audit::append(
                &self.tx,
                &env.created_at.to_rfc3339(),
                kind,
                Some(env.seq),
                &canonical_json(&env.payload),
            )
            .map_err(classify)?;
        }
        if kind == "device.action.complete" {
            super::supplies::count(&self.tx, &env.payload, &env.created_at.to_rfc3339())
                .map_err(classify)?;
        }
        self.events.push(env.clone());
        Ok(env)
    }
}

impl Outbox {
    pub fn open(path: &Path, device_id: &str, clock: SharedClock) -> Result<Outbox, OutboxError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                OutboxError::Db(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("{}: {e}", dir.display())),
                ))
            })?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a commit survives power loss, which is what "done" promises the citizen.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        super::migrations::migrate(&mut conn)?;
        conn.execute(
            "INSERT OR IGNORE INTO outbox_sequence (device_id, next_seq) VALUES (?1, 1)",
            params![device_id],
        )?;
        // Whatever was in flight when the process stopped goes out again; the centre's
        // idempotent ingest makes the resend harmless.
        conn.execute(
            "UPDATE outbox SET state = 'pending' WHERE state = 'sent'",
            [],
        )?;
        Ok(Outbox {
            conn,
            device_id: device_id.to_string(),
            clock,
        })
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// Runs `f` in one transaction; its events are durable when this returns `Ok`. On `Err`
    /// nothing of it is kept.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut OutboxTx<'_>) -> Result<T, OutboxError>,
    ) -> Result<(T, Vec<EventEnvelope>), OutboxError> {
        let now = self.clock.now();
        let tx = self.conn.transaction().map_err(classify)?;
        let mut otx = OutboxTx {
            tx,
            device_id: &self.device_id,
            now,
            events: Vec::new(),
        };
        let value = f(&mut otx)?;
        let OutboxTx { tx, events, .. } = otx;
        tx.commit().map_err(classify)?;
        Ok((value, events))
    }

    /// A printer's prints since its roll or tray was replaced.
    pub fn supply(&self, device: &str) -> Result<super::supplies::SupplyCount, OutboxError> {
        Ok(super::supplies::get(&self.conn, device)?)
    }

    /// A roll or tray was replaced: the count starts again, and the admin action that says so
    /// is journalled (and audited) in the same transaction.
    pub fn reset_supply(&mut self, device: &str, event: Value) -> Result<(), OutboxError> {
        let at = self.clock.now().to_rfc3339();
        self.transaction(|tx| {
            super::supplies::reset(tx.conn(), device, &at).map_err(classify)?;
            tx.enqueue("admin.action", event)
        })
        .map(drop)
    }

    /// Dead letters (one, or all) go back to the queue, for the centre to judge again.
    pub fn retry_dead(&mut self, seq: Option<u64>) -> Result<usize, OutboxError> {
        let n = match seq {
            Some(seq) => self.conn.execute(
                "UPDATE outbox SET state = 'pending', reason = NULL WHERE state = 'dead' AND seq = ?1",
                params![seq as i64],
            )?,
            None => self.conn.execute(
                "UPDATE outbox SET state = 'pending', reason = NULL WHERE state = 'dead'",
                [],
            )?,
        };
        Ok(n)
    }

    /// When the oldest event still waiting for the centre was written.
    pub fn oldest_pending(&self) -> Result<Option<String>, OutboxError> {
        Ok(self
            .conn
            .query_row(
                "SELECT MIN(created_at) FROM outbox WHERE state IN ('pending', 'sent')",
                [],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// The newest `n` events (sequence, kind, time, payload), newest first: a log bundle.
    pub fn recent_events(
        &self,
        n: usize,
    ) -> Result<Vec<(u64, String, String, String)>, OutboxError> {
        let mut st = self.conn.prepare(
            "SELECT seq, kind, created_at, payload FROM outbox ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = st.query_map(params![n as i64], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The body of the newest audit record of `kind` (a lock kept across restarts).
    pub fn latest_audited(&self, kind: &str) -> Result<Option<String>, OutboxError> {
        Ok(self
            .conn
            .query_row(
                "SELECT body FROM audit WHERE kind = ?1 ORDER BY seq DESC LIMIT 1",
                params![kind],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The audit log's last record, for the heartbeat.
    pub fn audit_head(&self) -> Result<Option<kiosk_protocol::wire::AuditAnchor>, OutboxError> {
        Ok(
            super::audit::head(&self.conn)?.map(|h| kiosk_protocol::wire::AuditAnchor {
                seq: h.seq,
                hash: h.hash,
            }),
        )
    }

    /// Queues one event on its own.
    pub fn enqueue(&mut self, kind: &str, payload: Value) -> Result<EventEnvelope, OutboxError> {
        let (env, _) = self.transaction(|tx| tx.enqueue(kind, payload))?;
        Ok(env)
    }

    /// The next events to upload, in sequence order.
    pub fn next_batch(&self, max: usize) -> Result<Vec<EventEnvelope>, OutboxError> {
        let mut st = self.conn.prepare(
            "SELECT seq, uuid, kind, created_at, payload, payload_sha256 FROM outbox
             WHERE state IN ('pending', 'sent') ORDER BY seq LIMIT ?1",
        )?;
        let rows = st.query_map(params![max as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, uuid, kind, created, payload, hash) = row?;
            out.push(EventEnvelope {
                device_id: self.device_id.clone(),
                seq: seq as u64,
                uuid,
                kind,
                created_at: DateTime::parse_from_rfc3339(&created)
                    .map(|d| d.with_timezone(&Utc))
                    .unwrap_or_else(|_| self.clock.now()),
                payload: serde_json::from_str(&payload)?,
                payload_sha256: hash,
            });
        }
        Ok(out)
    }

    pub fn mark_sent(&mut self, seqs: &[u64]) -> Result<(), OutboxError> {
        let tx = self.conn.transaction()?;
        for s in seqs {
            tx.execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1 WHERE seq = ?1 AND state = 'pending'",
                params![*s as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Applies the centre's answer: acknowledged events are done, refused ones dead-lettered.
    pub fn apply(&mut self, result: &IngestResult) -> Result<(), OutboxError> {
        let now = self.clock.now().to_rfc3339();
        let tx = self.conn.transaction()?;
        for s in result.acknowledged() {
            tx.execute(
                "UPDATE outbox SET state = 'acknowledged', acked_at = ?2 WHERE seq = ?1 AND state IN ('pending', 'sent')",
                params![s as i64, now],
            )?;
        }
        for r in &result.rejected {
            tx.execute(
                "UPDATE outbox SET state = 'dead', reason = ?2 WHERE seq = ?1 AND state IN ('pending', 'sent')",
                params![r.seq as i64, r.reason],
            )?;
            tracing::error!(seq = r.seq, reason = %r.reason, "centre refused an event; dead-lettered");
        }
        tx.commit()?;
        Ok(())
    }

    /// Events that were sent but whose answer never came go back to pending.
    pub fn requeue_sent(&mut self) -> Result<(), OutboxError> {
        self.conn.execute(
            "UPDATE outbox SET state = 'pending' WHERE state = 'sent'",
            [],
        )?;
        Ok(())
    }

    pub fn counts(&self) -> Result<OutboxCounts, OutboxError> {
        let mut c = OutboxCounts::default();
        let mut st = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            let n = n as u64;
            match state.as_str() {
                "pending" => c.pending = n,
                "sent" => c.sent = n,
                "acknowledged" => c.acknowledged = n,
                _ => c.dead = n,
            }
        }
        Ok(c)
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, OutboxError> {
        let mut st = self
            .conn
            .prepare("SELECT seq, kind, reason FROM outbox WHERE state = 'dead' ORDER BY seq")?;
        let rows = st.query_map([], |r| {
            Ok(DeadLetter {
                seq: r.get::<_, i64>(0)? as u64,
                kind: r.get(1)?,
                reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes acknowledged events older than `keep`, keeping the audit window. Dead letters and
    /// anything not yet acknowledged are never removed.
    pub fn compact(&mut self, keep: chrono::Duration) -> Result<usize, OutboxError> {
        let cutoff = (self.clock.now() - keep).to_rfc3339();
        Ok(self.conn.execute(
            "DELETE FROM outbox WHERE state = 'acknowledged' AND acked_at < ?1",
            params![cutoff],
        )?)
    }

    /// Purges personal data the centre already holds: acknowledged events older than
    /// `retention` keep their sequence, kind and hash for the audit trail but lose their payload,
    /// and attachments only they referred to are deleted from `attachments`. Returns (events
    /// purged, files deleted).
    pub fn purge_personal_data(
        &mut self,
        retention: chrono::Duration,
        attachments: Option<&crate::journal::attachments::AttachmentStore>,
    ) -> Result<(usize, usize), OutboxError> {
        const PURGED: &str = "{\"purged\":true}";
        let cutoff = (self.clock.now() - retention).to_rfc3339();
        let tx = self.conn.transaction()?;
        let doomed: Vec<(i64, String)> = {
            let mut st = tx.prepare(
                "SELECT seq, payload FROM outbox WHERE state = 'acknowledged' AND acked_at < ?1 AND payload != ?2",
            )?;
            let rows = st.query_map(params![cutoff, PURGED], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut files: Vec<String> = Vec::new();
        for (seq, payload) in &doomed {
            if let Ok(v) = serde_json::from_str::<Value>(payload) {
                files.extend(
                    crate::journal::attachments::referenced(&v)
                        .into_iter()
                        .map(|r| r.sha256),
                );
            }
            tx.execute(
                "UPDATE outbox SET payload = ?2 WHERE seq = ?1",
                params![seq, PURGED],
            )?;
        }
        // An attachment still referenced by an event that keeps its payload stays.
        let still_used: std::collections::HashSet<String> = {
            let mut st = tx.prepare(
                "SELECT payload FROM outbox WHERE payload != ?1 AND payload LIKE '%attachments%'",
            )?;
            let rows = st.query_map(params![PURGED], |r| r.get::<_, String>(0))?;
            let mut used = std::collections::HashSet::new();
            for p in rows {
                if let Ok(v) = serde_json::from_str::<Value>(&p?) {
                    used.extend(
                        crate::journal::attachments::referenced(&v)
                            .into_iter()
                            .map(|r| r.sha256),
                    );
                }
            }
            used
        };
        tx.commit()?;
        let mut deleted = 0;
        if let Some(store) = attachments {
            files.sort();
            files.dedup();
            for sha in files.iter().filter(|s| !still_used.contains(*s)) {
                if std::fs::remove_file(store.path(sha)).is_ok() {
                    deleted += 1;
                }
            }
        }
        if !doomed.is_empty() {
            tracing::info!(
                events = doomed.len(),
                files = deleted,
                "personal data purged after acknowledgement and retention"
            );
        }
        Ok((doomed.len(), deleted))
    }

    /// The next sequence number that will be assigned.
    pub fn next_seq(&self) -> Result<u64, OutboxError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT next_seq FROM outbox_sequence WHERE device_id = ?1",
                params![self.device_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(1);
        Ok(n as u64)
    }

    /// Device actions whose intent was recorded but whose result never was: the process
    /// stopped between the command and the device's confirmation. Returns (correlation,
    /// device, action).
    pub fn unfinished_actions(&self) -> Result<Vec<(u64, String, String)>, OutboxError> {
        let mut st = self.conn.prepare(
            "SELECT json_extract(i.payload, '$.correlation'), json_extract(i.payload, '$.device'),
                    json_extract(i.payload, '$.fields.action')
             FROM outbox i
             WHERE i.kind = 'device.action.init'
               AND NOT EXISTS (
                   SELECT 1 FROM outbox c
                   WHERE c.kind = 'device.action.complete'
                     AND json_extract(c.payload, '$.correlation') = json_extract(i.payload, '$.correlation'))
             ORDER BY i.seq",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queued events whose kind starts with `kind_prefix`, oldest first, at most `limit`
    /// (the technicians' view of recent outputs): sequence, kind, payload.
    pub fn events_like(
        &self,
        kind_prefix: &str,
        limit: usize,
    ) -> Result<Vec<(u64, String, Value)>, OutboxError> {
        let mut st = self.conn.prepare(
            "SELECT seq, kind, payload FROM outbox WHERE substr(kind, 1, length(?1)) = ?1
             ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(params![kind_prefix, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, kind, text) = row?;
            out.push((seq, kind, serde_json::from_str(&text)?));
        }
        Ok(out)
    }

    /// The version of each signed document kind in force, for the heartbeat.
    pub fn document_versions(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, OutboxError> {
        let mut out = std::collections::BTreeMap::new();
        for kind in kiosk_protocol::signing::DocumentKind::ALL {
            if let Some(d) = self.document(kind)? {
                out.insert(kind.as_str().to_string(), d.version);
            }
        }
        Ok(out)
    }

    /// The signed document of `kind` in force on this terminal.
    pub fn document(
        &self,
        kind: kiosk_protocol::signing::DocumentKind,
    ) -> Result<Option<kiosk_protocol::signing::SignedDocument>, OutboxError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT document FROM documents WHERE kind = ?1",
                params![kind.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    }

    /// Puts a verified document in force, with the event that says so, in one transaction.
    pub fn apply_document(
        &mut self,
        doc: &kiosk_protocol::signing::SignedDocument,
    ) -> Result<(), OutboxError> {
        let text = serde_json::to_string(doc)?;
        let now = self.clock.now().to_rfc3339();
        let event = kiosk_protocol::Event::new(
            kiosk_protocol::EventKind::DocumentApplied,
            self.clock.now(),
        )
        .field("document", doc.kind.as_str())
        .field("version", doc.version)
        .field("key_id", doc.key_id.clone());
        let payload = serde_json::to_value(&event)?;
        self.transaction(|tx| {
            tx.conn().execute(
                "INSERT INTO documents (kind, version, document, applied_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(kind) DO UPDATE SET version = excluded.version,
                     document = excluded.document, applied_at = excluded.applied_at",
                params![doc.kind.as_str(), doc.version as i64, text, now],
            )?;
            tx.enqueue(kiosk_protocol::EventKind::DocumentApplied.key(), payload)?;
            Ok(())
        })
        .map(drop)
    }

    /// What is recorded of remote command `id`.
    pub fn command_record(&self, id: u64) -> Result<Option<CommandRecord>, OutboxError> {
        let row: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT ack FROM remote_commands WHERE id = ?1",
                params![id as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match row {
            None => None,
            Some(None) => Some(CommandRecord::Started),
            Some(Some(text)) => Some(CommandRecord::Finished(serde_json::from_str(&text)?)),
        })
    }

    /// Records, durably, that remote command `id` is about to run: it never runs twice.
    pub fn command_started(&mut self, id: u64) -> Result<(), OutboxError> {
        let now = self.clock.now().to_rfc3339();
        self.conn.execute(
            "INSERT INTO remote_commands (id, started_at) VALUES (?1, ?2)",
            params![id as i64, now],
        )?;
        Ok(())
    }

    /// Records how remote command `id` ended, with an event for the centre, in one transaction.
    pub fn command_finished(
        &mut self,
        id: u64,
        command: &kiosk_protocol::wire::RemoteCommand,
        ack: &kiosk_protocol::wire::CommandAck,
    ) -> Result<(), OutboxError> {
        let text = serde_json::to_string(ack)?;
        let now = self.clock.now().to_rfc3339();
        let mut payload = serde_json::json!({
            "command_id": id,
            "command": command,
            "ok": ack.ok,
            "detail": ack.detail,
        });
        // A log bundle travels with the command's record.
        if let Some(a) = ack.result.get("attachments") {
            payload["attachments"] = a.clone();
        }
        self.transaction(|tx| {
            tx.conn().execute(
                "UPDATE remote_commands SET ack = ?2, finished_at = ?3 WHERE id = ?1",
                params![id as i64, text, now],
            )?;
            tx.enqueue("admin.remote.command", payload)?;
            Ok(())
        })
        .map(drop)
    }

    /// Output intents (`output.intent`) without their `output.result`: the payloads.
    pub fn unfinished_outputs(&self) -> Result<Vec<Value>, OutboxError> {
        let mut st = self.conn.prepare(
            "SELECT i.payload FROM outbox i
             WHERE i.kind = 'output.intent'
               AND NOT EXISTS (
                   SELECT 1 FROM outbox r
                   WHERE r.kind = 'output.result'
                     AND json_extract(r.payload, '$.output_id') = json_extract(i.payload, '$.output_id'))
             ORDER BY i.seq",
        )?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for text in rows {
            out.push(serde_json::from_str(&text?)?);
        }
        Ok(out)
    }

    /// Closes every unfinished device action and output intent with an "interrupted, outcome
    /// unknown" result, so an output that was never confirmed is never counted as done.
    /// Returns how many.
    pub fn reconcile_interrupted(&mut self) -> Result<usize, OutboxError> {
        let open = self.unfinished_actions()?;
        let outputs = self.unfinished_outputs()?;
        let now = self.clock.now();
        let n = open.len() + outputs.len();
        self.transaction(|tx| {
            for intent in &outputs {
                let mut result = serde_json::json!({
                    "output_id": intent["output_id"],
                    "kind": intent["kind"],
                    "device": intent["device"],
                    "purpose": intent["purpose"],
                    "outcome": "interrupted",
                    "detail": "the terminal stopped before the device answered; the outcome is unknown",
                });
                if let Some(t) = intent.get("ticket") {
                    result["ticket"] = t.clone();
                }
                tx.enqueue("output.result", result)?;
                tracing::warn!(output = %intent["output_id"], "unfinished output closed as interrupted");
            }
            for (corr, device, action) in &open {
                let e = kiosk_protocol::Event::action_complete(
                    device,
                    action,
                    *corr,
                    kiosk_protocol::Disposition::Failed {
                        code: "interrupted".into(),
                        detail: "the terminal stopped before the device confirmed; the outcome is unknown".into(),
                    },
                    now,
                );
                tx.enqueue(e.kind.key(), serde_json::to_value(&e)?)?;
                tracing::warn!(device = %device, action = %action, correlation = corr, "unconfirmed device action closed as interrupted");
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Caps the database size, in pages (for tests of the disk-full path and for deployments
    /// that reserve space for the rest of the system).
    pub fn set_max_pages(&self, pages: u64) -> Result<(), OutboxError> {
        self.conn
            .pragma_update(None, "max_page_count", pages as i64)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
