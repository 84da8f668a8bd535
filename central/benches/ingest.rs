//! Centre throughput on this machine (printed, never asserted): event ingest and heartbeats
//! through HTTP on loopback, the same load against the SQLite store and against a PostgreSQL
//! server started for the run.
//!
//!     cargo bench -p kiosk-central --bench ingest

use kiosk_central::loadgen::{run, LoadPlan};
use kiosk_central::pgserver::PgServer;
use kiosk_central::{CentreHandle, SqliteStore, Store};

const PLAN: LoadPlan = LoadPlan {
    devices: 20,
    events: 2500,
    batch: 100,
    heartbeats: 200,
};

fn measure(name: &str, store: Store) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let report = rt.block_on(async {
        let centre = CentreHandle::start("127.0.0.1:0", store)
            .await
            .expect("centre");
        let r = run(&centre.base_url(), PLAN).await.expect("load");
        centre.stop().await.expect("stop");
        r
    });
    println!(
        "{name:<10} ingest: {} events in {:.2} s = {:.0} events/s ({} requests, {} errors); heartbeats: {:.0}/s ({} errors)",
        report.ingest.items,
        report.ingest.seconds,
        report.ingest.per_second,
        report.ingest.requests,
        report.ingest.errors,
        report.heartbeats.per_second,
        report.heartbeats.errors
    );
}

fn main() {
    println!(
        "{} devices × {} events in batches of {}, {} heartbeats each, over loopback HTTP",
        PLAN.devices, PLAN.events, PLAN.batch, PLAN.heartbeats
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(&dir.path().join("centre.db")).expect("sqlite");
    measure("sqlite", sqlite.into());
    match PgServer::start(&dir.path().join("pg")) {
        Ok(pg) => {
            let url = pg.database().expect("database");
            let store = Store::open(&url).expect("postgres store");
            measure("postgres", store);
        }
        Err(e) => println!("postgres   not measured: {e}"),
    }
}
