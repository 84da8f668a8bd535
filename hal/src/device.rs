//! The device model: what every device is, how healthy it is, and how a command ends.
//!
//! Vocabulary follows UnifiedPOS and XFS4IoT (see shared/protocols/device-model.md): a closed
//! health set plus kind-specific sub-status, one completion per command from a small closed code
//! set, progress events for long commands, cancellation, and an exclusive claim so one flow (or
//! admin mode, or a browser app through the gateway) holds a device at a time.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Every kind of peripheral a hall terminal carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    IdCardReader,
    Fingerprint,
    ReceiptPrinter,
    A4Printer,
    SealModule,
    DocumentCamera,
    FaceCamera,
    QrScanner,
    CardReader,
    Board,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 10] = [
        DeviceKind::IdCardReader,
        DeviceKind::Fingerprint,
        DeviceKind::ReceiptPrinter,
        DeviceKind::A4Printer,
        DeviceKind::SealModule,
        DeviceKind::DocumentCamera,
        DeviceKind::FaceCamera,
        DeviceKind::QrScanner,
        DeviceKind::CardReader,
        DeviceKind::Board,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::IdCardReader => "id-card-reader",
            DeviceKind::Fingerprint => "fingerprint",
            DeviceKind::ReceiptPrinter => "receipt-printer",
            DeviceKind::A4Printer => "a4-printer",
            DeviceKind::SealModule => "seal-module",
            DeviceKind::DocumentCamera => "document-camera",
            DeviceKind::FaceCamera => "face-camera",
            DeviceKind::QrScanner => "qr-scanner",
            DeviceKind::CardReader => "card-reader",
            DeviceKind::Board => "board",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = DeviceKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown device kind {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// What a device is. Filled from configuration first and refined from the device itself
/// (firmware version, serial) once it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The device table's id, unique on this terminal (`scanner`, `receipt`).
    pub id: String,
    pub kind: DeviceKind,
    pub driver: String,
    pub vendor: String,
    pub model: String,
    pub serial: String,
    pub firmware: String,
    /// Where it is reached (`/dev/ttyUSB0 @115200`, `tcp://…`, `usb:0400:c35a`).
    pub transport: String,
}

impl DeviceInfo {
    pub fn new(id: impl Into<String>, kind: DeviceKind, driver: impl Into<String>) -> Self {
        DeviceInfo {
            id: id.into(),
            kind,
            driver: driver.into(),
            vendor: String::new(),
            model: String::new(),
            serial: String::new(),
            firmware: String::new(),
            transport: String::new(),
        }
    }
}

/// The closed health set (XFS4IoT device status, UnifiedPOS power/state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Online,
    Busy,
    Offline,
    NoDevice,
    HardwareError,
    /// A person can fix it: paper out, cover open, door open, card jammed at the slot.
    UserError,
    /// The device cannot report (one-way printers): neither good nor bad is known.
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Online => "online",
            Health::Busy => "busy",
            Health::Offline => "offline",
            Health::NoDevice => "no-device",
            Health::HardwareError => "hardware-error",
            Health::UserError => "user-error",
            Health::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kind-specific detail beside the health value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubStatus {
    PaperNearEnd,
    PaperOut,
    CoverOpen,
    CutterError,
    CardPresent,
    FingerPresent,
    PersonPresent,
    CabinetDoorOpen,
    SealDoorOpen,
    InkLow,
    InkOut,
    TonerLow,
    MediaJam,
    SamNotAuthorised,
    StatusUnknown,
}

/// How much a sub-status matters to the centre's 4-state report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Fault,
}

impl SubStatus {
    pub fn severity(self) -> Severity {
        use SubStatus::*;
        match self {
            CardPresent | FingerPresent | PersonPresent => Severity::Info,
            PaperNearEnd | InkLow | TonerLow | StatusUnknown | CabinetDoorOpen => Severity::Warning,
            PaperOut | CoverOpen | CutterError | SealDoorOpen | InkOut | MediaJam
            | SamNotAuthorised => Severity::Fault,
        }
    }

    pub fn as_str(self) -> &'static str {
        use SubStatus::*;
        match self {
            PaperNearEnd => "paper-near-end",
            PaperOut => "paper-out",
            CoverOpen => "cover-open",
            CutterError => "cutter-error",
            CardPresent => "card-present",
            FingerPresent => "finger-present",
            PersonPresent => "person-present",
            CabinetDoorOpen => "cabinet-door-open",
            SealDoorOpen => "seal-door-open",
            InkLow => "ink-low",
            InkOut => "ink-out",
            TonerLow => "toner-low",
            MediaJam => "media-jam",
            SamNotAuthorised => "sam-not-authorised",
            StatusUnknown => "status-unknown",
        }
    }
}

impl fmt::Display for SubStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A device's health at one moment: the value, its sub-status and a human detail for technicians.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub health: Health,
    pub sub: Vec<SubStatus>,
    pub detail: String,
}

impl HealthReport {
    pub fn new(health: Health) -> Self {
        HealthReport {
            health,
            sub: Vec::new(),
            detail: String::new(),
        }
    }

    pub fn with_sub(mut self, s: SubStatus) -> Self {
        if !self.sub.contains(&s) {
            self.sub.push(s);
            self.sub.sort();
        }
        self
    }

    pub fn with_detail(mut self, d: impl Into<String>) -> Self {
        self.detail = d.into();
        self
    }

    pub fn centre_state(&self) -> CentreState {
        CentreState::from_report(self)
    }
}

impl Default for HealthReport {
    fn default() -> Self {
        HealthReport::new(Health::Unknown).with_detail("not polled yet")
    }
}

/// The centre's 4-state device report: 正常 normal / 离线 offline / 预警 warning / 异常 abnormal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CentreState {
    Normal,
    Warning,
    Abnormal,
    Offline,
}

impl CentreState {
    pub fn from_report(r: &HealthReport) -> CentreState {
        let worst = r.sub.iter().map(|s| s.severity()).max();
        match r.health {
            Health::Offline | Health::NoDevice => CentreState::Offline,
            Health::HardwareError | Health::UserError => CentreState::Abnormal,
            Health::Unknown => CentreState::Warning,
            Health::Online | Health::Busy => match worst {
                Some(Severity::Fault) => CentreState::Abnormal,
                Some(Severity::Warning) => CentreState::Warning,
                _ => CentreState::Normal,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CentreState::Normal => "normal",
            CentreState::Warning => "warning",
            CentreState::Abnormal => "abnormal",
            CentreState::Offline => "offline",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            CentreState::Normal => "正常",
            CentreState::Warning => "预警",
            CentreState::Abnormal => "异常",
            CentreState::Offline => "离线",
        }
    }
}

/// How a command ended (XFS4IoT completion codes, trimmed to what hall devices produce).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompletionCode {
    Success,
    Canceled,
    Timeout,
    NotReady,
    HardwareError,
    UserError,
    InvalidData,
    Unsupported,
}

impl CompletionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            CompletionCode::Success => "success",
            CompletionCode::Canceled => "canceled",
            CompletionCode::Timeout => "timeout",
            CompletionCode::NotReady => "not-ready",
            CompletionCode::HardwareError => "hardware-error",
            CompletionCode::UserError => "user-error",
            CompletionCode::InvalidData => "invalid-data",
            CompletionCode::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for CompletionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A command that did not succeed: the closed code plus the device's own detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct CommandError {
    pub code: CompletionCode,
    pub detail: String,
}

impl CommandError {
    pub fn new(code: CompletionCode, detail: impl Into<String>) -> Self {
        debug_assert!(code != CompletionCode::Success, "an error cannot succeed");
        CommandError {
            code,
            detail: detail.into(),
        }
    }
    pub fn canceled() -> Self {
        Self::new(CompletionCode::Canceled, "canceled")
    }
    pub fn timeout(detail: impl Into<String>) -> Self {
        Self::new(CompletionCode::Timeout, detail)
    }
    pub fn not_ready(detail: impl Into<String>) -> Self {
        Self::new(CompletionCode::NotReady, detail)
    }
    pub fn hardware(detail: impl Into<String>) -> Self {
        Self::new(CompletionCode::HardwareError, detail)
    }
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(CompletionCode::InvalidData, detail)
    }
    pub fn unsupported(detail: impl Into<String>) -> Self {
        Self::new(CompletionCode::Unsupported, detail)
    }
}

impl From<crate::transport::TransportError> for CommandError {
    fn from(e: crate::transport::TransportError) -> Self {
        use crate::transport::TransportError as T;
        match e {
            T::Timeout(_) => CommandError::timeout(e.to_string()),
            T::Config(_) => CommandError::invalid(e.to_string()),
            T::NoDevice(_) | T::Disconnected(_) => CommandError::not_ready(e.to_string()),
            T::Io { .. } => CommandError::hardware(e.to_string()),
        }
    }
}

/// The one completion every command ends with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    pub code: CompletionCode,
    pub detail: String,
}

impl Completion {
    pub fn of<T>(r: &Result<T, CommandError>) -> Completion {
        match r {
            Ok(_) => Completion {
                code: CompletionCode::Success,
                detail: String::new(),
            },
            Err(e) => Completion {
                code: e.code,
                detail: e.detail.clone(),
            },
        }
    }
}

/// Intermediate events of a long command: what the person in front of the device should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Progress {
    PlaceCard,
    RemoveCard,
    PlaceFinger,
    LiftFinger,
    LookAtCamera,
    ComeCloser,
    HoldStill,
    PresentCode,
    Working,
}

/// Where a command sends its progress events. Cheap to clone; sending never blocks.
#[derive(Clone, Default)]
pub struct ProgressSink {
    tx: Option<std::sync::mpsc::Sender<Progress>>,
}

impl ProgressSink {
    pub fn none() -> Self {
        ProgressSink { tx: None }
    }
    pub fn channel() -> (Self, std::sync::mpsc::Receiver<Progress>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (ProgressSink { tx: Some(tx) }, rx)
    }
    pub fn emit(&self, p: Progress) {
        if let Some(tx) = &self.tx {
            // The listener may have gone (flow ended); progress is advisory.
            let _ = tx.send(p);
        }
    }
}

/// Cooperative cancellation: a command polls it between device exchanges.
#[derive(Clone, Default, Debug)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// `Err(Canceled)` once canceled, so commands can write `cancel.check()?`.
    pub fn check(&self) -> Result<(), CommandError> {
        if self.is_canceled() {
            Err(CommandError::canceled())
        } else {
            Ok(())
        }
    }
}

/// Who holds a device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Owner {
    /// A journey's session (`ticket#3`).
    Flow(String),
    Admin,
    Gateway(String),
    /// A remote command from the centre, by its id.
    Remote(u64),
    /// The technician's bench tool, `kiosk devctl`.
    Bench,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Flow(n) => write!(f, "flow {n}"),
            Owner::Admin => f.write_str("admin mode"),
            Owner::Gateway(n) => write!(f, "browser app {n}"),
            Owner::Remote(id) => write!(f, "remote command {id}"),
            Owner::Bench => f.write_str("the bench tool"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("device is held by {0}")]
    HeldBy(Owner),
}

/// An exclusive claim on one device (UnifiedPOS claim(timeout)).
#[derive(Default, Clone)]
pub struct ClaimLock {
    inner: Arc<(Mutex<Option<Owner>>, Condvar)>,
}

impl ClaimLock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits up to `timeout` for the device to be free, then holds it until the guard drops.
    pub fn claim(&self, owner: Owner, timeout: Duration) -> Result<ClaimGuard, ClaimError> {
        let (lock, cv) = &*self.inner;
        let deadline = Instant::now() + timeout;
        let mut held = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &*held {
                None => {
                    *held = Some(owner.clone());
                    return Ok(ClaimGuard {
                        lock: self.clone(),
                        owner,
                    });
                }
                Some(current) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(ClaimError::HeldBy(current.clone()));
                    }
                    held = cv
                        .wait_timeout(held, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }

    pub fn holder(&self) -> Option<Owner> {
        self.inner
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn release(&self, owner: &Owner) {
        let (lock, cv) = &*self.inner;
        let mut held = lock.lock().unwrap_or_else(|p| p.into_inner());
        if held.as_ref() == Some(owner) {
            *held = None;
            cv.notify_all();
        }
    }
}

/// Holding this means holding the device.
pub struct ClaimGuard {
    lock: ClaimLock,
    owner: Owner,
}

impl ClaimGuard {
    pub fn owner(&self) -> &Owner {
        &self.owner
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        self.lock.release(&self.owner);
    }
}

/// Publishes a device's health to any number of watchers, and logs only changes.
#[derive(Clone)]
pub struct HealthWatch {
    id: String,
    tx: Arc<tokio::sync::watch::Sender<HealthReport>>,
}

impl HealthWatch {
    pub fn new(id: impl Into<String>) -> Self {
        let (tx, _) = tokio::sync::watch::channel(HealthReport::default());
        HealthWatch {
            id: id.into(),
            tx: Arc::new(tx),
        }
    }

    /// Sets the health; returns true (and logs) only when it changed.
    pub fn publish(&self, report: HealthReport) -> bool {
        let changed = self.tx.send_if_modified(|cur| {
            if *cur == report {
                false
            } else {
                *cur = report.clone();
                true
            }
        });
        if changed {
            tracing::info!(
                device = %self.id,
                health = %report.health,
                sub = ?report.sub,
                detail = %report.detail,
                centre = report.centre_state().as_str(),
                "device health changed"
            );
        }
        changed
    }

    pub fn current(&self) -> HealthReport {
        self.tx.borrow().clone()
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<HealthReport> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in DeviceKind::ALL {
            assert_eq!(k.as_str().parse::<DeviceKind>().unwrap(), k);
        }
        let err = "toaster".parse::<DeviceKind>().unwrap_err();
        assert!(err.contains("qr-scanner"), "{err}");
    }

    #[test]
    fn centre_state_mapping() {
        let r = |h| HealthReport::new(h);
        assert_eq!(r(Health::Online).centre_state(), CentreState::Normal);
        assert_eq!(r(Health::Busy).centre_state(), CentreState::Normal);
        assert_eq!(
            r(Health::Online)
                .with_sub(SubStatus::CardPresent)
                .centre_state(),
            CentreState::Normal
        );
        assert_eq!(
            r(Health::Online)
                .with_sub(SubStatus::PaperNearEnd)
                .centre_state(),
            CentreState::Warning
        );
        assert_eq!(
            r(Health::Online)
                .with_sub(SubStatus::CoverOpen)
                .centre_state(),
            CentreState::Abnormal
        );
        assert_eq!(r(Health::UserError).centre_state(), CentreState::Abnormal);
        assert_eq!(
            r(Health::HardwareError).centre_state(),
            CentreState::Abnormal
        );
        assert_eq!(r(Health::Offline).centre_state(), CentreState::Offline);
        assert_eq!(r(Health::NoDevice).centre_state(), CentreState::Offline);
        assert_eq!(r(Health::Unknown).centre_state(), CentreState::Warning);
        assert_eq!(CentreState::Warning.zh(), "预警");
    }

    #[test]
    fn claim_is_exclusive_and_released_on_drop() {
        let lock = ClaimLock::new();
        let g = lock
            .claim(Owner::Flow("ticket".into()), Duration::ZERO)
            .unwrap();
        assert_eq!(
            lock.claim(Owner::Admin, Duration::from_millis(10)).err(),
            Some(ClaimError::HeldBy(Owner::Flow("ticket".into())))
        );
        let l2 = lock.clone();
        let waiter = std::thread::spawn(move || {
            l2.claim(Owner::Admin, Duration::from_secs(5))
                .map(|g| g.owner().clone())
        });
        std::thread::sleep(Duration::from_millis(20));
        drop(g);
        assert_eq!(waiter.join().unwrap(), Ok(Owner::Admin));
        assert_eq!(lock.holder(), None);
    }

    #[test]
    fn health_watch_publishes_changes_only() {
        let w = HealthWatch::new("scanner");
        let mut rx = w.subscribe();
        assert!(w.publish(HealthReport::new(Health::Online)));
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        assert!(!w.publish(HealthReport::new(Health::Online)));
        assert!(!rx.has_changed().unwrap());
        assert!(w.publish(HealthReport::new(Health::Offline)));
        assert_eq!(rx.borrow_and_update().health, Health::Offline);
    }

    #[test]
    fn cancel_and_progress() {
        let c = CancelToken::new();
        assert!(c.check().is_ok());
        c.clone().cancel();
        assert_eq!(c.check().unwrap_err().code, CompletionCode::Canceled);
        let (sink, rx) = ProgressSink::channel();
        sink.emit(Progress::PlaceCard);
        ProgressSink::none().emit(Progress::Working);
        assert_eq!(rx.try_recv().unwrap(), Progress::PlaceCard);
        let ok: Result<(), CommandError> = Ok(());
        assert_eq!(Completion::of(&ok).code, CompletionCode::Success);
    }
}
