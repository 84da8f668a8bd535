//! Cases in the PostgreSQL store: the same rules as SQLite's (`crate::cases`); numbering a
//! day's cases takes a transaction-scoped advisory lock, so nodes filing at once never share a
//! number.

use kiosk_protocol::cases::{Case, CaseLogEntry, CaseProgress, CaseStatus, CaseSubmission, Pickup};
use postgres::{GenericClient, Row};

use super::PgStore;
use crate::cases::{
    case_number, check_move, check_submission, same_filing, CaseRefusal, CaseRow, CASE_COLUMNS,
};
use crate::store::StoreError;

fn case_row(r: &Row) -> CaseRow {
    CaseRow {
        case: Case {
            case_number: r.get(0),
            local_ref: r.get(1),
            item: r.get(2),
            item_name: r.get(3),
            status: CaseStatus::parse(r.get(4)).unwrap_or(CaseStatus::Submitted),
            pickup: Pickup::parse(r.get(5)).unwrap_or(Pickup::Window),
            submitted_at: r.get(6),
            log: Vec::new(),
            rating: None,
        },
        holder_sha256: r.get(7),
        password_salt: r.get(8),
        password_sha256: r.get(9),
    }
}

fn complete(c: &mut impl GenericClient, mut row: CaseRow) -> Result<CaseRow, postgres::Error> {
    row.case.log = c
        .query(
            "SELECT at, status, comment FROM case_log WHERE case_number = $1 ORDER BY n",
            &[&row.case.case_number],
        )?
        .iter()
        .map(|r| CaseLogEntry {
            at: r.get(0),
            status: CaseStatus::parse(r.get(1)).unwrap_or(CaseStatus::Submitted),
            comment: r.get(2),
        })
        .collect();
    row.case.rating = c
        .query_opt(
            "SELECT level FROM case_ratings WHERE case_number = $1",
            &[&row.case.case_number],
        )?
        .map(|r| r.get::<_, i32>(0).clamp(1, 5) as u8);
    Ok(row)
}

fn by_ref(
    c: &mut impl GenericClient,
    device: &str,
    local_ref: &str,
) -> Result<Option<CaseRow>, postgres::Error> {
    let row = c.query_opt(
        &format!("SELECT {CASE_COLUMNS} FROM cases WHERE device_id = $1 AND local_ref = $2"),
        &[&device, &local_ref],
    )?;
    row.map(|r| complete(c, case_row(&r))).transpose()
}

pub(crate) fn file_case_in(
    c: &mut impl GenericClient,
    s: &CaseSubmission,
    day: &str,
    now: &str,
) -> Result<Result<Case, CaseRefusal>, postgres::Error> {
    if let Err(r) = check_submission(s) {
        return Ok(Err(r));
    }
    c.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("cases/{day}")],
    )?;
    if let Some(stored) = by_ref(c, &s.device_id, &s.local_ref)? {
        return Ok(if same_filing(&stored, s) {
            Ok(stored.case)
        } else {
            Err(CaseRefusal::Conflict(s.local_ref.clone()))
        });
    }
    let seq: i64 = c
        .query_one(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM cases WHERE day = $1",
            &[&day],
        )?
        .get(0);
    let number = case_number(day, seq);
    let attachments = serde_json::to_string(&s.attachments).unwrap_or_else(|_| "[]".into());
    c.execute(
        "INSERT INTO cases (case_number, day, seq, device_id, local_ref, item, item_name,
            holder_sha256, agent_sha256, password_salt, password_sha256, pickup, submitted_at,
            status, attachments)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'submitted', $14)",
        &[
            &number,
            &day,
            &seq,
            &s.device_id,
            &s.local_ref,
            &s.item,
            &s.item_name,
            &s.holder_sha256,
            &s.agent_sha256,
            &s.password_salt,
            &s.password_sha256,
            &s.pickup.as_str(),
            &s.submitted_at,
            &attachments,
        ],
    )?;
    c.execute(
        "INSERT INTO case_log (case_number, n, at, status, comment) VALUES ($1, 1, $2, 'submitted', '')",
        &[&number, &now],
    )?;
    Ok(by_ref(c, &s.device_id, &s.local_ref)?
        .map(|r| r.case)
        .ok_or(CaseRefusal::Unknown(number)))
}

pub(crate) fn rate_case_in(
    c: &mut impl GenericClient,
    number: &str,
    level: i64,
    tags: &str,
    device: &str,
    at: &str,
) -> Result<bool, postgres::Error> {
    let n = c.execute(
        "INSERT INTO case_ratings (case_number, level, tags, device_id, at)
         SELECT case_number, $2, $3, $4, $5 FROM cases WHERE case_number = $1 OR local_ref = $1 LIMIT 1
         ON CONFLICT (case_number) DO NOTHING",
        &[&number, &(level as i32), &tags, &device, &at],
    )?;
    Ok(n == 1)
}

impl PgStore {
    pub fn file_case(
        &self,
        s: &CaseSubmission,
        day: &str,
        now: &str,
    ) -> Result<Result<Case, CaseRefusal>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let r = file_case_in(&mut tx, s, day, now)?;
        tx.commit()?;
        Ok(r)
    }

    pub fn lookup_case(
        &self,
        reference: &str,
        password: &str,
    ) -> Result<Result<Case, CaseRefusal>, StoreError> {
        let mut client = self.client();
        let rows = client.query(
            &format!("SELECT {CASE_COLUMNS} FROM cases WHERE case_number = $1 OR local_ref = $1"),
            &[&reference],
        )?;
        match rows.iter().map(case_row).find(|r| r.opens_with(password)) {
            Some(r) => Ok(Ok(complete(&mut *client, r)?.case)),
            None => Ok(Err(CaseRefusal::NotFound(reference.to_string()))),
        }
    }

    pub fn cases_of(&self, holder_sha256: &str, limit: u32) -> Result<Vec<Case>, StoreError> {
        let mut client = self.client();
        let rows = client.query(
            &format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE holder_sha256 = $1 OR agent_sha256 = $1
                 ORDER BY day DESC, seq DESC LIMIT $2"
            ),
            &[&holder_sha256, &i64::from(limit)],
        )?;
        let mut out = Vec::new();
        for r in rows {
            out.push(complete(&mut *client, case_row(&r))?.case);
        }
        Ok(out)
    }

    pub fn list_cases(
        &self,
        status: Option<CaseStatus>,
        limit: u32,
    ) -> Result<Vec<Case>, StoreError> {
        let mut client = self.client();
        let status = status.map(|s| s.as_str().to_string());
        let rows = client.query(
            &format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE $1::TEXT IS NULL OR status = $1
                 ORDER BY day DESC, seq DESC LIMIT $2"
            ),
            &[&status, &i64::from(limit)],
        )?;
        let mut out = Vec::new();
        for r in rows {
            out.push(complete(&mut *client, case_row(&r))?.case);
        }
        Ok(out)
    }

    pub fn progress_case(
        &self,
        number: &str,
        p: &CaseProgress,
        now: &str,
    ) -> Result<Result<Case, CaseRefusal>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let row = tx.query_opt(
            &format!("SELECT {CASE_COLUMNS} FROM cases WHERE case_number = $1 FOR UPDATE"),
            &[&number],
        )?;
        let Some(row) = row.map(|r| case_row(&r)) else {
            return Ok(Err(CaseRefusal::Unknown(number.to_string())));
        };
        if let Err(r) = check_move(number, row.case.status, p.status) {
            return Ok(Err(r));
        }
        tx.execute(
            "UPDATE cases SET status = $2 WHERE case_number = $1",
            &[&number, &p.status.as_str()],
        )?;
        tx.execute(
            "INSERT INTO case_log (case_number, n, at, status, comment)
             SELECT $1, COALESCE(MAX(n), 0) + 1, $2, $3, $4 FROM case_log WHERE case_number = $1",
            &[&number, &now, &p.status.as_str(), &p.comment],
        )?;
        let row = tx.query_one(
            &format!("SELECT {CASE_COLUMNS} FROM cases WHERE case_number = $1"),
            &[&number],
        )?;
        let row = complete(&mut tx, case_row(&row))?;
        tx.commit()?;
        Ok(Ok(row.case))
    }
}
