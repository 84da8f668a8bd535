//! The window unit's screens: the desk's view in the screens' terms, the touches back to the
//! desk, and the two windows (the clerk's caller toolbar and the citizen screen) on a display.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use kiosk_ui::{DeskIntent, DeskUiView, DeskWindows};
use slint::ComponentHandle;

use crate::config::Config;
use crate::flows::host::typing::Tap;
use crate::flows::window::{Citizen, CitizenAct, ClerkAct, DeskProblem, LoginProblem, Pin};
use crate::flows::window_host::{stroke, DeskHost, DeskView};
use crate::services::catalogue::Text;

fn problem(p: &DeskProblem) -> (String, String) {
    let detail = match p {
        DeskProblem::Centre(d)
        | DeskProblem::Card(d)
        | DeskProblem::Code(d)
        | DeskProblem::Journal(d)
        | DeskProblem::Printer(d)
        | DeskProblem::IcCard(d)
        | DeskProblem::Camera(d)
        | DeskProblem::Cast(d) => d.clone(),
        DeskProblem::Refused { message, .. } => message.clone(),
        DeskProblem::NoCard | DeskProblem::NoIdentity | DeskProblem::TooShort => String::new(),
    };
    (p.code().to_string(), detail)
}

fn login(p: &LoginProblem) -> (&'static str, String) {
    match p {
        LoginProblem::Form => ("form", String::new()),
        LoginProblem::Unknown => ("unknown", String::new()),
        LoginProblem::WrongPin { tries_left } => ("wrong-pin", tries_left.to_string()),
        LoginProblem::Locked { until } => ("locked", until.clone()),
        LoginProblem::Elsewhere(w) => ("elsewhere", w.clone()),
        LoginProblem::Centre(d) => ("centre", d.clone()),
        LoginProblem::Refused(d) => ("refused", d.clone()),
    }
}

fn citizen(v: &DeskView) -> &'static str {
    if v.asleep {
        return "asleep";
    }
    match &v.citizen {
        Citizen::Closed => "closed",
        Citizen::Plate => "plate",
        Citizen::Called => "called",
        Citizen::Paused => "paused",
        Citizen::Cast => "cast",
        Citizen::Confirm => "confirm",
        Citizen::Sign { .. } => "sign",
        Citizen::Rating(None) => "levels",
        Citizen::Rating(Some(crate::flows::rating::Stage::Tags { .. })) => "tags",
        Citizen::Rating(Some(crate::flows::rating::Stage::Complaint { .. })) => "complaint",
        Citizen::Rating(Some(crate::flows::rating::Stage::Thanks)) | Citizen::Thanks => "thanks",
    }
}

/// The desk's view as both screens show it, in `english` or Chinese, at `clock`.
pub fn ui_view(v: &DeskView, english: bool, clock: &str) -> DeskUiView {
    let t = |x: &Text| x.get(english).to_string();
    let (problem, problem_detail) = v.problem.as_ref().map(problem).unwrap_or_default();
    let (login_problem, login_detail) = v
        .login_problem
        .as_ref()
        .map(|p| {
            let (a, b) = login(p);
            (a.to_string(), b)
        })
        .unwrap_or_default();
    // The carousel: the hall's pictures first, then its notices.
    let (slide_picture, notice_title, notice_text) = if v.slide < v.slides.len() {
        (
            Some(v.slides[v.slide].clone()),
            String::new(),
            String::new(),
        )
    } else {
        match v.notices.get(v.slide.saturating_sub(v.slides.len())) {
            Some(n) => (None, t(&n.title), t(&n.text)),
            None => (None, String::new(), String::new()),
        }
    };
    let photo = v.clerk.as_ref().and_then(|c| {
        use base64::Engine;
        c.photo_jpeg_base64
            .as_deref()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
    });
    DeskUiView {
        window_no: v.window.clone(),
        hall: v.hall.as_ref().map(t).unwrap_or_default(),
        clock: clock.to_string(),
        signed_in: v.clerk.is_some(),
        clerk_name: v.clerk.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
        clerk_staff: v
            .clerk
            .as_ref()
            .map(|c| c.staff.clone())
            .unwrap_or_default(),
        clerk_title: v
            .clerk
            .as_ref()
            .map(|c| c.title.clone())
            .unwrap_or_default(),
        clerk_stars: v.clerk.as_ref().and_then(|c| c.stars).unwrap_or(0.0) as f32,
        clerk_photo: photo,
        window_state: match v.window_state {
            kiosk_protocol::queue::WindowState::Open => "open",
            kiosk_protocol::queue::WindowState::Paused => "paused",
            kiosk_protocol::queue::WindowState::Closed => "closed",
        }
        .into(),
        ticket: v
            .ticket
            .as_ref()
            .map(|t| t.number.clone())
            .unwrap_or_default(),
        ticket_service: v.service.as_ref().map(t).unwrap_or_default(),
        ticket_state: v
            .ticket
            .as_ref()
            .map(|t| t.state.as_str().to_string())
            .unwrap_or_default(),
        calls: v.ticket.as_ref().map_or(0, |t| t.calls),
        last: v.last.clone().unwrap_or_default(),
        held: v.held.clone(),
        waiting: v.waiting,
        pending: v.pending.unwrap_or_default().to_string(),
        login_problem,
        login_detail,
        problem,
        problem_detail,
        done: v.done.unwrap_or_default().to_string(),
        citizen: citizen(v).to_string(),
        too_short: matches!(v.citizen, Citizen::Sign { too_short: true }),
        masked_name: v.masked_name.clone().unwrap_or_default(),
        confirmed: v.confirmed,
        signed: v.signed,
        can_rate: v.can_rate,
        case_number: v.case_number.clone().unwrap_or_default(),
        plate_only: v.plate_only,
        casting: v.casting,
        cast_frame: v.cast_frame.as_ref().map(|f| kiosk_ui::CastPicture {
            seq: f.seq,
            width: f.width,
            height: f.height,
            rgba: f.rgba.clone(),
        }),
        ic_card: v.ic_card.clone().unwrap_or_default(),
        materials: v.materials,
        today_served: v.figures.as_ref().map(|f| f.served),
        today_handling_min: v
            .figures
            .as_ref()
            .and_then(|f| f.average_handling_s)
            .map(|s| format!("{:.0}", (s / 60.0).max(1.0)))
            .unwrap_or_default(),
        today_satisfied_pct: v
            .figures
            .as_ref()
            .and_then(|f| f.satisfaction)
            .map(|s| format!("{:.0}", s * 100.0))
            .unwrap_or_default(),
        confirm_rows: v
            .confirm
            .iter()
            .map(|l| {
                let value = match (l.label.as_str(), &v.service) {
                    ("service", Some(s)) => t(s),
                    _ => l.value.clone(),
                };
                (l.label.clone(), value)
            })
            .collect(),
        ink: v.ink.clone(),
        strokes: v.strokes,
        services: v
            .services
            .iter()
            .map(|s| (s.id.clone(), t(&s.name)))
            .collect(),
        tags: v
            .tags
            .iter()
            .map(|g| (g.id.clone(), t(&g.label), g.chosen))
            .collect(),
        rating_level: v.rating_level,
        typed: v.typed.clone(),
        preedit: v.preedit.clone(),
        candidates: v.candidates.clone(),
        plain_keys: v.plain_keys,
        slide_picture,
        notice_title,
        notice_text,
        opens: v.opens.clone(),
        closes: v.closes.clone(),
    }
}

/// A touch on either screen, to the desk.
pub fn dispatch(i: DeskIntent, host: &DeskHost) {
    match i {
        DeskIntent::Clerk(action, arg) => {
            let act = match action.as_str() {
                "sign-in" => {
                    let (staff, pin) = arg.split_once('\n').unwrap_or((arg.as_str(), ""));
                    ClerkAct::SignIn {
                        staff: staff.to_string(),
                        pin: Pin(zeroize::Zeroizing::new(pin.to_string())),
                    }
                }
                "sign-out" => ClerkAct::SignOut,
                "call-next" => ClerkAct::CallNext,
                "call-held" => ClerkAct::CallHeld(arg),
                "recall" => ClerkAct::Recall,
                "start" => ClerkAct::Start,
                "no-show" => ClerkAct::NoShow,
                "hold" => ClerkAct::Hold,
                "finish" => ClerkAct::Finish,
                "transfer-service" => ClerkAct::Transfer {
                    service: Some(arg),
                    window: None,
                },
                "transfer-window" => ClerkAct::Transfer {
                    service: None,
                    window: Some(arg),
                },
                "pause" => ClerkAct::Pause,
                "resume" => ClerkAct::Resume,
                "read-card" => ClerkAct::ReadCard,
                "scan-code" => ClerkAct::ScanCode,
                "cancel-card" => ClerkAct::CancelCard,
                "ask-confirm" => ClerkAct::AskConfirm,
                "ask-signature" => ClerkAct::AskSignature,
                "ask-rating" => ClerkAct::AskRating,
                "toggle-plate" => ClerkAct::TogglePlate,
                "toggle-cast" => ClerkAct::ToggleCast,
                "read-ic-card" => ClerkAct::ReadIcCard,
                "capture-material" => ClerkAct::CaptureMaterial,
                "set-case" => ClerkAct::SetCase(arg),
                "print-slip" => ClerkAct::PrintSlip,
                "dismiss" => ClerkAct::Dismiss,
                other => {
                    tracing::warn!(action = other, "unknown toolbar action");
                    return;
                }
            };
            host.clerk(act);
        }
        DeskIntent::Citizen(action, arg) => {
            let act = match action.as_str() {
                "confirm" => CitizenAct::Confirm(arg == "yes"),
                "clear-ink" => CitizenAct::ClearInk,
                "sign-done" => CitizenAct::SignDone { enough: false },
                "rate" => match arg.parse() {
                    Ok(n) => CitizenAct::Rate(n),
                    Err(_) => return,
                },
                "tag" => CitizenAct::RatingTag(arg),
                "rating-next" => CitizenAct::RatingNext,
                "rating-back" => CitizenAct::RatingBack,
                "complained" => return host.complained(),
                other => {
                    tracing::warn!(action = other, "unknown citizen touch");
                    return;
                }
            };
            host.citizen(act);
        }
        DeskIntent::Ink(points) => host.ink(stroke(&points)),
        DeskIntent::Key(k) => {
            if let Some(key) = crate::flows::host::typing::key_named(&k) {
                host.tap(Tap::Key(key));
            }
        }
        DeskIntent::Pick(n) => host.tap(Tap::Pick(n)),
    }
}

/// The clock as the screens show it.
pub fn clock(config: &Config, now: chrono::DateTime<chrono::Utc>) -> String {
    now.with_timezone(&config.offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

thread_local! {
    static DESK_UI: RefCell<Option<Rc<DeskWindows>>> = const { RefCell::new(None) };
}

/// Runs the window unit's two windows until one is closed or `quit` is called. Must run on
/// the main thread.
pub fn run_windows(
    config: &Config,
    host: DeskHost,
    clock_now: Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>,
) -> anyhow::Result<()> {
    let english = config.language() == kiosk_ui::Language::En;
    let h = host.clone();
    let windows = Rc::new(DeskWindows::new(Rc::new(move |i| dispatch(i, &h)))?);
    // Translations are chosen once a component exists.
    kiosk_ui::select_language(config.language())?;
    DESK_UI.with(|w| *w.borrow_mut() = Some(windows.clone()));
    let show = {
        let config = config.clone();
        let clock_now = clock_now.clone();
        move |host: &DeskHost| {
            let v = host.view();
            DESK_UI.with(|w| {
                if let Some(w) = w.borrow().as_ref() {
                    w.show(&ui_view(&v, english, &clock(&config, clock_now())));
                }
            });
        }
    };
    {
        let h2 = host.clone();
        let show = show.clone();
        host.set_notify(Box::new(move || {
            let h = h2.clone();
            let show = show.clone();
            let _ = slint::invoke_from_event_loop(move || show(&h));
        }));
    }
    show(&host);
    // The clock on both screens.
    let timer = slint::Timer::default();
    {
        let h = host.clone();
        let show = show.clone();
        timer.start(
            slint::TimerMode::Repeated,
            Duration::from_secs(1),
            move || show(&h),
        );
    }
    windows.citizen.show()?;
    windows.caller.show()?;
    for w in [windows.caller.window(), windows.citizen.window()] {
        w.on_close_requested(|| {
            let _ = slint::quit_event_loop();
            slint::CloseRequestResponse::HideWindow
        });
    }
    let ran = slint::run_event_loop_until_quit();
    host.set_notify(Box::new(|| {}));
    DESK_UI.with(|w| w.borrow_mut().take());
    let _ = windows.caller.hide();
    let _ = windows.citizen.hide();
    ran.map_err(Into::into)
}
