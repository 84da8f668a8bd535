//! The HTTP face of the centre (axum).

use std::net::SocketAddr;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kiosk_protocol::wire::{CentreHealth, Heartbeat, IngestBatch, TicketRequest};
use tokio::sync::oneshot;

use crate::store::SqliteStore;

#[derive(Clone)]
pub struct AppState {
    pub store: SqliteStore,
}

/// The most events one batch may carry; larger uploads are split by the device.
pub const MAX_BATCH: usize = 1000;

pub fn router(store: SqliteStore) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/v1/devices/{device_id}/events", post(ingest))
        .route("/api/v1/devices/{device_id}/heartbeat", post(heartbeat))
        .route("/api/v1/devices/{device_id}/status", get(status))
        .route(
            "/api/v1/halls/{hall}/services/{service}/tickets",
            post(ticket),
        )
        .route(
            "/api/v1/attachments/{sha256}",
            get(attachment_status).put(attachment_chunk),
        )
        .with_state(AppState { store })
}

async fn heartbeat(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    body: Result<Json<Heartbeat>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(hb) = match body {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": e.body_text() })),
            )
                .into_response()
        }
    };
    if hb.device_id != device_id {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "device id in the body differs from the path" })),
        )
            .into_response();
    }
    let store = state.store.clone();
    let now = chrono::Utc::now().to_rfc3339();
    match tokio::task::spawn_blocking(move || store.record_heartbeat(&hb, &now)).await {
        Ok(Ok(n)) => Json(serde_json::json!({ "heartbeats": n })).into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn status(State(state): State<AppState>, Path(device_id): Path<String>) -> Response {
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.latest_heartbeat(&device_id)).await {
        Ok(Ok(Some(hb))) => Json(hb).into_response(),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": "no heartbeat from this device" })),
        )
            .into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct ChunkQuery {
    offset: u64,
    size: u64,
}

async fn attachment_status(State(state): State<AppState>, Path(sha256): Path<String>) -> Response {
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.attachment_status(&sha256)).await {
        Ok(Ok(Some(s))) => Json(s).into_response(),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": "unknown attachment" })),
        )
            .into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn attachment_chunk(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    Query(q): Query<ChunkQuery>,
    body: axum::body::Bytes,
) -> Response {
    use crate::store::AttachmentError as E;
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || {
        store.put_attachment_chunk(&sha256, q.size, q.offset, &body)
    })
    .await
    {
        Ok(Ok(s)) => Json(s).into_response(),
        Ok(Err(e)) => {
            let (code, extra) = match &e {
                E::BadHash(_) | E::TooLong => (StatusCode::BAD_REQUEST, serde_json::Value::Null),
                E::SizeConflict { .. } => (StatusCode::CONFLICT, serde_json::Value::Null),
                E::Offset { received, .. } => (StatusCode::CONFLICT, serde_json::json!(received)),
                E::HashMismatch => (StatusCode::UNPROCESSABLE_ENTITY, serde_json::Value::Null),
                E::Io(_) | E::Store(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, serde_json::Value::Null)
                }
            };
            (
                code,
                Json(serde_json::json!({ "error": e.to_string(), "received": extra })),
            )
                .into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn ticket(
    State(state): State<AppState>,
    Path((hall, service)): Path<(String, String)>,
    body: Result<Json<TicketRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": e.body_text() })),
            )
                .into_response()
        }
    };
    if req.prefix.chars().count() > 2 || req.request_id.is_empty() {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": "prefix is at most 2 characters and request_id is required" }))).into_response();
    }
    // Numbering follows the hall's local day (China Standard Time).
    let cst = chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()));
    let day = chrono::Utc::now()
        .with_timezone(&cst)
        .format("%Y-%m-%d")
        .to_string();
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.issue_ticket(&hall, &service, &day, &req)).await
    {
        Ok(Ok(t)) => Json(t).into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn ingest(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    body: Result<Json<IngestBatch>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(batch) = match body {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": e.body_text() })),
            )
                .into_response()
        }
    };
    if batch.events.len() > MAX_BATCH {
        let msg = format!("at most {MAX_BATCH} events per batch");
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(serde_json::json!({ "error": msg })),
        )
            .into_response();
    }
    let store = state.store.clone();
    let now = chrono::Utc::now().to_rfc3339();
    let res = tokio::task::spawn_blocking(move || store.ingest(&device_id, &batch, &now)).await;
    match res {
        Ok(Ok(r)) => Json(r).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "ingest failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "error": e.to_string() })),
            )
                .into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn health(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let checked = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::StoreError>((store.schema_version()?, store.enrolled_devices()?))
    })
    .await;
    match checked {
        Ok(Ok((schema_version, enrolled_devices))) => Json(CentreHealth {
            status: "ok".into(),
            api_version: kiosk_protocol::API_VERSION.into(),
            service_version: env!("CARGO_PKG_VERSION").into(),
            store: "sqlite".into(),
            schema_version,
            enrolled_devices,
        })
        .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: store failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "store-error", "error": e.to_string() })),
            )
                .into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A running centre. Dropping the handle without `stop` leaves it running until the runtime ends.
pub struct CentreHandle {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl CentreHandle {
    /// Binds `listen` (use port 0 for any free port) and serves until `stop`.
    pub async fn start(listen: &str, store: SqliteStore) -> std::io::Result<CentreHandle> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(store);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        tracing::info!(%addr, "central service listening");
        Ok(CentreHandle {
            addr,
            shutdown: Some(tx),
            task,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
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
