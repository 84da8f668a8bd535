//! The face engine: the four models of the manifest loaded on one backend, and the steps the
//! verification flow and the tools combine.

use std::path::Path;

use opencv::core::{Mat, Scalar, BORDER_CONSTANT};
use opencv::prelude::*;

use crate::align::align;
use crate::backend::BackendKind;
use crate::detect::{Detection, FaceDetector, InputSize};
use crate::embed::{Embedding, FaceEmbedder};
use crate::liveness::{Liveness, LivenessChecker, LivenessModel};
use crate::{cv, FaceError, Manifest, ModelStore};

pub const DETECTOR: &str = "face-detector";
/// The same weights in the fixed 640×640 file: OpenCV 4.6 (Debian 12) cannot import the
/// dynamic one (its Shape nodes), so the OpenCV DNN yardstick runs this.
pub const DETECTOR_SQUARE: &str = "face-detector-square";
pub const EMBEDDER: &str = "face-embedder";
pub const LIVENESS: [&str; 2] = ["liveness-v2", "liveness-v1se"];
/// The detector's score and NMS overlap when the manifest gives none.
pub(crate) const DETECTOR_SCORE: f64 = 0.6;
pub(crate) const DETECTOR_NMS_IOU: f64 = 0.3;

/// Thresholds the manifest ships with; the per-camera policy may override them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelThresholds {
    pub match_cosine: f32,
    pub liveness_real: f32,
}

pub struct FaceEngine {
    pub backend: BackendKind,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    liveness: LivenessChecker,
    pub thresholds: ModelThresholds,
}

impl FaceEngine {
    /// Loads the manifest's models from `dir`, each checked against its sha256.
    pub fn load(dir: &Path, backend: BackendKind) -> Result<FaceEngine, FaceError> {
        let store = ModelStore::open(dir, Manifest::builtin())?;
        FaceEngine::from_store(&store, backend)
    }

    pub fn from_store(store: &ModelStore, backend: BackendKind) -> Result<FaceEngine, FaceError> {
        let input = |name: &str| -> Result<[usize; 4], FaceError> {
            let e = store.entry(name)?;
            e.input.as_slice().try_into().map_err(|_| {
                FaceError::inference(name, format!("manifest input {:?} is not NCHW", e.input))
            })
        };
        let threshold =
            |name: &str, key: &str, default: f64| manifest_value(store, name, key, default);
        let name = match backend {
            BackendKind::Tract => DETECTOR,
            BackendKind::OpencvDnn => DETECTOR_SQUARE,
        };
        let onnx = store.read(name)?;
        let mut nets = Vec::new();
        let shapes = std::iter::once(input(name)?).chain(
            store
                .entry(name)?
                .also_inputs
                .iter()
                .map(|s| {
                    s.as_slice().try_into().map_err(|_| {
                        FaceError::inference(name, format!("manifest input {s:?} is not NCHW"))
                    })
                })
                .collect::<Result<Vec<[usize; 4]>, _>>()?,
        );
        for shape in shapes {
            nets.push((
                InputSize::from_nchw(shape)?,
                backend.load(name, &onnx, shape)?,
            ));
        }
        let detector = FaceDetector::new(
            nets,
            threshold(name, "score", DETECTOR_SCORE)?,
            threshold(name, "nms_iou", DETECTOR_NMS_IOU)?,
        );
        let embedder =
            FaceEmbedder::new(backend.load(EMBEDDER, &store.read(EMBEDDER)?, input(EMBEDDER)?)?);
        let mut models = Vec::new();
        for name in LIVENESS {
            models.push(LivenessModel {
                net: backend.load(name, &store.read(name)?, input(name)?)?,
                crop_scale: threshold(name, "crop_scale", 2.7)?,
            });
        }
        Ok(FaceEngine {
            backend,
            detector,
            embedder,
            liveness: LivenessChecker::new(models),
            thresholds: ModelThresholds {
                match_cosine: threshold(EMBEDDER, "match_cosine", 0.42)?,
                liveness_real: threshold(LIVENESS[0], "real", 0.5)?,
            },
        })
    }

    pub fn detect(&mut self, bgr: &Mat) -> Result<Vec<Detection>, FaceError> {
        self.detector.detect(bgr)
    }

    pub fn embed(&mut self, bgr: &Mat, face: &Detection) -> Result<Embedding, FaceError> {
        let aligned = align(bgr, face)?;
        self.embedder.embed(&aligned)
    }

    pub fn liveness(&mut self, bgr: &Mat, face: &Detection) -> Result<Liveness, FaceError> {
        self.liveness.check(bgr, face)
    }

    /// The embedding of the person on an ID card photo (102×126 on the card): the detector is
    /// trained on faces with surroundings, so a tightly cropped portrait is padded first.
    pub fn card_embedding(&mut self, card_bgr: &Mat) -> Result<Embedding, FaceError> {
        let face = match largest(self.detect(card_bgr)?) {
            Some(f) => (card_bgr.try_clone().map_err(cv)?, f),
            None => {
                let pad_x = card_bgr.cols() / 2;
                let pad_y = card_bgr.rows() / 2;
                let mut padded = Mat::default();
                opencv::core::copy_make_border(
                    card_bgr,
                    &mut padded,
                    pad_y,
                    pad_y,
                    pad_x,
                    pad_x,
                    BORDER_CONSTANT,
                    Scalar::all(255.0),
                )
                .map_err(cv)?;
                let f = largest(self.detect(&padded)?).ok_or(FaceError::CardHasNoFace)?;
                (padded, f)
            }
        };
        self.embed(&face.0, &face.1)
    }
}

/// A threshold or parameter from the manifest entry of `name`, or `default` when it has none.
pub(crate) fn manifest_value(
    store: &ModelStore,
    name: &str,
    key: &str,
    default: f64,
) -> Result<f32, FaceError> {
    Ok(*store.entry(name)?.thresholds.get(key).unwrap_or(&default) as f32)
}

/// The largest face: the person in front of the camera, not someone passing behind.
pub fn largest(faces: Vec<Detection>) -> Option<Detection> {
    faces
        .into_iter()
        .max_by(|a, b| a.area().total_cmp(&b.area()))
}
