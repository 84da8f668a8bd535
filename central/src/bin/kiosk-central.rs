//! `kiosk-central serve`: the central service on its own.

use anyhow::Context;
use clap::{Parser, Subcommand};
use kiosk_central::{CentreHandle, Store};

#[derive(Parser)]
#[command(name = "kiosk-central", version, about = "HallKit central service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate terminals against a running centre and print throughput and errors.
    Loadgen {
        /// The centre's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8640")]
        url: String,
        #[arg(long, default_value_t = 20)]
        devices: u32,
        /// Events per device.
        #[arg(long, default_value_t = 1000)]
        events: u64,
        #[arg(long, default_value_t = 100)]
        batch: u64,
        /// Heartbeats per device.
        #[arg(long, default_value_t = 50)]
        heartbeats: u64,
    },
    /// Serve the device API until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8640")]
        listen: String,
        /// A SQLite database file, or a `postgres://user:pass@host:port/db` URL.
        #[arg(
            long,
            default_value = "var/central/central.db",
            env = "HALLKIT_CENTRAL_DB"
        )]
        db: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Loadgen {
            url,
            devices,
            events,
            batch,
            heartbeats,
        } => {
            let plan = kiosk_central::loadgen::LoadPlan {
                devices,
                events,
                batch: batch.clamp(1, kiosk_central::server::MAX_BATCH as u64),
                heartbeats,
            };
            let r = kiosk_central::loadgen::run(&url, plan).await?;
            println!(
                "ingest: {} events from {devices} devices in {:.2} s = {:.0} events/s, {} requests, {} errors",
                r.ingest.items, r.ingest.seconds, r.ingest.per_second, r.ingest.requests, r.ingest.errors
            );
            println!(
                "heartbeats: {} in {:.2} s = {:.0} heartbeats/s, {} errors",
                r.heartbeats.items,
                r.heartbeats.seconds,
                r.heartbeats.per_second,
                r.heartbeats.errors
            );
            println!("{}", serde_json::to_string(&r)?);
            Ok(())
        }
        Command::Serve { listen, db } => {
            // The PostgreSQL client blocks on a runtime of its own: open off the executor.
            let shown = kiosk_central::pg::redact(&db);
            let store = tokio::task::spawn_blocking(move || Store::open(&db))
                .await?
                .with_context(|| format!("opening {shown}"))?;
            let location = store.location();
            // Listen for SIGTERM before announcing readiness, so a stop sent right after the
            // announcement is never missed.
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let centre = CentreHandle::start(&listen, store)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            println!(
                "kiosk-central: serving {} (database {location})",
                centre.base_url()
            );
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::info!("shutting down");
            centre.stop().await?;
            Ok(())
        }
    }
}
