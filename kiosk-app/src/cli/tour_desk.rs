//! Tours of the window unit (`kiosk tour window-…`): the real terminal with the window role on
//! the sim profile, both of its screens on one canvas (the clerk's toolbar above the citizen
//! screen), touched by their accessible labels, one PNG per step and `steps.json`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use kiosk_hal::clock::SteppedClock;
use kiosk_protocol::wire::TicketRequest;
use kiosk_ui::{DeskStageUi, HeadlessWindow, Language, STAGE_SIZE};
use serde::Deserialize;
use serde_json::{json, Value};
use slint::ComponentHandle;

use super::tour::{StepRecord, TourOptions};
use crate::config::{Config, Profile, Role};
use crate::flows::window_host::{DeskHost, DeskView};
use crate::services::catalogue::Catalogue;
use crate::terminal::Terminal;
use crate::ui::desk;

/// The window unit's tours, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "window-call-serve-rate",
        include_str!("../../tours/window-call-serve-rate.json"),
    ),
    (
        "window-confirm-sign",
        include_str!("../../tours/window-confirm-sign.json"),
    ),
    (
        "window-transfer",
        include_str!("../../tours/window-transfer.json"),
    ),
    (
        "window-cast-materials",
        include_str!("../../tours/window-cast-materials.json"),
    ),
];

/// The window unit's config for a tour: the sim's window unit, beside the given config.
pub const CONFIG: &str = "window.sim.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskScript {
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub language: Option<String>,
    pub steps: Vec<DeskStep>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskStep {
    pub name: String,
    #[serde(default, rename = "do")]
    pub action: Option<DeskAction>,
    /// What the citizen screen shows when the step ends (`closed`, `plate`, `called`,
    /// `confirm`, `sign`, `levels`, `tags`, `complaint`, `thanks`, `paused`, `cast`, `asleep`).
    pub expect: String,
    /// A further condition on the desk: `signed-in`, `serving`, `called:N` (calls),
    /// `card-read`, `confirmed`, `signed`, `rated`, `ink:N`, `done:WHAT`, `problem:CODE`,
    /// `login:CODE`, `no-ticket`, `held:N`, `typed`, `counted` (the waiting count known),
    /// `casting`, `not-casting`, `cast-frame`, `ic-card-read`, `materials:N`, `served:N`
    /// (the window's figures of today), and
    /// `pending:WHAT` (the unit waits for the citizen: `read-card`, `ic-card`, …).
    #[serde(default)]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum DeskAction {
    /// Touch the control with this accessible label (`{"en": …, "zh-CN": …}`).
    Touch(serde_json::Map<String, Value>),
    /// Type into the toolbar field labelled so: `{"en": …, "zh-CN": …, "text": …}`.
    Field(serde_json::Map<String, Value>),
    /// A simulator stimulus: `[device, what, args]`.
    Sim(String, String, Value),
    /// Citizens take tickets at the ticket machine first: `{"group": …, "others": N}`.
    Queue {
        group: String,
        others: u32,
    },
    /// A signature drawn on the citizen screen's pad.
    Sign,
    /// Tap these letters on the complaint keyboard, then the first character offered.
    Type(String),
    AdvanceS(u64),
    /// The hall's link to the centre goes `down` or comes back `up`.
    Centre(String),
    /// Upload the outbox now.
    Sync,
    /// The hall opens (`true`) or closes (`false`) for the day.
    Hours(bool),
    /// The hall's operators set up another window (`kiosk-central queue window`).
    Window {
        number: String,
        services: Vec<String>,
    },
}

/// Plays a window-unit tour; `config` is the tour's window-unit configuration.
pub fn play(
    config: Config,
    script: &DeskScript,
    opts: &TourOptions,
) -> anyhow::Result<Vec<StepRecord>> {
    // The simulated social-security card sits in pcscd's virtual reader.
    let ic_card = script
        .steps
        .iter()
        .any(|s| matches!(&s.action, Some(DeskAction::Sim(d, ..)) if d == "sscard"));
    if ic_card {
        super::pcscd::ensure().map_err(|e| anyhow!("this tour reads an IC card: {e}"))?;
    }
    let mut tour = DeskTour::start(config, opts)?;
    for (i, step) in script.steps.iter().enumerate() {
        tour.step(i + 1, step)?;
    }
    tour.finish(&opts.journey, &script.summary)
}

pub struct DeskTour {
    pub terminal: Arc<Terminal>,
    pub desk: DeskHost,
    pub ui: DeskStageUi,
    pub clock: SteppedClock,
    window: HeadlessWindow,
    records: Vec<StepRecord>,
    out: PathBuf,
    lang: Language,
    /// The tour's ticket machine's journal position.
    machine_seq: std::sync::atomic::AtomicU64,
    _data: tempfile::TempDir,
}

impl DeskTour {
    pub fn start(mut config: Config, opts: &TourOptions) -> anyhow::Result<DeskTour> {
        anyhow::ensure!(
            config.terminal.role == Role::Window,
            "{} is not a window unit's config ([terminal] role = \"window\")",
            config.source.display()
        );
        std::fs::create_dir_all(&opts.out)
            .with_context(|| format!("creating {}", opts.out.display()))?;
        let data = tempfile::tempdir()?;
        config.terminal.data_dir = data.path().to_path_buf();
        if let Some(l) = &opts.lang {
            Language::parse(l)?;
            config.ui.language = l.clone();
        }
        let lang = config.language();
        let clock = SteppedClock::new();
        let window = HeadlessWindow::install(STAGE_SIZE.0, STAGE_SIZE.1)?;
        let terminal = Terminal::start(config, Profile::Sim, Arc::new(clock.clone()))?;
        let desk = terminal
            .window_unit
            .clone()
            .ok_or_else(|| anyhow!("the terminal started without its window unit"))?;
        // A tour shows the hall open whatever the hour it runs at (`hours` steps change it).
        desk.fix_hours(Some(true));
        desk.set_speaker(crate::services::speech::Speaker::start(
            crate::services::speech::Voice::default(),
            crate::services::speech::Output::Folder(opts.out.clone()),
        ));
        let d2 = desk.clone();
        let ui = DeskStageUi::new(std::rc::Rc::new(move |i| desk::dispatch(i, &d2)))?;
        // Translations are chosen once a component exists.
        kiosk_ui::select_language(lang)?;
        ui.stage.show()?;
        // Ready when the hall's catalogue arrived and the window is set up at the centre.
        desk.wait_for(Duration::from_secs(60), |v| v.hall.is_some())
            .ok_or_else(|| anyhow!("the window unit did not get the hall's catalogue"))?;
        std::thread::sleep(Duration::from_millis(1500));
        Ok(DeskTour {
            terminal,
            desk,
            ui,
            clock,
            window,
            records: Vec::new(),
            out: opts.out.clone(),
            lang,
            machine_seq: std::sync::atomic::AtomicU64::new(1),
            _data: data,
        })
    }

    fn english(&self) -> bool {
        self.lang == Language::En
    }

    pub fn step(&mut self, n: usize, step: &DeskStep) -> anyhow::Result<&StepRecord> {
        let started = Instant::now();
        let before = self.desk.view();
        if let Some(a) = &step.action {
            self.act(a, &before)
                .with_context(|| format!("step {n} ({})", step.name))?;
        }
        let v = self
            .desk
            .wait_for(Duration::from_secs(30), |v| {
                // A step that shows the unit waiting for the citizen ends while it waits.
                let waits = step
                    .until
                    .as_deref()
                    .is_some_and(|u| u == "scanning" || u.starts_with("pending:"));
                screen(v) == step.expect
                    && until(step.until.as_deref(), v)
                    && (waits || v.pending.is_none())
            })
            .ok_or_else(|| {
                let v = self.desk.view();
                anyhow!(
                    "step {n} ({}): the citizen screen stayed {:?} (pending {:?}, problem {:?}, login {:?}), expected {} {}",
                    step.name,
                    screen(&v),
                    v.pending,
                    v.problem,
                    v.login_problem,
                    step.expect,
                    step.until.as_deref().unwrap_or("")
                )
            })?;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let now = self.terminal.runtime.events.now();
        self.ui.show(&desk::ui_view(
            &v,
            self.english(),
            &desk::clock(&self.terminal.config, now),
        ));
        let png = format!("{n:02}-{}.png", step.name);
        self.window.render_png(&self.out.join(&png))?;
        self.records.push(StepRecord {
            step: n,
            name: step.name.clone(),
            screen: screen(&v).to_string(),
            png,
            labels: labels(&self.ui),
            events: Vec::new(),
            elapsed_ms,
        });
        Ok(self.records.last().expect("just pushed"))
    }

    fn act(&self, a: &DeskAction, _before: &DeskView) -> anyhow::Result<()> {
        let key = if self.english() { "en" } else { "zh-CN" };
        let label = |m: &serde_json::Map<String, Value>| -> anyhow::Result<String> {
            m.get(key)
                .or_else(|| m.get("en"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| anyhow!("no label in {key}"))
        };
        // Show the latest view first, so the controls touched are those on screen now.
        let now = self.terminal.runtime.events.now();
        self.ui.show(&desk::ui_view(
            &self.desk.view(),
            self.english(),
            &desk::clock(&self.terminal.config, now),
        ));
        let _ = self.window.render();
        match a {
            DeskAction::Touch(m) => touch(&self.ui, &label(m)?),
            DeskAction::Field(m) => {
                let text = m
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("field without text"))?;
                let l = label(m)?;
                let found: Vec<ElementHandle> =
                    ElementHandle::find_by_accessible_label(&self.ui.stage, &l).collect();
                let field = found
                    .first()
                    .ok_or_else(|| anyhow!("no field labelled {l:?} on screen"))?;
                field.set_accessible_value(text);
                Ok(())
            }
            DeskAction::Sim(device, what, args) => {
                // `{eid}`: a fresh e-ID code for the sim's resident card.
                let mut text = args.to_string();
                if text.contains("{eid}") {
                    text = text.replace("{eid}", &super::tour::sample_eid(&self.terminal, 0)?);
                }
                super::tour::sim_stimulus(
                    &self.terminal,
                    device,
                    what,
                    serde_json::from_str(&text)?,
                )
            }
            DeskAction::Queue { group, others } => {
                let c = Catalogue::in_force(&self.terminal.journal)?
                    .ok_or_else(|| anyhow!("no catalogue in force"))?;
                let g = c
                    .group(group)
                    .ok_or_else(|| anyhow!("no group {group} in the catalogue"))?;
                let (hall, prefix) = (c.hall.id.clone(), g.prefix.clone());
                let centre = self.terminal.centre.clone();
                let handle = self.terminal.handle();
                let mut tickets = Vec::new();
                for _ in 0..*others {
                    let req = TicketRequest {
                        device_id: TOUR_MACHINE.into(),
                        request_id: uuid::Uuid::new_v4().to_string(),
                        prefix: prefix.clone(),
                        appointment: None,
                        holder: None,
                        age: None,
                    };
                    tickets.push(handle.block_on(centre.issue_ticket(&hall, group, &req))?);
                }
                // The ticket machine's prints settled: the tickets wait in the queue.
                let first = self
                    .machine_seq
                    .fetch_add(tickets.len() as u64, std::sync::atomic::Ordering::SeqCst);
                handle.block_on(settle(&centre, &hall, group, &tickets, first))?;
                Ok(())
            }
            DeskAction::Sign => {
                for text in super::tour::signature_strokes() {
                    self.ui
                        .stage
                        .global::<kiosk_ui::Desk>()
                        .invoke_ink_stroke(text.into());
                }
                Ok(())
            }
            DeskAction::Type(letters) => {
                let d = self.ui.stage.global::<kiosk_ui::Desk>();
                for c in letters.chars() {
                    d.invoke_key(c.to_string().into());
                }
                d.invoke_key("space".into());
                Ok(())
            }
            DeskAction::AdvanceS(s) => {
                self.clock.advance(Duration::from_secs(*s));
                Ok(())
            }
            DeskAction::Centre(state) => match state.as_str() {
                "down" => self.terminal.embedded_centre_down(),
                "up" => self.terminal.embedded_centre_up(),
                other => Err(anyhow!("centre {other:?}: down or up")),
            },
            DeskAction::Sync => self.terminal.sync_now(),
            DeskAction::Window { number, services } => {
                let hall = self
                    .desk
                    .hall()
                    .ok_or_else(|| anyhow!("no catalogue in force"))?;
                let setup = kiosk_protocol::queue::WindowSetup {
                    services: services.clone(),
                };
                let centre = self.terminal.centre.clone();
                self.terminal
                    .handle()
                    .block_on(centre.set_window(&hall, number, &setup))?;
                Ok(())
            }
            DeskAction::Hours(open) => {
                self.desk.fix_hours(Some(*open));
                Ok(())
            }
        }
    }

    pub fn finish(self, journey: &str, summary: &str) -> anyhow::Result<Vec<StepRecord>> {
        std::fs::write(
            self.out.join("steps.json"),
            serde_json::to_vec_pretty(&json!({
                "journey": journey,
                "summary": summary,
                "language": self.lang.code(),
                "steps": self.records,
            }))?,
        )?;
        self.terminal.stop();
        Ok(self.records)
    }
}

/// The ticket machine's prints of `tickets` are reported to the centre through its journal
/// (`output.result`, printed), so they wait in the queue as tickets from a real machine do.
async fn settle(
    centre: &crate::centre::CentreClient,
    hall: &str,
    service: &str,
    tickets: &[kiosk_protocol::wire::Ticket],
    first_seq: u64,
) -> anyhow::Result<()> {
    use kiosk_protocol::wire::{payload_sha256, EventEnvelope, IngestBatch};
    let machine = crate::centre::CentreClient::plain(centre.base(), TOUR_MACHINE)?;
    let events = tickets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let payload = json!({
                "outcome": "printed",
                "ticket": { "hall": hall, "service": service, "day": t.day, "number": t.number },
            });
            EventEnvelope {
                device_id: TOUR_MACHINE.into(),
                seq: first_seq + i as u64,
                uuid: uuid::Uuid::new_v4().to_string(),
                kind: "output.result".into(),
                created_at: chrono::Utc::now(),
                payload_sha256: payload_sha256(&payload),
                payload,
            }
        })
        .collect();
    machine.ingest(&IngestBatch { events }).await?;
    Ok(())
}

/// The hall's ticket machine in a window tour.
const TOUR_MACHINE: &str = "KSK-TOUR-MACHINE";

/// What the citizen screen shows, by name.
pub fn screen(v: &DeskView) -> &'static str {
    let u = desk::ui_view(v, false, "");
    match u.citizen.as_str() {
        "closed" => "closed",
        "asleep" => "asleep",
        "plate" => "plate",
        "called" => "called",
        "paused" => "paused",
        "cast" => "cast",
        "confirm" => "confirm",
        "sign" => "sign",
        "levels" => "levels",
        "tags" => "tags",
        "complaint" => "complaint",
        "thanks" => "thanks",
        _ => "unknown",
    }
}

fn until(cond: Option<&str>, v: &DeskView) -> bool {
    use kiosk_protocol::queue::QueueState;
    let Some(c) = cond else { return true };
    c.split(',').all(|c| match c.trim() {
        "signed-in" => v.clerk.is_some(),
        "signed-out" => v.clerk.is_none(),
        "serving" => v
            .ticket
            .as_ref()
            .is_some_and(|t| t.state == QueueState::Serving),
        "no-ticket" => v.ticket.is_none(),
        "card-read" => v.masked_name.is_some(),
        "confirmed" => v.confirmed == Some(true),
        "signed" => v.signed,
        "rated" => v.done == Some("rated"),
        "typed" => !v.typed.is_empty(),
        "plate-only" => v.plate_only,
        "scanning" => v.pending == Some("scan"),
        "casting" => v.casting,
        "not-casting" => !v.casting,
        "cast-frame" => v.cast_frame.is_some(),
        "ic-card-read" => v.ic_card.is_some(),
        "counted" => v.waiting.is_some(),
        c if c.starts_with("served:") => v
            .figures
            .as_ref()
            .is_some_and(|f| f.served.to_string() == c["served:".len()..]),
        c if c.starts_with("pending:") => v.pending == Some(&c["pending:".len()..]),
        c if c.starts_with("materials:") => v.materials.to_string() == c["materials:".len()..],
        c if c.starts_with("called:") => v.ticket.as_ref().is_some_and(|t| {
            t.state == QueueState::Called && t.calls.to_string() == c["called:".len()..]
        }),
        c if c.starts_with("ink:") => v.strokes.to_string() == c["ink:".len()..],
        c if c.starts_with("done:") => v.done == Some(&c["done:".len()..]),
        c if c.starts_with("problem:") => {
            v.problem.as_ref().map(|p| p.code()) == Some(&c["problem:".len()..])
        }
        c if c.starts_with("login:") => v.login_problem.as_ref().is_some_and(|p| {
            format!("{p:?}")
                .to_lowercase()
                .starts_with(&c["login:".len()..])
        }),
        c if c.starts_with("held:") => v.held.len().to_string() == c["held:".len()..],
        _ => false,
    })
}

/// Touches the control labelled `label`, as a finger or a screen reader would.
fn touch(ui: &DeskStageUi, label: &str) -> anyhow::Result<()> {
    let found: Vec<ElementHandle> =
        ElementHandle::find_by_accessible_label(&ui.stage, label).collect();
    let target = found
        .iter()
        .find(|e| {
            matches!(
                e.accessible_role(),
                Some(AccessibleRole::Button | AccessibleRole::Checkbox)
            ) && e.accessible_enabled() != Some(false)
        })
        .ok_or_else(|| anyhow!("nothing on screen is a control labelled {label:?}"))?;
    target.invoke_accessible_default_action();
    Ok(())
}

/// The accessible labels on the stage, in tree order, without repeats.
fn labels(ui: &DeskStageUi) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in ElementQuery::from_root(&ui.stage)
        .match_descendants()
        .find_all()
    {
        let Some(label) = e.accessible_label().filter(|l| !l.is_empty()) else {
            continue;
        };
        let s = e.size();
        if s.width > 0.0 && s.height > 0.0 && !out.iter().any(|l| l == label.as_str()) {
            out.push(label.to_string());
        }
    }
    out
}

/// Checks that every built-in window tour parses.
pub fn parse(text: &str) -> anyhow::Result<DeskScript> {
    Ok(serde_json::from_str(text)?)
}
