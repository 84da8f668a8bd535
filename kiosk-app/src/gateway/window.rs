//! Window mode: the clerk's business system drives the window unit's desk through the same
//! intents as the toolbar (call the next ticket, ask the citizen to confirm, ask for a
//! rating) and waits on the citizen screen for the answer. The desk's state machine decides
//! what is allowed; the gateway only sends intents and reads its view.

use std::time::{Duration, Instant};

use kiosk_protocol::gateway::{
    CompletionCode, WindowConfirmPayload, WindowConfirmResult, WindowRateResult, WindowSignResult,
    WindowStatusResult,
};
use kiosk_protocol::queue::WindowState;

use super::commands::{with_payload, Call, Outcome, Services};
use crate::flows::window::{Citizen, ClerkAct};
use crate::flows::window_host::{DeskHost, DeskView};

pub fn run(svc: &Services, desk: &DeskHost, call: &Call<'_>) -> Outcome {
    match call.name {
        "Window.Status" => Outcome::ok(status(&desk.view())),
        "Window.CallNext" => call_next(desk, call),
        "Window.Confirm" => with_payload(call, |p| confirm(desk, call, p)),
        "Window.Sign" => sign(svc, desk, call),
        "Window.Rate" => rate(desk, call),
        other => Outcome::fail(
            CompletionCode::UnsupportedCommand,
            format!("{other} is not a window command"),
        ),
    }
}

pub fn status(v: &DeskView) -> WindowStatusResult {
    WindowStatusResult {
        window: v.window.clone(),
        signed_in: v.clerk.is_some(),
        state: match v.window_state {
            WindowState::Open => "open",
            WindowState::Paused => "paused",
            WindowState::Closed => "closed",
        }
        .into(),
        ticket: v.ticket.as_ref().map(|t| t.number.clone()),
        service: v.service.as_ref().map(|s| s.zh.clone()),
        waiting: v.waiting,
        citizen_screen: screen(&v.citizen).into(),
        case_number: v.case_number.clone(),
    }
}

fn screen(c: &Citizen) -> &'static str {
    match c {
        Citizen::Closed => "closed",
        Citizen::Plate => "plate",
        Citizen::Called => "called",
        Citizen::Paused => "paused",
        Citizen::Cast => "cast",
        Citizen::Confirm => "confirm",
        Citizen::Sign { .. } => "sign",
        Citizen::Rating(_) => "rating",
        Citizen::Thanks => "thanks",
    }
}

/// Waits for `want` in short slices, so a cancel or the command's timeout ends the wait.
fn wait(
    desk: &DeskHost,
    call: &Call<'_>,
    want: impl Fn(&DeskView) -> bool,
) -> Result<DeskView, Outcome> {
    let deadline = Instant::now() + call.timeout;
    loop {
        if call.cancel.is_canceled() {
            return Err(Outcome::fail(CompletionCode::Canceled, "canceled"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Outcome::fail(
                CompletionCode::TimeOut,
                "the window did not answer in time",
            ));
        }
        if let Some(v) = desk.wait_for(left.min(Duration::from_millis(200)), &want) {
            return Ok(v);
        }
    }
}

/// The desk refused the intent: a problem shown to the clerk, in words for the page.
fn refused(v: &DeskView) -> Option<Outcome> {
    v.problem.as_ref().map(|p| {
        Outcome::fail(
            CompletionCode::SequenceError,
            format!("the window refused: {p:?}"),
        )
    })
}

fn call_next(desk: &DeskHost, call: &Call<'_>) -> Outcome {
    let before = desk.view();
    if before.clerk.is_none() {
        return Outcome::fail(
            CompletionCode::SequenceError,
            "no clerk is signed in at this window",
        );
    }
    let old = before.ticket.as_ref().map(|t| t.number.clone());
    let version = before.version;
    desk.clerk(ClerkAct::CallNext);
    match wait(desk, call, |v| {
        v.version != version
            && v.pending.is_none()
            && (v.ticket.as_ref().map(|t| &t.number) != old.as_ref() || v.problem.is_some())
    }) {
        Ok(v) => refused(&v).unwrap_or_else(|| Outcome::ok(status(&v))),
        Err(o) => o,
    }
}

fn confirm(desk: &DeskHost, call: &Call<'_>, p: WindowConfirmPayload) -> Outcome {
    if p.lines.len() > 12
        || p.lines
            .iter()
            .any(|l| l.label.chars().count() > 20 || l.value.chars().count() > 80)
    {
        return Outcome::fail(
            CompletionCode::InvalidData,
            "at most 12 lines, labels up to 20 and values up to 80 characters (the citizen reads them)",
        );
    }
    // The screen shows these from the card and the ticket already; a second "办理事项" with
    // another value would leave the citizen unsure which one is meant.
    const SHOWN: &[&str] = &[
        "姓名",
        "证件号码",
        "办理事项",
        "窗口",
        "办件编号",
        "Name",
        "ID number",
        "Service",
        "Window",
        "Case number",
        "name",
        "id-number",
        "service",
        "window",
        "case",
    ];
    if let Some(l) = p.lines.iter().find(|l| SHOWN.contains(&l.label.trim())) {
        return Outcome::fail(
            CompletionCode::InvalidData,
            format!(
                "the citizen screen shows {:?} already from the card and the ticket; name the line otherwise",
                l.label
            ),
        );
    }
    let before = desk.view();
    if before.ticket.is_none() {
        return Outcome::fail(
            CompletionCode::SequenceError,
            "no citizen is being served at this window",
        );
    }
    let ticket = before.ticket.as_ref().map(|t| t.number.clone());
    let lines = p.lines.into_iter().map(|l| (l.label, l.value)).collect();
    desk.clerk(ClerkAct::AskConfirmWith(lines));
    let asked = desk.view();
    if let Some(o) = refused(&asked) {
        return o;
    }
    if !matches!(asked.citizen, Citizen::Confirm) {
        return Outcome::fail(
            CompletionCode::SequenceError,
            "the window cannot ask now: the citizen has not come to the window yet",
        );
    }
    match wait(desk, call, |v| {
        v.confirmed.is_some()
            || v.ticket.as_ref().map(|t| &t.number) != ticket.as_ref()
            || !matches!(v.citizen, Citizen::Confirm)
    }) {
        Ok(v) => match v.confirmed {
            Some(confirmed) => Outcome::ok(WindowConfirmResult { confirmed }),
            None => Outcome::fail(
                CompletionCode::Canceled,
                "the clerk moved the citizen screen on before the citizen answered",
            ),
        },
        Err(o) => o,
    }
}

fn sign(svc: &Services, desk: &DeskHost, call: &Call<'_>) -> Outcome {
    let before = desk.view();
    let Some(ticket) = before.ticket.as_ref().map(|t| t.number.clone()) else {
        return Outcome::fail(
            CompletionCode::SequenceError,
            "no citizen is being served at this window",
        );
    };
    desk.clerk(ClerkAct::AskSignature);
    if !matches!(desk.view().citizen, Citizen::Sign { .. }) {
        return Outcome::fail(
            CompletionCode::SequenceError,
            "the window cannot ask now: the citizen has not come to the window yet",
        );
    }
    let v = match wait(desk, call, |v| {
        v.signed
            || v.ticket.as_ref().map(|t| &t.number) != Some(&ticket)
            || !matches!(v.citizen, Citizen::Sign { .. })
    }) {
        Ok(v) => v,
        Err(o) => return o,
    };
    if let Some(o) = refused(&v) {
        return o;
    }
    match desk.signature_png() {
        Some(png) if v.signed => {
            let key = svc.results.put(png, "image/png", call.connection);
            Outcome::ok(WindowSignResult {
                url: format!("{}{key}", svc.results_base),
            })
        }
        _ => Outcome::fail(
            CompletionCode::Canceled,
            "the clerk moved the citizen screen on before the citizen signed",
        ),
    }
}

fn rate(desk: &DeskHost, call: &Call<'_>) -> Outcome {
    let before = desk.view();
    if !before.can_rate {
        return Outcome::fail(
            CompletionCode::SequenceError,
            "there is no ticket to rate at this window (or it was rated)",
        );
    }
    desk.clerk(ClerkAct::AskRating);
    if !matches!(desk.view().citizen, Citizen::Rating(_)) {
        return Outcome::fail(
            CompletionCode::SequenceError,
            "the window cannot ask for a rating now",
        );
    }
    match wait(desk, call, |v| !matches!(v.citizen, Citizen::Rating(_))) {
        Ok(v) => Outcome::ok(WindowRateResult {
            rated: matches!(v.citizen, Citizen::Thanks),
        }),
        Err(o) => o,
    }
}
