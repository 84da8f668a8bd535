//! The hall queue in SQLite: open tickets and windows as JSON bodies with their keys beside
//! them, and the feed of queue events. A command loads the hall's day, runs the engine and
//! writes back what changed, all in one immediate transaction.

use kiosk_protocol::queue::{QueueEvent, QueueTicket, QueueWindow};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{SqliteStore, StoreError};
use crate::queue::HallQueue;

/// The states a ticket is loaded in: still in the queue.
const OPEN: &str = "('issued','waiting','called','serving','hold')";

fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Loads the hall's open tickets of `day` (or just `number`) and its windows.
pub(crate) fn load_in(
    c: &Connection,
    hall: &str,
    day: &str,
    number: Option<&str>,
) -> rusqlite::Result<HallQueue> {
    let mut q = HallQueue {
        hall: hall.to_string(),
        day: day.to_string(),
        ..HallQueue::default()
    };
    let bodies: Vec<String> = match number {
        Some(n) => c
            .prepare("SELECT body FROM queue_tickets WHERE hall = ?1 AND day = ?2 AND number = ?3")?
            .query_map(params![hall, day, n], |r| r.get(0))?
            .collect::<Result<_, _>>()?,
        None => c
            .prepare(&format!(
                "SELECT body FROM queue_tickets WHERE hall = ?1 AND day = ?2 AND state IN {OPEN}"
            ))?
            .query_map(params![hall, day], |r| r.get(0))?
            .collect::<Result<_, _>>()?,
    };
    for b in bodies {
        let t: QueueTicket = from_json(&b)?;
        q.tickets.insert(t.number.clone(), t);
    }
    let windows: Vec<String> = c
        .prepare("SELECT body FROM queue_windows WHERE hall = ?1")?
        .query_map(params![hall], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for b in windows {
        let w: QueueWindow = from_json(&b)?;
        q.windows.insert(w.window.clone(), w);
    }
    q.next_event = c.query_row(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM queue_events WHERE hall = ?1",
        params![hall],
        |r| r.get::<_, i64>(0),
    )? as u64;
    Ok(q)
}

/// Writes back the tickets and windows a command changed, and its events.
pub(crate) fn save_in(c: &Connection, q: &HallQueue) -> rusqlite::Result<()> {
    for n in &q.changed_tickets {
        let Some(t) = q.tickets.get(n) else { continue };
        c.execute(
            "INSERT INTO queue_tickets (hall, day, number, service, state, arrived_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (hall, day, number) DO UPDATE SET service = excluded.service,
                state = excluded.state, arrived_at = excluded.arrived_at, body = excluded.body",
            params![
                q.hall,
                t.day,
                t.number,
                t.service,
                t.state.as_str(),
                t.arrived_at,
                serde_json::to_string(t).map_err(json_err)?
            ],
        )?;
    }
    for w in &q.changed_windows {
        let Some(win) = q.windows.get(w) else {
            continue;
        };
        c.execute(
            "INSERT INTO queue_windows (hall, window_no, body) VALUES (?1, ?2, ?3)
             ON CONFLICT (hall, window_no) DO UPDATE SET body = excluded.body",
            params![q.hall, w, serde_json::to_string(win).map_err(json_err)?],
        )?;
    }
    for e in &q.events {
        c.execute(
            "INSERT INTO queue_events (hall, id, at, body) VALUES (?1, ?2, ?3, ?4)",
            params![
                q.hall,
                e.id as i64,
                e.at,
                serde_json::to_string(e).map_err(json_err)?
            ],
        )?;
    }
    Ok(())
}

/// Takes a just-issued ticket into the queue inside the caller's (issue) transaction; a
/// number the day already has is left as it is.
pub(crate) fn admit_in(
    c: &Connection,
    hall: &str,
    t: QueueTicket,
    now: &str,
) -> rusqlite::Result<()> {
    let known: Option<i64> = c
        .query_row(
            "SELECT 1 FROM queue_tickets WHERE hall = ?1 AND day = ?2 AND number = ?3",
            params![hall, t.day, t.number],
            |r| r.get(0),
        )
        .optional()?;
    if known.is_some() {
        return Ok(());
    }
    let mut q = load_in(c, hall, &t.day, Some(&t.number))?;
    q.admit(t, now);
    save_in(c, &q)
}

/// A ticket's print settled (inside the caller's ingest transaction).
pub(crate) fn settle_in(
    c: &Connection,
    hall: &str,
    day: &str,
    number: &str,
    printed: bool,
    now: &str,
) -> rusqlite::Result<()> {
    let mut q = load_in(c, hall, day, Some(number))?;
    q.settle(number, printed, now);
    save_in(c, &q)
}

/// Keeps a window rating inside the caller's ingest transaction and binds it to its ticket;
/// a second rating of the same ticket is not kept.
pub(crate) fn rate_in(
    c: &Connection,
    device_id: &str,
    r: &kiosk_protocol::queue::TicketRating,
) -> rusqlite::Result<bool> {
    let kept = c.execute(
        "INSERT INTO queue_ratings (hall, day, number, device_id, rated_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        params![
            r.hall,
            r.day,
            r.number,
            device_id,
            r.rated_at,
            serde_json::to_string(r).map_err(json_err)?
        ],
    )?;
    if kept == 0 {
        return Ok(false);
    }
    let mut q = load_in(c, &r.hall, &r.day, Some(&r.number))?;
    crate::queue::rate(&mut q, r);
    save_in(c, &q)?;
    Ok(true)
}

impl SqliteStore {
    /// The window ratings of a hall's days, every field.
    pub fn queue_ratings(
        &self,
        hall: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<kiosk_protocol::queue::TicketRating>, StoreError> {
        self.with(|c| {
            c.prepare(
                "SELECT body FROM queue_ratings WHERE hall = ?1 AND day >= ?2 AND day <= ?3
                 ORDER BY rated_at",
            )?
            .query_map(params![hall, from, to], |r| r.get::<_, String>(0))?
            .map(|b| from_json(&b?))
            .collect()
        })
    }

    /// Makes a display token for `hall`; only its hash is kept.
    pub fn create_display_token(&self, hall: &str) -> Result<String, StoreError> {
        let token = crate::queue::new_display_token();
        self.with(|c| {
            c.execute(
                "INSERT INTO display_tokens (token_sha256, hall, created_at) VALUES (?1, ?2, ?3)",
                params![
                    crate::queue::token_hash(&token),
                    hall,
                    crate::queue::now_rfc3339()
                ],
            )
        })?;
        Ok(token)
    }

    pub fn display_token_allows(&self, hall: &str, token: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT 1 FROM display_tokens WHERE token_sha256 = ?1 AND hall = ?2",
                params![crate::queue::token_hash(token), hall],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
        })
    }

    pub fn queue_transact<T, E>(
        &self,
        hall: &str,
        day: &str,
        f: impl FnOnce(&mut HallQueue) -> Result<T, E>,
    ) -> Result<Result<T, E>, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut q = load_in(&tx, hall, day, None)?;
        match f(&mut q) {
            Ok(v) => {
                save_in(&tx, &q)?;
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
        self.with(|c| {
            c.prepare(
                "SELECT body FROM queue_events WHERE hall = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?
            .query_map(params![hall, after as i64, limit as i64], |r| {
                r.get::<_, String>(0)
            })?
            .map(|b| from_json(&b?))
            .collect()
        })
    }

    pub fn queue_tickets_between(
        &self,
        hall: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<QueueTicket>, StoreError> {
        self.with(|c| {
            c.prepare(
                "SELECT body FROM queue_tickets WHERE hall = ?1 AND day >= ?2 AND day <= ?3
                 ORDER BY day, number",
            )?
            .query_map(params![hall, from, to], |r| r.get::<_, String>(0))?
            .map(|b| from_json(&b?))
            .collect()
        })
    }
}
