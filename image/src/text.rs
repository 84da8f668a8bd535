//! CJK text onto images with the Noto Sans CJK outlines: watermarks, synthetic test pages, and
//! the virtual receipt printer's ROM font.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use opencv::core::Mat;
use opencv::prelude::*;

use crate::ImageError;

/// Where the CJK outline font is looked for; `HALLKIT_CJK_FONT` goes first.
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
];
/// Index of the Simplified Chinese face in the Noto Sans CJK collection.
const SC_FACE: u32 = 2;

/// The CJK font, loaded once; the error lists where it was looked for.
///
/// The file is mapped rather than read: Noto Sans CJK is 19 MB, and a text draws on a few
/// hundred KB of its tables. Mapped, those pages are the page cache's, shared and given back
/// under pressure; read, all 19 MB would stay on the heap of every process that prints.
pub fn cjk_font() -> Result<&'static FontRef<'static>, String> {
    static FONT: OnceLock<Result<FontRef<'static>, String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let mut paths: Vec<String> = std::env::var("HALLKIT_CJK_FONT").into_iter().collect();
        paths.extend(FONT_PATHS.iter().map(|s| s.to_string()));
        for p in &paths {
            let Ok(file) = std::fs::File::open(p) else {
                continue;
            };
            // SAFETY: the mapping is only read. A font file is replaced by a package upgrade
            // through a rename, which leaves this mapping on the old file; nothing here
            // truncates it in place.
            let Ok(map) = (unsafe { memmap2::Mmap::map(&file) }) else {
                continue;
            };
            let index = [SC_FACE, 0]
                .into_iter()
                .find(|i| FontRef::try_from_slice_and_index(&map, *i).is_ok());
            let Some(index) = index else { continue };
            // Mapped for the rest of the process, as the font is used until it exits.
            let bytes: &'static [u8] = Box::leak(Box::new(map));
            if let Ok(f) = FontRef::try_from_slice_and_index(bytes, index) {
                return Ok(f);
            }
        }
        Err(paths.join(", "))
    })
    .as_ref()
    .map_err(|p| {
        format!(
            "no CJK font found (install fonts-noto-cjk, or set HALLKIT_CJK_FONT); looked in {p}"
        )
    })
}

/// The width in pixels `text` takes at `px`.
pub fn text_width(text: &str, px: f32) -> Result<f32, ImageError> {
    let font = cjk_font().map_err(ImageError::Font)?;
    let scaled = font.as_scaled(PxScale::from(px));
    Ok(text
        .chars()
        .map(|c| scaled.h_advance(font.glyph_id(c)))
        .sum())
}

/// Draws `text` with its baseline's left end at (x, y) on an 8-bit BGR or grey image, blending
/// `colour` in by the glyph coverage times `alpha`.
pub fn draw_text(
    img: &mut Mat,
    text: &str,
    x: f32,
    y: f32,
    px: f32,
    colour: [u8; 3],
    alpha: f32,
) -> Result<(), ImageError> {
    let font = cjk_font().map_err(ImageError::Font)?;
    let scaled = font.as_scaled(PxScale::from(px));
    let channels = img.channels() as usize;
    let (w, h) = (img.cols(), img.rows());
    let step = img.mat_step().first().copied().unwrap_or(0);
    let data = img.data_bytes_mut()?;
    let mut pen = x;
    for c in text.chars() {
        let id = font.glyph_id(c);
        let glyph = id.with_scale_and_position(PxScale::from(px), ab_glyph::point(pen, y));
        pen += scaled.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let b = outline.px_bounds();
        outline.draw(|gx, gy, cov| {
            let (px_x, px_y) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
            if px_x < 0 || px_y < 0 || px_x >= w || px_y >= h {
                return;
            }
            let a = (cov * alpha).clamp(0.0, 1.0);
            let at = px_y as usize * step + px_x as usize * channels;
            for ch in 0..channels {
                let target = if channels == 1 {
                    (u16::from(colour[0]) + u16::from(colour[1]) + u16::from(colour[2])) as f32
                        / 3.0
                } else {
                    f32::from(colour[ch])
                };
                let v = &mut data[at + ch];
                *v = (f32::from(*v) * (1.0 - a) + target * a).round() as u8;
            }
        });
    }
    Ok(())
}
