//! Quality gates a frame must pass before it is worth a liveness and identity decision. Each
//! failure carries the hint a citizen can act on.

use opencv::core::Mat;
use opencv::imgproc;
use serde::{Deserialize, Serialize};

use crate::detect::Detection;
use crate::image_ops::{crop_resize, grey};
use crate::{cv, FaceError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityLimits {
    /// Smallest face width in pixels of the frame.
    pub min_face_px: f32,
    /// |nose offset from the eye midline| / eye distance; about 0.5 at 30° of yaw.
    pub max_yaw_ratio: f32,
    /// Tilt of the eye line in degrees.
    pub max_roll_deg: f32,
    /// (nose − eye line) / (mouth − eye line), outside this range the head is pitched.
    pub pitch_ratio: [f32; 2],
    /// Variance of the Laplacian of the face at 112×112; lower is motion blur or defocus.
    pub min_sharpness: f32,
    /// Mean grey level of the face.
    pub brightness: [f32; 2],
}

impl Default for QualityLimits {
    fn default() -> Self {
        QualityLimits {
            min_face_px: 80.0,
            max_yaw_ratio: 0.45,
            max_roll_deg: 25.0,
            pitch_ratio: [0.25, 0.8],
            min_sharpness: 25.0,
            brightness: [50.0, 215.0],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QualityIssue {
    TooSmall,
    NotFacing,
    Blurred,
    TooDark,
    TooBright,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quality {
    pub face_px: f32,
    pub yaw_ratio: f32,
    pub roll_deg: f32,
    pub pitch_ratio: f32,
    pub sharpness: f32,
    pub brightness: f32,
}

impl Quality {
    pub fn measure(bgr: &Mat, face: &Detection) -> Result<Quality, FaceError> {
        let [re, le, nose, rm, lm] = face.landmarks;
        let eye_mid = [(re[0] + le[0]) / 2.0, (re[1] + le[1]) / 2.0];
        let mouth_mid = [(rm[0] + lm[0]) / 2.0, (rm[1] + lm[1]) / 2.0];
        let eye_dist = ((le[0] - re[0]).powi(2) + (le[1] - re[1]).powi(2))
            .sqrt()
            .max(1.0);
        let roll = (le[1] - re[1]).atan2(le[0] - re[0]).to_degrees();
        // Distances along the face's vertical axis (perpendicular to the eye line).
        let (ux, uy) = ((le[0] - re[0]) / eye_dist, (le[1] - re[1]) / eye_dist);
        let along = |p: [f32; 2]| (p[0] - eye_mid[0]) * -uy + (p[1] - eye_mid[1]) * ux;
        let across = |p: [f32; 2]| (p[0] - eye_mid[0]) * ux + (p[1] - eye_mid[1]) * uy;
        let mouth_drop = along(mouth_mid).max(1.0);
        let [x, y, w, h] = face.rect;
        let crop = crop_resize(bgr, x as i32, y as i32, (x + w) as i32, (y + h) as i32, 112)?;
        let g = grey(&crop)?;
        let mut lap = Mat::default();
        imgproc::laplacian(
            &g,
            &mut lap,
            opencv::core::CV_64F,
            1,
            1.0,
            0.0,
            opencv::core::BORDER_DEFAULT,
        )
        .map_err(cv)?;
        let mut mean = opencv::core::Scalar::default();
        let mut std = opencv::core::Scalar::default();
        opencv::core::mean_std_dev(&lap, &mut mean, &mut std, &opencv::core::no_array())
            .map_err(cv)?;
        let sharpness = (std[0] * std[0]) as f32;
        let brightness = opencv::core::mean(&g, &opencv::core::no_array()).map_err(cv)?[0] as f32;
        Ok(Quality {
            face_px: w,
            yaw_ratio: across(nose).abs() / eye_dist,
            roll_deg: roll.abs(),
            pitch_ratio: along(nose) / mouth_drop,
            sharpness,
            brightness,
        })
    }

    /// The first gate this frame fails, in the order a citizen should fix them.
    pub fn issue(&self, limits: &QualityLimits) -> Option<QualityIssue> {
        if self.face_px < limits.min_face_px {
            Some(QualityIssue::TooSmall)
        } else if self.yaw_ratio > limits.max_yaw_ratio
            || self.roll_deg > limits.max_roll_deg
            || self.pitch_ratio < limits.pitch_ratio[0]
            || self.pitch_ratio > limits.pitch_ratio[1]
        {
            Some(QualityIssue::NotFacing)
        } else if self.brightness < limits.brightness[0] {
            Some(QualityIssue::TooDark)
        } else if self.brightness > limits.brightness[1] {
            Some(QualityIssue::TooBright)
        } else if self.sharpness < limits.min_sharpness {
            Some(QualityIssue::Blurred)
        } else {
            None
        }
    }
}
