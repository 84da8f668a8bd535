//! The staff directory in SQLite (rules in `crate::staff`).

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{SqliteStore, StoreError};
use crate::staff::{attempt, pin_matches, StaffEntry, StaffRefusal};

fn parse_time(s: Option<String>) -> Option<chrono::DateTime<chrono::Utc>> {
    s.and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

impl SqliteStore {
    /// Adds or changes a clerk; a lock in force stays.
    pub fn put_staff(&self, hall: &str, e: &StaffEntry) -> Result<(), StoreError> {
        let body = serde_json::to_string(e)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.with(|c| {
            c.execute(
                "INSERT INTO staff (hall, staff_no, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (hall, staff_no) DO UPDATE SET body = excluded.body",
                params![hall, e.staff, body],
            )
        })?;
        Ok(())
    }

    /// One login attempt at `now`, counted and audited in one transaction.
    pub fn staff_login(
        &self,
        hall: &str,
        staff: &str,
        pin: &str,
        window: &str,
        device_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<StaffEntry, StaffRefusal>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, i64, Option<String>)> = tx
            .query_row(
                "SELECT body, failures, locked_until FROM staff WHERE hall = ?1 AND staff_no = ?2",
                params![hall, staff],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let audit = |outcome: &str| {
            tx.execute(
                "INSERT INTO staff_audit (hall, staff_no, at, device_id, window_no, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![hall, staff, now.to_rfc3339(), device_id, window, outcome],
            )
        };
        let Some((body, failures, locked)) = row else {
            audit("staff-unknown")?;
            tx.commit()?;
            return Ok(Err(StaffRefusal::Unknown(staff.to_string())));
        };
        let entry: StaffEntry = serde_json::from_str(&body).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?;
        let locked = parse_time(locked);
        // A lock in force refuses before the PIN is even looked at.
        let ok = locked.is_none_or(|u| u <= now) && pin_matches(pin, &entry.pin_hash);
        let (failures, locked, refusal) = attempt(ok, failures as u32, locked, now);
        tx.execute(
            "UPDATE staff SET failures = ?3, locked_until = ?4 WHERE hall = ?1 AND staff_no = ?2",
            params![hall, staff, failures, locked.map(|t| t.to_rfc3339())],
        )?;
        audit(refusal.as_ref().map_or("logged-in", StaffRefusal::reason))?;
        tx.commit()?;
        Ok(match refusal {
            Some(r) => Err(r),
            None => Ok(entry),
        })
    }

    /// The audit of a clerk's login attempts, newest first: (at, device, window, outcome).
    pub fn staff_audit(
        &self,
        hall: &str,
        staff: &str,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        self.with(|c| {
            c.prepare(
                "SELECT at, device_id, window_no, outcome FROM staff_audit
                 WHERE hall = ?1 AND staff_no = ?2 ORDER BY rowid DESC",
            )?
            .query_map(params![hall, staff], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect()
        })
    }
}
