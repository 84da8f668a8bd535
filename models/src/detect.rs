//! YuNet face detection (2023mar, fixed 640×640 input): letterbox, run, decode anchors, NMS.
//! Decoding follows OpenCV's `FaceDetectorYN` for this model generation.

use opencv::core::{Mat, Scalar, Size, BORDER_CONSTANT};
use opencv::imgproc;
use opencv::prelude::*;

use crate::backend::{Blob, Network};
use crate::{cv, FaceError};

pub const INPUT: usize = 640;
const STRIDES: [usize; 3] = [8, 16, 32];

/// A detected face in the coordinates of the frame it was found in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// x, y, width, height.
    pub rect: [f32; 4],
    /// Right eye, left eye, nose tip, right and left mouth corners (the subject's right is on
    /// the image's left).
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
}

impl Detection {
    pub fn area(&self) -> f32 {
        self.rect[2].max(0.0) * self.rect[3].max(0.0)
    }

    pub fn iou(&self, other: &Detection) -> f32 {
        let [ax, ay, aw, ah] = self.rect;
        let [bx, by, bw, bh] = other.rect;
        let ix = (ax + aw).min(bx + bw) - ax.max(bx);
        let iy = (ay + ah).min(by + bh) - ay.max(by);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        inter / (self.area() + other.area() - inter)
    }

    pub fn centre(&self) -> [f32; 2] {
        [
            self.rect[0] + self.rect[2] / 2.0,
            self.rect[1] + self.rect[3] / 2.0,
        ]
    }
}

pub struct FaceDetector {
    net: Box<dyn Network>,
    pub score_threshold: f32,
    pub nms_iou: f32,
}

impl FaceDetector {
    pub fn new(net: Box<dyn Network>, score_threshold: f32, nms_iou: f32) -> FaceDetector {
        FaceDetector {
            net,
            score_threshold,
            nms_iou,
        }
    }

    /// All faces in a BGR frame, best first.
    pub fn detect(&mut self, bgr: &Mat) -> Result<Vec<Detection>, FaceError> {
        let (blob, scale) = letterbox(bgr)?;
        let out = self.net.run(&blob)?;
        let mut found = Vec::new();
        for s in STRIDES {
            let cls = out.get("yunet", &format!("cls_{s}"))?;
            let obj = out.get("yunet", &format!("obj_{s}"))?;
            let bbox = out.get("yunet", &format!("bbox_{s}"))?;
            let kps = out.get("yunet", &format!("kps_{s}"))?;
            decode_stride(
                s,
                cls,
                obj,
                bbox,
                kps,
                self.score_threshold,
                scale,
                &mut found,
            )?;
        }
        Ok(nms(found, self.nms_iou))
    }
}

/// The frame resized so its long side is 640 and padded right and bottom with black, as BGR
/// 0..255 NCHW; and the factor to divide coordinates by.
fn letterbox(bgr: &Mat) -> Result<(Blob, f32), FaceError> {
    let (padded, scale) = letterboxed(bgr)?;
    Ok((
        crate::image_ops::to_blob(&padded, crate::image_ops::Channels::Bgr, |v, _| v)?,
        scale,
    ))
}

/// The frame resized so its long side is 640 and padded right and bottom with black; and the
/// factor to divide coordinates by.
pub fn letterboxed(bgr: &Mat) -> Result<(Mat, f32), FaceError> {
    let (w, h) = (bgr.cols(), bgr.rows());
    if w <= 0 || h <= 0 {
        return Err(FaceError::BadImage("empty frame".into()));
    }
    let scale = INPUT as f32 / w.max(h) as f32;
    let nw = ((w as f32 * scale).round() as i32).clamp(1, INPUT as i32);
    let nh = ((h as f32 * scale).round() as i32).clamp(1, INPUT as i32);
    let mut resized = Mat::default();
    imgproc::resize(
        bgr,
        &mut resized,
        Size::new(nw, nh),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .map_err(cv)?;
    let mut padded = Mat::default();
    opencv::core::copy_make_border(
        &resized,
        &mut padded,
        0,
        INPUT as i32 - nh,
        0,
        INPUT as i32 - nw,
        BORDER_CONSTANT,
        Scalar::all(0.0),
    )
    .map_err(cv)?;
    Ok((padded, scale))
}

#[allow(clippy::too_many_arguments)]
fn decode_stride(
    stride: usize,
    cls: &[f32],
    obj: &[f32],
    bbox: &[f32],
    kps: &[f32],
    threshold: f32,
    scale: f32,
    found: &mut Vec<Detection>,
) -> Result<(), FaceError> {
    let cols = INPUT / stride;
    let n = cols * cols;
    if cls.len() < n || obj.len() < n || bbox.len() < 4 * n || kps.len() < 10 * n {
        return Err(FaceError::inference(
            "yunet",
            format!("stride {stride}: outputs shorter than {n} anchors"),
        ));
    }
    let s = stride as f32;
    for i in 0..n {
        let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
        if score < threshold {
            continue;
        }
        let (r, c) = ((i / cols) as f32, (i % cols) as f32);
        let b = &bbox[4 * i..4 * i + 4];
        let cx = (c + b[0]) * s;
        let cy = (r + b[1]) * s;
        let w = b[2].exp() * s;
        let h = b[3].exp() * s;
        let mut landmarks = [[0f32; 2]; 5];
        for (k, lm) in landmarks.iter_mut().enumerate() {
            lm[0] = (c + kps[10 * i + 2 * k]) * s / scale;
            lm[1] = (r + kps[10 * i + 2 * k + 1]) * s / scale;
        }
        found.push(Detection {
            rect: [
                (cx - w / 2.0) / scale,
                (cy - h / 2.0) / scale,
                w / scale,
                h / scale,
            ],
            landmarks,
            score,
        });
    }
    Ok(())
}

fn nms(mut all: Vec<Detection>, iou: f32) -> Vec<Detection> {
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in all {
        if kept.iter().all(|k| k.iou(&d) <= iou) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32) -> Detection {
        Detection {
            rect: [x, 0.0, 10.0, 10.0],
            landmarks: [[0.0; 2]; 5],
            score,
        }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let kept = nms(vec![det(0.0, 0.7), det(1.0, 0.9), det(50.0, 0.8)], 0.3);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].rect[0], 50.0);
    }

    #[test]
    fn short_outputs_are_an_error_not_a_panic() {
        let mut v = Vec::new();
        let err = decode_stride(
            8, &[0.0; 3], &[0.0; 3], &[0.0; 12], &[0.0; 30], 0.5, 1.0, &mut v,
        );
        assert!(matches!(err, Err(FaceError::Inference { .. })));
    }
}
