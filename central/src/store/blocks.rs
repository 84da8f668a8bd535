//! Number blocks in SQLite: a ticket machine reserves numbers of a service's day to issue on
//! its own while the centre cannot be reached; online numbering goes past every block, and
//! the offline tickets join the queue through the journal at the time they were issued.

use kiosk_protocol::wire::{NumberBlock, NumberBlockRequest, OfflineTicket};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{queue, SqliteStore, StoreError};

fn blocks_of(
    c: &Connection,
    hall: &str,
    service: &str,
    day: &str,
) -> rusqlite::Result<Vec<(u32, u32)>> {
    c.prepare(
        "SELECT first, last FROM number_blocks WHERE hall = ?1 AND service = ?2 AND day = ?3",
    )?
    .query_map(params![hall, service, day], |r| {
        Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u32))
    })?
    .collect()
}

/// The next online number of a service's day (see `queue::next_online`).
pub(crate) fn next_seq_in(
    c: &Connection,
    hall: &str,
    service: &str,
    day: &str,
) -> rusqlite::Result<i64> {
    let blocks = blocks_of(c, hall, service, day)?;
    let last_online: i64 = c.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM tickets t WHERE hall = ?1 AND service = ?2 AND day = ?3
         AND NOT EXISTS (SELECT 1 FROM number_blocks b WHERE b.hall = t.hall AND b.service = t.service
                         AND b.day = t.day AND t.seq BETWEEN b.first AND b.last)",
        params![hall, service, day],
        |r| r.get(0),
    )?;
    Ok(i64::from(crate::queue::next_online(
        last_online as u32,
        &blocks,
    )))
}

/// Where the next block of a service's day starts (see `queue::next_block_start`).
fn next_block_in(c: &Connection, hall: &str, service: &str, day: &str) -> rusqlite::Result<i64> {
    let last_block = blocks_of(c, hall, service, day)?
        .iter()
        .map(|b| b.1)
        .max()
        .unwrap_or(0);
    let last_any: i64 = c.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM tickets WHERE hall = ?1 AND service = ?2 AND day = ?3",
        params![hall, service, day],
        |r| r.get(0),
    )?;
    Ok(i64::from(crate::queue::next_block_start(
        last_any as u32,
        last_block,
    )))
}

/// Takes an offline ticket inside the caller's ingest transaction, when it lies in a block of
/// this terminal and its number is free. Returns whether it was taken.
pub(crate) fn offline_ticket_in(
    c: &Connection,
    device_id: &str,
    t: &OfflineTicket,
) -> rusqlite::Result<bool> {
    if !crate::queue::offline_number_fits(t) {
        return Ok(false);
    }
    let covered: Option<i64> = c
        .query_row(
            "SELECT 1 FROM number_blocks WHERE hall = ?1 AND service = ?2 AND day = ?3
             AND device_id = ?4 AND first <= ?5 AND last >= ?5",
            params![t.hall, t.service, t.day, device_id, t.seq],
            |r| r.get(0),
        )
        .optional()?;
    if covered.is_none() {
        tracing::warn!(device_id, number = %t.number, "an offline ticket outside the terminal's blocks was not taken");
        return Ok(false);
    }
    let taken = c.execute(
        "INSERT INTO tickets (hall, service, day, seq, number, device_id, request_id, holder)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        params![
            t.hall,
            t.service,
            t.day,
            t.seq,
            t.number,
            device_id,
            t.request_id,
            t.holder
        ],
    )?;
    if taken == 0 {
        return Ok(false);
    }
    queue::admit_in(
        c,
        &t.hall,
        crate::queue::new_ticket_at(&t.number, &t.service, &t.day, &[], t.issued_at.clone()),
        &t.issued_at,
    )?;
    Ok(true)
}

impl SqliteStore {
    /// Reserves `req.size` numbers of the service's day for a terminal; the same request id
    /// gets the same block.
    pub fn reserve_block(
        &self,
        hall: &str,
        service: &str,
        day: &str,
        req: &NumberBlockRequest,
    ) -> Result<NumberBlock, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<NumberBlock> {
            Ok(NumberBlock {
                hall: r.get(0)?,
                service: r.get(1)?,
                day: r.get(2)?,
                first: r.get::<_, i64>(3)? as u32,
                last: r.get::<_, i64>(4)? as u32,
            })
        };
        let by_request =
            "SELECT hall, service, day, first, last FROM number_blocks WHERE request_id = ?1";
        if let Some(b) = tx
            .query_row(by_request, params![req.request_id], row)
            .optional()?
        {
            return Ok(b);
        }
        let first = next_block_in(&tx, hall, service, day)?;
        let last = first + i64::from(req.size.clamp(1, 200)) - 1;
        tx.execute(
            "INSERT INTO number_blocks (hall, service, day, first, last, device_id, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                hall,
                service,
                day,
                first,
                last,
                req.device_id,
                req.request_id
            ],
        )?;
        let b = tx.query_row(by_request, params![req.request_id], row)?;
        tx.commit()?;
        Ok(b)
    }
}
