//! The ticket numbers a machine reserved at the centre, kept in the journal database: an
//! offline ticket takes its number in the same transaction as its `ticket.offline` record, so
//! a crash can neither lose a number nor issue it twice.

use kiosk_protocol::wire::NumberBlock;
use rusqlite::{params, Connection, OptionalExtension};

/// Keeps a block the centre reserved (a block already kept stays as it is).
pub fn keep(c: &Connection, b: &NumberBlock) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO number_blocks (hall, service, day, first, last, next) VALUES (?1, ?2, ?3, ?4, ?5, ?4)
         ON CONFLICT DO NOTHING",
        params![b.hall, b.service, b.day, b.first, b.last],
    )?;
    Ok(())
}

/// Numbers still to issue for the service's day.
pub fn left(c: &Connection, hall: &str, service: &str, day: &str) -> rusqlite::Result<u32> {
    c.query_row(
        "SELECT COALESCE(SUM(last - next + 1), 0) FROM number_blocks
         WHERE hall = ?1 AND service = ?2 AND day = ?3 AND next <= last",
        params![hall, service, day],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| u32::try_from(n).unwrap_or(0))
}

/// Numbers still to issue for any service of the hall's day.
pub fn left_in_hall(c: &Connection, hall: &str, day: &str) -> rusqlite::Result<u32> {
    c.query_row(
        "SELECT COALESCE(SUM(last - next + 1), 0) FROM number_blocks
         WHERE hall = ?1 AND day = ?2 AND next <= last",
        params![hall, day],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| u32::try_from(n).unwrap_or(0))
}

/// Takes the next number of the service's day, oldest block first; `None` when all are used.
pub fn take(c: &Connection, hall: &str, service: &str, day: &str) -> rusqlite::Result<Option<u32>> {
    let first: Option<(i64, i64)> = c
        .query_row(
            "SELECT first, next FROM number_blocks
             WHERE hall = ?1 AND service = ?2 AND day = ?3 AND next <= last ORDER BY first LIMIT 1",
            params![hall, service, day],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((block, next)) = first else {
        return Ok(None);
    };
    c.execute(
        "UPDATE number_blocks SET next = next + 1 WHERE hall = ?1 AND service = ?2 AND day = ?3 AND first = ?4",
        params![hall, service, day, block],
    )?;
    Ok(u32::try_from(next).ok())
}

/// Forgets the blocks of days before `day` (their numbers can no longer be used).
pub fn forget_before(c: &Connection, day: &str) -> rusqlite::Result<usize> {
    c.execute("DELETE FROM number_blocks WHERE day < ?1", params![day])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_taken_in_order_across_blocks_and_run_out() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::journal::migrations::migrate(&mut c).unwrap();
        let block = |first, last| NumberBlock {
            hall: "h".into(),
            service: "s".into(),
            day: "2026-12-03".into(),
            first,
            last,
        };
        keep(&c, &block(11, 12)).unwrap();
        keep(&c, &block(1, 2)).unwrap();
        keep(&c, &block(1, 2)).unwrap();
        assert_eq!(left(&c, "h", "s", "2026-12-03").unwrap(), 4);
        let taken: Vec<_> = (0..5)
            .map(|_| take(&c, "h", "s", "2026-12-03").unwrap())
            .collect();
        assert_eq!(taken, [Some(1), Some(2), Some(11), Some(12), None]);
        assert_eq!(left(&c, "h", "s", "2026-12-03").unwrap(), 0);
        assert_eq!(take(&c, "h", "other", "2026-12-03").unwrap(), None);
        assert_eq!(forget_before(&c, "2026-12-04").unwrap(), 2);
    }
}
