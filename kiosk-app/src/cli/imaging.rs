//! `kiosk image …`, `kiosk face verify` and `kiosk camera list`: the document pipeline and the
//! face check on files, for technicians and for checking a camera's pictures by hand.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use kiosk_image::encode::{jpeg, jpeg_within, pdf, Jpeg};
use kiosk_image::idcopy::{card_from_photo, id_card_copy};
use kiosk_image::scan::read_image;
use kiosk_image::{scan, Enhancement, ImageError, ScanOptions, StillFrames};
use kiosk_models::{BackendKind, FaceEngine, Prompt, VerifyPolicy};
use opencv::core::Mat;
use opencv::prelude::*;
use serde_json::{json, Value};

use crate::services::face::FaceService;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutKind {
    Jpeg,
    Png,
    Pdf,
}

fn out_kind(out: &Path) -> Result<OutKind, ImageError> {
    match out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("jpg" | "jpeg") => Ok(OutKind::Jpeg),
        Some("png") => Ok(OutKind::Png),
        Some("pdf") => Ok(OutKind::Pdf),
        _ => Err(ImageError::BadInput(format!(
            "{}: the output must end in .jpg, .png or .pdf",
            out.display()
        ))),
    }
}

fn write(out: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    std::fs::write(out, bytes).map_err(|e| ImageError::Io {
        path: out.display().to_string(),
        message: e.to_string(),
    })
}

fn encode_page(img: &Mat, max_bytes: Option<usize>) -> Result<Jpeg, ImageError> {
    match max_bytes {
        Some(m) => jpeg_within(img, m),
        None => jpeg(img, 90),
    }
}

/// Scans each input; several inputs need a PDF output (one page each).
pub fn scan_files(
    inputs: &[PathBuf],
    out: &Path,
    mode: Enhancement,
    max_bytes: Option<usize>,
    orient: bool,
) -> Result<Value, ImageError> {
    let kind = out_kind(out)?;
    if inputs.is_empty() {
        return Err(ImageError::BadInput("no input photo".into()));
    }
    if inputs.len() > 1 && kind != OutKind::Pdf {
        return Err(ImageError::BadInput(
            "several photos make one PDF: name the output .pdf".into(),
        ));
    }
    let options = ScanOptions {
        enhancement: mode,
        orient,
    };
    let mut reports = Vec::new();
    let mut pages = Vec::new();
    let mut last = None;
    for input in inputs {
        let photo = read_image(input)?;
        let s = scan(&photo, &options)?;
        reports.push(json!({ "input": input.display().to_string(), "report": s.report }));
        if kind == OutKind::Pdf {
            pages.push(encode_page(&s.image, max_bytes)?);
        }
        last = Some(s.image);
    }
    let (bytes, extra) = match (kind, last) {
        (OutKind::Pdf, _) => (pdf(&pages, 10.0)?, json!({ "pages": pages.len() })),
        (OutKind::Jpeg, Some(img)) => {
            let j = encode_page(&img, max_bytes)?;
            let q = j.quality;
            (j.bytes, json!({ "quality": q }))
        }
        (OutKind::Png, Some(img)) => {
            let mut buf = opencv::core::Vector::<u8>::new();
            opencv::imgcodecs::imencode_def(".png", &img, &mut buf)?;
            (buf.to_vec(), json!({}))
        }
        (_, None) => return Err(ImageError::BadInput("no input photo".into())),
    };
    write(out, &bytes)?;
    Ok(
        json!({ "output": out.display().to_string(), "bytes": bytes.len(), "pages": reports, "encoding": extra }),
    )
}

pub fn id_copy(
    front: &Path,
    back: &Path,
    out: &Path,
    watermark: &str,
    dpi: f32,
) -> Result<Value, ImageError> {
    let kind = out_kind(out)?;
    let front = card_from_photo(&read_image(front)?)?;
    let back = card_from_photo(&read_image(back)?)?;
    let page = id_card_copy(&front, &back, watermark, dpi)?;
    let bytes = match kind {
        OutKind::Pdf => pdf(&[jpeg(&page, 92)?], 0.0)?,
        OutKind::Jpeg => jpeg(&page, 92)?.bytes,
        OutKind::Png => {
            let mut buf = opencv::core::Vector::<u8>::new();
            opencv::imgcodecs::imencode_def(".png", &page, &mut buf)?;
            buf.to_vec()
        }
    };
    write(out, &bytes)?;
    Ok(
        json!({ "output": out.display().to_string(), "bytes": bytes.len(), "width": page.cols(), "height": page.rows(), "dpi": dpi }),
    )
}

/// `kiosk face verify --card --probe`: one check on pictures, as JSON.
pub fn verify_files(
    card: &Path,
    probes: &[PathBuf],
    ir: Option<&Path>,
    models: &Path,
    backend: BackendKind,
    threshold: Option<f32>,
) -> Result<Value, ImageError> {
    let card_photo = read_image(card)?;
    let ir_img = ir.map(read_image).transpose()?;
    let mut frames = Vec::new();
    for p in probes {
        frames.push((
            read_image(p)?,
            ir_img.as_ref().map(|m| m.try_clone()).transpose()?,
        ));
    }
    let mut stills = StillFrames::with_ir(frames);
    let policy = VerifyPolicy {
        match_threshold: threshold,
        // Each picture is offered a few times: the decision needs consecutive live frames.
        max_frames: (probes.len() as u32 * 4).max(4),
        timeout_secs: 60.0,
        ..VerifyPolicy::default()
    };
    let mut service = FaceService::load(&crate::services::face::FaceConfig {
        models: models.to_path_buf(),
        backend,
        cameras: Default::default(),
    });
    let mut prompts: Vec<Prompt> = Vec::new();
    let v = service.verify_frames(
        &card_photo,
        &mut stills,
        &policy,
        &mut |p| prompts.push(p),
        &AtomicBool::new(false),
    );
    let mut out = verification_json(&v, &prompts);
    out["backend"] = json!(backend.as_str());
    Ok(out)
}

/// A check's outcome and the prompts shown during it, as the CLI prints them.
pub fn verification_json(v: &kiosk_models::Verification, prompts: &[Prompt]) -> Value {
    let mut out = serde_json::to_value(v).unwrap_or_else(|e| json!({ "error": e.to_string() }));
    out["prompts"] = prompts
        .iter()
        .map(|p| json!({ "prompt": p, "zh": p.zh(), "en": p.en() }))
        .collect();
    out
}

/// The face models of a directory, checked and loaded, for `kiosk face check-models`.
pub fn check_models(models: &Path, backend: BackendKind) -> Result<Value, String> {
    let started = std::time::Instant::now();
    let engine = FaceEngine::load(models, backend).map_err(|e| e.to_string())?;
    Ok(json!({
        "models": models.display().to_string(),
        "backend": backend.as_str(),
        "match_threshold": engine.thresholds.match_cosine,
        "liveness_threshold": engine.thresholds.liveness_real,
        "load_ms": started.elapsed().as_millis() as u64,
    }))
}
