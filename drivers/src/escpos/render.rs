//! Prints an ESC/POS stream onto paper that is a picture: one grey image a cut, 203 dpi, black
//! dots on white, CJK text drawn with the Noto Sans CJK glyphs a Chinese-market printer has in
//! ROM. The virtual printer renders through this, and `kiosk devctl escpos render` renders any
//! byte file with it.

use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{GrayImage, Luma};

use super::parse::{parse_all, Op};

const DEFAULT_LINE: usize = 30;
/// The longest piece of paper the renderer draws (about 2.5 m at 203 dpi); a stream that feeds
/// further is drawn up to here, so a hostile file cannot exhaust memory.
pub const MAX_PAGE_DOTS: usize = 20_000;
const CELL_H: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{0}")]
    NoFont(String),
    #[error("the stream ends inside a command at byte {offset}: {tail:02x?}")]
    Truncated { offset: usize, tail: Vec<u8> },
    #[error("writing {path}: {message}")]
    Write { path: String, message: String },
}

fn font() -> Result<&'static FontRef<'static>, RenderError> {
    kiosk_image::text::cjk_font().map_err(RenderError::NoFont)
}

/// One cut piece of paper.
#[derive(Debug, Clone)]
pub struct Page {
    pub image: GrayImage,
    /// False for paper still in the printer when the stream ended (no cut command).
    pub cut: bool,
    /// The text printed, line by line, for tests and logs.
    pub text: String,
    pub qr_codes: Vec<String>,
    pub barcodes: Vec<String>,
    /// Commands this renderer could not interpret.
    pub unknown: usize,
}

impl Page {
    pub fn save_png(&self, path: &Path) -> Result<(), RenderError> {
        self.image.save(path).map_err(|e| RenderError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

#[derive(Clone, Copy)]
struct Style {
    align: u8,
    bold: bool,
    underline: bool,
    width: u8,
    height: u8,
}

struct Glyph {
    ch: char,
    wide: bool,
    style: Style,
}

/// An ESC/POS interpreter with a paper roll.
pub struct Renderer {
    width: usize,
    rows: Vec<u8>,
    y: usize,
    line: Vec<Glyph>,
    line_w: usize,
    style: Style,
    kanji: bool,
    line_spacing: usize,
    qr_module: u8,
    qr_level: u8,
    qr_data: Vec<u8>,
    bar_height: usize,
    bar_width: usize,
    bar_hri: u8,
    text: String,
    qr_codes: Vec<String>,
    barcodes: Vec<String>,
    unknown: usize,
    pages: Vec<Page>,
    font: &'static FontRef<'static>,
}

const PLAIN: Style = Style {
    align: 0,
    bold: false,
    underline: false,
    width: 1,
    height: 1,
};

impl Renderer {
    pub fn new(width_dots: usize) -> Result<Self, RenderError> {
        Ok(Renderer {
            width: width_dots.max(8),
            rows: Vec::new(),
            y: 0,
            line: Vec::new(),
            line_w: 0,
            style: PLAIN,
            kanji: false,
            line_spacing: DEFAULT_LINE,
            qr_module: 3,
            qr_level: 49,
            qr_data: Vec::new(),
            bar_height: 162,
            bar_width: 3,
            bar_hri: 0,
            text: String::new(),
            qr_codes: Vec::new(),
            barcodes: Vec::new(),
            unknown: 0,
            pages: Vec::new(),
            font: font()?,
        })
    }

    /// Lines printed on the current piece of paper so far (for paper-out simulation).
    pub fn height(&self) -> usize {
        self.y
    }

    /// Applies one command. Status requests are the caller's to answer.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Init => {
                self.style = PLAIN;
                self.kanji = false;
                self.line_spacing = DEFAULT_LINE;
            }
            Op::Text(bytes) => self.add_text(bytes),
            Op::LineFeed => self.flush_line(true),
            Op::CarriageReturn => {}
            Op::Align(a) => self.style.align = *a,
            Op::Bold(b) => self.style.bold = *b,
            Op::Underline(u) => self.style.underline = *u > 0,
            Op::Size { width, height } => {
                self.style.width = (*width).clamp(1, 8);
                self.style.height = (*height).clamp(1, 8);
            }
            Op::Font(_) => {}
            Op::LineSpacing(s) => {
                self.line_spacing = s.map(usize::from).unwrap_or(DEFAULT_LINE);
            }
            Op::FeedLines(n) => {
                self.flush_line(false);
                self.advance(usize::from(*n) * self.line_spacing);
            }
            Op::FeedDots(n) => {
                self.flush_line(false);
                self.advance(usize::from(*n));
            }
            Op::KanjiOn => self.kanji = true,
            Op::KanjiOff => self.kanji = false,
            Op::QrModule(m) => self.qr_module = (*m).clamp(1, 16),
            Op::QrLevel(l) => self.qr_level = *l,
            Op::QrStore(d) => self.qr_data = d.clone(),
            Op::QrPrint => self.print_qr(),
            Op::BarcodeHeight(h) => self.bar_height = usize::from((*h).max(1)),
            Op::BarcodeWidth(w) => self.bar_width = usize::from((*w).clamp(1, 6)),
            Op::BarcodeHri(h) => self.bar_hri = *h,
            Op::Barcode { system, data } => self.print_barcode(*system, data),
            Op::Raster {
                scale,
                width_bytes,
                height,
                data,
            } => self.print_raster(*scale, *width_bytes, *height, data),
            Op::Cut { feed, .. } => {
                self.flush_line(false);
                self.advance(usize::from(*feed));
                self.cut(true);
            }
            Op::RealTimeStatus(_) | Op::TransmitStatus(_) | Op::AutoStatus(_) | Op::Ignored(_) => {}
            Op::Unknown(_) => self.unknown += 1,
        }
    }

    /// The pieces cut so far, taken out of the printer.
    pub fn take_pages(&mut self) -> Vec<Page> {
        std::mem::take(&mut self.pages)
    }

    /// Ends the stream: whatever is on the roll becomes an uncut page.
    pub fn finish(mut self) -> Vec<Page> {
        self.flush_line(false);
        if self.y > 0 || !self.text.is_empty() {
            self.cut(false);
        }
        self.pages
    }

    fn advance(&mut self, dots: usize) {
        self.y = (self.y + dots).min(MAX_PAGE_DOTS);
        self.grow(self.y);
    }

    fn grow(&mut self, height: usize) {
        let height = height.min(MAX_PAGE_DOTS);
        if self.rows.len() < height * self.width {
            self.rows.resize(height * self.width, 255);
        }
    }

    fn dot(&mut self, x: usize, y: usize) {
        if x < self.width && y < MAX_PAGE_DOTS {
            self.grow(y + 1);
            self.rows[y * self.width + x] = 0;
        }
    }

    fn add_text(&mut self, bytes: &[u8]) {
        let decoded: String = if self.kanji {
            encoding_rs::GB18030
                .decode_without_bom_handling(bytes)
                .0
                .into_owned()
        } else {
            bytes
                .iter()
                .map(|&b| if b.is_ascii() { b as char } else { '?' })
                .collect()
        };
        for ch in decoded.chars() {
            let wide = !ch.is_ascii();
            let w = if wide { 24 } else { 12 } * usize::from(self.style.width);
            if self.line_w + w > self.width {
                self.flush_line(true);
            }
            self.line.push(Glyph {
                ch,
                wide,
                style: self.style,
            });
            self.line_w += w;
        }
    }

    fn flush_line(&mut self, feed_empty: bool) {
        if self.line.is_empty() {
            if feed_empty {
                self.text.push('\n');
                self.advance(self.line_spacing);
            }
            return;
        }
        let glyphs = std::mem::take(&mut self.line);
        let line_w = std::mem::replace(&mut self.line_w, 0);
        let cell_h = glyphs
            .iter()
            .map(|g| CELL_H * usize::from(g.style.height))
            .max()
            .unwrap_or(CELL_H);
        let mut x = self.aligned_x(glyphs[0].style.align, line_w);
        let top = self.y;
        for g in &glyphs {
            let sw = usize::from(g.style.width);
            let sh = usize::from(g.style.height);
            let cell_w = if g.wide { 24 } else { 12 } * sw;
            // Characters of different heights share a baseline at the bottom of the line.
            let y0 = top + cell_h - CELL_H * sh;
            self.draw_char(g, x, y0, cell_w, CELL_H * sh);
            if g.style.underline {
                for dx in 0..cell_w {
                    self.dot(x + dx, top + cell_h);
                }
            }
            x += cell_w;
            self.text.push(g.ch);
        }
        self.text.push('\n');
        self.advance(cell_h.max(self.line_spacing.saturating_sub(6)) + 6);
    }

    fn aligned_x(&self, align: u8, w: usize) -> usize {
        match align {
            1 => self.width.saturating_sub(w) / 2,
            2 => self.width.saturating_sub(w),
            _ => 0,
        }
    }

    fn draw_char(&mut self, g: &Glyph, x: usize, y: usize, cell_w: usize, cell_h: usize) {
        if g.ch == ' ' {
            return;
        }
        let font = self.font;
        // ROM fonts fill their cell; the outline is scaled to the cell, not to its advance.
        let em = if g.wide {
            cell_h as f32
        } else if g.ch == '*' {
            // Outline asterisks are small superscripts; ROM fonts draw a full-size star.
            cell_h as f32 * 1.5
        } else {
            cell_h as f32 * 0.85
        };
        let scale = PxScale {
            x: em * (cell_w as f32 / if g.wide { 24.0 } else { 12.0 })
                / (cell_h as f32 / CELL_H as f32)
                * if g.wide { 1.0 } else { 0.95 },
            y: em,
        };
        let scaled = font.as_scaled(scale);
        let glyph_id = font.glyph_id(g.ch);
        let advance = scaled.h_advance(glyph_id);
        let left = x as f32 + ((cell_w as f32 - advance) / 2.0).max(0.0);
        let baseline = y as f32 + (cell_h as f32 + scaled.ascent() + scaled.descent()) / 2.0;
        let glyph = glyph_id.with_scale_and_position(scale, ab_glyph::point(left, baseline));
        let Some(outline) = font.outline_glyph(glyph) else {
            return;
        };
        let b = outline.px_bounds();
        // Outline fonts set the asterisk at cap height; printer ROM fonts centre it, which keeps
        // masked ID numbers (3201**********1234) readable.
        let dy = if g.ch == '*' {
            (y as f32 + cell_h as f32 / 2.0 - (b.min.y + b.max.y) / 2.0) as i64
        } else {
            0
        };
        let mut dots = Vec::new();
        outline.draw(|gx, gy, c| {
            if c > 0.45 {
                let px = b.min.x as i64 + i64::from(gx);
                let py = b.min.y as i64 + i64::from(gy) + dy;
                if px >= 0 && py >= 0 {
                    dots.push((px as usize, py as usize));
                }
            }
        });
        for (px, py) in dots {
            self.dot(px, py);
            if g.style.bold {
                self.dot(px + 1, py);
            }
        }
    }

    fn print_qr(&mut self) {
        self.flush_line(false);
        let level = match self.qr_level {
            48 => qrcode::EcLevel::L,
            50 => qrcode::EcLevel::Q,
            51 => qrcode::EcLevel::H,
            _ => qrcode::EcLevel::M,
        };
        let Ok(code) = qrcode::QrCode::with_error_correction_level(&self.qr_data, level) else {
            // A printer prints nothing for data it cannot encode.
            self.unknown += 1;
            return;
        };
        let n = code.width();
        let m = usize::from(self.qr_module);
        let colors = code.to_colors();
        // A quiet zone of four modules, as a printer leaves around the symbol.
        let side = (n + 8) * m;
        let x0 = self.aligned_x(self.style.align, side) + 4 * m;
        let y0 = self.y + 4 * m;
        for (i, c) in colors.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (cx, cy) = (i % n, i / n);
                for dy in 0..m {
                    for dx in 0..m {
                        self.dot(x0 + cx * m + dx, y0 + cy * m + dy);
                    }
                }
            }
        }
        self.advance(side);
        self.qr_codes
            .push(String::from_utf8_lossy(&self.qr_data).into_owned());
    }

    fn print_barcode(&mut self, system: u8, data: &[u8]) {
        self.flush_line(false);
        let text = String::from_utf8_lossy(data).into_owned();
        let modules = match system {
            4 => barcoders::sym::code39::Code39::new(&text)
                .map(|c| c.encode())
                .ok(),
            _ => None,
        };
        let Some(modules) = modules else {
            self.unknown += 1;
            return;
        };
        let w = modules.len() * self.bar_width;
        let x0 = self.aligned_x(self.style.align, w);
        let y0 = self.y;
        for (i, m) in modules.iter().enumerate() {
            if *m == 1 {
                for dx in 0..self.bar_width {
                    for dy in 0..self.bar_height {
                        self.dot(x0 + i * self.bar_width + dx, y0 + dy);
                    }
                }
            }
        }
        self.advance(self.bar_height + 4);
        self.barcodes.push(text.clone());
        if self.bar_hri == 2 || self.bar_hri == 3 {
            let style = self.style;
            self.style = Style {
                width: 1,
                height: 1,
                ..style
            };
            self.add_text(text.as_bytes());
            self.flush_line(false);
            self.style = style;
        }
    }

    fn print_raster(&mut self, scale: u8, width_bytes: usize, height: usize, data: &[u8]) {
        self.flush_line(false);
        let sx = if scale & 1 == 1 { 2 } else { 1 };
        let sy = if scale & 2 == 2 { 2 } else { 1 };
        let w = width_bytes * 8 * sx;
        let x0 = self.aligned_x(self.style.align, w);
        let y0 = self.y;
        for row in 0..height {
            for xb in 0..width_bytes {
                let byte = data.get(row * width_bytes + xb).copied().unwrap_or(0);
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        let x = (xb * 8 + bit) * sx;
                        for dy in 0..sy {
                            for dx in 0..sx {
                                self.dot(x0 + x + dx, y0 + row * sy + dy);
                            }
                        }
                    }
                }
            }
        }
        self.advance(height * sy);
    }

    fn cut(&mut self, cut: bool) {
        let height = (self.y.max(1) + 8).min(MAX_PAGE_DOTS);
        self.grow(height);
        let mut rows = std::mem::take(&mut self.rows);
        rows.truncate(height * self.width);
        let image = GrayImage::from_fn(self.width as u32, height as u32, |x, y| {
            Luma([rows[y as usize * self.width + x as usize]])
        });
        self.pages.push(Page {
            image,
            cut,
            text: std::mem::take(&mut self.text),
            qr_codes: std::mem::take(&mut self.qr_codes),
            barcodes: std::mem::take(&mut self.barcodes),
            unknown: std::mem::take(&mut self.unknown),
        });
        self.y = 0;
    }
}

/// Renders a whole byte stream.
pub fn render_stream(bytes: &[u8], width_dots: usize) -> Result<Vec<Page>, RenderError> {
    let (ops, rest) = parse_all(bytes);
    if !rest.is_empty() {
        return Err(RenderError::Truncated {
            offset: bytes.len() - rest.len(),
            tail: rest.iter().take(16).copied().collect(),
        });
    }
    let mut r = Renderer::new(width_dots)?;
    for op in &ops {
        r.apply(op);
    }
    Ok(r.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn endless_feeds_stop_at_the_page_limit() {
        let mut bytes = vec![0x1B, 0x40, 0x1B, 0x33, 0xFF];
        for _ in 0..2000 {
            bytes.extend_from_slice(&[0x1B, 0x64, 0xFF]);
        }
        bytes.extend_from_slice(b"end\n");
        let pages = render_stream(&bytes, 576).unwrap();
        assert_eq!(pages.len(), 1);
        assert!(pages[0].image.height() as usize <= MAX_PAGE_DOTS);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn any_stream_renders_or_is_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = render_stream(&bytes, 384);
        }
    }
}
