//! `kiosk outbox-stress`: queues synthetic events one transaction at a time, printing each
//! committed sequence number, and uploads them every few events. Meant to be killed at random
//! points (tests/crash.rs does, hundreds of times): whatever it printed must reach the centre.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use kiosk_hal::clock::SystemClock;

use crate::centre::sync::SyncClient;
use crate::centre::CentreClient;
use crate::journal::{Journal, Outbox};

pub fn run(db: &Path, device: &str, centre: &str, events: u64) -> anyhow::Result<ExitCode> {
    let tokio = super::tokio_runtime()?;
    let journal = Journal::new(Outbox::open(db, device, SystemClock::shared())?);
    let client = SyncClient::new(CentreClient::plain(centre, device)?, 50);
    let mut out = std::io::stdout().lock();
    for i in 0..events {
        let env = journal.lock().enqueue(
            "stress.event",
            serde_json::json!({ "i": i, "text": "办件 application" }),
        )?;
        // Printed only after the commit: whatever the parent saw here must reach the centre.
        writeln!(out, "{}", env.seq)?;
        out.flush()?;
        if i % 7 == 6 {
            tokio.block_on(client.drain(&journal))?;
        }
    }
    let report = tokio.block_on(client.drain(&journal))?;
    writeln!(out, "{}", serde_json::json!({ "drained": report }))?;
    Ok(ExitCode::SUCCESS)
}
