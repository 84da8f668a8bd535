//! The hall queue in PostgreSQL: the same tables and engine as SQLite's (`store::queue`); a
//! hall's queue work is serialised by a transaction-scoped advisory lock per hall, so windows
//! on several centre nodes never call one ticket twice.

use kiosk_protocol::queue::{QueueEvent, QueueTicket, QueueWindow};
use postgres::GenericClient;

use super::PgStore;
use crate::queue::HallQueue;
use crate::store::StoreError;

const OPEN: &str = "('issued','waiting','called','serving','hold')";

fn bad(e: serde_json::Error) -> StoreError {
    StoreError::Postgres(format!("a stored queue record: {e}"))
}

/// Takes the hall's queue lock until the transaction ends.
pub(crate) fn lock_hall(c: &mut impl GenericClient, hall: &str) -> Result<(), StoreError> {
    let key = format!("queue/{hall}");
    c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
    Ok(())
}

pub(crate) fn load_in(
    c: &mut impl GenericClient,
    hall: &str,
    day: &str,
    number: Option<&str>,
) -> Result<HallQueue, StoreError> {
    let mut q = HallQueue {
        hall: hall.to_string(),
        day: day.to_string(),
        ..HallQueue::default()
    };
    let rows = match number {
        Some(n) => c.query(
            "SELECT body FROM queue_tickets WHERE hall = $1 AND day = $2 AND number = $3",
            &[&hall, &day, &n],
        )?,
        None => c.query(
            &format!(
                "SELECT body FROM queue_tickets WHERE hall = $1 AND day = $2 AND state IN {OPEN}"
            ),
            &[&hall, &day],
        )?,
    };
    for r in rows {
        let t: QueueTicket = serde_json::from_str(&r.get::<_, String>(0)).map_err(bad)?;
        q.tickets.insert(t.number.clone(), t);
    }
    for r in c.query("SELECT body FROM queue_windows WHERE hall = $1", &[&hall])? {
        let w: QueueWindow = serde_json::from_str(&r.get::<_, String>(0)).map_err(bad)?;
        q.windows.insert(w.window.clone(), w);
    }
    let next: i64 = c
        .query_one(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM queue_events WHERE hall = $1",
            &[&hall],
        )?
        .get(0);
    q.next_event = next as u64;
    Ok(q)
}

pub(crate) fn save_in(c: &mut impl GenericClient, q: &HallQueue) -> Result<(), StoreError> {
    for n in &q.changed_tickets {
        let Some(t) = q.tickets.get(n) else { continue };
        let body = serde_json::to_string(t).map_err(bad)?;
        c.execute(
            "INSERT INTO queue_tickets (hall, day, number, service, state, arrived_at, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (hall, day, number) DO UPDATE SET service = excluded.service,
                state = excluded.state, arrived_at = excluded.arrived_at, body = excluded.body",
            &[
                &q.hall,
                &t.day,
                &t.number,
                &t.service,
                &t.state.as_str(),
                &t.arrived_at,
                &body,
            ],
        )?;
    }
    for w in &q.changed_windows {
        let Some(win) = q.windows.get(w) else {
            continue;
        };
        let body = serde_json::to_string(win).map_err(bad)?;
        c.execute(
            "INSERT INTO queue_windows (hall, window_no, body) VALUES ($1, $2, $3)
             ON CONFLICT (hall, window_no) DO UPDATE SET body = excluded.body",
            &[&q.hall, w, &body],
        )?;
    }
    for e in &q.events {
        let body = serde_json::to_string(e).map_err(bad)?;
        c.execute(
            "INSERT INTO queue_events (hall, id, at, body) VALUES ($1, $2, $3, $4)",
            &[&q.hall, &(e.id as i64), &e.at, &body],
        )?;
    }
    Ok(())
}

/// Takes a just-issued ticket into the queue inside the caller's (issue) transaction.
pub(crate) fn admit_in(
    c: &mut impl GenericClient,
    hall: &str,
    t: QueueTicket,
    now: &str,
) -> Result<(), StoreError> {
    lock_hall(c, hall)?;
    let mut q = load_in(c, hall, &t.day, Some(&t.number))?;
    if q.tickets.contains_key(&t.number) {
        return Ok(());
    }
    q.admit(t, now);
    save_in(c, &q)
}

/// A ticket's print settled (inside the caller's ingest transaction).
pub(crate) fn settle_in(
    c: &mut impl GenericClient,
    hall: &str,
    day: &str,
    number: &str,
    printed: bool,
    now: &str,
) -> Result<(), StoreError> {
    lock_hall(c, hall)?;
    let mut q = load_in(c, hall, day, Some(number))?;
    q.settle(number, printed, now);
    save_in(c, &q)
}

/// Keeps a window rating inside the caller's ingest transaction (see the SQLite twin).
pub(crate) fn rate_in(
    c: &mut impl GenericClient,
    device_id: &str,
    r: &kiosk_protocol::queue::TicketRating,
) -> Result<bool, StoreError> {
    let body = serde_json::to_string(r).map_err(bad)?;
    let kept = c.execute(
        "INSERT INTO queue_ratings (hall, day, number, device_id, rated_at, body)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        &[&r.hall, &r.day, &r.number, &device_id, &r.rated_at, &body],
    )?;
    if kept == 0 {
        return Ok(false);
    }
    lock_hall(c, &r.hall)?;
    let mut q = load_in(c, &r.hall, &r.day, Some(&r.number))?;
    crate::queue::rate(&mut q, r);
    save_in(c, &q)?;
    Ok(true)
}

impl PgStore {
    pub fn queue_ratings(
        &self,
        hall: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<kiosk_protocol::queue::TicketRating>, StoreError> {
        self.client()
            .query(
                "SELECT body FROM queue_ratings WHERE hall = $1 AND day >= $2 AND day <= $3
                 ORDER BY rated_at",
                &[&hall, &from, &to],
            )?
            .into_iter()
            .map(|r| serde_json::from_str(&r.get::<_, String>(0)).map_err(bad))
            .collect()
    }

    /// Makes a display token for `hall`; only its hash is kept.
    pub fn create_display_token(&self, hall: &str) -> Result<String, StoreError> {
        let token = crate::queue::new_display_token();
        self.client().execute(
            "INSERT INTO display_tokens (token_sha256, hall, created_at) VALUES ($1, $2, $3)",
            &[
                &crate::queue::token_hash(&token),
                &hall,
                &crate::queue::now_rfc3339(),
            ],
        )?;
        Ok(token)
    }

    pub fn display_token_allows(&self, hall: &str, token: &str) -> Result<bool, StoreError> {
        Ok(self
            .client()
            .query_opt(
                "SELECT 1 FROM display_tokens WHERE token_sha256 = $1 AND hall = $2",
                &[&crate::queue::token_hash(token), &hall],
            )?
            .is_some())
    }

    pub fn queue_transact<T, E>(
        &self,
        hall: &str,
        day: &str,
        f: impl FnOnce(&mut HallQueue) -> Result<T, E>,
    ) -> Result<Result<T, E>, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        lock_hall(&mut tx, hall)?;
        let mut q = load_in(&mut tx, hall, day, None)?;
        match f(&mut q) {
            Ok(v) => {
                save_in(&mut tx, &q)?;
                tx.commit()?;
                Ok(Ok(v))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    pub fn queue_events_after(
        &self,
        hall: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        self.client()
            .query(
                "SELECT body FROM queue_events WHERE hall = $1 AND id > $2 ORDER BY id LIMIT $3",
                &[&hall, &(after as i64), &(limit as i64)],
            )?
            .into_iter()
            .map(|r| serde_json::from_str(&r.get::<_, String>(0)).map_err(bad))
            .collect()
    }

    pub fn queue_tickets_between(
        &self,
        hall: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<QueueTicket>, StoreError> {
        self.client()
            .query(
                "SELECT body FROM queue_tickets WHERE hall = $1 AND day >= $2 AND day <= $3
                 ORDER BY day, number",
                &[&hall, &from, &to],
            )?
            .into_iter()
            .map(|r| serde_json::from_str(&r.get::<_, String>(0)).map_err(bad))
            .collect()
    }
}
