//! The HTTP face of the centre (axum).

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kiosk_protocol::wire::CentreHealth;
use tokio::sync::oneshot;

use crate::store::SqliteStore;

#[derive(Clone)]
pub struct AppState {
    pub store: SqliteStore,
}

pub fn router(store: SqliteStore) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(AppState { store })
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
