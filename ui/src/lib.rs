//! HallKit's Slint screens and the glue that is pure presentation: the per-domain globals
//! filled in place from plain values, the language, the intents a touch sends, and rendering
//! to PNG with the software renderer. No business logic lives here; the runtime decides which
//! screen shows and what it says.

slint::include_modules!();

mod bind;
mod bind_admin;
mod bind_apply;
mod bind_copy;
mod bind_desk;
mod bind_papers;

pub use bind::{
    GroupLine, GuideView, JourneyLine, MaterialLine, Problem, SlideLine, Ui, UiIntent, UiView,
};
pub use bind_admin::{AdminIntent, AdminUiView, SupplyLine};
pub use bind_apply::{ApplyUiView, CasesUiView};
pub use bind_copy::{CopyView, JpegPicture, LoginView};
pub use bind_desk::{
    parse_stroke, select_language, CastPicture, DeskIntent, DeskStageUi, DeskUiView, DeskWindows,
    STAGE_SIZE,
};
pub use bind_papers::PapersUiView;

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::Rgb8Pixel;
use slint::{PhysicalSize, PlatformError};

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
    pub fn switch_label(self) -> &'static str {
        match self {
            Language::ZhCn => "English",
            Language::En => "中文",
        }
    }
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

pub(crate) fn health_value(s: &str) -> HealthValue {
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

pub(crate) fn device_state(s: &str) -> DeviceState {
    match s {
        "normal" => DeviceState::Normal,
        "warning" => DeviceState::Warning,
        "abnormal" => DeviceState::Abnormal,
        _ => DeviceState::Offline,
    }
}

/// Static texts of the terminal, from configuration.
#[derive(Debug, Clone, Default)]
pub struct TerminalTexts {
    pub service_point: String,
    pub device_id: String,
    pub fault_phone: String,
    pub title: Option<String>,
}

/// Every screen by the name tours, idle settings and `kiosk screenshot` use.
pub const SCREENS: &[(&str, ScreenId)] = &[
    ("attract", ScreenId::Attract),
    ("home", ScreenId::Home),
    ("ticket-groups", ScreenId::TicketGroups),
    ("ticket-identify", ScreenId::TicketIdentify),
    ("ticket-numbering", ScreenId::TicketNumbering),
    ("ticket-printing", ScreenId::TicketPrinting),
    ("ticket-taken", ScreenId::TicketTaken),
    ("ticket-problem", ScreenId::TicketProblem),
    ("guide-items", ScreenId::GuideItems),
    ("guide-item", ScreenId::GuideItem),
    ("guide-question", ScreenId::GuideQuestion),
    ("guide-materials", ScreenId::GuideMaterials),
    ("guide-printing", ScreenId::GuidePrinting),
    ("guide-problem", ScreenId::GuideProblem),
    ("identify-present", ScreenId::IdentifyPresent),
    ("identify-consent", ScreenId::IdentifyConsent),
    ("identify-face", ScreenId::IdentifyFace),
    ("identify-face-failed", ScreenId::IdentifyFaceFailed),
    ("identify-finger", ScreenId::IdentifyFinger),
    ("identify-problem", ScreenId::IdentifyProblem),
    ("idcopy-place", ScreenId::IdcopyPlace),
    ("idcopy-capturing", ScreenId::IdcopyCapturing),
    ("idcopy-composing", ScreenId::IdcopyComposing),
    ("idcopy-printing", ScreenId::IdcopyPrinting),
    ("idcopy-purpose", ScreenId::IdcopyPurpose),
    ("idcopy-type-use", ScreenId::IdcopyTypeUse),
    ("idcopy-preview", ScreenId::IdcopyPreview),
    ("idcopy-printed", ScreenId::IdcopyPrinted),
    ("idcopy-problem", ScreenId::IdcopyProblem),
    ("rating-tags", ScreenId::RatingTags),
    ("rating-complaint", ScreenId::RatingComplaint),
    ("rating-thanks", ScreenId::RatingThanks),
    ("apply-form", ScreenId::ApplyForm),
    ("apply-pickup", ScreenId::ApplyPickup),
    ("apply-address", ScreenId::ApplyAddress),
    ("apply-pages", ScreenId::ApplyPages),
    ("apply-capturing", ScreenId::ApplyCapturing),
    ("apply-review", ScreenId::ApplyReview),
    ("apply-sign", ScreenId::ApplySign),
    ("apply-submitting", ScreenId::ApplySubmitting),
    ("apply-submitted", ScreenId::ApplySubmitted),
    ("apply-printing", ScreenId::ApplyPrinting),
    ("apply-problem", ScreenId::ApplyProblem),
    ("apply-fetching-licences", ScreenId::ApplyFetchingLicences),
    ("apply-licences", ScreenId::ApplyLicences),
    ("query-how", ScreenId::QueryHow),
    ("query-number", ScreenId::QueryNumber),
    ("query-password", ScreenId::QueryPassword),
    ("query-looking", ScreenId::QueryLooking),
    ("query-list", ScreenId::QueryList),
    ("query-detail", ScreenId::QueryDetail),
    ("query-printing", ScreenId::QueryPrinting),
    ("query-problem", ScreenId::QueryProblem),
    ("papers-months", ScreenId::PapersMonths),
    ("papers-looking", ScreenId::PapersLooking),
    ("papers-list", ScreenId::PapersList),
    ("papers-opening", ScreenId::PapersOpening),
    ("papers-preview", ScreenId::PapersPreview),
    ("papers-printing", ScreenId::PapersPrinting),
    ("papers-problem", ScreenId::PapersProblem),
    ("staff-pin", ScreenId::StaffPin),
    ("device-status", ScreenId::DeviceStatus),
    ("admin-device", ScreenId::AdminDevice),
    ("admin-logs", ScreenId::AdminLogs),
    ("admin-journal", ScreenId::AdminJournal),
    ("admin-config", ScreenId::AdminConfig),
    ("admin-network", ScreenId::AdminNetwork),
    ("admin-supplies", ScreenId::AdminSupplies),
];

impl ScreenId {
    pub fn parse(name: &str) -> Option<ScreenId> {
        SCREENS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    pub fn name(self) -> &'static str {
        SCREENS
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("unknown", |(n, _)| n)
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

thread_local! {
    /// The headless window this thread installed, if it did.
    static INSTALLED: std::cell::RefCell<Option<Rc<MinimalSoftwareWindow>>> =
        const { std::cell::RefCell::new(None) };
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
    /// Called again on the same thread (several tours in one process), it hands out the same
    /// window at the new size; the previous window's component must be dropped by then.
    pub fn install(width: u32, height: u32) -> Result<HeadlessWindow, UiError> {
        if let Some(window) = INSTALLED.with(|w| w.borrow().clone()) {
            window.set_size(PhysicalSize::new(width, height));
            return Ok(HeadlessWindow {
                window,
                width,
                height,
            });
        }
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        window.set_size(PhysicalSize::new(width, height));
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
            start: Instant::now(),
        }))
        .map_err(|e| UiError::Platform(e.to_string()))?;
        INSTALLED.with(|w| *w.borrow_mut() = Some(window.clone()));
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

/// What the window shows now, as a PNG (width, height, bytes): a remote screenshot. Runs on
/// the window's thread; the renderer reads its own frame buffer.
pub fn snapshot_png(app: &AppWindow) -> Result<(u32, u32, Vec<u8>), UiError> {
    use slint::ComponentHandle;
    let err = |m: String| UiError::Png {
        path: "(screenshot)".into(),
        message: m,
    };
    let shot = app
        .window()
        .take_snapshot()
        .map_err(|e| UiError::Platform(e.to_string()))?;
    let (w, h) = (shot.width(), shot.height());
    let rgb: Vec<u8> = shot
        .as_slice()
        .iter()
        .flat_map(|p| [p.r, p.g, p.b])
        .collect();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| err(e.to_string()))?;
        wr.write_image_data(&rgb).map_err(|e| err(e.to_string()))?;
        wr.finish().map_err(|e| err(e.to_string()))?;
    }
    Ok((w, h, out))
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
