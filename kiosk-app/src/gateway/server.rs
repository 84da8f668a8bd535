//! The gateway's HTTP and WebSocket service on loopback. A WebSocket is one page's connection:
//! each command is acknowledged at once, then its events, then exactly one completion; a closed
//! connection cancels what it had running. Plain HTTP carries the same commands for background
//! mode (one request, its completion with its events in the body). Every call is audited, and
//! every refusal is a 403 whose body says why.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use kiosk_protocol::gateway::{
    self as api, parse_command, AckStatus, CancelPayload, CancelResult, Command, CompletionCode,
    Message,
};
use kiosk_protocol::{Event, EventKind};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::access::{token_from_protocols, Access, Grant};
use super::commands::{Call, Outcome, Services};
use super::requests::Requests;
use super::results::Fetch;
use crate::config::GatewayConfig;
use crate::runtime::EventBus;

pub const PREFIX: &str = "/hallkit/v1";

pub struct Shared {
    pub services: Services,
    pub access: Access,
    pub config: GatewayConfig,
    pub events: EventBus,
    pub offset: chrono::FixedOffset,
    next_connection: AtomicU64,
    open: AtomicUsize,
}

impl Shared {
    pub fn new(
        services: Services,
        config: GatewayConfig,
        events: EventBus,
        offset: chrono::FixedOffset,
        journal: Option<crate::journal::Journal>,
    ) -> Shared {
        Shared {
            services,
            access: Access::new(&config, journal),
            config,
            events,
            offset,
            next_connection: AtomicU64::new(1),
            open: AtomicUsize::new(0),
        }
    }

    fn today(&self) -> chrono::NaiveDate {
        self.events.now().with_timezone(&self.offset).date_naive()
    }

    fn refuse(&self, origin: Option<&str>, path: &str, code: &str, why: String) -> Response {
        self.events.emit(
            Event::new(EventKind::GatewayRefused, self.events.now())
                .field("origin", origin.unwrap_or("none"))
                .field("path", path)
                .field("reason", code),
        );
        tracing::warn!(
            origin = origin.unwrap_or("none"),
            path,
            reason = code,
            "gateway refused"
        );
        let mut r = (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": code, "detail": why })),
        )
            .into_response();
        // A page on the allow-list may read why (its token was wrong, expired …).
        self.allow_origin(origin, r.headers_mut());
        r
    }

    /// A fetch from a page on an origin no system lists (a page without one, an `<img>`, may
    /// fetch by the URL's capability alone).
    fn refuse_unlisted(&self, origin: Option<&str>, path: &str) -> Option<Response> {
        let o = origin.filter(|o| !self.access.origin_listed(o))?;
        Some(self.refuse(
            Some(o),
            path,
            "origin-not-allowed",
            format!("origin {o} is not on this terminal's allow-list"),
        ))
    }

    fn allow_origin(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        if let Some(o) = origin.filter(|o| self.access.origin_listed(o)) {
            if let Ok(v) = HeaderValue::from_str(o) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                headers.insert(header::VARY, HeaderValue::from_static("Origin"));
            }
        }
    }

    fn audit(&self, grant: &Grant, transport: &str, name: &str, request_id: u64, o: &Outcome) {
        self.events.emit(
            Event::new(EventKind::GatewayCall, self.events.now())
                .field("system", grant.system.clone())
                .field("origin", grant.origin.clone())
                .field("transport", transport)
                .field("command", name)
                .field("request_id", request_id)
                .field("completion", o.code.as_str()),
        );
    }

    /// Runs `cmd` to its completion on a blocking thread, events through `send`.
    fn run(
        self: &Arc<Self>,
        cmd: &Command,
        grant: &Grant,
        connection: u64,
        cancel: kiosk_hal::device::CancelToken,
        send: &(dyn Fn(Message) + Send + Sync),
    ) -> Outcome {
        let default = api::command(&cmd.name).map_or(5_000, |c| c.default_timeout_ms);
        let timeout = Duration::from_millis(cmd.timeout_ms.unwrap_or(default).clamp(100, 600_000));
        let call = Call {
            name: &cmd.name,
            request_id: cmd.request_id,
            payload: &cmd.payload,
            timeout,
            grant,
            connection,
            cancel,
            events: send,
        };
        self.services.run(&call)
    }
}

/// The router of the gateway.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(&format!("{PREFIX}/ws"), get(upgrade))
        .route(
            &format!("{PREFIX}/command"),
            post(command_http).options(preflight),
        )
        .route(&format!("{PREFIX}/results/{{key}}"), get(result))
        .route(&format!("{PREFIX}/streams/{{key}}"), get(stream))
        .route(&format!("{PREFIX}/schema"), get(schema))
        .route(
            &format!("{PREFIX}/simulator"),
            post(simulate).options(preflight),
        )
        .with_state(shared)
}

/// The token of `Authorization: Bearer …` (plain HTTP; a WebSocket carries it as a subprotocol).
fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
}

fn origin_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

async fn upgrade(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = origin_of(&headers);
    let token = token_from_protocols(
        headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok()),
    );
    let grant = match sh.access.admit(origin, token.as_deref(), sh.today()) {
        Ok(g) => g,
        Err(r) => return sh.refuse(origin, "ws", r.code(), r.to_string()),
    };
    if sh.open.load(Ordering::SeqCst) >= sh.config.max_connections {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "too-many-connections",
                "detail": format!("{} connections are open", sh.config.max_connections) })),
        )
            .into_response();
    }
    ws.protocols([api::SUBPROTOCOL])
        .max_message_size(api::MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| connection(sh, grant, socket))
}

/// Decrements the open count however the connection ends.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn connection(sh: Arc<Shared>, grant: Grant, socket: WebSocket) {
    sh.open.fetch_add(1, Ordering::SeqCst);
    let _open = OpenGuard(sh.clone());
    let id = sh.next_connection.fetch_add(1, Ordering::SeqCst);
    tracing::info!(connection = id, system = %grant.system, origin = %grant.origin, "gateway connection opened");
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let Ok(text) = serde_json::to_string(&m) else {
                continue;
            };
            if sink.send(WsMessage::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let status = tokio::spawn(status_changes(sh.clone(), tx.clone()));
    let requests = Arc::new(Mutex::new(Requests::new(sh.config.max_in_flight)));
    while let Some(Ok(msg)) = stream.next().await {
        match msg {
            WsMessage::Text(t) => on_text(&sh, &grant, id, &requests, &tx, t.as_str()),
            WsMessage::Binary(_) => {
                let _ = tx.send(Message::acknowledge(
                    "",
                    None,
                    AckStatus::InvalidMessage,
                    Some("messages are JSON text".into()),
                ));
            }
            WsMessage::Close(_) => break,
            WsMessage::Ping(_) | WsMessage::Pong(_) => {}
        }
    }
    // The page went away: what it had running stops, and its results are dropped.
    let asked = lock(&requests).cancel(&[], 0);
    sh.services.results.forget_connection(id);
    sh.services.streams.forget_connection(id);
    status.abort();
    drop(tx);
    tracing::info!(
        connection = id,
        canceled = asked.len(),
        "gateway connection closed"
    );
    // The writer ends once the running commands have sent their completions (or cannot).
    let _ = tokio::time::timeout(Duration::from_secs(30), writer).await;
}

fn lock(r: &Mutex<Requests>) -> std::sync::MutexGuard<'_, Requests> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

fn on_text(
    sh: &Arc<Shared>,
    grant: &Grant,
    connection: u64,
    requests: &Arc<Mutex<Requests>>,
    tx: &mpsc::UnboundedSender<Message>,
    text: &str,
) {
    let cmd = match parse_command(text) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Message::acknowledge(
                &e.name,
                e.request_id,
                e.status,
                Some(e.reason),
            ));
            return;
        }
    };
    let cancel = match lock(requests).admit(&cmd) {
        Ok(c) => c,
        Err((status, why)) => {
            let _ = tx.send(Message::acknowledge(
                &cmd.name,
                Some(cmd.request_id),
                status,
                Some(why),
            ));
            return;
        }
    };
    let _ = tx.send(Message::acknowledge(
        &cmd.name,
        Some(cmd.request_id),
        AckStatus::Ok,
        None,
    ));
    if cmd.name == "Common.Cancel" {
        let outcome = match serde_json::from_value::<CancelPayload>(match &cmd.payload {
            Value::Null => json!({}),
            v => v.clone(),
        }) {
            Ok(p) => {
                let canceled = lock(requests).cancel(&p.request_ids, cmd.request_id);
                Outcome {
                    code: CompletionCode::Success,
                    why: None,
                    payload: json!(CancelResult { canceled }),
                }
            }
            Err(e) => Outcome::fail(CompletionCode::InvalidData, format!("Common.Cancel: {e}")),
        };
        lock(requests).finish(cmd.request_id);
        sh.audit(grant, "ws", &cmd.name, cmd.request_id, &outcome);
        let _ = tx.send(completion(&cmd, outcome));
        return;
    }
    let (sh, grant, requests, tx) = (sh.clone(), grant.clone(), requests.clone(), tx.clone());
    tokio::task::spawn_blocking(move || {
        let send = |m: Message| {
            let _ = tx.send(m);
        };
        let mut outcome = sh.run(&cmd, &grant, connection, cancel, &send);
        if lock(&requests).finish(cmd.request_id) && outcome.code == CompletionCode::TimeOut {
            outcome.code = CompletionCode::Canceled;
        }
        sh.audit(&grant, "ws", &cmd.name, cmd.request_id, &outcome);
        send(completion(&cmd, outcome));
    });
}

fn completion(cmd: &Command, o: Outcome) -> Message {
    Message::completion(&cmd.name, cmd.request_id, o.code, o.why, o.payload)
}

/// Device health changes as unsolicited events (no personal data in them).
async fn status_changes(sh: Arc<Shared>, tx: mpsc::UnboundedSender<Message>) {
    let mut rx = sh.events.subscribe();
    loop {
        match rx.recv().await {
            Ok(e) if e.kind == EventKind::DeviceHealthChanged => {
                let Some(device) = e.device.as_deref() else {
                    continue;
                };
                if let Some(state) = sh
                    .services
                    .status()
                    .into_iter()
                    .find(|d| d.device == device)
                {
                    if tx
                        .send(Message::unsolicited(
                            "Common.StatusChangedEvent",
                            json!(state),
                        ))
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Cancels an HTTP request's command when the page aborts the request.
struct AbortGuard(kiosk_hal::device::CancelToken);

impl Drop for AbortGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

async fn command_http(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let origin = origin_of(&headers).map(str::to_string);
    let token = bearer(&headers);
    let grant = match sh
        .access
        .admit(origin.as_deref(), token.as_deref(), sh.today())
    {
        Ok(g) => g,
        Err(r) => return sh.refuse(origin.as_deref(), "command", r.code(), r.to_string()),
    };
    let text = String::from_utf8_lossy(&body);
    let cmd = match parse_command(&text) {
        Ok(c) => c,
        Err(e) => {
            let ack = Message::acknowledge(&e.name, e.request_id, e.status, Some(e.reason));
            let mut r =
                (StatusCode::BAD_REQUEST, Json(json!({ "acknowledge": ack }))).into_response();
            sh.allow_origin(origin.as_deref(), r.headers_mut());
            return r;
        }
    };
    let ack = Message::acknowledge(&cmd.name, Some(cmd.request_id), AckStatus::Ok, None);
    let connection = sh.next_connection.fetch_add(1, Ordering::SeqCst);
    let cancel = kiosk_hal::device::CancelToken::new();
    let guard = AbortGuard(cancel.clone());
    let run = {
        let sh = sh.clone();
        let cmd = cmd.clone();
        let grant = grant.clone();
        tokio::task::spawn_blocking(move || {
            let events = Mutex::new(Vec::new());
            let outcome = if cmd.name == "Common.Cancel" {
                Outcome::fail(
                    CompletionCode::InvalidCommand,
                    "over HTTP a command is canceled by aborting its request",
                )
            } else {
                sh.run(&cmd, &grant, connection, cancel, &|m: Message| {
                    events.lock().unwrap_or_else(|p| p.into_inner()).push(m);
                })
            };
            sh.audit(&grant, "http", &cmd.name, cmd.request_id, &outcome);
            (
                events.into_inner().unwrap_or_else(|p| p.into_inner()),
                outcome,
            )
        })
    };
    let (events, outcome) = match run.await {
        Ok(r) => r,
        Err(e) => (
            Vec::new(),
            Outcome::fail(
                CompletionCode::InternalError,
                format!("the command failed: {e}"),
            ),
        ),
    };
    drop(guard);
    let mut r = Json(json!({
        "acknowledge": ack,
        "events": events,
        "completion": completion(&cmd, outcome),
    }))
    .into_response();
    sh.allow_origin(origin.as_deref(), r.headers_mut());
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// CORS preflight of a page's POST, including Chrome's Private/Local Network Access one.
async fn preflight(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let origin = origin_of(&headers);
    match origin {
        Some(o) if sh.access.origin_listed(o) => {}
        _ => {
            return sh.refuse(
                origin,
                "preflight",
                "origin-not-allowed",
                format!(
                    "origin {} is not on this terminal's allow-list",
                    origin.unwrap_or("none")
                ),
            )
        }
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    sh.allow_origin(origin, h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    if headers.contains_key("access-control-request-private-network") {
        h.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
    }
    r
}

/// A one-time result. The key is the capability: 128 random bits, good once, for a minute.
async fn result(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    let origin = origin_of(&headers);
    if let Some(refused) = sh.refuse_unlisted(origin, "results") {
        return refused;
    }
    let mut r = match sh.services.results.take(&key) {
        Fetch::Found {
            bytes,
            content_type,
        } => {
            let mut r = bytes.to_vec().into_response();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        Fetch::Gone => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "result-gone",
                "detail": "no such result: fetched already, expired, or never made" })),
        )
            .into_response(),
    };
    sh.allow_origin(origin, r.headers_mut());
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The sim profile's card and code simulator, for developers of business pages (as
/// AusweisApp2 has one): `{"device": "idcard", "what": "place", "args": {"card": "resident"}}`.
/// Absent (404) on real hardware.
async fn simulate(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if sh.services.rt.profile != crate::config::Profile::Sim {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "not-simulated", "detail": "this terminal's devices are real" })),
        )
            .into_response();
    }
    let origin = origin_of(&headers).map(str::to_string);
    let token = bearer(&headers);
    if let Err(r) = sh
        .access
        .admit(origin.as_deref(), token.as_deref(), sh.today())
    {
        return sh.refuse(origin.as_deref(), "simulator", r.code(), r.to_string());
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some(device), Some(what)) = (req["device"].as_str(), req["what"].as_str()) else {
        let mut r = (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid-data", "detail": "give device and what (and args)" })),
        )
            .into_response();
        sh.allow_origin(origin.as_deref(), r.headers_mut());
        return r;
    };
    let (device, what, args) = (device.to_string(), what.to_string(), req["args"].clone());
    let sh2 = sh.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let sim = sh2
            .services
            .rt
            .device(&device)
            .map_err(|e| e.to_string())?
            .sim
            .clone()
            .ok_or_else(|| format!("{device} has no simulator"))?;
        let args = if args.is_null() { json!({}) } else { args };
        match what.as_str() {
            "unplug" => sim.unplug().map(|_| Value::Null),
            "replug" => sim.replug().map(|_| Value::Null),
            _ => sim.inject(&what, &args),
        }
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let mut r = match answer {
        Ok(v) => Json(json!({ "result": v })).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "simulator", "detail": e })),
        )
            .into_response(),
    };
    sh.allow_origin(origin.as_deref(), r.headers_mut());
    r
}

/// A live preview (MJPEG). Taking it is what the command waits for; closing it ends it.
async fn stream(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    let origin = origin_of(&headers);
    if let Some(refused) = sh.refuse_unlisted(origin, "streams") {
        return refused;
    }
    let Some(rx) = sh.services.streams.take(&key) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "stream-gone",
                "detail": "no such stream: opened already, ended, or never made" })),
        )
            .into_response();
    };
    let parts = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    let mut r = axum::body::Body::from_stream(parts).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("multipart/x-mixed-replace; boundary=frame"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    sh.allow_origin(origin, r.headers_mut());
    r
}

async fn schema() -> Json<Value> {
    Json(api::schema_document())
}

/// The running gateway: its addresses, and how to stop it.
pub struct GatewayHandle {
    pub port: u16,
    pub addrs: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl GatewayHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

/// Binds 127.0.0.1 (and ::1 on the same port, where the host has IPv6) and serves.
pub async fn serve(
    port: u16,
    build: impl FnOnce(u16) -> Arc<Shared>,
) -> anyhow::Result<GatewayHandle> {
    use anyhow::Context as _;
    let v4 = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("the local device API cannot listen on 127.0.0.1:{port}"))?;
    let port = v4.local_addr()?.port();
    let mut listeners = vec![v4];
    match tokio::net::TcpListener::bind(("::1", port)).await {
        Ok(v6) => listeners.push(v6),
        Err(e) => tracing::warn!(error = %e, "the local device API listens on IPv4 only"),
    }
    let app = router(build(port));
    let (stop, stopped) = watch::channel(false);
    let mut addrs = Vec::new();
    let mut tasks = Vec::new();
    for l in listeners {
        addrs.push(l.local_addr()?);
        let app = app.clone();
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            // An acknowledgement, an event and a completion are small writes in quick
            // succession: without TCP_NODELAY, Nagle holds each behind the page's delayed ACK
            // (about 40 ms a command).
            use axum::serve::ListenerExt as _;
            let l = l.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY not set");
                }
            });
            if let Err(e) = axum::serve(l, app).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "the local device API stopped");
            }
        }));
    }
    tracing::info!(?addrs, "local device API listening");
    Ok(GatewayHandle {
        port,
        addrs,
        stop,
        tasks,
    })
}
