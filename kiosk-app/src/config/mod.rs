//! The terminal's TOML configuration, validated at start. Every error names its file, line and
//! column, taken from the TOML parser's spans: a technician editing a config in the hall must
//! not have to guess which key is wrong.

mod sections;
pub mod spans;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use kiosk_drivers::DeviceSpec;
use serde::Deserialize;
use toml::Spanned;

pub use sections::*;
use spans::{Spans, Step};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    terminal: TerminalConfig,
    #[serde(default)]
    centre: CentreConfig,
    #[serde(default)]
    ui: UiConfig,
    #[serde(default)]
    idle: IdleConfig,
    #[serde(default)]
    attract: AttractConfig,
    #[serde(default)]
    journeys: JourneysConfig,
    #[serde(default)]
    catalogue: CatalogueConfig,
    #[serde(default)]
    log: LogConfig,
    #[serde(default)]
    outbox: OutboxConfig,
    #[serde(default)]
    outputs: OutputsConfig,
    #[serde(default)]
    face: FaceConfig,
    #[serde(default)]
    window: Option<WindowConfig>,
    #[serde(default)]
    gateway: Option<GatewayConfig>,
    #[serde(default)]
    usb: Option<crate::services::usb_guard::UsbPolicyConfig>,
    #[serde(default)]
    update: Option<crate::update::window::UpdateConfig>,
    #[serde(default)]
    admin: crate::services::technicians::AdminConfig,
    #[serde(default)]
    devices: Vec<Spanned<DeviceSpec>>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: PathBuf,
    pub terminal: TerminalConfig,
    pub centre: CentreConfig,
    pub ui: UiConfig,
    pub idle: IdleConfig,
    pub attract: AttractConfig,
    pub journeys: JourneysConfig,
    pub catalogue: CatalogueConfig,
    pub log: LogConfig,
    pub outbox: OutboxConfig,
    pub outputs: OutputsConfig,
    pub face: FaceConfig,
    /// The window unit's settings (present exactly when the role is `window`).
    pub window: Option<WindowConfig>,
    /// The local device API for browser business systems (started when present).
    pub gateway: Option<GatewayConfig>,
    /// The USB allow-list enforced at run time (watched when present).
    pub usb: Option<crate::services::usb_guard::UsbPolicyConfig>,
    /// Signed A/B updates (handled when present).
    pub update: Option<crate::update::window::UpdateConfig>,
    /// The technicians who may open the admin mode, and the supplies' capacities.
    pub admin: crate::services::technicians::AdminConfig,
    pub devices: Vec<DeviceSpec>,
}

/// A config problem at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    (line, col)
}

/// Builds errors positioned in one file.
struct Errors<'a> {
    file: String,
    text: &'a str,
    spans: Spans,
}

impl Errors<'_> {
    fn at(&self, span: Option<Range<usize>>, message: String) -> ConfigError {
        let (line, column) = span.map_or((0, 0), |s| line_col(self.text, s.start));
        ConfigError {
            file: self.file.clone(),
            line,
            column,
            message,
        }
    }

    /// An error about the key at `path` (keys only, no indices).
    fn key(&self, path: &[&str], message: String) -> ConfigError {
        let steps: Vec<Step<'_>> = path.iter().map(|k| Step::Key(k)).collect();
        let span = self
            .spans
            .key(&steps)
            .or_else(|| self.spans.key(&steps[..steps.len().saturating_sub(1)]));
        self.at(span, message)
    }

    /// Fails with `message` at `path` unless `ok`.
    fn check(&self, ok: bool, path: &[&str], message: &str) -> Result<(), ConfigError> {
        if ok {
            Ok(())
        } else {
            Err(self.key(path, message.to_string()))
        }
    }
}

impl Config {
    /// What the staff pad checks a try against: the technicians, or the shared PIN.
    pub fn credentials(&self) -> crate::services::technicians::Credentials {
        crate::services::technicians::Credentials {
            technicians: self.admin.technicians.clone(),
            shared_pin: self.ui.staff_pin.clone(),
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let errors = Errors {
            file: path.display().to_string(),
            text,
            spans: Spans::parse(text),
        };
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| errors.at(e.span(), e.message().trim().replace('\n', "; ")))?;
        validate(&raw, &errors)?;

        let mut ids = std::collections::HashSet::new();
        let mut devices = Vec::new();
        for (i, d) in raw.devices.into_iter().enumerate() {
            let span = Some(d.span());
            let spec = d.into_inner();
            let at_id = errors
                .spans
                .key(&[Step::Key("devices"), Step::Index(i), Step::Key("id")])
                .or(span.clone());
            if !ids.insert(spec.id.clone()) {
                return Err(errors.at(at_id, format!("device id {:?} is used twice", spec.id)));
            }
            kiosk_drivers::registry::validate(&spec)
                .map_err(|m| errors.at(span, format!("device {}: {m}", spec.id)))?;
            devices.push(spec);
        }

        // Files a config names are found beside it, wherever the terminal is started from.
        let base = path.parent().unwrap_or(Path::new("."));
        let beside = |p: &Path| -> PathBuf {
            if p.is_relative() {
                base.join(p)
            } else {
                p.to_path_buf()
            }
        };
        let mut face = raw.face;
        face.models = beside(&face.models);
        let mut attract = raw.attract;
        attract.folder = attract.folder.as_deref().map(beside);
        let mut catalogue = raw.catalogue;
        catalogue.embedded_sample = catalogue.embedded_sample.as_deref().map(beside);
        catalogue.embedded_documents = catalogue.embedded_documents.as_deref().map(beside);
        catalogue.embedded_staff = catalogue.embedded_staff.as_deref().map(beside);
        for d in devices.iter_mut() {
            for key in ["sim_source", "sim_ir", "capture_dir"] {
                if let Some(serde_json::Value::String(s)) = d.options.get(key) {
                    if !matches!(s.as_str(), "derive" | "blank") && Path::new(s).is_relative() {
                        let joined = base.join(s).display().to_string();
                        d.options
                            .insert(key.into(), serde_json::Value::String(joined));
                    }
                }
            }
        }
        for camera in face.cameras.keys() {
            if !devices
                .iter()
                .any(|d| &d.id == camera && d.kind == kiosk_hal::DeviceKind::FaceCamera)
            {
                return Err(errors.key(
                    &["face", "cameras", camera],
                    format!("[face.cameras.{camera}] names no face camera in the device table"),
                ));
            }
        }
        let t = &raw.journeys.ticket;
        for (key, named) in [
            ("printer", &t.printer),
            ("card_reader", &t.card_reader),
            ("scanner", &t.scanner),
            ("board", &t.board),
        ] {
            if let Some(id) = named {
                if !devices.iter().any(|d| &d.id == id) {
                    return Err(errors.key(
                        &["journeys", "ticket", key],
                        format!("journeys.ticket.{key} names no device {id:?} in the device table"),
                    ));
                }
            }
        }

        if let Some(w) = &raw.window {
            for (key, named) in [
                ("card_reader", &w.card_reader),
                ("scanner", &w.scanner),
                ("printer", &w.printer),
                ("ic_reader", &w.ic_reader),
                ("document_camera", &w.document_camera),
            ] {
                if let Some(id) = named {
                    if !devices.iter().any(|d| &d.id == id) {
                        return Err(errors.key(
                            &["window", key],
                            format!("window.{key} names no device {id:?} in the device table"),
                        ));
                    }
                }
            }
            if let Err(e) = crate::services::cast::CastSource::parse(&w.cast) {
                return Err(errors.key(&["window", "cast"], format!("window.cast: {e}")));
            }
            if !(1..=15).contains(&w.cast_fps) {
                return Err(errors.key(
                    &["window", "cast_fps"],
                    "window.cast_fps is 1 to 15 frames a second".to_string(),
                ));
            }
        }
        if let Some(g) = &raw.gateway {
            check_gateway(g, &errors)?;
        }
        if let Some(u) = &raw.usb {
            u.check().map_err(|m| errors.key(&["usb"], m))?;
        }
        raw.admin.check().map_err(|m| errors.key(&["admin"], m))?;
        Ok(Config {
            source: path.to_path_buf(),
            terminal: raw.terminal,
            centre: raw.centre,
            ui: raw.ui,
            idle: raw.idle,
            attract,
            journeys: raw.journeys,
            catalogue,
            log: raw.log,
            outbox: raw.outbox,
            outputs: raw.outputs,
            face,
            window: raw.window,
            gateway: raw.gateway,
            usb: raw.usb,
            update: raw.update,
            admin: raw.admin,
            devices,
        })
    }

    pub fn language(&self) -> kiosk_ui::Language {
        kiosk_ui::Language::parse(&self.ui.language).unwrap_or(kiosk_ui::Language::ZhCn)
    }

    pub fn offset(&self) -> chrono::FixedOffset {
        kiosk_hal::clock::parse_offset(&self.terminal.timezone)
            .unwrap_or_else(|_| kiosk_hal::clock::china_offset())
    }

    /// The centre CA file, relative paths taken from the config file's folder.
    pub fn centre_ca(&self) -> Option<PathBuf> {
        self.centre.ca_cert.as_ref().map(|p| self.beside(p))
    }

    /// What the window unit casts, relative pictures taken from the config file's folder.
    pub fn cast_source(&self) -> Option<crate::services::cast::CastSource> {
        let w = self.window.as_ref()?;
        match crate::services::cast::CastSource::parse(&w.cast).ok()? {
            crate::services::cast::CastSource::Picture(p) => {
                Some(crate::services::cast::CastSource::Picture(self.beside(&p)))
            }
            other => Some(other),
        }
    }

    /// The data directory, relative paths taken from the config file's folder.
    pub fn data_dir(&self) -> PathBuf {
        self.beside(&self.terminal.data_dir)
    }

    fn beside(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.source.parent().unwrap_or(Path::new(".")).join(p)
        }
    }

    /// The device `id` names, or the first device of `kind` when none is named.
    pub fn device_for(&self, named: Option<&str>, kind: kiosk_hal::DeviceKind) -> Option<String> {
        match named {
            Some(id) => Some(id.to_string()),
            None => self
                .devices
                .iter()
                .find(|d| d.kind == kind)
                .map(|d| d.id.clone()),
        }
    }
}

/// Checks what the types alone cannot.
fn validate(raw: &RawConfig, e: &Errors<'_>) -> Result<(), ConfigError> {
    let t = &raw.terminal;
    e.check(
        !t.id.is_empty()
            && t.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        &["terminal", "id"],
        &format!("terminal.id {:?} must be letters, digits, '-' or '_'", t.id),
    )?;
    kiosk_hal::clock::parse_offset(&t.timezone)
        .map_err(|m| e.key(&["terminal", "timezone"], format!("terminal.timezone: {m}")))?;
    e.check(
        (100..=60_000).contains(&t.poll_interval_ms),
        &["terminal", "poll_interval_ms"],
        "terminal.poll_interval_ms must be between 100 and 60000",
    )?;
    match (t.role, &raw.window) {
        (Role::Window, None) => {
            return Err(e.key(
                &["terminal", "role"],
                "terminal.role = \"window\" needs a [window] section (number = \"3\" at least)"
                    .to_string(),
            ))
        }
        (Role::Kiosk, Some(_)) => {
            return Err(e.key(
                &["window"],
                "[window] is for a window unit: set terminal.role = \"window\" or remove it"
                    .to_string(),
            ))
        }
        (Role::Window, Some(w)) => {
            e.check(
                kiosk_protocol::queue::is_name(&w.number, 16),
                &["window", "number"],
                "window.number must be 1 to 16 printable characters (as said aloud: 3, 12A)",
            )?;
            let hhmm =
                |s: &str| chrono::NaiveTime::parse_from_str(s, "%H:%M").is_ok() && s.len() == 5;
            e.check(
                hhmm(&w.opens),
                &["window", "opens"],
                &format!("window.opens {:?} must be a time as 08:30", w.opens),
            )?;
            e.check(
                hhmm(&w.closes) && w.closes > w.opens,
                &["window", "closes"],
                &format!(
                    "window.closes {:?} must be a time as 17:30, after window.opens",
                    w.closes
                ),
            )?;
            e.check(
                !w.days.is_empty() && w.days.iter().all(|d| (1..=7).contains(d)),
                &["window", "days"],
                "window.days are weekdays 1 (Monday) to 7 (Sunday)",
            )?;
            e.check(
                (1..=120).contains(&w.thanks_s),
                &["window", "thanks_s"],
                "window.thanks_s must be between 1 and 120",
            )?;
            e.check(
                (5..=300).contains(&w.card_timeout_s),
                &["window", "card_timeout_s"],
                "window.card_timeout_s must be between 5 and 300",
            )?;
        }
        (Role::Kiosk, None) => {}
    }
    let c = &raw.centre;
    if let Some(url) = &c.url {
        e.check(
            url.starts_with("http://") || url.starts_with("https://"),
            &["centre", "url"],
            &format!("centre.url {url:?} must start with http:// or https://"),
        )?;
    }
    for k in &c.publisher_keys {
        if let Err(err) = k.parse::<kiosk_protocol::signing::PublicKey>() {
            return Err(e.key(
                &["centre", "publisher_keys"],
                format!("centre.publisher_keys: {err}"),
            ));
        }
    }
    for (key, v) in [
        ("command_interval_s", c.command_interval_s),
        ("heartbeat_interval_s", c.heartbeat_interval_s),
        ("health_interval_s", c.health_interval_s),
    ] {
        e.check(
            v >= 1,
            &["centre", key],
            &format!("centre.{key} must be at least 1"),
        )?;
    }
    e.check(
        (1..=120).contains(&c.request_timeout_s),
        &["centre", "request_timeout_s"],
        "centre.request_timeout_s must be between 1 and 120",
    )?;
    kiosk_ui::Language::parse(&raw.ui.language)
        .map_err(|err| e.key(&["ui", "language"], format!("ui.language: {err}")))?;
    e.check(
        (1..=600).contains(&raw.ui.window_wait_s),
        &["ui", "window_wait_s"],
        "ui.window_wait_s must be between 1 and 600",
    )?;
    e.check(
        (1..=20).contains(&raw.ui.window_attempts),
        &["ui", "window_attempts"],
        "ui.window_attempts must be between 1 and 20",
    )?;
    if let Some(pin) = &raw.ui.staff_pin {
        e.check(
            (4..=12).contains(&pin.len()) && pin.chars().all(|c| c.is_ascii_digit()),
            &["ui", "staff_pin"],
            "ui.staff_pin must be 4 to 12 digits",
        )?;
    }
    let idle_ok = |after: u64, countdown: u64| (10..=3600).contains(&after) && countdown <= 300;
    e.check(
        idle_ok(raw.idle.after_s, raw.idle.countdown_s),
        &["idle", "after_s"],
        "idle.after_s must be between 10 and 3600 and idle.countdown_s at most 300",
    )?;
    for (screen, o) in &raw.idle.screens {
        let times = raw.idle.times(screen);
        if !idle_ok(times.after_s, times.countdown_s) {
            let key = if o.after_s.is_some() {
                "after_s"
            } else {
                "countdown_s"
            };
            return Err(e.key(
                &["idle", "screens", screen, key],
                format!(
                    "idle.screens.{screen}: after_s must be between 10 and 3600 and countdown_s at most 300"
                ),
            ));
        }
    }
    e.check(
        (2..=600).contains(&raw.attract.slide_s),
        &["attract", "slide_s"],
        "attract.slide_s must be between 2 and 600",
    )?;
    for (i, j) in raw.journeys.offered.iter().enumerate() {
        if !JOURNEYS.contains(&j.as_str()) {
            return Err(e.at(
                e.spans
                    .key(&[Step::Key("journeys"), Step::Key("offered"), Step::Index(i)]),
                format!(
                    "journeys.offered: no journey {j:?}; journeys: {}",
                    JOURNEYS.join(", ")
                ),
            ));
        }
    }
    let tj = &raw.journeys.ticket;
    e.check(
        (3..=300).contains(&tj.taken_s),
        &["journeys", "ticket", "taken_s"],
        "journeys.ticket.taken_s must be between 3 and 300",
    )?;
    e.check(
        tj.offline_numbers <= 200,
        &["journeys", "ticket", "offline_numbers"],
        "journeys.ticket.offline_numbers must be between 0 (off) and 200",
    )?;
    e.check(
        (5..=600).contains(&tj.card_timeout_s),
        &["journeys", "ticket", "card_timeout_s"],
        "journeys.ticket.card_timeout_s must be between 5 and 600",
    )?;
    tracing_subscriber::EnvFilter::try_new(&raw.log.level).map_err(|err| {
        e.key(
            &["log", "level"],
            format!("log.level {:?}: {err}", raw.log.level),
        )
    })?;
    e.check(
        raw.outbox.audit_days >= raw.outbox.retention_days,
        &["outbox", "audit_days"],
        "outbox.audit_days must be at least outbox.retention_days",
    )?;
    Ok(())
}

/// The gateway's systems: tokens as SHA-256 hex, known scopes, origins a browser can send.
fn check_gateway(g: &GatewayConfig, errors: &Errors<'_>) -> Result<(), ConfigError> {
    if g.mode == GatewayMode::Kiosk && g.kiosk_url.is_none() {
        return Err(errors.key(
            &["gateway", "kiosk_url"],
            "gateway.mode = \"kiosk\" needs kiosk_url, the business page to show".into(),
        ));
    }
    let mut names = std::collections::HashSet::new();
    for s in &g.systems {
        if !names.insert(s.name.as_str()) {
            return Err(errors.key(
                &["gateway", "systems"],
                format!("gateway system name {:?} is used twice", s.name),
            ));
        }
        crate::gateway::access::check_system(s)
            .map_err(|why| errors.key(&["gateway", "systems"], why))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[terminal]
id = "KSK-320583-0001"
service_point = "昆山市政务服务中心"
fault_phone = "0512-5555-1234"
profile = "sim"

[[devices]]
id = "scanner"
kind = "qr-scanner"
driver = "qr-serial"
transport = "serial"
path = "/dev/ttyACM0"
"#;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("kiosk.toml"))
    }

    #[test]
    fn good_config_parses_with_defaults() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.terminal.profile, Profile::Sim);
        assert_eq!(c.devices.len(), 1);
        assert_eq!(c.centre.url, None);
        assert_eq!(c.ui.orientation, Orientation::Landscape);
        assert_eq!((c.ui.window_wait_s, c.ui.window_attempts), (15, 4));
        assert_eq!(c.offset().local_minus_utc(), 8 * 3600);
    }

    #[test]
    fn a_window_unit_needs_its_section_and_sane_hours() {
        let window = GOOD.replace("profile = \"sim\"", "profile = \"sim\"\nrole = \"window\"");
        let e = parse(&window).unwrap_err();
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("[window]"), "{e}");
        let c = parse(&format!("{window}\n[window]\nnumber = \"3\"\n")).unwrap();
        let w = c.window.clone().expect("the window section");
        assert_eq!((w.opens.as_str(), w.closes.as_str()), ("08:30", "17:30"));
        let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // 2026-12-03 is a Thursday; 2026-12-06 a Sunday.
        assert!(w.open_at(at("2026-12-03 08:30")));
        assert!(!w.open_at(at("2026-12-03 17:30")));
        assert!(!w.open_at(at("2026-12-03 07:59")));
        assert!(!w.open_at(at("2026-12-06 10:00")));
        // Casting grabs the X display by default; a picture is taken beside the config.
        assert_eq!(
            c.cast_source(),
            Some(crate::services::cast::CastSource::X11(None))
        );
        let pic = parse(&format!(
            "{window}\n[window]\nnumber = \"3\"\ncast = \"picture:cast/clerk.png\"\n"
        ))
        .unwrap();
        assert!(matches!(
            pic.cast_source(),
            Some(crate::services::cast::CastSource::Picture(p)) if p.ends_with("cast/clerk.png")
        ));
        for (bad, key) in [
            ("number = \"\"", "window.number"),
            ("number = \"3\"\nopens = \"8:30\"", "window.opens"),
            ("number = \"3\"\ncloses = \"08:00\"", "window.closes"),
            ("number = \"3\"\ndays = [0]", "window.days"),
            (
                "number = \"3\"\ncard_reader = \"idcard\"",
                "window.card_reader",
            ),
            ("number = \"3\"\nic_reader = \"sscard\"", "window.ic_reader"),
            ("number = \"3\"\ncast = \"wayland\"", "window.cast"),
            ("number = \"3\"\ncast_fps = 0", "window.cast_fps"),
        ] {
            let e = parse(&format!("{window}\n[window]\n{bad}\n")).unwrap_err();
            assert!(e.message.contains(key), "{bad}: {e}");
        }
        // A kiosk with a [window] section is a mistake, said as one.
        let e = parse(&format!("{GOOD}\n[window]\nnumber = \"3\"\n")).unwrap_err();
        assert!(e.message.contains("terminal.role"), "{e}");
    }

    #[test]
    fn the_gateway_section_is_checked_before_anything_listens() {
        let hash = "41e7b3be8eb441c8011112eac5cfd018cb4c4917e6ac2e8c64abd45c107ea0fa";
        let system = |origins: &str, token: &str, scopes: &str| {
            format!(
                "{GOOD}\n[gateway]\nport = 0\n[[gateway.systems]]\nname = \"a\"\norigins = [{origins}]\ntoken_sha256 = \"{token}\"\nscopes = [{scopes}]\n"
            )
        };
        let c = parse(&system(
            "\"https://yw.example.gov.cn\"",
            hash,
            "\"idcard.read\"",
        ))
        .unwrap();
        let g = c.gateway.unwrap();
        assert_eq!((g.port, g.systems.len(), g.result_ttl_s), (0, 1, 60));
        assert_eq!(g.mode, GatewayMode::Background);
        for (bad, words) in [
            (
                system("\"https://a.gov.cn\"", "abc", "\"idcard.read\""),
                "64 hex digits",
            ),
            (
                system("\"https://a.gov.cn\"", hash, "\"everything\""),
                "unknown scope",
            ),
            (system("\"a.gov.cn\"", hash, "\"idcard.read\""), "origin"),
            (
                system("\"https://a.gov.cn/path\"", hash, "\"idcard.read\""),
                "no path",
            ),
            (
                format!("{GOOD}\n[gateway]\nmode = \"kiosk\"\n"),
                "kiosk_url",
            ),
        ] {
            let e = parse(&bad).unwrap_err();
            assert!(e.message.contains(words), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_key_is_named_with_file_and_line() {
        let bad = GOOD.replace(
            "path = \"/dev/ttyACM0\"",
            "path = \"/dev/ttyACM0\"\nbaudrate = 9600",
        );
        let e = parse(&bad).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("kiosk.toml", 14), "{e}");
        assert!(e.message.contains("baudrate"), "{e}");
        assert!(e.to_string().starts_with("kiosk.toml:14:"), "{e}");
    }

    #[test]
    fn bad_values_are_named_with_their_line() {
        let e = parse(&GOOD.replace("profile = \"sim\"", "profile = \"simulation\"")).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let e = parse(&GOOD.replace("driver = \"qr-serial\"", "driver = \"qr-usb\"")).unwrap_err();
        assert_eq!(e.line, 8, "device errors point at the device table: {e}");
        assert!(e.message.contains("unknown driver"), "{e}");
        let e = parse(&format!("{GOOD}\n[ui]\nlanguage = \"fr\"\n")).unwrap_err();
        assert_eq!(e.line, 16, "{e}");
        let e = parse(&format!("{GOOD}\n[ui]\nwindow_wait_s = 0\n")).unwrap_err();
        assert_eq!(e.line, 16, "{e}");
        assert!(e.message.contains("ui.window_wait_s"), "{e}");
        let e = parse(&format!("{GOOD}\n[ui]\nwindow_attempts = 0\n")).unwrap_err();
        assert_eq!(e.line, 16, "{e}");
        assert!(e.message.contains("ui.window_attempts"), "{e}");
        let e = parse(&GOOD.replace("id = \"KSK-320583-0001\"", "id = \"KSK 1\"")).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let twice = format!("{GOOD}\n[[devices]]\nid = \"scanner\"\nkind = \"qr-scanner\"\ndriver = \"qr-serial\"\ntransport = \"serial\"\npath = \"/dev/ttyS1\"\n");
        let e = parse(&twice).unwrap_err();
        assert!(e.message.contains("used twice") && e.line == 16, "{e}");
    }

    #[test]
    fn the_same_key_in_two_tables_is_named_where_it_is_wrong() {
        // `after_s` is in [idle] and in [idle.screens.home]; only the second is wrong, and a
        // comment mentioning [idle.screens.home] comes first to mislead any text search.
        let text = format!(
            "{GOOD}\n# [idle.screens.home]\n# after_s = 5 would be too short\n[idle]\nafter_s = 60\ncountdown_s = 20\n\n[idle.screens.home]\ncountdown_s = 10\nafter_s = 5\n"
        );
        let e = parse(&text).unwrap_err();
        assert_eq!((e.line, e.column), (23, 1), "{e}");
        assert!(e.message.contains("idle.screens.home"), "{e}");
        // The same mistake in [idle] itself is named there.
        let e = parse(&format!("{GOOD}\n[idle]\ncountdown_s = 20\nafter_s = 3\n")).unwrap_err();
        assert_eq!(e.line, 17, "{e}");
        // A key inside an inline table of a device points at that device's line, not the
        // first device's.
        let two = format!(
            "{GOOD}\n[[devices]]\nid = \"printer\"\nkind = \"receipt-printer\"\ndriver = \"escpos\"\ntransport = \"serial\"\npath = \"/dev/ttyS1\"\n\n[journeys.ticket]\nprinter = \"receipt\"\n"
        );
        let e = parse(&two).unwrap_err();
        assert_eq!(e.line, 23, "{e}");
        assert!(e.message.contains("journeys.ticket.printer"), "{e}");
    }

    #[test]
    fn idle_times_fall_back_to_the_defaults() {
        let c = parse(&format!(
            "{GOOD}\n[idle]\nafter_s = 90\n[idle.screens.ticket-taken]\nafter_s = 15\n"
        ))
        .unwrap();
        assert_eq!(c.idle.times("home").after_s, 90);
        assert_eq!(c.idle.times("home").countdown_s, 20);
        assert_eq!(c.idle.times("ticket-taken").after_s, 15);
        assert_eq!(c.journeys.offered, vec!["ticket".to_string()]);
        let e = parse(&format!(
            "{GOOD}\n[journeys]\noffered = [\"ticket\", \"lottery\"]\n"
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (16, 22), "{e}");
    }

    #[test]
    fn shipped_configs_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                Config::load(&p).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(
            n >= 2,
            "expected the sim and hardware sample configs in config/"
        );
    }
}
