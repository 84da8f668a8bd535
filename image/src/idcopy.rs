//! ID card copies: front and back on one A4 page at true size (85.6 × 54 mm, ISO/IEC 7810
//! ID-1), with a use-restriction watermark across both sides so the copy cannot be reused for
//! another purpose (常见要求：“仅供……使用，他用无效”).

use opencv::core::{Mat, Rect, Scalar, Size, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;

use crate::text::{draw_text, text_width};
use crate::ImageError;

pub const CARD_MM: (f32, f32) = (85.6, 54.0);
pub const A4_MM: (f32, f32) = (210.0, 297.0);

/// Millimetres to pixels at `dpi`.
pub fn mm(v: f32, dpi: f32) -> i32 {
    (v / 25.4 * dpi).round() as i32
}

/// The A4 page (portrait, white) with the two sides centred one above the other, each scaled
/// to exactly 85.6 × 54 mm at `dpi`, and `watermark` repeated diagonally over each side.
pub fn id_card_copy(front: &Mat, back: &Mat, watermark: &str, dpi: f32) -> Result<Mat, ImageError> {
    if !(100.0..=600.0).contains(&dpi) {
        return Err(ImageError::BadInput(format!("{dpi} dpi: use 100-600")));
    }
    if watermark.trim().is_empty() {
        return Err(ImageError::BadInput(
            "an ID card copy needs a use-restriction watermark".into(),
        ));
    }
    let (pw, ph) = (mm(A4_MM.0, dpi), mm(A4_MM.1, dpi));
    let (cw, ch) = (mm(CARD_MM.0, dpi), mm(CARD_MM.1, dpi));
    let mut page = Mat::new_rows_cols_with_default(ph, pw, CV_8UC3, Scalar::all(255.0))?;
    let gap = mm(20.0, dpi);
    let top = (ph - 2 * ch - gap) / 2;
    for (i, side) in [front, back].into_iter().enumerate() {
        if side.empty() {
            return Err(ImageError::BadInput(format!(
                "card side {} is empty",
                i + 1
            )));
        }
        let side = to_bgr(side)?;
        let mut scaled = Mat::default();
        imgproc::resize(
            &side,
            &mut scaled,
            Size::new(cw, ch),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )?;
        watermark_over(&mut scaled, watermark, dpi)?;
        let y = top + i as i32 * (ch + gap);
        let mut roi = Mat::roi_mut(&mut page, Rect::new((pw - cw) / 2, y, cw, ch))?;
        scaled.copy_to(&mut roi)?;
        imgproc::rectangle(
            &mut page,
            Rect::new((pw - cw) / 2 - 1, y - 1, cw + 2, ch + 2),
            Scalar::all(160.0),
            1,
            imgproc::LINE_8,
            0,
        )?;
    }
    Ok(page)
}

/// The card cut out of a document-camera photo of it: found like a page, viewed square-on and
/// turned landscape. A picture that is already just the card (no edge found) is used as it is.
pub fn card_from_photo(photo: &Mat) -> Result<Mat, ImageError> {
    let card = match crate::page::find_page(photo)? {
        Some(quad) => crate::page::rectify(photo, &quad)?,
        None => photo.try_clone()?,
    };
    if card.rows() > card.cols() {
        let mut turned = Mat::default();
        opencv::core::rotate(&card, &mut turned, opencv::core::ROTATE_90_COUNTERCLOCKWISE)?;
        return Ok(turned);
    }
    Ok(card)
}

fn to_bgr(m: &Mat) -> Result<Mat, ImageError> {
    if m.channels() == 3 {
        return Ok(m.try_clone()?);
    }
    let mut c = Mat::default();
    imgproc::cvt_color_def(m, &mut c, imgproc::COLOR_GRAY2BGR)?;
    Ok(c)
}

/// Diagonal rows of the text, half-transparent grey-blue, over the whole card side.
fn watermark_over(card: &mut Mat, text: &str, dpi: f32) -> Result<(), ImageError> {
    let px = mm(3.2, dpi) as f32;
    let (w, h) = (card.cols(), card.rows());
    let tw = text_width(text, px)?.max(1.0);
    // Text drawn on a larger canvas, rotated, then blended where it has ink.
    let side = ((w * w + h * h) as f32).sqrt() as i32 + 2;
    let mut layer =
        Mat::new_rows_cols_with_default(side, side, opencv::core::CV_8UC3, Scalar::all(0.0))?;
    let mut y = px;
    let mut row = 0;
    while y < side as f32 + px {
        let mut x = -((row % 2) as f32) * tw / 2.0;
        while x < side as f32 {
            draw_text(&mut layer, text, x, y, px, [255, 255, 255], 1.0)?;
            x += tw + px * 2.0;
        }
        y += px * 2.6;
        row += 1;
    }
    let centre = opencv::core::Point2f::new(side as f32 / 2.0, side as f32 / 2.0);
    let mut m = imgproc::get_rotation_matrix_2d(centre, 30.0, 1.0)?;
    *m.at_2d_mut::<f64>(0, 2)? -= f64::from((side - w) / 2);
    *m.at_2d_mut::<f64>(1, 2)? -= f64::from((side - h) / 2);
    let mut rotated = Mat::default();
    imgproc::warp_affine(
        &layer,
        &mut rotated,
        &m,
        Size::new(w, h),
        imgproc::INTER_LINEAR,
        opencv::core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    let colour = [150.0f32, 110.0, 70.0];
    let step_c = card.mat_step().first().copied().unwrap_or(0);
    let step_r = rotated.mat_step().first().copied().unwrap_or(0);
    let cov = rotated.data_bytes()?.to_vec();
    let data = card.data_bytes_mut()?;
    for y in 0..h as usize {
        for x in 0..w as usize {
            let a = f32::from(cov[y * step_r + x * 3]) / 255.0 * 0.45;
            if a <= 0.0 {
                continue;
            }
            for c in 0..3 {
                let v = &mut data[y * step_c + x * 3 + c];
                *v = (f32::from(*v) * (1.0 - a) + colour[c] * a).round() as u8;
            }
        }
    }
    Ok(())
}
