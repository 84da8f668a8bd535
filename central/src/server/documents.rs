//! The licence and proof API: a terminal lists an identified citizen's licences and the proofs
//! on offer, has a proof issued; anyone holding a printed proof checks it by number and code.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiosk_protocol::cases::is_sha256_hex;
use kiosk_protocol::documents::{is_check_code, ProofRequest};

use super::{body, store_call, ApiError, AppState, JsonBody};
use crate::cases::cst_day;
use crate::documents::{check_request, DocumentRefusal};

fn refused(r: DocumentRefusal) -> ApiError {
    let (code, reason) = match &r {
        DocumentRefusal::NoData(_) => (StatusCode::NOT_FOUND, "proof-no-data"),
        DocumentRefusal::Unknown(_) => (StatusCode::NOT_FOUND, "proof-unknown"),
        DocumentRefusal::Invalid(_) => (StatusCode::BAD_REQUEST, "proof-invalid"),
    };
    ApiError::new(code, r.to_string()).because(reason)
}

fn holder(h: &str) -> Result<(), ApiError> {
    if is_sha256_hex(h) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the holder is the SHA-256 hex of the ID number (64 lowercase hex digits)",
        ))
    }
}

pub(super) async fn licences_of(
    State(state): State<AppState>,
    Path(h): Path<String>,
) -> Result<Response, ApiError> {
    holder(&h)?;
    let store = state.store.clone();
    let licences = store_call(move || store.licences_of(&h)).await?;
    Ok(Json(licences).into_response())
}

pub(super) async fn proofs_of(
    State(state): State<AppState>,
    Path(h): Path<String>,
) -> Result<Response, ApiError> {
    holder(&h)?;
    let store = state.store.clone();
    let kinds = store_call(move || store.proofs_of(&h)).await?;
    Ok(Json(kinds).into_response())
}

pub(super) async fn issue(
    State(state): State<AppState>,
    b: JsonBody<ProofRequest>,
) -> Result<Response, ApiError> {
    let r = body(b)?;
    check_request(&r).map_err(refused)?;
    let now = chrono::Utc::now().to_rfc3339();
    let store = state.store.clone();
    match store_call(move || store.issue_proof(&r, &cst_day(), &now)).await? {
        Ok(proof) => Ok(Json(proof).into_response()),
        Err(r) => Err(refused(r)),
    }
}

pub(super) async fn check(
    State(state): State<AppState>,
    Path((number, code)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if number.chars().count() > 64 || !is_check_code(&code) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a proof number (at most 64 characters) and an 8-character check code",
        ));
    }
    let store = state.store.clone();
    match store_call(move || store.check_proof(&number, &code)).await? {
        Ok(c) => Ok(Json(c).into_response()),
        Err(r) => Err(refused(r)),
    }
}
