//! `kiosk enrol --code CODE`: makes the terminal's key pair in its data directory (once) and
//! registers the public key with the configured centre against a one-time code.

use std::process::ExitCode;

use crate::centre::identity::DeviceIdentity;
use crate::centre::CentreClient;
use crate::config::Config;

pub fn run(config: &Config, code: &str, algorithm: &str) -> anyhow::Result<ExitCode> {
    let Some(url) = config.centre.url.as_deref() else {
        eprintln!("kiosk enrol: [centre] url is not set; an embedded centre needs no enrolment");
        return Ok(ExitCode::from(2));
    };
    let centre = CentreClient::for_config(config, url)?;
    let path = config.data_dir().join("device.key");
    let id = match DeviceIdentity::load(&path, &config.terminal.id)? {
        Some(id) => id,
        None => {
            let alg = if algorithm == "sm2" {
                kiosk_protocol::signing::Algorithm::Sm2
            } else {
                kiosk_protocol::signing::Algorithm::Ed25519
            };
            DeviceIdentity::create(&path, &config.terminal.id, alg)?
        }
    };
    let e = super::tokio_runtime()?.block_on(id.enrol(&centre, code))?;
    println!(
        "{}",
        serde_json::json!({ "enrolled": e.device_id, "key_id": e.key_id, "key_file": path })
    );
    Ok(ExitCode::SUCCESS)
}
