//! Marks on generated official paper: the issuer's round seal (红章: a ring, a five-pointed
//! star, the issuer's name around the upper arc, the seal's purpose across the foot) and a QR
//! code, drawn straight onto an 8-bit BGR page.

use opencv::core::{Mat, Point, Point2f, Rect, Scalar, Size, Vector, CV_8UC1};
use opencv::imgproc;
use opencv::prelude::*;

use crate::text::{draw_text, text_width};
use crate::ImageError;

/// Seal red, BGR, a little translucent like stamp ink.
const RED: [u8; 3] = [38, 30, 214];
const INK_ALPHA: f32 = 0.85;

/// Draws a round seal of `radius` pixels centred at (`cx`, `cy`): `issuer` around the top,
/// `purpose` (证明专用章, 电子证照专用章) along the foot.
pub fn draw_seal(
    page: &mut Mat,
    cx: i32,
    cy: i32,
    radius: i32,
    issuer: &str,
    purpose: &str,
) -> Result<(), ImageError> {
    let r = radius as f32;
    // Ink goes onto a coverage mask first and is blended once, so overlapping strokes do not
    // darken and the text under the seal stays readable.
    let side = radius * 2 + 8;
    let mut mask = Mat::new_rows_cols_with_default(side, side, CV_8UC1, Scalar::all(0.0))?;
    let c = Point::new(side / 2, side / 2);
    let ring = (radius / 18).max(3);
    imgproc::circle(
        &mut mask,
        c,
        radius - ring / 2,
        Scalar::all(255.0),
        ring,
        imgproc::LINE_AA,
        0,
    )?;
    // The star: five outer points at r·0.30, inner ones at 0.38 of that.
    let star_r = r * 0.30;
    let mut pts = Vector::<Point>::new();
    for i in 0..10 {
        let a = -std::f32::consts::FRAC_PI_2 + i as f32 * std::f32::consts::PI / 5.0;
        let rr = if i % 2 == 0 { star_r } else { star_r * 0.38 };
        pts.push(Point::new(
            (c.x as f32 + rr * a.cos()).round() as i32,
            (c.y as f32 + rr * a.sin()).round() as i32,
        ));
    }
    let mut polys = Vector::<Vector<Point>>::new();
    polys.push(pts);
    imgproc::fill_poly_def(&mut mask, &polys, Scalar::all(255.0))?;

    // The issuer's name: one glyph at a time, upright to the arc, over about 250°.
    let chars: Vec<char> = issuer.chars().filter(|c| !c.is_whitespace()).collect();
    if !chars.is_empty() {
        let px = (r * 0.26).clamp(10.0, 64.0);
        let text_r = r - ring as f32 - px * 0.75;
        let span = 250f32.to_radians().min(chars.len() as f32 * 0.5);
        let step = if chars.len() > 1 {
            span / (chars.len() - 1) as f32
        } else {
            0.0
        };
        let start = -std::f32::consts::FRAC_PI_2 - span / 2.0;
        for (i, ch) in chars.iter().enumerate() {
            let a = start + step * i as f32;
            let gx = c.x as f32 + text_r * a.cos();
            let gy = c.y as f32 + text_r * a.sin();
            // Upright along the radius: rotated by the angle from the top.
            let deg = (a + std::f32::consts::FRAC_PI_2).to_degrees();
            stamp_glyph(&mut mask, *ch, gx, gy, px, -deg)?;
        }
    }
    if !purpose.is_empty() {
        let px = (r * 0.17).clamp(8.0, 40.0);
        let w = text_width(purpose, px)?;
        draw_text(
            &mut mask,
            purpose,
            c.x as f32 - w / 2.0,
            c.y as f32 + r * 0.62,
            px,
            [255, 255, 255],
            1.0,
        )?;
    }
    blend(page, &mask, cx - side / 2, cy - side / 2)
}

/// One glyph centred at (x, y) on the mask, turned `deg` degrees (counter-clockwise positive,
/// OpenCV's sense).
fn stamp_glyph(
    mask: &mut Mat,
    ch: char,
    x: f32,
    y: f32,
    px: f32,
    deg: f32,
) -> Result<(), ImageError> {
    let box_side = (px * 1.6).ceil() as i32;
    let mut g = Mat::new_rows_cols_with_default(box_side, box_side, CV_8UC1, Scalar::all(0.0))?;
    let s = ch.to_string();
    let w = text_width(&s, px)?;
    let half = box_side as f32 / 2.0;
    draw_text(
        &mut g,
        &s,
        half - w / 2.0,
        half + px * 0.36,
        px,
        [255, 255, 255],
        1.0,
    )?;
    let m = imgproc::get_rotation_matrix_2d(Point2f::new(half, half), f64::from(deg), 1.0)?;
    let mut turned = Mat::default();
    imgproc::warp_affine(
        &g,
        &mut turned,
        &m,
        Size::new(box_side, box_side),
        imgproc::INTER_LINEAR,
        opencv::core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    let (left, top) = ((x - half).round() as i32, (y - half).round() as i32);
    max_into(mask, &turned, left, top)
}

/// `mask = max(mask, part)` where `part` lies at (left, top), clipped to the mask.
fn max_into(mask: &mut Mat, part: &Mat, left: i32, top: i32) -> Result<(), ImageError> {
    let area = Rect::new(left, top, part.cols(), part.rows());
    let clip = area & Rect::new(0, 0, mask.cols(), mask.rows());
    if clip.width <= 0 || clip.height <= 0 {
        return Ok(());
    }
    let src = Mat::roi(
        part,
        Rect::new(clip.x - left, clip.y - top, clip.width, clip.height),
    )?
    .try_clone()?;
    let mut dst = Mat::roi_mut(mask, clip)?;
    let before = dst.try_clone()?;
    opencv::core::max(&before, &src, &mut dst)?;
    Ok(())
}

/// Blends seal ink into the page through the coverage mask at (left, top).
fn blend(page: &mut Mat, mask: &Mat, left: i32, top: i32) -> Result<(), ImageError> {
    let (w, h) = (page.cols(), page.rows());
    for y in 0..mask.rows() {
        let py = top + y;
        if py < 0 || py >= h {
            continue;
        }
        for x in 0..mask.cols() {
            let px = left + x;
            if px < 0 || px >= w {
                continue;
            }
            let cov = f32::from(*mask.at_2d::<u8>(y, x)?) / 255.0 * INK_ALPHA;
            if cov <= 0.0 {
                continue;
            }
            let p = page.at_2d_mut::<opencv::core::Vec3b>(py, px)?;
            for ch in 0..3 {
                // Multiply like ink on paper: dark print under the seal stays dark.
                let paper = f32::from(p[ch]);
                let inked = paper * f32::from(RED[ch]) / 255.0;
                p[ch] = (paper * (1.0 - cov) + inked * cov).round() as u8;
            }
        }
    }
    Ok(())
}

/// Draws `data` as a QR code (error correction M) with its top-left at (x, y), each module
/// `module` pixels, inside a white quiet zone of four modules. Returns the side in pixels.
pub fn draw_qr(page: &mut Mat, data: &str, x: i32, y: i32, module: i32) -> Result<i32, ImageError> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ImageError::BadInput(format!("QR code: {e}")))?;
    let n = code.width() as i32;
    let side = (n + 8) * module;
    imgproc::rectangle(
        page,
        Rect::new(x, y, side, side),
        Scalar::all(255.0),
        -1,
        imgproc::LINE_8,
        0,
    )?;
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = ((i as i32) % n, (i as i32) / n);
            imgproc::rectangle(
                page,
                Rect::new(x + (mx + 4) * module, y + (my + 4) * module, module, module),
                Scalar::all(0.0),
                -1,
                imgproc::LINE_8,
                0,
            )?;
        }
    }
    Ok(side)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core::CV_8UC3;

    #[test]
    fn a_seal_is_red_ink_around_its_centre_and_a_qr_has_its_finders() {
        let mut page =
            Mat::new_rows_cols_with_default(400, 400, CV_8UC3, Scalar::all(255.0)).unwrap();
        draw_seal(
            &mut page,
            200,
            200,
            120,
            "苏州市社会保险基金管理中心",
            "证明专用章",
        )
        .unwrap();
        let centre = *page.at_2d::<opencv::core::Vec3b>(200, 200).unwrap();
        // The star covers the centre: red dominates.
        assert!(
            centre[2] > 150 && centre[0] < 120 && centre[1] < 120,
            "{centre:?}"
        );
        let ring = *page
            .at_2d::<opencv::core::Vec3b>(200, 200 + 120 - 4)
            .unwrap();
        assert!(ring[2] > ring[0] + 60, "{ring:?}");
        let corner = *page.at_2d::<opencv::core::Vec3b>(5, 5).unwrap();
        assert_eq!(corner, opencv::core::Vec3b::from([255, 255, 255]));

        let mut qr =
            Mat::new_rows_cols_with_default(300, 300, CV_8UC3, Scalar::all(128.0)).unwrap();
        let side = draw_qr(&mut qr, "https://example.org/p/ZM1/ABCD2345", 10, 10, 4).unwrap();
        assert!(side > 100 && side < 290);
        // The top-left finder pattern starts after the quiet zone: dark there, white before.
        assert_eq!(
            qr.at_2d::<opencv::core::Vec3b>(10 + 17, 10 + 17).unwrap()[0],
            0
        );
        assert_eq!(qr.at_2d::<opencv::core::Vec3b>(12, 12).unwrap()[0], 255);
    }
}
