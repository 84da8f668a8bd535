//! `kiosk image scan` and `kiosk image idcopy`: the document pipeline on photo files.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{imaging, print_json};

/// Several photos and the output last; several inputs make one PDF.
pub fn scan(
    mut files: Vec<PathBuf>,
    mode: kiosk_image::Enhancement,
    max_kb: Option<usize>,
    no_orient: bool,
) -> anyhow::Result<ExitCode> {
    let out = files.pop().unwrap_or_default();
    print_json(
        imaging::scan_files(&files, &out, mode, max_kb.map(|k| k * 1024), !no_orient)
            .map_err(|e| e.to_string()),
    )
}

pub fn idcopy(
    front: &std::path::Path,
    back: &std::path::Path,
    out: &std::path::Path,
    watermark: &str,
    dpi: f32,
) -> anyhow::Result<ExitCode> {
    print_json(imaging::id_copy(front, back, out, watermark, dpi).map_err(|e| e.to_string()))
}
