//! The host of the window unit: it feeds the desk's state machine the clerk's and citizen's
//! touches, the queue's answers, card reads and the clock; performs its effects on worker
//! threads (the centre's queue and staff login, the ID reader and receipt printer through
//! claims, the journal, the speaker); holds the citizen's card data and signature ink for as
//! long as the ticket is at the window; and publishes what both screens show as a `DeskView`.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use kiosk_hal::clock::SharedClock;
use kiosk_hal::device::CancelToken;
use kiosk_protocol::queue::{StaffLogin, WindowState};

use super::rating;
use super::window::{
    CardFacts, Citizen, CitizenAct, ClerkAct, Desk, DeskProblem, DeskTicket, Effect, Input, Kept,
    LoginProblem,
};
use crate::config::{Config, WindowConfig};
use crate::journal::Journal;
use crate::runtime::Runtime;
use crate::services::apply::ink::{Ink, InkPoint};
use crate::services::card;
use crate::services::catalogue::{Catalogue, Notice, Text};
use crate::services::outputs::OutputDesk;
use crate::services::speech::Speaker;

/// A line the citizen is asked to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmLine {
    pub label: String,
    pub value: String,
}

/// A service the clerk may transfer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceChoice {
    pub id: String,
    pub name: Text,
}

/// A rating tag as the citizen screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagLine {
    pub id: String,
    pub label: Text,
    pub chosen: bool,
}

/// What the two screens show. The citizen's own name and masked ID number appear only in
/// `confirm`, for the citizen screen; the clerk's toolbar gets the masked name.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskView {
    pub version: u64,
    pub window: String,
    pub hall: Option<Text>,
    pub clerk: Option<kiosk_protocol::queue::StaffPlate>,
    pub window_state: WindowState,
    pub ticket: Option<DeskTicket>,
    /// The name of the ticket's service.
    pub service: Option<Text>,
    pub last: Option<String>,
    pub held: Vec<String>,
    pub waiting: Option<u32>,
    pub pending: Option<&'static str>,
    pub login_problem: Option<LoginProblem>,
    pub problem: Option<DeskProblem>,
    pub done: Option<&'static str>,
    pub citizen: Citizen,
    pub asleep: bool,
    pub masked_name: Option<String>,
    pub confirm: Vec<ConfirmLine>,
    pub confirmed: Option<bool>,
    pub signed: bool,
    pub can_rate: bool,
    pub case_number: Option<String>,
    pub plate_only: bool,
    pub casting: bool,
    /// The clerk's screen as cast, while the citizen screen shows it.
    pub cast_frame: Option<crate::services::cast::Frame>,
    /// The social-security card read, masked.
    pub ic_card: Option<String>,
    pub materials: u32,
    pub figures: Option<kiosk_protocol::queue::QueueFigures>,
    /// The signature so far (SVG path in pad units).
    pub ink: String,
    pub strokes: usize,
    pub services: Vec<ServiceChoice>,
    pub tags: Vec<TagLine>,
    pub rating_level: u8,
    pub typed: String,
    pub preedit: String,
    pub candidates: Vec<String>,
    pub plain_keys: bool,
    pub notices: Vec<Notice>,
    pub slides: Vec<std::path::PathBuf>,
    pub slide: usize,
    pub opens: String,
    pub closes: String,
}

use super::host::typing::Typing;

/// How often (in 200 ms ticks) a signed-in unit asks the queue how many wait: 5 s.
const WAITING_EVERY_TICKS: u64 = 25;
/// And its figures of today (heavier to count), besides after each ticket: every minute.
const FIGURES_EVERY_TICKS: u64 = 300;

/// The longest complaint taken on the citizen screen.
const MAX_COMPLAINT: usize = 120;

struct Inner {
    desk: Desk,
    version: u64,
    ink: Ink,
    typing: Option<Typing>,
    identity: Option<card::CitizenIdentity>,
    card_cancel: Option<CancelToken>,
    /// The social-security card read for this ticket (wiped when it leaves).
    ic_card: Option<crate::services::iccard::SsCard>,
    cast: Option<cast::CastRun>,
    cast_frame: Option<crate::services::cast::Frame>,
    cast_seq: u64,
    /// e-ID codes seen, so one shown twice is refused.
    eid_replay: crate::services::eid::ReplayGuard,
    catalogue: Option<Catalogue>,
    slide: usize,
    slide_since: chrono::DateTime<chrono::Utc>,
    thanks_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Opening hours decided by hand (a tour), not by the clock.
    hours_fixed: Option<bool>,
    stopped: bool,
}

pub struct DeskHostConfig {
    pub config: Config,
    pub runtime: Arc<Runtime>,
    pub desk: OutputDesk,
    pub journal: Journal,
    pub clock: SharedClock,
    /// With the embedded centre the unit sets up its window's services itself.
    pub set_up_window: bool,
}

struct Shared {
    cfg: DeskHostConfig,
    window: WindowConfig,
    inner: Mutex<Inner>,
    changed: Condvar,
    notify: Mutex<Box<dyn Fn() + Send>>,
    slides: Vec<std::path::PathBuf>,
    /// Says the calls on the unit's speaker.
    speaker: Mutex<Option<Speaker>>,
}

/// The window unit's host.
#[derive(Clone)]
pub struct DeskHost {
    shared: Arc<Shared>,
}

#[path = "window_cast.rs"]
mod cast;
#[path = "window_host_more.rs"]
mod more;
#[path = "window_host_work.rs"]
mod work;
pub use work::set_up_window;
use work::{centre_problem, login_problem};

/// The stroke the screen sends: `x y t p;` per point (pressure -1 when the panel has none).
pub fn stroke(points: &[(f32, f32, u32, Option<f32>)]) -> Vec<InkPoint> {
    points
        .iter()
        .map(|&(x, y, t_ms, pressure)| InkPoint {
            x,
            y,
            t_ms,
            pressure,
        })
        .collect()
}

impl DeskHost {
    pub fn start(cfg: DeskHostConfig) -> anyhow::Result<DeskHost> {
        let window = cfg
            .config
            .window
            .clone()
            .ok_or_else(|| anyhow::anyhow!("a window unit needs a [window] section"))?;
        let now = cfg.clock.now();
        let slides = super::host::attract_pictures(cfg.config.attract.folder.as_deref());
        let mut desk = Desk::new(&window.number, Vec::new(), Vec::new());
        desk.open_hours = window.open_at(now.with_timezone(&cfg.config.offset()).naive_local());
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                desk,
                version: 1,
                ink: Ink::default(),
                typing: None,
                identity: None,
                card_cancel: None,
                ic_card: None,
                cast: None,
                cast_frame: None,
                cast_seq: 0,
                eid_replay: Default::default(),
                catalogue: None,
                slide: 0,
                slide_since: now,
                thanks_until: None,
                hours_fixed: None,
                stopped: false,
            }),
            changed: Condvar::new(),
            notify: Mutex::new(Box::new(|| {})),
            slides,
            speaker: Mutex::new(None),
            window,
            cfg,
        });
        let host = DeskHost { shared };
        host.load_catalogue();
        let ticker = host.clone();
        std::thread::Builder::new()
            .name("window-desk".into())
            .spawn(move || ticker.tick_loop())?;
        Ok(host)
    }

    /// Where the calls are said: the sound card (`kiosk run`) or WAV files (a tour).
    pub fn set_speaker(&self, s: Speaker) {
        *self
            .shared
            .speaker
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(s);
    }

    /// Opening hours by hand (`Some`), or by the clock and `[window]` again (`None`).
    pub fn fix_hours(&self, open: Option<bool>) {
        self.lock().hours_fixed = open;
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_notify(&self, f: Box<dyn Fn() + Send>) {
        *self.shared.notify.lock().unwrap_or_else(|p| p.into_inner()) = f;
    }

    fn changed(&self, inner: &mut Inner) {
        inner.version += 1;
        self.shared.changed.notify_all();
        let notify = self.shared.notify.lock().unwrap_or_else(|p| p.into_inner());
        notify();
    }

    /// The catalogue in force gives the hall, the service names and the rating tags.
    fn load_catalogue(&self) -> bool {
        let c = match Catalogue::in_force(&self.shared.cfg.journal) {
            Ok(Some(c)) => c,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "the catalogue in force cannot be read");
                return false;
            }
        };
        let mut inner = self.lock();
        let tags = |f: crate::services::catalogue::TagFor| {
            c.rating
                .tags
                .iter()
                .filter(|t| t.for_levels == f && t.offered_at(true))
                .map(|t| t.id.clone())
                .collect::<Vec<_>>()
        };
        inner.desk.satisfied_tags = tags(crate::services::catalogue::TagFor::Satisfied);
        inner.desk.unsatisfied_tags = tags(crate::services::catalogue::TagFor::Unsatisfied);
        inner.catalogue = Some(c);
        self.changed(&mut inner);
        true
    }

    /// The hall's id at the centre, once the catalogue has arrived.
    pub fn hall(&self) -> Option<String> {
        self.lock().catalogue.as_ref().map(|c| c.hall.id.clone())
    }

    /// The services this window calls from: the configured ones, or every queue group.
    pub fn services(&self) -> Vec<String> {
        if !self.shared.window.services.is_empty() {
            return self.shared.window.services.clone();
        }
        self.lock()
            .catalogue
            .as_ref()
            .map(|c| c.queue.groups.iter().map(|g| g.id.clone()).collect())
            .unwrap_or_default()
    }

    /// The clock: the catalogue until it arrives, opening hours, the carousel, "thank you".
    fn tick_loop(&self) {
        let mut have_catalogue = self.lock().catalogue.is_some();
        // A hall's centre keeps its windows' services; the embedded one learns them from here.
        let mut set_up = !self.shared.cfg.set_up_window;
        let mut n = 0u64;
        loop {
            std::thread::sleep(Duration::from_millis(200));
            n += 1;
            if self.lock().stopped {
                return;
            }
            if !have_catalogue && n.is_multiple_of(5) {
                have_catalogue = self.load_catalogue();
            }
            if have_catalogue && !set_up && n.is_multiple_of(5) {
                set_up = match self.centre().and_then(|c| set_up_window(self, c)) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, "the window is not set up at the embedded centre yet");
                        false
                    }
                };
            }
            // The waiting count between commands (tickets issued, transferred here).
            if n.is_multiple_of(WAITING_EVERY_TICKS) {
                let idle = {
                    let inner = self.lock();
                    inner.desk.clerk.is_some() && inner.desk.pending.is_none()
                };
                if idle {
                    self.background(|h| h.refresh_waiting());
                }
            }
            if n.is_multiple_of(FIGURES_EVERY_TICKS) && self.lock().desk.clerk.is_some() {
                self.background(|h| h.refresh_figures());
            }
            let now = self.shared.cfg.clock.now();
            let local = now
                .with_timezone(&self.shared.cfg.config.offset())
                .naive_local();
            let fixed = self.lock().hours_fixed;
            let open = fixed.unwrap_or_else(|| self.shared.window.open_at(local));
            let thanks_over;
            {
                let mut inner = self.lock();
                let mut moved = false;
                if inner.desk.open_hours != open {
                    inner.desk.step(Input::Hours(open));
                    moved = true;
                }
                let slides = self.shared.slides.len()
                    + inner.catalogue.as_ref().map_or(0, |c| c.notices.len());
                let every =
                    chrono::Duration::seconds(self.shared.cfg.config.attract.slide_s.max(1) as i64);
                if slides > 0 && now - inner.slide_since >= every {
                    inner.slide = (inner.slide + 1) % slides;
                    inner.slide_since = now;
                    moved = true;
                }
                thanks_over = inner.thanks_until.is_some_and(|t| now >= t);
                if moved && !thanks_over {
                    self.changed(&mut inner);
                }
            }
            if thanks_over {
                self.lock().thanks_until = None;
                self.send(Input::ThanksOver);
            }
        }
    }

    /// A touch on either screen, or a result.
    pub fn send(&self, input: Input) {
        let effects = {
            let mut inner = self.lock();
            if inner.stopped {
                return;
            }
            let fx = inner.desk.step(input);
            self.changed(&mut inner);
            fx
        };
        for e in effects {
            self.perform(e);
        }
    }

    pub fn clerk(&self, act: ClerkAct) {
        self.send(Input::Clerk(act));
    }

    pub fn citizen(&self, act: CitizenAct) {
        // "Done" under the signature: the ink decides whether it is one.
        let act = match act {
            CitizenAct::SignDone { .. } => CitizenAct::SignDone {
                enough: self.lock().ink.enough(),
            },
            a => a,
        };
        self.send(Input::Citizen(act));
    }

    /// A stroke drawn on the signature pad.
    pub fn ink(&self, stroke: Vec<InkPoint>) {
        let added = {
            let mut inner = self.lock();
            matches!(inner.desk.citizen, Citizen::Sign { .. }) && inner.ink.add(stroke)
        };
        if added {
            self.send(Input::Citizen(CitizenAct::Inked));
        }
    }

    /// A tap on the complaint keyboard.
    pub fn tap(&self, tap: super::host::typing::Tap) {
        let mut inner = self.lock();
        let Some(t) = inner.typing.as_mut() else {
            return;
        };
        t.tap(tap);
        self.changed(&mut inner);
    }

    /// The complaint is typed: only with words in it.
    pub fn complained(&self) {
        let typed = self
            .lock()
            .typing
            .as_ref()
            .is_some_and(|t| !t.text.trim().is_empty());
        if typed {
            self.send(Input::Citizen(CitizenAct::Complained));
        }
    }

    pub fn view(&self) -> DeskView {
        let inner = self.lock();
        self.view_of(&inner)
    }

    /// Waits up to `timeout` for a view that satisfies `want`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        want: impl Fn(&DeskView) -> bool,
    ) -> Option<DeskView> {
        let deadline = std::time::Instant::now() + timeout;
        let mut inner = self.lock();
        loop {
            let v = self.view_of(&inner);
            if want(&v) {
                return Some(v);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            inner = self
                .shared
                .changed
                .wait_timeout(inner, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Leaves the window: the citizen's data wiped, a card read canceled.
    pub fn stop(&self) {
        let mut inner = self.lock();
        inner.stopped = true;
        if let Some(c) = inner.card_cancel.take() {
            c.cancel();
        }
        inner.identity = None;
        inner.ic_card = None;
        inner.cast = None;
        inner.cast_frame = None;
        inner.typing = None;
        inner.ink.clear();
    }

    fn view_of(&self, inner: &Inner) -> DeskView {
        let d = &inner.desk;
        let c = inner.catalogue.as_ref();
        let service_name = |id: &str| {
            c.and_then(|c| c.group(id))
                .map(|g| g.name.clone())
                .unwrap_or_else(|| Text::zh(id))
        };
        let confirm = match (&d.identity, &d.ticket) {
            (Some(f), Some(t)) => confirm_lines(f, &service_name(&t.service), d),
            _ => Vec::new(),
        };
        let (rating_level, chosen) = match &d.citizen {
            Citizen::Rating(Some(
                rating::Stage::Tags { level, chosen } | rating::Stage::Complaint { level, chosen },
            )) => (level.score(), chosen.clone()),
            _ => (0, Vec::new()),
        };
        let tags = c
            .map(|c| {
                let unsatisfied = rating_level > 0 && rating_level <= 2;
                c.rating
                    .tags
                    .iter()
                    .filter(|t| {
                        t.offered_at(true)
                            && (t.for_levels == crate::services::catalogue::TagFor::Unsatisfied)
                                == unsatisfied
                    })
                    .map(|t| TagLine {
                        id: t.id.clone(),
                        label: t.label.clone(),
                        chosen: chosen.contains(&t.id),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let typing = inner.typing.as_ref();
        DeskView {
            version: inner.version,
            window: d.window.clone(),
            hall: c.map(|c| c.hall.name.clone()),
            clerk: d.clerk.clone(),
            window_state: d.window_state,
            ticket: d.ticket.clone(),
            service: d.ticket.as_ref().map(|t| service_name(&t.service)),
            last: d.last.as_ref().map(|t| t.number.clone()),
            held: d.held.clone(),
            waiting: d.waiting,
            pending: d.pending,
            login_problem: d.login_problem.clone(),
            problem: d.problem.clone(),
            done: d.done,
            citizen: d.citizen.clone(),
            asleep: d.asleep(),
            masked_name: d.identity.as_ref().map(|f| f.masked_name.clone()),
            confirm,
            confirmed: d.confirmed,
            signed: d.signed,
            can_rate: d.ratable().is_some(),
            case_number: d.case_number.clone(),
            plate_only: d.plate_only,
            casting: d.casting,
            cast_frame: (d.citizen == Citizen::Cast)
                .then(|| inner.cast_frame.clone())
                .flatten(),
            ic_card: d.ic_card.clone(),
            materials: d.materials,
            figures: d.figures.clone(),
            ink: inner.ink.svg_path(),
            strokes: inner.ink.strokes.len(),
            services: c
                .map(|c| {
                    c.queue
                        .groups
                        .iter()
                        .map(|g| ServiceChoice {
                            id: g.id.clone(),
                            name: g.name.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            tags,
            rating_level,
            typed: typing.map(|t| t.text.to_string()).unwrap_or_default(),
            preedit: typing
                .map(|t| t.state.preedit.to_string())
                .unwrap_or_default(),
            candidates: typing
                .map(|t| t.state.candidates.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
            plain_keys: typing.is_some_and(|t| t.plain),
            notices: c.map(|c| c.notices.clone()).unwrap_or_default(),
            slides: self.shared.slides.clone(),
            slide: inner.slide,
            opens: self.shared.window.opens.clone(),
            closes: self.shared.window.closes.clone(),
        }
    }

    fn perform(&self, e: Effect) {
        match e {
            Effect::SignIn { staff, pin } => {
                let Some(hall) = self.hall() else {
                    self.send(Input::SignedIn(Err(LoginProblem::Centre(
                        "the hall's catalogue has not arrived yet".into(),
                    ))));
                    return;
                };
                let login = StaffLogin {
                    pin: pin.0.to_string(),
                    window: self.shared.window.number.clone(),
                    device_id: self.shared.cfg.config.terminal.id.clone(),
                };
                self.background(move |h| {
                    let result = h.centre().map_err(LoginProblem::Centre).and_then(|c| {
                        c.run(|c| async move { c.staff_login(&hall, &staff, &login).await })
                            .map_err(login_problem)
                    });
                    h.send(Input::SignedIn(result));
                });
            }
            Effect::Command(cmd) => {
                let Some(hall) = self.hall() else {
                    self.send(Input::Answer {
                        command: cmd,
                        result: Err(DeskProblem::Centre(
                            "the hall's catalogue has not arrived yet".into(),
                        )),
                    });
                    return;
                };
                let window = self.shared.window.number.clone();
                self.background(move |h| {
                    let c2 = cmd.clone();
                    let result = h.centre().map_err(DeskProblem::Centre).and_then(|c| {
                        c.run(|c| async move { c.window_command(&hall, &window, &c2).await })
                            .map(Box::new)
                            .map_err(centre_problem)
                    });
                    if let Err(p) = &result {
                        tracing::warn!(command = ?cmd, problem = ?p, "the queue did not take the window's command");
                    }
                    h.send(Input::Answer {
                        command: cmd,
                        result,
                    });
                });
            }
            Effect::ScanCode => {
                let cancel = CancelToken::new();
                self.lock().card_cancel = Some(cancel.clone());
                self.background(move |h| {
                    let result = h.scan_code(cancel);
                    h.lock().card_cancel = None;
                    h.send(Input::Code(result));
                });
            }
            Effect::ReadCard => {
                let cancel = CancelToken::new();
                self.lock().card_cancel = Some(cancel.clone());
                self.background(move |h| {
                    let result = h.read_card(cancel);
                    h.lock().card_cancel = None;
                    h.send(Input::Card(result));
                });
            }
            Effect::ReadIcCard => {
                let cancel = CancelToken::new();
                self.lock().card_cancel = Some(cancel.clone());
                self.background(move |h| {
                    let result = h.read_ic_card(cancel);
                    h.lock().card_cancel = None;
                    h.send(Input::IcCard(result));
                });
            }
            Effect::CaptureMaterial {
                ticket,
                staff,
                case_number,
            } => self.background(move |h| {
                let result = h.capture_material(&ticket, &staff, case_number.as_deref());
                h.send(Input::Kept(Kept::Material, result));
            }),
            Effect::RefreshWaiting => self.background(|h| h.refresh_waiting()),
            Effect::RefreshFigures => self.background(|h| h.refresh_figures()),
            Effect::Prompt(p) => {
                if self.shared.window.voice_prompts {
                    let english = self.shared.cfg.config.language() == kiosk_ui::Language::En;
                    let text = prompt_words(p, &self.shared.window.number, english);
                    if let Some(s) = self
                        .shared
                        .speaker
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_ref()
                    {
                        s.say(&text, english);
                    }
                }
            }
            Effect::StartCast => self.start_cast(),
            Effect::StopCast => self.stop_cast(),
            Effect::CancelCard => {
                if let Some(c) = self.lock().card_cancel.take() {
                    c.cancel();
                }
            }
            Effect::KeepSignature {
                ticket,
                staff,
                case_number,
            } => self.background(move |h| {
                let result = h.keep_signature(&ticket, &staff, case_number.as_deref());
                h.send(Input::Kept(Kept::Signature, result));
            }),
            Effect::ClearInk => {
                let mut inner = self.lock();
                inner.ink.clear();
                self.changed(&mut inner);
            }
            Effect::StartTyping => {
                let dir = self.shared.cfg.config.data_dir().join("ime");
                let typing = Typing::start(&dir, "", MAX_COMPLAINT, true);
                let mut inner = self.lock();
                inner.typing = Some(typing);
                self.changed(&mut inner);
            }
            Effect::StopTyping => {
                let mut inner = self.lock();
                if let Some(t) = inner.typing.as_mut() {
                    t.stop();
                }
                self.changed(&mut inner);
            }
            Effect::Rate(draft) => self.background(move |h| {
                let result = h.record_rating(&draft);
                h.lock().typing = None;
                h.send(Input::Kept(Kept::Rating, result));
            }),
            Effect::Announce { number } => {
                let speaker = self
                    .shared
                    .speaker
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if let (true, Some(s)) = (self.shared.window.announce, speaker.as_ref()) {
                    s.say(
                        &kiosk_central::announce::words(&number, &self.shared.window.number),
                        false,
                    );
                }
            }
            Effect::PrintSlip {
                ticket,
                staff,
                case_number,
            } => self.background(move |h| {
                let result = h.print_slip(&ticket, &staff, case_number.as_deref());
                h.send(Input::Kept(Kept::Slip, result));
            }),
            Effect::Forget => {
                let mut inner = self.lock();
                inner.identity = None;
                inner.ic_card = None;
                inner.typing = None;
                inner.ink.clear();
            }
            Effect::ThanksTimer => {
                let until = self.shared.cfg.clock.now()
                    + chrono::Duration::seconds(self.shared.window.thanks_s as i64);
                self.lock().thanks_until = Some(until);
            }
        }
    }

    fn background(&self, job: impl FnOnce(&DeskHost) + Send + 'static) {
        let h = self.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("window-job".into())
            .spawn(move || job(&h))
        {
            tracing::error!(error = %e, "the window unit could not start a job");
        }
    }
}

/// What the speaker says for `p` at window `window`.
pub fn prompt_words(p: super::window::VoicePrompt, window: &str, english: bool) -> String {
    use super::window::VoicePrompt as V;
    if english {
        return match p {
            V::Welcome => format!("Hello. Window {window} is serving you."),
            V::PlaceIdCard => "Please place your ID card on the reader.".into(),
            V::ShowCode => "Please show your e-ID code to the scanner.".into(),
            V::InsertSsCard => "Please insert your social-security card.".into(),
            V::Confirm => "Please check your information on the screen.".into(),
            V::Sign => "Please sign on the screen.".into(),
            V::Rate => "Please rate our service.".into(),
            V::Thanks => "Thank you for your rating. Please take your things with you.".into(),
        };
    }
    match p {
        V::Welcome => format!(
            "您好，{} 号窗口为您服务",
            kiosk_central::announce::window_words(window)
        ),
        V::PlaceIdCard => "请将身份证放在读卡器上".into(),
        V::ShowCode => "请出示您的电子身份码".into(),
        V::InsertSsCard => "请插入社保卡".into(),
        V::Confirm => "请核对屏幕上的信息".into(),
        V::Sign => "请在屏幕上签名".into(),
        V::Rate => "请您对本次服务进行评价".into(),
        V::Thanks => "谢谢您的评价，请带好随身物品".into(),
    }
}

/// What the citizen is asked to confirm: who the card says they are, what they came for, and
/// the case once the clerk's system named one.
fn confirm_lines(f: &CardFacts, service: &Text, d: &Desk) -> Vec<ConfirmLine> {
    let mut lines = vec![
        ConfirmLine {
            label: "name".into(),
            value: f.name.clone(),
        },
        ConfirmLine {
            label: "id-number".into(),
            value: f.masked_number.clone(),
        },
        ConfirmLine {
            label: "service".into(),
            value: service.zh.clone(),
        },
        ConfirmLine {
            label: "window".into(),
            value: d.window.clone(),
        },
    ];
    if let Some(c) = &d.case_number {
        lines.push(ConfirmLine {
            label: "case".into(),
            value: c.clone(),
        });
    }
    lines.extend(d.page_lines.iter().map(|(label, value)| ConfirmLine {
        label: label.clone(),
        value: value.clone(),
    }));
    lines
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ink.clear();
    }
}
