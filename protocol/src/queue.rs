//! The hall queue (排队叫号) between window units, displays and the centre: what a window asks
//! (`WindowCommand`), what a ticket's life looks like (`QueueTicket` with its timeline of
//! periods), what the hall board shows and the feed of calls pushed to windows and displays.
//! The rules that decide who is called next live in the centre (`kiosk_central::queue`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a hall, window, service, staff or ticket name may hold: no ASCII control characters.
pub const NAME_PATTERN: &str = r"^[^\x00-\x1f\x7f]+$";
/// One ASCII control character (a name must not hold any).
pub const CONTROL_PATTERN: &str = r"[\x00-\x1f\x7f]";

/// Whether `v` is a name of 1 to `max` printable characters (see `NAME_PATTERN`).
pub fn is_name(v: &str, max: usize) -> bool {
    !v.is_empty() && v.chars().count() <= max && !v.chars().any(|c| c.is_ascii_control())
}

/// A window's setup: the services it calls from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSetup {
    #[schemars(
        length(max = 50),
        inner(length(min = 1, max = 64), regex(pattern = r"^[^\x00-\x1f\x7f]+$"))
    )]
    pub services: Vec<String>,
}

/// Where a ticket stands. `Issued` waits for its print to settle (a ticket whose print failed
/// is `Cancelled`); `Called` counts its calls; `Hold` is set aside by the clerk (a missing
/// paper) and called again by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum QueueState {
    Issued,
    Waiting,
    Called,
    Serving,
    Hold,
    Finished,
    NoShow,
    Cancelled,
}

impl QueueState {
    /// Still in the hall's queue (not finished one way or another).
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            QueueState::Finished | QueueState::NoShow | QueueState::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QueueState::Issued => "issued",
            QueueState::Waiting => "waiting",
            QueueState::Called => "called",
            QueueState::Serving => "serving",
            QueueState::Hold => "hold",
            QueueState::Finished => "finished",
            QueueState::NoShow => "no-show",
            QueueState::Cancelled => "cancelled",
        }
    }
}

/// One stretch of a ticket's life: who had it, from when to when. Wait and handling times
/// fall out of these (as in bcgov TheQ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub state: QueueState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// RFC 3339.
    pub from: String,
    /// RFC 3339; open while the ticket is still in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// Why a ticket is called before others that came earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PriorityReason {
    /// Checked in with a booked appointment.
    Appointment,
    /// Aged at or over the hall's threshold (from the ID card's birth date).
    Elderly,
}

/// A ticket in the hall's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueTicket {
    /// `A023`: unique in the hall for the day.
    pub number: String,
    /// The service it waits for now (a transfer changes it).
    pub service: String,
    /// `YYYY-MM-DD` (CST).
    pub day: String,
    /// When the citizen took it (RFC 3339). A transfer keeps it, so the citizen keeps their
    /// place; an offline ticket keeps the time its machine printed it.
    pub arrived_at: String,
    pub state: QueueState,
    /// Calls so far at the current window (1 at the first call; a recall adds one).
    #[serde(default)]
    pub calls: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<PriorityReason>,
    /// Only this window may call it (transferred to a window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_window: Option<String>,
    /// The window and clerk that have it now (called, serving or on hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// The case handled for it, once the clerk's business system names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<String>,
    /// The citizen's rating of this visit (1 very dissatisfied … 5 very satisfied), one per
    /// ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    pub periods: Vec<Period>,
}

/// A window's state as the queue knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WindowState {
    /// Nobody logged in.
    Closed,
    Open,
    /// The clerk is away for a while; nothing is called here.
    Paused,
}

/// A hall window: the services it serves and who sits there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueWindow {
    /// `3`, as said aloud: 「到 3 号窗口」.
    pub window: String,
    /// Services it calls from, in no order (the queue's order decides).
    pub services: Vec<String>,
    pub state: WindowState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// The ticket it has now (called, serving or on hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
}

/// What a window asks of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WindowCommand {
    /// A clerk sits down (the window unit has checked their credential).
    Login {
        #[schemars(length(min = 1, max = 32), regex(pattern = r"^[^\x00-\x1f\x7f]+$"))]
        staff: String,
    },
    Logout,
    /// Calls the next ticket this window serves: priority first, then arrival.
    CallNext,
    /// Calls a ticket on hold at this window again.
    CallHeld {
        #[schemars(length(min = 1, max = 16), regex(pattern = r"^[^\x00-\x1f\x7f]+$"))]
        number: String,
    },
    /// Calls the current ticket again; past the hall's limit it becomes a no-show.
    Recall,
    /// The citizen came: handling starts.
    Start,
    NoShow,
    Finish,
    /// Sets the current ticket aside (the citizen fetches a paper).
    Hold,
    /// Sends the current ticket to another service or window; it keeps its arrival time.
    Transfer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 64), regex(pattern = r"^[^\x00-\x1f\x7f]+$"))]
        service: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 16), regex(pattern = r"^[^\x00-\x1f\x7f]+$"))]
        window: Option<String>,
    },
    Pause,
    Resume,
}

/// What happened in the hall, in the order it happened: pushed to windows and displays, and
/// replayed from any point after a dropped connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueEvent {
    /// Rises by one per event in a hall; a client resumes after the last one it saw.
    pub id: u64,
    pub at: String,
    pub kind: QueueEventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// For a call: 1 the first time, 2 … for recalls.
    #[serde(default)]
    pub calls: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum QueueEventKind {
    Issued,
    /// Its print settled: the ticket is in the queue.
    Waiting,
    Called,
    Serving,
    Finished,
    NoShow,
    Hold,
    Transferred,
    Cancelled,
    WindowOpened,
    WindowPaused,
    WindowClosed,
}

/// What a window's command did: the window and ticket after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowOutcome {
    pub window: QueueWindow,
    /// The ticket at the window now; when the command let its ticket go (finished, no-show,
    /// held, transferred), that ticket as it left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<QueueTicket>,
    /// Tickets this window may call now.
    pub waiting: u32,
}

/// The hall at a glance, for the display and the windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HallBoard {
    pub hall: String,
    pub day: String,
    pub windows: Vec<QueueWindow>,
    /// Tickets waiting per service.
    pub waiting: std::collections::BTreeMap<String, u32>,
    /// What the services are called, from the hall's published catalogue (its queue groups).
    #[serde(default)]
    pub services: std::collections::BTreeMap<String, ServiceLabel>,
    /// The last calls, newest first, one per ticket (a recall moves it up, never doubles it).
    pub recent: Vec<QueueEvent>,
    /// The feed position this board reflects: follow the feed from here.
    pub last_event: u64,
}

/// A service's name on the hall display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceLabel {
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    /// The ticket letter (`A`).
    #[serde(default)]
    pub prefix: String,
}

/// Figures over a stretch of tickets, from their timelines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueFigures {
    pub issued: u32,
    pub calls: u32,
    pub served: u32,
    pub no_shows: u32,
    pub transfers: u32,
    /// Average seconds from arrival to the first call, over tickets called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_wait_s: Option<f64>,
    /// Average seconds of handling (serving periods), over tickets served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_handling_s: Option<f64>,
    pub ratings: u32,
    /// Share of ratings that were satisfied or better (4 or 5), 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<f64>,
}

/// Statistics of a hall over days: in total and per window, service, hour (CST, `08`) and day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueStats {
    pub hall: String,
    pub from: String,
    pub to: String,
    pub total: QueueFigures,
    pub by_window: std::collections::BTreeMap<String, QueueFigures>,
    pub by_service: std::collections::BTreeMap<String, QueueFigures>,
    pub by_hour: std::collections::BTreeMap<String, QueueFigures>,
    pub by_day: std::collections::BTreeMap<String, QueueFigures>,
}

/// A citizen's rating of a visit to a window (一号一评): bound to the ticket, the case, the
/// window, the clerk and the service; one per ticket. The body of a `queue.rated` journal
/// record, under `"rating"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRating {
    pub hall: String,
    pub day: String,
    pub number: String,
    pub service: String,
    pub window: String,
    /// The clerk's staff number.
    pub staff: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<String>,
    /// 1 非常不满意 … 5 非常满意.
    #[schemars(range(min = 1, max = 5))]
    pub level: u8,
    #[serde(default)]
    pub tags: Vec<String>,
    /// What the citizen wrote with a bad rating; the department follows it up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaint: Option<String>,
    /// A complaint sent as an attachment instead (the citizen's own words, sealed at rest on
    /// the terminal like every personal datum): its SHA-256, readable at
    /// `GET /api/v1/attachments/{sha256}/content` once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaint_sha256: Option<String>,
    /// `window-pad`, `kiosk`, `mobile`.
    pub channel: String,
    /// RFC 3339.
    pub rated_at: String,
}

/// A clerk sits down at a window: `POST /api/v1/halls/{hall}/staff/{staff}/login`. The centre
/// checks the PIN; five wrong ones lock the staff number for 15 minutes (kept across restarts,
/// every attempt audited). On success the window is opened for the clerk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffLogin {
    #[schemars(length(min = 4, max = 12), regex(pattern = r"^[0-9]+$"))]
    pub pin: String,
    #[schemars(length(min = 1, max = 16), regex(pattern = r"^[^\x00-\x1f\x7f]+$"))]
    pub window: String,
    pub device_id: String,
}

/// The electronic name plate (电子工位牌): what the citizen screen shows of the clerk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPlate {
    pub staff: String,
    pub name: String,
    #[serde(default)]
    pub title: String,
    /// A JPEG portrait, base64, when the directory has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_jpeg_base64: Option<String>,
    /// The clerk's average rating (1–5) over the last 90 days, once there are ratings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stars: Option<f64>,
    pub window: String,
}
