//! `kiosk tour JOURNEY --config F --out DIR [--lang en] [--portrait]`: plays a journey headless
//! on the sim profile — touching controls by their accessible labels, placing and lifting
//! cards, scanning codes, failing the printer — and writes one PNG per step and `steps.json`
//! (step, screen, the accessible labels on screen, the events recorded, elapsed ms). The
//! terminal is the real one (devices, journal, embedded centre, flows); only the display is
//! Slint's software renderer, and the clock can be moved forward to show idle timeouts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use kiosk_hal::clock::SteppedClock;
use kiosk_protocol::wire::{AppointmentRequest, TicketRequest};
use kiosk_ui::{HeadlessWindow, Language, Ui};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::{Config, Orientation, Profile};
use crate::flows::host::View;
use crate::services::catalogue::Catalogue;
use crate::terminal::Terminal;
use crate::ui::{view, window};

/// The tours built in, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("ticket", include_str!("../../tours/ticket.json")),
    (
        "ticket-paper-out",
        include_str!("../../tours/ticket-paper-out.json"),
    ),
    (
        "ticket-by-appointment",
        include_str!("../../tours/ticket-by-appointment.json"),
    ),
    (
        "idle-timeout",
        include_str!("../../tours/idle-timeout.json"),
    ),
    ("staff", include_str!("../../tours/staff.json")),
    (
        "admin-devices",
        include_str!("../../tours/admin-devices.json"),
    ),
    (
        "admin-operations",
        include_str!("../../tours/admin-operations.json"),
    ),
    ("admin-card", include_str!("../../tours/admin-card.json")),
    ("guide", include_str!("../../tours/guide.json")),
    (
        "guide-care-mode",
        include_str!("../../tours/guide-care-mode.json"),
    ),
    ("id-copy", include_str!("../../tours/id-copy.json")),
    ("apply", include_str!("../../tours/apply.json")),
    (
        "apply-offline",
        include_str!("../../tours/apply-offline.json"),
    ),
    (
        "ticket-offline",
        include_str!("../../tours/ticket-offline.json"),
    ),
    (
        "apply-by-agent",
        include_str!("../../tours/apply-by-agent.json"),
    ),
    (
        "apply-face-fails-fingerprint",
        include_str!("../../tours/apply-face-fails-fingerprint.json"),
    ),
    ("apply-en", include_str!("../../tours/apply-en.json")),
    (
        "apply-care-mode",
        include_str!("../../tours/apply-care-mode.json"),
    ),
    ("query-print", include_str!("../../tours/query-print.json")),
    (
        "query-by-case-number",
        include_str!("../../tours/query-by-case-number.json"),
    ),
    ("licences", include_str!("../../tours/licences.json")),
    (
        "apply-with-e-licence",
        include_str!("../../tours/apply-with-e-licence.json"),
    ),
    ("proof", include_str!("../../tours/proof.json")),
    (
        "id-copy-face-fails-fingerprint",
        include_str!("../../tours/id-copy-face-fails-fingerprint.json"),
    ),
    (
        "id-copy-by-eid",
        include_str!("../../tours/id-copy-by-eid.json"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub summary: String,
    /// The language the tour plays in when `--lang` does not say (`en` for an English tour).
    #[serde(default)]
    pub language: Option<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    #[serde(default, rename = "do")]
    pub action: Option<Action>,
    /// The screen the step ends on.
    pub expect: String,
    /// A further condition on the view: `asking`, `not-asking`, `ticket-available`,
    /// `ticket-unavailable`, `pin-wrong`, `pin-asked`, `pin-takes-cards`, `pin-by-card`, `pin-not-a-badge`, `admin-result`, `admin-notice`, `dead:N`, `slide-changed`, `changed` (the journey moved on
    /// within the same screen), `guide-printed`, `care`, `not-care`, `finger-missed`,
    /// `face-preview` (the face screen shows the camera's picture),
    /// `preedit:PINYIN` and `typed:TEXT` (the on-screen keyboard), `pages:N` (the material on
    /// screen has N pages), `ink:N` (the signature pad shows N strokes), `receipt-printed`.
    #[serde(default)]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Action {
    /// Touch the control with this accessible label (`{"en": …, "zh-CN": …}`), or the tile of
    /// a service group (`{"group": "huji"}`).
    Touch(serde_json::Map<String, Value>),
    /// A simulator stimulus: `[device, what, args]`.
    Sim(String, String, Value),
    /// Move the terminal's clock forward.
    AdvanceS(u64),
    /// Other citizens take tickets first: `{"group": …, "others": N}`.
    Queue { group: String, others: u32 },
    /// The booking system registers an appointment for today: `{"group": …, "code": …}`.
    Book { group: String, code: String },
    /// Type a staff PIN and submit it.
    Pin(String),
    /// Tap these letters on the on-screen keyboard.
    Type(String),
    /// A signature drawn on the pad with a finger: strokes sent as the pad sends them.
    Sign,
    /// The hall's link to the centre goes `down` or comes back `up` (the embedded centre is
    /// taken off the network and brought back with its database).
    Centre(String),
    /// Upload the outbox now (the sync's next round, without waiting for it).
    Sync,
    /// The centre refuses the oldest event not yet delivered, for this reason (as a centre
    /// with a stricter schema would): it becomes a dead letter.
    Refuse(String),
    /// A case filed at the centre for the sim's resident card (as a window would), with this
    /// query password, then moved through `moves` (status and the department's comment), as
    /// `kiosk-central case move` does; `{case}` in later steps is its number.
    Case {
        item: String,
        item_name: String,
        password: String,
        #[serde(default)]
        moves: Vec<(String, String)>,
    },
}

/// The number of the case the last `case` step filed, for `{case}`.
static LAST_CASE: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
/// The number (or reference) and password the last application on screen got, for
/// `{apply-number}` and `{apply-password}`.
static LAST_APPLY: std::sync::Mutex<(String, String)> =
    std::sync::Mutex::new((String::new(), String::new()));

/// One recorded step.
#[derive(Debug, serde::Serialize)]
pub struct StepRecord {
    pub step: usize,
    pub name: String,
    pub screen: String,
    pub png: String,
    pub labels: Vec<String>,
    pub events: Vec<String>,
    pub elapsed_ms: u64,
}

pub struct TourOptions {
    pub journey: String,
    pub script: Option<PathBuf>,
    pub out: PathBuf,
    pub lang: Option<String>,
    pub portrait: bool,
}

pub fn run(config: Config, opts: TourOptions) -> anyhow::Result<ExitCode> {
    if let Some((_, text)) = super::tour_desk::BUILT_IN
        .iter()
        .find(|(n, _)| *n == opts.journey)
    {
        return run_desk(config, opts, text);
    }
    let text = match &opts.script {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => match BUILT_IN.iter().find(|(n, _)| *n == opts.journey) {
            Some((_, t)) => t.to_string(),
            None => {
                let names: Vec<&str> = BUILT_IN
                    .iter()
                    .chain(super::tour_desk::BUILT_IN)
                    .map(|(n, _)| *n)
                    .collect();
                eprintln!(
                    "kiosk tour: no built-in tour {:?}; tours: {} (or --script FILE)",
                    opts.journey,
                    names.join(", ")
                );
                return Ok(ExitCode::from(2));
            }
        },
    };
    let script: Script = serde_json::from_str(&text).context("the tour script")?;
    let mut opts = opts;
    if opts.lang.is_none() {
        opts.lang = script.language.clone();
    }
    let records = play(config, &script, &opts)?;
    println!(
        "{}",
        json!({ "tour": opts.journey, "steps": records.len(), "out": opts.out })
    );
    Ok(ExitCode::SUCCESS)
}

/// A window unit's tour: on the window unit's config (`window.sim.toml` beside a kiosk's).
fn run_desk(config: Config, opts: TourOptions, built_in: &str) -> anyhow::Result<ExitCode> {
    let config = if config.terminal.role == crate::config::Role::Window {
        config
    } else {
        let beside = config
            .source
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(super::tour_desk::CONFIG);
        eprintln!(
            "kiosk tour: {} is a window unit's tour; playing it on {}",
            opts.journey,
            beside.display()
        );
        Config::load(&beside).map_err(|e| anyhow!("{e}"))?
    };
    let text = match &opts.script {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => built_in.to_string(),
    };
    let script = super::tour_desk::parse(&text).context("the tour script")?;
    let mut opts = opts;
    if opts.lang.is_none() {
        opts.lang = script.language.clone();
    }
    let records = super::tour_desk::play(config, &script, &opts)?;
    println!(
        "{}",
        json!({ "tour": opts.journey, "steps": records.len(), "out": opts.out })
    );
    Ok(ExitCode::SUCCESS)
}

/// Plays `script` and returns its steps; the PNGs and `steps.json` are in `opts.out`.
pub fn play(
    config: Config,
    script: &Script,
    opts: &TourOptions,
) -> anyhow::Result<Vec<StepRecord>> {
    // The simulated IC cards (a social-security card, a staff badge) sit in pcscd's virtual
    // reader.
    let ic_card = script
        .steps
        .iter()
        .any(|s| matches!(&s.action, Some(Action::Sim(d, ..)) if d == "sscard"));
    if ic_card {
        super::pcscd::ensure().map_err(|e| anyhow!("this tour reads an IC card: {e}"))?;
    }
    let mut tour = Tour::start(config, opts)?;
    for (i, step) in script.steps.iter().enumerate() {
        tour.step(i + 1, step)?;
    }
    tour.finish(&opts.journey, &script.summary)
}

/// A terminal under a tour: the real terminal on the sim profile, its screens on the software
/// renderer, a clock that can be moved forward.
pub struct Tour {
    pub terminal: Arc<Terminal>,
    pub ui: Ui,
    pub clock: SteppedClock,
    window: HeadlessWindow,
    events: tokio::sync::broadcast::Receiver<kiosk_protocol::Event>,
    records: Vec<StepRecord>,
    out: PathBuf,
    lang: Language,
    portrait: bool,
    size: (u32, u32),
    _data: tempfile::TempDir,
}

impl Tour {
    /// Starts a fresh terminal (its own journal and embedded centre, in a folder that goes with
    /// the tour) and waits until it offers its services.
    pub fn start(mut config: Config, opts: &TourOptions) -> anyhow::Result<Tour> {
        std::fs::create_dir_all(&opts.out)
            .with_context(|| format!("creating {}", opts.out.display()))?;
        let data = tempfile::tempdir()?;
        config.terminal.data_dir = data.path().to_path_buf();
        if let Some(l) = &opts.lang {
            Language::parse(l)?;
            config.ui.language = l.clone();
        }
        if opts.portrait {
            config.ui.orientation = Orientation::Portrait;
        }
        let portrait = config.ui.orientation == Orientation::Portrait;
        let lang = config.language();
        let clock = SteppedClock::new();
        let (w, h) = kiosk_ui::window_size(portrait);
        let window = HeadlessWindow::install(w, h)?;
        let ui = Ui::new(&window::texts(&config), lang, portrait)?;
        let terminal = Terminal::start(config, Profile::Sim, Arc::new(clock.clone()))?;
        {
            // Read-aloud in a tour is written beside its pictures (speech-NN.wav).
            let host = terminal.host.clone();
            let speaker = crate::services::speech::Speaker::start(
                crate::services::speech::Voice::default(),
                crate::services::speech::Output::Folder(opts.out.clone()),
            );
            ui.on_intent(move |i| crate::ui::voice::dispatch(i, &host, &speaker));
        }
        ui.show()?;
        let host = terminal.host.clone();
        // Ready when the catalogue arrived and the services can be offered.
        host.wait_for(Duration::from_secs(60), |v| {
            !v.groups.is_empty() && v.offers.iter().all(|o| o.available)
        })
        .ok_or_else(|| {
            anyhow!(
                "the terminal did not become ready: {:?}",
                host.view().offers
            )
        })?;
        let events = terminal.runtime.events.subscribe();
        Ok(Tour {
            terminal,
            ui,
            clock,
            window,
            events,
            records: Vec::new(),
            out: opts.out.clone(),
            lang,
            portrait,
            size: (w, h),
            _data: data,
        })
    }

    /// Plays one step: its action, then waits for the screen it ends on and draws it.
    pub fn step(&mut self, n: usize, step: &Step) -> anyhow::Result<&StepRecord> {
        let host = self.terminal.host.clone();
        let started = Instant::now();
        let before = host.view();
        if let Some(a) = &step.action {
            act(a, &self.terminal, &self.ui, &self.clock, &before, self.lang)
                .with_context(|| format!("step {n} ({})", step.name))?;
        }
        let v = host
            .wait_for(Duration::from_secs(30), |v| {
                v.screen.name() == step.expect && until(step.until.as_deref(), v, &before)
            })
            .ok_or_else(|| {
                anyhow!(
                    "step {n} ({}): the screen stayed {:?}, expected {} {}",
                    step.name,
                    host.view().screen.name(),
                    step.expect,
                    step.until.as_deref().unwrap_or("")
                )
            })?;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let t = &self.terminal;
        window::refresh(&self.ui, &t.config, &t.runtime, &t.link.borrow());
        self.ui
            .show_view(&view::ui_view(&v, !t.config.credentials().none()))?;
        let png = format!("{n:02}-{}.png", step.name);
        self.window.render_png(&self.out.join(&png))?;
        // The events this step put in the journal (what the centre will receive).
        let mut kinds = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            if crate::runtime::bus::must_record(e.kind) {
                kinds.push(e.kind.key().to_string());
            }
        }
        self.records.push(StepRecord {
            step: n,
            name: step.name.clone(),
            screen: v.screen.name().to_string(),
            png,
            labels: visible_labels(&self.ui, self.size.0, self.size.1),
            events: kinds,
            elapsed_ms,
        });
        Ok(self.records.last().expect("just pushed"))
    }

    /// Touches the control labelled `label` (for benchmarks that time what follows).
    pub fn touch(&self, label: &str) -> anyhow::Result<()> {
        touch(&self.ui, label)
    }

    /// Shows `v` and renders one frame with the software renderer (not written anywhere).
    pub fn draw(&self, v: &View) -> anyhow::Result<()> {
        let t = &self.terminal;
        self.ui
            .show_view(&view::ui_view(v, !t.config.credentials().none()))?;
        let _ = self.window.render();
        Ok(())
    }

    /// Writes `steps.json` and stops the terminal in order.
    pub fn finish(self, journey: &str, summary: &str) -> anyhow::Result<Vec<StepRecord>> {
        std::fs::write(
            self.out.join("steps.json"),
            serde_json::to_vec_pretty(&json!({
                "journey": journey,
                "summary": summary,
                "language": self.lang.code(),
                "portrait": self.portrait,
                "steps": self.records,
            }))?,
        )?;
        self.terminal.stop();
        Ok(self.records)
    }
}

fn until(cond: Option<&str>, v: &View, before: &View) -> bool {
    let ticket = || {
        v.offers
            .iter()
            .find(|o| o.id == "ticket")
            .is_some_and(|o| o.available)
    };
    match cond {
        None => true,
        Some("asking") => v.asking.is_some(),
        Some("not-asking") => v.asking.is_none(),
        Some("ticket-available") => ticket(),
        Some("ticket-unavailable") => !ticket(),
        Some("pin-wrong") => v.pin_wrong,
        // The staff number was taken: the pad asks for the PIN.
        Some("pin-asked") => !v.pin_asks_number && !v.staff_number.is_empty(),
        // The pad holds the card reader for staff badges; a badge was read; a card that is
        // not a badge was named.
        Some("pin-takes-cards") => v.pin_takes_cards,
        Some("pin-by-card") => v.pin_by_card && !v.pin_asks_number,
        Some("pin-not-a-badge") => v.pin_not_a_badge,
        Some("slide-changed") => v.slide != before.slide,
        // The journey moved on within the same screen (another question, a typed letter).
        Some("changed") => v.screen != before.screen,
        Some("care") => v.care,
        Some("not-care") => !v.care,
        Some("guide-printed") => matches!(
            v.screen,
            crate::flows::kiosk::Screen::Guide(crate::flows::guide::Stage::Materials {
                printed: true,
                ..
            })
        ),
        Some(c) if c.starts_with("preedit:") => v
            .typing
            .as_ref()
            .is_some_and(|t| t.preedit.replace(' ', "") == c["preedit:".len()..]),
        Some(c) if c.starts_with("typed:") => v
            .typing
            .as_ref()
            .is_some_and(|t| t.text == c["typed:".len()..]),
        Some("face-preview") => v.face_preview.is_some(),
        // An admin test or the network check has finished and shows its result.
        Some("admin-result" | "admin-notice") => {
            let finished = |v: &View| v.admin.as_ref().map_or(0, |a| a.finished);
            matches!(&v.screen, crate::flows::kiosk::Screen::Admin(s) if s.running.is_none())
                && finished(v) > finished(before)
        }
        Some(c) if c.starts_with("dead:") => v
            .admin
            .as_ref()
            .is_some_and(|a| a.dead.len().to_string() == c["dead:".len()..]),
        Some(c) if c.starts_with("typed-len:") => v
            .typing
            .as_ref()
            .is_some_and(|t| t.text.chars().count().to_string() == c["typed-len:".len()..]),
        Some(c) if c.starts_with("pages:") => v
            .apply
            .as_ref()
            .is_some_and(|a| a.pages.len().to_string() == c["pages:".len()..]),
        // The pad shows this many strokes.
        Some(c) if c.starts_with("ink:") => v
            .apply
            .as_ref()
            .is_some_and(|a| a.ink.matches('M').count().to_string() == c["ink:".len()..]),
        Some("receipt-printed") => matches!(
            v.screen,
            crate::flows::kiosk::Screen::Apply(crate::flows::apply::Stage::Submitted {
                printed: true,
                ..
            })
        ),
        Some("finger-missed") => matches!(
            v.screen,
            crate::flows::kiosk::Screen::IdCopy(crate::flows::idcopy::Stage::Login(
                crate::flows::identify::Stage::Finger { missed: true, .. }
            )) | crate::flows::kiosk::Screen::Apply(crate::flows::apply::Stage::Login(
                crate::flows::identify::Stage::Finger { missed: true, .. }
            ))
        ),
        Some(_) => false,
    }
}

fn act(
    a: &Action,
    t: &Terminal,
    ui: &Ui,
    clock: &SteppedClock,
    view: &View,
    lang: Language,
) -> anyhow::Result<()> {
    let today = t
        .runtime
        .events
        .now()
        .with_timezone(&t.config.offset())
        .date_naive();
    // `{today}` in codes; `{faces}`: the folder of the sim's face photos (another person at
    // the face camera).
    // `{eid}`: a fresh e-ID code for the sim's resident card from the sim issuer;
    // `{eid-expired}`: one that expired ten minutes ago.
    let faces = kiosk_drivers::idcard::sim::faces_dir();
    let last_case = LAST_CASE.lock().map(|c| c.clone()).unwrap_or_default();
    if let Some(a) = view.apply.as_ref().filter(|a| !a.number.is_empty()) {
        if let Ok(mut last) = LAST_APPLY.lock() {
            *last = (a.number.clone(), a.password.0.clone());
        }
    }
    let (apply_number, apply_password) = LAST_APPLY.lock().map(|l| l.clone()).unwrap_or_default();
    let fill = |s: &str| -> anyhow::Result<String> {
        let mut s = s
            .replace("{case}", &last_case)
            .replace("{apply-number}", &apply_number)
            .replace("{apply-password}", &apply_password)
            .replace("{today}", &today.format("%Y%m%d").to_string())
            .replace("{faces}", &faces.to_string_lossy());
        for (tag, age_s) in [("{eid}", 0), ("{eid-expired}", 900)] {
            if s.contains(tag) {
                s = s.replace(tag, &sample_eid(t, age_s)?);
            }
        }
        Ok(s)
    };
    match a {
        Action::Touch(m) => {
            let label = if let Some(g) = m.get("group").and_then(Value::as_str) {
                let group = view
                    .groups
                    .iter()
                    .find(|x| x.id == g)
                    .ok_or_else(|| anyhow!("no group {g} in the catalogue"))?;
                group.name.get(view.english).to_string()
            } else {
                let key = if view.english { "en" } else { lang_key(lang) };
                m.get(key)
                    .or_else(|| m.get("en"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("touch has no label in {key}"))?
                    .to_string()
            };
            touch(ui, &label)
        }
        Action::Sim(device, what, args) => {
            let args = serde_json::from_str::<Value>(&fill(&args.to_string())?)?;
            sim_stimulus(t, device, what, args)
        }
        Action::AdvanceS(s) => {
            clock.advance(Duration::from_secs(*s));
            Ok(())
        }
        Action::Queue { group, others } => {
            let (hall, prefix) = catalogue_group(t, group)?;
            let c = t.centre.clone();
            let handle = t.handle();
            for n in 0..*others {
                let req = TicketRequest {
                    device_id: format!("KSK-TOUR-{n}"),
                    request_id: uuid::Uuid::new_v4().to_string(),
                    prefix: prefix.clone(),
                    appointment: None,
                    holder: None,
                    age: None,
                };
                handle.block_on(c.issue_ticket(&hall, group, &req))?;
            }
            Ok(())
        }
        Action::Book { group, code } => {
            let (hall, _) = catalogue_group(t, group)?;
            let req = AppointmentRequest {
                code: fill(code)?,
                service: group.clone(),
                day: today.format("%Y-%m-%d").to_string(),
            };
            let c = t.centre.clone();
            t.handle().block_on(async move {
                c.json::<Value>(c.post_json(&format!("/api/v1/halls/{hall}/appointments"), &req))
                    .await
            })?;
            Ok(())
        }
        Action::Sync => t.sync_now(),
        Action::Refuse(reason) => {
            let mut ob = t.journal.lock();
            let first = ob.next_batch(1)?;
            let Some(e) = first.first() else {
                bail!("nothing waits for the centre to refuse");
            };
            ob.apply(&kiosk_protocol::wire::IngestResult {
                rejected: vec![kiosk_protocol::wire::Rejection {
                    seq: e.seq,
                    reason: reason.clone(),
                }],
                ..Default::default()
            })?;
            Ok(())
        }
        Action::Centre(state) => match state.as_str() {
            "down" => t.embedded_centre_down(),
            "up" => t.embedded_centre_up(),
            other => bail!("the centre goes down or up, not {other:?}"),
        },
        Action::Case {
            item,
            item_name,
            password,
            moves,
        } => {
            use kiosk_protocol::cases::{self as cases, CaseStatus};
            let salt = uuid::Uuid::new_v4().simple().to_string();
            let filing = cases::CaseSubmission {
                device_id: "WINDOW-03".into(),
                local_ref: uuid::Uuid::new_v4().simple().to_string(),
                item: item.clone(),
                item_name: item_name.clone(),
                holder_sha256: cases::holder_sha256("320583199001011232"),
                agent_sha256: None,
                password_sha256: cases::password_sha256(&salt, password),
                password_salt: salt,
                pickup: cases::Pickup::Window,
                submitted_at: t.runtime.events.now().to_rfc3339(),
                attachments: Vec::new(),
            };
            let c = t.centre.clone();
            let case = t
                .handle()
                .block_on(async move { c.file_case(&filing).await })?;
            for (status, comment) in moves {
                let status =
                    CaseStatus::parse(status).ok_or_else(|| anyhow!("no case status {status}"))?;
                let progress = cases::CaseProgress {
                    status,
                    comment: comment.clone(),
                };
                let c = t.centre.clone();
                let path = format!("/api/v1/cases/{}/progress", case.case_number);
                t.handle().block_on(async move {
                    c.json::<Value>(c.post_json(&path, &progress)).await
                })?;
            }
            if let Ok(mut last) = LAST_CASE.lock() {
                *last = case.case_number;
            }
            Ok(())
        }
        Action::Type(letters) => {
            let letters = fill(letters)?;
            for c in letters.chars() {
                touch(ui, &c.to_string())?;
            }
            Ok(())
        }
        Action::Sign => {
            use slint::ComponentHandle;
            for text in signature_strokes() {
                ui.app
                    .global::<kiosk_ui::Intents>()
                    .invoke_ink_stroke(text.into());
            }
            Ok(())
        }
        Action::Pin(digits) => {
            for d in digits.chars() {
                touch(ui, &d.to_string())?;
            }
            touch(ui, if view.english { "OK" } else { "确定" })
        }
    }
}

fn lang_key(l: Language) -> &'static str {
    match l {
        Language::ZhCn => "zh-CN",
        Language::En => "en",
    }
}

fn catalogue_group(t: &Terminal, group: &str) -> anyhow::Result<(String, String)> {
    let c = Catalogue::in_force(&t.journal)?.ok_or_else(|| anyhow!("no catalogue in force"))?;
    let g = c
        .group(group)
        .ok_or_else(|| anyhow!("no group {group} in the catalogue"))?;
    Ok((c.hall.id.clone(), g.prefix.clone()))
}

/// Touches the control labelled `label`, as a finger or a screen reader would.
fn touch(ui: &Ui, label: &str) -> anyhow::Result<()> {
    let found: Vec<ElementHandle> =
        ElementHandle::find_by_accessible_label(&ui.app, label).collect();
    let target = found
        .iter()
        .find(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .or(found.first())
        .ok_or_else(|| anyhow!("nothing on screen is labelled {label:?}"))?;
    target.invoke_accessible_default_action();
    Ok(())
}

/// The accessible labels of the elements on screen, in tree order, without repeats.
fn visible_labels(ui: &Ui, w: u32, h: u32) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in ElementQuery::from_root(&ui.app)
        .match_descendants()
        .find_all()
    {
        let Some(label) = e.accessible_label().filter(|l| !l.is_empty()) else {
            continue;
        };
        let (p, s) = (e.absolute_position(), e.size());
        let on_screen = s.width > 0.0
            && s.height > 0.0
            && p.x < w as f32
            && p.y < h as f32
            && p.x + s.width > 0.0
            && p.y + s.height > 0.0
            && e.computed_opacity() > 0.0;
        if on_screen && !out.iter().any(|l| l == label.as_str()) {
            out.push(label.to_string());
        }
    }
    out
}

/// Checks that every built-in tour parses (a test helper and a guard for `--script`).
pub fn parse(text: &str) -> anyhow::Result<Script> {
    let s: Script = serde_json::from_str(text)?;
    for st in &s.steps {
        if kiosk_ui::ScreenId::parse(&st.expect).is_none() {
            bail!("step {}: no screen {:?}", st.name, st.expect);
        }
    }
    Ok(s)
}

/// A simulator stimulus: `what` with `args` on the simulated `device` (`faults` sets faults).
pub(crate) fn sim_stimulus(
    t: &Terminal,
    device: &str,
    what: &str,
    args: Value,
) -> anyhow::Result<()> {
    let d = t.runtime.device(device)?;
    let sim = d
        .sim
        .as_ref()
        .ok_or_else(|| anyhow!("{device} is not simulated"))?;
    match what {
        "faults" => sim
            .set_faults(serde_json::from_value(args)?)
            .map_err(|e| anyhow!(e))?,
        _ => {
            sim.inject(what, &args).map_err(|e| anyhow!(e))?;
        }
    }
    Ok(())
}

/// 张三丰, roughly: three strokes as the pad sends them (`x y ms pressure;` per point), each a
/// few dozen points 16 ms apart.
pub(crate) fn signature_strokes() -> Vec<String> {
    let strokes: [&[(f32, f32)]; 3] = [
        &[
            (120.0, 150.0),
            (260.0, 140.0),
            (200.0, 260.0),
            (330.0, 250.0),
        ],
        &[
            (380.0, 120.0),
            (420.0, 300.0),
            (520.0, 180.0),
            (600.0, 290.0),
        ],
        &[
            (650.0, 160.0),
            (820.0, 150.0),
            (700.0, 220.0),
            (880.0, 280.0),
        ],
    ];
    let mut ms = 0u32;
    let mut out = Vec::new();
    for s in strokes {
        let mut text = String::new();
        for w in s.windows(2) {
            for k in 0..12 {
                let f = k as f32 / 12.0;
                let (x, y) = (
                    w[0].0 + (w[1].0 - w[0].0) * f,
                    w[0].1 + (w[1].1 - w[0].1) * f,
                );
                text.push_str(&format!("{x:.0} {y:.0} {ms} -1;"));
                ms += 16;
            }
        }
        out.push(text);
        ms += 300;
    }
    out
}

/// An e-ID code for the sim's resident card from the sim issuer, issued `age_s` ago (it lives
/// three minutes).
pub(crate) fn sample_eid(t: &Terminal, age_s: i64) -> anyhow::Result<String> {
    let issuer = crate::centre::embedded::sample_eid_issuer(&t.config)?;
    let iat = t.runtime.events.now().timestamp() - age_s;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    Ok(issuer.issue("张三丰", "320583199001011232", iat, 180, &nonce))
}
