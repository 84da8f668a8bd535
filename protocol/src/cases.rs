//! Applications (办件) between a terminal and the centre. A terminal files an application in
//! its journal first and then asks the centre for the case number (办件编号); the query
//! password is the terminal's (printed on the receipt even when the centre is away) and the
//! centre keeps only its salted hash. Citizens are found by a hash of their ID number, never the
//! number itself.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How an ID number is known to the centre's case, licence and proof stores: SHA-256 over a
/// fixed label and the number with its check letter upper-cased, in hex.
pub fn holder_sha256(id_number: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"hallkit-holder/v1:");
    h.update(id_number.trim().to_ascii_uppercase().as_bytes());
    hex::encode(h.finalize())
}

/// The stored form of a query password: SHA-256 over the salt and the password, in hex.
pub fn password_sha256(salt: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"hallkit-case-password/v1:");
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    hex::encode(h.finalize())
}

/// Whether `s` is lowercase hex of SHA-256's length.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where the citizen collects the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Pickup {
    /// At a service window of this hall.
    Window,
    /// By post to the address the citizen gave (held in the application, not here).
    Mail,
    /// From the hall's self-service locker, with the query password.
    Locker,
}

impl Pickup {
    pub fn as_str(self) -> &'static str {
        match self {
            Pickup::Window => "window",
            Pickup::Mail => "mail",
            Pickup::Locker => "locker",
        }
    }

    pub fn parse(s: &str) -> Option<Pickup> {
        match s {
            "window" => Some(Pickup::Window),
            "mail" => Some(Pickup::Mail),
            "locker" => Some(Pickup::Locker),
            _ => None,
        }
    }
}

/// Where a case stands. The order is the usual road; `needs-more` (补正材料) goes back to
/// `processing` when the citizen hands in what was missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    /// 已提交: filed, nobody looked at it yet.
    Submitted,
    /// 已受理
    Accepted,
    /// 办理中
    Processing,
    /// 待补正: the department needs more material.
    NeedsMore,
    /// 已办结
    Completed,
    /// 不予受理
    Rejected,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 6] = [
        CaseStatus::Submitted,
        CaseStatus::Accepted,
        CaseStatus::Processing,
        CaseStatus::NeedsMore,
        CaseStatus::Completed,
        CaseStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Submitted => "submitted",
            CaseStatus::Accepted => "accepted",
            CaseStatus::Processing => "processing",
            CaseStatus::NeedsMore => "needs-more",
            CaseStatus::Completed => "completed",
            CaseStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// A finished case moves no more.
    pub fn is_final(self) -> bool {
        matches!(self, CaseStatus::Completed | CaseStatus::Rejected)
    }

    /// The moves a department may make.
    pub fn may_become(self, next: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (self, next),
            (Submitted, Accepted)
                | (Submitted, Rejected)
                | (Accepted, Processing)
                | (Accepted, Rejected)
                | (Processing, NeedsMore)
                | (Processing, Completed)
                | (Processing, Rejected)
                | (NeedsMore, Processing)
                | (NeedsMore, Rejected)
        )
    }
}

/// `POST /api/v1/cases`: file an application. A retry with the same device and `local_ref`
/// gets the same case number, so a lost reply never makes two cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseSubmission {
    #[schemars(length(min = 1, max = 64))]
    pub device_id: String,
    /// The terminal's own reference, unique on that terminal (`2026120383920174`, 16 digits): what a
    /// receipt shows until the case number is known.
    #[schemars(length(min = 1, max = 64))]
    pub local_ref: String,
    /// The service item's code in the catalogue.
    #[schemars(length(min = 1, max = 64))]
    pub item: String,
    #[schemars(length(min = 1, max = 128))]
    pub item_name: String,
    /// [`holder_sha256`] of the applicant's ID number.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub holder_sha256: String,
    /// [`holder_sha256`] of the agent's ID number when someone filed for the applicant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub agent_sha256: Option<String>,
    /// The salt and [`password_sha256`] of the query password the citizen got. The password
    /// itself never leaves the terminal's screen and receipt.
    #[schemars(length(min = 16, max = 64))]
    pub password_salt: String,
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub password_sha256: String,
    pub pickup: Pickup,
    /// RFC 3339, the terminal's clock.
    #[schemars(length(min = 1, max = 40))]
    pub submitted_at: String,
    /// The application's attachments (form, pages, signature, application PDF) by hash; they
    /// arrive by the attachment upload.
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[0-9a-f]{64}$")))]
    pub attachments: Vec<String>,
}

/// One step of a case's processing log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaseLogEntry {
    pub at: String,
    pub status: CaseStatus,
    /// The department's comment (what is missing, why refused); empty when none.
    #[serde(default)]
    pub comment: String,
}

/// A case as a citizen may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Case {
    pub case_number: String,
    pub local_ref: String,
    pub item: String,
    pub item_name: String,
    pub status: CaseStatus,
    pub pickup: Pickup,
    pub submitted_at: String,
    /// Oldest first; the first entry is the filing.
    pub log: Vec<CaseLogEntry>,
    /// The rating the citizen gave (1–5), once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
}

/// `POST /api/v1/cases/lookup`: a case by its number (or the terminal's reference printed
/// before the number was known) and query password, without an ID card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseLookup {
    #[schemars(length(min = 1, max = 64))]
    pub reference: String,
    #[schemars(length(min = 1, max = 16))]
    pub password: String,
}

/// `POST /api/v1/cases/{case_number}/progress`: a department moves a case on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseProgress {
    pub status: CaseStatus,
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub comment: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_hash_ignores_case_of_the_check_letter_and_spaces() {
        assert_eq!(
            holder_sha256("11010519491231002x"),
            holder_sha256(" 11010519491231002X ")
        );
        assert_ne!(
            holder_sha256("11010519491231002X"),
            holder_sha256("110105194912310037")
        );
        assert_eq!(holder_sha256("1").len(), 64);
    }

    #[test]
    fn finished_cases_do_not_move_and_the_road_is_the_usual_one() {
        for s in CaseStatus::ALL {
            assert_eq!(CaseStatus::parse(s.as_str()), Some(s));
            if s.is_final() {
                assert!(CaseStatus::ALL.iter().all(|n| !s.may_become(*n)));
            }
        }
        assert!(CaseStatus::Submitted.may_become(CaseStatus::Accepted));
        assert!(!CaseStatus::Submitted.may_become(CaseStatus::Completed));
        assert!(CaseStatus::NeedsMore.may_become(CaseStatus::Processing));
    }
}
