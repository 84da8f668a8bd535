//! The case API: terminals file applications and look cases up (by number and password, or by
//! the holder's hash once the citizen identified); a department's system moves cases on.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiosk_protocol::cases::{is_sha256_hex, CaseLookup, CaseProgress, CaseSubmission};

use super::{body, store_call, ApiError, AppState, JsonBody};
use crate::cases::{cst_day, CaseRefusal};

fn refused(r: CaseRefusal) -> ApiError {
    let (code, reason) = match &r {
        CaseRefusal::NotFound(_) => (StatusCode::NOT_FOUND, "case-not-found"),
        CaseRefusal::Unknown(_) => (StatusCode::NOT_FOUND, "case-unknown"),
        CaseRefusal::NotAllowed { .. } => (StatusCode::CONFLICT, "case-move-not-allowed"),
        CaseRefusal::Conflict(_) => (StatusCode::CONFLICT, "case-conflict"),
        CaseRefusal::Invalid(_) => (StatusCode::BAD_REQUEST, "case-invalid"),
    };
    ApiError::new(code, r.to_string()).because(reason)
}

pub(super) async fn file(
    State(state): State<AppState>,
    b: JsonBody<CaseSubmission>,
) -> Result<Response, ApiError> {
    let s = body(b)?;
    let now = chrono::Utc::now().to_rfc3339();
    let store = state.store.clone();
    match store_call(move || store.file_case(&s, &cst_day(), &now)).await? {
        Ok(case) => Ok(Json(case).into_response()),
        Err(r) => Err(refused(r)),
    }
}

pub(super) async fn lookup(
    State(state): State<AppState>,
    b: JsonBody<CaseLookup>,
) -> Result<Response, ApiError> {
    let l = body(b)?;
    if l.reference.is_empty()
        || l.reference.chars().count() > 64
        || l.password.is_empty()
        || l.password.chars().count() > 16
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "reference (1 to 64 characters) and password (1 to 16) are required",
        ));
    }
    let store = state.store.clone();
    match store_call(move || store.lookup_case(&l.reference, &l.password)).await? {
        Ok(case) => Ok(Json(case).into_response()),
        Err(r) => Err(refused(r)),
    }
}

pub(super) async fn of_holder(
    State(state): State<AppState>,
    Path(holder): Path<String>,
) -> Result<Response, ApiError> {
    if !is_sha256_hex(&holder) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the holder is the SHA-256 hex of the ID number (64 lowercase hex digits)",
        ));
    }
    let store = state.store.clone();
    let cases = store_call(move || store.cases_of(&holder, 50)).await?;
    Ok(Json(cases).into_response())
}

pub(super) async fn progress(
    State(state): State<AppState>,
    Path(number): Path<String>,
    b: JsonBody<CaseProgress>,
) -> Result<Response, ApiError> {
    let p = body(b)?;
    if p.comment.chars().count() > 500 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the comment is at most 500 characters",
        ));
    }
    let now = chrono::Utc::now().to_rfc3339();
    let store = state.store.clone();
    match store_call(move || store.progress_case(&number, &p, &now)).await? {
        Ok(case) => Ok(Json(case).into_response()),
        Err(r) => Err(refused(r)),
    }
}
