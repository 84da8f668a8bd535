//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads a sample config with its data directory moved into `dir`.
pub fn sample_config(name: &str, dir: &Path) -> kiosk_app::Config {
    let mut cfg = sample_config_with_ic_card(name, dir);
    // The PC/SC reader needs the machine's pcscd; drivers/tests/pcsc_vpcd.rs tests it.
    cfg.devices.retain(|d| d.driver != "pcsc");
    cfg
}

/// As [`sample_config`], keeping the PC/SC reader: the caller makes sure pcscd runs
/// (`kiosk_app::cli::pcscd::ensure`).
pub fn sample_config_with_ic_card(name: &str, dir: &Path) -> kiosk_app::Config {
    let mut cfg = kiosk_app::Config::load(&repo_root().join("config").join(name))
        .unwrap_or_else(|e| panic!("{e}"));
    cfg.terminal.data_dir = dir.to_path_buf();
    // Tests run side by side: each gateway takes a free port (the ready line names it).
    if let Some(g) = cfg.gateway.as_mut() {
        g.port = 0;
    }
    cfg
}

/// Panics, naming the file, when a regular file under `dir` (but not under `except`) holds
/// one of `secrets` in plain bytes. Only regular files are read: the simulators'
/// pseudo-terminals live there too, and a read from one would wait for ever.
pub fn assert_no_plain(dir: &Path, except: Option<&Path>, secrets: &[&str]) {
    let mut files = vec![dir.to_path_buf()];
    while let Some(p) = files.pop() {
        if Some(p.as_path()) == except {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                files.extend(entries.flatten().map(|e| e.path()));
            }
            continue;
        }
        if !meta.is_file() {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap_or_default();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds {secret}",
                p.display()
            );
        }
    }
}
