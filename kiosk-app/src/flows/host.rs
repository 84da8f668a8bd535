//! The host that runs the kiosk's state machines: it feeds them the citizen's touches, device
//! results and the clock, performs their effects on the services (claims, card reads, scans,
//! numbers, prints, lights) on worker threads, owns the session with the citizen's personal
//! data, and publishes what the screens must show as a `View`. It never decides anything the
//! state machines decide; the UI only reads the view and sends intents.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kiosk_hal::clock::SharedClock;
use kiosk_hal::device::CancelToken;
use kiosk_hal::{CentreState, DeviceKind};
use kiosk_protocol::wire::Ticket;
use kiosk_protocol::{Event, EventKind};
use serde_json::Value;
use tokio::sync::watch;
use zeroize::Zeroizing;

use super::guide;
use super::idcopy::{self, CaptureProblem, Side};
use super::identify::{CardFacts, FingerProblem};
use super::kiosk::{self, Kiosk, Offer, Screen, Unavailable};
use super::session::{EndReason, Session};
use super::ticket::{self, How, Scan, TicketInfo};
use crate::centre::health::CentreLink;
use crate::config::Config;
use crate::journal::Journal;
use crate::runtime::{Claim, Owner, Runtime};
use crate::services::card::{self, CardProblem, CitizenIdentity};
use crate::services::catalogue::{Catalogue, Notice, QueueGroup, SearchIndex, ServiceItem, Text};
use crate::services::guide::{self as lights, Module};
use crate::services::outputs::OutputDesk;
use crate::services::queue::{self, NumberProblem, PrintProblem, Printed};

#[path = "host_admin.rs"]
mod admin_host;
#[path = "host_apply.rs"]
mod application;
#[path = "host_idcopy.rs"]
mod copy;
#[path = "host_login.rs"]
mod login;
#[path = "host_query.rs"]
mod lookup;
#[path = "host_papers.rs"]
mod papers_host;
#[path = "host_rating.rs"]
mod rating;
#[path = "host_staff_card.rs"]
mod staff_card;
#[path = "host_typing.rs"]
pub mod typing;

/// What the screens show. Holds no personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Grows by one on every change.
    pub version: u64,
    pub screen: Screen,
    pub english: bool,
    pub help: bool,
    pub care: bool,
    /// Seconds left on "Still there?".
    pub asking: Option<u32>,
    pub offers: Vec<Offer>,
    pub hall: Option<Text>,
    pub groups: Vec<QueueGroup>,
    pub notices: Vec<Notice>,
    pub slides: Vec<std::path::PathBuf>,
    /// Which slide the attract screen shows (pictures first, then notices).
    pub slide: usize,
    pub pin_len: usize,
    pub pin_wrong: bool,
    /// Minutes left while the PIN pad is locked.
    pub pin_locked_minutes: Option<u32>,
    /// The staff pad asks for a staff number (then the PIN).
    pub pin_asks_number: bool,
    /// The staff number typed or confirmed (not a secret).
    pub staff_number: String,
    /// The pad holds the card reader for staff badges.
    pub pin_takes_cards: bool,
    /// A badge stands in for the staff number; the pad asks its PIN.
    pub pin_by_card: bool,
    /// The last card on the reader is not a staff badge.
    pub pin_not_a_badge: bool,
    /// The last refusal followed a badge.
    pub pin_wrong_card: bool,
    /// What the admin pages show, while the admin mode is open.
    pub admin: Option<AdminView>,
    pub has_reader: bool,
    pub has_scanner: bool,
    /// The catalogue's service items.
    pub items: Vec<ServiceItem>,
    /// The items the guide's list shows now (the shelf, or the search), by id.
    pub guide_list: Vec<String>,
    /// Where the guide's material list opens on a phone (empty: no QR code).
    pub guide_url: String,
    /// The session holds a receipt printer (the guide can print its list).
    pub can_print: bool,
    /// "Apply here" shows on the guide's material list.
    pub guide_can_apply: bool,
    /// The guide's material list may offer "Print it here" (a proof item).
    pub guide_can_prove: bool,
    /// The login can fall back to the finger: a module, and a card with fingerprints.
    pub finger_possible: bool,
    /// The login offers filing for someone else (代办).
    pub agents_possible: bool,
    /// The identified citizen's name, masked (张**), once the login succeeded.
    pub citizen: String,
    /// The uses an ID card copy may be printed for.
    pub purposes: Vec<Text>,
    /// The on-screen keyboard: the text typed, the pinyin pending, its candidates.
    pub typing: Option<TypingView>,
    /// The catalogue's rating tags (好差评).
    pub rating_tags: Vec<crate::services::catalogue::RatingTag>,
    /// The face screen's mirror of the citizen while the check runs.
    pub face_preview: Option<Picture>,
    /// The copy's front as taken, and the page as it will print (JPEG, the session's).
    pub copy_front: Option<Picture>,
    pub copy_page: Option<Picture>,
    /// What the application screens show.
    pub apply: Option<application::ApplyView>,
    /// The cases the look-up found (the citizen's, for this session).
    pub cases: Vec<kiosk_protocol::cases::Case>,
    /// What the papers screens show.
    pub papers: Option<PapersView>,
}

pub use papers_host::PapersView;

pub use admin_host::{
    AdminView, ConfigFacts, DocumentFacts, LogLine, Notice as AdminNotice, Supply, TestResult,
};

pub use lookup::status_zh;

pub use application::{ApplyView, Secret};

/// What the on-screen keyboard shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TypingView {
    pub text: String,
    pub preedit: String,
    pub candidates: Vec<String>,
    pub page: usize,
    pub last_page: bool,
    /// No pinyin engine: the keys type letters.
    pub plain: bool,
}

/// A picture of the citizen's session (a card side, a page) for the screen: compared by
/// identity, never printed.
#[derive(Clone)]
pub struct Picture(pub Arc<Zeroizing<Vec<u8>>>);

impl PartialEq for Picture {
    fn eq(&self, other: &Picture) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({} bytes)", self.0.len())
    }
}

/// What reaches the host.
enum Msg {
    Input(kiosk::Input),
    /// Someone stepped in front of the presence sensor.
    Presence,
    /// An admin test or check finished.
    AdminDone(admin_host::AdminDone),
    Card(u64, Result<CitizenIdentity, CardProblem>),
    Code(u64, Result<(Zeroizing<String>, bool), ()>),
    Numbered(u64, Result<Ticket, NumberProblem>),
    Printed(u64, Result<Printed, PrintProblem>),
    ListPrinted(u64, Result<(), PrintProblem>),
    LoginCard(
        u64,
        Result<(CitizenIdentity, card::CardBiometrics), CardProblem>,
    ),
    FacePrompt(u64, kiosk_models::Prompt),
    FacePreview(u64, Zeroizing<Vec<u8>>),
    /// A frame of the document camera's plate, for the pages screen.
    PlatePreview(u64, Zeroizing<Vec<u8>>),
    FaceDone(u64, kiosk_models::Decision),
    FingerDone(u64, Result<bool, FingerProblem>),
    SideCaptured(u64, Side, Result<Zeroizing<Vec<u8>>, CaptureProblem>),
    Composed(u64, Result<crate::services::idcopy::Copy, String>),
    CopyPrinted(u64, Result<(), PrintProblem>),
    PageCaptured(
        u64,
        usize,
        Result<crate::services::apply::Page, super::apply::CaptureProblem>,
    ),
    Filed(
        u64,
        Box<crate::services::apply::Application>,
        Result<crate::services::apply::filing::Receipt, String>,
    ),
    ReceiptPrinted(u64, Result<(), PrintProblem>),
    CasesFound(
        u64,
        Result<Vec<kiosk_protocol::cases::Case>, super::query::LookupProblem>,
    ),
    SlipPrinted(u64, Result<(), PrintProblem>),
    PapersFound(u64, Result<papers_host::Found, super::query::LookupProblem>),
    ApplyLicences(
        u64,
        Result<Vec<kiosk_protocol::documents::Licence>, super::query::LookupProblem>,
    ),
    PaperMade(u64, Result<crate::services::papers::Paper, String>),
    PaperPrinted(u64, usize, Result<(), PrintProblem>),
    /// A card on the reader while the staff pad shows, by the watch's token.
    StaffCard(u64, staff_card::CardSeen),
    /// A card came to or left a card reader (`device`), whatever the screen.
    CardMoved(String),
    /// A technician's badge on the reader at home or attract: the pad opens with it.
    BadgeAtHome(String),
    Stop,
}

/// The devices of one session.
#[derive(Clone, Default)]
struct Claims {
    printer: Option<Arc<Claim>>,
    reader: Option<Arc<Claim>>,
    scanner: Option<Arc<Claim>>,
    board: Option<Arc<Claim>>,
    face_camera: Option<Arc<Claim>>,
    fingerprint: Option<Arc<Claim>>,
    document_camera: Option<Arc<Claim>>,
    a4: Option<Arc<Claim>>,
}

impl Claims {
    fn all(&self) -> impl Iterator<Item = &Arc<Claim>> {
        [
            &self.printer,
            &self.reader,
            &self.scanner,
            &self.board,
            &self.face_camera,
            &self.fingerprint,
            &self.document_camera,
            &self.a4,
        ]
        .into_iter()
        .flatten()
    }
}

pub struct HostConfig {
    pub config: Config,
    pub runtime: Arc<Runtime>,
    pub desk: OutputDesk,
    pub journal: Journal,
    pub clock: SharedClock,
    pub link: watch::Receiver<CentreLink>,
}

type Notify = Box<dyn Fn() + Send>;

struct Shared {
    view: Mutex<View>,
    changed: Condvar,
}

pub struct Host {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
    notify: Arc<Mutex<Notify>>,
    inputs_stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// How long a session holds its devices without a renewal (renewed every tick).
const LEASE: Duration = Duration::from_secs(120);
const TICK: Duration = Duration::from_millis(50);

impl Host {
    /// Starts the host thread.
    pub fn start(cfg: HostConfig) -> std::io::Result<Host> {
        let (tx, rx) = mpsc::channel();
        let mut worker = Worker::new(cfg, tx.clone());
        worker.reserve_ticket_numbers();
        let first = worker.view(0);
        let shared = Arc::new(Shared {
            view: Mutex::new(first),
            changed: Condvar::new(),
        });
        let notify: Arc<Mutex<Notify>> = Arc::new(Mutex::new(Box::new(|| {})));
        let inputs_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        forward_bus_inputs(cfg_bus(&worker), tx.clone(), inputs_stop.clone());
        let (s, n) = (shared.clone(), notify.clone());
        let thread = std::thread::Builder::new()
            .name("kiosk-flows".into())
            .spawn(move || worker.run(rx, s, n))?;
        Ok(Host {
            tx,
            shared,
            notify,
            inputs_stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// What to call (on the host's thread) after every change of the view; it must not block.
    pub fn set_notify(&self, f: Notify) {
        *self.notify.lock().unwrap_or_else(|p| p.into_inner()) = f;
    }

    /// Sends an intent from the screen (or a tour).
    pub fn send(&self, input: kiosk::Input) {
        let _ = self.tx.send(Msg::Input(input));
    }

    pub fn view(&self) -> View {
        self.shared
            .view
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits up to `timeout` for a view that satisfies `want`.
    pub fn wait_for(&self, timeout: Duration, want: impl Fn(&View) -> bool) -> Option<View> {
        let deadline = std::time::Instant::now() + timeout;
        let mut v = self.shared.view.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if want(&v) {
                return Some(v.clone());
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            v = self
                .shared
                .changed
                .wait_timeout(v, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Ends any session (its devices released, its data wiped) and stops the host.
    pub fn stop(&self) {
        self.inputs_stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.tx.send(Msg::Stop);
        let t = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = t {
            let _ = t.join();
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker {
    cfg: HostConfig,
    tx: mpsc::Sender<Msg>,
    kiosk: Kiosk,
    session: Option<Session>,
    claims: Option<Claims>,
    catalogue: Option<Catalogue>,
    /// The catalogue's items indexed for the guide's search, rebuilt with the catalogue.
    search: Option<SearchIndex>,
    offers: Vec<Offer>,
    /// Increases with each session; results of an older session's jobs are dropped.
    generation: u64,
    next_session: u64,
    card_wait: Option<CancelToken>,
    code_wait: Option<CancelToken>,
    /// The request id of the ticket being numbered: the same on a retry after a lost answer.
    request: Option<(String, How, String)>,
    ticket: Option<Ticket>,
    taken_until: Option<Duration>,
    slides: Vec<std::path::PathBuf>,
    slide: usize,
    slide_since: Duration,
    last_offer_check: Option<Duration>,
    face: login::SharedFace,
    face_cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// The document camera's live picture loop while a material's pages are being taken.
    plate_preview: Option<Arc<std::sync::atomic::AtomicBool>>,
    finger_cancel: Option<CancelToken>,
    /// What the last card read for a login carries (no personal data).
    card_facts: CardFacts,
    eid_replay: crate::services::eid::ReplayGuard,
    purposes: Vec<Text>,
    /// The session's pictures as the view shows them, made once per picture.
    pictures: Vec<(&'static str, Picture)>,
    /// The on-screen keyboard's text while a journey asks for one.
    typing: Option<typing::Typing>,
    /// The item and answers the guide handed over, while the application starts.
    pending_apply: Option<(String, crate::services::catalogue::Answers)>,
    /// The application being filled (personal data; wiped with the session).
    application: Option<crate::services::apply::Application>,
    /// The application's shape while the filing thread holds it.
    apply_shape: Option<super::apply::Context>,
    /// The cases the look-up found, and the number typed before the password.
    cases: Vec<kiosk_protocol::cases::Case>,
    query_number: Option<Zeroizing<String>>,
    /// The licences or the proof of a papers session.
    papers: papers_host::Papers,
    /// Every device, held for the staff screens while they are open (Owner::Admin): a page
    /// or a remote command gets "held by admin mode" rather than a device a technician is
    /// testing. Released when they close.
    admin: Vec<Arc<crate::runtime::Claim>>,
    admin_view: AdminView,
    /// Who may open the admin mode.
    credentials: crate::services::technicians::Credentials,
    /// The card reader held while the staff pad shows, for staff badges.
    staff_card: Option<staff_card::StaffCardWatch>,
    staff_card_token: u64,
}

impl Worker {
    fn new(cfg: HostConfig, tx: mpsc::Sender<Msg>) -> Worker {
        let now = cfg.clock.elapsed();
        let english = cfg.config.language() == kiosk_ui::Language::En;
        let slides = attract_pictures(cfg.config.attract.folder.as_deref());
        let catalogue = Catalogue::in_force(&cfg.journal).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the catalogue in force cannot be used");
            None
        });
        let search = catalogue.as_ref().map(Catalogue::search_index);
        let mut w = Worker {
            kiosk: Kiosk::new(now, english),
            cfg,
            tx,
            session: None,
            claims: None,
            catalogue,
            search,
            offers: Vec::new(),
            generation: 0,
            next_session: 1,
            card_wait: None,
            code_wait: None,
            request: None,
            ticket: None,
            taken_until: None,
            slides,
            slide: 0,
            slide_since: now,
            last_offer_check: None,
            face: Arc::new(Mutex::new(None)),
            face_cancel: None,
            plate_preview: None,
            finger_cancel: None,
            card_facts: CardFacts {
                photo: false,
                fingerprint: false,
            },
            eid_replay: Default::default(),
            purposes: Vec::new(),
            pictures: Vec::new(),
            typing: None,
            pending_apply: None,
            application: None,
            apply_shape: None,
            cases: Vec::new(),
            query_number: None,
            papers: papers_host::Papers::default(),
            admin: Vec::new(),
            admin_view: AdminView::default(),
            credentials: crate::services::technicians::Credentials::default(),
            staff_card: None,
            staff_card_token: 0,
        };
        w.credentials = w.cfg.config.credentials();
        w.purposes = crate::services::idcopy::purposes(&w.cfg.config.journeys.id_copy.purposes);
        w.offers = w.compute_offers();
        w.restore_staff_lock();
        w
    }

    fn run(&mut self, rx: mpsc::Receiver<Msg>, shared: Arc<Shared>, notify: Arc<Mutex<Notify>>) {
        let mut published = self.view(0);
        loop {
            match rx.recv_timeout(TICK) {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => self.tick(),
            }
            // Everything already queued is handled before the screen is told.
            while let Ok(msg) = rx.try_recv() {
                if matches!(msg, Msg::Stop) {
                    self.end_session(EndReason::Cancelled);
                    return;
                }
                self.handle(msg);
            }
            let mut next = self.view(published.version);
            if next != published {
                next.version = published.version + 1;
                *shared.view.lock().unwrap_or_else(|p| p.into_inner()) = next.clone();
                shared.changed.notify_all();
                published = next;
                (notify.lock().unwrap_or_else(|p| p.into_inner()))();
            }
        }
        self.end_session(EndReason::Cancelled);
    }

    fn now(&self) -> Duration {
        self.cfg.clock.elapsed()
    }

    /// The staff pad's moments go to the journal and so to the audit log; a lock also stays
    /// in force across a restart (read back in `restore_staff_lock`).
    fn staff(&mut self, s: kiosk::StaffEffect) {
        // The staff pad opens only from home or attract, so no citizen's session is cut off;
        // a device a page or a remote command holds is waited for briefly, then left to it.
        let (mut taken, mut busy) = (Vec::new(), Vec::new());
        match s {
            kiosk::StaffEffect::Entered(ref opener, _) => {
                // The pad's hold on the card reader goes first, or the admin mode could not
                // take the reader.
                self.stop_staff_card();
                self.admin_reset(Some(opener.clone()));
                for d in self.cfg.runtime.snapshot() {
                    match self.cfg.runtime.claim(
                        &d.id,
                        Owner::Admin,
                        LEASE,
                        Duration::from_millis(500),
                    ) {
                        Ok(c) => {
                            taken.push(d.id);
                            self.admin.push(Arc::new(c));
                        }
                        Err(e) => busy.push(format!("{}: {e}", d.id)),
                    }
                }
            }
            kiosk::StaffEffect::Left => {
                self.admin.clear();
                self.admin_reset(None);
            }
            kiosk::StaffEffect::Admin(e) => return self.admin_effect(e),
            _ => {}
        }
        let bus = &self.cfg.runtime.events;
        let e = match s {
            kiosk::StaffEffect::Entered(opener, way) => {
                let mut e = Event::new(EventKind::AdminModeEntered, bus.now())
                    .field("how", way.audit_name())
                    .field("devices", taken)
                    .field("busy", busy);
                if let Some(no) = opener.staff_no() {
                    e = e.field("staff_no", no);
                }
                e
            }
            kiosk::StaffEffect::Left => Event::new(EventKind::AdminModeLeft, bus.now()),
            kiosk::StaffEffect::Admin(_) => return,
            kiosk::StaffEffect::Refused {
                tries_left,
                staff_no,
                way,
            } => {
                let mut e = Event::new(EventKind::AdminLoginRefused, bus.now())
                    .field("how", way.audit_name())
                    .field("tries_left", tries_left);
                if let Some(no) = staff_no {
                    e = e.field("staff_no", no);
                }
                e
            }
            kiosk::StaffEffect::Locked { for_, way } => {
                let until = bus.now()
                    + chrono::Duration::from_std(for_).unwrap_or(chrono::Duration::minutes(15));
                Event::new(EventKind::AdminLocked, bus.now())
                    .field("how", way.audit_name())
                    .field("until", until.to_rfc3339())
            }
        };
        bus.emit(e);
    }

    /// A staff-pad lock from before a restart, from the audit log.
    fn restore_staff_lock(&mut self) {
        let last = self
            .cfg
            .journal
            .lock()
            .latest_audited(EventKind::AdminLocked.key());
        let until = match last {
            Ok(Some(body)) => serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["fields"]["until"].as_str().map(str::to_string))
                .and_then(|u| chrono::DateTime::parse_from_rfc3339(&u).ok()),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the staff pad's lock cannot be read back");
                None
            }
        };
        if let Some(until) = until {
            let left = until.with_timezone(&chrono::Utc) - self.cfg.runtime.events.now();
            if let Ok(left) = left.to_std() {
                let now = self.now();
                self.kiosk.restore_staff_lock(now, left);
            }
        }
    }

    fn view(&self, version: u64) -> View {
        let c = self.catalogue.as_ref();
        let now = self.now();
        View {
            version,
            screen: self.kiosk.screen.clone(),
            english: self.kiosk.english,
            help: self.kiosk.help,
            care: self.kiosk.care,
            asking: self.kiosk.asking,
            offers: self.offers.clone(),
            hall: c.map(|c| c.hall.name.clone()),
            groups: c.map(|c| c.queue.groups.clone()).unwrap_or_default(),
            notices: c.map(|c| c.notices.clone()).unwrap_or_default(),
            slides: self.slides.clone(),
            slide: self.slide,
            pin_len: self.kiosk.pin.len(),
            pin_wrong: self.kiosk.pin.wrong,
            pin_locked_minutes: self
                .kiosk
                .pin
                .locked_until
                .filter(|t| *t > now)
                .map(|t| u32::try_from((t - now).as_secs().div_ceil(60)).unwrap_or(u32::MAX)),
            pin_asks_number: self.kiosk.pin.asks_number(self.credentials.personal()),
            staff_number: self
                .kiosk
                .pin
                .staff_number(self.credentials.personal())
                .to_string(),
            pin_takes_cards: self.staff_card.is_some(),
            pin_by_card: self.kiosk.pin.by_card,
            pin_not_a_badge: self.kiosk.pin.not_a_badge,
            pin_wrong_card: self.kiosk.pin.wrong_card,
            admin: self.admin_view(),
            has_reader: self
                .device(
                    DeviceKind::IdCardReader,
                    &self.cfg.config.journeys.ticket.card_reader,
                )
                .is_some(),
            has_scanner: self
                .device(
                    DeviceKind::QrScanner,
                    &self.cfg.config.journeys.ticket.scanner,
                )
                .is_some(),
            items: c.map(|c| c.items.clone()).unwrap_or_default(),
            guide_list: self.guide_list(),
            guide_url: match (&self.kiosk.screen, c) {
                (Screen::Guide(guide::Stage::Materials { item, answers, .. }), Some(c)) => c
                    .item(item)
                    .map(|i| crate::services::materials::list_url(c, i, answers))
                    .unwrap_or_default(),
                _ => String::new(),
            },
            can_print: self.claims.as_ref().is_some_and(|c| c.printer.is_some()),
            guide_can_apply: match &self.kiosk.screen {
                Screen::Guide(guide::Stage::Materials { item, answers, .. }) => {
                    self.guide_context_for(c).applicable(item, answers)
                }
                _ => false,
            },
            guide_can_prove: match &self.kiosk.screen {
                Screen::Guide(guide::Stage::Materials { item, .. }) => {
                    self.guide_context_for(c).provable(item)
                }
                _ => false,
            },
            agents_possible: matches!(self.kiosk.screen, Screen::Apply(_))
                && self.login_context().agents,
            finger_possible: self.card_facts.fingerprint
                && self
                    .claims
                    .as_ref()
                    .is_some_and(|c| c.fingerprint.is_some()),
            citizen: self
                .session
                .as_ref()
                .and_then(|s| s.citizen())
                .map(|(i, _)| i.masked_name())
                .unwrap_or_default(),
            purposes: self.purposes.clone(),
            rating_tags: c.map(|c| c.rating.tags.clone()).unwrap_or_default(),
            typing: self.typing.as_ref().map(|t| TypingView {
                text: t.text.to_string(),
                preedit: t.state.preedit.to_string(),
                candidates: t.state.candidates.iter().map(|c| c.to_string()).collect(),
                page: t.state.page,
                last_page: t.state.last_page,
                plain: t.plain,
            }),
            face_preview: self.picture(login::FACE_PREVIEW),
            copy_front: self.picture(copy::kept_name(Side::Front)),
            copy_page: self.picture(copy::PREVIEW),
            apply: self.apply_view(),
            papers: self.papers_view(),
            cases: match &self.kiosk.screen {
                // Times in the hall's local minute, as the slip prints them.
                Screen::Query(_) => self
                    .cases
                    .iter()
                    .map(|c| {
                        let mut c = c.clone();
                        for l in &mut c.log {
                            l.at = self.local_time(&l.at);
                        }
                        c.submitted_at = self.local_time(&c.submitted_at);
                        c
                    })
                    .collect(),
                _ => Vec::new(),
            },
        }
    }

    /// On a screen where the citizen types: what "next" sends when words are typed.
    fn typing_screen(&self) -> Option<kiosk::Input> {
        match &self.kiosk.screen {
            Screen::IdCopy(idcopy::Stage::TypeUse) => {
                Some(kiosk::Input::IdCopy(idcopy::Input::UseTyped))
            }
            Screen::IdCopy(idcopy::Stage::Rating(super::rating::Stage::Complaint { .. })) => Some(
                kiosk::Input::IdCopy(idcopy::Input::Rating(super::rating::Input::Complained)),
            ),
            Screen::Apply(super::apply::Stage::Rating {
                stage: super::rating::Stage::Complaint { .. },
                ..
            }) => Some(kiosk::Input::Apply(super::apply::Input::Rating(
                super::rating::Input::Complained,
            ))),
            Screen::Query(super::query::Stage::Number | super::query::Stage::Password) => {
                Some(kiosk::Input::Query(super::query::Input::Next))
            }
            _ => None,
        }
    }

    fn picture(&self, name: &str) -> Option<Picture> {
        self.pictures
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
    }

    /// Keeps `bytes` in the session as `name`, and for the screen.
    fn keep_picture(&mut self, name: &'static str, bytes: Zeroizing<Vec<u8>>) {
        self.pictures.retain(|(n, _)| *n != name);
        self.pictures.push((name, Picture(Arc::new(bytes.clone()))));
        if let Some(s) = self.session.as_mut() {
            s.keep(name, bytes);
        }
    }

    /// The guide's item list: the search's matches while something is typed, else the shelf.
    fn guide_list(&self) -> Vec<String> {
        let (Screen::Guide(guide::Stage::Items { shelf, query }), Some(c)) =
            (&self.kiosk.screen, self.catalogue.as_ref())
        else {
            return Vec::new();
        };
        if !query.is_empty() {
            return self
                .search
                .as_ref()
                .map(|s| s.search(query))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(i, _)| c.items.get(i).map(|item| item.id.clone()))
                .collect();
        }
        match shelf {
            guide::Shelf::Common => c.common_items().map(|i| i.id.clone()).collect(),
            guide::Shelf::Category(cat) => c.items_in(*cat).map(|i| i.id.clone()).collect(),
        }
    }

    fn device(&self, kind: DeviceKind, named: &Option<String>) -> Option<String> {
        self.cfg
            .config
            .device_for(named.as_deref(), kind)
            .filter(|id| self.cfg.runtime.device(id).is_ok())
    }

    fn step(&mut self, input: kiosk::Input) {
        let staff = self.credentials.clone();
        let default_english = self.cfg.config.language() == kiosk_ui::Language::En;
        let has_reader = self.claims.as_ref().is_some_and(|c| c.reader.is_some());
        let has_scanner = self.claims.as_ref().is_some_and(|c| c.scanner.is_some());
        let can_print = self.claims.as_ref().is_some_and(|c| c.printer.is_some());
        let idle = self.cfg.config.idle.clone();
        let now = self.now();
        let offers = self.offers.clone();
        let idcopy = self.idcopy_context();
        let apply = self.apply_context();
        let query = self.query_context();
        let papers = self.papers_context();
        let effects = {
            let ctx = kiosk::Context {
                now,
                idle: &idle,
                staff: &staff,
                offers: &offers,
                ticket: ticket::Context {
                    catalogue: self.catalogue.as_ref(),
                    has_reader,
                    has_scanner,
                },
                guide: guide::Context {
                    can_print,
                    ..self.guide_context_for(self.catalogue.as_ref())
                },
                idcopy,
                apply,
                query,
                papers,
                default_english,
            };
            self.kiosk.step(input, &ctx)
        };
        for e in effects {
            self.perform(e);
        }
        self.follow_plate_preview();
        self.follow_staff_card();
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Input(kiosk::Input::Type(tap)) => {
                self.tap(tap);
                self.step(kiosk::Input::Touch);
            }
            Msg::Input(kiosk::Input::Ink(stroke)) => {
                self.ink(stroke);
                self.step(kiosk::Input::Touch);
            }
            // "Next" on a typed text (the copy's use, a complaint): only with words typed.
            Msg::Input(kiosk::Input::Next) if self.typing_screen().is_some() => {
                if let (Some(done), Some(_)) = (self.typing_screen(), self.typed()) {
                    self.step(done);
                }
            }
            Msg::Input(i) => {
                if matches!(i, kiosk::Input::Wake) && self.kiosk.screen == Screen::Attract {
                    self.offers = self.compute_offers();
                }
                self.step(i);
            }
            // Presence wakes the attract screen; it is not a touch, so it keeps no session alive.
            Msg::AdminDone(done) => self.admin_finished(done),
            Msg::StaffCard(token, seen) => self.staff_card_seen(token, seen),
            Msg::CardMoved(device) => self.card_moved(&device),
            Msg::BadgeAtHome(uid) => self.badge_at_home(uid),
            Msg::Presence => {
                if self.kiosk.screen == Screen::Attract {
                    self.offers = self.compute_offers();
                    self.step(kiosk::Input::Wake);
                }
            }
            Msg::Card(generation, result) if generation == self.generation => {
                let result = result.map(|identity| {
                    if let Some(s) = self.session.as_mut() {
                        s.set_identity(identity);
                    }
                });
                self.step(kiosk::Input::Journey(ticket::Input::CardRead(result)));
            }
            Msg::Code(generation, result)
                if generation == self.generation
                    && matches!(
                        self.kiosk.screen,
                        Screen::IdCopy(_) | Screen::Apply(_) | Screen::Query(_) | Screen::Papers(_)
                    ) =>
            {
                if let Ok((code, _)) = result {
                    let input = self.login_code(&code);
                    self.login_input(input);
                }
            }
            Msg::Code(generation, result) if generation == self.generation => {
                // Err: the wait was stopped; nothing was scanned.
                if let Ok((code, appointment)) = result {
                    if let Some(s) = self.session.as_mut() {
                        s.scanned(code, appointment);
                    }
                    let scan = if appointment {
                        Scan::Appointment
                    } else {
                        Scan::Other
                    };
                    self.step(kiosk::Input::Journey(ticket::Input::Scanned(scan)));
                }
            }
            Msg::Numbered(generation, result) if generation == self.generation => {
                let info = result.map(|t| {
                    let info = TicketInfo {
                        number: t.number.clone(),
                        ahead: (!t.offline).then_some(t.ahead),
                        unconfirmed: false,
                    };
                    self.ticket = Some(t);
                    info
                });
                self.step(kiosk::Input::Journey(ticket::Input::Numbered(info)));
            }
            Msg::Printed(generation, result) if generation == self.generation => {
                let info = result.map(|p| TicketInfo {
                    number: p.ticket.number.clone(),
                    ahead: (!p.ticket.offline).then_some(p.ticket.ahead),
                    unconfirmed: p.unconfirmed,
                });
                if let Ok(i) = &info {
                    self.taken_number(i);
                }
                self.step(kiosk::Input::Journey(ticket::Input::Printed(info)));
            }
            Msg::ListPrinted(generation, result) if generation == self.generation => {
                if let Some(b) = self.claims.as_ref().and_then(|c| c.board.clone()) {
                    lights::set(&self.cfg.runtime, &b, Module::Printer, false);
                }
                self.step(kiosk::Input::Guide(guide::Input::Printed(result)));
            }
            Msg::LoginCard(generation, result) if generation == self.generation => {
                let input = self.login_card(result);
                self.login_input(input);
            }
            Msg::FacePrompt(generation, p) if generation == self.generation => {
                self.login_input(super::identify::Input::FacePrompt(p));
            }
            Msg::PlatePreview(generation, jpeg) if generation == self.generation => {
                self.plate_preview_frame(jpeg);
            }
            Msg::FacePreview(generation, jpeg) if generation == self.generation => {
                if matches!(
                    self.kiosk.screen,
                    Screen::IdCopy(idcopy::Stage::Login(super::identify::Stage::Face { .. }))
                        | Screen::Apply(super::apply::Stage::Login(
                            super::identify::Stage::Face { .. }
                        ))
                        | Screen::Query(super::query::Stage::Login(
                            super::identify::Stage::Face { .. }
                        ))
                        | Screen::Papers(super::papers::Stage::Login(
                            super::identify::Stage::Face { .. }
                        ))
                ) {
                    self.pictures.retain(|(n, _)| *n != login::FACE_PREVIEW);
                    self.pictures
                        .push((login::FACE_PREVIEW, Picture(Arc::new(jpeg))));
                }
            }
            Msg::FaceDone(generation, d) if generation == self.generation => {
                self.face_cancel = None;
                self.drop_face_preview();
                self.login_input(super::identify::Input::FaceDone(d));
            }
            Msg::FingerDone(generation, r) if generation == self.generation => {
                self.finger_cancel = None;
                self.login_input(super::identify::Input::FingerDone(r));
            }
            Msg::SideCaptured(generation, side, r) if generation == self.generation => {
                let r = r.map(|bytes| self.keep_picture(copy::kept_name(side), bytes));
                self.step(kiosk::Input::IdCopy(idcopy::Input::Captured(r)));
            }
            Msg::Composed(generation, r) if generation == self.generation => {
                let r = r.map(|c| {
                    self.keep_picture(copy::PREVIEW, c.preview);
                    if let Some(s) = self.session.as_mut() {
                        s.keep(copy::PDF, c.pdf);
                    }
                });
                self.step(kiosk::Input::IdCopy(idcopy::Input::Composed(r)));
            }
            Msg::CopyPrinted(generation, r) if generation == self.generation => {
                self.step(kiosk::Input::IdCopy(idcopy::Input::Printed(r)));
            }
            Msg::PageCaptured(generation, at, r) if generation == self.generation => {
                self.page_captured(at, r);
            }
            Msg::Filed(generation, app, r) if generation == self.generation => {
                self.filed(app, r);
            }
            Msg::ReceiptPrinted(generation, r) if generation == self.generation => {
                self.step(kiosk::Input::Apply(super::apply::Input::Printed(r)));
            }
            Msg::CasesFound(generation, r) if generation == self.generation => {
                self.cases_found(r);
            }
            Msg::SlipPrinted(generation, r) if generation == self.generation => {
                self.step(kiosk::Input::Query(super::query::Input::Printed(r)));
            }
            Msg::ApplyLicences(generation, r) if generation == self.generation => {
                self.apply_licences(r);
            }
            Msg::PapersFound(generation, r) if generation == self.generation => {
                self.papers_found(r);
            }
            Msg::PaperMade(generation, r) if generation == self.generation => {
                self.paper_made(r);
            }
            Msg::PaperPrinted(generation, at, r) if generation == self.generation => {
                self.paper_printed(at, r);
            }
            // A result from a session that already ended.
            Msg::Card(..)
            | Msg::Code(..)
            | Msg::Numbered(..)
            | Msg::Printed(..)
            | Msg::ListPrinted(..)
            | Msg::LoginCard(..)
            | Msg::FacePrompt(..)
            | Msg::FacePreview(..)
            | Msg::FaceDone(..)
            | Msg::FingerDone(..)
            | Msg::SideCaptured(..)
            | Msg::Composed(..)
            | Msg::CopyPrinted(..)
            | Msg::PageCaptured(..)
            | Msg::Filed(..)
            | Msg::ReceiptPrinted(..)
            | Msg::CasesFound(..)
            | Msg::SlipPrinted(..)
            | Msg::PapersFound(..)
            | Msg::ApplyLicences(..)
            | Msg::PaperMade(..)
            | Msg::PlatePreview(..)
            | Msg::PaperPrinted(..) => {}
            Msg::Stop => {}
        }
    }

    /// A login input for whichever journey's login is on screen.
    fn login_input(&mut self, input: super::identify::Input) {
        match self.kiosk.screen {
            Screen::Apply(_) => self.step(kiosk::Input::Apply(super::apply::Input::Login(input))),
            Screen::Query(_) => self.step(kiosk::Input::Query(super::query::Input::Login(input))),
            Screen::Papers(_) => {
                self.step(kiosk::Input::Papers(super::papers::Input::Login(input)))
            }
            _ => self.step(kiosk::Input::IdCopy(idcopy::Input::Login(input))),
        }
    }

    fn taken_number(&self, i: &TicketInfo) {
        self.cfg.runtime.count_use("tickets");
        let bus = &self.cfg.runtime.events;
        let group = self.kiosk_group().unwrap_or_default();
        let how = self
            .request
            .as_ref()
            .map(|(_, h, _)| how_str(*h))
            .unwrap_or("nobody");
        bus.emit(
            Event::new(EventKind::TicketTaken, bus.now())
                .field("session", self.session.as_ref().map(|s| s.id).unwrap_or(0))
                .field("group", group)
                .field("number", i.number.clone())
                .field("ahead", i.ahead)
                .field("identified_by", how)
                .field("unconfirmed", i.unconfirmed),
        );
    }

    fn kiosk_group(&self) -> Option<String> {
        match &self.kiosk.screen {
            Screen::Ticket(s) => s.group().map(str::to_string),
            _ => None,
        }
    }

    fn tick(&mut self) {
        let now = self.now();
        if self
            .last_offer_check
            .is_none_or(|t| now.saturating_sub(t) >= Duration::from_millis(500))
        {
            self.last_offer_check = Some(now);
            if self.session.is_none() {
                self.reload_catalogue();
            }
            self.offers = self.compute_offers();
        }
        if self.taken_until.is_some_and(|t| now >= t) {
            self.taken_until = None;
            self.step(kiosk::Input::Journey(ticket::Input::TakenElapsed));
        }
        if let Some(c) = &self.claims {
            for claim in c.all() {
                let _ = claim.renew(LEASE);
            }
        }
        for claim in &self.admin {
            let _ = claim.renew(LEASE);
        }
        self.renew_staff_card();
        if self.kiosk.screen == Screen::Attract {
            let slides = self.slides.len() + self.catalogue.as_ref().map_or(0, |c| c.notices.len());
            let every = Duration::from_secs(self.cfg.config.attract.slide_s);
            if slides > 0 && now.saturating_sub(self.slide_since) >= every {
                self.slide = (self.slide + 1) % slides;
                self.slide_since = now;
            }
        }
        self.step(kiosk::Input::Tick);
    }

    fn reload_catalogue(&mut self) {
        match Catalogue::in_force(&self.cfg.journal) {
            Ok(c) => {
                if c != self.catalogue {
                    self.search = c.as_ref().map(Catalogue::search_index);
                    self.catalogue = c;
                    // A new catalogue may bring new queue groups (the first one arrives after
                    // start): have numbers in hand for each.
                    self.reserve_ticket_numbers();
                }
            }
            Err(e) => tracing::warn!(error = %e, "the catalogue in force cannot be used"),
        }
    }

    /// The guide's context over `catalogue` (printing the list is the session's, set by the
    /// caller): whether it may hand over to an application or a proof here.
    fn guide_context_for<'c>(&self, catalogue: Option<&'c Catalogue>) -> guide::Context<'c> {
        let offered = |j: &str| self.cfg.config.journeys.offered.iter().any(|o| o == j);
        guide::Context {
            catalogue,
            can_print: false,
            can_apply: offered("apply"),
            can_prove: offered("proof") && self.proof_unavailable().is_none(),
        }
    }

    fn compute_offers(&self) -> Vec<Offer> {
        self.cfg
            .config
            .journeys
            .offered
            .iter()
            // Applying and proofs start from an item's guide, not from a tile of their own.
            .filter(|j| j.as_str() != "apply" && j.as_str() != "proof")
            .map(|j| {
                let why = match j.as_str() {
                    "ticket" => self.ticket_unavailable(),
                    "guide" => self
                        .catalogue
                        .as_ref()
                        .is_none_or(|c| c.items.is_empty())
                        .then_some(Unavailable::Catalogue),
                    "id-copy" => self.id_copy_unavailable(),
                    // Cases live at the centre: the look-up says so when it is away.
                    "query" => None,
                    "licences" => self.proof_unavailable(),
                    _ => Some(Unavailable::Busy),
                };
                Offer {
                    id: j.clone(),
                    available: why.is_none(),
                    why,
                }
            })
            .collect()
    }

    fn ticket_unavailable(&self) -> Option<Unavailable> {
        if self
            .catalogue
            .as_ref()
            .is_none_or(|c| c.queue.groups.is_empty())
        {
            return Some(Unavailable::Catalogue);
        }
        let printer = self.device(
            DeviceKind::ReceiptPrinter,
            &self.cfg.config.journeys.ticket.printer,
        )?;
        if let Some(why) = self.printer_unusable(&printer) {
            return Some(why);
        }
        // Without the centre, tickets come from the numbers reserved for it, while any last.
        if !self.cfg.link.borrow().reachable {
            let in_hand = match (
                &self.catalogue,
                self.cfg.config.journeys.ticket.offline_numbers,
            ) {
                (Some(c), n) if n > 0 => queue::numbers_in_hand(&self.cfg.desk, &c.hall.id),
                _ => 0,
            };
            if in_hand == 0 {
                return Some(Unavailable::Centre);
            }
        }
        self.held_elsewhere(&printer)
    }

    /// Why a printer cannot print now: gone, or not in a state that prints.
    fn printer_unusable(&self, printer: &str) -> Option<Unavailable> {
        let Ok(dev) = self.cfg.runtime.device(printer) else {
            return Some(Unavailable::Printer);
        };
        (!matches!(
            dev.health().centre_state(),
            CentreState::Normal | CentreState::Warning
        ))
        .then_some(Unavailable::Printer)
    }

    /// A device the technician or a remote command holds is busy for journeys.
    fn held_elsewhere(&self, device: &str) -> Option<Unavailable> {
        match self.cfg.runtime.holder(device) {
            Some(h) if !matches!(h, Owner::Flow(_)) => Some(Unavailable::Busy),
            _ => None,
        }
    }

    /// Neither the card reader nor the code scanner is there: nobody can identify.
    fn no_way_to_identify(&self) -> bool {
        let t = &self.cfg.config.journeys.ticket;
        self.device(DeviceKind::IdCardReader, &t.card_reader)
            .is_none()
            && self.device(DeviceKind::QrScanner, &t.scanner).is_none()
    }

    /// Licences and proofs need a working A4 printer and a way to identify.
    fn proof_unavailable(&self) -> Option<Unavailable> {
        let Some(printer) = self.device(
            DeviceKind::A4Printer,
            &self.cfg.config.journeys.papers.printer,
        ) else {
            return Some(Unavailable::Printer);
        };
        if self.no_way_to_identify() {
            return Some(Unavailable::Busy);
        }
        self.printer_unusable(&printer)
            .or_else(|| self.held_elsewhere(&printer))
    }

    /// The copy needs a working A4 printer, a document camera and a way to identify.
    fn id_copy_unavailable(&self) -> Option<Unavailable> {
        let c = &self.cfg.config.journeys.id_copy;
        let printer = self.device(DeviceKind::A4Printer, &c.printer)?;
        self.device(DeviceKind::DocumentCamera, &c.document_camera)?;
        if self.no_way_to_identify() {
            return Some(Unavailable::Busy);
        }
        self.printer_unusable(&printer)
            .or_else(|| self.held_elsewhere(&printer))
    }

    fn perform(&mut self, e: kiosk::Effect) {
        match e {
            kiosk::Effect::IdCopy(c) => self.idcopy(c),
            kiosk::Effect::StartSession(journey) => self.start_session(journey),
            kiosk::Effect::EndSession(reason) => self.end_session(reason),
            kiosk::Effect::Journey(j) => self.journey(j),
            kiosk::Effect::Guide(g) => self.guide(g),
            kiosk::Effect::Apply(a) => self.apply(a),
            kiosk::Effect::Query(q) => self.query(q),
            kiosk::Effect::BeginApply { item, answers } => self.begin_apply(item, answers),
            kiosk::Effect::Papers(p) => self.papers(p),
            kiosk::Effect::BeginProof { item, answers } => self.begin_proof(item, answers),
            kiosk::Effect::Staff(s) => self.staff(s),
        }
    }

    /// The terminal's local time to the minute, as receipts print it ("2026-11-23 09:41").
    fn local_minute(&self) -> String {
        self.cfg
            .runtime
            .events
            .now()
            .with_timezone(&self.cfg.config.offset())
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn guide(&mut self, e: guide::Effect) {
        let guide::Effect::Print { item, answers } = e else {
            return;
        };
        let generation = self.generation;
        let printer = self.claims.as_ref().and_then(|c| c.printer.clone());
        let (Some(printer), Some(catalogue)) = (printer, self.catalogue.clone()) else {
            let _ = self.tx.send(Msg::ListPrinted(
                generation,
                Err(PrintProblem::Fault("no receipt printer".into())),
            ));
            return;
        };
        let Some(service) = catalogue.item(&item).cloned() else {
            // Never left on "printing": the screen says the list could not be printed.
            let _ = self.tx.send(Msg::ListPrinted(
                generation,
                Err(PrintProblem::Fault(
                    "the item is no longer in the catalogue".into(),
                )),
            ));
            return;
        };
        let printed_at = self.local_minute();
        let (desk, tx) = (self.cfg.desk.clone(), self.tx.clone());
        if let Some(b) = self.claims.as_ref().and_then(|c| c.board.clone()) {
            lights::set(&self.cfg.runtime, &b, Module::Printer, true);
        }
        spawn("guide-print", move || {
            let r = crate::services::materials::print(
                &desk,
                &printer,
                &catalogue,
                &service,
                &answers,
                &printed_at,
            );
            let _ = tx.send(Msg::ListPrinted(generation, r));
        });
    }

    fn start_session(&mut self, journey: &'static str) {
        // The proof the guide handed over outlives the guide's session, into its own.
        let order = self.papers.order.take();
        self.end_session(EndReason::Cancelled);
        if journey == "proof" {
            self.papers.order = order;
        }
        self.reload_catalogue();
        self.generation += 1;
        let id = self.next_session;
        self.next_session += 1;
        self.session = Some(Session::new(id, journey, self.now()));
        self.cfg.runtime.count_use("users");
        let bus = &self.cfg.runtime.events;
        bus.emit(
            Event::new(EventKind::SessionStarted, bus.now())
                .field("session", id)
                .field("journey", journey),
        );
        let owner = Owner::Flow(format!("{journey}#{id}"));
        let t = &self.cfg.config.journeys.ticket;
        let claim = |id: Option<String>| -> Result<Option<Arc<Claim>>, String> {
            match id {
                None => Ok(None),
                Some(d) => self
                    .cfg
                    .runtime
                    .claim(&d, owner.clone(), LEASE, Duration::from_secs(2))
                    .map(|c| Some(Arc::new(c)))
                    .map_err(|e| e.to_string()),
            }
        };
        if journey == "guide" {
            // The guide reads the catalogue; a printer it cannot have only hides "print".
            self.claims = Some(Claims {
                printer: claim(self.device(DeviceKind::ReceiptPrinter, &t.printer)).unwrap_or(None),
                board: claim(self.device(DeviceKind::Board, &t.board)).unwrap_or(None),
                ..Claims::default()
            });
            return;
        }
        if journey == "query" {
            // Identifying is one way in; the number and password need no device at all.
            let j = &self.cfg.config.journeys;
            let get =
                |kind, named: &Option<String>| claim(self.device(kind, named)).unwrap_or(None);
            self.claims = Some(Claims {
                reader: get(DeviceKind::IdCardReader, &j.ticket.card_reader),
                scanner: get(DeviceKind::QrScanner, &j.ticket.scanner),
                board: get(DeviceKind::Board, &j.ticket.board),
                face_camera: get(DeviceKind::FaceCamera, &j.apply.face_camera),
                fingerprint: get(DeviceKind::Fingerprint, &j.apply.fingerprint),
                printer: get(DeviceKind::ReceiptPrinter, &j.ticket.printer),
                document_camera: None,
                a4: None,
            });
            return;
        }
        if journey == "apply" {
            let (claims, app) = self.claims_for_apply(&|id| claim(id).unwrap_or(None));
            self.claims = Some(claims);
            self.application = app;
            return;
        }
        if journey == "licences" || journey == "proof" {
            let j = &self.cfg.config.journeys;
            let get =
                |kind, named: &Option<String>| claim(self.device(kind, named)).unwrap_or(None);
            self.claims = Some(Claims {
                reader: get(DeviceKind::IdCardReader, &t.card_reader),
                scanner: get(DeviceKind::QrScanner, &t.scanner),
                board: get(DeviceKind::Board, &t.board),
                face_camera: get(DeviceKind::FaceCamera, &j.apply.face_camera),
                fingerprint: get(DeviceKind::Fingerprint, &j.apply.fingerprint),
                a4: get(DeviceKind::A4Printer, &j.papers.printer),
                document_camera: None,
                printer: None,
            });
            if self
                .claims
                .as_ref()
                .is_some_and(|c| c.a4.is_none() || (c.reader.is_none() && c.scanner.is_none()))
            {
                tracing::warn!(journey, "the papers cannot have their devices");
                self.stop_waiting();
                self.kiosk.screen = Screen::Papers(super::papers::Stage::Problem {
                    problem: super::papers::Problem::Unavailable,
                    at: None,
                });
            }
            return;
        }
        if journey == "id-copy" {
            // A device the session cannot have is simply not there: the login goes by what
            // remains, and without the camera or the printer the journey says so.
            let c = &self.cfg.config.journeys.id_copy;
            let get =
                |kind, named: &Option<String>| claim(self.device(kind, named)).unwrap_or(None);
            self.claims = Some(Claims {
                reader: get(DeviceKind::IdCardReader, &t.card_reader),
                scanner: get(DeviceKind::QrScanner, &t.scanner),
                board: get(DeviceKind::Board, &t.board),
                face_camera: get(DeviceKind::FaceCamera, &c.face_camera),
                fingerprint: get(DeviceKind::Fingerprint, &c.fingerprint),
                document_camera: get(DeviceKind::DocumentCamera, &c.document_camera),
                a4: get(DeviceKind::A4Printer, &c.printer),
                printer: None,
            });
            // Devices another owner holds now: the journey says it cannot copy, and its
            // login waits are stopped (the card wait began before the claims).
            if self.claims.as_ref().is_some_and(|c| {
                c.document_camera.is_none()
                    || c.a4.is_none()
                    || (c.reader.is_none() && c.scanner.is_none())
            }) {
                tracing::warn!("the ID card copy cannot have its devices");
                self.stop_waiting();
                self.kiosk.screen = Screen::IdCopy(idcopy::Stage::Problem {
                    problem: idcopy::Problem::Unavailable,
                    purpose: None,
                });
            }
            return;
        }
        let claimed = (|| {
            Ok::<_, String>(Claims {
                printer: claim(self.device(DeviceKind::ReceiptPrinter, &t.printer))?,
                reader: claim(self.device(DeviceKind::IdCardReader, &t.card_reader))?,
                scanner: claim(self.device(DeviceKind::QrScanner, &t.scanner))?,
                board: claim(self.device(DeviceKind::Board, &t.board)).unwrap_or(None),
                ..Claims::default()
            })
        })();
        match claimed {
            Ok(c) if c.printer.is_some() => self.claims = Some(c),
            Ok(_) => self.block("this terminal has no receipt printer".into()),
            Err(why) => self.block(why),
        }
    }

    fn block(&mut self, why: String) {
        tracing::warn!(%why, "the journey cannot have its devices");
        let (stage, _) = ticket::blocked(why);
        self.kiosk.screen = Screen::Ticket(stage);
    }

    fn end_session(&mut self, reason: EndReason) {
        self.stop_waiting();
        self.stop_staff_card();
        self.stop_plate_preview();
        if let Some(c) = self.face_cancel.take() {
            c.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(c) = self.finger_cancel.take() {
            c.cancel();
        }
        self.card_facts = CardFacts {
            photo: false,
            fingerprint: false,
        };
        self.pictures.clear();
        self.typing = None;
        self.application = None;
        self.apply_shape = None;
        self.cases.clear();
        self.query_number = None;
        self.papers = papers_host::Papers::default();
        self.taken_until = None;
        self.request = None;
        self.ticket = None;
        if let Some(c) = &self.claims {
            if let Some(board) = &c.board {
                for m in [
                    Module::IdCard,
                    Module::Scanner,
                    Module::Printer,
                    Module::Camera,
                ] {
                    lights::set(&self.cfg.runtime, board, m, false);
                }
            }
        }
        self.claims = None;
        if let Some(mut s) = self.session.take() {
            s.wipe();
            let bus = &self.cfg.runtime.events;
            bus.emit(
                Event::new(EventKind::SessionEnded, bus.now())
                    .field("session", s.id)
                    .field("journey", s.journey)
                    .field("reason", reason.as_str())
                    .field(
                        "duration_ms",
                        u64::try_from(self.now().saturating_sub(s.started).as_millis())
                            .unwrap_or(u64::MAX),
                    ),
            );
            if reason == EndReason::TimedOut {
                bus.emit(Event::new(EventKind::SessionTimedOut, bus.now()).field("session", s.id));
            }
        }
        self.generation += 1;
    }

    /// Waits for the next code on `scanner` (a wait already running is stopped); the code
    /// comes back as `Msg::Code` of this session.
    fn wait_for_code(&mut self, scanner: Arc<Claim>) {
        if let Some(t) = self.code_wait.take() {
            t.cancel();
        }
        let cancel = CancelToken::new();
        self.code_wait = Some(cancel.clone());
        let (rt, tx, generation) = (self.cfg.runtime.clone(), self.tx.clone(), self.generation);
        spawn("code-wait", move || {
            let r = wait_for_code(&rt, &scanner, &cancel);
            let _ = tx.send(Msg::Code(generation, r));
        });
    }

    fn stop_waiting(&mut self) {
        for t in [self.card_wait.take(), self.code_wait.take()]
            .into_iter()
            .flatten()
        {
            t.cancel();
        }
    }

    fn journey(&mut self, e: ticket::Effect) {
        let generation = self.generation;
        let Some(claims) = self.claims.clone() else {
            if let ticket::Effect::Finish(o) = e {
                self.finished(&o);
            }
            return;
        };
        match e {
            ticket::Effect::Light(m, on) => {
                if let Some(b) = &claims.board {
                    lights::set(&self.cfg.runtime, b, m, on);
                }
            }
            ticket::Effect::WaitForCard => {
                if let Some(reader) = claims.reader {
                    if let Some(t) = self.card_wait.take() {
                        t.cancel();
                    }
                    let cancel = CancelToken::new();
                    self.card_wait = Some(cancel.clone());
                    let (rt, tx) = (self.cfg.runtime.clone(), self.tx.clone());
                    let timeout =
                        Duration::from_secs(self.cfg.config.journeys.ticket.card_timeout_s);
                    spawn("card-wait", move || {
                        let r = card::wait_and_read(&rt, &reader, card::context(timeout, cancel));
                        let _ = tx.send(Msg::Card(generation, r));
                    });
                }
            }
            ticket::Effect::WaitForCode => {
                if let Some(scanner) = claims.scanner {
                    self.wait_for_code(scanner);
                }
            }
            ticket::Effect::StopWaiting => self.stop_waiting(),
            ticket::Effect::Forget => {
                if let Some(s) = self.session.as_mut() {
                    s.forget();
                }
            }
            ticket::Effect::Number { group, how } => {
                let Some((catalogue, g)) = self.group(&group) else {
                    return;
                };
                let request_id = match &self.request {
                    Some((rg, rh, id)) if *rg == group && *rh == how => id.clone(),
                    _ => uuid::Uuid::new_v4().to_string(),
                };
                self.request = Some((group, how, request_id.clone()));
                let session = self.session.as_ref();
                let appointment = match how {
                    How::Appointment => session
                        .and_then(|s| s.appointment())
                        .map(|a| Zeroizing::new(a.to_string())),
                    _ => None,
                };
                let holder = match how {
                    How::Card => session
                        .and_then(|s| s.identity())
                        .map(|i| i.masked_number()),
                    _ => None,
                };
                let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
                let age = match how {
                    How::Card => session
                        .and_then(|s| s.identity())
                        .and_then(|i| i.age_on(today)),
                    _ => None,
                };
                let offline_numbers = self.cfg.config.journeys.ticket.offline_numbers;
                let (desk, tx) = (self.cfg.desk.clone(), self.tx.clone());
                spawn("ticket-number", move || {
                    let ask = queue::NumberAsk {
                        request_id: &request_id,
                        appointment: appointment.as_deref().map(String::as_str),
                        holder: holder.as_deref(),
                        age,
                        offline_numbers,
                    };
                    let r = queue::number(&desk, &catalogue, &g, &ask);
                    let _ = tx.send(Msg::Numbered(generation, r));
                });
            }
            ticket::Effect::Print { group } => {
                let (Some((catalogue, g)), Some(ticket), Some(printer)) =
                    (self.group(&group), self.ticket.clone(), claims.printer)
                else {
                    return;
                };
                let issued_at = self.local_minute();
                let (desk, tx) = (self.cfg.desk.clone(), self.tx.clone());
                spawn("ticket-print", move || {
                    let r = queue::print(&desk, &printer, &catalogue, &g, &ticket, &issued_at);
                    let _ = tx.send(Msg::Printed(generation, r));
                });
            }
            ticket::Effect::StartTakenTimer => {
                self.taken_until =
                    Some(self.now() + Duration::from_secs(self.cfg.config.journeys.ticket.taken_s));
            }
            ticket::Effect::Finish(o) => self.finished(&o),
        }
    }

    fn finished(&mut self, o: &ticket::Outcome) {
        if let ticket::Outcome::NotTaken { group, problem } = o {
            let bus = &self.cfg.runtime.events;
            bus.emit(
                Event::new(EventKind::TicketNotTaken, bus.now())
                    .field("session", self.session.as_ref().map(|s| s.id).unwrap_or(0))
                    .field("group", group.clone().unwrap_or_default())
                    .field("problem", problem.clone()),
            );
        }
    }

    /// Numbers in hand before the first citizen: a ticket machine that loses the centre
    /// early in the day can still issue tickets from its reserved blocks.
    fn reserve_ticket_numbers(&self) {
        let offered = self
            .cfg
            .config
            .journeys
            .offered
            .iter()
            .any(|o| o == "ticket");
        let (Some(c), true) = (self.catalogue.clone(), offered) else {
            return;
        };
        let size = self.cfg.config.journeys.ticket.offline_numbers;
        if size == 0 {
            return;
        }
        let desk = self.cfg.desk.clone();
        spawn("ticket-blocks", move || {
            for g in &c.queue.groups {
                if let Err(e) = queue::top_up(&desk, &c.hall.id, &g.id, size) {
                    tracing::warn!(error = %e, service = %g.id, "no numbers reserved for offline tickets");
                }
            }
        });
    }

    fn group(&self, id: &str) -> Option<(Catalogue, QueueGroup)> {
        let c = self.catalogue.as_ref()?;
        Some((c.clone(), c.group(id)?.clone()))
    }
}

fn cfg_bus(w: &Worker) -> crate::runtime::EventBus {
    w.cfg.runtime.events.clone()
}

/// Forwards presence-sensor events, and cards coming to or leaving a card reader, to the
/// host as they happen (not at its next tick), until the host is gone.
fn forward_bus_inputs(
    bus: crate::runtime::EventBus,
    tx: mpsc::Sender<Msg>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut rx = bus.subscribe();
    spawn("presence", move || loop {
        match rx.try_recv() {
            Ok(e) if e.kind == EventKind::PresenceDetected => {
                if tx.send(Msg::Presence).is_err() {
                    return;
                }
            }
            Ok(e)
                if e.kind == EventKind::DeviceInput
                    && e.fields.get("input") == Some(&"card".into()) =>
            {
                let device = e.device.unwrap_or_default();
                if tx.send(Msg::CardMoved(device)).is_err() {
                    return;
                }
            }
            Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::TryRecvError::Closed) => return,
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                // 50 looks a second: someone stepping up is seen well within a frame's
                // notice, and an idle terminal is not woken 200 times a second for it.
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
}

fn how_str(h: How) -> &'static str {
    match h {
        How::Card => "id-card",
        How::Appointment => "appointment",
        How::Nobody => "nobody",
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
        tracing::error!(job = name, error = %e, "cannot start a journey job");
    }
}

/// Waits for the next code on the claimed scanner until canceled. `Ok((code, appointment))`.
pub(crate) fn wait_for_code(
    rt: &Runtime,
    scanner: &Claim,
    cancel: &CancelToken,
) -> Result<(Zeroizing<String>, bool), ()> {
    loop {
        if cancel.is_canceled() {
            return Err(());
        }
        let ctx = card::context(Duration::from_secs(30), cancel.clone());
        match rt.call_with(
            scanner,
            "scan",
            serde_json::json!({ "timeout_ms": 30_000 }),
            ctx,
        ) {
            Ok(mut v) => {
                let payload = &v["payload"];
                let appointment = payload["type"] == "appointment";
                let code = payload
                    .get("code")
                    .or_else(|| payload.get("url"))
                    .or_else(|| payload.get("text"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                card::wipe_json(&mut v);
                return Ok((Zeroizing::new(code), appointment));
            }
            Err(e)
                if e.device_error()
                    .is_some_and(|d| d.code == kiosk_hal::CompletionCode::Timeout) =>
            {
                continue
            }
            Err(e) => {
                if !cancel.is_canceled() {
                    tracing::warn!(error = %e, "waiting for a code failed");
                    std::thread::sleep(Duration::from_millis(500));
                    continue;
                }
                return Err(());
            }
        }
    }
}

/// The attract screen's pictures: PNG and JPEG files of `folder`, in name order.
pub(crate) fn attract_pictures(folder: Option<&std::path::Path>) -> Vec<std::path::PathBuf> {
    let Some(dir) = folder else {
        return Vec::new();
    };
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(r) => r
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg")
                })
            })
            .collect(),
        Err(e) => {
            tracing::warn!(folder = %dir.display(), error = %e, "attract pictures unavailable");
            Vec::new()
        }
    };
    files.sort();
    files
}
