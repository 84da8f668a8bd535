//! Number blocks in PostgreSQL: the same rules as SQLite's (`store::blocks`); reserving takes
//! the advisory lock numbering a service's day takes, so a block and a ticket never share a
//! number.

use kiosk_protocol::wire::{NumberBlock, NumberBlockRequest, OfflineTicket};
use postgres::{GenericClient, Row};

use super::{queue, PgStore};
use crate::store::StoreError;

fn blocks_of(
    c: &mut impl GenericClient,
    hall: &str,
    service: &str,
    day: &str,
) -> Result<Vec<(u32, u32)>, postgres::Error> {
    Ok(c.query(
        "SELECT first, last FROM number_blocks WHERE hall = $1 AND service = $2 AND day = $3",
        &[&hall, &service, &day],
    )?
    .iter()
    .map(|r| (r.get::<_, i32>(0) as u32, r.get::<_, i32>(1) as u32))
    .collect())
}

/// The next online number of a service's day (see `queue::next_online`).
pub(crate) fn next_seq_in(
    c: &mut impl GenericClient,
    hall: &str,
    service: &str,
    day: &str,
) -> Result<i32, postgres::Error> {
    let blocks = blocks_of(c, hall, service, day)?;
    let last_online: i32 = c
        .query_one(
            "SELECT COALESCE(MAX(seq), 0) FROM tickets t WHERE hall = $1 AND service = $2 AND day = $3
             AND NOT EXISTS (SELECT 1 FROM number_blocks b WHERE b.hall = t.hall AND b.service = t.service
                             AND b.day = t.day AND t.seq BETWEEN b.first AND b.last)",
            &[&hall, &service, &day],
        )?
        .get(0);
    Ok(crate::queue::next_online(last_online as u32, &blocks) as i32)
}

/// Where the next block of a service's day starts (see `queue::next_block_start`).
fn next_block_in(
    c: &mut impl GenericClient,
    hall: &str,
    service: &str,
    day: &str,
) -> Result<i32, postgres::Error> {
    let last_block = blocks_of(c, hall, service, day)?
        .iter()
        .map(|b| b.1)
        .max()
        .unwrap_or(0);
    let last_any: i32 = c
        .query_one(
            "SELECT COALESCE(MAX(seq), 0) FROM tickets WHERE hall = $1 AND service = $2 AND day = $3",
            &[&hall, &service, &day],
        )?
        .get(0);
    Ok(crate::queue::next_block_start(last_any as u32, last_block) as i32)
}

/// Takes an offline ticket inside the caller's ingest transaction (see the SQLite twin).
pub(crate) fn offline_ticket_in(
    c: &mut impl GenericClient,
    device_id: &str,
    t: &OfflineTicket,
) -> Result<bool, StoreError> {
    if !crate::queue::offline_number_fits(t) {
        return Ok(false);
    }
    let key = format!("{}/{}/{}", t.hall, t.service, t.day);
    c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
    let seq = t.seq as i32;
    let covered = c
        .query_opt(
            "SELECT 1 FROM number_blocks WHERE hall = $1 AND service = $2 AND day = $3
             AND device_id = $4 AND first <= $5 AND last >= $5",
            &[&t.hall, &t.service, &t.day, &device_id, &seq],
        )?
        .is_some();
    if !covered {
        tracing::warn!(device_id, number = %t.number, "an offline ticket outside the terminal's blocks was not taken");
        return Ok(false);
    }
    let taken = c.execute(
        "INSERT INTO tickets (hall, service, day, seq, number, device_id, request_id, holder)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        &[
            &t.hall,
            &t.service,
            &t.day,
            &seq,
            &t.number,
            &device_id,
            &t.request_id,
            &t.holder,
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

fn block_row(r: &Row) -> NumberBlock {
    NumberBlock {
        hall: r.get(0),
        service: r.get(1),
        day: r.get(2),
        first: r.get::<_, i32>(3) as u32,
        last: r.get::<_, i32>(4) as u32,
    }
}

impl PgStore {
    pub fn reserve_block(
        &self,
        hall: &str,
        service: &str,
        day: &str,
        req: &NumberBlockRequest,
    ) -> Result<NumberBlock, StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let key = format!("{hall}/{service}/{day}");
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
        let by_request =
            "SELECT hall, service, day, first, last FROM number_blocks WHERE request_id = $1";
        if let Some(r) = tx.query_opt(by_request, &[&req.request_id])? {
            return Ok(block_row(&r));
        }
        let first = next_block_in(&mut tx, hall, service, day)?;
        let last = first + req.size.clamp(1, 200) as i32 - 1;
        tx.execute(
            "INSERT INTO number_blocks (hall, service, day, first, last, device_id, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &hall,
                &service,
                &day,
                &first,
                &last,
                &req.device_id,
                &req.request_id,
            ],
        )?;
        let b = block_row(&tx.query_one(by_request, &[&req.request_id])?);
        tx.commit()?;
        Ok(b)
    }
}
