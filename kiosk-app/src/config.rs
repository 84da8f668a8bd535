//! The terminal's TOML configuration, validated at start. Every error names its file and line:
//! a technician editing a config in the hall must not have to guess which key is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

use kiosk_drivers::DeviceSpec;
use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Every device simulated in-process over real ptys and sockets.
    Sim,
    /// Real devices from the device table.
    Hardware,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sim" => Ok(Profile::Sim),
            "hardware" => Ok(Profile::Hardware),
            other => Err(format!("profile {other:?} must be sim or hardware")),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("var")
}
fn default_timezone() -> String {
    "+08:00".into()
}
fn default_listen() -> String {
    "127.0.0.1:0".into()
}
fn default_health_interval() -> u64 {
    10
}
fn default_heartbeat_interval() -> u64 {
    30
}
fn default_poll_ms() -> u64 {
    1000
}
fn default_language() -> String {
    "zh-CN".into()
}
fn default_orientation() -> Orientation {
    Orientation::Landscape
}
fn default_window_wait_s() -> u64 {
    15
}
fn default_window_attempts() -> u32 {
    4
}
fn default_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalConfig {
    /// This terminal's id, as the centre knows it (`KSK-320583-0001`).
    pub id: String,
    pub service_point: String,
    pub fault_phone: String,
    pub profile: Profile,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Local time offset for the clock on screen.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// How often idle devices are polled for health.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentreConfig {
    /// The remote centre. Absent: the runtime starts one in-process on loopback.
    #[serde(default)]
    pub url: Option<String>,
    /// Where the embedded centre listens (port 0 = any free port).
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_health_interval")]
    pub health_interval_s: u64,
    /// How often the terminal reports its health, usage and queue depth.
    #[serde(default = "default_heartbeat_interval")]
    pub heartbeat_interval_s: u64,
    /// How often the terminal asks the centre for remote commands and documents.
    #[serde(default = "default_command_interval")]
    pub command_interval_s: u64,
    /// Publisher keys whose signed configuration and catalogue this terminal accepts
    /// (`ed25519:HEX` or `sm2:HEX`). None: documents are not fetched.
    #[serde(default)]
    pub publisher_keys: Vec<String>,
    /// The centre's CA certificate (PEM). Set: an https centre is trusted through this CA only.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
}

fn default_command_interval() -> u64 {
    10
}

impl Default for CentreConfig {
    fn default() -> Self {
        CentreConfig {
            url: None,
            listen: default_listen(),
            health_interval_s: default_health_interval(),
            heartbeat_interval_s: default_heartbeat_interval(),
            command_interval_s: default_command_interval(),
            publisher_keys: Vec::new(),
            ca_cert: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Orientation {
    Landscape,
    Portrait,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default = "default_orientation")]
    pub orientation: Orientation,
    /// How long the display gets to show the kiosk window, per attempt.
    #[serde(default = "default_window_wait_s")]
    pub window_wait_s: u64,
    /// How many times the window is asked for before the kiosk exits with an error.
    #[serde(default = "default_window_attempts")]
    pub window_attempts: u32,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            language: default_language(),
            orientation: default_orientation(),
            window_wait_s: default_window_wait_s(),
            window_attempts: default_window_attempts(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_level(),
        }
    }
}

fn default_retention_days() -> u32 {
    30
}
fn default_audit_days() -> u32 {
    180
}

/// How long the device keeps what the centre already has.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Personal data in acknowledged events (and their attachments) is purged this long after
    /// acknowledgement.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// Acknowledged events (purged of personal data) stay this long for the audit trail.
    #[serde(default = "default_audit_days")]
    pub audit_days: u32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            retention_days: default_retention_days(),
            audit_days: default_audit_days(),
        }
    }
}

/// What a seal impression may do when the centre cannot authorise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SealOffline {
    /// No impression without the centre's one-time authorisation.
    #[default]
    Refuse,
    /// Stamp under a local authorisation id, recorded for the centre to audit later.
    Local,
}

/// Physical outputs: receipts, A4 prints, seal impressions.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OutputsConfig {
    #[serde(default)]
    pub seal_offline: SealOffline,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    terminal: TerminalConfig,
    #[serde(default)]
    centre: CentreConfig,
    #[serde(default)]
    ui: UiConfig,
    #[serde(default)]
    log: LogConfig,
    #[serde(default)]
    outbox: OutboxConfig,
    #[serde(default)]
    outputs: OutputsConfig,
    #[serde(default)]
    face: crate::face::FaceConfig,
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
    pub log: LogConfig,
    pub outbox: OutboxConfig,
    pub outputs: OutputsConfig,
    pub face: crate::face::FaceConfig,
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
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    (line, col)
}

/// Finds where `key = ...` is written inside a table, for errors found after parsing.
fn key_offset(text: &str, table_header: &str, key: &str) -> Option<usize> {
    let start = text.find(table_header).unwrap_or(0);
    let rest = &text[start..];
    let mut off = start;
    for line in rest.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with(key) && t[key.len()..].trim_start().starts_with('=') {
            return Some(off + (line.len() - t.len()));
        }
        off += line.len();
    }
    None
}

impl Config {
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
        let file = path.display().to_string();
        let at = |offset: Option<usize>, message: String| {
            let (line, column) = offset.map_or((0, 0), |o| line_col(text, o));
            ConfigError {
                file: file.clone(),
                line,
                column,
                message,
            }
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            at(
                e.span().map(|s| s.start),
                e.message().trim().replace('\n', "; "),
            )
        })?;

        let t = &raw.terminal;
        let term_key = |k: &str| key_offset(text, "[terminal]", k);
        if t.id.is_empty()
            || !t
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(at(
                term_key("id"),
                format!("terminal.id {:?} must be letters, digits, '-' or '_'", t.id),
            ));
        }
        kiosk_hal::clock::parse_offset(&t.timezone)
            .map_err(|m| at(term_key("timezone"), format!("terminal.timezone: {m}")))?;
        if !(100..=60_000).contains(&t.poll_interval_ms) {
            return Err(at(
                term_key("poll_interval_ms"),
                "terminal.poll_interval_ms must be between 100 and 60000".into(),
            ));
        }
        if let Some(url) = &raw.centre.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(at(
                    key_offset(text, "[centre]", "url"),
                    format!("centre.url {url:?} must start with http:// or https://"),
                ));
            }
        }
        for k in &raw.centre.publisher_keys {
            if let Err(e) = k.parse::<kiosk_protocol::signing::PublicKey>() {
                return Err(at(
                    key_offset(text, "[centre]", "publisher_keys"),
                    format!("centre.publisher_keys: {e}"),
                ));
            }
        }
        if raw.centre.command_interval_s == 0 {
            return Err(at(
                key_offset(text, "[centre]", "command_interval_s"),
                "centre.command_interval_s must be at least 1".into(),
            ));
        }
        if raw.centre.heartbeat_interval_s == 0 {
            return Err(at(
                key_offset(text, "[centre]", "heartbeat_interval_s"),
                "centre.heartbeat_interval_s must be at least 1".into(),
            ));
        }
        if raw.centre.health_interval_s == 0 {
            return Err(at(
                key_offset(text, "[centre]", "health_interval_s"),
                "centre.health_interval_s must be at least 1".into(),
            ));
        }
        kiosk_ui::Language::parse(&raw.ui.language).map_err(|e| {
            at(
                key_offset(text, "[ui]", "language"),
                format!("ui.language: {e}"),
            )
        })?;
        if !(1..=600).contains(&raw.ui.window_wait_s) {
            return Err(at(
                key_offset(text, "[ui]", "window_wait_s"),
                "ui.window_wait_s must be between 1 and 600".into(),
            ));
        }
        if !(1..=20).contains(&raw.ui.window_attempts) {
            return Err(at(
                key_offset(text, "[ui]", "window_attempts"),
                "ui.window_attempts must be between 1 and 20".into(),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&raw.log.level).map_err(|e| {
            at(
                key_offset(text, "[log]", "level"),
                format!("log.level {:?}: {e}", raw.log.level),
            )
        })?;

        if raw.outbox.audit_days < raw.outbox.retention_days {
            return Err(at(
                key_offset(text, "[outbox]", "audit_days"),
                "outbox.audit_days must be at least outbox.retention_days".into(),
            ));
        }
        let mut ids = std::collections::HashSet::new();
        let mut devices = Vec::new();
        for d in raw.devices {
            let offset = d.span().start;
            let spec = d.into_inner();
            if !ids.insert(spec.id.clone()) {
                return Err(at(
                    Some(offset),
                    format!("device id {:?} is used twice", spec.id),
                ));
            }
            kiosk_drivers::registry::validate(&spec)
                .map_err(|m| at(Some(offset), format!("device {}: {m}", spec.id)))?;
            devices.push(spec);
        }

        // Files a config names are found beside it, wherever the terminal is started from.
        let base = path.parent().unwrap_or(Path::new("."));
        let mut face = raw.face;
        if face.models.is_relative() {
            face.models = base.join(&face.models);
        }
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
                return Err(at(
                    None,
                    format!("[face.cameras.{camera}] names no face camera in the device table"),
                ));
            }
        }

        Ok(Config {
            source: path.to_path_buf(),
            terminal: raw.terminal,
            centre: raw.centre,
            ui: raw.ui,
            log: raw.log,
            outbox: raw.outbox,
            outputs: raw.outputs,
            face,
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

    /// The data directory, relative paths taken from the config file's folder.
    /// The centre CA file, relative paths taken from the config file's folder.
    pub fn centre_ca(&self) -> Option<PathBuf> {
        self.centre.ca_cert.as_ref().map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                self.source.parent().unwrap_or(Path::new(".")).join(p)
            }
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        if self.terminal.data_dir.is_absolute() {
            self.terminal.data_dir.clone()
        } else {
            self.source
                .parent()
                .unwrap_or(Path::new("."))
                .join(&self.terminal.data_dir)
        }
    }
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
        assert!(e.message.contains("used twice") && e.line == 15, "{e}");
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
