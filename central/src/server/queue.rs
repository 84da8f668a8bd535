//! The hall queue over HTTP: window units send their commands; windows and the hall display
//! read the board and follow the feed (server-sent events that resume from `Last-Event-ID`);
//! the statistics come out per window, service, hour and day.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiosk_protocol::queue::{WindowCommand, WindowSetup};
use serde::Deserialize;

use super::{body, store_call, ApiError, AppState, JsonBody};
use crate::queue::QueueRefusal;

/// How long the feed waits for news before it looks at the store again: the wake-up comes at
/// once from this node; this is for calls made through another centre node.
const FEED_POLL: Duration = Duration::from_millis(500);

fn refused(r: QueueRefusal) -> ApiError {
    let code = match r {
        QueueRefusal::UnknownWindow(_) => StatusCode::NOT_FOUND,
        QueueRefusal::TransferNowhere => StatusCode::BAD_REQUEST,
        _ => StatusCode::CONFLICT,
    };
    let reason = r.reason();
    ApiError::new(code, r.to_string()).because(reason)
}

fn name(what: &str, v: &str, max: usize) -> Result<(), ApiError> {
    if !kiosk_protocol::queue::is_name(v, max) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{what} is 1 to {max} printable characters"),
        ));
    }
    Ok(())
}

pub(super) async fn command(
    State(state): State<AppState>,
    Path((hall, window)): Path<(String, String)>,
    b: JsonBody<WindowCommand>,
) -> Result<Response, ApiError> {
    let cmd = body(b)?;
    name("the hall", &hall, 64)?;
    name("the window", &window, 16)?;
    match &cmd {
        WindowCommand::Login { staff } => name("the staff number", staff, 32)?,
        WindowCommand::CallHeld { number } => name("the ticket number", number, 16)?,
        WindowCommand::Transfer { service, window } => {
            if let Some(s) = service {
                name("the service", s, 64)?;
            }
            if let Some(w) = window {
                name("the window", w, 16)?;
            }
        }
        _ => {}
    }
    let queue = state.queue.clone();
    let out = store_call(move || queue.command(&hall, &window, &cmd)).await?;
    state.queue_news.notify_waiters();
    match out {
        Ok(o) => Ok(Json(o).into_response()),
        Err(r) => Err(refused(r)),
    }
}

pub(super) async fn set_window(
    State(state): State<AppState>,
    Path((hall, window)): Path<(String, String)>,
    b: JsonBody<WindowSetup>,
) -> Result<Response, ApiError> {
    let setup = body(b)?;
    name("the hall", &hall, 64)?;
    name("the window", &window, 16)?;
    if setup.services.len() > 50 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a window serves at most 50 services",
        ));
    }
    for s in &setup.services {
        name("a service", s, 64)?;
    }
    let queue = state.queue.clone();
    let w = store_call(move || queue.set_window(&hall, &window, &setup.services)).await?;
    state.queue_news.notify_waiters();
    Ok(Json(w).into_response())
}

/// One window now, for its unit (its waiting count between commands).
pub(super) async fn window_now(
    State(state): State<AppState>,
    Path((hall, window)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    name("the hall", &hall, 64)?;
    name("the window", &window, 16)?;
    let queue = state.queue.clone();
    let w = window.clone();
    match store_call(move || queue.window_now(&hall, &w)).await? {
        Some(o) => Ok(Json(o).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no window {window} in this hall"),
        )
        .because("unknown-window")),
    }
}

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    token: Option<String>,
}

/// A display or window reads the hall only with the hall's display token.
async fn allowed(state: &AppState, hall: &str, token: Option<String>) -> Result<(), ApiError> {
    let Some(token) = token else {
        return Err(
            ApiError::new(StatusCode::FORBIDDEN, "a display token is required")
                .because("token-missing"),
        );
    };
    let store = state.store.clone();
    let h = hall.to_string();
    if store_call(move || store.display_token_allows(&h, &token)).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this display token is not for this hall",
        )
        .because("token-refused"))
    }
}

pub(super) async fn board(
    State(state): State<AppState>,
    Path(hall): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    name("the hall", &hall, 64)?;
    allowed(&state, &hall, q.token).await?;
    let queue = state.queue.clone();
    let b = store_call(move || queue.board(&hall)).await?;
    Ok(Json(b).into_response())
}

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    token: Option<String>,
    #[serde(default)]
    after: u64,
}

/// The feed's page size.
const PAGE: usize = 200;

pub(super) async fn events(
    State(state): State<AppState>,
    Path(hall): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    name("the hall", &hall, 64)?;
    allowed(&state, &hall, q.token).await?;
    let queue = state.queue.clone();
    let after = q.after;
    let events = store_call(move || queue.events_after(&hall, after, PAGE)).await?;
    Ok(Json(events).into_response())
}

/// Server-sent events: every queue event after `Last-Event-ID` (or `after`), then each new
/// one as it happens. A display that lost its connection reconnects with the last id it saw
/// and misses nothing.
pub(super) async fn feed(
    State(state): State<AppState>,
    Path(hall): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    name("the hall", &hall, 64)?;
    allowed(&state, &hall, q.token).await?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(q.after);
    struct Follow {
        state: AppState,
        hall: String,
        after: u64,
        ready: std::collections::VecDeque<kiosk_protocol::queue::QueueEvent>,
        closing: tokio::sync::watch::Receiver<bool>,
    }
    let start = Follow {
        closing: state.closing.subscribe(),
        state,
        hall,
        after,
        ready: Default::default(),
    };
    let stream = futures_util::stream::unfold(start, |mut f| async move {
        loop {
            if *f.closing.borrow() {
                return None;
            }
            if let Some(e) = f.ready.pop_front() {
                f.after = e.id;
                let data = serde_json::to_string(&e).unwrap_or_default();
                let ev = Event::default()
                    .id(e.id.to_string())
                    .event("queue")
                    .data(data);
                return Some((Ok::<Event, Infallible>(ev), f));
            }
            // Registered before reading, so a call made while we read still wakes us.
            let news = f.state.queue_news.clone();
            let woken = news.notified();
            let queue = f.state.queue.clone();
            let (h, after) = (f.hall.clone(), f.after);
            match store_call(move || queue.events_after(&h, after, PAGE)).await {
                Ok(page) if !page.is_empty() => f.ready.extend(page),
                _ => {
                    let mut closing = f.closing.clone();
                    tokio::select! {
                        _ = tokio::time::timeout(FEED_POLL, woken) => {}
                        _ = closing.changed() => {}
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[derive(Deserialize)]
pub(super) struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
}

fn is_day(d: &str) -> bool {
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() && d.len() == 10
}

/// The window ratings of the days `from` ..= `to`, every field (for the department that
/// follows up a complaint).
pub(super) async fn ratings(
    State(state): State<AppState>,
    Path(hall): Path<String>,
    Query(q): Query<StatsQuery>,
) -> Result<Response, ApiError> {
    name("the hall", &hall, 64)?;
    let (from, to) = days(q)?;
    let store = state.store.clone();
    let r = store_call(move || store.queue_ratings(&hall, &from, &to)).await?;
    Ok(Json(r).into_response())
}

/// The days a statistics query names: today when left out.
fn days(q: StatsQuery) -> Result<(String, String), ApiError> {
    let today = crate::queue::today();
    let from = q.from.unwrap_or_else(|| today.clone());
    let to = q.to.unwrap_or(today);
    if !is_day(&from) || !is_day(&to) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "from and to are days (YYYY-MM-DD)",
        ));
    }
    Ok((from, to))
}

pub(super) async fn stats(
    State(state): State<AppState>,
    Path(hall): Path<String>,
    Query(q): Query<StatsQuery>,
) -> Result<Response, ApiError> {
    name("the hall", &hall, 64)?;
    // A range that ends before it starts simply holds no tickets.
    let (from, to) = days(q)?;
    let queue = state.queue.clone();
    let s = store_call(move || queue.stats(&hall, &from, &to)).await?;
    Ok(Json(s).into_response())
}

/// The hall display page (for the hall TV's browser): it needs the hall's display token, and
/// uses it for the board and the feed.
pub(super) async fn display_page(
    State(state): State<AppState>,
    Path(hall): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let html = [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")];
    if !kiosk_protocol::queue::is_name(&hall, 64) {
        return (StatusCode::BAD_REQUEST, html, "<p>No such hall.</p>").into_response();
    }
    match allowed(&state, &hall, q.token).await {
        Ok(()) => (
            html,
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            include_str!("../../assets/display.html"),
        )
            .into_response(),
        Err(e) => (
            e.code,
            html,
            "<!doctype html><meta charset=utf-8><p>此显示屏未获授权 — this display needs the hall's display token (kiosk-central queue display-token).</p>",
        )
            .into_response(),
    }
}

/// A ticket machine reserves numbers of today to issue while it cannot reach the centre.
pub(super) async fn reserve_block(
    State(state): State<AppState>,
    Path((hall, service)): Path<(String, String)>,
    b: JsonBody<kiosk_protocol::wire::NumberBlockRequest>,
) -> Result<Response, ApiError> {
    let req = body(b)?;
    if req.request_id.is_empty()
        || req.request_id.chars().count() > 64
        || !(1..=200).contains(&req.size)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request_id is 1 to 64 characters and size 1 to 200",
        ));
    }
    let day = crate::queue::today();
    let store = state.store.clone();
    let block = store_call(move || store.reserve_block(&hall, &service, &day, &req)).await?;
    Ok(Json(block).into_response())
}

/// A clerk logs in at a window with staff number and PIN; on success the window opens for
/// them and the answer is their name plate.
pub(super) async fn staff_login(
    State(state): State<AppState>,
    Path((hall, staff)): Path<(String, String)>,
    b: JsonBody<kiosk_protocol::queue::StaffLogin>,
) -> Result<Response, ApiError> {
    let login = body(b)?;
    name("the hall", &hall, 64)?;
    name("the staff number", &staff, 32)?;
    name("the window", &login.window, 16)?;
    if !crate::staff::is_pin(&login.pin) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a PIN is 4 to 12 digits",
        ));
    }
    let store = state.store.clone();
    let (h, s, l) = (hall.clone(), staff.clone(), login.clone());
    let checked = store_call(move || {
        store.staff_login(&h, &s, &l.pin, &l.window, &l.device_id, chrono::Utc::now())
    })
    .await?;
    let entry = match checked {
        Ok(e) => e,
        Err(r) => {
            let code = match r {
                crate::staff::StaffRefusal::Unknown(_) => StatusCode::NOT_FOUND,
                crate::staff::StaffRefusal::WrongPin { .. } => StatusCode::FORBIDDEN,
                crate::staff::StaffRefusal::Locked { .. } => StatusCode::LOCKED,
            };
            tracing::warn!(hall, staff, window = %login.window, reason = r.reason(), "staff login refused");
            return Err(ApiError::new(code, r.to_string()).because(r.reason()));
        }
    };
    let queue = state.queue.clone();
    let (h, s, w) = (hall.clone(), staff.clone(), login.window.clone());
    let opened = store_call(move || {
        queue.command(
            &h,
            &w,
            &kiosk_protocol::queue::WindowCommand::Login { staff: s },
        )
    })
    .await?;
    state.queue_news.notify_waiters();
    if let Err(r) = opened {
        return Err(refused(r));
    }
    // The clerk's stars: their ratings of the last 90 days.
    let store = state.store.clone();
    let today = crate::queue::today();
    let since = (chrono::Utc::now() - chrono::Duration::days(90) + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string();
    let h = hall.clone();
    let ratings = store_call(move || store.queue_ratings(&h, &since, &today)).await?;
    let mine: Vec<f64> = ratings
        .iter()
        .filter(|r| r.staff == staff)
        .map(|r| f64::from(r.level))
        .collect();
    let stars = (!mine.is_empty())
        .then(|| (mine.iter().sum::<f64>() / mine.len() as f64 * 10.0).round() / 10.0);
    tracing::info!(hall, staff, window = %login.window, "staff logged in");
    Ok(Json(kiosk_protocol::queue::StaffPlate {
        staff: entry.staff,
        name: entry.name,
        title: entry.title,
        photo_jpeg_base64: entry.photo_jpeg_base64,
        stars,
        window: login.window,
    })
    .into_response())
}
