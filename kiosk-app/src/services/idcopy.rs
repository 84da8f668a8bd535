//! ID card copies as the journey makes them: a side of the card taken from the document
//! camera's live picture (in memory: nothing is written to disk), the A4 page with the chosen
//! use across both sides, and the two-phase print on the A4 printer. The PDF exists on disk
//! only while the printer takes it, in a folder only the terminal's user can open.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use kiosk_hal::device::CompletionCode;
use kiosk_image::encode::{jpeg, pdf};
use kiosk_image::idcopy::{id_card_copy, CARD_MM};
use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;
use serde_json::json;
use zeroize::Zeroizing;

use super::catalogue::Text;
use super::outputs::OutputDesk;
use super::queue::PrintProblem;
use crate::flows::idcopy::CaptureProblem;
use crate::runtime::{CallError, Claim, Runtime};

/// The copy is printed at this resolution; 300 dpi keeps the card's small print legible.
pub const DPI: f32 = 300.0;
/// How far a cut-out may stray from the card's 85.6:54 (1.585) before it is not taken for a
/// card; an A4 page (1.414) is 11 % off.
const ASPECT_TOLERANCE: f32 = 0.06;

/// The uses the hall offers: its configuration's, else five common ones.
pub fn purposes(config: &[crate::config::LocalText]) -> Vec<Text> {
    if !config.is_empty() {
        return config
            .iter()
            .map(|t| Text {
                zh: t.zh.clone(),
                en: t.en.clone(),
            })
            .collect();
    }
    [
        (
            "仅供办理户籍业务使用，他用无效",
            "For household registration only",
        ),
        (
            "仅供办理社保业务使用，他用无效",
            "For social insurance only",
        ),
        (
            "仅供办理公积金业务使用，他用无效",
            "For the housing fund only",
        ),
        (
            "仅供办理不动产登记使用，他用无效",
            "For real estate registration only",
        ),
        (
            "仅供本次政务服务使用，他用无效",
            "For this government service only",
        ),
    ]
    .into_iter()
    .map(|(zh, en)| Text {
        zh: zh.into(),
        en: Some(en.into()),
    })
    .collect()
}

/// One side of the card from a full-resolution still (inline, never a file), cut out and
/// turned landscape, as JPEG.
pub fn capture_side(rt: &Runtime, camera: &Claim) -> Result<Zeroizing<Vec<u8>>, CaptureProblem> {
    let bytes = still(rt, camera)?;
    let photo = kiosk_image::scan::decode(&bytes)
        .map_err(|e| CaptureProblem::Camera(format!("the picture: {e}")))?;
    let card = cut_out(&photo)?;
    jpeg(&card, 92)
        .map(|j| Zeroizing::new(j.bytes))
        .map_err(|e| CaptureProblem::Camera(format!("encoding the side: {e}")))
}

/// A full-resolution still from the document camera, inline (never a file), as JPEG.
pub fn still(rt: &Runtime, camera: &Claim) -> Result<Zeroizing<Vec<u8>>, CaptureProblem> {
    let mut v = rt
        .call_unrecorded(
            camera,
            "frame",
            json!({ "still": true, "quality": 95 }),
            Duration::from_secs(10),
        )
        .map_err(|e| CaptureProblem::Camera(camera_problem(&e)))?;
    let bytes = v["jpeg"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(Zeroizing::new);
    crate::services::card::wipe_json(&mut v);
    bytes.ok_or_else(|| CaptureProblem::Camera("a frame without a picture".into()))
}

fn camera_problem(e: &CallError) -> String {
    match e.device_error() {
        Some(d) if d.code == CompletionCode::NotReady => "the camera is not ready".into(),
        _ => e.detail(),
    }
}

/// The card in a photo of the plate, or `NoCard` when nothing card-shaped lies on it.
pub fn cut_out(photo: &Mat) -> Result<Mat, CaptureProblem> {
    let quad = kiosk_image::page::find_page(photo)
        .map_err(|e| CaptureProblem::Camera(e.to_string()))?
        .ok_or(CaptureProblem::NoCard)?;
    let card = kiosk_image::page::rectify(photo, &quad)
        .map_err(|e| CaptureProblem::Camera(e.to_string()))?;
    let card = if card.rows() > card.cols() {
        let mut turned = Mat::default();
        opencv::core::rotate(&card, &mut turned, opencv::core::ROTATE_90_COUNTERCLOCKWISE)
            .map_err(|e| CaptureProblem::Camera(e.to_string()))?;
        turned
    } else {
        card
    };
    let aspect = card.cols() as f32 / card.rows().max(1) as f32;
    let want = CARD_MM.0 / CARD_MM.1;
    // A whole page, or the plate's own edge, is not a card.
    if (aspect - want).abs() / want > ASPECT_TOLERANCE || card.cols() < 300 {
        return Err(CaptureProblem::NoCard);
    }
    Ok(card)
}

/// The page made from the two sides: the PDF to print and a JPEG preview for the screen.
pub struct Copy {
    pub pdf: Zeroizing<Vec<u8>>,
    pub preview: Zeroizing<Vec<u8>>,
}

pub fn compose(front: &[u8], back: &[u8], watermark: &str) -> Result<Copy, String> {
    let side = |b: &[u8], which: &str| {
        kiosk_image::scan::decode(b).map_err(|e| format!("the {which} side: {e}"))
    };
    let page = id_card_copy(&side(front, "front")?, &side(back, "back")?, watermark, DPI)
        .map_err(|e| e.to_string())?;
    let full = jpeg(&page, 90).map_err(|e| e.to_string())?;
    let pdf = Zeroizing::new(pdf(std::slice::from_ref(&full), 0.0).map_err(|e| e.to_string())?);
    drop(Zeroizing::new(full.bytes));
    // The screen shows the page about 900 px tall; sharp enough to read the watermark.
    let h = 900;
    let w = (page.cols() as f32 * h as f32 / page.rows() as f32).round() as i32;
    let mut small = Mat::default();
    imgproc::resize(
        &page,
        &mut small,
        Size::new(w, h),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .map_err(|e| e.to_string())?;
    let preview = Zeroizing::new(jpeg(&small, 85).map_err(|e| e.to_string())?.bytes);
    Ok(Copy { pdf, preview })
}

/// Prints the copy two-phase (see `spool`).
pub fn print(
    desk: &OutputDesk,
    printer: &Claim,
    pdf: &[u8],
    spool: &Path,
) -> Result<(), PrintProblem> {
    super::spool::print_a4_pdf(desk, printer, "id-copy", pdf, spool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_image::synth::{Shot, SyntheticPage};

    fn card_photo(seed: u64) -> Mat {
        SyntheticPage {
            width: 856,
            height: 540,
            title: "居民身份证".into(),
            lines: vec!["姓名 张三".into(), "公民身份号码 3205**********1232".into()],
        }
        .photograph(&Shot {
            fill: 0.5,
            seed,
            ..Shot::default()
        })
        .unwrap()
        .image
    }

    #[test]
    fn a_card_is_taken_and_a_page_or_an_empty_plate_is_not() {
        let card = cut_out(&card_photo(3))
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        let aspect = card.cols() as f32 / card.rows() as f32;
        assert!((aspect - 1.585).abs() < 0.1, "{aspect}");
        let page = SyntheticPage::default()
            .photograph(&Shot::default())
            .unwrap()
            .image;
        assert_eq!(cut_out(&page).unwrap_err(), CaptureProblem::NoCard);
        let empty = Mat::new_rows_cols_with_default(
            720,
            1280,
            opencv::core::CV_8UC3,
            opencv::core::Scalar::all(90.0),
        )
        .unwrap();
        assert_eq!(cut_out(&empty).unwrap_err(), CaptureProblem::NoCard);
    }

    #[test]
    fn the_copy_is_one_a4_page_with_a_readable_preview() {
        let side = |seed| {
            Zeroizing::new(
                jpeg(&cut_out(&card_photo(seed)).unwrap(), 92)
                    .unwrap()
                    .bytes,
            )
        };
        let copy = compose(&side(4), &side(5), "仅供办理社保业务使用，他用无效").unwrap();
        let doc = lopdf::Document::load_mem(&copy.pdf).unwrap();
        assert_eq!(doc.get_pages().len(), 1);
        let preview = kiosk_image::scan::decode(&copy.preview).unwrap();
        assert_eq!(preview.rows(), 900);
        let ratio = preview.cols() as f32 / preview.rows() as f32;
        assert!((ratio - 210.0 / 297.0).abs() < 0.01, "{ratio}");
        assert!(compose(b"not a picture", &side(5), "x").is_err());
        assert!(compose(&side(4), &side(5), " ").is_err());
    }
}
