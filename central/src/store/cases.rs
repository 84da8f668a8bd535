//! Cases in the SQLite store: filing (online, or from the journal record when the terminal was
//! offline), look-up by number and password or by the holder's hash, a department's moves with
//! their log, and one rating per case.

use kiosk_protocol::cases::{Case, CaseLogEntry, CaseProgress, CaseStatus, CaseSubmission, Pickup};
use rusqlite::{params, Connection, OptionalExtension};

use super::{SqliteStore, StoreError};
use crate::cases::{
    case_number, check_move, check_submission, same_filing, CaseRefusal, CaseRow, CASE_COLUMNS,
};

fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseRow> {
    let text = |i: usize| r.get::<_, String>(i);
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown {what}").into(),
        )
    };
    let status = CaseStatus::parse(&text(4)?).ok_or_else(|| bad(4, "case status"))?;
    let pickup = Pickup::parse(&text(5)?).ok_or_else(|| bad(5, "pick-up"))?;
    Ok(CaseRow {
        case: Case {
            case_number: text(0)?,
            local_ref: text(1)?,
            item: text(2)?,
            item_name: text(3)?,
            status,
            pickup,
            submitted_at: text(6)?,
            log: Vec::new(),
            rating: None,
        },
        holder_sha256: text(7)?,
        password_salt: text(8)?,
        password_sha256: text(9)?,
    })
}

/// The case with its log and rating.
fn complete(c: &Connection, mut row: CaseRow) -> rusqlite::Result<CaseRow> {
    let mut st =
        c.prepare("SELECT at, status, comment FROM case_log WHERE case_number = ?1 ORDER BY n")?;
    let log = st.query_map(params![row.case.case_number], |r| {
        let status: String = r.get(1)?;
        Ok(CaseLogEntry {
            at: r.get(0)?,
            status: CaseStatus::parse(&status).unwrap_or(CaseStatus::Submitted),
            comment: r.get(2)?,
        })
    })?;
    row.case.log = log.collect::<Result<_, _>>()?;
    row.case.rating = c
        .query_row(
            "SELECT level FROM case_ratings WHERE case_number = ?1",
            params![row.case.case_number],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map(|l| l.clamp(1, 5) as u8);
    Ok(row)
}

fn by_ref(c: &Connection, device: &str, local_ref: &str) -> rusqlite::Result<Option<CaseRow>> {
    let row = c
        .query_row(
            &format!("SELECT {CASE_COLUMNS} FROM cases WHERE device_id = ?1 AND local_ref = ?2"),
            params![device, local_ref],
            case_row,
        )
        .optional()?;
    row.map(|r| complete(c, r)).transpose()
}

/// Files a case inside the caller's transaction: the same reference again returns the case
/// already filed (or a conflict when its contents differ).
pub(crate) fn file_case_in(
    c: &Connection,
    s: &CaseSubmission,
    day: &str,
    now: &str,
) -> rusqlite::Result<Result<Case, CaseRefusal>> {
    if let Err(r) = check_submission(s) {
        return Ok(Err(r));
    }
    if let Some(stored) = by_ref(c, &s.device_id, &s.local_ref)? {
        return Ok(if same_filing(&stored, s) {
            Ok(stored.case)
        } else {
            Err(CaseRefusal::Conflict(s.local_ref.clone()))
        });
    }
    let seq: i64 = c.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM cases WHERE day = ?1",
        params![day],
        |r| r.get(0),
    )?;
    let number = case_number(day, seq);
    c.execute(
        "INSERT INTO cases (case_number, day, seq, device_id, local_ref, item, item_name,
            holder_sha256, agent_sha256, password_salt, password_sha256, pickup, submitted_at,
            status, attachments)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'submitted', ?14)",
        params![
            number,
            day,
            seq,
            s.device_id,
            s.local_ref,
            s.item,
            s.item_name,
            s.holder_sha256,
            s.agent_sha256,
            s.password_salt,
            s.password_sha256,
            s.pickup.as_str(),
            s.submitted_at,
            serde_json::to_string(&s.attachments).unwrap_or_else(|_| "[]".into()),
        ],
    )?;
    c.execute(
        "INSERT INTO case_log (case_number, n, at, status, comment) VALUES (?1, 1, ?2, 'submitted', '')",
        params![number, now],
    )?;
    Ok(by_ref(c, &s.device_id, &s.local_ref)?
        .map(|r| r.case)
        .ok_or(CaseRefusal::Unknown(number)))
}

/// Keeps the first rating of a case; a second is ignored. Returns whether this one counted.
pub(crate) fn rate_case_in(
    c: &Connection,
    number: &str,
    level: i64,
    tags: &str,
    device: &str,
    at: &str,
) -> rusqlite::Result<bool> {
    let known: bool = c.query_row(
        "SELECT COUNT(*) > 0 FROM cases WHERE case_number = ?1 OR local_ref = ?1",
        params![number],
        |r| r.get(0),
    )?;
    if !known {
        return Ok(false);
    }
    let n = c.execute(
        "INSERT INTO case_ratings (case_number, level, tags, device_id, at)
         SELECT case_number, ?2, ?3, ?4, ?5 FROM cases WHERE case_number = ?1 OR local_ref = ?1 LIMIT 1
         ON CONFLICT (case_number) DO NOTHING",
        params![number, level, tags, device, at],
    )?;
    Ok(n == 1)
}

impl SqliteStore {
    pub fn file_case(
        &self,
        s: &CaseSubmission,
        day: &str,
        now: &str,
    ) -> Result<Result<Case, CaseRefusal>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let r = file_case_in(&tx, s, day, now)?;
        tx.commit()?;
        Ok(r)
    }

    /// A case by its number or the terminal's reference, opened with its query password.
    pub fn lookup_case(
        &self,
        reference: &str,
        password: &str,
    ) -> Result<Result<Case, CaseRefusal>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE case_number = ?1 OR local_ref = ?1"
            ))?;
            let rows: Vec<CaseRow> = st
                .query_map(params![reference], case_row)?
                .collect::<Result<_, _>>()?;
            match rows.into_iter().find(|r| r.opens_with(password)) {
                Some(r) => Ok(Ok(complete(c, r)?.case)),
                None => Ok(Err(CaseRefusal::NotFound(reference.to_string()))),
            }
        })
    }

    /// A citizen's cases, newest first (at most `limit`).
    pub fn cases_of(&self, holder_sha256: &str, limit: u32) -> Result<Vec<Case>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE holder_sha256 = ?1 OR agent_sha256 = ?1
                 ORDER BY day DESC, seq DESC LIMIT ?2"
            ))?;
            let rows: Vec<CaseRow> = st
                .query_map(params![holder_sha256, limit], case_row)?
                .collect::<Result<_, _>>()?;
            rows.into_iter()
                .map(|r| complete(c, r).map(|r| r.case))
                .collect()
        })
    }

    /// Every case, newest first, optionally only those in one status (the operator's list).
    pub fn list_cases(
        &self,
        status: Option<CaseStatus>,
        limit: u32,
    ) -> Result<Vec<Case>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE ?1 IS NULL OR status = ?1
                 ORDER BY day DESC, seq DESC LIMIT ?2"
            ))?;
            let rows: Vec<CaseRow> = st
                .query_map(params![status.map(|s| s.as_str()), limit], case_row)?
                .collect::<Result<_, _>>()?;
            rows.into_iter()
                .map(|r| complete(c, r).map(|r| r.case))
                .collect()
        })
    }

    /// A department moves a case on, with a comment for the citizen.
    pub fn progress_case(
        &self,
        number: &str,
        p: &CaseProgress,
        now: &str,
    ) -> Result<Result<Case, CaseRefusal>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let row = tx
            .query_row(
                &format!("SELECT {CASE_COLUMNS} FROM cases WHERE case_number = ?1"),
                params![number],
                case_row,
            )
            .optional()?;
        let Some(row) = row else {
            return Ok(Err(CaseRefusal::Unknown(number.to_string())));
        };
        if let Err(r) = check_move(number, row.case.status, p.status) {
            return Ok(Err(r));
        }
        tx.execute(
            "UPDATE cases SET status = ?2 WHERE case_number = ?1",
            params![number, p.status.as_str()],
        )?;
        tx.execute(
            "INSERT INTO case_log (case_number, n, at, status, comment)
             SELECT ?1, COALESCE(MAX(n), 0) + 1, ?2, ?3, ?4 FROM case_log WHERE case_number = ?1",
            params![number, now, p.status.as_str(), p.comment],
        )?;
        let row = complete(
            &tx,
            tx.query_row(
                &format!("SELECT {CASE_COLUMNS} FROM cases WHERE case_number = ?1"),
                params![number],
                case_row,
            )?,
        )?;
        tx.commit()?;
        Ok(Ok(row.case))
    }
}
