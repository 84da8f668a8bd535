//! A citizen's electronic licences (电子证照) and the proofs (证明) the centre issues from its
//! departments' data, between a terminal and the centre. Both are found by the holder's hash
//! (`cases::holder_sha256`), never the ID number. The terminal renders them to paper; the
//! centre keeps the print count of every licence and a record of every proof it issued, so a
//! proof's verification code can be checked later.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A labelled value on a licence or proof, in Chinese with the English label for the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub label: String,
    #[serde(default)]
    pub label_en: String,
    pub value: String,
}

/// One electronic licence of a citizen, as the licence library holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Licence {
    /// The licence's own number (证照编号), unique in the library.
    pub licence_id: String,
    /// The licence type's code, as the catalogue's e-licence materials name it (`hukou-booklet`).
    pub licence_type: String,
    /// 居民户口簿
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub issuer: String,
    /// `YYYY-MM-DD`.
    pub issued_on: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    pub entries: Vec<Entry>,
    /// How many times terminals printed it (as far as their print records reached the centre).
    #[serde(default)]
    pub printed: u32,
}

/// A terminal printed a licence: the body of its `licence.printed` journal record, under
/// `"licence"`. The centre counts it once (the journal delivers it once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LicencePrint {
    pub device_id: String,
    pub licence_id: String,
    pub holder_sha256: String,
    pub printed_at: String,
}

/// A proof the centre can issue for a citizen (it holds the department's data for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofKind {
    /// `social-insurance`, `housing-fund`, …
    pub kind: String,
    /// 社会保险参保缴费证明
    pub title: String,
    #[serde(default)]
    pub title_en: String,
    pub issuer: String,
}

/// A department's data for one proof of one citizen, as the centre's proof store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofData {
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub title_en: String,
    pub issuer: String,
    /// The sentence after "兹证明 <name>（公民身份号码 <number>）".
    pub statement: String,
    pub entries: Vec<Entry>,
    /// A table of records (months paid, …): its column heads and rows.
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub rows: Vec<Vec<String>>,
}

/// A terminal asks for a proof for the identified citizen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofRequest {
    #[schemars(length(min = 1, max = 64))]
    pub device_id: String,
    /// `cases::holder_sha256` of the identified citizen's ID number.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub holder_sha256: String,
    /// The proof's kind, as `GET /api/v1/holders/{holder}/proofs` lists them.
    #[schemars(length(min = 1, max = 64))]
    pub kind: String,
    /// How many recent months of records the proof lists (newest first); 0: none, the summary.
    #[serde(default)]
    #[schemars(range(max = 120))]
    pub months: u32,
    /// What the citizen needs it for, printed on the proof (at most 40 characters).
    #[serde(default)]
    #[schemars(length(max = 40))]
    pub purpose: String,
}

/// An issued proof: the data, its number and the code that checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// `ZM` and the day and a sequence: `ZM20261203000001`.
    pub proof_number: String,
    /// Eight characters from the centre, printed and in the verification QR.
    pub check_code: String,
    pub issued_at: String,
    /// What it is for, as the citizen chose (empty: not said).
    #[serde(default)]
    pub purpose: String,
    pub data: ProofData,
}

impl Proof {
    /// The digest a verifier compares: SHA-256 over the number, the time and the data.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"hallkit-proof/v1:");
        h.update(self.proof_number.as_bytes());
        h.update(b":");
        h.update(self.issued_at.as_bytes());
        h.update(b":");
        h.update(self.purpose.as_bytes());
        h.update(b":");
        h.update(
            serde_json::to_string(&self.data)
                .unwrap_or_default()
                .as_bytes(),
        );
        hex::encode(h.finalize())
    }
}

/// What the centre answers to a proof's number and check code: enough to see the paper is
/// real, nothing about the citizen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofCheck {
    pub proof_number: String,
    pub title: String,
    pub issuer: String,
    pub issued_at: String,
    pub digest: String,
}

/// Whether a check code is what the centre makes: eight of `A-Z` (no I, O) and `2-9`.
pub fn is_check_code(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| CHECK_ALPHABET.contains(&b))
}

/// The letters a check code is made of: none that read alike (0/O, 1/I).
pub const CHECK_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_digest_changes_with_its_data() {
        let mut p = Proof {
            proof_number: "ZM20261203000001".into(),
            check_code: "ABCD2345".into(),
            issued_at: "2026-12-03T10:00:00+08:00".into(),
            purpose: String::new(),
            data: ProofData {
                kind: "social-insurance".into(),
                title: "社会保险参保缴费证明".into(),
                title_en: String::new(),
                issuer: "市社会保险事业管理中心".into(),
                statement: "在本市参加社会保险。".into(),
                entries: vec![],
                columns: vec![],
                rows: vec![],
            },
        };
        let d = p.digest();
        assert!(crate::cases::is_sha256_hex(&d));
        p.data.rows.push(vec!["2026-11".into()]);
        assert_ne!(p.digest(), d);
        assert!(is_check_code("ABCD2345"));
        assert!(!is_check_code("ABCD234O"));
        assert!(!is_check_code("ABCD234"));
    }
}
