//! Grey images to 1-bit printer rasters.
//!
//! Thermal heads print dots, not greys: photos, seals and logos must be dithered. A raster is
//! packed as ESC/POS `GS v 0` wants it: rows of `width_bytes`, most significant bit leftmost,
//! 1 = black dot. 80 mm paper is 576 dots wide at 203 dpi, 58 mm paper 384.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RasterError {
    #[error("image of {width}×{height} needs {expected} pixels, got {got}")]
    SizeMismatch {
        width: usize,
        height: usize,
        expected: usize,
        got: usize,
    },
    #[error("image has no pixels ({width}×{height})")]
    Empty { width: usize, height: usize },
}

/// 8-bit grey pixels, row-major, 0 = black, 255 = white.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl GrayImage {
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self, RasterError> {
        if width == 0 || height == 0 {
            return Err(RasterError::Empty { width, height });
        }
        let expected = width.saturating_mul(height);
        if pixels.len() != expected {
            return Err(RasterError::SizeMismatch {
                width,
                height,
                expected,
                got: pixels.len(),
            });
        }
        Ok(GrayImage {
            width,
            height,
            pixels,
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }
}

/// A packed 1-bit image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub width_bytes: usize,
    pub data: Vec<u8>,
}

impl Raster {
    fn blank(width: usize, height: usize) -> Raster {
        let width_bytes = width.div_ceil(8);
        Raster {
            width,
            height,
            width_bytes,
            data: vec![0; width_bytes * height],
        }
    }

    fn set_black(&mut self, x: usize, y: usize) {
        self.data[y * self.width_bytes + x / 8] |= 0x80 >> (x % 8);
    }

    pub fn is_black(&self, x: usize, y: usize) -> bool {
        x < self.width
            && y < self.height
            && self.data[y * self.width_bytes + x / 8] & (0x80 >> (x % 8)) != 0
    }

    pub fn black_dots(&self) -> usize {
        self.data.iter().map(|b| b.count_ones() as usize).sum()
    }
}

/// Plain threshold: for text and line art, where dithering would fray the edges.
pub fn threshold(img: &GrayImage, level: u8) -> Raster {
    let mut r = Raster::blank(img.width, img.height);
    for y in 0..img.height {
        for x in 0..img.width {
            if img.pixels[y * img.width + x] < level {
                r.set_black(x, y);
            }
        }
    }
    r
}

/// Floyd–Steinberg error diffusion, serpentine scan (alternate row direction avoids the
/// diagonal "worm" artefacts of one-way scanning on flat greys).
pub fn dither_floyd_steinberg(img: &GrayImage) -> Raster {
    let (w, h) = (img.width, img.height);
    let mut r = Raster::blank(w, h);
    // Error rows in 1/16 units; two rows are enough.
    let mut cur = vec![0i32; w + 2];
    let mut next = vec![0i32; w + 2];
    for y in 0..h {
        let rtl = y % 2 == 1;
        for i in 0..w {
            let x = if rtl { w - 1 - i } else { i };
            let old = i32::from(img.pixels[y * w + x]) + cur[x + 1] / 16;
            let new = if old < 128 { 0 } else { 255 };
            if new == 0 {
                r.set_black(x, y);
            }
            let err = old - new;
            // Index x+1 is pixel x; neighbours at x+1±1 stay in bounds thanks to the padding.
            let (ahead, behind) = if rtl { (x, x + 2) } else { (x + 2, x) };
            cur[ahead] += err * 7;
            next[behind] += err * 3;
            next[x + 1] += err * 5;
            next[ahead] += err;
        }
        std::mem::swap(&mut cur, &mut next);
        next.iter_mut().for_each(|e| *e = 0);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn flat(w: usize, h: usize, v: u8) -> GrayImage {
        GrayImage::new(w, h, vec![v; w * h]).unwrap()
    }

    #[test]
    fn extremes_and_packing() {
        let r = dither_floyd_steinberg(&flat(10, 3, 0));
        assert_eq!((r.width_bytes, r.black_dots()), (2, 30));
        assert_eq!(r.data[0..2], [0xFF, 0xC0]);
        assert_eq!(dither_floyd_steinberg(&flat(10, 3, 255)).black_dots(), 0);
        let t = threshold(&GrayImage::new(3, 1, vec![0, 200, 10]).unwrap(), 128);
        assert_eq!(t.data, vec![0b1010_0000]);
        assert!(t.is_black(0, 0) && !t.is_black(1, 0) && !t.is_black(9, 9));
    }

    #[test]
    fn mid_grey_comes_out_half_black() {
        let r = dither_floyd_steinberg(&flat(576, 64, 128));
        let ratio = r.black_dots() as f64 / (576.0 * 64.0);
        assert!((ratio - 0.5).abs() < 0.02, "{ratio}");
        let r = dither_floyd_steinberg(&flat(384, 64, 192));
        let ratio = r.black_dots() as f64 / (384.0 * 64.0);
        assert!((ratio - 0.25).abs() < 0.02, "{ratio}");
    }

    #[test]
    fn bad_dimensions_are_errors() {
        assert_eq!(
            GrayImage::new(0, 5, vec![]),
            Err(RasterError::Empty {
                width: 0,
                height: 5
            })
        );
        assert!(matches!(
            GrayImage::new(2, 2, vec![0; 3]),
            Err(RasterError::SizeMismatch { .. })
        ));
    }

    proptest! {
        #[test]
        fn dithering_preserves_mean_darkness(w in 1usize..80, h in 1usize..40, v in any::<u8>()) {
            let r = dither_floyd_steinberg(&flat(w, h, v));
            prop_assert_eq!(r.data.len(), w.div_ceil(8) * h);
            let black = r.black_dots() as f64 / (w * h) as f64;
            let want = 1.0 - f64::from(v) / 255.0;
            // Small images quantise coarsely; large ones must be close.
            if w * h >= 400 {
                prop_assert!((black - want).abs() < 0.08, "v={} black={} want={}", v, black, want);
            }
        }
    }
}
