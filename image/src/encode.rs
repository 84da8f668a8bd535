//! JPEG within a size limit (upload portals cap attachments, often at 200 KB–1 MB) and
//! multi-page PDF of scanned pages.

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};
use opencv::core::{Mat, Size, Vector};
use opencv::imgcodecs;
use opencv::imgproc;
use opencv::prelude::*;

use crate::ImageError;

#[derive(Debug, Clone)]
pub struct Jpeg {
    pub bytes: Vec<u8>,
    pub quality: i32,
    pub width: i32,
    pub height: i32,
    pub channels: i32,
}

pub fn jpeg(img: &Mat, quality: i32) -> Result<Jpeg, ImageError> {
    let mut buf = Vector::<u8>::new();
    let params =
        Vector::<i32>::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, quality.clamp(1, 100)]);
    if !imgcodecs::imencode(".jpg", img, &mut buf, &params)? {
        return Err(ImageError::OpenCv("JPEG encoder refused the image".into()));
    }
    Ok(Jpeg {
        bytes: buf.to_vec(),
        quality,
        width: img.cols(),
        height: img.rows(),
        channels: img.channels(),
    })
}

/// The best-looking JPEG no larger than `max_bytes`: the highest quality that fits (searched
/// between 35 and 95), and only when even quality 35 is too big, a smaller image.
pub fn jpeg_within(img: &Mat, max_bytes: usize) -> Result<Jpeg, ImageError> {
    if max_bytes < 2048 {
        return Err(ImageError::BadInput(format!(
            "{max_bytes} bytes is too small for a legible page"
        )));
    }
    let mut current = img.try_clone()?;
    let mut smallest = usize::MAX;
    for _ in 0..12 {
        let (mut lo, mut hi) = (35, 95);
        let mut best: Option<Jpeg> = None;
        let floor = jpeg(&current, lo)?;
        smallest = smallest.min(floor.bytes.len());
        if floor.bytes.len() <= max_bytes {
            best = Some(floor);
            while lo < hi {
                let mid = (lo + hi + 1) / 2;
                let j = jpeg(&current, mid)?;
                if j.bytes.len() <= max_bytes {
                    lo = mid;
                    best = Some(j);
                } else {
                    hi = mid - 1;
                }
            }
        }
        if let Some(b) = best {
            return Ok(b);
        }
        let mut smaller = Mat::default();
        imgproc::resize(
            &current,
            &mut smaller,
            Size::new(0, 0),
            0.8,
            0.8,
            imgproc::INTER_AREA,
        )?;
        if smaller.cols() < 64 || smaller.rows() < 64 {
            break;
        }
        current = smaller;
    }
    Err(ImageError::TooLarge {
        max_bytes,
        smallest,
    })
}

/// A4 in PDF points.
pub const A4_POINTS: (f32, f32) = (595.28, 841.89);

/// One PDF with each image on its own A4 page (landscape images on landscape pages), scaled to
/// fit inside `margin_mm`, embedded as JPEG. An A4-shaped image with no margin fills the page
/// exactly, which keeps an ID card copy at true size.
pub fn pdf(pages: &[Jpeg], margin_mm: f32) -> Result<Vec<u8>, ImageError> {
    if pages.is_empty() {
        return Err(ImageError::BadInput("a PDF needs at least one page".into()));
    }
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::new();
    for (i, j) in pages.iter().enumerate() {
        let colour = match j.channels {
            1 => "DeviceGray",
            3 => "DeviceRGB",
            c => {
                return Err(ImageError::BadInput(format!(
                    "page {}: {c} channels",
                    i + 1
                )))
            }
        };
        let image_id = doc.add_object(Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Image",
                "Width" => j.width,
                "Height" => j.height,
                "ColorSpace" => colour,
                "BitsPerComponent" => 8,
                "Filter" => "DCTDecode",
            },
            j.bytes.clone(),
        ));
        let (pw, ph) = if j.width > j.height {
            (A4_POINTS.1, A4_POINTS.0)
        } else {
            A4_POINTS
        };
        let margin = margin_mm.max(0.0) / 25.4 * 72.0;
        let fit = ((pw - 2.0 * margin) / j.width as f32).min((ph - 2.0 * margin) / j.height as f32);
        let (iw, ih) = (j.width as f32 * fit, j.height as f32 * fit);
        let (x, y) = ((pw - iw) / 2.0, (ph - ih) / 2.0);
        let content = Content {
            operations: vec![
                Operation::new("q", vec![]),
                Operation::new(
                    "cm",
                    vec![iw.into(), 0.into(), 0.into(), ih.into(), x.into(), y.into()],
                ),
                Operation::new("Do", vec!["Im0".into()]),
                Operation::new("Q", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode()?));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), pw.into(), ph.into()],
            "Contents" => content_id,
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| ImageError::Pdf(e.to_string()))?;
    Ok(out)
}
