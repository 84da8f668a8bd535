//! Frames from a camera, as the face check and the document pipeline take them.

use std::time::Duration;

use opencv::core::Mat;
use opencv::prelude::*;

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

/// Frames from pictures already in memory, repeated in turn: `kiosk face verify --probe`, and
/// tests. Pictures in, pictures out; it never fails.
pub struct StillFrames {
    frames: Vec<(Mat, Option<Mat>)>,
    next: usize,
    sequence: u64,
}

impl StillFrames {
    pub fn new(frames: Vec<Mat>) -> StillFrames {
        StillFrames::with_ir(frames.into_iter().map(|f| (f, None)).collect())
    }

    pub fn with_ir(frames: Vec<(Mat, Option<Mat>)>) -> StillFrames {
        StillFrames {
            frames,
            next: 0,
            sequence: 0,
        }
    }
}

impl FrameSource for StillFrames {
    fn grab(&mut self) -> Result<Frame, FrameError> {
        let fail = |message: String| FrameError::Failed {
            camera: "stills".into(),
            message,
        };
        if self.frames.is_empty() {
            return Err(fail("no pictures".into()));
        }
        let (image, ir) = &self.frames[self.next % self.frames.len()];
        self.next += 1;
        self.sequence += 1;
        Ok(Frame {
            image: image.try_clone().map_err(|e| fail(e.to_string()))?,
            ir: ir
                .as_ref()
                .map(|i| i.try_clone())
                .transpose()
                .map_err(|e| fail(e.to_string()))?,
            sequence: self.sequence,
        })
    }

    fn has_ir(&self) -> bool {
        self.frames.iter().any(|(_, ir)| ir.is_some())
    }
}
