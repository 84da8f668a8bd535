//! `kiosk-central serve`: the central service on its own.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kiosk_central::{CentreHandle, SqliteStore};

#[derive(Parser)]
#[command(name = "kiosk-central", version, about = "HallKit central service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the device API until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8640")]
        listen: String,
        /// SQLite database file.
        #[arg(long, default_value = "var/central/central.db")]
        db: PathBuf,
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
        Command::Serve { listen, db } => {
            let store =
                SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?;
            let centre = CentreHandle::start(&listen, store)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            println!(
                "kiosk-central: serving {} (database {})",
                centre.base_url(),
                db.display()
            );
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
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
