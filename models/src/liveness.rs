//! Passive liveness with the two MiniFASNet models (crop scales 2.7 and 4.0): each sees its own
//! enlarged crop around the face, the softmax outputs are summed, class 1 means a real face.
//! With a binocular camera an IR frame adds a second, physical check (see [`ir_check`]).

use opencv::core::Mat;
use opencv::prelude::*;

use crate::backend::Network;
use crate::detect::Detection;
use crate::image_ops::{crop_resize, to_blob, Channels};
use crate::FaceError;

pub struct LivenessModel {
    pub net: Box<dyn Network>,
    pub crop_scale: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Liveness {
    /// Probability of a live face, 0..1 (the mean of the models' class-1 probabilities).
    pub p_real: f32,
    /// The winning class: 0 print, 1 real, 2 replay.
    pub label: usize,
}

impl Liveness {
    pub fn is_real(&self, threshold: f32) -> bool {
        self.label == 1 && self.p_real >= threshold
    }
}

pub struct LivenessChecker {
    models: Vec<LivenessModel>,
}

impl LivenessChecker {
    pub fn new(models: Vec<LivenessModel>) -> LivenessChecker {
        LivenessChecker { models }
    }

    pub fn check(&mut self, bgr: &Mat, face: &Detection) -> Result<Liveness, FaceError> {
        if self.models.is_empty() {
            return Err(FaceError::inference("liveness", "no liveness model loaded"));
        }
        let mut sum = [0f32; 3];
        for m in &mut self.models {
            let (x1, y1, x2, y2) = crop_box(face, m.crop_scale, bgr.cols(), bgr.rows());
            let crop = crop_resize(bgr, x1, y1, x2, y2, 80)?;
            let blob = to_blob(&crop, Channels::Bgr, |v, _| v)?;
            let out = m.net.run(&blob)?;
            let logits = out.single("liveness")?;
            if logits.len() != 3 {
                return Err(FaceError::inference(
                    "liveness",
                    format!("expected 3 logits, got {}", logits.len()),
                ));
            }
            for (s, p) in sum.iter_mut().zip(softmax(logits)) {
                *s += p;
            }
        }
        let n = self.models.len() as f32;
        let label = (0..3)
            .max_by(|&a, &b| sum[a].total_cmp(&sum[b]))
            .unwrap_or(0);
        Ok(Liveness {
            p_real: sum[1] / n,
            label,
        })
    }
}

fn softmax(logits: &[f32]) -> [f32; 3] {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let e: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let total: f32 = e.iter().sum();
    [e[0] / total, e[1] / total, e[2] / total]
}

/// The enlarged crop the model was trained on: scaled about the face centre, clamped to what
/// fits, shifted back inside the frame without shrinking; inclusive integer corners.
pub fn crop_box(face: &Detection, scale: f32, width: i32, height: i32) -> (i32, i32, i32, i32) {
    let [x, y, w, h] = face.rect;
    let (w, h) = (w.max(1.0), h.max(1.0));
    let (fw, fh) = ((width - 1) as f32, (height - 1) as f32);
    let s = scale.min(fh / h).min(fw / w);
    let (nw, nh) = (w * s, h * s);
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let mut x1 = cx - nw / 2.0;
    let mut y1 = cy - nh / 2.0;
    let mut x2 = cx + nw / 2.0;
    let mut y2 = cy + nh / 2.0;
    if x1 < 0.0 {
        x2 -= x1;
        x1 = 0.0;
    }
    if y1 < 0.0 {
        y2 -= y1;
        y1 = 0.0;
    }
    if x2 > fw {
        x1 -= x2 - fw;
        x2 = fw;
    }
    if y2 > fh {
        y1 -= y2 - fh;
        y2 = fh;
    }
    (x1 as i32, y1 as i32, x2 as i32, y2 as i32)
}

/// What the IR stream says about a face seen by the colour stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IrVerdict {
    /// A face lit by the IR illuminator, where the colour camera sees one.
    Live,
    /// Screens emit no near-infrared and glossy prints reflect it flat: nothing face-like there.
    NoFaceInIr,
    /// A face shape, but with the flat, low-contrast texture of paper.
    Flat { contrast: f32 },
}

/// Checks the IR frame of a binocular camera. The two sensors sit a few centimetres apart and
/// are calibrated to overlap, so the IR face must lie near the colour face (`max_offset` is a
/// fraction of the face width).
pub fn ir_check(
    ir_faces: &[Detection],
    ir_grey: &Mat,
    rgb_face: &Detection,
    max_offset: f32,
    min_contrast: f32,
) -> Result<IrVerdict, FaceError> {
    let [cx, cy] = rgb_face.centre();
    let Some(face) = ir_faces.iter().find(|d| {
        let [ix, iy] = d.centre();
        ((ix - cx).powi(2) + (iy - cy).powi(2)).sqrt() <= max_offset * rgb_face.rect[2]
    }) else {
        return Ok(IrVerdict::NoFaceInIr);
    };
    let [x, y, w, h] = face.rect;
    let crop = crop_resize(
        ir_grey,
        x as i32,
        y as i32,
        (x + w) as i32,
        (y + h) as i32,
        64,
    )?;
    let mut mean = opencv::core::Scalar::default();
    let mut std = opencv::core::Scalar::default();
    opencv::core::mean_std_dev(&crop, &mut mean, &mut std, &opencv::core::no_array())
        .map_err(crate::cv)?;
    let contrast = std[0] as f32;
    Ok(if contrast < min_contrast {
        IrVerdict::Flat { contrast }
    } else {
        IrVerdict::Live
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, w: f32, h: f32) -> Detection {
        Detection {
            rect: [x, y, w, h],
            landmarks: [[0.0; 2]; 5],
            score: 0.9,
        }
    }

    #[test]
    fn crops_are_shifted_inside_the_frame_without_shrinking() {
        let (x1, y1, x2, y2) = crop_box(&face(0.0, 0.0, 100.0, 100.0), 2.7, 640, 480);
        assert_eq!((x1, y1), (0, 0));
        assert_eq!((x2, y2), (270, 270));
        let (x1, _, x2, _) = crop_box(&face(600.0, 100.0, 40.0, 40.0), 4.0, 640, 480);
        assert_eq!((x1, x2), (479, 639));
    }

    #[test]
    fn the_scale_is_clamped_to_what_the_frame_holds() {
        let (x1, y1, x2, y2) = crop_box(&face(100.0, 100.0, 300.0, 300.0), 4.0, 640, 480);
        assert!(x2 - x1 <= 639 && y2 - y1 <= 479);
        assert!(x1 >= 0 && y1 >= 0);
    }

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }
}
