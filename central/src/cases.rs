//! The centre's case rules, shared by the SQLite and PostgreSQL stores: how a case number is
//! made, what a filing must hold, which moves a department may make, and how a journal record
//! becomes a filing when the terminal could not reach the centre at the time.

use kiosk_protocol::cases::{is_sha256_hex, Case, CaseStatus, CaseSubmission};
use kiosk_protocol::wire::EventEnvelope;

/// Why the centre refuses a case operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseRefusal {
    /// No case by that reference, or the password does not match: one answer for both, so a
    /// guesser learns nothing about which numbers exist.
    #[error("no case {0} with that query password")]
    NotFound(String),
    #[error("no case {0}")]
    Unknown(String),
    #[error("case {number} is {from} and cannot become {to}")]
    NotAllowed {
        number: String,
        from: &'static str,
        to: &'static str,
    },
    /// The same terminal reference filed again with other contents.
    #[error("reference {0} was already filed with other contents")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
}

/// The hall's local day (China Standard Time, UTC+8, no daylight saving) as `YYYYMMDD`; case
/// numbers restart their sequence every day.
pub fn cst_day() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y%m%d")
        .to_string()
}

/// `20261203000042`: the day and a six-digit sequence — digits only, so a citizen can type it
/// on the keypad to look the case up.
pub fn case_number(day: &str, seq: i64) -> String {
    format!("{day}{seq:06}")
}

/// What a filing must hold before anything is stored.
pub fn check_submission(s: &CaseSubmission) -> Result<(), CaseRefusal> {
    let short = |v: &str, max: usize| !v.is_empty() && v.chars().count() <= max;
    if !short(&s.device_id, 64) || !short(&s.local_ref, 64) || !short(&s.item, 64) {
        return Err(CaseRefusal::Invalid(
            "device_id, local_ref and item are 1 to 64 characters".into(),
        ));
    }
    if !short(&s.item_name, 128) || !short(&s.submitted_at, 40) {
        return Err(CaseRefusal::Invalid(
            "item_name and submitted_at are required".into(),
        ));
    }
    if !is_sha256_hex(&s.holder_sha256)
        || !is_sha256_hex(&s.password_sha256)
        || s.agent_sha256.as_deref().is_some_and(|a| !is_sha256_hex(a))
    {
        return Err(CaseRefusal::Invalid(
            "holder, agent and password hashes are 64 lowercase hex digits".into(),
        ));
    }
    let salt = s.password_salt.chars().count();
    if !(16..=64).contains(&salt) || s.attachments.iter().any(|a| !is_sha256_hex(a)) {
        return Err(CaseRefusal::Invalid(
            "password_salt is 16 to 64 characters; attachments are sha256 hex".into(),
        ));
    }
    Ok(())
}

/// Whether a stored filing is the same as a repeated one (a retry after a lost reply, or the
/// journal record of a filing the centre already took online).
pub fn same_filing(stored: &CaseRow, s: &CaseSubmission) -> bool {
    stored.case.item == s.item
        && stored.holder_sha256 == s.holder_sha256
        && stored.password_sha256 == s.password_sha256
}

/// The filing inside a `case.submitted` journal record, if it is one.
pub fn filing_in(e: &EventEnvelope) -> Option<CaseSubmission> {
    if e.kind != "case.submitted" {
        return None;
    }
    let s: CaseSubmission = serde_json::from_value(e.payload.get("case")?.clone()).ok()?;
    // A terminal files only for itself.
    (s.device_id == e.device_id && check_submission(&s).is_ok()).then_some(s)
}

/// The rating inside a `session.rated` record that names a case: (case number, level, tags).
pub fn rating_in(e: &EventEnvelope) -> Option<(String, i64, String)> {
    if e.kind != "session.rated" {
        return None;
    }
    let number = e.payload.get("case")?.as_str()?.to_string();
    let level = e
        .payload
        .get("level")?
        .as_i64()
        .filter(|l| (1..=5).contains(l))?;
    let tags = e
        .payload
        .get("tags")
        .cloned()
        .unwrap_or_default()
        .to_string();
    Some((number, level, tags))
}

/// A department's move, checked.
pub fn check_move(number: &str, from: CaseStatus, to: CaseStatus) -> Result<(), CaseRefusal> {
    if from.may_become(to) {
        Ok(())
    } else {
        Err(CaseRefusal::NotAllowed {
            number: number.to_string(),
            from: from.as_str(),
            to: to.as_str(),
        })
    }
}

/// The columns both stores read a case with, in this order.
pub const CASE_COLUMNS: &str =
    "case_number, local_ref, item, item_name, status, pickup, submitted_at, holder_sha256, password_salt, password_sha256";

/// A case row before its log is attached, with what only the store may see.
pub struct CaseRow {
    pub case: Case,
    pub holder_sha256: String,
    pub password_salt: String,
    pub password_sha256: String,
}

impl CaseRow {
    pub fn opens_with(&self, password: &str) -> bool {
        let given = kiosk_protocol::cases::password_sha256(&self.password_salt, password);
        // Compared without an early exit, so the time taken says nothing about the hash.
        given.len() == self.password_sha256.len()
            && given
                .bytes()
                .zip(self.password_sha256.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}
