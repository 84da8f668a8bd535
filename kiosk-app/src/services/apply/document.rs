//! The application's paper: each photographed page through the document pipeline (edges found,
//! flattened, enhanced) with a thumbnail for the screen, and the application PDF — the filled
//! form with the situation, pick-up and signature on an A4 page, then every material's pages.

use kiosk_image::encode::{jpeg, pdf, Jpeg};
use kiosk_image::scan::{scan, ScanOptions};
use kiosk_image::text::{draw_text, text_width};
use opencv::core::{Mat, Rect, Scalar, Size, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;
use zeroize::Zeroizing;

use super::{Application, Page};
use crate::flows::apply::CaptureProblem;

/// A4 at 150 dpi.
const PAGE_W: i32 = 1240;
const PAGE_H: i32 = 1754;
const MARGIN: f32 = 110.0;
/// The thumbnail's height on screen.
const THUMB_H: i32 = 240;

/// A photo from the document camera made into a page and its thumbnail.
pub fn page_from_photo(photo_jpeg: &[u8]) -> Result<Page, CaptureProblem> {
    let photo = kiosk_image::scan::decode(photo_jpeg)
        .map_err(|e| CaptureProblem::Camera(format!("the picture: {e}")))?;
    let scanned = scan(&photo, &ScanOptions::default())
        .map_err(|e| CaptureProblem::Camera(format!("the page: {e}")))?;
    let img = scanned.image;
    if scanned.report.corners.is_none() && blank(&img) {
        // No page edge and nothing written: the plate is empty.
        return Err(CaptureProblem::NoCard);
    }
    let page = jpeg(&img, 85).map_err(|e| CaptureProblem::Camera(e.to_string()))?;
    let thumb = thumbnail(&img).map_err(CaptureProblem::Camera)?;
    Ok(Page {
        jpeg: Zeroizing::new(page.bytes),
        thumb: std::sync::Arc::new(Zeroizing::new(thumb)),
    })
}

/// The plate as the document camera sees it now, small enough to show live (640 px wide):
/// the citizen sees what will be taken before touching "take".
pub fn plate_preview(
    rt: &crate::runtime::Runtime,
    camera: &crate::runtime::Claim,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut v = rt
        .call_unrecorded(
            camera,
            "frame",
            serde_json::json!({ "still": false, "quality": 80 }),
            std::time::Duration::from_secs(5),
        )
        .map_err(|e| e.detail())?;
    let bytes = {
        use base64::Engine;
        v["jpeg"]
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(Zeroizing::new)
    };
    crate::services::card::wipe_json(&mut v);
    let bytes = bytes.ok_or("a frame without a picture")?;
    let img = kiosk_image::scan::decode(&bytes).map_err(|e| e.to_string())?;
    let w = 640;
    let h = (img.rows() as f32 * w as f32 / img.cols().max(1) as f32).round() as i32;
    let mut small = Mat::default();
    imgproc::resize(
        &img,
        &mut small,
        Size::new(w, h.max(1)),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .map_err(|e| e.to_string())?;
    Ok(Zeroizing::new(
        jpeg(&small, 75).map_err(|e| e.to_string())?.bytes,
    ))
}

/// Whether an image is one even tone (an empty plate): no writing, no edges.
fn blank(img: &Mat) -> bool {
    let mut grey = Mat::default();
    if imgproc::cvt_color_def(img, &mut grey, imgproc::COLOR_BGR2GRAY).is_err() {
        return false;
    }
    let (mut mean, mut dev) = (Mat::default(), Mat::default());
    if opencv::core::mean_std_dev(&grey, &mut mean, &mut dev, &opencv::core::no_array()).is_err() {
        return false;
    }
    dev.at::<f64>(0).is_ok_and(|d| *d < 6.0)
}

fn thumbnail(img: &Mat) -> Result<Vec<u8>, String> {
    let w = (img.cols() as f32 * THUMB_H as f32 / img.rows().max(1) as f32).round() as i32;
    let mut small = Mat::default();
    imgproc::resize(
        img,
        &mut small,
        Size::new(w.max(1), THUMB_H),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .map_err(|e| e.to_string())?;
    jpeg(&small, 80).map(|j| j.bytes).map_err(|e| e.to_string())
}

/// What the form page says besides the fields.
pub struct Header<'a> {
    pub hall: &'a str,
    pub local_ref: &'a str,
    pub date: &'a str,
    pub agent: Option<&'a str>,
}

/// The filled form as an A4 page: the item, every field with its full value (this is the
/// application itself), the situation, the pick-up, the materials, and the signature.
pub fn form_page(app: &Application, h: &Header<'_>) -> Result<Mat, String> {
    let e = |e: kiosk_image::ImageError| e.to_string();
    let mut page = Mat::new_rows_cols_with_default(PAGE_H, PAGE_W, CV_8UC3, Scalar::all(255.0))
        .map_err(|e| e.to_string())?;
    let ink = [20, 20, 20];
    let soft = [90, 90, 90];
    let width = PAGE_W as f32 - 2.0 * MARGIN;
    let mut y = MARGIN + 20.0;
    let title = format!("{}申请表", app.item.name.zh);
    let tw = text_width(&title, 52.0).map_err(e)?;
    draw_text(
        &mut page,
        &title,
        (PAGE_W as f32 - tw) / 2.0,
        y + 40.0,
        52.0,
        ink,
        1.0,
    )
    .map_err(e)?;
    y += 90.0;
    let sub = format!(
        "{} · {} · 受理号 {}",
        h.hall, app.item.department.zh, h.local_ref
    );
    let sw = text_width(&sub, 26.0).map_err(e)?;
    draw_text(
        &mut page,
        &sub,
        (PAGE_W as f32 - sw) / 2.0,
        y,
        26.0,
        soft,
        1.0,
    )
    .map_err(e)?;
    y += 50.0;
    let line = |page: &mut Mat, y: &mut f32, label: &str, value: &str| -> Result<(), String> {
        let px = 30.0;
        draw_text(page, &format!("{label}："), MARGIN, *y, px, soft, 1.0).map_err(e)?;
        let lw = text_width(&format!("{label}："), px).map_err(e)?.max(260.0);
        for (i, l) in crate::services::papers::wrap(value, px, width - lw, 0.0)
            .iter()
            .enumerate()
        {
            if i > 0 {
                *y += px * 1.4;
            }
            draw_text(page, l, MARGIN + lw, *y, px, ink, 1.0).map_err(e)?;
        }
        *y += px * 1.7;
        Ok(())
    };
    let mut form = "";
    for (i, entry) in app.shape.entries.iter().enumerate() {
        if entry.form != form {
            form = &entry.form;
            y += 10.0;
            draw_text(&mut page, &entry.form_title.zh, MARGIN, y, 34.0, ink, 1.0).map_err(e)?;
            y += 54.0;
        }
        let value = app.shown_in_full(i);
        line(&mut page, &mut y, &entry.field.field.label.zh, &value)?;
    }
    y += 10.0;
    let situation = crate::services::materials::situation(&app.item, &app.answers, false);
    if !situation.is_empty() {
        line(&mut page, &mut y, "申请情形", &situation.join("；"))?;
    }
    let pickup = match app.pickup {
        Some(kiosk_protocol::cases::Pickup::Mail) => format!(
            "邮寄送达：{}",
            app.address.as_deref().map(String::as_str).unwrap_or("")
        ),
        Some(kiosk_protocol::cases::Pickup::Locker) => "智能柜自取".into(),
        _ => "窗口领取".into(),
    };
    line(&mut page, &mut y, "结果领取", &pickup)?;
    let materials = app.materials_zh();
    line(&mut page, &mut y, "提交材料", &materials.join("、"))?;
    if let Some(agent) = h.agent {
        line(&mut page, &mut y, "代办人", agent)?;
    }
    line(
        &mut page,
        &mut y,
        "声明",
        "本人承诺所填信息及所交材料真实有效，如有不实愿承担相应法律责任。",
    )?;
    // The signature at the foot of the page, at the pad's shape.
    let sig = app.ink.picture(560).map_err(|e| e.to_string())?;
    let top = (PAGE_H as f32 - MARGIN - sig.rows() as f32 - 40.0).max(y + 10.0) as i32;
    let left = PAGE_W - MARGIN as i32 - sig.cols();
    if top + sig.rows() <= PAGE_H {
        draw_text(
            &mut page,
            "申请人签名：",
            left as f32 - 200.0,
            top as f32 + 60.0,
            30.0,
            soft,
            1.0,
        )
        .map_err(e)?;
        let mut roi = Mat::roi_mut(&mut page, Rect::new(left, top, sig.cols(), sig.rows()))
            .map_err(|e| e.to_string())?;
        sig.copy_to(&mut roi).map_err(|e| e.to_string())?;
        draw_text(
            &mut page,
            &format!("日期：{}", h.date),
            left as f32,
            (top + sig.rows() + 36) as f32,
            28.0,
            soft,
            1.0,
        )
        .map_err(e)?;
    }
    Ok(page)
}

/// The application PDF: the form page, then every material's pages in order, then the
/// e-licences' print-outs (`licences`).
pub fn application_pdf(
    form: &Mat,
    app: &Application,
    licences: &[Mat],
) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut pages: Vec<Jpeg> = vec![jpeg(form, 88).map_err(|e| e.to_string())?];
    for p in app.pages.iter().flatten() {
        let img = kiosk_image::scan::decode(&p.jpeg).map_err(|e| e.to_string())?;
        pages.push(Jpeg {
            bytes: p.jpeg.to_vec(),
            quality: 85,
            width: img.cols(),
            height: img.rows(),
            channels: img.channels(),
        });
    }
    for l in licences {
        pages.push(jpeg(l, 85).map_err(|e| e.to_string())?);
    }
    let out = pdf(&pages, 8.0).map_err(|e| e.to_string());
    for p in &mut pages {
        zeroize::Zeroize::zeroize(&mut p.bytes);
    }
    out.map(Zeroizing::new)
}
