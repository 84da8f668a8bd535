//! On-device face models. Models load from a directory described by a manifest (file, sha256,
//! licence, input shape, thresholds); a missing or altered file is a clear error, and nothing is
//! ever fetched from a network.
//!
//! The pipeline: YuNet detection → quality gates → MiniFASNet passive liveness (plus an IR check
//! on binocular cameras) → similarity alignment → MobileFaceNet embedding → cosine against the ID
//! card photo. Face data stays in memory for the session.

pub mod align;
pub mod backend;
pub mod detect;
pub mod embed;
pub mod engine;
pub mod eval;
pub mod image_ops;
pub mod liveness;
pub mod manifest;
pub mod onnx_compat;
pub mod opencv_detector;
pub mod opencv_recognizer;
pub mod quality;
pub mod tract_rewrite;
pub mod verify;

pub use backend::BackendKind;
pub use detect::Detection;
pub use embed::Embedding;
pub use engine::FaceEngine;
pub use manifest::{Manifest, ModelEntry, ModelError, ModelStore};
pub use verify::{verify_person, Decision, Prompt, Verification, VerifyPolicy};

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("model {model}: {message}")]
    Inference { model: String, message: String },
    #[error("image: {0}")]
    BadImage(String),
    #[error("the ID card photo shows no face the detector can find")]
    CardHasNoFace,
}

impl FaceError {
    /// A model that would not load or run, named.
    pub fn inference(model: &str, message: impl Into<String>) -> FaceError {
        FaceError::Inference {
            model: model.to_string(),
            message: message.into(),
        }
    }
}

pub(crate) fn cv(e: opencv::Error) -> FaceError {
    FaceError::BadImage(format!("OpenCV: {e}"))
}
