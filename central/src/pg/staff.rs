//! The staff directory in PostgreSQL (rules in `crate::staff`); an attempt locks its row.

use super::PgStore;
use crate::staff::{attempt, pin_matches, StaffEntry, StaffRefusal};
use crate::store::StoreError;

fn parse_time(s: Option<String>) -> Option<chrono::DateTime<chrono::Utc>> {
    s.and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn bad(e: serde_json::Error) -> StoreError {
    StoreError::Postgres(format!("a staff entry: {e}"))
}

impl PgStore {
    pub fn put_staff(&self, hall: &str, e: &StaffEntry) -> Result<(), StoreError> {
        let body = serde_json::to_string(e).map_err(bad)?;
        self.client().execute(
            "INSERT INTO staff (hall, staff_no, body) VALUES ($1, $2, $3)
             ON CONFLICT (hall, staff_no) DO UPDATE SET body = excluded.body",
            &[&hall, &e.staff, &body],
        )?;
        Ok(())
    }

    pub fn staff_login(
        &self,
        hall: &str,
        staff: &str,
        pin: &str,
        window: &str,
        device_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<StaffEntry, StaffRefusal>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let row = tx.query_opt(
            "SELECT body, failures, locked_until FROM staff WHERE hall = $1 AND staff_no = $2 FOR UPDATE",
            &[&hall, &staff],
        )?;
        let at = now.to_rfc3339();
        let audit_sql =
            "INSERT INTO staff_audit (hall, staff_no, at, device_id, window_no, outcome)
                         VALUES ($1, $2, $3, $4, $5, $6)";
        let Some(row) = row else {
            tx.execute(
                audit_sql,
                &[&hall, &staff, &at, &device_id, &window, &"staff-unknown"],
            )?;
            tx.commit()?;
            return Ok(Err(StaffRefusal::Unknown(staff.to_string())));
        };
        let entry: StaffEntry = serde_json::from_str(&row.get::<_, String>(0)).map_err(bad)?;
        let failures: i32 = row.get(1);
        let locked = parse_time(row.get(2));
        let ok = locked.is_none_or(|u| u <= now) && pin_matches(pin, &entry.pin_hash);
        let (failures, locked, refusal) = attempt(ok, failures as u32, locked, now);
        tx.execute(
            "UPDATE staff SET failures = $3, locked_until = $4 WHERE hall = $1 AND staff_no = $2",
            &[
                &hall,
                &staff,
                &(failures as i32),
                &locked.map(|t| t.to_rfc3339()),
            ],
        )?;
        let outcome = refusal.as_ref().map_or("logged-in", StaffRefusal::reason);
        tx.execute(
            audit_sql,
            &[&hall, &staff, &at, &device_id, &window, &outcome],
        )?;
        tx.commit()?;
        Ok(match refusal {
            Some(r) => Err(r),
            None => Ok(entry),
        })
    }

    pub fn staff_audit(
        &self,
        hall: &str,
        staff: &str,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        Ok(self
            .client()
            .query(
                "SELECT at, device_id, window_no, outcome FROM staff_audit
                 WHERE hall = $1 AND staff_no = $2 ORDER BY at DESC",
                &[&hall, &staff],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }
}
