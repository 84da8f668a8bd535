//! Update bundles for terminals (`crate::updates`): a terminal ordered to install one fetches
//! it here in chunks, resuming from where it stands.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kiosk_protocol::cases::is_sha256_hex;

use super::{store_call, ApiError, AppState};
use crate::updates::CHUNK;

#[derive(serde::Deserialize)]
pub(super) struct FetchQuery {
    #[serde(default)]
    offset: u64,
}

/// Up to 4 MiB of a registered bundle from `offset`; `x-bundle-size` gives the whole size.
pub(super) async fn fetch(
    State(state): State<AppState>,
    Path((_device, sha256)): Path<(String, String)>,
    Query(q): Query<FetchQuery>,
) -> Result<Response, ApiError> {
    if !is_sha256_hex(&sha256) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "an update bundle is named by its SHA-256 (64 hex digits)",
        ));
    }
    let store = state.store.clone();
    let (bundle, bytes) = store_call(move || {
        let Some(b) = store.update_bundle(&sha256)? else {
            return Ok((None, None));
        };
        let bytes = if q.offset < b.size {
            store.read_attachment(&sha256, q.offset, CHUNK)?
        } else {
            Some(Vec::new())
        };
        Ok::<_, crate::store::StoreError>((Some(b), bytes))
    })
    .await?;
    let Some(bundle) = bundle else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no such update bundle",
        ));
    };
    if q.offset > bundle.size {
        return Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("the bundle is {} bytes", bundle.size),
        ));
    }
    let Some(bytes) = bytes else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the bundle's bytes are not all held",
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::HeaderName::from_static("x-bundle-size"),
                bundle.size.to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}
