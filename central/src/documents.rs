//! The centre's licence library and proof store, shared by the SQLite and PostgreSQL stores:
//! what an import holds, how a proof number and its check code are made, and how a terminal's
//! `licence.printed` journal record counts a print.
//!
//! In a hall these are the province's licence library (电子证照库) and the departments' data
//! (social insurance, housing fund) behind the centre; here the centre holds samples imported
//! with `kiosk-central documents import`, keyed by the holder's hash like the cases.

use kiosk_protocol::cases::{holder_sha256, is_sha256_hex};
use kiosk_protocol::documents::{
    Licence, LicencePrint, Proof, ProofCheck, ProofData, ProofKind, ProofRequest, CHECK_ALPHABET,
};
use kiosk_protocol::wire::EventEnvelope;
use serde::Deserialize;

/// Why the centre refuses a proof or an import.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentRefusal {
    #[error("no {0} data for this citizen")]
    NoData(String),
    #[error("no proof {0} with that check code")]
    Unknown(String),
    #[error("{0}")]
    Invalid(String),
}

/// An import file: per citizen (by ID number, hashed on import and never stored), their
/// licences and the data for their proofs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Import {
    pub holders: Vec<ImportHolder>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportHolder {
    pub id_number: String,
    #[serde(default)]
    pub licences: Vec<Licence>,
    #[serde(default)]
    pub proofs: Vec<ProofData>,
}

/// One citizen's documents as the stores take them.
pub struct HolderDocuments {
    pub holder_sha256: String,
    pub licences: Vec<Licence>,
    pub proofs: Vec<ProofData>,
}

impl Import {
    pub fn parse(json: &[u8]) -> Result<Vec<HolderDocuments>, DocumentRefusal> {
        let import: Import = serde_json::from_slice(json)
            .map_err(|e| DocumentRefusal::Invalid(format!("the import file: {e}")))?;
        import
            .holders
            .into_iter()
            .map(|h| {
                let number = h.id_number.trim();
                if number.len() != 18 {
                    return Err(DocumentRefusal::Invalid(
                        "id_number is an 18-character resident ID number".into(),
                    ));
                }
                for l in &h.licences {
                    check_licence(l)?;
                }
                for p in &h.proofs {
                    check_proof_data(p)?;
                }
                Ok(HolderDocuments {
                    holder_sha256: holder_sha256(number),
                    licences: h.licences,
                    proofs: h.proofs,
                })
            })
            .collect()
    }
}

/// Present and at most `max` characters (as the API's schema says it: no trimming).
fn short(v: &str, max: usize) -> bool {
    !v.is_empty() && v.chars().count() <= max
}

fn check_licence(l: &Licence) -> Result<(), DocumentRefusal> {
    if !short(&l.licence_id, 64) || !short(&l.licence_type, 64) || !short(&l.name, 64) {
        return Err(DocumentRefusal::Invalid(
            "a licence has licence_id, licence_type and name (1 to 64 characters)".into(),
        ));
    }
    if !short(&l.issuer, 128) || l.entries.len() > 40 {
        return Err(DocumentRefusal::Invalid(format!(
            "licence {}: an issuer and at most 40 entries",
            l.licence_id
        )));
    }
    Ok(())
}

fn check_proof_data(p: &ProofData) -> Result<(), DocumentRefusal> {
    if !short(&p.kind, 64) || !short(&p.title, 64) || !short(&p.issuer, 128) {
        return Err(DocumentRefusal::Invalid(
            "a proof has kind, title and issuer".into(),
        ));
    }
    if p.rows.len() > 200 || p.rows.iter().any(|r| r.len() != p.columns.len()) {
        return Err(DocumentRefusal::Invalid(format!(
            "proof {}: at most 200 rows, each with one value per column",
            p.kind
        )));
    }
    Ok(())
}

/// What a proof request must hold.
pub fn check_request(r: &ProofRequest) -> Result<(), DocumentRefusal> {
    if r.months > 120 || r.purpose.chars().count() > 40 {
        return Err(DocumentRefusal::Invalid(
            "months is at most 120; purpose at most 40 characters".into(),
        ));
    }
    if !is_sha256_hex(&r.holder_sha256) || !short(&r.kind, 64) || !short(&r.device_id, 64) {
        return Err(DocumentRefusal::Invalid(
            "holder_sha256 is 64 lowercase hex digits; kind and device_id 1 to 64 characters"
                .into(),
        ));
    }
    Ok(())
}

/// `ZM20261203000007`: 证明 and the day and a six-digit sequence.
pub fn proof_number(day: &str, seq: i64) -> String {
    format!("ZM{day}{seq:06}")
}

/// Eight characters that read unambiguously, from a random source.
pub fn check_code() -> String {
    let raw = *uuid::Uuid::new_v4().as_bytes();
    raw.iter()
        .take(8)
        .map(|b| CHECK_ALPHABET[(*b as usize) % CHECK_ALPHABET.len()] as char)
        .collect()
}

/// The offer of a proof, from its data.
pub fn kind_of(p: &ProofData) -> ProofKind {
    ProofKind {
        kind: p.kind.clone(),
        title: p.title.clone(),
        title_en: p.title_en.clone(),
        issuer: p.issuer.clone(),
    }
}

/// A proof issued now from the data: the records cut to the months asked for (none for the
/// summary).
pub fn issue(mut data: ProofData, r: &ProofRequest, number: String, now: &str) -> Proof {
    data.rows.truncate(r.months as usize);
    if data.rows.is_empty() {
        data.columns.clear();
    }
    Proof {
        proof_number: number,
        check_code: check_code(),
        issued_at: now.to_string(),
        purpose: r.purpose.trim().to_string(),
        data,
    }
}

/// What a verifier learns from a genuine proof.
pub fn check_of(p: &Proof) -> ProofCheck {
    ProofCheck {
        proof_number: p.proof_number.clone(),
        title: p.data.title.clone(),
        issuer: p.data.issuer.clone(),
        issued_at: p.issued_at.clone(),
        digest: p.digest(),
    }
}

/// The print inside a `licence.printed` journal record, if it is one from this terminal.
pub fn print_in(e: &EventEnvelope) -> Option<LicencePrint> {
    if e.kind != "licence.printed" {
        return None;
    }
    let p: LicencePrint = serde_json::from_value(e.payload.get("licence")?.clone()).ok()?;
    (p.device_id == e.device_id && is_sha256_hex(&p.holder_sha256) && short(&p.licence_id, 64))
        .then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_is_hashed_and_checked() {
        let ok = br#"{"holders":[{"id_number":"320583199001011232","licences":[],"proofs":[]}]}"#;
        let h = Import::parse(ok).unwrap();
        assert_eq!(h[0].holder_sha256, holder_sha256("320583199001011232"));
        assert!(Import::parse(br#"{"holders":[{"id_number":"123"}]}"#).is_err());
        assert!(Import::parse(b"[").is_err());
        let bad_rows = br#"{"holders":[{"id_number":"320583199001011232","proofs":[
            {"kind":"k","title":"t","issuer":"i","statement":"s","entries":[],
             "columns":["a","b"],"rows":[["1"]]}]}]}"#;
        assert!(Import::parse(bad_rows).is_err());
    }

    #[test]
    fn check_codes_and_numbers_look_right() {
        for _ in 0..50 {
            assert!(kiosk_protocol::documents::is_check_code(&check_code()));
        }
        assert_eq!(proof_number("20261203", 7), "ZM20261203000007");
    }
}
