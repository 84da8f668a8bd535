//! OpenCV's own face detector, `FaceDetectorYN`, running the manifest's fixed-size YuNet: its input
//! preparation, its decoding and its NMS. It is the yardstick the benchmark and the tests hold
//! HallKit's detector against; the terminal itself always uses `FaceEngine`.
//!
//! Debian 12's OpenCV 4.6 decodes only the YuNet 2022 output layout, so the 2023mar file gets
//! that layout added to its graph (`onnx_compat::yunet_in_2022_layout`) and is read from a
//! temporary file removed as soon as OpenCV has loaded it. OpenCV 4.8 and later read the file as
//! shipped. The fixed-size file takes 640×640, so frames are letterboxed as HallKit does.

use opencv::core::{Mat, Ptr, Size};
use opencv::objdetect::FaceDetectorYN;
use opencv::prelude::*;

use crate::detect::{letterboxed, Detection, InputSize, SQUARE};
use crate::engine::{
    manifest_value, DETECTOR_NMS_IOU, DETECTOR_SCORE, DETECTOR_SQUARE as DETECTOR,
};
use crate::{cv, FaceError, ModelStore};

pub struct OpenCvFaceDetector {
    inner: Ptr<FaceDetectorYN>,
}

// Used from one thread at a time; the wrapper keeps no thread-local state.
unsafe impl Send for OpenCvFaceDetector {}

fn inference(message: impl Into<String>) -> FaceError {
    FaceError::inference(DETECTOR, message)
}

impl OpenCvFaceDetector {
    /// Loads the manifest's detector with the manifest's score and NMS thresholds, as
    /// `FaceEngine` does.
    pub fn load(store: &ModelStore) -> Result<OpenCvFaceDetector, FaceError> {
        let score_threshold = manifest_value(store, DETECTOR, "score", DETECTOR_SCORE)?;
        let nms_iou = manifest_value(store, DETECTOR, "nms_iou", DETECTOR_NMS_IOU)?;
        let onnx = store.read(DETECTOR)?;
        let version = (
            opencv::core::get_version_major(),
            opencv::core::get_version_minor(),
        );
        let onnx = if version < (4, 8) {
            crate::onnx_compat::yunet_in_2022_layout(&onnx, SQUARE).map_err(inference)?
        } else {
            onnx
        };
        let file = crate::onnx_compat::TempModel::write(&onnx).map_err(inference)?;
        let side = SQUARE as i32;
        let created = FaceDetectorYN::create(
            &file.path().to_string_lossy(),
            "",
            Size::new(side, side),
            score_threshold,
            nms_iou,
            5000,
            opencv::dnn::DNN_BACKEND_OPENCV,
            opencv::dnn::DNN_TARGET_CPU,
        );
        drop(file);
        Ok(OpenCvFaceDetector {
            inner: created.map_err(|e| inference(e.to_string()))?,
        })
    }

    /// All faces in a BGR frame, in frame coordinates, best first.
    pub fn detect(&mut self, bgr: &Mat) -> Result<Vec<Detection>, FaceError> {
        let (padded, scale) = letterboxed(bgr, InputSize::SQUARE)?;
        let mut rows = Mat::default();
        self.inner
            .detect(&padded, &mut rows)
            .map_err(|e| inference(e.to_string()))?;
        let mut found = Vec::new();
        for r in 0..rows.rows() {
            let row = rows.at_row::<f32>(r).map_err(cv)?;
            if row.len() < 15 {
                return Err(inference(format!("face row of {} values", row.len())));
            }
            let mut landmarks = [[0f32; 2]; 5];
            for (k, lm) in landmarks.iter_mut().enumerate() {
                *lm = [row[4 + 2 * k] / scale, row[5 + 2 * k] / scale];
            }
            found.push(Detection {
                rect: [
                    row[0] / scale,
                    row[1] / scale,
                    row[2] / scale,
                    row[3] / scale,
                ],
                landmarks,
                score: row[14],
            });
        }
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(found)
    }
}
