//! Casting (投屏): the clerk's screen shown on the citizen screen, so the citizen can read the
//! form the clerk fills for them. A `ScreenGrab` takes one picture of the source; `fit` scales
//! it to the citizen screen. Sources: the clerk's X display (core `GetImage` on the root
//! window, no extension needed), or a still picture for the simulator. A Wayland session gives
//! no other client its pixels without the desktop portal's consent dialog, so on Wayland the
//! clerk runs the unit's X session (or XWayland with a root window) — said plainly in the error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use opencv::core::{Mat, Size};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

/// Why nothing can be cast.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CastError {
    #[error("{0:?} is not a cast source (x11, x11:DISPLAY or picture:PATH)")]
    Source(String),
    #[error("the clerk's display cannot be opened: {0}")]
    Display(String),
    #[error("the clerk's display cannot be read: {0}")]
    Grab(String),
    #[error("the display's pixel format is not supported: {0}")]
    Unsupported(String),
    #[error("the picture {0} cannot be read")]
    Picture(String),
}

/// Where the cast comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CastSource {
    /// An X display: `None` takes `$DISPLAY`.
    X11(Option<String>),
    Picture(PathBuf),
}

impl CastSource {
    pub fn parse(s: &str) -> Result<CastSource, CastError> {
        let s = s.trim();
        if s == "x11" {
            return Ok(CastSource::X11(None));
        }
        if let Some(d) = s.strip_prefix("x11:") {
            if d.starts_with(':') && d.len() > 1 && d.len() < 64 {
                return Ok(CastSource::X11(Some(d.to_string())));
            }
        }
        if let Some(p) = s.strip_prefix("picture:") {
            if !p.trim().is_empty() {
                return Ok(CastSource::Picture(PathBuf::from(p.trim())));
            }
        }
        Err(CastError::Source(s.chars().take(80).collect()))
    }

    pub fn open(&self) -> Result<Box<dyn ScreenGrab>, CastError> {
        match self {
            CastSource::X11(display) => Ok(Box::new(X11Grab::connect(display.as_deref())?)),
            CastSource::Picture(p) => Ok(Box::new(PictureGrab::load(p)?)),
        }
    }
}

/// One picture of a screen, 8-bit BGRA rows without padding (the fourth byte is ignored: a
/// screen is opaque, and X leaves that byte undefined).
pub struct Shot {
    pub width: u32,
    pub height: u32,
    pub bgra: Vec<u8>,
}

/// A screen that can be grabbed again and again.
pub trait ScreenGrab: Send {
    fn grab(&mut self) -> Result<Shot, CastError>;
}

/// A cast frame as the citizen screen shows it.
#[derive(Clone)]
pub struct Frame {
    /// Counts frames, so a screen redraws only a new one.
    pub seq: u64,
    pub width: u32,
    pub height: u32,
    pub rgba: Arc<[u8]>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame#{} {}×{}", self.seq, self.width, self.height)
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq && self.width == other.width && self.height == other.height
    }
}

/// Scales `shot` to fit inside `max_w`×`max_h` (keeping its shape, never enlarging), as RGBA.
pub fn fit(shot: &Shot, max_w: u32, max_h: u32, seq: u64) -> Result<Frame, CastError> {
    let bad = |e: opencv::Error| CastError::Grab(e.to_string());
    let (w, h) = (shot.width as i32, shot.height as i32);
    if w == 0 || h == 0 || shot.bgra.len() != (w as usize) * (h as usize) * 4 {
        return Err(CastError::Grab(format!(
            "a {w}×{h} picture with {} bytes",
            shot.bgra.len()
        )));
    }
    let flat = Mat::from_slice(&shot.bgra).map_err(bad)?;
    let src = flat.reshape(4, h).map_err(bad)?;
    let scale = (max_w as f64 / w as f64)
        .min(max_h as f64 / h as f64)
        .min(1.0);
    let (tw, th) = (
        ((w as f64 * scale).round() as i32).max(1),
        ((h as f64 * scale).round() as i32).max(1),
    );
    let mut scaled = Mat::default();
    if (tw, th) == (w, h) {
        scaled = src.try_clone().map_err(bad)?;
    } else {
        imgproc::resize(
            &src,
            &mut scaled,
            Size::new(tw, th),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )
        .map_err(bad)?;
    }
    // Through BGR, so the frame comes out opaque whatever the fourth byte held.
    let mut bgr = Mat::default();
    imgproc::cvt_color_def(&scaled, &mut bgr, imgproc::COLOR_BGRA2BGR).map_err(bad)?;
    let mut rgba = Mat::default();
    imgproc::cvt_color_def(&bgr, &mut rgba, imgproc::COLOR_BGR2RGBA).map_err(bad)?;
    let bytes = rgba.data_bytes().map_err(bad)?;
    Ok(Frame {
        seq,
        width: tw as u32,
        height: th as u32,
        rgba: Arc::from(bytes),
    })
}

/// The clerk's X display, grabbed whole from its root window.
pub struct X11Grab {
    conn: x11rb::rust_connection::RustConnection,
    root: u32,
    width: u16,
    height: u16,
    /// Bytes per pixel the server sends for the root's depth, and whether red sits in the
    /// high byte (the usual `0xff0000` mask), so pixels come as B, G, R, X.
    layout: PixelLayout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PixelLayout {
    /// 32 bits per pixel, least significant byte first, red mask 0xff0000.
    Bgrx,
    /// 16 bits per pixel 5-6-5, least significant byte first.
    Rgb565,
}

impl X11Grab {
    pub fn connect(display: Option<&str>) -> Result<X11Grab, CastError> {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::ImageOrder;
        let (conn, screen) =
            x11rb::connect(display).map_err(|e| CastError::Display(e.to_string()))?;
        let setup = conn.setup();
        let s = setup
            .roots
            .get(screen)
            .ok_or_else(|| CastError::Display(format!("no screen {screen}")))?;
        let depth = s.root_depth;
        let bpp = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == depth)
            .map(|f| f.bits_per_pixel)
            .ok_or_else(|| CastError::Unsupported(format!("no pixmap format for depth {depth}")))?;
        let visual = s
            .allowed_depths
            .iter()
            .flat_map(|d| d.visuals.iter())
            .find(|v| v.visual_id == s.root_visual)
            .ok_or_else(|| CastError::Unsupported("the root visual is not listed".into()))?;
        let lsb = setup.image_byte_order == ImageOrder::LSB_FIRST;
        let layout = match (
            bpp,
            lsb,
            visual.red_mask,
            visual.green_mask,
            visual.blue_mask,
        ) {
            (32, true, 0xff0000, 0xff00, 0xff) => PixelLayout::Bgrx,
            (16, true, 0xf800, 0x07e0, 0x001f) => PixelLayout::Rgb565,
            _ => {
                return Err(CastError::Unsupported(format!(
                    "depth {depth}, {bpp} bits per pixel, masks {:06x}/{:06x}/{:06x}, {}",
                    visual.red_mask,
                    visual.green_mask,
                    visual.blue_mask,
                    if lsb { "LSB first" } else { "MSB first" }
                )))
            }
        };
        let (root, width, height) = (s.root, s.width_in_pixels, s.height_in_pixels);
        Ok(X11Grab {
            conn,
            root,
            width,
            height,
            layout,
        })
    }
}

impl ScreenGrab for X11Grab {
    fn grab(&mut self) -> Result<Shot, CastError> {
        use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};
        let reply = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                0,
                0,
                self.width,
                self.height,
                !0,
            )
            .map_err(|e| CastError::Grab(e.to_string()))?
            .reply()
            .map_err(|e| CastError::Grab(e.to_string()))?;
        let (w, h) = (u32::from(self.width), u32::from(self.height));
        let pixels = (w as usize) * (h as usize);
        let bgra = match self.layout {
            PixelLayout::Bgrx => {
                let mut d = reply.data;
                if d.len() < pixels * 4 {
                    return Err(CastError::Grab(format!(
                        "{} bytes for {w}×{h} pixels",
                        d.len()
                    )));
                }
                d.truncate(pixels * 4);
                d
            }
            PixelLayout::Rgb565 => {
                // Rows are padded to 32 bits.
                let stride = (w as usize * 2).div_ceil(4) * 4;
                if reply.data.len() < stride * h as usize {
                    return Err(CastError::Grab(format!(
                        "{} bytes for {w}×{h} pixels",
                        reply.data.len()
                    )));
                }
                let mut out = Vec::with_capacity(pixels * 4);
                for row in reply.data.chunks_exact(stride).take(h as usize) {
                    for px in row[..w as usize * 2].chunks_exact(2) {
                        let v = u16::from_le_bytes([px[0], px[1]]);
                        let (r, g, b) = ((v >> 11) & 0x1f, (v >> 5) & 0x3f, v & 0x1f);
                        out.extend_from_slice(&[
                            ((b << 3) | (b >> 2)) as u8,
                            ((g << 2) | (g >> 4)) as u8,
                            ((r << 3) | (r >> 2)) as u8,
                            0xff,
                        ]);
                    }
                }
                out
            }
        };
        Ok(Shot {
            width: w,
            height: h,
            bgra,
        })
    }
}

/// A still picture standing for the clerk's screen (the simulator's).
pub struct PictureGrab {
    shot: Shot,
}

impl PictureGrab {
    pub fn load(path: &Path) -> Result<PictureGrab, CastError> {
        let bad = || CastError::Picture(path.display().to_string());
        let img = imgcodecs::imread(path.to_string_lossy().into_owned(), imgcodecs::IMREAD_COLOR)
            .map_err(|_| bad())?;
        if img.empty() {
            return Err(bad());
        }
        let mut bgra = Mat::default();
        imgproc::cvt_color_def(&img, &mut bgra, imgproc::COLOR_BGR2BGRA).map_err(|_| bad())?;
        let bytes = bgra.data_bytes().map_err(|_| bad())?.to_vec();
        Ok(PictureGrab {
            shot: Shot {
                width: bgra.cols() as u32,
                height: bgra.rows() as u32,
                bgra: bytes,
            },
        })
    }
}

impl ScreenGrab for PictureGrab {
    fn grab(&mut self) -> Result<Shot, CastError> {
        Ok(Shot {
            width: self.shot.width,
            height: self.shot.height,
            bgra: self.shot.bgra.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_bad_ones_are_refused() {
        assert_eq!(CastSource::parse("x11").unwrap(), CastSource::X11(None));
        assert_eq!(
            CastSource::parse("x11::1").unwrap(),
            CastSource::X11(Some(":1".into()))
        );
        assert_eq!(
            CastSource::parse("picture:sim/clerk.png").unwrap(),
            CastSource::Picture("sim/clerk.png".into())
        );
        for bad in ["", "wayland", "x11:", "x11:1", "picture:", "picture:  "] {
            assert!(CastSource::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_frame_fits_the_screen_keeping_its_shape_and_colours() {
        // 400×100, left half red, right half blue (BGRA).
        let mut bgra = Vec::new();
        for _ in 0..100 {
            for x in 0..400 {
                bgra.extend_from_slice(if x < 200 {
                    &[0, 0, 255, 255]
                } else {
                    &[255, 0, 0, 255]
                });
            }
        }
        let shot = Shot {
            width: 400,
            height: 100,
            bgra,
        };
        let f = fit(&shot, 200, 200, 7).unwrap();
        assert_eq!((f.width, f.height, f.seq), (200, 50, 7));
        assert_eq!(f.rgba.len(), 200 * 50 * 4);
        assert_eq!(&f.rgba[..4], &[255, 0, 0, 255]);
        let last = f.rgba.len() - 4;
        assert_eq!(&f.rgba[last..], &[0, 0, 255, 255]);
        // Never enlarged.
        let same = fit(&shot, 1280, 800, 8).unwrap();
        assert_eq!((same.width, same.height), (400, 100));
        // A picture whose bytes do not match its size is refused, not read past.
        let short = Shot {
            width: 10,
            height: 10,
            bgra: vec![0; 10],
        };
        assert!(matches!(fit(&short, 100, 100, 1), Err(CastError::Grab(_))));
    }

    #[test]
    fn a_missing_picture_or_display_is_a_clear_error() {
        assert!(matches!(
            CastSource::Picture("/nonexistent/clerk.png".into()).open(),
            Err(CastError::Picture(_))
        ));
        assert!(matches!(
            CastSource::X11(Some(":9876".into())).open(),
            Err(CastError::Display(_))
        ));
    }
}
