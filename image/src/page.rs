//! Finding the page in a photo, correcting its perspective, and deskewing pages whose edges
//! are not in view.

use opencv::core::{Mat, Point, Point2f, Scalar, Size, Vector, BORDER_REPLICATE};
use opencv::imgproc;
use opencv::prelude::*;

use crate::ImageError;

/// Page detection works on a copy this long on its long side; corners are then refined on
/// fitted edge lines, which keeps them sub-pixel on the small copy.
const WORK_SIDE: f32 = 1000.0;

/// Four corners: top-left, top-right, bottom-right, bottom-left.
pub type Quad = [Point2f; 4];

/// The page outline in `img`, or `None` when no page-shaped region stands out.
pub fn find_page(img: &Mat) -> Result<Option<Quad>, ImageError> {
    let (w, h) = (img.cols(), img.rows());
    if w < 32 || h < 32 {
        return Err(ImageError::BadInput(format!(
            "{w}×{h} is too small for a document"
        )));
    }
    let scale = (WORK_SIDE / w.max(h) as f32).min(1.0);
    let mut small = Mat::default();
    imgproc::resize(
        img,
        &mut small,
        Size::new(0, 0),
        f64::from(scale),
        f64::from(scale),
        imgproc::INTER_AREA,
    )?;
    let grey = to_grey(&small)?;
    let mut blur = Mat::default();
    imgproc::gaussian_blur(
        &grey,
        &mut blur,
        Size::new(5, 5),
        0.0,
        0.0,
        BORDER_REPLICATE,
    )?;
    let area = f64::from(small.cols() * small.rows());
    let mut best: Option<(f64, Vector<Point>, Quad)> = None;
    for mask in [bright_region(&blur)?, edge_region(&blur)?] {
        let mut contours = Vector::<Vector<Point>>::new();
        imgproc::find_contours_def(
            &mask,
            &mut contours,
            imgproc::RETR_EXTERNAL,
            imgproc::CHAIN_APPROX_NONE,
        )?;
        for c in contours.iter() {
            let a = imgproc::contour_area_def(&c)?;
            if a < 0.12 * area || best.as_ref().is_some_and(|(b, _, _)| *b >= a) {
                continue;
            }
            let mut hull = Vector::<Point>::new();
            imgproc::convex_hull_def(&c, &mut hull)?;
            let peri = imgproc::arc_length(&hull, true)?;
            let mut approx = Vector::<Point>::new();
            imgproc::approx_poly_dp(&hull, &mut approx, 0.02 * peri, true)?;
            if approx.len() != 4 || a > 0.98 * area {
                continue;
            }
            let quad = order(
                approx
                    .iter()
                    .map(|p| Point2f::new(p.x as f32, p.y as f32))
                    .collect(),
            );
            best = Some((a, c, quad));
        }
        // The brightness split traces the paper's own edge; the edge map (dilated, so its outer
        // contour sits a few pixels outside) is only the fallback.
        if best.is_some() {
            break;
        }
    }
    let Some((_, contour, quad)) = best else {
        return Ok(None);
    };
    let refined = refine(&contour, &quad).unwrap_or(quad);
    Ok(Some(refined.map(|p| {
        Point2f::new((p.x + 0.5) / scale - 0.5, (p.y + 0.5) / scale - 0.5)
    })))
}

fn to_grey(img: &Mat) -> Result<Mat, ImageError> {
    if img.channels() == 1 {
        return Ok(img.try_clone()?);
    }
    let mut g = Mat::default();
    imgproc::cvt_color_def(img, &mut g, imgproc::COLOR_BGR2GRAY)?;
    Ok(g)
}

/// Paper is brighter than the desk: Otsu's split, with text closed over.
fn bright_region(blur: &Mat) -> Result<Mat, ImageError> {
    let mut bin = Mat::default();
    imgproc::threshold(
        blur,
        &mut bin,
        0.0,
        255.0,
        imgproc::THRESH_BINARY | imgproc::THRESH_OTSU,
    )?;
    // Only the outer contour is used, so holes (text) do not matter; a median removes specks
    // without rounding the page's corners as an opening would.
    let mut clean = Mat::default();
    imgproc::median_blur(&bin, &mut clean, 5)?;
    Ok(clean)
}

/// When the page is not much brighter than its surroundings (white desk, strong shadow), its
/// edges still are edges.
fn edge_region(blur: &Mat) -> Result<Mat, ImageError> {
    let mut edges = Mat::default();
    imgproc::canny_def(blur, &mut edges, 40.0, 120.0)?;
    let k = imgproc::get_structuring_element_def(imgproc::MORPH_RECT, Size::new(5, 5))?;
    let mut d = Mat::default();
    imgproc::dilate_def(&edges, &mut d, &k)?;
    Ok(d)
}

/// Orders four points clockwise from the top-left (the one nearest the frame's top-left
/// among the two upper points).
fn order(mut pts: Vec<Point2f>) -> Quad {
    let cx = pts.iter().map(|p| p.x).sum::<f32>() / pts.len() as f32;
    let cy = pts.iter().map(|p| p.y).sum::<f32>() / pts.len() as f32;
    pts.sort_by(|a, b| {
        (a.y - cy)
            .atan2(a.x - cx)
            .total_cmp(&(b.y - cy).atan2(b.x - cx))
    });
    // atan2 order is clockwise on screen (y down) starting from the left; start at the
    // corner with the smallest x + y.
    let start = (0..4)
        .min_by(|&i, &j| (pts[i].x + pts[i].y).total_cmp(&(pts[j].x + pts[j].y)))
        .unwrap_or(0);
    [0, 1, 2, 3].map(|k| pts[(start + k) % 4])
}

/// Fits a line to the contour points along each side and intersects neighbouring lines.
fn refine(contour: &Vector<Point>, quad: &Quad) -> Option<Quad> {
    let pts: Vec<Point2f> = contour
        .iter()
        .map(|p| Point2f::new(p.x as f32, p.y as f32))
        .collect();
    let mut lines = Vec::with_capacity(4);
    for i in 0..4 {
        let (a, b) = (quad[i], quad[(i + 1) % 4]);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = (dx * dx + dy * dy).sqrt();
        if len < 8.0 {
            return None;
        }
        let (ux, uy) = (dx / len, dy / len);
        let side: Vec<Point2f> = pts
            .iter()
            .copied()
            .filter(|p| {
                let (px, py) = (p.x - a.x, p.y - a.y);
                let t = px * ux + py * uy;
                let d = (px * uy - py * ux).abs();
                d < 4.0 && t > 0.1 * len && t < 0.9 * len
            })
            .collect();
        if side.len() < 10 {
            return None;
        }
        let n = side.len() as f32;
        let (mx, my) = (
            side.iter().map(|p| p.x).sum::<f32>() / n,
            side.iter().map(|p| p.y).sum::<f32>() / n,
        );
        let (mut sxx, mut syy, mut sxy) = (0f32, 0f32, 0f32);
        for p in &side {
            sxx += (p.x - mx).powi(2);
            syy += (p.y - my).powi(2);
            sxy += (p.x - mx) * (p.y - my);
        }
        // Principal direction of the points (total least squares).
        let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
        lines.push((mx, my, theta.cos(), theta.sin()));
    }
    let mut out = *quad;
    for i in 0..4 {
        let (x1, y1, dx1, dy1) = lines[(i + 3) % 4];
        let (x2, y2, dx2, dy2) = lines[i];
        let det = dx1 * dy2 - dy1 * dx2;
        if det.abs() < 1e-3 {
            return None;
        }
        let t = ((x2 - x1) * dy2 - (y2 - y1) * dx2) / det;
        let p = Point2f::new(x1 + t * dx1, y1 + t * dy1);
        // A refinement that moves a corner far is a fit gone wrong; keep the polygon corner.
        if (p.x - quad[i].x).abs() > 12.0 || (p.y - quad[i].y).abs() > 12.0 {
            return None;
        }
        out[i] = p;
    }
    Some(out)
}

fn dist(a: Point2f, b: Point2f) -> f32 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

/// The page cut out and viewed square-on.
pub fn rectify(img: &Mat, quad: &Quad) -> Result<Mat, ImageError> {
    let w = dist(quad[0], quad[1])
        .max(dist(quad[3], quad[2]))
        .round()
        .max(1.0);
    let h = dist(quad[0], quad[3])
        .max(dist(quad[1], quad[2]))
        .round()
        .max(1.0);
    let src = Vector::<Point2f>::from_slice(quad);
    let dst = Vector::<Point2f>::from_slice(&[
        Point2f::new(0.0, 0.0),
        Point2f::new(w - 1.0, 0.0),
        Point2f::new(w - 1.0, h - 1.0),
        Point2f::new(0.0, h - 1.0),
    ]);
    let m = imgproc::get_perspective_transform(&src, &dst, opencv::core::DECOMP_LU)?;
    let mut out = Mat::default();
    imgproc::warp_perspective(
        img,
        &mut out,
        &m,
        Size::new(w as i32, h as i32),
        imgproc::INTER_CUBIC,
        BORDER_REPLICATE,
        Scalar::all(0.0),
    )?;
    Ok(out)
}

/// Dark marks (ink) as white on black, on a copy at most `long_side` pixels long, thresholded
/// against the local mean over `block` pixels so that uneven light does not count as ink.
fn ink_map(img: &Mat, long_side: f32, block: i32) -> Result<Mat, ImageError> {
    let grey = to_grey(img)?;
    let scale = (long_side / grey.cols().max(grey.rows()) as f32).min(1.0);
    let mut small = Mat::default();
    imgproc::resize(
        &grey,
        &mut small,
        Size::new(0, 0),
        f64::from(scale),
        f64::from(scale),
        imgproc::INTER_AREA,
    )?;
    let mut ink = Mat::default();
    imgproc::adaptive_threshold(
        &small,
        &mut ink,
        255.0,
        imgproc::ADAPTIVE_THRESH_MEAN_C,
        imgproc::THRESH_BINARY_INV,
        block,
        15.0,
    )?;
    Ok(ink)
}

/// The rotation in degrees (−15..15, positive clockwise as [`rotate`] takes it) that makes text
/// lines level: the angle whose horizontal projection of ink is most peaked, as level lines
/// fall into few rows.
pub fn estimate_skew(img: &Mat) -> Result<f32, ImageError> {
    let ink = ink_map(img, 800.0, 25)?;
    let mut pts = Vector::<Point>::new();
    opencv::core::find_non_zero(&ink, &mut pts)?;
    if pts.len() < 50 {
        return Ok(0.0);
    }
    let pts: Vec<(f32, f32)> = pts.iter().map(|p| (p.x as f32, p.y as f32)).collect();
    let rows = (ink.rows() + ink.cols()) as usize * 2;
    let score = |deg: f32| {
        let (s, c) = deg.to_radians().sin_cos();
        let mut hist = vec![0u32; rows];
        for &(x, y) in &pts {
            let r = (y * c - x * s) as isize + rows as isize / 2;
            if let Some(b) = hist.get_mut(r.max(0) as usize) {
                *b += 1;
            }
        }
        hist.iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
    };
    let mut best = (0.0f32, score(0.0));
    let mut step = 1.0f32;
    let mut centre = 0.0f32;
    let mut span = 15.0f32;
    while step >= 0.1 {
        let mut a = centre - span;
        while a <= centre + span {
            let s = score(a);
            if s > best.1 {
                best = (a, s);
            }
            a += step;
        }
        centre = best.0;
        span = step;
        step /= 4.0;
    }
    Ok(best.0)
}

/// Rotates by `deg` about the centre, growing the canvas so nothing is cut, filling with the
/// border colour.
pub fn rotate(img: &Mat, deg: f32) -> Result<Mat, ImageError> {
    if deg.abs() < 0.05 {
        return Ok(img.try_clone()?);
    }
    let (w, h) = (img.cols() as f32, img.rows() as f32);
    let centre = Point2f::new(w / 2.0, h / 2.0);
    let mut m = imgproc::get_rotation_matrix_2d(centre, f64::from(deg), 1.0)?;
    let (s, c) = deg.to_radians().sin_cos();
    let nw = (w * c.abs() + h * s.abs()).round();
    let nh = (w * s.abs() + h * c.abs()).round();
    *m.at_2d_mut::<f64>(0, 2)? += f64::from((nw - w) / 2.0);
    *m.at_2d_mut::<f64>(1, 2)? += f64::from((nh - h) / 2.0);
    let mut out = Mat::default();
    imgproc::warp_affine(
        img,
        &mut out,
        &m,
        Size::new(nw as i32, nh as i32),
        imgproc::INTER_CUBIC,
        BORDER_REPLICATE,
        Scalar::all(0.0),
    )?;
    Ok(out)
}

/// Turns a page a quarter or half turn so that its text reads left to right, top to bottom.
/// Text lines make the horizontal ink profile peaky, which tells a quarter turn. For a half
/// turn two cues vote: pages are top-heavy (titles and text start at the top, blank space
/// ends them), and left-aligned text keeps the left margin straight and the right ragged.
/// Returns the quarter turns applied (clockwise).
pub fn orient(img: &Mat) -> Result<(Mat, u8), ImageError> {
    let ink = ink_map(img, 600.0, 21)?;
    let profile_peak = |m: &Mat, axis: i32| -> Result<f64, ImageError> {
        let mut sums = Mat::default();
        opencv::core::reduce(
            m,
            &mut sums,
            axis,
            opencv::core::REDUCE_SUM,
            opencv::core::CV_64F,
        )?;
        let mut mean = Scalar::default();
        let mut std = Scalar::default();
        opencv::core::mean_std_dev(&sums, &mut mean, &mut std, &opencv::core::no_array())?;
        Ok(if mean[0] > 0.0 { std[0] / mean[0] } else { 0.0 })
    };
    // Row sums (reduce to one column) peak on horizontal text.
    let horizontal = profile_peak(&ink, 1)? >= profile_peak(&ink, 0)?;
    let mut turns = 0u8;
    let mut work = ink;
    if !horizontal {
        let mut t = Mat::default();
        opencv::core::rotate(&work, &mut t, opencv::core::ROTATE_90_CLOCKWISE)?;
        work = t;
        turns = 1;
    }
    let centroid = ink_centroid_y(&work)?;
    let ragged_left = margin_raggedness(&work, true)? > margin_raggedness(&work, false)? * 1.5;
    if centroid > 0.56 || (ragged_left && centroid > 0.5) {
        turns += 2;
    }
    let code = match turns {
        0 => return Ok((img.try_clone()?, 0)),
        1 => opencv::core::ROTATE_90_CLOCKWISE,
        2 => opencv::core::ROTATE_180,
        _ => opencv::core::ROTATE_90_COUNTERCLOCKWISE,
    };
    let mut out = Mat::default();
    opencv::core::rotate(img, &mut out, code)?;
    Ok((out, turns))
}

/// Where the ink's centre of mass lies, 0 (top) to 1 (bottom).
fn ink_centroid_y(ink: &Mat) -> Result<f64, ImageError> {
    let mut rows = Mat::default();
    opencv::core::reduce(
        ink,
        &mut rows,
        1,
        opencv::core::REDUCE_SUM,
        opencv::core::CV_64F,
    )?;
    let (mut mass, mut moment) = (0.0, 0.0);
    for y in 0..rows.rows() {
        let v = *rows.at_2d::<f64>(y, 0)?;
        mass += v;
        moment += v * f64::from(y);
    }
    Ok(if mass > 0.0 {
        moment / mass / f64::from(rows.rows().max(1))
    } else {
        0.5
    })
}

/// How much the first (left) or last (right) ink column of text rows wanders, in pixels.
fn margin_raggedness(ink: &Mat, left: bool) -> Result<f64, ImageError> {
    let (w, h) = (ink.cols(), ink.rows());
    let band = (h / 60).max(2);
    let mut edges = Vec::new();
    let mut y = 0;
    while y + band <= h {
        let roi = Mat::roi(ink, opencv::core::Rect::new(0, y, w, band))?;
        let mut cols = Mat::default();
        opencv::core::reduce(&roi, &mut cols, 0, opencv::core::REDUCE_MAX, -1)?;
        let bytes = cols.data_bytes()?;
        let pos = if left {
            bytes.iter().position(|&v| v > 0)
        } else {
            bytes.iter().rposition(|&v| v > 0)
        };
        if let Some(p) = pos {
            let ink_cols = bytes.iter().filter(|&&v| v > 0).count();
            if ink_cols > (w as usize) / 4 {
                edges.push(p as f64);
            }
        }
        y += band;
    }
    if edges.len() < 4 {
        return Ok(0.0);
    }
    let n = edges.len() as f64;
    let mean = edges.iter().sum::<f64>() / n;
    Ok((edges.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt())
}
