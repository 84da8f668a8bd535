//! The terminal's face check: models loaded once from the configured directory, the face
//! camera reached through its device actor, per-camera thresholds from the config, and one
//! `session.face.result` event per check with the decision and score (never a picture or an
//! embedding).

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use base64::Engine as _;
use kiosk_hal::device::CompletionCode;
use kiosk_image::{Frame, FrameError, FrameSource};
use kiosk_models::{verify_person, FaceEngine, Prompt, Verification, VerifyPolicy};
use kiosk_protocol::{Event, EventKind};
use opencv::core::Mat;
use serde_json::{json, Value};

pub use crate::config::FaceConfig;
use crate::runtime::{CallError, Claim, Runtime};

/// Frames from a face camera running in its device actor, fetched with its `frame` action.
/// The JPEG travels in memory only.
pub struct RemoteFrames<'a> {
    runtime: &'a Runtime,
    camera: &'a Claim,
    id: String,
    sequence: u64,
}

impl<'a> RemoteFrames<'a> {
    pub fn new(runtime: &'a Runtime, camera: &'a Claim) -> RemoteFrames<'a> {
        RemoteFrames {
            runtime,
            id: camera.device().to_string(),
            camera,
            sequence: 0,
        }
    }

    fn decode(&self, v: &Value, key: &str) -> Result<Option<Mat>, FrameError> {
        let Some(b64) = v.get(key).and_then(Value::as_str) else {
            return Ok(None);
        };
        let fail = |message: String| FrameError::Failed {
            camera: self.id.clone(),
            message,
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| fail(format!("{key}: {e}")))?;
        kiosk_image::scan::decode(&bytes)
            .map(Some)
            .map_err(|e| fail(format!("{key}: {e}")))
    }
}

impl FrameSource for RemoteFrames<'_> {
    fn grab(&mut self) -> Result<Frame, FrameError> {
        let v = self
            .runtime
            .call_unrecorded(
                self.camera,
                "frame",
                json!({ "quality": 92 }),
                Duration::from_secs(3),
            )
            .map_err(|e| match &e {
                CallError::Device(d)
                    if matches!(
                        d.code,
                        CompletionCode::NotReady | CompletionCode::HardwareError
                    ) =>
                {
                    FrameError::Offline(self.id.clone())
                }
                _ => FrameError::Failed {
                    camera: self.id.clone(),
                    message: e.detail(),
                },
            })?;
        let image = self.decode(&v, "jpeg")?.ok_or_else(|| FrameError::Failed {
            camera: self.id.clone(),
            message: "frame without a picture".into(),
        })?;
        self.sequence += 1;
        Ok(Frame {
            image,
            ir: self.decode(&v, "ir_jpeg")?,
            sequence: self.sequence,
        })
    }
}

/// Frames passed through to the check, each shown to `watch` first.
struct Watched<'a, 'w> {
    inner: RemoteFrames<'a>,
    watch: &'w mut dyn FnMut(&Mat),
}

impl FrameSource for Watched<'_, '_> {
    fn grab(&mut self) -> Result<Frame, FrameError> {
        let f = self.inner.grab()?;
        (self.watch)(&f.image);
        Ok(f)
    }

    fn has_ir(&self) -> bool {
        self.inner.has_ir()
    }
}

pub struct FaceService {
    engine: Result<FaceEngine, String>,
    config: FaceConfig,
}

impl FaceService {
    /// Loads the models; a missing or altered model leaves the service answering
    /// `unavailable`, so the flow falls back to fingerprint.
    pub fn load(config: &FaceConfig) -> FaceService {
        let engine = FaceEngine::load(&config.models, config.backend).map_err(|e| {
            tracing::warn!(error = %e, "face models unavailable; face verification will answer unavailable");
            e.to_string()
        });
        FaceService {
            engine,
            config: config.clone(),
        }
    }

    pub fn available(&self) -> Result<(), &str> {
        self.engine.as_ref().map(drop).map_err(String::as_str)
    }

    pub fn policy(&self, camera: &str) -> VerifyPolicy {
        self.config.cameras.get(camera).cloned().unwrap_or_default()
    }

    /// Checks the person at the claimed `camera` against `card_photo` and records the outcome.
    pub fn verify(
        &mut self,
        runtime: &Runtime,
        camera: &Claim,
        card_photo: &Mat,
        progress: &mut dyn FnMut(Prompt),
        cancel: &AtomicBool,
    ) -> Verification {
        self.verify_watched(runtime, camera, card_photo, progress, cancel, &mut |_| {})
    }

    /// Like [`FaceService::verify`], showing each colour frame to `watch` as it is checked
    /// (the screen's mirror of the citizen; nothing is kept).
    pub fn verify_watched(
        &mut self,
        runtime: &Runtime,
        camera: &Claim,
        card_photo: &Mat,
        progress: &mut dyn FnMut(Prompt),
        cancel: &AtomicBool,
        watch: &mut dyn FnMut(&Mat),
    ) -> Verification {
        let policy = self.policy(camera.device());
        let mut frames = Watched {
            inner: RemoteFrames::new(runtime, camera),
            watch,
        };
        let result = self.verify_frames(card_photo, &mut frames, &policy, progress, cancel);
        let camera = camera.device();
        runtime
            .events
            .emit(verification_event(camera, &result, runtime.events.now()));
        result
    }

    pub fn verify_frames(
        &mut self,
        card_photo: &Mat,
        frames: &mut dyn FrameSource,
        policy: &VerifyPolicy,
        progress: &mut dyn FnMut(Prompt),
        cancel: &AtomicBool,
    ) -> Verification {
        let mut result = verify_person(
            self.engine.as_mut().ok(),
            card_photo,
            frames,
            policy,
            progress,
            cancel,
        );
        if let Err(why) = &self.engine {
            result.reason = Some(format!("face models are not loaded: {why}"));
        }
        result
    }
}

/// The outbox record of one check: decision, score and counts only.
pub fn verification_event(
    camera: &str,
    v: &Verification,
    at: chrono::DateTime<chrono::Utc>,
) -> Event {
    let mut e = Event::new(EventKind::FaceVerified, at)
        .device(camera)
        .field("decision", v.decision.as_str())
        .field("frames", v.frames)
        .field("elapsed_ms", v.elapsed_ms);
    if let Some(s) = v.score {
        e = e.field("score", (f64::from(s) * 1000.0).round() / 1000.0);
    }
    if let Some(t) = v.threshold {
        e = e.field("threshold", (f64::from(t) * 1000.0).round() / 1000.0);
    }
    if let Some(r) = &v.reason {
        e = e.field("reason", r.as_str());
    }
    e
}
