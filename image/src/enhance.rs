//! Making a photographed page look scanned: even out the light, then colour, grey, or
//! black-and-white document mode.

use opencv::core::{Mat, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ImageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Enhancement {
    /// Colour kept (seals stay red), paper made white.
    #[default]
    Colour,
    Grey,
    /// Black text on white paper: smallest files, best for forms.
    BlackWhite,
    /// Nothing changed.
    None,
}

impl std::str::FromStr for Enhancement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "colour" | "color" => Ok(Enhancement::Colour),
            "grey" | "gray" => Ok(Enhancement::Grey),
            "bw" | "black-white" => Ok(Enhancement::BlackWhite),
            "none" => Ok(Enhancement::None),
            other => Err(format!(
                "enhancement {other:?}: use colour, grey, bw or none"
            )),
        }
    }
}

pub fn enhance(img: &Mat, mode: Enhancement) -> Result<Mat, ImageError> {
    match mode {
        Enhancement::None => Ok(img.try_clone()?),
        Enhancement::Colour => {
            if img.channels() == 1 {
                return flatten(img);
            }
            let mut planes = Vector::<Mat>::new();
            opencv::core::split(img, &mut planes)?;
            let mut out_planes = Vector::<Mat>::new();
            for p in planes.iter() {
                out_planes.push(flatten(&p)?);
            }
            let mut out = Mat::default();
            opencv::core::merge(&out_planes, &mut out)?;
            Ok(out)
        }
        Enhancement::Grey => {
            let flat = flatten(&grey(img)?)?;
            stretch(&flat)
        }
        Enhancement::BlackWhite => {
            let flat = flatten(&grey(img)?)?;
            let mut bw = Mat::default();
            imgproc::threshold(
                &flat,
                &mut bw,
                0.0,
                255.0,
                imgproc::THRESH_BINARY | imgproc::THRESH_OTSU,
            )?;
            Ok(bw)
        }
    }
}

fn grey(img: &Mat) -> Result<Mat, ImageError> {
    if img.channels() == 1 {
        return Ok(img.try_clone()?);
    }
    let mut g = Mat::default();
    imgproc::cvt_color_def(img, &mut g, imgproc::COLOR_BGR2GRAY)?;
    Ok(g)
}

/// Divides one plane by its estimated paper brightness (a closing wider than any stroke, then
/// smoothed), so shadows and fall-off vanish and paper becomes white.
fn flatten(plane: &Mat) -> Result<Mat, ImageError> {
    let (w, h) = (plane.cols(), plane.rows());
    // Work on a small copy: the background varies slowly, and the closing is then cheap.
    let scale = (512.0 / w.max(h) as f64).min(1.0);
    let mut small = Mat::default();
    imgproc::resize(
        plane,
        &mut small,
        Size::new(0, 0),
        scale,
        scale,
        imgproc::INTER_AREA,
    )?;
    // Wider than any dark block a form carries (title bands, photos' frames), or the block
    // would be taken for shadow and washed out.
    let k = ((small.cols().max(small.rows()) / 8) | 1).max(3);
    let kernel = imgproc::get_structuring_element_def(imgproc::MORPH_ELLIPSE, Size::new(k, k))?;
    let mut closed = Mat::default();
    imgproc::morphology_ex_def(&small, &mut closed, imgproc::MORPH_CLOSE, &kernel)?;
    let mut smooth = Mat::default();
    imgproc::gaussian_blur(
        &closed,
        &mut smooth,
        Size::new(k, k),
        0.0,
        0.0,
        opencv::core::BORDER_REPLICATE,
    )?;
    let mut bg = Mat::default();
    imgproc::resize(
        &smooth,
        &mut bg,
        Size::new(w, h),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )?;
    let mut out = Mat::default();
    opencv::core::divide2(plane, &bg, &mut out, 255.0, -1)?;
    Ok(out)
}

/// Stretches levels so the darkest 1 % is black and the brightest 1 % white.
fn stretch(g: &Mat) -> Result<Mat, ImageError> {
    let mut hist = [0u64; 256];
    for &v in g.data_bytes()? {
        hist[v as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let pick = |frac: f64| {
        let mut acc = 0u64;
        for (i, &c) in hist.iter().enumerate() {
            acc += c;
            if acc as f64 >= frac * total as f64 {
                return i as f64;
            }
        }
        255.0
    };
    let (lo, hi) = (pick(0.01), pick(0.99));
    if hi - lo < 8.0 {
        return Ok(g.try_clone()?);
    }
    let mut out = Mat::default();
    g.convert_to(
        &mut out,
        opencv::core::CV_8U,
        255.0 / (hi - lo),
        -lo * 255.0 / (hi - lo),
    )?;
    Ok(out)
}
