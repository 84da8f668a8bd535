//! Wiring of the runtime to the Slint screens: a window when a display exists, the software
//! renderer for screenshots.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiosk_ui::{AppWindow, DeviceLine, Language, ScreenId, TerminalTexts, Ui, UiView};
use slint::ComponentHandle;
use tokio::sync::watch;

use super::view;
use super::watchdog::{WindowCheck, WindowWatchdog};
use crate::centre::health::CentreLink;
use crate::config::{Config, Orientation};
use crate::flows::host::Host;
use crate::runtime::{DeviceStatus, Runtime};

pub fn device_lines(snapshot: &[DeviceStatus]) -> Vec<DeviceLine> {
    snapshot
        .iter()
        .map(|d| DeviceLine {
            id: d.id.clone(),
            name: d.name.clone(),
            kind: d.kind.clone(),
            health: d.health.as_str().into(),
            state: d.centre_state.as_str().into(),
            detail: if d.sub.is_empty() {
                d.detail.clone()
            } else {
                let subs: Vec<&str> = d.sub.iter().map(|s| s.as_str()).collect();
                format!("{} {}", subs.join(", "), d.detail)
                    .trim()
                    .to_string()
            },
            transport: d.transport.clone(),
        })
        .collect()
}

pub fn texts(config: &Config) -> TerminalTexts {
    TerminalTexts {
        service_point: config.terminal.service_point.clone(),
        device_id: config.terminal.id.clone(),
        fault_phone: config.terminal.fault_phone.clone(),
        title: config.terminal.title.clone(),
    }
}

fn clock_text(config: &Config, now: chrono::DateTime<chrono::Utc>) -> String {
    now.with_timezone(&config.offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

thread_local! {
    /// The window's screens, on the thread that runs the window.
    static WINDOW_UI: RefCell<Option<Rc<Ui>>> = const { RefCell::new(None) };
}

/// Fills the live values every screen shows from the runtime: devices, clock, centre.
pub fn refresh(ui: &Ui, config: &Config, runtime: &Runtime, centre: &CentreLink) {
    ui.set_devices(&device_lines(&runtime.snapshot()));
    ui.set_status(
        &clock_text(config, runtime.events.now()),
        centre.reachable,
        &centre.text,
    );
}

/// Shows the host's current view.
pub fn apply(ui: &Ui, host: &Host, staff_pin_set: bool) {
    if let Err(e) = ui.show_view(&view::ui_view(&host.view(), staff_pin_set)) {
        tracing::warn!(error = %e, "the screen could not show the view");
    }
}

/// Whether a window can be opened here.
pub fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Offers the window's picture to remote screenshots: drawn on the window's thread, refused
/// while a citizen's journey is on screen.
fn provide_screen(host: Arc<Host>) {
    use crate::terminal::screen::{self, ScreenError};
    const WAIT_S: u64 = 5;
    screen::provide(Arc::new(move || {
        let on = host.view().screen;
        if on.is_journey() {
            return Err(ScreenError::CitizenOnScreen(on.name().into()));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        slint::invoke_from_event_loop(move || {
            let shot = WINDOW_UI.with(|w| {
                w.borrow()
                    .as_ref()
                    .map(|ui| kiosk_ui::snapshot_png(&ui.app))
            });
            let _ = tx.send(shot);
        })
        .map_err(|e| ScreenError::Failed(e.to_string()))?;
        match rx.recv_timeout(Duration::from_secs(WAIT_S)) {
            Ok(Some(Ok((_, _, png)))) => Ok(png),
            Ok(Some(Err(e))) => Err(ScreenError::Failed(e.to_string())),
            Ok(None) => Err(ScreenError::NoScreen),
            Err(_) => Err(ScreenError::Timeout(WAIT_S)),
        }
    }));
}

/// Runs the window until it is closed or `quit` is called. Must run on the main thread.
pub fn run_window(
    config: &Config,
    runtime: Arc<Runtime>,
    centre: watch::Receiver<CentreLink>,
    host: Arc<Host>,
) -> anyhow::Result<()> {
    let portrait = config.ui.orientation == Orientation::Portrait;
    let ui = Rc::new(Ui::new(&texts(config), config.language(), portrait)?);
    let pin_set = !config.credentials().none();
    {
        let host = host.clone();
        let speaker = crate::services::speech::Speaker::start(
            crate::services::speech::Voice::default(),
            crate::services::speech::Output::Device,
        );
        ui.on_intent(move |i| super::voice::dispatch(i, &host, &speaker));
    }
    // The flows tell the window when their view changed; the window shows it on its own thread
    // (the Ui and its models live there, in WINDOW_UI).
    WINDOW_UI.with(|w| *w.borrow_mut() = Some(ui.clone()));
    {
        let host2 = host.clone();
        host.set_notify(Box::new(move || {
            let host = host2.clone();
            let _ = slint::invoke_from_event_loop(move || {
                WINDOW_UI.with(|w| {
                    if let Some(ui) = w.borrow().as_ref() {
                        apply(ui, &host, pin_set);
                    }
                });
            });
        }));
    }
    provide_screen(host.clone());
    apply(&ui, &host, pin_set);
    refresh(&ui, config, &runtime, &centre.borrow());
    let timer = slint::Timer::default();
    {
        let ui = ui.clone();
        let config = config.clone();
        timer.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(500),
            move || refresh(&ui, &config, &runtime, &centre.borrow()),
        );
    }
    let app = &ui.app;
    let dog = Rc::new(RefCell::new(WindowWatchdog::new(
        Instant::now(),
        Duration::from_secs(config.ui.window_wait_s),
        config.ui.window_attempts.saturating_sub(1),
    )));
    let _watchdog = watch_window(app, dog.clone());
    app.show()?;
    // Closing the window ends the kiosk as before; a hide from the watchdog must not.
    app.window().on_close_requested(|| {
        let _ = slint::quit_event_loop();
        slint::CloseRequestResponse::HideWindow
    });
    let ran = slint::run_event_loop_until_quit();
    crate::terminal::screen::withdraw();
    host.set_notify(Box::new(|| {}));
    WINDOW_UI.with(|w| w.borrow_mut().take());
    let _ = app.hide();
    let dog = dog.borrow();
    if dog.gave_up() {
        let cause = ran.err().map(|e| format!(": {e}")).unwrap_or_default();
        anyhow::bail!(
            "the kiosk window never appeared on the display (asked {} times){cause}",
            dog.reshows() + 1
        );
    }
    match ran {
        Ok(()) => Ok(()),
        // The window failed at first and came up when asked again: Slint still reports the
        // first failure when the loop ends, but the screen was there.
        Err(e) if dog.shown() => {
            tracing::warn!(error = %e, reshows = dog.reshows(), "the window had to be asked for again");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks every second that the window exists on the display and asks for it again when it
/// does not, as `dog` decides. It runs while the returned timer lives.
fn watch_window(app: &AppWindow, dog: Rc<RefCell<WindowWatchdog>>) -> slint::Timer {
    use slint::winit_030::WinitWindowAccessor;
    let timer = slint::Timer::default();
    let weak = app.as_weak();
    timer.start(
        slint::TimerMode::Repeated,
        Duration::from_secs(1),
        move || {
            let Some(app) = weak.upgrade() else { return };
            let mut dog = dog.borrow_mut();
            match dog.check(Instant::now(), app.window().has_winit_window()) {
                WindowCheck::Shown => {
                    tracing::info!(reshows = dog.reshows(), "kiosk window shown")
                }
                WindowCheck::Wait | WindowCheck::Done => {}
                WindowCheck::Reshow(n) => {
                    tracing::warn!(
                        attempt = n,
                        waited_s = dog.grace().as_secs(),
                        "the kiosk window has not appeared; asking for it again"
                    );
                    let _ = app.window().hide();
                    if let Err(e) = app.window().show() {
                        tracing::error!(error = %e, "showing the window again failed");
                    }
                }
                WindowCheck::GiveUp => {
                    tracing::error!(
                        reshows = dog.reshows(),
                        "the kiosk window never appeared; stopping"
                    );
                    let _ = slint::quit_event_loop();
                }
            }
        },
    );
    timer
}

/// Which screen a screenshot shows, and how.
pub struct Shot {
    pub screen: ScreenId,
    pub help: bool,
    pub portrait: bool,
    pub lang: Language,
}

/// Renders one screen to a PNG with the software renderer, with the runtime's live values.
/// Screens that belong to a journey are rendered as they first appear; `kiosk tour` plays a
/// whole journey.
pub fn screenshot(
    config: &Config,
    runtime: &Runtime,
    centre: &CentreLink,
    shot: Shot,
    out: &Path,
) -> anyhow::Result<()> {
    let Shot {
        screen,
        help,
        portrait,
        lang,
    } = shot;
    let (w, h) = kiosk_ui::window_size(portrait);
    let window = kiosk_ui::HeadlessWindow::install(w, h)?;
    let ui = Ui::new(&texts(config), lang, portrait)?;
    refresh(&ui, config, runtime, centre);
    let printer_ok = runtime
        .first_of(kiosk_hal::DeviceKind::ReceiptPrinter)
        .is_some_and(|d| {
            matches!(
                d.health().centre_state(),
                kiosk_hal::CentreState::Normal | kiosk_hal::CentreState::Warning
            )
        });
    ui.show_view(&UiView {
        screen,
        language: lang,
        help,
        journeys: config
            .journeys
            .offered
            .iter()
            .map(|j| kiosk_ui::JourneyLine {
                id: j.clone(),
                available: printer_ok && centre.reachable,
                why: if !printer_ok {
                    kiosk_ui::Why::Printer
                } else if !centre.reachable {
                    kiosk_ui::Why::Centre
                } else {
                    kiosk_ui::Why::None
                },
            })
            .collect(),
        no_pin: config.credentials().none(),
        ..UiView::default()
    })?;
    ui.show()?;
    window.render_png(out)?;
    Ok(())
}
