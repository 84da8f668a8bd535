//! Document image work for the terminal on OpenCV: frames from cameras, the document pipeline
//! (page detection, perspective correction, deskew, enhancement, JPEG at a target size, PDF),
//! ID card copies on A4, and 1-bit rasters for ESC/POS `GS v 0`.

pub mod encode;
pub mod enhance;
pub mod error;
pub mod frame;
pub mod idcopy;
pub mod page;
pub mod raster;
pub mod scan;
pub mod seal;
pub mod synth;
pub mod text;

pub use enhance::Enhancement;
pub use error::ImageError;
pub use frame::{Frame, FrameError, FrameSource, StillFrames};
pub use raster::{dither_floyd_steinberg, threshold, GrayImage, Raster, RasterError};
pub use scan::{scan, Scan, ScanOptions, ScanReport};
