//! Face alignment: the least-squares similarity transform (rotation, uniform scale, translation;
//! no reflection) from the five landmarks to the ArcFace 112×112 template, then a bilinear warp.
//! A robust fit (RANSAC) would trust only some of the five points, which is worse for recognition.

use opencv::core::{Mat, Scalar, Size, BORDER_CONSTANT, CV_64F};
use opencv::imgproc;
use opencv::prelude::*;

use crate::detect::Detection;
use crate::{cv, FaceError};

pub const SIZE: i32 = 112;
pub const TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// The 2×3 matrix `[[a, -b, tx], [b, a, ty]]` that best maps `src` onto `dst`.
pub fn similarity(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> Option<[[f64; 3]; 2]> {
    let n = src.len() as f64;
    let mean = |pts: &[[f32; 2]; 5]| {
        let (sx, sy) = pts.iter().fold((0.0, 0.0), |(x, y), p| {
            (x + f64::from(p[0]), y + f64::from(p[1]))
        });
        (sx / n, sy / n)
    };
    let (mpx, mpy) = mean(src);
    let (mqx, mqy) = mean(dst);
    let (mut a, mut b, mut var) = (0.0, 0.0, 0.0);
    for (p, q) in src.iter().zip(dst) {
        let (px, py) = (f64::from(p[0]) - mpx, f64::from(p[1]) - mpy);
        let (qx, qy) = (f64::from(q[0]) - mqx, f64::from(q[1]) - mqy);
        a += px * qx + py * qy;
        b += px * qy - py * qx;
        var += px * px + py * py;
    }
    if var.is_nan() || var <= 1e-9 || !a.is_finite() || !b.is_finite() {
        return None;
    }
    let (c, s) = (a / var, b / var);
    let tx = mqx - (c * mpx - s * mpy);
    let ty = mqy - (s * mpx + c * mpy);
    Some([[c, -s, tx], [s, c, ty]])
}

/// The face warped to the 112×112 template.
pub fn align(bgr: &Mat, face: &Detection) -> Result<Mat, FaceError> {
    let m = similarity(&face.landmarks, &TEMPLATE)
        .ok_or_else(|| FaceError::BadImage("face landmarks are degenerate".into()))?;
    let mut mat = Mat::new_rows_cols_with_default(2, 3, CV_64F, Scalar::all(0.0)).map_err(cv)?;
    for (r, row) in m.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            *mat.at_2d_mut::<f64>(r as i32, c as i32).map_err(cv)? = *v;
        }
    }
    let mut out = Mat::default();
    imgproc::warp_affine(
        bgr,
        &mut out,
        &mat,
        Size::new(SIZE, SIZE),
        imgproc::INTER_LINEAR,
        BORDER_CONSTANT,
        Scalar::all(0.0),
    )
    .map_err(cv)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_similarity_is_recovered() {
        let (scale, angle, tx, ty) = (2.5f64, 0.3f64, 40.0, -12.0);
        let mut src = [[0f32; 2]; 5];
        for (i, p) in src.iter_mut().enumerate() {
            let [x, y] = TEMPLATE[i];
            let (x, y) = (f64::from(x), f64::from(y));
            p[0] = (scale * (angle.cos() * x - angle.sin() * y) + tx) as f32;
            p[1] = (scale * (angle.sin() * x + angle.cos() * y) + ty) as f32;
        }
        let m = similarity(&src, &TEMPLATE).expect("fit");
        for (p, q) in src.iter().zip(TEMPLATE) {
            let x = m[0][0] * f64::from(p[0]) + m[0][1] * f64::from(p[1]) + m[0][2];
            let y = m[1][0] * f64::from(p[0]) + m[1][1] * f64::from(p[1]) + m[1][2];
            assert!((x - f64::from(q[0])).abs() < 1e-3 && (y - f64::from(q[1])).abs() < 1e-3);
        }
    }

    #[test]
    fn coincident_points_are_refused() {
        assert!(similarity(&[[5.0, 5.0]; 5], &TEMPLATE).is_none());
    }
}
