//! The sections of the terminal's configuration file, each with its defaults. Validation that
//! needs more than a type lives in `config/mod.rs`, where errors get their file position.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiosk_models::{BackendKind, VerifyPolicy};
use serde::{Deserialize, Serialize};

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
fn default_command_interval() -> u64 {
    10
}
fn default_request_timeout() -> u64 {
    10
}
fn default_poll_ms() -> u64 {
    1000
}
fn default_language() -> String {
    "zh-CN".into()
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
fn default_retention_days() -> u32 {
    30
}
fn default_audit_days() -> u32 {
    180
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
    /// What this terminal is: a self-service kiosk, or a window dual-screen unit (`[window]`).
    #[serde(default)]
    pub role: Role,
}

/// What a terminal is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The citizens' self-service kiosk (journeys on one touch screen).
    #[default]
    Kiosk,
    /// A hall window's dual-screen unit: the clerk's caller toolbar and the citizen screen.
    Window,
}

fn default_window_open() -> String {
    "08:30".into()
}
fn default_window_close() -> String {
    "17:30".into()
}
fn default_window_days() -> Vec<u8> {
    vec![1, 2, 3, 4, 5, 6]
}
fn default_thanks_s() -> u64 {
    6
}

/// `[window]`: a window dual-screen unit (`[terminal] role = "window"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// The window's number as the hall says it aloud (`3`: 「到 3 号窗口」).
    pub number: String,
    /// Opening hours, local time (`08:30`, `17:30`), and the days open (1 Monday … 7
    /// Sunday): outside them, with no clerk signed in, the citizen screen sleeps.
    #[serde(default = "default_window_open")]
    pub opens: String,
    #[serde(default = "default_window_close")]
    pub closes: String,
    #[serde(default = "default_window_days")]
    pub days: Vec<u8>,
    /// The services this window calls from. A hall's centre keeps them (`kiosk-central queue
    /// window`); with the embedded centre the unit sets them up itself. Empty: every queue
    /// group of the catalogue.
    #[serde(default)]
    pub services: Vec<String>,
    /// "Thank you" after a rating stays this long.
    #[serde(default = "default_thanks_s")]
    pub thanks_s: u64,
    /// How long the reader waits for the citizen's card.
    #[serde(default = "default_card_timeout_s")]
    pub card_timeout_s: u64,
    /// The calls are said on the unit's speaker too (the hall display host says them as well).
    #[serde(default = "default_true")]
    pub announce: bool,
    /// The unit says its prompts to the citizen (welcome, place your card, please confirm,
    /// please sign, please rate, thank you), as evaluation pads do.
    #[serde(default = "default_true")]
    pub voice_prompts: bool,
    #[serde(default)]
    pub card_reader: Option<String>,
    #[serde(default)]
    pub scanner: Option<String>,
    #[serde(default)]
    pub printer: Option<String>,
    /// The IC card reader for the citizen's social-security card (PC/SC).
    #[serde(default)]
    pub ic_reader: Option<String>,
    /// The document camera (高拍仪) the clerk photographs materials with.
    #[serde(default)]
    pub document_camera: Option<String>,
    /// What "cast" (投屏) shows on the citizen screen: `x11` (the clerk's X display, from
    /// `$DISPLAY`), `x11::1` (a named display), or `picture:PATH` (a still picture of a
    /// clerk's screen, for the simulator; relative to the config file).
    #[serde(default = "default_cast")]
    pub cast: String,
    /// Frames a second while casting.
    #[serde(default = "default_cast_fps")]
    pub cast_fps: u32,
}

fn default_cast() -> String {
    "x11".into()
}

fn default_cast_fps() -> u32 {
    4
}

fn default_true() -> bool {
    true
}

impl WindowConfig {
    /// Whether the hall is open at `local` (the terminal's time zone).
    pub fn open_at(&self, local: chrono::NaiveDateTime) -> bool {
        use chrono::Datelike;
        let day = local.weekday().number_from_monday() as u8;
        let t = local.format("%H:%M").to_string();
        self.days.contains(&day) && t >= self.opens && t < self.closes
    }
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
    /// How long one request to the centre may take before it counts as unreachable. A citizen
    /// waits on ticket numbers and seal authorisations, so this stays short.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_s: u64,
    /// Publisher keys whose signed configuration and catalogue this terminal accepts
    /// (`ed25519:HEX` or `sm2:HEX`). None: documents are not fetched.
    #[serde(default)]
    pub publisher_keys: Vec<String>,
    /// The centre's CA certificate (PEM). Set: an https centre is trusted through this CA only.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
}

impl CentreConfig {
    /// The publisher keys, parsed (the configuration's check refuses one that does not parse).
    pub fn trusted_keys(&self) -> Vec<kiosk_protocol::signing::PublicKey> {
        self.publisher_keys
            .iter()
            .filter_map(|k| k.parse().ok())
            .collect()
    }
}

impl Default for CentreConfig {
    fn default() -> Self {
        CentreConfig {
            url: None,
            listen: default_listen(),
            health_interval_s: default_health_interval(),
            heartbeat_interval_s: default_heartbeat_interval(),
            command_interval_s: default_command_interval(),
            request_timeout_s: default_request_timeout(),
            publisher_keys: Vec::new(),
            ca_cert: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Orientation {
    #[default]
    Landscape,
    Portrait,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default)]
    pub orientation: Orientation,
    /// How long the display gets to show the kiosk window, per attempt.
    #[serde(default = "default_window_wait_s")]
    pub window_wait_s: u64,
    /// How many times the window is asked for before the kiosk exits with an error.
    #[serde(default = "default_window_attempts")]
    pub window_attempts: u32,
    /// The digits hall staff enter to see the device status (the admin mode comes later).
    /// None: the staff entry says that no PIN is set.
    #[serde(default)]
    pub staff_pin: Option<String>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            language: default_language(),
            orientation: Orientation::default(),
            window_wait_s: default_window_wait_s(),
            window_attempts: default_window_attempts(),
            staff_pin: None,
        }
    }
}

fn default_idle_after() -> u64 {
    60
}
fn default_idle_countdown() -> u64 {
    20
}

/// How long one screen may go untouched, and how long "Still there?" then counts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleTimes {
    pub after_s: u64,
    pub countdown_s: u64,
}

/// A screen's own idle times; what it leaves out comes from `[idle]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdleOverride {
    pub after_s: Option<u64>,
    pub countdown_s: Option<u64>,
}

/// `[idle]`: the defaults, and per screen (`[idle.screens.ticket-identify]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdleConfig {
    #[serde(default = "default_idle_after")]
    pub after_s: u64,
    #[serde(default = "default_idle_countdown")]
    pub countdown_s: u64,
    #[serde(default)]
    pub screens: BTreeMap<String, IdleOverride>,
}

impl Default for IdleConfig {
    fn default() -> Self {
        IdleConfig {
            after_s: default_idle_after(),
            countdown_s: default_idle_countdown(),
            screens: BTreeMap::new(),
        }
    }
}

impl IdleConfig {
    /// The idle times of `screen`.
    pub fn times(&self, screen: &str) -> IdleTimes {
        let o = self.screens.get(screen).copied().unwrap_or_default();
        IdleTimes {
            after_s: o.after_s.unwrap_or(self.after_s),
            countdown_s: o.countdown_s.unwrap_or(self.countdown_s),
        }
    }
}

fn default_slide_s() -> u64 {
    8
}

/// `[attract]`: what the terminal shows while nobody uses it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttractConfig {
    /// A folder of pictures (PNG or JPEG), shown in name order. Notices come from the signed
    /// catalogue.
    #[serde(default)]
    pub folder: Option<PathBuf>,
    /// How long each slide stays.
    #[serde(default = "default_slide_s")]
    pub slide_s: u64,
}

impl Default for AttractConfig {
    fn default() -> Self {
        AttractConfig {
            folder: None,
            slide_s: default_slide_s(),
        }
    }
}

fn default_offered() -> Vec<String> {
    vec!["ticket".into()]
}
fn default_taken_s() -> u64 {
    15
}
fn default_card_timeout_s() -> u64 {
    60
}
fn default_offline_numbers() -> u32 {
    30
}

/// `[journeys.ticket]`: which devices the queue-ticket journey uses (by default the first of
/// each kind in the device table) and how long its last screen stays.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketJourneyConfig {
    #[serde(default)]
    pub printer: Option<String>,
    #[serde(default)]
    pub card_reader: Option<String>,
    #[serde(default)]
    pub scanner: Option<String>,
    #[serde(default)]
    pub board: Option<String>,
    /// "Please take your ticket" stays this long, then the terminal goes home.
    #[serde(default = "default_taken_s")]
    pub taken_s: u64,
    /// How long the reader waits for a card before the citizen is asked again.
    #[serde(default = "default_card_timeout_s")]
    pub card_timeout_s: u64,
    /// Ticket numbers reserved at the centre at a time, to issue while it cannot be reached
    /// (from A501 on); 0 turns offline numbering off.
    #[serde(default = "default_offline_numbers")]
    pub offline_numbers: u32,
}

impl Default for TicketJourneyConfig {
    fn default() -> Self {
        TicketJourneyConfig {
            printer: None,
            card_reader: None,
            scanner: None,
            board: None,
            taken_s: default_taken_s(),
            card_timeout_s: default_card_timeout_s(),
            offline_numbers: default_offline_numbers(),
        }
    }
}

/// `[journeys]`: what this terminal offers on its home screen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneysConfig {
    #[serde(default = "default_offered")]
    pub offered: Vec<String>,
    #[serde(default)]
    pub ticket: TicketJourneyConfig,
    #[serde(default, rename = "id-copy")]
    pub id_copy: IdCopyConfig,
    #[serde(default)]
    pub apply: ApplyConfig,
    #[serde(default)]
    pub papers: PapersConfig,
}

impl Default for JourneysConfig {
    fn default() -> Self {
        JourneysConfig {
            offered: default_offered(),
            ticket: TicketJourneyConfig::default(),
            id_copy: IdCopyConfig::default(),
            apply: ApplyConfig::default(),
            papers: PapersConfig::default(),
        }
    }
}

/// `[journeys.papers]`: printing the citizen's e-licences (`licences` in `offered`, a home
/// tile) and proofs (`proof` in `offered`, "Print it here" on a proof item's guide) on the A4
/// printer (default: the first). `months` are the records periods a proof with records
/// offers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PapersConfig {
    #[serde(default)]
    pub printer: Option<String>,
    #[serde(default = "default_months")]
    pub months: Vec<u32>,
}

fn default_months() -> Vec<u32> {
    vec![6, 12, 24, 36]
}

impl Default for PapersConfig {
    fn default() -> Self {
        PapersConfig {
            printer: None,
            months: default_months(),
        }
    }
}

/// A text in the hall's language with its English, as the screens show it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LocalText {
    #[serde(rename = "zh-CN")]
    pub zh: String,
    #[serde(default)]
    pub en: Option<String>,
}

/// `[journeys.id-copy]`: the ID card copy. Devices default to the first of their kind; the
/// login uses the ticket journey's reader and scanner. `purposes` are the uses a copy may be
/// printed for (the watermark across both sides); empty: five common ones.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdCopyConfig {
    #[serde(default)]
    pub document_camera: Option<String>,
    #[serde(default)]
    pub printer: Option<String>,
    #[serde(default)]
    pub face_camera: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub purposes: Vec<LocalText>,
}

/// `[journeys.apply]`: applying for a service item after its guide (offered with `apply` in
/// `offered`, as "Apply here" on the guide's material list). Devices default to the first of
/// their kind; the login uses the ticket journey's reader and scanner, the receipt its
/// printer. `pickups` are the ways a result can be collected here (`window`, `mail`,
/// `locker`); `agents` lets someone file for another person (代办).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyConfig {
    #[serde(default)]
    pub document_camera: Option<String>,
    #[serde(default)]
    pub face_camera: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default = "default_pickups")]
    pub pickups: Vec<String>,
    #[serde(default = "yes")]
    pub agents: bool,
}

fn default_pickups() -> Vec<String> {
    vec!["window".into(), "mail".into()]
}

fn yes() -> bool {
    true
}

impl Default for ApplyConfig {
    fn default() -> Self {
        ApplyConfig {
            document_camera: None,
            face_camera: None,
            fingerprint: None,
            pickups: default_pickups(),
            agents: true,
        }
    }
}

/// The journeys a terminal can offer.
pub const JOURNEYS: &[&str] = &[
    "ticket", "guide", "id-copy", "apply", "query", "licences", "proof",
];

/// `[catalogue]`: for a terminal whose centre is embedded (the sim profile, a stand-alone
/// ticket machine), a catalogue file to publish into that centre at start, signed with a
/// publisher key kept in the data directory and pinned for this run. A terminal with a remote
/// centre takes its catalogue from there.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CatalogueConfig {
    #[serde(default)]
    pub embedded_sample: Option<PathBuf>,
    /// Sample e-licences and proof data (a `kiosk-central documents` import file) the
    /// embedded centre takes at start, so the licence and proof journeys run end to end.
    #[serde(default)]
    pub embedded_documents: Option<PathBuf>,
    /// A sample staff directory (JSON: staff, name, title, pin) the embedded centre takes at
    /// start, so a window unit can be signed in to. A hall's centre keeps its own
    /// (`kiosk-central queue staff`).
    #[serde(default)]
    pub embedded_staff: Option<PathBuf>,
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
    /// The cipher attachments are sealed with at rest: `sm4-gcm` or `aes-256-gcm`; the key
    /// is made in the data directory's `keys/` (mode 0600) the first time.
    #[serde(default)]
    pub at_rest: crate::journal::sealed::AtRest,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            retention_days: default_retention_days(),
            audit_days: default_audit_days(),
            at_rest: Default::default(),
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

/// `[face]`: the model directory, the backend, and thresholds per face camera.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaceConfig {
    /// The model directory (checked against the built-in manifest).
    pub models: PathBuf,
    pub backend: BackendKind,
    /// Thresholds and limits per face camera id; cameras not listed use the defaults.
    pub cameras: BTreeMap<String, VerifyPolicy>,
}

impl Default for FaceConfig {
    fn default() -> Self {
        FaceConfig {
            models: PathBuf::from("/usr/share/hallkit/models"),
            backend: BackendKind::Tract,
            cameras: BTreeMap::new(),
        }
    }
}

/// `[gateway]`: the local device API for the hall's browser business systems (HTTP and
/// WebSocket on loopback). Absent: not started.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The port on 127.0.0.1 and ::1 (XFS4IoT's discovery range starts at 5846); 0 takes any
    /// free port (tests).
    #[serde(default = "default_gateway_port")]
    pub port: u16,
    /// How long a one-time result URL (an ID photo, a scan) may be fetched.
    #[serde(default = "default_result_ttl_s")]
    pub result_ttl_s: u64,
    /// Commands one connection may have in flight; more are refused as tooManyRequests.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Connections at once; more are refused with 503.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// `background` (the service only) or `kiosk` (also Chromium full-screen at `kiosk_url`).
    #[serde(default)]
    pub mode: GatewayMode,
    #[serde(default)]
    pub kiosk_url: Option<String>,
    /// The Chromium to start in kiosk mode.
    #[serde(default = "default_chromium")]
    pub chromium: String,
    /// The business systems allowed to call, each with its origins, token and scopes.
    #[serde(default)]
    pub systems: Vec<BusinessSystem>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayMode {
    #[default]
    Background,
    Kiosk,
}

/// One business system: who may call, from where, with which token, to do what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessSystem {
    /// How the audit log names it (`ywxt`).
    pub name: String,
    /// The page origins it serves from (`https://yw.example.gov.cn`), exactly as a browser
    /// sends them. `native` admits a local program that sends no Origin.
    pub origins: Vec<String>,
    /// SHA-256 (hex) of its token; the token itself is handed to the business system, never
    /// kept here.
    pub token_sha256: String,
    /// What it may do: `idcard.read`, `scanner.scan`, `printer.print`, `camera.capture`.
    pub scopes: Vec<String>,
    /// The last day the token is good for (`2027-06-30`); absent: no end.
    #[serde(default)]
    pub expires: Option<chrono::NaiveDate>,
}

fn default_gateway_port() -> u16 {
    5846
}

fn default_result_ttl_s() -> u64 {
    60
}

fn default_max_in_flight() -> usize {
    8
}

fn default_max_connections() -> usize {
    128
}

fn default_chromium() -> String {
    "/usr/bin/chromium".into()
}
