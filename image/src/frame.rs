//! Frames from a camera, as the face check and the document pipeline take them.

use std::time::Duration;

use opencv::core::Mat;

/// One capture: the colour image (BGR) and, from a binocular face camera, the IR image taken
/// in the same grab.
pub struct Frame {
    pub image: Mat,
    pub ir: Option<Mat>,
    pub sequence: u64,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("camera {0} is offline")]
    Offline(String),
    #[error("camera {camera}: no frame within {waited:?}")]
    Timeout { camera: String, waited: Duration },
    #[error("camera {camera}: {message}")]
    Failed { camera: String, message: String },
}

/// Anything that hands out frames: a camera driver, a file, a test.
pub trait FrameSource {
    fn grab(&mut self) -> Result<Frame, FrameError>;
    /// Whether frames carry an IR image.
    fn has_ir(&self) -> bool {
        false
    }
}
