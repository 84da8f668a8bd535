//! The HTTP face of the centre (axum).

use std::net::SocketAddr;

mod cases;
mod documents;
mod queue;
mod updates;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kiosk_protocol::wire::{
    AppointmentRequest, CentreHealth, CommandAck, CommandRequest, Heartbeat, IngestBatch,
    SealAuthorisationRequest, SealConsume, TicketRequest,
};
use tokio::sync::oneshot;

use crate::store::{AckRefusal, ConsumeRefusal, TicketRefusal};
use crate::Store;
use kiosk_protocol::signing::{DocumentKind, SignedDocument};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub options: CentreOptions,
    /// The hall queue windows and displays talk to.
    pub queue: std::sync::Arc<dyn crate::queue::QueueEngine>,
    /// Woken after every queue change, so the feeds send it at once.
    pub queue_news: std::sync::Arc<tokio::sync::Notify>,
    /// Set when the centre stops: long-lived answers (the queue feed) end so the graceful
    /// shutdown does not wait for the hall's displays to hang up.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// Counts documents published since the centre started: terminals wait on it
    /// (`documents/changes`), so a configuration reaches them within a second, not a poll.
    pub published: tokio::sync::watch::Sender<u64>,
}

impl AppState {
    pub fn new(store: Store, options: CentreOptions) -> AppState {
        AppState {
            queue: std::sync::Arc::new(crate::queue::BuiltinQueue::new(
                store.clone(),
                options.queue,
            )),
            queue_news: Default::default(),
            closing: tokio::sync::watch::Sender::new(false),
            published: tokio::sync::watch::Sender::new(0),
            store,
            options,
        }
    }
}

/// How strict a centre is with terminals.
#[derive(Debug, Clone, Copy, Default)]
pub struct CentreOptions {
    /// Only enrolled terminals, with every device request signed by their enrolled key.
    /// Off: terminals without a key are served unsigned (the embedded centre of one terminal);
    /// an enrolled terminal's requests must be signed either way.
    pub require_enrolment: bool,
    /// The hall's calling rules.
    pub queue: crate::queue::QueueRules,
}

/// The most events one batch may carry; larger uploads are split by the device.
pub const MAX_BATCH: usize = 1000;

pub fn router(store: impl Into<Store>) -> Router {
    router_with(store, CentreOptions::default())
}

pub fn router_with(store: impl Into<Store>, options: CentreOptions) -> Router {
    router_for(AppState::new(store.into(), options))
}

pub fn router_for(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/v1/devices/{device_id}/events", post(ingest))
        .route("/api/v1/devices/{device_id}/heartbeat", post(heartbeat))
        .route("/api/v1/devices/{device_id}/status", get(status))
        .route("/api/v1/devices/{device_id}/commands", post(queue_command))
        .route("/api/v1/documents", axum::routing::put(publish_document))
        .route(
            "/api/v1/devices/{device_id}/documents/changes",
            get(document_changes),
        )
        .route(
            "/api/v1/devices/{device_id}/documents/{kind}",
            get(latest_document),
        )
        .route(
            "/api/v1/devices/{device_id}/commands/pending",
            get(pending_commands),
        )
        .route("/api/v1/devices/{device_id}/commands/{id}", get(command))
        .route(
            "/api/v1/devices/{device_id}/updates/{sha256}",
            get(updates::fetch),
        )
        .route(
            "/api/v1/devices/{device_id}/commands/{id}/ack",
            post(ack_command),
        )
        .route(
            "/api/v1/halls/{hall}/services/{service}/tickets",
            post(ticket),
        )
        .route(
            "/api/v1/halls/{hall}/services/{service}/blocks",
            post(queue::reserve_block),
        )
        .route(
            "/api/v1/halls/{hall}/services/{service}/tickets/{day}/{number}",
            get(ticket_state),
        )
        .route(
            "/api/v1/halls/{hall}/queue/windows/{window}",
            axum::routing::put(queue::set_window).get(queue::window_now),
        )
        .route(
            "/api/v1/halls/{hall}/queue/windows/{window}/commands",
            post(queue::command),
        )
        .route("/api/v1/halls/{hall}/queue/board", get(queue::board))
        .route("/api/v1/halls/{hall}/queue/events", get(queue::events))
        .route("/api/v1/halls/{hall}/queue/feed", get(queue::feed))
        .route("/api/v1/halls/{hall}/queue/stats", get(queue::stats))
        .route("/api/v1/halls/{hall}/queue/ratings", get(queue::ratings))
        .route(
            "/api/v1/halls/{hall}/staff/{staff}/login",
            post(queue::staff_login),
        )
        .route("/display/{hall}", get(queue::display_page))
        .route("/api/v1/halls/{hall}/appointments", post(book_appointment))
        .route("/api/v1/halls/{hall}/appointments/{code}", get(appointment))
        .route("/api/v1/seal-authorisations", post(authorise_seal))
        .route(
            "/api/v1/seal-authorisations/{id}/consume",
            post(consume_seal),
        )
        .route(
            "/api/v1/attachments/{sha256}",
            get(attachment_status).put(attachment_chunk),
        )
        .route("/api/v1/cases", post(cases::file))
        .route("/api/v1/cases/lookup", post(cases::lookup))
        .route("/api/v1/cases/{number}/progress", post(cases::progress))
        .route("/api/v1/holders/{holder}/cases", get(cases::of_holder))
        .route(
            "/api/v1/holders/{holder}/licences",
            get(documents::licences_of),
        )
        .route("/api/v1/holders/{holder}/proofs", get(documents::proofs_of))
        .route("/api/v1/proofs", post(documents::issue))
        .route(
            "/api/v1/proofs/{number}/check/{code}",
            get(documents::check),
        )
        .route("/api/v1/enrol", post(enrol))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            verify_device,
        ))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// An error answer: the status and a JSON `{"error": …}`, with a stable `reason` where a
/// terminal acts on which refusal it was, and `received` for resumable uploads.
struct ApiError {
    code: StatusCode,
    message: String,
    reason: Option<&'static str>,
    received: Option<u64>,
}

impl ApiError {
    fn new(code: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            reason: None,
            received: None,
        }
    }

    fn because(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(r) = self.reason {
            body["reason"] = serde_json::json!(r);
        }
        if let Some(r) = self.received {
            body["received"] = serde_json::json!(r);
        }
        (self.code, Json(body)).into_response()
    }
}

/// Errors answered by the framework itself (an unknown route, a method not allowed, a path or
/// query that does not parse) come as plain text; every error of this API is JSON.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let mut out = (status, Json(serde_json::json!({ "error": message }))).into_response();
    // Keep what the framework said besides the body (Allow on 405).
    for (k, v) in parts.headers.iter() {
        if k != axum::http::header::CONTENT_TYPE && k != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// Runs store work off the async executor; a store failure is 503, a panic 500.
async fn store_call<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "store failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.to_string(),
            ))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
    }
}

/// The request body, or the 400 answer that names what is wrong with it.
/// The terminal a request speaks for, when it is one of the terminals' own requests (not an
/// operator's: queueing a command or reading a status is not the terminal's doing).
fn device_route<'a>(method: &axum::http::Method, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix("/api/v1/devices/")?;
    let (device, tail) = rest.split_once('/')?;
    let device_owned = match (method.as_str(), tail) {
        ("POST", "events") | ("POST", "heartbeat") | ("GET", "commands/pending") => true,
        ("POST", t) => t.starts_with("commands/") && t.ends_with("/ack"),
        ("GET", t) => t.starts_with("documents/") || t.starts_with("updates/"),
        _ => false,
    };
    device_owned.then_some(device)
}

/// Requests only terminals make that do not name the terminal in their path: tickets, seal
/// authorisations, attachment uploads, filing and looking up cases, and a citizen's licences and
/// proofs.
fn terminal_route(method: &axum::http::Method, path: &str) -> bool {
    (method == axum::http::Method::POST
        && (path.starts_with("/api/v1/seal-authorisations")
            || (path.starts_with("/api/v1/halls/") && path.ends_with("/tickets"))
            || (path.starts_with("/api/v1/halls/") && path.ends_with("/commands"))
            || (path.starts_with("/api/v1/halls/") && path.ends_with("/blocks"))
            || (path.starts_with("/api/v1/halls/") && path.ends_with("/login"))
            || path == "/api/v1/cases"
            || path == "/api/v1/cases/lookup"
            || path == "/api/v1/proofs"))
        || path.starts_with("/api/v1/attachments/")
        || path.starts_with("/api/v1/holders/")
}

/// The largest signed request body the centre buffers to check its signature.
const MAX_SIGNED_BODY: usize = 32 << 20;

async fn verify_device(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiError> {
    use kiosk_protocol::signing::{
        request_message, PublicKey, HEADER_DEVICE, HEADER_SIGNATURE, HEADER_TIME, REQUEST_SKEW_S,
    };
    let header_device = req
        .headers()
        .get(HEADER_DEVICE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let device = match device_route(req.method(), req.uri().path()) {
        Some(d) => d.to_string(),
        // Terminal requests without a device in the path speak for the device they name.
        None if terminal_route(req.method(), req.uri().path()) => match header_device {
            Some(d) => d,
            None if state.options.require_enrolment => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "only enrolled terminals, with signed requests, are served",
                ))
            }
            None => return Ok(next.run(req).await),
        },
        None => return Ok(next.run(req).await),
    };
    let unauthorised = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, m);
    // Owned before any await: a borrowed request would make this future not Send.
    let (signature, signed_device, signed_time) = {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        (
            header(HEADER_SIGNATURE),
            header(HEADER_DEVICE),
            header(HEADER_TIME),
        )
    };
    let store = state.store.clone();
    let id = device.clone();
    let key = store_call(move || store.device_key(&id)).await?;
    let key = match (key, signature.is_some()) {
        (None, false) if !state.options.require_enrolment => return Ok(next.run(req).await),
        (None, _) => return Err(unauthorised(format!("terminal {device} is not enrolled"))),
        (Some(_), false) => {
            return Err(unauthorised(format!(
                "terminal {device} is enrolled: its requests must be signed"
            )))
        }
        (Some(k), true) => k
            .parse::<PublicKey>()
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
    };
    if signed_device.as_deref() != Some(device.as_str()) {
        return Err(unauthorised("signed for another terminal".into()));
    }
    let time: i64 = signed_time
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| unauthorised("missing or bad request time".into()))?;
    if (chrono::Utc::now().timestamp() - time).abs() > REQUEST_SKEW_S {
        return Err(unauthorised(format!(
            "request time is more than {REQUEST_SKEW_S} s from the centre's clock"
        )));
    }
    let sig = signature
        .as_deref()
        .and_then(|s| hex::decode(s).ok())
        .ok_or_else(|| unauthorised("signature is not hex".into()))?;
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_SIGNED_BODY)
        .await
        .map_err(|e| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?;
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    key.verify(
        &request_message(parts.method.as_str(), path, time, &bytes),
        &sig,
    )
    .map_err(|e| unauthorised(format!("terminal {device}: {e}")))?;
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    Ok(next.run(req).await)
}

async fn enrol(
    State(state): State<AppState>,
    b: JsonBody<kiosk_protocol::wire::EnrolRequest>,
) -> Result<Response, ApiError> {
    use crate::store::EnrolRefusal;
    let req = body(b)?;
    let code_sha = crate::store::code_sha256(&req.code);
    let now = chrono::Utc::now();
    let refused = |refusal: EnrolRefusal| {
        let code = match refusal {
            EnrolRefusal::WrongCode => StatusCode::FORBIDDEN,
            EnrolRefusal::Used => StatusCode::CONFLICT,
            EnrolRefusal::Expired => StatusCode::GONE,
        };
        ApiError::new(code, refusal.to_string())
    };
    let key: kiosk_protocol::signing::PublicKey = match req.public_key.parse() {
        Ok(k) => k,
        // The code is checked first: a key is judged only for the terminal the code is for.
        Err(e) => {
            let (store, device, sha) =
                (state.store.clone(), req.device_id.clone(), code_sha.clone());
            store_call(move || store.check_enrolment_code(&device, &sha, now))
                .await?
                .map_err(refused)?;
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("public_key: {e}"),
            ));
        }
    };
    let store = state.store.clone();
    let (device, text) = (req.device_id.clone(), key.to_string());
    match store_call(move || store.enrol_with_code(&device, &code_sha, &text, now)).await? {
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(kiosk_protocol::wire::Enrolment {
                device_id: req.device_id,
                key_id: key.key_id(),
                enrolled_at: now,
            }),
        )
            .into_response()),
        Err(refusal) => Err(refused(refusal)),
    }
}

fn body<T>(b: JsonBody<T>) -> Result<T, ApiError> {
    b.map(|Json(v)| v)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
}

async fn heartbeat(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    b: JsonBody<Heartbeat>,
) -> Result<Response, ApiError> {
    let hb = body(b)?;
    if hb.device_id != device_id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "device id in the body differs from the path",
        )
        .because("device-mismatch"));
    }
    let (store, now) = (state.store.clone(), chrono::Utc::now().to_rfc3339());
    let n = store_call(move || store.record_heartbeat(&hb, &now)).await?;
    Ok(Json(serde_json::json!({ "heartbeats": n })).into_response())
}

async fn status(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    match store_call(move || store.latest_heartbeat(&device_id)).await? {
        Some(hb) => Ok(Json(hb).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no heartbeat from this device",
        )),
    }
}

#[derive(serde::Deserialize)]
struct ChunkQuery {
    offset: u64,
    size: u64,
}

async fn attachment_status(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    match store_call(move || store.attachment_status(&sha256)).await? {
        Some(s) => Ok(Json(s).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "unknown attachment")),
    }
}

async fn attachment_chunk(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    Query(q): Query<ChunkQuery>,
    bytes: axum::body::Bytes,
) -> Result<Response, ApiError> {
    use crate::store::AttachmentError as E;
    let store = state.store.clone();
    let res = tokio::task::spawn_blocking(move || {
        store.put_attachment_chunk(&sha256, q.size, q.offset, &bytes)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let e = match res {
        Ok(s) => return Ok(Json(s).into_response()),
        Err(e) => e,
    };
    let (code, reason) = match &e {
        E::BadHash(_) => (StatusCode::BAD_REQUEST, None),
        // These depend on what was uploaded before, not on the request's form.
        E::TooLong => (StatusCode::CONFLICT, Some("too-long")),
        E::SizeConflict { .. } => (StatusCode::CONFLICT, Some("size-conflict")),
        E::Offset { .. } => (StatusCode::CONFLICT, Some("offset")),
        E::HashMismatch => (StatusCode::CONFLICT, Some("hash-mismatch")),
        E::Io(_) | E::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
    };
    let mut err = ApiError::new(code, e.to_string());
    err.reason = reason;
    if matches!(e, E::HashMismatch) {
        // The bytes held did not match their name and were dropped: start again.
        err.received = Some(0);
    }
    // A wrong offset tells the device where to resume.
    if let E::Offset { received, .. } = e {
        err.received = Some(received);
    }
    Err(err)
}

async fn ticket(
    State(state): State<AppState>,
    Path((hall, service)): Path<(String, String)>,
    b: JsonBody<TicketRequest>,
) -> Result<Response, ApiError> {
    let req = body(b)?;
    if req.prefix.chars().count() > 2 || req.request_id.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "prefix is at most 2 characters and request_id is required",
        ));
    }
    // Numbering follows the hall's local day (China Standard Time, UTC+8, no daylight saving).
    let day = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string();
    let store = state.store.clone();
    let priority =
        crate::queue::engine::priority_of(&state.options.queue, req.appointment.is_some(), req.age);
    let issued =
        store_call(move || store.issue_ticket(&hall, &service, &day, &req, &priority)).await?;
    state.queue_news.notify_waiters();
    match issued {
        Ok(t) => Ok(Json(t).into_response()),
        Err(refusal) => {
            let (code, reason) = match refusal {
                TicketRefusal::UnknownAppointment(_) => {
                    (StatusCode::NOT_FOUND, "appointment-unknown")
                }
                TicketRefusal::AppointmentElsewhere { .. } => {
                    (StatusCode::CONFLICT, "appointment-elsewhere")
                }
                TicketRefusal::AppointmentUsed { .. } => (StatusCode::CONFLICT, "appointment-used"),
            };
            Err(ApiError::new(code, refusal.to_string()).because(reason))
        }
    }
}

async fn book_appointment(
    State(state): State<AppState>,
    Path(hall): Path<String>,
    b: JsonBody<AppointmentRequest>,
) -> Result<Response, ApiError> {
    let req = body(b)?;
    // Lengths in characters, as the schema counts them.
    let fits = |s: &str| (1..=64).contains(&s.chars().count());
    if !fits(&req.code) || !fits(&req.service) || !valid_day(&req.day) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "an appointment needs a code and a service of 1 to 64 characters and a day as YYYY-MM-DD",
        ));
    }
    let store = state.store.clone();
    match store_call(move || store.book_appointment(&hall, &req)).await? {
        Ok(a) => Ok((StatusCode::CREATED, Json(a)).into_response()),
        Err(refusal) => Err(ApiError::new(StatusCode::CONFLICT, refusal.to_string())),
    }
}

async fn appointment(
    State(state): State<AppState>,
    Path((hall, code)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    match store_call(move || store.appointment(&hall, &code)).await? {
        Some(a) => Ok(Json(a).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no such appointment")),
    }
}

fn valid_day(day: &str) -> bool {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok() && day.len() == 10
}

async fn publish_document(
    State(state): State<AppState>,
    b: JsonBody<SignedDocument>,
) -> Result<Response, ApiError> {
    let doc = body(b)?;
    if doc.version == 0
        || doc.version > i64::MAX as u64
        || doc.scope.is_empty()
        || doc.signature.is_empty()
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "a document needs a version from 1 to {}, a scope and a signature",
                i64::MAX
            ),
        ));
    }
    let store = state.store.clone();
    let saved = doc.clone();
    match store_call(move || store.publish_document(&saved)).await? {
        Ok(()) => {
            state.published.send_modify(|n| *n += 1);
            Ok((StatusCode::CREATED, Json(doc)).into_response())
        }
        Err(refusal) => Err(ApiError::new(StatusCode::CONFLICT, refusal.to_string())),
    }
}

#[derive(serde::Deserialize)]
struct Changes {
    /// The generation the terminal last saw; absent on its first call.
    since: Option<u64>,
    /// How long to hold the request when nothing changed, in seconds (at most 30).
    #[serde(default)]
    wait: u64,
}

/// `GET …/documents/changes?since=N&wait=S`: answers `{"generation": G}` as soon as documents
/// were published since generation `N` (at once when `N` is not the current generation: a
/// restarted centre counts from 0 again), or after `S` seconds with the same generation. The
/// terminal then fetches its documents; long polling keeps that within a second of a publish.
async fn document_changes(
    State(state): State<AppState>,
    Path(_device_id): Path<String>,
    Query(q): Query<Changes>,
) -> Response {
    let mut rx = state.published.subscribe();
    let mut closing = state.closing.subscribe();
    let now = *rx.borrow_and_update();
    if q.since != Some(now) {
        return Json(serde_json::json!({ "generation": now })).into_response();
    }
    let wait = std::time::Duration::from_secs(q.wait.min(30));
    tokio::select! {
        _ = rx.changed() => {}
        _ = tokio::time::sleep(wait) => {}
        _ = closing.wait_for(|c| *c) => {}
    }
    let generation = *rx.borrow();
    Json(serde_json::json!({ "generation": generation })).into_response()
}

#[derive(serde::Deserialize)]
struct After {
    #[serde(default)]
    after: u64,
}

async fn latest_document(
    State(state): State<AppState>,
    Path((device_id, kind)): Path<(String, String)>,
    Query(q): Query<After>,
) -> Result<Response, ApiError> {
    let kind: DocumentKind = kind
        .parse()
        .map_err(|e: String| ApiError::new(StatusCode::NOT_FOUND, e))?;
    if q.after > i64::MAX as u64 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("after goes up to {}", i64::MAX),
        ));
    }
    let store = state.store.clone();
    match store_call(move || store.latest_document(kind, &device_id, q.after)).await? {
        Some(doc) => Ok(Json(doc).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn queue_command(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    b: JsonBody<CommandRequest>,
) -> Result<Response, ApiError> {
    let req = body(b)?;
    if req.request_id.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request_id is required",
        ));
    }
    // An update order names a bundle the centre holds, so the terminal can fetch it.
    if let kiosk_protocol::wire::RemoteCommand::InstallUpdate {
        version,
        sha256,
        size,
    } = &req.command
    {
        let (store, sha256, version, size) =
            (state.store.clone(), sha256.clone(), version.clone(), *size);
        if let Err(why) =
            store_call(move || crate::updates::check_order(&store, &sha256, &version, size)).await?
        {
            return Err(ApiError::new(StatusCode::CONFLICT, why));
        }
    }
    let store = state.store.clone();
    let c = store_call(move || store.queue_command(&device_id, &req, chrono::Utc::now())).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

async fn pending_commands(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let list = store_call(move || store.pending_commands(&device_id, chrono::Utc::now())).await?;
    Ok(Json(list).into_response())
}

async fn command(
    State(state): State<AppState>,
    Path((device_id, id)): Path<(String, u64)>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    match store_call(move || store.command(&device_id, id, chrono::Utc::now())).await? {
        Some(c) => Ok(Json(c).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no such command")),
    }
}

async fn ack_command(
    State(state): State<AppState>,
    Path((device_id, id)): Path<(String, u64)>,
    b: JsonBody<CommandAck>,
) -> Result<Response, ApiError> {
    let ack = body(b)?;
    let store = state.store.clone();
    match store_call(move || store.ack_command(&device_id, id, &ack, chrono::Utc::now())).await? {
        Ok(c) => Ok(Json(c).into_response()),
        Err(refusal) => {
            let code = match refusal {
                AckRefusal::Unknown(_) => StatusCode::NOT_FOUND,
                AckRefusal::Expired(_) => StatusCode::GONE,
                AckRefusal::Conflict(_) => StatusCode::CONFLICT,
            };
            Err(ApiError::new(code, refusal.to_string()))
        }
    }
}

async fn ticket_state(
    State(state): State<AppState>,
    Path((hall, service, day, number)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    match store_call(move || store.ticket(&hall, &service, &day, &number)).await? {
        Some(t) => Ok(Json(t).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no such ticket")),
    }
}

/// How long a seal authorisation stays usable: long enough for the terminal to stamp, too
/// short to be carried to another document.
pub const SEAL_AUTHORISATION_VALID_S: i64 = 300;

async fn authorise_seal(
    State(state): State<AppState>,
    b: JsonBody<SealAuthorisationRequest>,
) -> Result<Response, ApiError> {
    let req = body(b)?;
    if req.request_id.is_empty()
        || req.seal == 0
        || req.document_sha256.len() != 64
        || !req.document_sha256.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request_id, a seal from 1 and the document's sha256 (64 hex digits) are required",
        ));
    }
    let store = state.store.clone();
    let a = store_call(move || {
        store.authorise_seal(
            &req,
            chrono::Utc::now(),
            chrono::Duration::seconds(SEAL_AUTHORISATION_VALID_S),
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

async fn consume_seal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    b: JsonBody<SealConsume>,
) -> Result<Response, ApiError> {
    let req = body(b)?;
    let store = state.store.clone();
    match store_call(move || store.consume_seal(&id, &req.device_id, chrono::Utc::now())).await? {
        Ok(a) => Ok(Json(a).into_response()),
        Err(refusal) => {
            let code = match refusal {
                ConsumeRefusal::Unknown(_) => StatusCode::NOT_FOUND,
                ConsumeRefusal::OtherDevice(_) => StatusCode::FORBIDDEN,
                ConsumeRefusal::AlreadyUsed { .. } => StatusCode::CONFLICT,
                ConsumeRefusal::Expired { .. } => StatusCode::GONE,
            };
            Err(ApiError::new(code, refusal.to_string()))
        }
    }
}

async fn ingest(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    b: JsonBody<IngestBatch>,
) -> Result<Response, ApiError> {
    let batch = body(b)?;
    if batch.events.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {MAX_BATCH} events per batch"),
        ));
    }
    // Sequences are kept as signed 64-bit integers: a batch carrying one past that range breaks
    // the schema and is refused whole, before anything of it is applied.
    if let Some(e) = batch.events.iter().find(|e| e.seq > i64::MAX as u64) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("sequence {} is past the largest, {}", e.seq, i64::MAX),
        ));
    }
    let (store, now) = (state.store.clone(), chrono::Utc::now().to_rfc3339());
    let r = store_call(move || store.ingest(&device_id, &batch, &now)).await?;
    Ok(Json(r).into_response())
}

async fn health(State(state): State<AppState>) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let kind = store.kind();
    let (schema_version, enrolled_devices) = store_call(move || {
        Ok::<_, crate::StoreError>((store.schema_version()?, store.enrolled_devices()?))
    })
    .await?;
    Ok(Json(CentreHealth {
        status: "ok".into(),
        api_version: kiosk_protocol::API_VERSION.into(),
        service_version: env!("CARGO_PKG_VERSION").into(),
        store: kind.into(),
        schema_version,
        enrolled_devices,
    })
    .into_response())
}

/// A running centre. Dropping the handle without `stop` leaves it running until the runtime ends.
pub struct CentreHandle {
    pub addr: SocketAddr,
    tls: bool,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl CentreHandle {
    /// Binds `listen` (use port 0 for any free port) and serves until `stop`.
    pub async fn start(listen: &str, store: impl Into<Store>) -> std::io::Result<CentreHandle> {
        Self::start_with(listen, store, CentreOptions::default()).await
    }

    pub async fn start_with(
        listen: &str,
        store: impl Into<Store>,
        options: CentreOptions,
    ) -> std::io::Result<CentreHandle> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let state = AppState::new(store.into(), options);
        let closing = state.closing.clone();
        let app = router_for(state);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                    closing.send_replace(true);
                })
                .await
        });
        tracing::info!(%addr, "central service listening");
        Ok(CentreHandle {
            addr,
            tls: false,
            shutdown: Some(tx),
            task,
        })
    }

    /// Like `start_with`, over TLS with the given server configuration.
    pub async fn start_tls(
        listen: &str,
        store: impl Into<Store>,
        options: CentreOptions,
        tls: std::sync::Arc<rustls::ServerConfig>,
    ) -> std::io::Result<CentreHandle> {
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let state = AppState::new(store.into(), options);
        let closing = state.closing.clone();
        let app = router_for(state);
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(
            listener,
            axum_server::tls_rustls::RustlsConfig::from_config(tls),
        )
        .handle(handle.clone());
        let task = tokio::spawn(async move {
            tokio::spawn(async move {
                let _ = rx.await;
                closing.send_replace(true);
                handle.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            });
            server.serve(app.into_make_service()).await
        });
        tracing::info!(%addr, "central service listening (TLS)");
        Ok(CentreHandle {
            addr,
            tls: true,
            shutdown: Some(tx),
            task,
        })
    }

    pub fn base_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Stops accepting, finishes requests in flight, and returns.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}
