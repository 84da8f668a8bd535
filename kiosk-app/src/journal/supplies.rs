//! The supplies' counters: how many prints each printer made since its roll or tray was last
//! replaced. The outbox counts a print when it records the print's successful completion, in
//! the same transaction, so whichever journey, page or remote command printed, it is counted
//! once; a technician's reset (admin mode) starts the count again.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

/// Device actions that take paper.
const PRINTS: &[&str] = &["print", "print-test", "print-file", "ipp-print"];

/// Counts `payload` (a `device.action.complete` event) when it is a successful print.
pub(super) fn count(conn: &Connection, payload: &Value, at: &str) -> rusqlite::Result<()> {
    let action = payload["fields"]["action"].as_str().unwrap_or_default();
    let ok = payload["disposition"]["result"].as_str() == Some("success");
    let Some(device) = payload["device"].as_str() else {
        return Ok(());
    };
    if ok && PRINTS.contains(&action) {
        conn.execute(
            "INSERT INTO supplies (device, used, since) VALUES (?1, 1, ?2)
             ON CONFLICT(device) DO UPDATE SET used = used + 1",
            params![device, at],
        )?;
    }
    Ok(())
}

/// One printer's count: prints since `since` (the reset, or the first print counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyCount {
    pub used: u64,
    pub since: Option<String>,
}

pub(super) fn get(conn: &Connection, device: &str) -> rusqlite::Result<SupplyCount> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT used, since FROM supplies WHERE device = ?1",
            params![device],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match row {
        Some((used, since)) => SupplyCount {
            used: u64::try_from(used).unwrap_or(0),
            since: Some(since),
        },
        None => SupplyCount {
            used: 0,
            since: None,
        },
    })
}

pub(super) fn reset(conn: &Connection, device: &str, at: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO supplies (device, used, since) VALUES (?1, 0, ?2)
         ON CONFLICT(device) DO UPDATE SET used = 0, since = ?2",
        params![device, at],
    )?;
    Ok(())
}
