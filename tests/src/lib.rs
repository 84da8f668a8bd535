//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads a sample config with its data directory moved into `dir`.
pub fn sample_config(name: &str, dir: &Path) -> kiosk_app::Config {
    let mut cfg = kiosk_app::Config::load(&repo_root().join("config").join(name))
        .unwrap_or_else(|e| panic!("{e}"));
    cfg.terminal.data_dir = dir.to_path_buf();
    // The PC/SC reader needs the machine's pcscd; drivers/tests/pcsc_vpcd.rs tests it.
    cfg.devices.retain(|d| d.driver != "pcsc");
    cfg
}
