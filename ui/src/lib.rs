//! HallKit's Slint screens and the small amount of glue that is pure presentation: filling the
//! device table, choosing the language, and rendering a screen to PNG with the software renderer.
//! No business logic lives here; the runtime decides what to show.

slint::include_modules!();

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::Rgb8Pixel;
use slint::{ComponentHandle, ModelRc, PhysicalSize, PlatformError, SharedString, VecModel};

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("the UI platform could not start: {0}")]
    Platform(String),
    #[error("language {0:?} has no translation; available: zh-CN, en")]
    Language(String),
    #[error("writing {path}: {message}")]
    Png { path: String, message: String },
}

/// The languages the terminal speaks. Chinese is the halls' default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    ZhCn,
    En,
}

impl Language {
    pub fn parse(s: &str) -> Result<Language, UiError> {
        match s {
            "zh-CN" | "zh_CN" | "zh" => Ok(Language::ZhCn),
            "en" | "en-US" | "en_US" => Ok(Language::En),
            other => Err(UiError::Language(other.to_string())),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::ZhCn => "zh-CN",
            Language::En => "en",
        }
    }

    pub fn other(self) -> Language {
        match self {
            Language::ZhCn => Language::En,
            Language::En => Language::ZhCn,
        }
    }

    /// What the language button shows: the language you switch *to*, in that language.
    fn switch_label(self) -> &'static str {
        match self {
            Language::ZhCn => "English",
            Language::En => "中文",
        }
    }
}

/// Switches every `@tr` string of the running UI to `lang`.
pub fn apply_language(app: &AppWindow, lang: Language) -> Result<(), UiError> {
    // Source strings are English; Chinese comes from the bundled zh_CN catalogue.
    let bundle = match lang {
        Language::ZhCn => "zh_CN",
        Language::En => "",
    };
    slint::select_bundled_translation(bundle).map_err(|e| UiError::Platform(e.to_string()))?;
    app.set_language_label(lang.switch_label().into());
    Ok(())
}

/// One row of the device-status screen, in plain values the runtime fills in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLine {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// One of the device model's health names (`online`, `no-device`, …).
    pub health: String,
    /// The centre's 4-state value (`normal`, `warning`, `abnormal`, `offline`).
    pub state: String,
    pub detail: String,
    pub transport: String,
}

fn health_value(s: &str) -> HealthValue {
    match s {
        "online" => HealthValue::Online,
        "busy" => HealthValue::Busy,
        "offline" => HealthValue::Offline,
        "no-device" => HealthValue::NoDevice,
        "hardware-error" => HealthValue::HardwareError,
        "user-error" => HealthValue::UserError,
        _ => HealthValue::Unknown,
    }
}

fn device_state(s: &str) -> DeviceState {
    match s {
        "normal" => DeviceState::Normal,
        "warning" => DeviceState::Warning,
        "abnormal" => DeviceState::Abnormal,
        _ => DeviceState::Offline,
    }
}

/// Replaces the device table and its summary count in one step.
pub fn set_devices(app: &AppWindow, lines: &[DeviceLine]) {
    let rows: Vec<DeviceRow> = lines
        .iter()
        .map(|l| DeviceRow {
            id: l.id.as_str().into(),
            name: l.name.as_str().into(),
            kind: l.kind.as_str().into(),
            health: health_value(&l.health),
            state: device_state(&l.state),
            detail: l.detail.as_str().into(),
            transport: l.transport.as_str().into(),
        })
        .collect();
    let normal = rows
        .iter()
        .filter(|r| r.state == DeviceState::Normal)
        .count();
    app.set_normal_count(i32::try_from(normal).unwrap_or(i32::MAX));
    let half = rows.len().div_ceil(2);
    app.set_devices_left(ModelRc::new(VecModel::from(rows[..half].to_vec())));
    app.set_devices_right(ModelRc::new(VecModel::from(rows[half..].to_vec())));
    app.set_devices(ModelRc::new(VecModel::from(rows)));
}

/// Static texts of the terminal, from configuration.
#[derive(Debug, Clone, Default)]
pub struct TerminalTexts {
    pub service_point: String,
    pub device_id: String,
    pub fault_phone: String,
    pub title: Option<String>,
}

pub fn set_terminal_texts(app: &AppWindow, t: &TerminalTexts) {
    app.set_service_point(SharedString::from(t.service_point.as_str()));
    app.set_device_id(t.device_id.as_str().into());
    app.set_fault_phone(t.fault_phone.as_str().into());
    if let Some(title) = &t.title {
        app.set_terminal_title(title.as_str().into());
    }
}

/// The screens `kiosk screenshot` can render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenName {
    Home,
    DeviceStatus,
    Help,
}

impl ScreenName {
    pub const NAMES: &'static [&'static str] = &["home", "device-status", "help"];

    pub fn parse(s: &str) -> Option<ScreenName> {
        match s {
            "home" => Some(ScreenName::Home),
            "device-status" | "status" => Some(ScreenName::DeviceStatus),
            "help" => Some(ScreenName::Help),
            _ => None,
        }
    }

    pub fn show(self, app: &AppWindow) {
        match self {
            ScreenName::Home => app.set_screen(Screen::Home),
            ScreenName::DeviceStatus => app.set_screen(Screen::DeviceStatus),
            ScreenName::Help => {
                app.set_screen(Screen::Home);
                app.set_help_visible(true);
            }
        }
    }
}

/// Landscape 1920×1080 or portrait 1080×1920.
pub fn window_size(portrait: bool) -> (u32, u32) {
    if portrait {
        (1080, 1920)
    } else {
        (1920, 1080)
    }
}

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    start: Instant,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        Ok(self.window.clone())
    }
    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A window with no display, drawn by Slint's software renderer: for screenshots and for
/// running without a screen.
pub struct HeadlessWindow {
    window: Rc<MinimalSoftwareWindow>,
    width: u32,
    height: u32,
}

impl HeadlessWindow {
    /// Installs the headless platform for this thread. Must come before any component is made.
    pub fn install(width: u32, height: u32) -> Result<HeadlessWindow, UiError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        window.set_size(PhysicalSize::new(width, height));
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
            start: Instant::now(),
        }))
        .map_err(|e| UiError::Platform(e.to_string()))?;
        Ok(HeadlessWindow {
            window,
            width,
            height,
        })
    }

    /// Renders the current frame to RGB pixels, row-major.
    pub fn render(&self) -> Vec<u8> {
        slint::platform::update_timers_and_animations();
        self.window
            .set_size(PhysicalSize::new(self.width, self.height));
        self.window.request_redraw();
        let mut buf = vec![Rgb8Pixel { r: 0, g: 0, b: 0 }; (self.width * self.height) as usize];
        self.window.draw_if_needed(|renderer| {
            renderer.render(&mut buf, self.width as usize);
        });
        buf.iter().flat_map(|p| [p.r, p.g, p.b]).collect()
    }

    pub fn render_png(&self, path: &Path) -> Result<(), UiError> {
        let rgb = self.render();
        write_png(path, self.width, self.height, &rgb)
    }
}

pub fn write_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<(), UiError> {
    let err = |m: String| UiError::Png {
        path: path.display().to_string(),
        message: m,
    };
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| err(e.to_string()))?;
    w.write_image_data(rgb).map_err(|e| err(e.to_string()))?;
    w.finish().map_err(|e| err(e.to_string()))
}

/// Builds the main window with texts and devices, ready to show or render.
pub fn build_app(
    texts: &TerminalTexts,
    lang: Language,
    portrait: bool,
) -> Result<AppWindow, UiError> {
    let app = AppWindow::new().map_err(|e| UiError::Platform(e.to_string()))?;
    set_terminal_texts(&app, texts);
    app.set_portrait(portrait);
    // The screens are laid out for these sizes; a smaller default window would clip rows.
    let (w, h) = window_size(portrait);
    app.window().set_size(PhysicalSize::new(w, h));
    apply_language(&app, lang)?;
    Ok(app)
}

/// Shows the window on the current platform (needed before rendering a headless frame).
pub fn show(app: &AppWindow) -> Result<(), UiError> {
    app.show().map_err(|e| UiError::Platform(e.to_string()))
}
