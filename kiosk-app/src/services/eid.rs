//! The citizen's e-ID QR code (电子身份证 / 亮码), verified offline. The issuers' public keys
//! arrive as a signed document (`eid-keys`, checked like every document against the pinned
//! publisher keys), so a terminal without the centre still checks codes; a code is accepted
//! only when an issuer in the pool signed it (SM2 or Ed25519), while that issuer's key is
//! valid, within the code's short life, and the first time it is shown.
//!
//! A code is `HKEID1.<payload>.<signature>`, both parts base64url without padding. The
//! signature covers the ASCII bytes `HKEID1.<payload>`; the payload is JSON:
//! `{"iss": issuer id, "name", "id_number", "iat", "exp" (Unix seconds), "nonce"}`.
//! Format and checks: docs/EID.md.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use kiosk_protocol::signing::{DocumentKind, PublicKey, SigningKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::card::CitizenIdentity;
use super::catalogue::Text;
use crate::journal::{Journal, OutboxError};

pub const PREFIX: &str = "HKEID1.";
/// Longer codes are refused before any decoding: a QR code a phone shows is far smaller.
const MAX_CODE_LEN: usize = 2048;
/// A clock difference between the phone and the terminal that is tolerated.
const SKEW_S: i64 = 30;

/// One issuer of e-ID codes (a province's CTID platform, the hall's own app).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    pub id: String,
    pub name: Text,
    /// `sm2:HEX` or `ed25519:HEX`.
    pub public_key: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// The `eid-keys` document's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPool {
    pub issuers: Vec<Issuer>,
    /// The longest life a code may claim (`exp - iat`), in seconds.
    #[serde(default = "default_max_life")]
    pub max_code_life_s: i64,
}

fn default_max_life() -> i64 {
    300
}

/// A pool with its keys parsed.
#[derive(Debug, Clone)]
pub struct Pool {
    issuers: HashMap<String, (Issuer, PublicKey)>,
    max_code_life_s: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("the e-ID key pool does not parse: {0}")]
    Parse(String),
    #[error("the e-ID key pool is inconsistent: {0}")]
    Invalid(String),
}

impl Pool {
    pub fn from_json(v: &serde_json::Value) -> Result<Pool, PoolError> {
        let body: KeyPool =
            serde_json::from_value(v.clone()).map_err(|e| PoolError::Parse(e.to_string()))?;
        if !(10..=86_400).contains(&body.max_code_life_s) {
            return Err(PoolError::Invalid(format!(
                "max_code_life_s {} must be 10..86400",
                body.max_code_life_s
            )));
        }
        let mut issuers = HashMap::new();
        for i in body.issuers {
            let key: PublicKey = i
                .public_key
                .parse()
                .map_err(|e| PoolError::Invalid(format!("issuer {}: {e}", i.id)))?;
            if i.not_after <= i.not_before {
                return Err(PoolError::Invalid(format!(
                    "issuer {}: not_after is not after not_before",
                    i.id
                )));
            }
            let id = i.id.clone();
            if issuers.insert(id.clone(), (i, key)).is_some() {
                return Err(PoolError::Invalid(format!("issuer {id} appears twice")));
            }
        }
        Ok(Pool {
            issuers,
            max_code_life_s: body.max_code_life_s,
        })
    }

    /// The pool in force on this terminal, if one arrived.
    pub fn in_force(journal: &Journal) -> Result<Option<Pool>, PoolLoadError> {
        match journal.lock().document(DocumentKind::EidKeys)? {
            None => Ok(None),
            Some(d) => Ok(Some(Pool::from_json(&d.body)?)),
        }
    }

    pub fn issuer_count(&self) -> usize {
        self.issuers.len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PoolLoadError {
    #[error(transparent)]
    Journal(#[from] OutboxError),
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// Why a code was refused. The screen says the reason; none of them carries personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EidError {
    #[error("not an e-ID code")]
    NotAnEid,
    #[error("the code is damaged: {0}")]
    Malformed(&'static str),
    #[error("issued by {0}, which this terminal does not know")]
    UnknownIssuer(String),
    #[error("the issuer's key is not valid now")]
    IssuerKeyNotValid,
    #[error("the signature does not match: the code was altered or forged")]
    Forged,
    #[error("the code has expired; refresh it on the phone")]
    Expired,
    #[error("the code is not valid yet; check the phone's clock")]
    NotYetValid,
    #[error("the code claims a life longer than issuers give")]
    TooLongLived,
    #[error("this code was already used; refresh it on the phone")]
    Replayed,
    #[error("the code carries an invalid ID number")]
    BadIdNumber,
    #[error("no e-ID keys have arrived from the centre")]
    NoPool,
}

impl EidError {
    /// A stable name for records and screens.
    pub fn code(&self) -> &'static str {
        match self {
            EidError::NotAnEid => "not-an-eid",
            EidError::Malformed(_) => "malformed",
            EidError::UnknownIssuer(_) => "unknown-issuer",
            EidError::IssuerKeyNotValid => "issuer-key-not-valid",
            EidError::Forged => "forged",
            EidError::Expired => "expired",
            EidError::NotYetValid => "not-yet-valid",
            EidError::TooLongLived => "too-long-lived",
            EidError::Replayed => "replayed",
            EidError::BadIdNumber => "bad-id-number",
            EidError::NoPool => "no-pool",
        }
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    iss: String,
    name: String,
    id_number: String,
    iat: i64,
    exp: i64,
    nonce: String,
}

impl Drop for Payload {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.name.zeroize();
        self.id_number.zeroize();
    }
}

/// Codes already accepted, until they expire: a code photographed over a citizen's shoulder
/// and shown again is refused. Held in memory: a code lives minutes, a terminal for months.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: HashMap<(String, String), i64>,
}

impl ReplayGuard {
    /// Records the code; false when it was seen before and has not expired.
    fn first_use(&mut self, issuer: &str, nonce: &str, exp: i64, now: i64) -> bool {
        self.seen.retain(|_, until| *until + SKEW_S >= now);
        let key = (issuer.to_string(), nonce.to_string());
        if self.seen.contains_key(&key) {
            return false;
        }
        self.seen.insert(key, exp);
        true
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

fn b64(s: &str) -> Result<Vec<u8>, EidError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| EidError::Malformed("not base64url"))
}

/// Whether a scanned text is meant to be an e-ID code (so the journey can tell an appointment
/// code or a link from a damaged e-ID).
pub fn looks_like_eid(text: &str) -> bool {
    text.trim().starts_with(PREFIX)
}

/// Verifies a scanned code at `now`; on success the citizen's identity, to be wiped with the
/// session.
pub fn verify(
    text: &str,
    pool: Option<&Pool>,
    now: DateTime<Utc>,
    replay: &mut ReplayGuard,
) -> Result<CitizenIdentity, EidError> {
    let text = text.trim();
    let rest = text.strip_prefix(PREFIX).ok_or(EidError::NotAnEid)?;
    let pool = pool.ok_or(EidError::NoPool)?;
    if text.len() > MAX_CODE_LEN {
        return Err(EidError::Malformed("too long"));
    }
    let (payload_b64, sig_b64) = rest
        .split_once('.')
        .ok_or(EidError::Malformed("no signature"))?;
    let raw = Zeroizing::new(b64(payload_b64)?);
    let signature = b64(sig_b64)?;
    let payload: Payload =
        serde_json::from_slice(&raw).map_err(|_| EidError::Malformed("payload"))?;
    let (issuer, key) = pool
        .issuers
        .get(&payload.iss)
        .ok_or_else(|| EidError::UnknownIssuer(payload.iss.chars().take(40).collect()))?;
    if now < issuer.not_before || now > issuer.not_after {
        return Err(EidError::IssuerKeyNotValid);
    }
    let signed = &text.as_bytes()[..PREFIX.len() + payload_b64.len()];
    key.verify(signed, &signature)
        .map_err(|_| EidError::Forged)?;
    let now_s = now.timestamp();
    if payload.exp <= payload.iat || payload.exp - payload.iat > pool.max_code_life_s {
        return Err(EidError::TooLongLived);
    }
    if payload.iat > now_s + SKEW_S {
        return Err(EidError::NotYetValid);
    }
    if payload.exp + SKEW_S < now_s {
        return Err(EidError::Expired);
    }
    if payload.nonce.len() < 8 || payload.nonce.len() > 64 {
        return Err(EidError::Malformed("nonce"));
    }
    if super::catalogue::forms::check_id_number(&payload.id_number).is_err()
        || payload.name.trim().is_empty()
    {
        return Err(EidError::BadIdNumber);
    }
    if !replay.first_use(&payload.iss, &payload.nonce, payload.exp, now_s) {
        return Err(EidError::Replayed);
    }
    Ok(CitizenIdentity {
        name: payload.name.clone(),
        number: payload.id_number.to_ascii_uppercase(),
        card_type: "电子身份凭证".into(),
        address: String::new(),
        nation: String::new(),
        valid_to: DateTime::from_timestamp(payload.exp, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
    })
}

/// An issuer's side: signs codes. The simulator and the tests use it to show the terminal
/// real codes; a province's platform does the same with its own key.
pub struct CodeIssuer {
    pub id: String,
    pub key: SigningKey,
}

impl CodeIssuer {
    /// A code for `name` / `id_number`, issued at `iat` and valid for `life_s`.
    pub fn issue(&self, name: &str, id_number: &str, iat: i64, life_s: i64, nonce: &str) -> String {
        let payload = Payload {
            iss: self.id.clone(),
            name: name.into(),
            id_number: id_number.into(),
            iat,
            exp: iat + life_s,
            nonce: nonce.into(),
        };
        let json = Zeroizing::new(serde_json::to_vec(&payload).unwrap_or_default());
        let body = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*json)
        );
        let signature = self.key.sign(body.as_bytes());
        format!(
            "{body}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// This issuer's entry for a key pool.
    pub fn entry(&self, name: &str, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Issuer {
        Issuer {
            id: self.id.clone(),
            name: Text::zh(name),
            public_key: self.key.public_key().to_string(),
            not_before,
            not_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_protocol::signing::Algorithm;

    const ID: &str = "11010519491231002X";

    fn issuers() -> (CodeIssuer, CodeIssuer) {
        (
            CodeIssuer {
                id: "gd-ctid".into(),
                key: SigningKey::generate(Algorithm::Sm2),
            },
            CodeIssuer {
                id: "hall-app".into(),
                key: SigningKey::generate(Algorithm::Ed25519),
            },
        )
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    const T0: i64 = 1_796_000_000;

    fn pool(list: &[&CodeIssuer]) -> Pool {
        let body = KeyPool {
            issuers: list
                .iter()
                .map(|i| i.entry("签发方", at(T0 - 86_400), at(T0 + 86_400)))
                .collect(),
            max_code_life_s: 120,
        };
        Pool::from_json(&serde_json::to_value(body).unwrap()).unwrap()
    }

    #[test]
    fn codes_from_both_algorithms_are_verified_offline() {
        let (sm2, ed) = issuers();
        let pool = pool(&[&sm2, &ed]);
        let mut guard = ReplayGuard::default();
        for issuer in [&sm2, &ed] {
            let code = issuer.issue("张三", ID, T0, 60, &format!("nonce-{}", issuer.id));
            assert!(looks_like_eid(&code));
            let who = verify(&code, Some(&pool), at(T0 + 5), &mut guard).unwrap();
            assert_eq!(who.number, ID);
            assert_eq!(who.name, "张三");
            assert!(!format!("{who:?}").contains("张三"), "prints masked");
        }
    }

    #[test]
    fn forged_expired_replayed_and_unknown_codes_are_refused_with_the_reason() {
        let (sm2, ed) = issuers();
        let pool = pool(&[&sm2]);
        let mut guard = ReplayGuard::default();
        let code = sm2.issue("张三", ID, T0, 60, "nonce-0001");
        // Another key signing in the issuer's name.
        let impostor = CodeIssuer {
            id: "gd-ctid".into(),
            key: SigningKey::generate(Algorithm::Sm2),
        };
        let forged = impostor.issue("张三", ID, T0, 60, "nonce-0002");
        assert_eq!(
            verify(&forged, Some(&pool), at(T0), &mut guard),
            Err(EidError::Forged)
        );
        // The payload changed after signing (another ID number swapped in).
        let (head, sig) = code.rsplit_once('.').unwrap();
        let other = sm2.issue("李四", "110105194912310021", T0, 60, "nonce-0001");
        let other_payload = other.split('.').nth(1).unwrap();
        let swapped = format!("{PREFIX}{other_payload}.{sig}");
        assert_ne!(swapped, code);
        assert_eq!(
            verify(&swapped, Some(&pool), at(T0), &mut guard),
            Err(EidError::Forged)
        );
        let _ = head;
        assert_eq!(
            verify(&code, Some(&pool), at(T0 + 60 + SKEW_S + 1), &mut guard),
            Err(EidError::Expired)
        );
        assert_eq!(
            verify(&code, Some(&pool), at(T0 - SKEW_S - 1), &mut guard),
            Err(EidError::NotYetValid)
        );
        assert!(verify(&code, Some(&pool), at(T0 + 10), &mut guard).is_ok());
        assert_eq!(
            verify(&code, Some(&pool), at(T0 + 20), &mut guard),
            Err(EidError::Replayed),
            "shown a second time"
        );
        let unknown = ed.issue("张三", ID, T0, 60, "nonce-0003");
        assert_eq!(
            verify(&unknown, Some(&pool), at(T0), &mut guard),
            Err(EidError::UnknownIssuer("hall-app".into()))
        );
        let long = sm2.issue("张三", ID, T0, 3600, "nonce-0004");
        assert_eq!(
            verify(&long, Some(&pool), at(T0), &mut guard),
            Err(EidError::TooLongLived)
        );
        let bad_id = sm2.issue("张三", "110105194912310021", T0, 60, "nonce-0005");
        assert_eq!(
            verify(&bad_id, Some(&pool), at(T0), &mut guard),
            Err(EidError::BadIdNumber)
        );
        assert_eq!(
            verify(&code, Some(&pool), at(T0 + 2 * 86_400), &mut guard),
            Err(EidError::IssuerKeyNotValid)
        );
        assert_eq!(
            verify(&code, None, at(T0), &mut guard),
            Err(EidError::NoPool)
        );
        assert_eq!(
            verify("https://example.invalid/x", Some(&pool), at(T0), &mut guard),
            Err(EidError::NotAnEid)
        );
        for damaged in ["HKEID1.", "HKEID1.abc", "HKEID1.!!!.xyz", "HKEID1.e30.AAAA"] {
            assert!(
                matches!(
                    verify(damaged, Some(&pool), at(T0), &mut guard),
                    Err(EidError::Malformed(_))
                ),
                "{damaged}"
            );
        }
    }

    #[test]
    fn the_replay_guard_forgets_codes_once_they_expire() {
        let mut g = ReplayGuard::default();
        assert!(g.first_use("i", "n1", T0 + 60, T0));
        assert!(!g.first_use("i", "n1", T0 + 60, T0 + 1));
        assert!(g.first_use("i", "n2", T0 + 200, T0 + 100));
        assert_eq!(g.len(), 1, "n1 expired and was dropped");
    }

    #[test]
    fn bad_pools_are_refused_with_the_reason() {
        let (sm2, _) = issuers();
        let good = serde_json::to_value(KeyPool {
            issuers: vec![sm2.entry("签发方", at(T0), at(T0 + 10))],
            max_code_life_s: 120,
        })
        .unwrap();
        assert!(Pool::from_json(&good).is_ok());
        let mut twice = good.clone();
        let again = twice["issuers"][0].clone();
        twice["issuers"].as_array_mut().unwrap().push(again);
        assert!(Pool::from_json(&twice)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let mut key = good.clone();
        key["issuers"][0]["public_key"] = serde_json::json!("sm2:00");
        assert!(matches!(Pool::from_json(&key), Err(PoolError::Invalid(_))));
        let mut window = good.clone();
        window["issuers"][0]["not_after"] = window["issuers"][0]["not_before"].clone();
        assert!(Pool::from_json(&window).is_err());
        let mut life = good;
        life["max_code_life_s"] = serde_json::json!(0);
        assert!(Pool::from_json(&life).is_err());
    }

    proptest::proptest! {
        /// Whatever a scanner delivers, the check answers with a typed reason; it never panics.
        #[test]
        fn scanned_garbage_never_panics(text in "HKEID1\\.[A-Za-z0-9_\\-\\.]{0,300}|\\PC{0,200}") {
            let (sm2, _) = issuers();
            let pool = pool(&[&sm2]);
            let mut guard = ReplayGuard::default();
            proptest::prop_assert!(verify(&text, Some(&pool), at(T0), &mut guard).is_err());
        }
    }
}
