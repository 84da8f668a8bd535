//! A4 pages at 150 dpi written top to bottom: titles, wrapped paragraphs, label–value lines and
//! ruled tables, a new page when one is full. What the licence and proof papers are drawn on.

use kiosk_image::text::{draw_text, text_width};
use opencv::core::{Mat, Point, Scalar, CV_8UC3};
use opencv::imgproc;

pub const PAGE_W: i32 = 1240;
pub const PAGE_H: i32 = 1754;
pub const MARGIN: f32 = 110.0;
pub const INK: [u8; 3] = [20, 20, 20];
pub const SOFT: [u8; 3] = [95, 95, 95];

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub struct Sheet {
    pub pages: Vec<Mat>,
    pub y: f32,
    /// The running head of continuation pages.
    pub head: String,
    /// Room kept free at the foot of the last page (for the seal and the QR).
    pub foot: f32,
}

impl Sheet {
    pub fn new(head: &str) -> Result<Sheet, String> {
        let mut s = Sheet {
            pages: Vec::new(),
            y: MARGIN,
            head: head.to_string(),
            foot: 0.0,
        };
        s.add_page()?;
        s.y = MARGIN;
        Ok(s)
    }

    fn add_page(&mut self) -> Result<(), String> {
        let page = Mat::new_rows_cols_with_default(PAGE_H, PAGE_W, CV_8UC3, Scalar::all(255.0))
            .map_err(err)?;
        self.pages.push(page);
        self.y = MARGIN;
        if self.pages.len() > 1 {
            let head = format!("{}（续）", self.head);
            self.text(&head, MARGIN, 26.0, SOFT)?;
            self.y += 50.0;
        }
        Ok(())
    }

    pub fn page(&mut self) -> &mut Mat {
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    pub fn width(&self) -> f32 {
        PAGE_W as f32 - 2.0 * MARGIN
    }

    /// Makes sure `h` pixels fit below the pen, or starts a page.
    pub fn room(&mut self, h: f32) -> Result<(), String> {
        if self.y + h > PAGE_H as f32 - MARGIN {
            self.add_page()?;
        }
        Ok(())
    }

    /// Text with its baseline at the pen, from `x`.
    pub fn text(&mut self, t: &str, x: f32, px: f32, colour: [u8; 3]) -> Result<(), String> {
        let y = self.y;
        draw_text(self.page(), t, x, y, px, colour, 1.0).map_err(err)
    }

    pub fn centred(&mut self, t: &str, px: f32, colour: [u8; 3]) -> Result<(), String> {
        let w = text_width(t, px).map_err(err)?;
        self.room(px * 1.5)?;
        self.y += px;
        self.text(t, (PAGE_W as f32 - w) / 2.0, px, colour)?;
        self.y += px * 0.6;
        Ok(())
    }

    /// A paragraph wrapped to the text width, the first line indented by `indent` characters.
    pub fn paragraph(&mut self, t: &str, px: f32, indent: usize) -> Result<(), String> {
        let pad = px * indent as f32;
        for (i, line) in wrap(t, px, self.width(), pad).iter().enumerate() {
            self.room(px * 1.7)?;
            self.y += px * 1.6;
            let x = MARGIN + if i == 0 { pad } else { 0.0 };
            self.text(line, x, px, INK)?;
        }
        self.y += px * 0.5;
        Ok(())
    }

    /// `label：value`, the value wrapped beside a label column `label_w` wide.
    pub fn line(&mut self, label: &str, value: &str, px: f32, label_w: f32) -> Result<(), String> {
        let lines = wrap(value, px, self.width() - label_w, 0.0);
        self.room(px * 1.7 * lines.len().max(1) as f32)?;
        self.y += px * 1.6;
        self.text(&format!("{label}："), MARGIN, px, SOFT)?;
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                self.y += px * 1.45;
            }
            self.text(l, MARGIN + label_w, px, INK)?;
        }
        Ok(())
    }

    /// A ruled table; the head repeats on a new page.
    pub fn table(
        &mut self,
        columns: &[String],
        rows: &[Vec<String>],
        px: f32,
    ) -> Result<(), String> {
        if columns.is_empty() {
            return Ok(());
        }
        let col_w = self.width() / columns.len() as f32;
        let row_h = px * 1.65;
        let draw_row = |s: &mut Sheet, cells: &[String], colour: [u8; 3]| -> Result<(), String> {
            let top = s.y;
            for (i, c) in cells.iter().enumerate() {
                let w = text_width(c, px).map_err(err)?.min(col_w);
                let x = MARGIN + col_w * i as f32 + (col_w - w) / 2.0;
                let y = top + row_h * 0.68;
                draw_text(s.page(), c, x, y, px, colour, 1.0).map_err(err)?;
            }
            s.y += row_h;
            let y = s.y as i32;
            imgproc::line(
                s.page(),
                Point::new(MARGIN as i32, y),
                Point::new((PAGE_W as f32 - MARGIN) as i32, y),
                Scalar::all(170.0),
                1,
                imgproc::LINE_8,
                0,
            )
            .map_err(err)
        };
        self.room(row_h * 2.0)?;
        draw_row(self, columns, SOFT)?;
        for r in rows {
            if self.y + row_h > PAGE_H as f32 - MARGIN {
                self.add_page()?;
                draw_row(self, columns, SOFT)?;
            }
            draw_row(self, r, INK)?;
        }
        self.y += px * 0.6;
        Ok(())
    }

    /// Keeps the foot of the last page free for `h` pixels, starting a page when the pen is
    /// already there.
    pub fn keep_foot(&mut self, h: f32) -> Result<(), String> {
        self.foot = h;
        if self.y + h > PAGE_H as f32 - MARGIN {
            self.add_page()?;
        }
        Ok(())
    }
}

/// Lines of at most `width` pixels at `px`, the first `first_pad` narrower.
pub fn wrap(text: &str, px: f32, width: f32, first_pad: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for c in text.chars() {
        let room = if lines.is_empty() {
            width - first_pad
        } else {
            width
        };
        let mut next = line.clone();
        next.push(c);
        if text_width(&next, px).unwrap_or(0.0) > room && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line.push(c);
        } else {
            line = next;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
