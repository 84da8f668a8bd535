//! Small OpenCV helpers the face pipeline shares: decoding, blobs, crops.

use opencv::core::{Mat, Rect, Size, Vector};
use opencv::imgcodecs;
use opencv::imgproc;
use opencv::prelude::*;

use crate::backend::Blob;
use crate::{cv, FaceError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// Planes in the frame's own B, G, R order.
    Bgr,
    /// Planes reordered to R, G, B.
    Rgb,
}

/// An 8-bit 3-channel image as a 1×3×H×W blob; `f(value, plane)` maps each pixel value.
pub fn to_blob(
    img: &Mat,
    order: Channels,
    f: impl Fn(f32, usize) -> f32,
) -> Result<Blob, FaceError> {
    if img.typ() != opencv::core::CV_8UC3 {
        return Err(FaceError::BadImage(format!(
            "expected an 8-bit BGR image, got type {}",
            img.typ()
        )));
    }
    let owned;
    let img = if img.is_continuous() {
        img
    } else {
        owned = img.try_clone().map_err(cv)?;
        &owned
    };
    let (w, h) = (img.cols() as usize, img.rows() as usize);
    let bytes = img.data_bytes().map_err(cv)?;
    let mut blob = Blob::zeros([1, 3, h, w]);
    let plane = w * h;
    for (p, px) in bytes.chunks_exact(3).enumerate() {
        for c in 0..3 {
            let src = match order {
                Channels::Bgr => c,
                Channels::Rgb => 2 - c,
            };
            blob.data[c * plane + p] = f(f32::from(px[src]), c);
        }
    }
    Ok(blob)
}

/// Decodes an image file's bytes (JPEG, PNG, BMP) to BGR.
pub fn decode(bytes: &[u8]) -> Result<Mat, FaceError> {
    if bytes.is_empty() {
        return Err(FaceError::BadImage("empty image file".into()));
    }
    let buf = Vector::<u8>::from_slice(bytes);
    let img = imgcodecs::imdecode(&buf, imgcodecs::IMREAD_COLOR).map_err(cv)?;
    if img.empty() {
        return Err(FaceError::BadImage(
            "not a decodable image (JPEG, PNG or BMP expected)".into(),
        ));
    }
    Ok(img)
}

pub fn read(path: &std::path::Path) -> Result<Mat, FaceError> {
    let bytes =
        std::fs::read(path).map_err(|e| FaceError::BadImage(format!("{}: {e}", path.display())))?;
    decode(&bytes).map_err(|e| FaceError::BadImage(format!("{}: {e}", path.display())))
}

/// Packed RGB pixels (an ID card photo, say) as a BGR Mat.
pub fn from_rgb(width: usize, height: usize, rgb: &[u8]) -> Result<Mat, FaceError> {
    if width == 0 || height == 0 || rgb.len() != width * height * 3 {
        return Err(FaceError::BadImage(format!(
            "{width}×{height} RGB needs {} bytes, got {}",
            width * height * 3,
            rgb.len()
        )));
    }
    let flat = Mat::from_slice(rgb).map_err(cv)?;
    let shaped = flat.reshape(3, height as i32).map_err(cv)?;
    let mut bgr = Mat::default();
    imgproc::cvt_color_def(&shaped, &mut bgr, imgproc::COLOR_RGB2BGR).map_err(cv)?;
    Ok(bgr)
}

/// The inclusive pixel range `[x1..=x2, y1..=y2]` resized to `size`×`size`.
pub fn crop_resize(
    img: &Mat,
    x1: i32,
    y1: i32,
    x2: i32,
    y2: i32,
    size: i32,
) -> Result<Mat, FaceError> {
    let x1 = x1.clamp(0, img.cols() - 1);
    let y1 = y1.clamp(0, img.rows() - 1);
    let x2 = x2.clamp(x1, img.cols() - 1);
    let y2 = y2.clamp(y1, img.rows() - 1);
    let roi = Mat::roi(img, Rect::new(x1, y1, x2 - x1 + 1, y2 - y1 + 1)).map_err(cv)?;
    let mut out = Mat::default();
    imgproc::resize(
        &roi,
        &mut out,
        Size::new(size, size),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .map_err(cv)?;
    Ok(out)
}

/// A grey copy of a BGR (or already grey) image.
pub fn grey(img: &Mat) -> Result<Mat, FaceError> {
    if img.channels() == 1 {
        return img.try_clone().map_err(cv);
    }
    let mut g = Mat::default();
    imgproc::cvt_color_def(img, &mut g, imgproc::COLOR_BGR2GRAY).map_err(cv)?;
    Ok(g)
}

/// A 3-channel copy of a grey image (IR frames), or the image itself.
pub fn bgr(img: &Mat) -> Result<Mat, FaceError> {
    if img.channels() == 3 {
        return img.try_clone().map_err(cv);
    }
    let mut c = Mat::default();
    imgproc::cvt_color_def(img, &mut c, imgproc::COLOR_GRAY2BGR).map_err(cv)?;
    Ok(c)
}
