//! Document image work for the terminal. This crate starts with what the receipt printer needs —
//! 1-bit rasters for ESC/POS `GS v 0` — and grows the OpenCV document pipeline (page detection,
//! perspective correction, enhancement, PDF) with the camera work.

pub mod raster;

pub use raster::{dither_floyd_steinberg, threshold, GrayImage, Raster, RasterError};
