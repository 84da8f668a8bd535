//! The handwritten signature: strokes as the touch panel gave them (position on the pad, time
//! since the pad opened, pressure where the panel reports it), whether there is enough ink to
//! be a signature, and the picture of it that goes into the application.

use opencv::core::{Mat, Point, Scalar, CV_8UC3};
use opencv::imgproc;
use serde::Serialize;

/// The pad's coordinate space: what the screen sends is scaled into it, whatever the panel.
pub const PAD_W: f32 = 1000.0;
pub const PAD_H: f32 = 400.0;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InkPoint {
    pub x: f32,
    pub y: f32,
    /// Milliseconds since the pad was opened.
    pub t_ms: u32,
    /// 0–1, or absent when the panel does not report pressure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure: Option<f32>,
}

// Points are compared to tell inputs apart in tests; a NaN the panel sent is clamped before
// it is kept, so equality is total where it matters.
impl Eq for InkPoint {}

/// The strokes on the pad. Wiped when dropped or cleared.
#[derive(Debug, Default, Serialize)]
pub struct Ink {
    pub strokes: Vec<Vec<InkPoint>>,
}

/// At least this much line (in pad units) makes a signature, not a dot or a slip.
pub const MIN_LENGTH: f32 = 150.0;
/// The most a pad keeps: a long signature is a few hundred points.
pub const MAX_POINTS: usize = 20_000;

impl Ink {
    /// Adds a stroke, points clamped to the pad; an empty stroke, or one past the pad's
    /// capacity, is not kept.
    pub fn add(&mut self, stroke: Vec<InkPoint>) -> bool {
        let kept: usize = self.strokes.iter().map(Vec::len).sum();
        if stroke.is_empty() || kept + stroke.len() > MAX_POINTS {
            return false;
        }
        let clamp = |p: InkPoint| InkPoint {
            x: if p.x.is_finite() {
                p.x.clamp(0.0, PAD_W)
            } else {
                0.0
            },
            y: if p.y.is_finite() {
                p.y.clamp(0.0, PAD_H)
            } else {
                0.0
            },
            t_ms: p.t_ms,
            pressure: p
                .pressure
                .filter(|v| v.is_finite())
                .map(|v| v.clamp(0.0, 1.0)),
        };
        self.strokes.push(stroke.into_iter().map(clamp).collect());
        true
    }

    pub fn clear(&mut self) {
        self.wipe();
        self.strokes.clear();
    }

    /// The length of line drawn, in pad units.
    pub fn length(&self) -> f32 {
        self.strokes
            .iter()
            .flat_map(|s| s.windows(2))
            .map(|w| ((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2)).sqrt())
            .sum()
    }

    pub fn enough(&self) -> bool {
        self.length() >= MIN_LENGTH
    }

    /// The strokes as an SVG path in pad units (`M x y L x y …`), for the screen.
    pub fn svg_path(&self) -> String {
        let mut out = String::new();
        for s in &self.strokes {
            for (i, p) in s.iter().enumerate() {
                let cmd = if i == 0 { 'M' } else { 'L' };
                out.push_str(&format!("{cmd}{:.0} {:.0} ", p.x, p.y));
            }
            if s.len() == 1 {
                out.push_str(&format!("L{:.0} {:.0} ", s[0].x + 1.0, s[0].y));
            }
        }
        out
    }

    /// The signature drawn black on white, `width` pixels wide (the pad's shape), lines
    /// thicker where the panel reported more pressure.
    pub fn picture(&self, width: i32) -> opencv::Result<Mat> {
        let scale = width as f32 / PAD_W;
        let height = (PAD_H * scale).round() as i32;
        let mut img = Mat::new_rows_cols_with_default(height, width, CV_8UC3, Scalar::all(255.0))?;
        let base = (3.0 * scale * 2.0).max(2.0);
        for s in &self.strokes {
            for w in s.windows(2) {
                let at = |p: &InkPoint| {
                    Point::new((p.x * scale).round() as i32, (p.y * scale).round() as i32)
                };
                let thick = base * (0.6 + w[1].pressure.unwrap_or(0.5) * 0.8);
                imgproc::line(
                    &mut img,
                    at(&w[0]),
                    at(&w[1]),
                    Scalar::new(20.0, 20.0, 20.0, 0.0),
                    thick.round().max(1.0) as i32,
                    imgproc::LINE_AA,
                    0,
                )?;
            }
        }
        Ok(img)
    }

    fn wipe(&mut self) {
        for s in &mut self.strokes {
            for p in s.iter_mut() {
                *p = InkPoint {
                    x: 0.0,
                    y: 0.0,
                    t_ms: 0,
                    pressure: None,
                };
            }
        }
    }
}

impl Drop for Ink {
    fn drop(&mut self) {
        self.wipe();
    }
}
