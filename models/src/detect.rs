//! YuNet face detection (2023mar): letterbox, run, decode anchors, NMS. Decoding follows
//! OpenCV's `FaceDetectorYN` for this model generation.
//!
//! The inputs are what the manifest says the file takes. The dynamic file on tract is prepared
//! for several, and each frame goes to the one that keeps the most of its resolution with the
//! least padding: a 16:9 camera frame to 640×384 (24 rows of padding instead of the 280 a
//! square input wastes: 0.6 of the pixels, and of the detector's time), a portrait photo to
//! 640×640. The fixed file OpenCV 4.6 reads takes 640×640 only.

use opencv::core::{Mat, Scalar, Size, BORDER_CONSTANT};
use opencv::imgproc;
use opencv::prelude::*;

use crate::backend::{Blob, Network};
use crate::{cv, FaceError};

/// The square input of the fixed-size file.
pub const SQUARE: usize = 640;
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

/// The detector's input in pixels; both sides multiples of the largest stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputSize {
    pub width: usize,
    pub height: usize,
}

impl InputSize {
    pub const SQUARE: InputSize = InputSize {
        width: SQUARE,
        height: SQUARE,
    };

    /// The size an NCHW shape from the manifest gives, checked against the strides.
    pub fn from_nchw(shape: [usize; 4]) -> Result<InputSize, FaceError> {
        let [_, _, height, width] = shape;
        let largest = STRIDES[STRIDES.len() - 1];
        if width == 0
            || height == 0
            || !width.is_multiple_of(largest)
            || !height.is_multiple_of(largest)
        {
            return Err(FaceError::inference(
                "yunet",
                format!("input {width}×{height} is not a multiple of {largest} on both sides"),
            ));
        }
        Ok(InputSize { width, height })
    }
}

impl InputSize {
    /// The factor a `width`×`height` frame is resized by to fit.
    fn scale_for(self, width: i32, height: i32) -> f32 {
        (self.width as f32 / width.max(1) as f32).min(self.height as f32 / height.max(1) as f32)
    }
}

/// The input for a frame: the largest scale (the most of the frame's detail kept), then the
/// fewest pixels (the least padding to run through the network).
pub fn best_input(inputs: &[InputSize], width: i32, height: i32) -> Option<InputSize> {
    inputs.iter().copied().min_by(|a, b| {
        let (sa, sb) = (a.scale_for(width, height), b.scale_for(width, height));
        sb.total_cmp(&sa)
            .then((a.width * a.height).cmp(&(b.width * b.height)))
    })
}

pub struct FaceDetector {
    /// One prepared network per input size.
    nets: Vec<(InputSize, Box<dyn Network>)>,
    pub score_threshold: f32,
    pub nms_iou: f32,
}

impl FaceDetector {
    pub fn new(
        nets: Vec<(InputSize, Box<dyn Network>)>,
        score_threshold: f32,
        nms_iou: f32,
    ) -> FaceDetector {
        FaceDetector {
            nets,
            score_threshold,
            nms_iou,
        }
    }

    /// The input sizes this detector is prepared for.
    pub fn inputs(&self) -> Vec<InputSize> {
        self.nets.iter().map(|(size, _)| *size).collect()
    }

    /// All faces in a BGR frame, best first.
    pub fn detect(&mut self, bgr: &Mat) -> Result<Vec<Detection>, FaceError> {
        let input = best_input(&self.inputs(), bgr.cols(), bgr.rows())
            .ok_or_else(|| FaceError::inference("yunet", "no detector input prepared"))?;
        let (blob, scale) = letterbox(bgr, input)?;
        let net = self
            .nets
            .iter_mut()
            .find(|(size, _)| *size == input)
            .map(|(_, net)| net)
            .ok_or_else(|| FaceError::inference("yunet", "no detector input prepared"))?;
        let out = net.run(&blob)?;
        let mut found = Vec::new();
        for s in STRIDES {
            let cls = out.get("yunet", &format!("cls_{s}"))?;
            let obj = out.get("yunet", &format!("obj_{s}"))?;
            let bbox = out.get("yunet", &format!("bbox_{s}"))?;
            let kps = out.get("yunet", &format!("kps_{s}"))?;
            decode_stride(
                s,
                input,
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

/// The frame resized to fit the input and padded right and bottom with black, as BGR 0..255
/// NCHW; and the factor to divide coordinates by.
fn letterbox(bgr: &Mat, input: InputSize) -> Result<(Blob, f32), FaceError> {
    let (padded, scale) = letterboxed(bgr, input)?;
    Ok((
        crate::image_ops::to_blob(&padded, crate::image_ops::Channels::Bgr, |v, _| v)?,
        scale,
    ))
}

/// The frame resized, keeping its aspect, to fit the input and padded right and bottom with
/// black; and the factor to divide coordinates by.
pub fn letterboxed(bgr: &Mat, input: InputSize) -> Result<(Mat, f32), FaceError> {
    let (w, h) = (bgr.cols(), bgr.rows());
    if w <= 0 || h <= 0 {
        return Err(FaceError::BadImage("empty frame".into()));
    }
    let (iw, ih) = (input.width as i32, input.height as i32);
    let scale = (iw as f32 / w as f32).min(ih as f32 / h as f32);
    let nw = ((w as f32 * scale).round() as i32).clamp(1, iw);
    let nh = ((h as f32 * scale).round() as i32).clamp(1, ih);
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
        ih - nh,
        0,
        iw - nw,
        BORDER_CONSTANT,
        Scalar::all(0.0),
    )
    .map_err(cv)?;
    Ok((padded, scale))
}

#[allow(clippy::too_many_arguments)]
fn decode_stride(
    stride: usize,
    input: InputSize,
    cls: &[f32],
    obj: &[f32],
    bbox: &[f32],
    kps: &[f32],
    threshold: f32,
    scale: f32,
    found: &mut Vec<Detection>,
) -> Result<(), FaceError> {
    let cols = input.width / stride;
    let n = cols * (input.height / stride);
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
    fn each_frame_goes_to_the_input_that_keeps_its_detail_with_least_padding() {
        let size = |width, height| InputSize { width, height };
        let inputs = [size(640, 384), size(640, 480), size(640, 640)];
        assert_eq!(best_input(&inputs, 1280, 720), Some(size(640, 384)));
        assert_eq!(best_input(&inputs, 1920, 1080), Some(size(640, 384)));
        assert_eq!(best_input(&inputs, 640, 480), Some(size(640, 480)));
        assert_eq!(best_input(&inputs, 480, 640), Some(size(640, 640)));
        assert_eq!(best_input(&inputs, 500, 500), Some(size(640, 640)));
        assert_eq!(best_input(&[], 640, 480), None);
        assert!(InputSize::from_nchw([1, 3, 360, 640]).is_err());
        assert_eq!(
            InputSize::from_nchw([1, 3, 384, 640]).unwrap(),
            size(640, 384)
        );
    }

    #[test]
    fn short_outputs_are_an_error_not_a_panic() {
        let mut v = Vec::new();
        let err = decode_stride(
            8,
            InputSize::SQUARE,
            &[0.0; 3],
            &[0.0; 3],
            &[0.0; 12],
            &[0.0; 30],
            0.5,
            1.0,
            &mut v,
        );
        assert!(matches!(err, Err(FaceError::Inference { .. })));
    }
}
