//! Simulated cameras: frames from image files, folders of images or video files, behind a USB
//! plug the test can pull. The camera driver above runs unchanged; only the stream is a file.
//!
//! A binocular face camera's IR stream is simulated from the colour scene (its grey image, as a
//! live face lit by the IR illuminator looks) or as `blank` (what a phone screen shows in NIR).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use opencv::core::{Mat, Scalar, Size, CV_8UC1};
use opencv::imgcodecs;
use opencv::imgproc;
use opencv::prelude::*;
use opencv::videoio::{self, VideoCapture};
use serde_json::{json, Value};

use super::capture::{CaptureSource, Control};
use crate::sim::{SimControl, SimFaults};

/// What a simulated stream shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SceneSource {
    /// An image file, a folder of images (shown in name order, looping) or a video file.
    File(PathBuf),
    /// The grey version of the colour stream's current frame (IR only).
    DeriveFromRgb,
    /// Nothing but dark noise-free black.
    Blank,
}

impl SceneSource {
    pub fn parse(s: &str) -> SceneSource {
        match s {
            "derive" => SceneSource::DeriveFromRgb,
            "blank" => SceneSource::Blank,
            path => SceneSource::File(PathBuf::from(path)),
        }
    }
}

struct Shared {
    plugged: bool,
    rgb: SceneSource,
    ir: Option<SceneSource>,
    /// Bumped on every scene change so open streams reload.
    generation: u64,
    /// The colour stream's last frame, for a derived IR stream.
    last_rgb: Option<Mat>,
}

// Mats are reference counted buffers; access is serialised by the mutex.
unsafe impl Send for Shared {}

#[derive(Clone)]
pub struct CameraSim {
    id: String,
    shared: Arc<Mutex<Shared>>,
    /// Where scenes rendered on request (`card`) are written.
    scenes: Option<PathBuf>,
}

impl CameraSim {
    pub fn new(id: &str, rgb: SceneSource, ir: Option<SceneSource>) -> CameraSim {
        CameraSim {
            id: id.to_string(),
            shared: Arc::new(Mutex::new(Shared {
                plugged: true,
                rgb,
                ir,
                generation: 0,
                last_rgb: None,
            })),
            scenes: None,
        }
    }

    /// Scenes rendered on request go to `dir`.
    pub fn with_scene_dir(mut self, dir: PathBuf) -> CameraSim {
        self.scenes = Some(dir);
        self
    }

    /// Renders an ID card lying on the plate (`side` front or back, or nothing: an empty
    /// plate), photographed from above at a slight angle, and shows it.
    fn show_card(&self, side: &str) -> Result<PathBuf, String> {
        use kiosk_image::synth::{Shot, SyntheticPage};
        let dir = self
            .scenes
            .as_ref()
            .ok_or("this camera simulator has no scene folder")?;
        let (title, lines): (&str, &[&str]) = match side {
            "front" => (
                "居民身份证",
                &[
                    "姓名 张三丰",
                    "性别 男   民族 汉",
                    "出生 1990年1月1日",
                    "住址 江苏省昆山市前进西路1801号",
                    "公民身份号码 320583199001011232",
                ],
            ),
            "back" => (
                "中华人民共和国",
                &[
                    "居民身份证",
                    "签发机关 昆山市公安局",
                    "有效期限 2020.05.01-2040.05.01",
                ],
            ),
            "none" => ("", &[]),
            other => return Err(format!("card side {other:?}: front, back or none")),
        };
        let image = if side == "none" {
            Mat::new_rows_cols_with_default(1440, 1920, opencv::core::CV_8UC3, Scalar::all(92.0))
                .map_err(|e| e.to_string())?
        } else {
            SyntheticPage {
                width: 856,
                height: 540,
                title: title.into(),
                lines: lines.iter().map(|l| l.to_string()).collect(),
            }
            .photograph(&Shot {
                fill: 0.45,
                rotate_deg: 4.0,
                keystone: 0.03,
                shadow: 0.2,
                seed: if side == "front" { 21 } else { 22 },
                ..Shot::default()
            })
            .map_err(|e| e.to_string())?
            .image
        };
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let path = dir.join(format!("plate-{}-{side}.jpg", self.id));
        imgcodecs::imwrite_def(path.as_os_str(), &image).map_err(|e| e.to_string())?;
        self.show(Some(SceneSource::File(path.clone())), None);
        Ok(path)
    }

    /// A sheet of A4 photographed on the plate: `title` at its head and `lines` of text, a
    /// little turned, as a citizen lays a document down.
    fn show_page(&self, title: &str, lines: &[String], seed: u64) -> Result<PathBuf, String> {
        use kiosk_image::synth::{Shot, SyntheticPage};
        let dir = self
            .scenes
            .as_ref()
            .ok_or("this camera simulator has no scene folder")?;
        let image = SyntheticPage {
            width: 1240,
            height: 1754,
            title: title.into(),
            lines: lines.to_vec(),
        }
        .photograph(&Shot {
            fill: 0.72,
            rotate_deg: 3.0,
            keystone: 0.03,
            shadow: 0.2,
            seed,
            ..Shot::default()
        })
        .map_err(|e| e.to_string())?
        .image;
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let path = dir.join(format!("plate-{}-page-{seed}.jpg", self.id));
        imgcodecs::imwrite_def(path.as_os_str(), &image).map_err(|e| e.to_string())?;
        self.show(Some(SceneSource::File(path.clone())), None);
        Ok(path)
    }

    pub fn rgb_stream(&self) -> FileCapture {
        FileCapture::new(self.shared.clone(), false)
    }

    pub fn ir_stream(&self) -> Option<FileCapture> {
        let has_ir = self.lock().ir.is_some();
        has_ir.then(|| FileCapture::new(self.shared.clone(), true))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn show(&self, rgb: Option<SceneSource>, ir: Option<SceneSource>) {
        let mut s = self.lock();
        if let Some(r) = rgb {
            s.rgb = r;
        }
        if let Some(i) = ir {
            if s.ir.is_some() {
                s.ir = Some(i);
            }
        }
        s.generation += 1;
    }
}

impl SimControl for CameraSim {
    fn device_id(&self) -> &str {
        &self.id
    }

    fn endpoint(&self) -> String {
        match &self.lock().rgb {
            SceneSource::File(p) => format!("file:{}", p.display()),
            other => format!("{other:?}"),
        }
    }

    fn unplug(&self) -> Result<(), String> {
        self.lock().plugged = false;
        Ok(())
    }

    fn replug(&self) -> Result<(), String> {
        self.lock().plugged = true;
        Ok(())
    }

    fn set_faults(&self, _faults: SimFaults) -> Result<(), String> {
        Err("a camera has no serial line to disturb; use unplug or show".into())
    }

    fn inject(&self, what: &str, args: &Value) -> Result<Value, String> {
        match what {
            "show" => {
                let get = |k: &str| args.get(k).and_then(Value::as_str).map(SceneSource::parse);
                let (rgb, ir) = (get("rgb").or_else(|| get("source")), get("ir"));
                if rgb.is_none() && ir.is_none() {
                    return Err("show needs rgb=FILE and/or ir=FILE|derive|blank".into());
                }
                if let Some(SceneSource::File(p)) = &rgb {
                    if !p.exists() {
                        return Err(format!("{} does not exist", p.display()));
                    }
                }
                self.show(rgb, ir);
                Ok(json!({ "shown": self.endpoint() }))
            }
            "card" => {
                let side = args.get("side").and_then(Value::as_str).unwrap_or("front");
                let path = self.show_card(side)?;
                Ok(json!({ "shown": path }))
            }
            "page" => {
                let title = args
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("申请材料");
                let lines: Vec<String> = match args.get("lines").and_then(Value::as_array) {
                    Some(l) => l
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                    None => vec![
                        "本页为模拟材料，用于演示拍摄与上传。".into(),
                        "江苏省昆山市前进西路1801号".into(),
                    ],
                };
                if lines.len() > 40 || title.chars().count() > 40 {
                    return Err("a page takes a title of up to 40 characters and 40 lines".into());
                }
                let seed = args.get("seed").and_then(Value::as_u64).unwrap_or(31);
                let path = self.show_page(title, &lines, seed)?;
                Ok(json!({ "shown": path }))
            }
            other => Err(format!(
                "camera simulator has no stimulus {other:?}; it knows show, card and page"
            )),
        }
    }
}

enum Loaded {
    Still(Mat),
    Sequence(Vec<Mat>, usize),
    Video(VideoCapture),
    Derived,
    Blank,
}

pub struct FileCapture {
    shared: Arc<Mutex<Shared>>,
    ir: bool,
    loaded: Option<(u64, Loaded)>,
    size: Option<(i32, i32)>,
    current: Option<Mat>,
}

// Used from the device actor's thread only.
unsafe impl Send for FileCapture {}

impl FileCapture {
    fn new(shared: Arc<Mutex<Shared>>, ir: bool) -> FileCapture {
        FileCapture {
            shared,
            ir,
            loaded: None,
            size: None,
            current: None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn source(&self) -> (SceneSource, u64) {
        let s = self.lock();
        let src = if self.ir {
            s.ir.clone().unwrap_or(SceneSource::Blank)
        } else {
            s.rgb.clone()
        };
        (src, s.generation)
    }

    fn load(source: &SceneSource) -> Result<Loaded, String> {
        match source {
            SceneSource::DeriveFromRgb => Ok(Loaded::Derived),
            SceneSource::Blank => Ok(Loaded::Blank),
            SceneSource::File(p) if p.is_dir() => {
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(|e| format!("{}: {e}", p.display()))?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|f| is_image(f))
                    .collect();
                files.sort();
                let frames = files
                    .iter()
                    .map(|f| read_image(f))
                    .collect::<Result<Vec<_>, _>>()?;
                if frames.is_empty() {
                    return Err(format!("{} holds no images", p.display()));
                }
                Ok(Loaded::Sequence(frames, 0))
            }
            SceneSource::File(p) if is_image(p) => Ok(Loaded::Still(read_image(p)?)),
            SceneSource::File(p) => {
                let cap = VideoCapture::from_file(p.as_os_str(), videoio::CAP_ANY)
                    .map_err(|e| e.to_string())?;
                if !cap.is_opened().map_err(|e| e.to_string())? {
                    return Err(format!("{} is not a video OpenCV can read", p.display()));
                }
                Ok(Loaded::Video(cap))
            }
        }
    }

    fn next_raw(&mut self) -> Result<Mat, String> {
        let (source, generation) = self.source();
        if self.loaded.as_ref().map(|(g, _)| *g) != Some(generation) {
            self.loaded = Some((generation, Self::load(&source)?));
        }
        let (size, ir) = (self.size, self.ir);
        let shared = self.shared.clone();
        let Some((_, loaded)) = self.loaded.as_mut() else {
            return Err("no scene".into());
        };
        match loaded {
            Loaded::Still(m) => m.try_clone().map_err(|e| e.to_string()),
            Loaded::Sequence(frames, i) => {
                let m = frames[*i % frames.len()]
                    .try_clone()
                    .map_err(|e| e.to_string())?;
                *i = (*i + 1) % frames.len();
                Ok(m)
            }
            Loaded::Video(cap) => {
                let mut m = Mat::default();
                if !cap.read(&mut m).map_err(|e| e.to_string())? || m.empty() {
                    cap.set(videoio::CAP_PROP_POS_FRAMES, 0.0)
                        .map_err(|e| e.to_string())?;
                    if !cap.read(&mut m).map_err(|e| e.to_string())? || m.empty() {
                        return Err("the video has no frames".into());
                    }
                }
                Ok(m)
            }
            Loaded::Derived => {
                let last = shared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .last_rgb
                    .as_ref()
                    .map(|m| m.try_clone())
                    .transpose()
                    .map_err(|e| e.to_string())?;
                let rgb = last.ok_or("the colour stream has not delivered a frame yet")?;
                let mut g = Mat::default();
                imgproc::cvt_color_def(&rgb, &mut g, imgproc::COLOR_BGR2GRAY)
                    .map_err(|e| e.to_string())?;
                Ok(g)
            }
            // Dark: grey on the IR stream, colour (three channels, as a colour camera
            // delivers) on the colour stream — nobody in front of the camera.
            Loaded::Blank => {
                let (w, h) = size.unwrap_or((640, 480));
                let kind = if ir { CV_8UC1 } else { opencv::core::CV_8UC3 };
                Mat::new_rows_cols_with_default(h, w, kind, Scalar::all(8.0))
                    .map_err(|e| e.to_string())
            }
        }
    }
}

fn is_image(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("jpg" | "jpeg" | "png" | "bmp")
    )
}

fn read_image(p: &Path) -> Result<Mat, String> {
    let m = imgcodecs::imread(p.as_os_str(), imgcodecs::IMREAD_COLOR).map_err(|e| e.to_string())?;
    if m.empty() {
        return Err(format!("{} is not a readable image", p.display()));
    }
    Ok(m)
}

impl CaptureSource for FileCapture {
    fn describe(&self) -> String {
        let (src, _) = self.source();
        let what = match src {
            SceneSource::File(p) => p.display().to_string(),
            SceneSource::DeriveFromRgb => "derived from colour".into(),
            SceneSource::Blank => "blank".into(),
        };
        format!("sim {}: {what}", if self.ir { "IR" } else { "colour" })
    }

    fn present(&self) -> bool {
        self.lock().plugged
    }

    fn open(&mut self) -> Result<(), String> {
        if !self.present() {
            return Err("no such device (unplugged)".into());
        }
        let (source, generation) = self.source();
        self.loaded = Some((generation, Self::load(&source)?));
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.loaded.is_some()
    }

    fn close(&mut self) {
        self.loaded = None;
        self.current = None;
    }

    fn set_size(&mut self, width: i32, height: i32) -> Result<(i32, i32), String> {
        self.size = Some((width.max(1), height.max(1)));
        Ok((width.max(1), height.max(1)))
    }

    fn set_control(&mut self, _control: Control) -> Result<bool, String> {
        // Files have fixed exposure and focus, as a fixed-focus camera would.
        Ok(false)
    }

    fn grab(&mut self) -> Result<(), String> {
        if !self.present() {
            self.loaded = None;
            return Err("device disconnected".into());
        }
        if !self.is_open() {
            return Err("not open".into());
        }
        let raw = self.next_raw()?;
        let frame = match self.size {
            Some((w, h)) if (raw.cols(), raw.rows()) != (w, h) => {
                let mut r = Mat::default();
                imgproc::resize(&raw, &mut r, Size::new(w, h), 0.0, 0.0, imgproc::INTER_AREA)
                    .map_err(|e| e.to_string())?;
                r
            }
            _ => raw,
        };
        if !self.ir {
            self.lock().last_rgb = Some(frame.try_clone().map_err(|e| e.to_string())?);
        }
        self.current = Some(frame);
        Ok(())
    }

    fn retrieve(&mut self) -> Result<Mat, String> {
        self.current
            .as_ref()
            .ok_or_else(|| "nothing grabbed".to_string())?
            .try_clone()
            .map_err(|e| e.to_string())
    }
}

/// A camera driver over a simulated scene. `sim_source` names the colour scene (an image, a
/// folder or a video); without it a document camera looks at a synthetic photographed form and
/// a face camera at an empty hall. A face camera with `ir_path` or `sim_ir` gets an IR stream.
pub fn simulate(
    spec: &crate::DeviceSpec,
    env: &crate::SimEnv,
) -> Result<(super::Camera, CameraSim), crate::DriverError> {
    use crate::DriverError;
    let settings = super::CameraSettings::from_spec(spec)?;
    let bad = |m: String| DriverError::config(spec, m);
    let rgb = match spec.opt_str("sim_source").map_err(bad)? {
        Some(s) => SceneSource::parse(s),
        None => {
            let path = env.dir.join(format!("scene-{}.jpg", spec.id));
            let scene = if spec.kind == kiosk_hal::DeviceKind::DocumentCamera {
                kiosk_image::synth::SyntheticPage::default()
                    .photograph(&kiosk_image::synth::Shot::default())
                    .map(|s| s.image)
            } else {
                Mat::new_rows_cols_with_default(
                    720,
                    1280,
                    opencv::core::CV_8UC3,
                    Scalar::new(96.0, 104.0, 110.0, 0.0),
                )
                .map_err(kiosk_image::ImageError::from)
            }
            .map_err(|e| bad(format!("building the simulated scene: {e}")))?;
            imgcodecs::imwrite_def(path.as_os_str(), &scene)
                .map_err(|e| bad(format!("writing {}: {e}", path.display())))?;
            SceneSource::File(path)
        }
    };
    let ir = match (
        spec.opt_str("sim_ir").map_err(bad)?,
        spec.opt_str("ir_path").map_err(bad)?,
    ) {
        (Some(s), _) => Some(SceneSource::parse(s)),
        (None, Some(_)) => Some(SceneSource::DeriveFromRgb),
        (None, None) => None,
    };
    let sim = CameraSim::new(&spec.id, rgb, ir).with_scene_dir(env.dir.clone());
    let camera = super::Camera::with_sources(
        spec,
        settings,
        Box::new(sim.rgb_stream()),
        sim.ir_stream()
            .map(|s| Box::new(s) as Box<dyn CaptureSource>),
    );
    Ok((camera, sim))
}
