//! The document pipeline: photo in, clean upright page out.
//!
//! find the page → correct its perspective (or, when no page edge is in view, deskew the text
//! and crop to the content) → turn it upright → even out the light and apply the mode.

use opencv::core::{Mat, Rect, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use serde::Serialize;

use crate::enhance::{enhance, Enhancement};
use crate::page::{estimate_skew, find_page, orient, rectify, rotate, Quad};
use crate::ImageError;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub enhancement: Enhancement,
    /// Turn pages a quarter or half turn when their text says so.
    pub orient: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            enhancement: Enhancement::Colour,
            orient: true,
        }
    }
}

/// What the pipeline did, for logs and for the citizen's preview.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// Page corners found in the photo (TL, TR, BR, BL), when a page edge was in view.
    pub corners: Option<[[f32; 2]; 4]>,
    /// Skew corrected, degrees (only when no page edge was found).
    pub skew_deg: f32,
    /// Quarter turns applied to make the page upright.
    pub quarter_turns: u8,
    pub width: i32,
    pub height: i32,
}

pub struct Scan {
    pub image: Mat,
    pub report: ScanReport,
}

pub fn scan(photo: &Mat, options: &ScanOptions) -> Result<Scan, ImageError> {
    if photo.empty() {
        return Err(ImageError::BadInput("empty photo".into()));
    }
    let quad: Option<Quad> = find_page(photo)?;
    let (flat, skew) = match &quad {
        Some(q) => (trim_edges(&rectify(photo, q)?)?, 0.0),
        None => {
            let skew = estimate_skew(photo)?;
            let straight = rotate(photo, skew)?;
            (crop_to_content(&straight)?, skew)
        }
    };
    let (upright, turns) = if options.orient {
        orient(&flat)?
    } else {
        (flat, 0)
    };
    let image = enhance(&upright, options.enhancement)?;
    Ok(Scan {
        report: ScanReport {
            corners: quad.map(|q| q.map(|p| [p.x, p.y])),
            skew_deg: skew,
            quarter_turns: turns,
            width: image.cols(),
            height: image.rows(),
        },
        image,
    })
}

/// Cuts a sliver (0.4 %) off each side: the fitted page edge lies on the paper's border, whose
/// last pixels mix with the desk.
fn trim_edges(img: &Mat) -> Result<Mat, ImageError> {
    let (w, h) = (img.cols(), img.rows());
    let (dx, dy) = ((w / 250).max(1), (h / 250).max(1));
    if w <= 4 * dx || h <= 4 * dy {
        return Ok(img.try_clone()?);
    }
    Ok(Mat::roi(img, Rect::new(dx, dy, w - 2 * dx, h - 2 * dy))?.try_clone()?)
}

/// The bounding box of everything that is not paper, with a small margin.
fn crop_to_content(img: &Mat) -> Result<Mat, ImageError> {
    let mut grey = Mat::default();
    if img.channels() == 3 {
        imgproc::cvt_color_def(img, &mut grey, imgproc::COLOR_BGR2GRAY)?;
    } else {
        grey = img.try_clone()?;
    }
    let mut ink = Mat::default();
    imgproc::adaptive_threshold(
        &grey,
        &mut ink,
        255.0,
        imgproc::ADAPTIVE_THRESH_MEAN_C,
        imgproc::THRESH_BINARY_INV,
        31,
        20.0,
    )?;
    let k = imgproc::get_structuring_element_def(imgproc::MORPH_RECT, Size::new(3, 3))?;
    let mut clean = Mat::default();
    imgproc::morphology_ex_def(&ink, &mut clean, imgproc::MORPH_OPEN, &k)?;
    let mut pts = Vector::<opencv::core::Point>::new();
    opencv::core::find_non_zero(&clean, &mut pts)?;
    if pts.is_empty() {
        return Ok(img.try_clone()?);
    }
    let r = imgproc::bounding_rect(&pts)?;
    let m = (img.cols().max(img.rows()) / 50).max(4);
    let x = (r.x - m).max(0);
    let y = (r.y - m).max(0);
    let w = (r.x + r.width + m).min(img.cols()) - x;
    let h = (r.y + r.height + m).min(img.rows()) - y;
    Ok(Mat::roi(img, Rect::new(x, y, w, h))?.try_clone()?)
}

/// Reads an image file (JPEG, PNG, BMP, TIFF) into BGR.
pub fn read_image(path: &std::path::Path) -> Result<Mat, ImageError> {
    let bytes = std::fs::read(path).map_err(|e| ImageError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    decode(&bytes).map_err(|e| ImageError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

pub fn decode(bytes: &[u8]) -> Result<Mat, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::BadInput("empty file".into()));
    }
    let m = opencv::imgcodecs::imdecode(
        &Vector::<u8>::from_slice(bytes),
        opencv::imgcodecs::IMREAD_COLOR,
    )?;
    if m.empty() {
        return Err(ImageError::BadInput(
            "not an image OpenCV can decode".into(),
        ));
    }
    Ok(m)
}
