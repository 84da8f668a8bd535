//! OpenCV's own face recognizer, `FaceRecognizerSF`, running the manifest's MobileFaceNet: its
//! alignment (`alignCrop`), its input preparation (`feature`) and its comparison (`match`).
//! It is the yardstick the benchmark and the tests hold HallKit's align + embed + compare
//! against; the terminal itself always uses `FaceEngine`.
//!
//! `FaceRecognizerSF` feeds the network raw 0..255 RGB at 112×112 and reads the model from a
//! path, so the model's ImageNet normalisation is prepended to its graph
//! (`onnx_compat::prepend_input_normalisation`) and the result is written to a temporary file
//! that is removed as soon as OpenCV has read it.

use opencv::core::{Mat, Ptr};
use opencv::objdetect::FaceRecognizerSF;
use opencv::prelude::*;

use crate::detect::Detection;
use crate::embed::{Embedding, MEAN, STD};
use crate::engine::EMBEDDER;
use crate::{cv, FaceError, ModelStore};

pub struct OpenCvFaceRecognizer {
    inner: Ptr<FaceRecognizerSF>,
}

// Used from one thread at a time; the wrapper keeps no thread-local state.
unsafe impl Send for OpenCvFaceRecognizer {}

fn inference(message: impl Into<String>) -> FaceError {
    FaceError::inference(EMBEDDER, message)
}

/// A face as OpenCV's detectors report it: x, y, w, h, five landmarks, score (1×15 f32).
pub fn face_row(face: &Detection) -> Result<Mat, FaceError> {
    let mut row = vec![face.rect[0], face.rect[1], face.rect[2], face.rect[3]];
    row.extend(face.landmarks.iter().flatten());
    row.push(face.score);
    Mat::from_slice(&row).map_err(cv)?.try_clone().map_err(cv)
}

impl OpenCvFaceRecognizer {
    /// Loads the manifest's embedder (checked against its sha256) into `FaceRecognizerSF`.
    pub fn load(store: &ModelStore) -> Result<OpenCvFaceRecognizer, FaceError> {
        let (onnx, _) = crate::onnx_compat::clip_bounds_to_attributes(&store.read(EMBEDDER)?)
            .map_err(inference)?;
        let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * STD[c]));
        let bias: [f32; 3] = std::array::from_fn(|c| -MEAN[c] / STD[c]);
        let onnx = crate::onnx_compat::prepend_input_normalisation(&onnx, scale, bias)
            .map_err(inference)?;
        let file = crate::onnx_compat::TempModel::write(&onnx).map_err(inference)?;
        let created = FaceRecognizerSF::create(
            &file.path().to_string_lossy(),
            "",
            opencv::dnn::DNN_BACKEND_OPENCV,
            opencv::dnn::DNN_TARGET_CPU,
        );
        drop(file);
        Ok(OpenCvFaceRecognizer {
            inner: created.map_err(|e| inference(e.to_string()))?,
        })
    }

    /// OpenCV's 112×112 crop of `face`, aligned by its own similarity fit to the five landmarks.
    pub fn align(&self, bgr: &Mat, face: &Detection) -> Result<Mat, FaceError> {
        let mut aligned = Mat::default();
        self.inner
            .align_crop(bgr, &face_row(face)?, &mut aligned)
            .map_err(cv)?;
        Ok(aligned)
    }

    /// The raw (not normalised) feature of an aligned face, as `FaceRecognizerSF` returns it.
    pub fn feature(&mut self, aligned: &Mat) -> Result<Mat, FaceError> {
        let mut feature = Mat::default();
        self.inner
            .feature(aligned, &mut feature)
            .map_err(|e| inference(e.to_string()))?;
        // OpenCV reuses the network's output buffer between calls; the copy is also continuous.
        feature.try_clone().map_err(cv)
    }

    /// `FaceRecognizerSF::match` with the cosine distance type.
    pub fn cosine(&self, a: &Mat, b: &Mat) -> Result<f32, FaceError> {
        self.inner
            .match_(a, b, opencv::objdetect::FaceRecognizerSF_FR_COSINE)
            .map(|v| v as f32)
            .map_err(cv)
    }

    /// The same feature as an `Embedding`, to compare with HallKit's own.
    pub fn embed(&mut self, bgr: &Mat, face: &Detection) -> Result<Embedding, FaceError> {
        let aligned = self.align(bgr, face)?;
        let feature = self.feature(&aligned)?;
        Embedding::from_raw(feature.data_typed::<f32>().map_err(cv)?.to_vec())
    }
}
