//! 人证核验: is the person in front of the camera the person on the ID card?
//!
//! Frames are taken until a decision or the timeout. Each frame must show exactly one face that
//! passes the quality gates, is judged live (and, with a binocular camera, shows a face in IR),
//! before its embedding is compared with the card photo's. The citizen is guided with prompts
//! the UI speaks and shows. Face must never be the only way in: whenever the check cannot be
//! done (no models, no camera, an unusable card photo) the answer is `Unavailable`, and the flow
//! offers fingerprint instead.
//!
//! Biometric data stays in memory: embeddings are wiped on drop, nothing is logged but the
//! decision, the score and counts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kiosk_image::{FrameError, FrameSource};
use opencv::core::Mat;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::detect::Detection;
use crate::engine::{largest, FaceEngine};
use crate::image_ops;
use crate::liveness::{ir_check, IrVerdict};
use crate::quality::{Quality, QualityIssue, QualityLimits};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Verified,
    NotVerified,
    Spoof,
    NoFace,
    SeveralFaces,
    Unavailable,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Verified => "verified",
            Decision::NotVerified => "not-verified",
            Decision::Spoof => "spoof",
            Decision::NoFace => "no-face",
            Decision::SeveralFaces => "several-faces",
            Decision::Unavailable => "unavailable",
        }
    }
}

/// What the citizen is asked to do while the check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prompt {
    LookAtCamera,
    ComeCloser,
    HoldStill,
    MoreLight,
    TooBright,
    OnlyOnePerson,
    Checking,
}

impl Prompt {
    pub fn zh(self) -> &'static str {
        match self {
            Prompt::LookAtCamera => "请正对摄像头",
            Prompt::ComeCloser => "请靠近一点",
            Prompt::HoldStill => "请保持不动",
            Prompt::MoreLight => "光线太暗，请正对屏幕",
            Prompt::TooBright => "光线太强，请避开强光",
            Prompt::OnlyOnePerson => "请确保画面中只有您一人",
            Prompt::Checking => "正在核验，请稍候",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Prompt::LookAtCamera => "Please look at the camera",
            Prompt::ComeCloser => "Please come a little closer",
            Prompt::HoldStill => "Please hold still",
            Prompt::MoreLight => "Too dark: please face the screen",
            Prompt::TooBright => "Too bright: please move out of strong light",
            Prompt::OnlyOnePerson => "Only one person in front of the camera, please",
            Prompt::Checking => "Checking, one moment",
        }
    }

    fn from_issue(issue: QualityIssue) -> Prompt {
        match issue {
            QualityIssue::TooSmall => Prompt::ComeCloser,
            QualityIssue::NotFacing => Prompt::LookAtCamera,
            QualityIssue::Blurred => Prompt::HoldStill,
            QualityIssue::TooDark => Prompt::MoreLight,
            QualityIssue::TooBright => Prompt::TooBright,
        }
    }
}

/// Per-camera settings (`[face.cameras.<id>]` in the terminal config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyPolicy {
    /// Cosine at or above which the faces match; the manifest's value when unset.
    pub match_threshold: Option<f32>,
    /// Liveness probability a frame needs; the manifest's value when unset.
    pub liveness_threshold: Option<f32>,
    pub timeout_secs: f32,
    /// Stop after this many frames (0: only the timeout counts).
    pub max_frames: u32,
    /// Consecutive live, matching-quality frames before a decision.
    pub live_frames: u32,
    /// Frames judged spoof before the attempt is refused as a spoof.
    pub spoof_frames: u32,
    /// Frames with several faces before the attempt is refused for that.
    pub several_faces_frames: u32,
    /// A second face counts when its area is at least this share of the largest.
    pub second_face_share: f32,
    pub quality: QualityLimits,
    /// Binocular cameras: the IR face must lie within this share of the face width of the
    /// colour face, and show at least this grey-level contrast.
    pub ir_max_offset: f32,
    pub ir_min_contrast: f32,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            match_threshold: None,
            liveness_threshold: None,
            timeout_secs: 15.0,
            max_frames: 0,
            live_frames: 2,
            spoof_frames: 3,
            several_faces_frames: 3,
            second_face_share: 0.25,
            quality: QualityLimits::default(),
            ir_max_offset: 0.5,
            ir_min_contrast: 12.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub decision: Decision,
    /// Best cosine against the card photo among live frames.
    pub score: Option<f32>,
    pub threshold: Option<f32>,
    /// Liveness probability of the deciding frame.
    pub liveness: Option<f32>,
    pub frames: u32,
    pub elapsed_ms: u64,
    /// Why the check was unavailable, or other detail.
    pub reason: Option<String>,
}

impl Verification {
    fn unavailable(reason: impl Into<String>, started: Instant) -> Verification {
        Verification {
            decision: Decision::Unavailable,
            score: None,
            threshold: None,
            liveness: None,
            frames: 0,
            elapsed_ms: started.elapsed().as_millis() as u64,
            reason: Some(reason.into()),
        }
    }
}

/// Consecutive failed grabs after which the camera counts as unavailable.
const MAX_FRAME_FAILURES: u32 = 10;

/// Runs the check. `engine` is `None` when the models could not be loaded; `progress` receives
/// each prompt when it changes; `cancel` ends the attempt early (the citizen walked away).
pub fn verify_person(
    engine: Option<&mut FaceEngine>,
    card_photo: &Mat,
    camera: &mut dyn FrameSource,
    policy: &VerifyPolicy,
    progress: &mut dyn FnMut(Prompt),
    cancel: &AtomicBool,
) -> Verification {
    let started = Instant::now();
    let Some(engine) = engine else {
        return Verification::unavailable("face models are not loaded", started);
    };
    let card = match engine.card_embedding(card_photo) {
        Ok(e) => e,
        Err(e) => return Verification::unavailable(format!("card photo: {e}"), started),
    };
    let threshold = policy
        .match_threshold
        .unwrap_or(engine.thresholds.match_cosine);
    let live_threshold = policy
        .liveness_threshold
        .unwrap_or(engine.thresholds.liveness_real);
    let timeout = Duration::from_secs_f32(policy.timeout_secs.max(0.1));
    let mut last_prompt = None;
    let mut prompt = |p: Prompt| {
        if last_prompt != Some(p) {
            last_prompt = Some(p);
            progress(p);
        }
    };
    let (mut frames, mut spoofs, mut several, mut live_run, mut compared) =
        (0u32, 0u32, 0u32, 0u32, 0u32);
    let mut failures = 0u32;
    let mut best: Option<f32> = None;
    let mut best_live = None;
    let mut reason = None;
    prompt(Prompt::LookAtCamera);
    let decide = |decision: Decision,
                  best: Option<f32>,
                  live: Option<f32>,
                  frames: u32,
                  reason: Option<String>| Verification {
        decision,
        score: best,
        threshold: Some(threshold),
        liveness: live,
        frames,
        elapsed_ms: started.elapsed().as_millis() as u64,
        reason,
    };
    loop {
        if cancel.load(Ordering::Relaxed) {
            reason = Some("canceled".into());
            break;
        }
        if started.elapsed() >= timeout || (policy.max_frames > 0 && frames >= policy.max_frames) {
            break;
        }
        let frame = match camera.grab() {
            Ok(f) => f,
            Err(FrameError::Offline(id)) => {
                return Verification {
                    frames,
                    ..Verification::unavailable(format!("camera {id} is offline"), started)
                };
            }
            Err(e) => {
                // A camera that keeps failing without going offline is as good as gone.
                failures += 1;
                if failures >= MAX_FRAME_FAILURES {
                    return Verification {
                        frames,
                        ..Verification::unavailable(e.to_string(), started)
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        failures = 0;
        frames += 1;
        let faces = match engine.detect(&frame.image) {
            Ok(f) => f,
            Err(e) => {
                return Verification {
                    frames,
                    ..Verification::unavailable(e.to_string(), started)
                }
            }
        };
        let Some(face) = largest(faces.clone()) else {
            live_run = 0;
            prompt(Prompt::LookAtCamera);
            continue;
        };
        let others = faces
            .iter()
            .filter(|d| d.area() >= policy.second_face_share * face.area())
            .count();
        if others > 1 {
            several += 1;
            live_run = 0;
            prompt(Prompt::OnlyOnePerson);
            if several >= policy.several_faces_frames {
                return decide(Decision::SeveralFaces, best, None, frames, None);
            }
            continue;
        }
        match Quality::measure(&frame.image, &face).map(|q| q.issue(&policy.quality)) {
            Ok(Some(issue)) => {
                live_run = 0;
                prompt(Prompt::from_issue(issue));
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                return Verification {
                    frames,
                    ..Verification::unavailable(e.to_string(), started)
                }
            }
        }
        prompt(Prompt::Checking);
        let live = match engine.liveness(&frame.image, &face) {
            Ok(l) => l,
            Err(e) => {
                return Verification {
                    frames,
                    ..Verification::unavailable(e.to_string(), started)
                }
            }
        };
        let ir = match &frame.ir {
            Some(ir) => match ir_verdict(engine, ir, &frame.image, &face, policy) {
                Ok(v) => Some(v),
                Err(e) => {
                    return Verification {
                        frames,
                        ..Verification::unavailable(e, started)
                    }
                }
            },
            None => None,
        };
        let is_live = live.is_real(live_threshold) && ir.is_none_or(|v| v == IrVerdict::Live);
        if !is_live {
            spoofs += 1;
            live_run = 0;
            reason = Some(match ir {
                Some(v) if v != IrVerdict::Live => format!("IR: {v:?}"),
                _ => format!("liveness {:.2}", live.p_real),
            });
            if spoofs >= policy.spoof_frames {
                return decide(Decision::Spoof, best, Some(live.p_real), frames, reason);
            }
            prompt(Prompt::HoldStill);
            continue;
        }
        live_run += 1;
        let score = match engine.embed(&frame.image, &face) {
            Ok(e) => e.cosine(&card),
            Err(e) => {
                return Verification {
                    frames,
                    ..Verification::unavailable(e.to_string(), started)
                }
            }
        };
        compared += 1;
        if best.is_none_or(|b| score > b) {
            best = Some(score);
            best_live = Some(live.p_real);
        }
        if live_run >= policy.live_frames {
            if best.is_some_and(|b| b >= threshold) {
                return decide(Decision::Verified, best, best_live, frames, None);
            }
            // Several live, good frames that do not match: a different person.
            if compared >= policy.live_frames + 2 {
                return decide(Decision::NotVerified, best, best_live, frames, None);
            }
        }
    }
    let decision = if compared > 0 {
        Decision::NotVerified
    } else if spoofs > 0 {
        Decision::Spoof
    } else if several > 0 {
        Decision::SeveralFaces
    } else {
        Decision::NoFace
    };
    if reason.is_none() {
        reason = Some(format!("no decision within {:.0} s", timeout.as_secs_f32()));
    }
    decide(decision, best, best_live, frames, reason)
}

/// The IR frame's verdict on the colour face. IR and colour sensors may differ in resolution;
/// the colour face is mapped into IR coordinates.
fn ir_verdict(
    engine: &mut FaceEngine,
    ir: &Mat,
    rgb: &Mat,
    face: &Detection,
    policy: &VerifyPolicy,
) -> Result<IrVerdict, String> {
    let ir_bgr = image_ops::bgr(ir).map_err(|e| e.to_string())?;
    let grey = image_ops::grey(ir).map_err(|e| e.to_string())?;
    let sx = ir.cols() as f32 / rgb.cols().max(1) as f32;
    let sy = ir.rows() as f32 / rgb.rows().max(1) as f32;
    let mut in_ir = *face;
    in_ir.rect = [
        face.rect[0] * sx,
        face.rect[1] * sy,
        face.rect[2] * sx,
        face.rect[3] * sy,
    ];
    let ir_faces = engine.detect(&ir_bgr).map_err(|e| e.to_string())?;
    ir_check(
        &ir_faces,
        &grey,
        &in_ir,
        policy.ir_max_offset,
        policy.ir_min_contrast,
    )
    .map_err(|e| e.to_string())
}
