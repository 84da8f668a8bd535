//! `kiosk face verify` and `kiosk face check-models`: the face check on pictures, or on the
//! person in front of a configured face camera.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use kiosk_hal::clock::SystemClock;

use super::{backend, imaging, print_json, with_config};
use crate::config::Profile;
use crate::runtime::{Owner, Runtime};
use crate::services::face::{FaceConfig, FaceService};

pub fn check_models(models: &Path, backend_name: &str) -> anyhow::Result<ExitCode> {
    print_json(imaging::check_models(models, backend(backend_name)))
}

/// What `kiosk face verify` was given.
pub struct VerifyArgs {
    pub card: PathBuf,
    pub probe: Vec<PathBuf>,
    pub ir: Option<PathBuf>,
    pub camera: Option<String>,
    pub models: Option<PathBuf>,
    pub backend: Option<String>,
    pub threshold: Option<f32>,
}

pub fn verify(
    args: VerifyArgs,
    config: &Path,
    profile: Option<Profile>,
) -> anyhow::Result<ExitCode> {
    if !args.probe.is_empty() {
        let models = args
            .models
            .clone()
            .unwrap_or_else(|| FaceConfig::default().models);
        let b = backend(args.backend.as_deref().unwrap_or("tract"));
        return print_json(
            imaging::verify_files(
                &args.card,
                &args.probe,
                args.ir.as_deref(),
                &models,
                b,
                args.threshold,
            )
            .map_err(|e| e.to_string()),
        );
    }
    with_config(config, profile, |mut config, profile| {
        if let Some(m) = &args.models {
            config.face.models = m.clone();
        }
        if let Some(b) = &args.backend {
            config.face.backend = backend(b);
        }
        let camera = match args.camera.clone().or_else(|| {
            config
                .devices
                .iter()
                .find(|d| d.kind == kiosk_hal::DeviceKind::FaceCamera)
                .map(|d| d.id.clone())
        }) {
            Some(c) => c,
            None => {
                eprintln!(
                    "kiosk face verify: no --probe and no face camera in {}",
                    config.source.display()
                );
                return Ok(ExitCode::from(2));
            }
        };
        config.devices.retain(|d| d.id == camera);
        let card_photo = kiosk_image::scan::read_image(&args.card)?;
        let rt = Runtime::start(&config, profile, SystemClock::shared())?;
        rt.poll_all();
        let claim = rt.claim(
            &camera,
            Owner::Bench,
            Duration::from_secs(120),
            Duration::from_secs(5),
        );
        let claim = match claim {
            Ok(c) => c,
            Err(e) => {
                rt.shutdown();
                return print_json(Err(e.to_string()));
            }
        };
        let mut service = FaceService::load(&config.face);
        let mut prompts = Vec::new();
        let v = service.verify(
            &rt,
            &claim,
            &card_photo,
            &mut |p| {
                eprintln!("{} / {}", p.zh(), p.en());
                prompts.push(p);
            },
            &std::sync::atomic::AtomicBool::new(false),
        );
        drop(claim);
        rt.shutdown();
        let mut out = imaging::verification_json(&v, &prompts);
        out["camera"] = serde_json::json!(camera);
        print_json(Ok(out))
    })
}
