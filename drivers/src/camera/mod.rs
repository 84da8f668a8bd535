//! Cameras over UVC through OpenCV videoio: the document camera (高拍仪), which previews at
//! 720p/1080p and takes stills up to 10 MP, and the binocular face camera, an RGB and an IR
//! stream opened and grabbed as a pair.
//!
//! Health follows the node: a camera whose node disappears (or whose grab fails) is closed and
//! reported offline, and each poll tries to open it again. Frames of the face camera stay in
//! memory: its `frame` action returns them inline and it has no action that writes to disk.

pub mod capture;
pub mod sim;

use std::path::PathBuf;

use base64::Engine as _;
use kiosk_hal::actor::{ActionSpec, CommandContext, Device};
use kiosk_hal::device::{CommandError, DeviceInfo, Health, HealthReport};
use kiosk_hal::DeviceKind;
use kiosk_image::{Frame, FrameError, FrameSource};
use opencv::core::{Mat, Vector};
use opencv::imgcodecs;
use opencv::prelude::*;
use serde_json::{json, Value};

use crate::{DeviceSpec, DriverError};
pub use capture::{enumerate, CaptureSource, Control, V4l2Capture, VideoDevice, VideoNode};

pub const DOCUMENT_DRIVER: &str = "uvc-document";
pub const FACE_DRIVER: &str = "uvc-face";
const OPTIONS: &[&str] = &[
    "preview",
    "still",
    "fourcc",
    "exposure",
    "focus",
    "ir_path",
    "settle_frames",
    "capture_dir",
    "capture_retention_hours",
    "sim_source",
    "sim_ir",
];

/// A frame size such as `1920x1080`.
fn parse_size(s: &str) -> Result<(i32, i32), String> {
    let (w, h) = s
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let w: i32 = w.trim().parse().map_err(|_| format!("{s:?}: bad width"))?;
    let h: i32 = h.trim().parse().map_err(|_| format!("{s:?}: bad height"))?;
    if !(16..=10_000).contains(&w) || !(16..=10_000).contains(&h) {
        return Err(format!("{s:?} is outside 16..10000 pixels"));
    }
    Ok((w, h))
}

fn parse_control(key: &str, v: Option<&str>) -> Result<Option<Control>, String> {
    let Some(v) = v else { return Ok(None) };
    if v == "auto" {
        return Ok(Some(if key == "exposure" {
            Control::AutoExposure
        } else {
            Control::AutoFocus
        }));
    }
    let n: f64 = v
        .parse()
        .map_err(|_| format!("option `{key}` must be \"auto\" or a number, not {v:?}"))?;
    Ok(Some(if key == "exposure" {
        Control::Exposure(n)
    } else {
        Control::Focus(n)
    }))
}

/// The settings of a camera from its device table entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSettings {
    pub preview: (i32, i32),
    pub still: Option<(i32, i32)>,
    pub fourcc: Option<[char; 4]>,
    pub controls: Vec<Control>,
    pub settle_frames: u32,
    pub capture_dir: PathBuf,
    /// Stills this camera left in `capture_dir` are deleted after this long: they are pictures
    /// of citizens' documents, kept only until the application has taken them.
    pub capture_retention: std::time::Duration,
}

impl CameraSettings {
    pub fn from_spec(spec: &DeviceSpec) -> Result<CameraSettings, DriverError> {
        let bad = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(bad)?;
        let document = spec.kind == DeviceKind::DocumentCamera;
        let preview = match spec.opt_str("preview").map_err(bad)? {
            Some(s) => parse_size(s).map_err(bad)?,
            None => (1280, 720),
        };
        let still = match spec.opt_str("still").map_err(bad)? {
            Some(_) if !document => return Err(bad("only document cameras take stills".into())),
            Some(s) => Some(parse_size(s).map_err(bad)?),
            None if document => Some((3264, 2448)),
            None => None,
        };
        let fourcc = match spec.opt_str("fourcc").map_err(bad)? {
            Some(s) => {
                let c: Vec<char> = s.chars().collect();
                let arr: [char; 4] = c
                    .try_into()
                    .map_err(|_| bad(format!("fourcc {s:?} must be 4 characters")))?;
                Some(arr)
            }
            None => Some(['M', 'J', 'P', 'G']),
        };
        let mut controls = Vec::new();
        for key in ["exposure", "focus"] {
            if let Some(c) = parse_control(key, spec.opt_str(key).map_err(bad)?).map_err(bad)? {
                controls.push(c);
            }
        }
        if spec.opt_str("ir_path").map_err(bad)?.is_some() && document {
            return Err(bad("ir_path belongs to binocular face cameras".into()));
        }
        Ok(CameraSettings {
            preview,
            still,
            fourcc,
            controls,
            settle_frames: spec
                .opt_u64("settle_frames")
                .map_err(bad)?
                .unwrap_or(2)
                .min(30) as u32,
            capture_dir: spec
                .opt_str("capture_dir")
                .map_err(bad)?
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("hallkit-captures")),
            capture_retention: std::time::Duration::from_secs(
                3600 * spec
                    .opt_u64("capture_retention_hours")
                    .map_err(bad)?
                    .unwrap_or(24)
                    .min(24 * 365),
            ),
        })
    }
}

pub struct Camera {
    id: String,
    kind: DeviceKind,
    driver: &'static str,
    settings: CameraSettings,
    rgb: Box<dyn CaptureSource>,
    ir: Option<Box<dyn CaptureSource>>,
    sequence: u64,
    /// Controls the camera refused, reported by `status`.
    unsupported: Vec<String>,
    delivered: (i32, i32),
    last_error: Option<String>,
}

impl Camera {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Camera, DriverError> {
        let settings = CameraSettings::from_spec(spec)?;
        let path = spec.path.as_deref().ok_or_else(|| {
            DriverError::config(spec, "a camera needs `path` (/dev/videoN or an index)")
        })?;
        let rgb = Box::new(V4l2Capture::new(VideoNode::parse(path), settings.fourcc));
        let ir = spec
            .opt_str("ir_path")
            .map_err(|m| DriverError::config(spec, m))?
            .map(|p| {
                Box::new(V4l2Capture::new(VideoNode::parse(p), settings.fourcc))
                    as Box<dyn CaptureSource>
            });
        Ok(Camera::with_sources(spec, settings, rgb, ir))
    }

    pub fn with_sources(
        spec: &DeviceSpec,
        settings: CameraSettings,
        rgb: Box<dyn CaptureSource>,
        ir: Option<Box<dyn CaptureSource>>,
    ) -> Camera {
        Camera {
            id: spec.id.clone(),
            kind: spec.kind,
            driver: if spec.kind == DeviceKind::DocumentCamera {
                DOCUMENT_DRIVER
            } else {
                FACE_DRIVER
            },
            settings,
            rgb,
            ir,
            sequence: 0,
            unsupported: Vec::new(),
            delivered: (0, 0),
            last_error: None,
        }
    }

    fn streams(&mut self) -> impl Iterator<Item = &mut Box<dyn CaptureSource>> {
        std::iter::once(&mut self.rgb).chain(self.ir.as_mut())
    }

    fn close(&mut self, why: String) {
        tracing::warn!(camera = %self.id, %why, "camera closed");
        for s in self.streams() {
            s.close();
        }
        self.last_error = Some(why);
    }

    fn is_open(&self) -> bool {
        self.rgb.is_open() && self.ir.as_ref().is_none_or(|s| s.is_open())
    }

    /// Opens both streams in preview mode and applies the configured controls.
    fn ensure_open(&mut self) -> Result<(), String> {
        if self.is_open() {
            return Ok(());
        }
        let (w, h) = self.settings.preview;
        let controls = self.settings.controls.clone();
        let mut unsupported = Vec::new();
        let mut delivered = (0, 0);
        let result = (|| {
            for (i, s) in self.streams().enumerate() {
                if !s.present() {
                    return Err(format!("{} is not there", s.describe()));
                }
                s.open()?;
                let got = s.set_size(w, h)?;
                if i == 0 {
                    delivered = got;
                }
                for c in &controls {
                    if !s.set_control(*c)? {
                        unsupported.push(format!("{c:?}"));
                    }
                }
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.unsupported = unsupported;
                self.delivered = delivered;
                self.last_error = None;
                Ok(())
            }
            Err(e) => {
                self.close(e.clone());
                Err(e)
            }
        }
    }

    /// One synchronised grab of every stream.
    fn grab_pair(&mut self) -> Result<(Mat, Option<Mat>), String> {
        self.ensure_open()?;
        let grabbed = (|| {
            for s in self.streams() {
                if !s.present() {
                    return Err(format!("{} disappeared", s.describe()));
                }
                s.grab()?;
            }
            let rgb = self.rgb.retrieve()?;
            let ir = match self.ir.as_mut() {
                Some(s) => Some(s.retrieve()?),
                None => None,
            };
            Ok((rgb, ir))
        })();
        match grabbed {
            Ok(pair) => {
                self.sequence += 1;
                Ok(pair)
            }
            Err(e) => {
                self.close(e.clone());
                Err(e)
            }
        }
    }

    /// A full-resolution still: switch mode, let exposure settle, grab, switch back.
    pub fn still(&mut self) -> Result<Mat, String> {
        let (sw, sh) = self.settings.still.ok_or("this camera takes no stills")?;
        self.ensure_open()?;
        self.rgb.set_size(sw, sh)?;
        let mut result = Err("no frame".to_string());
        for _ in 0..=self.settings.settle_frames {
            result = self.grab_pair().map(|(m, _)| m);
            if result.is_err() {
                break;
            }
        }
        if self.rgb.is_open() {
            let (w, h) = self.settings.preview;
            self.rgb.set_size(w, h)?;
        }
        result
    }
}

/// Deletes this camera's stills in `dir` older than `keep` (best effort: a file that cannot be
/// removed now is tried again at the next capture).
pub fn purge_captures(dir: &std::path::Path, camera: &str, keep: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let prefix = format!("{camera}-");
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(&prefix) || !name.ends_with(".jpg") {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > keep);
        if old && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn jpeg(m: &Mat, quality: i32) -> Result<Vec<u8>, CommandError> {
    let mut buf = Vector::<u8>::new();
    let params = Vector::<i32>::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, quality]);
    imgcodecs::imencode(".jpg", m, &mut buf, &params)
        .map_err(|e| CommandError::hardware(format!("JPEG encoding: {e}")))?;
    Ok(buf.to_vec())
}

impl FrameSource for Camera {
    fn grab(&mut self) -> Result<Frame, FrameError> {
        let (image, ir) = self.grab_pair().map_err(|e| {
            if self.rgb.present() {
                FrameError::Failed {
                    camera: self.id.clone(),
                    message: e,
                }
            } else {
                FrameError::Offline(self.id.clone())
            }
        })?;
        Ok(Frame {
            image,
            ir,
            sequence: self.sequence,
        })
    }

    fn has_ir(&self) -> bool {
        self.ir.is_some()
    }
}

impl Device for Camera {
    fn info(&self) -> DeviceInfo {
        let mut info = DeviceInfo::new(&self.id, self.kind, self.driver);
        info.transport = match &self.ir {
            Some(ir) => format!("{} + {}", self.rgb.describe(), ir.describe()),
            None => self.rgb.describe(),
        };
        info.vendor = "UVC".into();
        info
    }

    fn poll(&mut self) -> HealthReport {
        if self.is_open() && self.streams().any(|s| !s.present()) {
            self.close("the camera was unplugged".into());
        }
        match self.ensure_open() {
            Ok(()) => HealthReport::new(Health::Online).with_detail(format!(
                "{}×{} preview{}",
                self.delivered.0,
                self.delivered.1,
                if self.ir.is_some() { ", RGB + IR" } else { "" }
            )),
            Err(e) => HealthReport::new(Health::Offline).with_detail(e),
        }
    }

    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        let (m, ir) = self.grab_pair().map_err(CommandError::not_ready)?;
        let mean = opencv::core::mean(&m, &opencv::core::no_array())
            .map_err(|e| CommandError::hardware(e.to_string()))?;
        Ok(json!({
            "width": m.cols(),
            "height": m.rows(),
            "mean_level": (mean[0] + mean[1] + mean[2]) / 3.0,
            "ir": ir.map(|i| json!({ "width": i.cols(), "height": i.rows() })),
            "unsupported_controls": self.unsupported,
        }))
    }

    fn actions(&self) -> Vec<ActionSpec> {
        let mut v = vec![
            ActionSpec {
                name: "status",
                summary: "frame size, stream(s), controls the camera refused",
                args: &[],
            },
            ActionSpec {
                name: "frame",
                summary: "one preview frame, inline as base64 JPEG (memory only)",
                args: &[
                    "quality=JPEG quality 1-100 (80)",
                    "still=true for a full-resolution still instead (document camera)",
                ],
            },
        ];
        if self.kind == DeviceKind::DocumentCamera {
            v.push(ActionSpec {
                name: "capture",
                summary: "a full-resolution still, saved as JPEG",
                args: &[
                    "path=output file (default: capture_dir)",
                    "quality=1-100 (92)",
                ],
            });
        }
        v
    }

    fn run(
        &mut self,
        action: &str,
        args: &Value,
        ctx: &CommandContext,
    ) -> Result<Value, CommandError> {
        if ctx.cancel.is_canceled() {
            return Err(CommandError::canceled());
        }
        let quality = |default: i64| -> Result<i32, CommandError> {
            match args.get("quality") {
                None => Ok(default as i32),
                Some(q) => q
                    .as_i64()
                    .or_else(|| q.as_str().and_then(|s| s.parse().ok()))
                    .filter(|q| (1..=100).contains(q))
                    .map(|q| q as i32)
                    .ok_or_else(|| CommandError::invalid("quality must be 1-100")),
            }
        };
        match action {
            "status" => Ok(json!({
                "open": self.is_open(),
                "preview": [self.delivered.0, self.delivered.1],
                "still": self.settings.still.map(|(w, h)| [w, h]),
                "ir": self.ir.is_some(),
                "unsupported_controls": self.unsupported,
                "last_error": self.last_error,
                "frames": self.sequence,
            })),
            "frame" => {
                let q = quality(80)?;
                let still = args.get("still").and_then(Value::as_bool).unwrap_or(false);
                // A still for a copy stays in memory too: it is a citizen's document.
                let (m, ir) = if still && self.kind == DeviceKind::DocumentCamera {
                    (self.still().map_err(CommandError::not_ready)?, None)
                } else {
                    self.grab_pair().map_err(CommandError::not_ready)?
                };
                let b64 = base64::engine::general_purpose::STANDARD;
                Ok(json!({
                    "width": m.cols(),
                    "height": m.rows(),
                    "sequence": self.sequence,
                    "jpeg": b64.encode(jpeg(&m, q)?),
                    "ir_jpeg": ir.map(|i| jpeg(&i, q).map(|j| b64.encode(j))).transpose()?,
                }))
            }
            "capture" if self.kind == DeviceKind::DocumentCamera => {
                let q = quality(92)?;
                let path = match args.get("path").and_then(Value::as_str) {
                    Some(p) => {
                        let p = PathBuf::from(p);
                        let ext = p
                            .extension()
                            .and_then(|e| e.to_str())
                            .map(str::to_ascii_lowercase);
                        if !matches!(ext.as_deref(), Some("jpg" | "jpeg")) {
                            return Err(CommandError::invalid("capture path must end in .jpg"));
                        }
                        p
                    }
                    None => {
                        std::fs::create_dir_all(&self.settings.capture_dir).map_err(|e| {
                            CommandError::hardware(format!(
                                "{}: {e}",
                                self.settings.capture_dir.display()
                            ))
                        })?;
                        let millis = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis())
                            .unwrap_or(0);
                        self.settings.capture_dir.join(format!(
                            "{}-{millis}-{}.jpg",
                            self.id,
                            self.sequence + 1
                        ))
                    }
                };
                // Actions can arrive as remote commands: a capture never replaces a file.
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::AlreadyExists => CommandError::invalid(format!(
                            "{} exists; captures never overwrite",
                            path.display()
                        )),
                        _ => CommandError::hardware(format!("{}: {e}", path.display())),
                    })?;
                let still = self
                    .still()
                    .and_then(|m| jpeg(&m, q).map(|b| (m, b)).map_err(|e| e.detail));
                let (m, bytes) = match still {
                    Ok(v) => v,
                    Err(e) => {
                        drop(file);
                        let _ = std::fs::remove_file(&path);
                        return Err(CommandError::not_ready(e));
                    }
                };
                use std::io::Write;
                file.write_all(&bytes)
                    .and_then(|_| file.sync_all())
                    .map_err(|e| CommandError::hardware(format!("{}: {e}", path.display())))?;
                purge_captures(
                    &self.settings.capture_dir,
                    &self.id,
                    self.settings.capture_retention,
                );
                use sha2::Digest;
                Ok(json!({
                    "path": path.display().to_string(),
                    "width": m.cols(),
                    "height": m.rows(),
                    "bytes": bytes.len(),
                    "sha256": hex::encode(sha2::Sha256::digest(&bytes)),
                }))
            }
            other => Err(CommandError::unsupported(format!(
                "camera has no action {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
