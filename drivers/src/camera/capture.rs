//! Where frames come from: a V4L2 node through OpenCV videoio, or (for the sim profile and
//! tests) image and video files behind a simulated USB plug.

use std::path::{Path, PathBuf};

use opencv::core::Mat;
use opencv::prelude::*;
use opencv::videoio::{self, VideoCapture};

/// A camera control a driver may set; cameras that lack it say so.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    AutoExposure,
    Exposure(f64),
    AutoFocus,
    Focus(f64),
}

/// One video stream.
pub trait CaptureSource: Send {
    fn describe(&self) -> String;
    /// Whether the device is there at all (the node exists, the plug is in).
    fn present(&self) -> bool;
    fn open(&mut self) -> Result<(), String>;
    fn is_open(&self) -> bool;
    fn close(&mut self);
    /// Asks for a frame size; returns what the camera actually delivers.
    fn set_size(&mut self, width: i32, height: i32) -> Result<(i32, i32), String>;
    /// Returns false when the camera does not support the control.
    fn set_control(&mut self, control: Control) -> Result<bool, String>;
    /// Latches a frame (cheap); [`retrieve`](Self::retrieve) decodes it. Grabbing both streams
    /// of a binocular camera before decoding either keeps the pair close in time.
    fn grab(&mut self) -> Result<(), String>;
    fn retrieve(&mut self) -> Result<Mat, String>;
}

/// Where a V4L2 camera is: a node path or an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoNode {
    Path(PathBuf),
    Index(i32),
}

impl VideoNode {
    pub fn parse(s: &str) -> VideoNode {
        match s.parse::<i32>() {
            Ok(i) if i >= 0 => VideoNode::Index(i),
            _ => VideoNode::Path(PathBuf::from(s)),
        }
    }

    fn node_path(&self) -> PathBuf {
        match self {
            VideoNode::Path(p) => p.clone(),
            VideoNode::Index(i) => PathBuf::from(format!("/dev/video{i}")),
        }
    }
}

/// A UVC camera through OpenCV's V4L2 backend.
pub struct V4l2Capture {
    node: VideoNode,
    fourcc: Option<[char; 4]>,
    cap: Option<VideoCapture>,
}

// VideoCapture is used from the device actor's thread only.
unsafe impl Send for V4l2Capture {}

impl V4l2Capture {
    pub fn new(node: VideoNode, fourcc: Option<[char; 4]>) -> V4l2Capture {
        V4l2Capture {
            node,
            fourcc,
            cap: None,
        }
    }

    fn cap(&mut self) -> Result<&mut VideoCapture, String> {
        self.cap.as_mut().ok_or_else(|| "not open".to_string())
    }
}

fn cv(e: opencv::Error) -> String {
    e.to_string()
}

impl CaptureSource for V4l2Capture {
    fn describe(&self) -> String {
        format!("v4l2:{}", self.node.node_path().display())
    }

    fn present(&self) -> bool {
        self.node.node_path().exists()
    }

    fn open(&mut self) -> Result<(), String> {
        let cap = match &self.node {
            VideoNode::Path(p) => {
                VideoCapture::from_file(p.as_os_str(), videoio::CAP_V4L2).map_err(cv)?
            }
            VideoNode::Index(i) => VideoCapture::new(*i, videoio::CAP_V4L2).map_err(cv)?,
        };
        if !cap.is_opened().map_err(cv)? {
            return Err(format!("{} did not open", self.describe()));
        }
        self.cap = Some(cap);
        if let Some([a, b, c, d]) = self.fourcc {
            let code = videoio::VideoWriter::fourcc(a, b, c, d).map_err(cv)?;
            // UVC cameras deliver their large modes only as MJPG; YUYV tops out near 1080p@5.
            self.cap()?
                .set(videoio::CAP_PROP_FOURCC, f64::from(code))
                .map_err(cv)?;
        }
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.cap.is_some()
    }

    fn close(&mut self) {
        if let Some(mut c) = self.cap.take() {
            let _ = c.release();
        }
    }

    fn set_size(&mut self, width: i32, height: i32) -> Result<(i32, i32), String> {
        let cap = self.cap()?;
        cap.set(videoio::CAP_PROP_FRAME_WIDTH, f64::from(width))
            .map_err(cv)?;
        cap.set(videoio::CAP_PROP_FRAME_HEIGHT, f64::from(height))
            .map_err(cv)?;
        let w = cap.get(videoio::CAP_PROP_FRAME_WIDTH).map_err(cv)? as i32;
        let h = cap.get(videoio::CAP_PROP_FRAME_HEIGHT).map_err(cv)? as i32;
        Ok((w, h))
    }

    fn set_control(&mut self, control: Control) -> Result<bool, String> {
        let cap = self.cap()?;
        // V4L2 auto exposure: 3 = aperture priority (auto), 1 = manual.
        let ok = match control {
            Control::AutoExposure => cap.set(videoio::CAP_PROP_AUTO_EXPOSURE, 3.0),
            Control::Exposure(v) => cap
                .set(videoio::CAP_PROP_AUTO_EXPOSURE, 1.0)
                .and_then(|_| cap.set(videoio::CAP_PROP_EXPOSURE, v)),
            Control::AutoFocus => cap.set(videoio::CAP_PROP_AUTOFOCUS, 1.0),
            Control::Focus(v) => cap
                .set(videoio::CAP_PROP_AUTOFOCUS, 0.0)
                .and_then(|_| cap.set(videoio::CAP_PROP_FOCUS, v)),
        }
        .map_err(cv)?;
        Ok(ok)
    }

    fn grab(&mut self) -> Result<(), String> {
        if self.cap()?.grab().map_err(cv)? {
            Ok(())
        } else {
            Err("the camera delivered no frame".into())
        }
    }

    fn retrieve(&mut self) -> Result<Mat, String> {
        let mut m = Mat::default();
        if self.cap()?.retrieve(&mut m, 0).map_err(cv)? && !m.empty() {
            Ok(m)
        } else {
            Err("the camera's frame could not be decoded".into())
        }
    }
}

/// The V4L2 capture nodes of this machine, from sysfs (`/sys/class/video4linux`). UVC cameras
/// register a second, metadata node per stream; only index 0 nodes deliver pictures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VideoDevice {
    pub path: String,
    pub name: String,
    /// `vid:pid` of the USB device behind the node, when there is one.
    pub usb: Option<String>,
}

pub fn enumerate(sysfs: &Path) -> Vec<VideoDevice> {
    let Ok(entries) = std::fs::read_dir(sysfs) else {
        return Vec::new();
    };
    let mut found: Vec<VideoDevice> = entries
        .flatten()
        .filter_map(|e| {
            let node = e.file_name().to_string_lossy().to_string();
            if !node.starts_with("video") {
                return None;
            }
            let dir = e.path();
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).map(|s| s.trim().to_string());
            if read("index").map(|i| i != "0").unwrap_or(false) {
                return None;
            }
            let usb = match (read("device/../idVendor"), read("device/../idProduct")) {
                (Ok(v), Ok(p)) => Some(format!("{v}:{p}")),
                _ => None,
            };
            Some(VideoDevice {
                path: format!("/dev/{node}"),
                name: read("name").unwrap_or_default(),
                usb,
            })
        })
        .collect();
    found.sort_by_key(|d| {
        let n: u32 = d
            .path
            .trim_start_matches("/dev/video")
            .parse()
            .unwrap_or(u32::MAX);
        n
    });
    found
}
