//! Logs through `tracing`, to stderr. Personal data is masked where it is logged
//! (`kiosk_hal::privacy`); events carry payload types, never scanned or read contents.

use tracing_subscriber::EnvFilter;

/// Sets up logging once; `RUST_LOG` overrides the configured level.
pub fn init(level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
