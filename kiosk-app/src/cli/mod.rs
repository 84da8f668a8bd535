//! What each `kiosk` subcommand does, one file each; `main.rs` parses the command line and
//! calls these. Exit statuses: 0 done, 1 the work failed (a device command, a check), 2 a usage
//! or configuration error.

pub mod admin;
pub mod audit;
pub mod devctl;
pub mod enrol;
pub mod face;
pub mod image;
pub mod imaging;
pub mod outbox_stress;
pub mod pcscd;
pub mod power;
pub mod provision;
pub mod run;
pub mod screenshot;
pub mod simulate;
pub mod tour;
pub mod tour_desk;
pub mod update;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{Config, Profile};
use crate::logging;

/// Loads the configuration at `path`; a bad one is reported with its position, exit status 2.
pub fn load(path: &Path, profile: Option<Profile>) -> Result<(Config, Profile), ExitCode> {
    match Config::load(path) {
        Ok(c) => {
            let p = profile.unwrap_or(c.terminal.profile);
            Ok((c, p))
        }
        Err(e) => {
            eprintln!("kiosk: configuration error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// Loads the configuration, starts logging at its level, and runs `f` with it.
pub fn with_config(
    path: &Path,
    profile: Option<Profile>,
    f: impl FnOnce(Config, Profile) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    match load(path, profile) {
        Ok((c, p)) => {
            logging::init(&c.log.level);
            f(c, p)
        }
        Err(code) => Ok(code),
    }
}

/// Prints `Ok` as pretty JSON (exit 0) or the error on stderr (exit 1).
pub fn print_json(result: Result<serde_json::Value, String>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("kiosk: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The async runtime for commands that talk to the centre.
pub fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("kiosk-rt")
        .build()
        .context("starting the async runtime")
}

/// `tract` or `opencv-dnn`.
pub fn backend(name: &str) -> kiosk_models::BackendKind {
    if name == "opencv-dnn" {
        kiosk_models::BackendKind::OpencvDnn
    } else {
        kiosk_models::BackendKind::Tract
    }
}
