//! The audit log of sensitive operations: technicians' logins and actions, configuration
//! applied, proof and licence prints, seal impressions, remote commands, calls from business
//! systems' pages, security events. Each record is chained to the one before by SM3 (GB/T
//! 32905), so a record changed, removed or moved afterwards shows when the chain is checked
//! (`kiosk audit verify`).
//!
//! Records are written by the outbox in the same transaction as the event they copy, so an
//! operation is either in both the centre's queue and the audit log or in neither. The table
//! refuses UPDATE and DELETE (triggers in schema version 4). Removing records from the end
//! cannot be seen from the chain alone: the head (sequence and hash) goes to the centre in
//! every heartbeat, and `verify` compares against a head known from elsewhere.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sm3::{Digest, Sm3};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether an outbox event of `kind` with `payload` is a sensitive operation to audit.
pub fn is_sensitive(kind: &str, payload: &Value) -> bool {
    if kind.starts_with("admin.") || kind.starts_with("security.") {
        return true;
    }
    match kind {
        "system.config.loaded"
        | "system.document.applied"
        | "device.gateway.call"
        | "licence.printed"
        | "system.update.outcome" => true,
        // Proofs and licences are A4 prints; impressions are the seal's. Tickets and
        // receipts are everyday outputs and stay in the journal only.
        "output.intent" | "output.result" => matches!(
            payload.get("kind").and_then(Value::as_str),
            Some("a4" | "seal")
        ),
        _ => false,
    }
}

/// The hash of one record: SM3 over the previous record's hash and this record's fields,
/// each length-prefixed so no two different records can hash the same bytes. The sequence
/// number is deliberately left out: a record's place is given by the chain, so a record moved
/// to another place still hashes correctly and is reported as out of order, not as changed.
pub fn record_hash(prev: &str, at: &str, kind: &str, body: &str) -> String {
    let mut h = Sm3::new();
    h.update(b"HKAUDIT1");
    for part in [prev, at, kind, body] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The last record: what the centre keeps to notice records cut from the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: String,
}

impl std::str::FromStr for AuditHead {
    type Err = String;

    /// `SEQ:HASH`, as `kiosk audit verify --expect` takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (seq, hash) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not SEQ:HASH"))?;
        let seq = seq
            .parse()
            .map_err(|_| format!("{seq:?} is not a sequence number"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{hash:?} is not an SM3 hash (64 hex digits)"));
        }
        Ok(AuditHead {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// Appends one record after the current head; call inside the transaction that writes the
/// operation itself.
pub fn append(
    conn: &Connection,
    at: &str,
    kind: &str,
    outbox_seq: Option<u64>,
    body: &str,
) -> rusqlite::Result<AuditHead> {
    let (seq, prev) = match head(conn)? {
        Some(h) => (h.seq + 1, h.hash),
        None => (1, GENESIS.to_string()),
    };
    let hash = record_hash(&prev, at, kind, body);
    conn.execute(
        "INSERT INTO audit (seq, at, kind, outbox_seq, body, prev, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            seq as i64,
            at,
            kind,
            outbox_seq.map(|s| s as i64),
            body,
            prev,
            hash
        ],
    )?;
    Ok(AuditHead { seq, hash })
}

pub fn head(conn: &Connection) -> rusqlite::Result<Option<AuditHead>> {
    conn.query_row(
        "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
        [],
        |r| {
            Ok(AuditHead {
                seq: r.get::<_, i64>(0)? as u64,
                hash: r.get(1)?,
            })
        },
    )
    .optional()
}

/// One record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub at: String,
    pub kind: String,
    pub outbox_seq: Option<u64>,
    pub body: String,
    pub prev: String,
    pub hash: String,
}

/// The newest `limit` records, newest first (the admin screen's list).
pub fn latest(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<AuditRecord>> {
    let mut st = conn.prepare(
        "SELECT seq, at, kind, outbox_seq, body, prev, hash FROM audit ORDER BY seq DESC LIMIT ?1",
    )?;
    let rows = st.query_map(params![limit as i64], row)?;
    rows.collect()
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get::<_, i64>(0)? as u64,
        at: r.get(1)?,
        kind: r.get(2)?,
        outbox_seq: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
        body: r.get(4)?,
        prev: r.get(5)?,
        hash: r.get(6)?,
    })
}

/// Something wrong with the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "kebab-case")]
pub enum Finding {
    /// The record's fields no longer give its hash: it was edited.
    Changed { seq: u64 },
    /// Records `from..=to` are gone.
    Missing { from: u64, to: u64 },
    /// The record is intact but does not follow the one before it: records were moved.
    OutOfOrder { seq: u64 },
    /// The record links to a record that is not in the log: the one before it was replaced,
    /// or records were removed and the rest renumbered.
    Unlinked { seq: u64 },
    /// The chain is shorter than, or differs from, a head known from elsewhere.
    HeadMismatch {
        expected: AuditHead,
        found: Option<AuditHead>,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Changed { seq } => write!(f, "record {seq} was changed after it was written"),
            Finding::Missing { from, to } if from == to => write!(f, "record {from} was removed"),
            Finding::Missing { from, to } => write!(f, "records {from} to {to} were removed"),
            Finding::OutOfOrder { seq } => {
                write!(f, "record {seq} is not where it was written (records were moved)")
            }
            Finding::Unlinked { seq } => write!(
                f,
                "record {seq} does not follow the record before it (that one was replaced, or \
                 records were removed and the rest renumbered)"
            ),
            Finding::HeadMismatch { expected, found } => match found {
                Some(h) if h.seq < expected.seq => write!(
                    f,
                    "the log ends at record {} but record {} was known: records were cut from the end",
                    h.seq, expected.seq
                ),
                _ => write!(
                    f,
                    "record {} is not the one known (hash {}…)",
                    expected.seq,
                    &expected.hash[..12]
                ),
            },
        }
    }
}

/// What checking the chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub records: u64,
    pub head: Option<AuditHead>,
    pub findings: Vec<Finding>,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks every record's hash and link, and optionally that `expected` (a head the centre
/// was sent) is still in the log with the same hash.
pub fn verify(conn: &Connection, expected: Option<&AuditHead>) -> rusqlite::Result<Verification> {
    let mut st =
        conn.prepare("SELECT seq, at, kind, outbox_seq, body, prev, hash FROM audit ORDER BY seq")?;
    let records: Vec<AuditRecord> = st.query_map([], row)?.collect::<Result<_, _>>()?;
    let known: std::collections::HashSet<&str> = records.iter().map(|r| r.hash.as_str()).collect();
    let mut findings = Vec::new();
    let mut last_seq = 0u64;
    let mut last_hash = GENESIS;
    for r in &records {
        if record_hash(&r.prev, &r.at, &r.kind, &r.body) != r.hash {
            findings.push(Finding::Changed { seq: r.seq });
        }
        if r.seq != last_seq + 1 {
            findings.push(Finding::Missing {
                from: last_seq + 1,
                to: r.seq.saturating_sub(1),
            });
        } else if r.prev != last_hash {
            // A link that points at another record of the log means records swapped places;
            // one that points nowhere means the link itself was edited.
            if known.contains(r.prev.as_str()) || r.prev == GENESIS {
                findings.push(Finding::OutOfOrder { seq: r.seq });
            } else {
                findings.push(Finding::Unlinked { seq: r.seq });
            }
        }
        last_seq = r.seq;
        last_hash = &r.hash;
    }
    let head = records.last().map(|r| AuditHead {
        seq: r.seq,
        hash: r.hash.clone(),
    });
    if let Some(want) = expected {
        let same = records
            .iter()
            .any(|r| r.seq == want.seq && r.hash == want.hash);
        if !same {
            findings.push(Finding::HeadMismatch {
                expected: want.clone(),
                found: head.clone(),
            });
        }
    }
    Ok(Verification {
        records: records.len() as u64,
        head,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::journal::migrations::migrate(&mut c).unwrap();
        c
    }

    fn fill(c: &Connection, n: u64) {
        for i in 1..=n {
            append(
                c,
                &format!("2026-12-03T09:{i:02}:00Z"),
                "admin.entered",
                Some(i * 10),
                &format!("{{\"staff\":\"T{i:03}\"}}"),
            )
            .unwrap();
        }
    }

    /// What someone with the database file and a SQLite shell could do.
    fn tamper(c: &Connection, sql: &str) {
        c.execute_batch(&format!(
            "DROP TRIGGER audit_append_only_update; DROP TRIGGER audit_append_only_delete; {sql}"
        ))
        .unwrap();
    }

    #[test]
    fn a_written_chain_verifies_and_its_head_is_the_last_record() {
        let c = db();
        fill(&c, 5);
        let v = verify(&c, None).unwrap();
        assert!(v.intact(), "{:?}", v.findings);
        assert_eq!(v.records, 5);
        let head = v.head.clone().unwrap();
        assert_eq!(head.seq, 5);
        assert_eq!(head, super::head(&c).unwrap().unwrap());
        assert!(verify(&c, Some(&head)).unwrap().intact());
        // The first record links to the genesis value and each later one to its predecessor.
        let rows = latest(&c, 10).unwrap();
        assert_eq!(rows.last().unwrap().prev, GENESIS);
        assert_eq!(rows[0].prev, rows[1].hash);
        assert_eq!(rows[0].outbox_seq, Some(50));
    }

    #[test]
    fn the_kiosk_itself_cannot_change_or_remove_a_record() {
        let c = db();
        fill(&c, 2);
        let e = c
            .execute("UPDATE audit SET body = '{}' WHERE seq = 1", [])
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
        let e = c
            .execute("DELETE FROM audit WHERE seq = 2", [])
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
        assert!(verify(&c, None).unwrap().intact());
    }

    #[test]
    fn a_changed_record_is_found() {
        let c = db();
        fill(&c, 5);
        tamper(
            &c,
            "UPDATE audit SET body = '{\"staff\":\"T999\"}' WHERE seq = 3;",
        );
        assert_eq!(
            verify(&c, None).unwrap().findings,
            vec![Finding::Changed { seq: 3 }]
        );
    }

    #[test]
    fn a_changed_record_with_its_hash_recomputed_breaks_the_next_link() {
        let c = db();
        fill(&c, 5);
        let prev: String = c
            .query_row("SELECT prev FROM audit WHERE seq = 3", [], |r| r.get(0))
            .unwrap();
        let forged = record_hash(&prev, "2026-12-03T09:03:00Z", "admin.entered", "{}");
        tamper(
            &c,
            &format!("UPDATE audit SET body = '{{}}', hash = '{forged}' WHERE seq = 3;"),
        );
        assert_eq!(
            verify(&c, None).unwrap().findings,
            vec![Finding::Unlinked { seq: 4 }],
            "record 4's link no longer points at record 3"
        );
    }

    #[test]
    fn a_removed_record_is_found() {
        let c = db();
        fill(&c, 6);
        tamper(&c, "DELETE FROM audit WHERE seq IN (3, 4);");
        let f = verify(&c, None).unwrap().findings;
        assert_eq!(f, vec![Finding::Missing { from: 3, to: 4 }]);
        assert_eq!(f[0].to_string(), "records 3 to 4 were removed");
        // Renumbering to hide the gap leaves the link broken.
        c.execute_batch("UPDATE audit SET seq = seq - 2 WHERE seq > 4;")
            .unwrap();
        assert_eq!(
            verify(&c, None).unwrap().findings,
            vec![Finding::Unlinked { seq: 3 }]
        );
    }

    #[test]
    fn a_first_record_removed_is_found() {
        let c = db();
        fill(&c, 3);
        tamper(&c, "DELETE FROM audit WHERE seq = 1;");
        assert_eq!(
            verify(&c, None).unwrap().findings,
            vec![Finding::Missing { from: 1, to: 1 }]
        );
    }

    #[test]
    fn reordered_records_are_found() {
        let c = db();
        fill(&c, 6);
        tamper(
            &c,
            "UPDATE audit SET seq = -1 WHERE seq = 3;
             UPDATE audit SET seq = 3 WHERE seq = 4;
             UPDATE audit SET seq = 4 WHERE seq = -1;",
        );
        let f = verify(&c, None).unwrap().findings;
        assert_eq!(
            f,
            vec![
                Finding::OutOfOrder { seq: 3 },
                Finding::OutOfOrder { seq: 4 },
                Finding::OutOfOrder { seq: 5 }
            ]
        );
        assert!(f.iter().all(|x| !matches!(x, Finding::Changed { .. })));
    }

    #[test]
    fn records_cut_from_the_end_are_found_against_a_known_head() {
        let c = db();
        fill(&c, 5);
        let known = super::head(&c).unwrap().unwrap();
        tamper(&c, "DELETE FROM audit WHERE seq >= 4;");
        let v = verify(&c, None).unwrap();
        assert!(v.intact(), "the chain alone cannot see a cut end");
        let v = verify(&c, Some(&known)).unwrap();
        assert_eq!(v.findings.len(), 1);
        assert!(
            v.findings[0].to_string().contains("cut from the end"),
            "{}",
            v.findings[0]
        );
    }

    #[test]
    fn a_head_is_read_from_seq_colon_hash() {
        let h: AuditHead = format!("12:{}", "AB".repeat(32)).parse().unwrap();
        assert_eq!(h.seq, 12);
        assert_eq!(h.hash, "ab".repeat(32));
        assert!("12".parse::<AuditHead>().is_err());
        assert!("x:00".parse::<AuditHead>().is_err());
        assert!(format!("1:{}", "g".repeat(64))
            .parse::<AuditHead>()
            .is_err());
    }

    #[test]
    fn sensitive_operations_are_told_from_everyday_ones() {
        assert!(is_sensitive("admin.entered", &json!({})));
        assert!(is_sensitive("security.gateway.refused", &json!({})));
        assert!(is_sensitive("system.document.applied", &json!({})));
        assert!(is_sensitive("device.gateway.call", &json!({})));
        assert!(is_sensitive("admin.remote.command", &json!({})));
        assert!(is_sensitive("output.intent", &json!({"kind": "seal"})));
        assert!(is_sensitive("output.result", &json!({"kind": "a4"})));
        assert!(!is_sensitive("output.intent", &json!({"kind": "receipt"})));
        assert!(!is_sensitive("output.result", &json!({"kind": "ticket"})));
        assert!(!is_sensitive("device.action.init", &json!({})));
        assert!(!is_sensitive("session.started", &json!({})));
    }

    #[test]
    fn the_hash_is_sm3_and_fields_cannot_run_into_each_other() {
        // SM3("abc") from GB/T 32905's example, to be sure the digest is the standard one.
        assert_eq!(
            hex::encode(Sm3::digest(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_ne!(
            record_hash(GENESIS, "a", "bc", "{}"),
            record_hash(GENESIS, "ab", "c", "{}")
        );
    }
}
