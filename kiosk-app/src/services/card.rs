//! The ID card as a journey uses it: wait for a card on the claimed reader, read it, and hand
//! back who the citizen is — held in memory that is wiped when it is dropped — or a typed
//! reason the citizen can act on (the card moved, it cannot be read, it has expired).

use kiosk_hal::actor::CommandContext;
use kiosk_hal::device::{CancelToken, CompletionCode};
use kiosk_hal::privacy::{mask_id_number, mask_name};
use serde_json::{json, Value};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::runtime::{CallError, Claim, Runtime};

/// Who the card says the citizen is. Wiped from memory when dropped; prints masked.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct CitizenIdentity {
    pub name: String,
    pub number: String,
    /// `居民身份证` and the others, for the record.
    pub card_type: String,
    /// The last day of validity (`2040-05-01`), or `long-term`.
    pub valid_to: String,
    /// The address on the card (empty when the card has none, as an e-ID code).
    pub address: String,
    /// 汉, 回, … (empty when the card says none).
    pub nation: String,
}

impl CitizenIdentity {
    pub fn masked_number(&self) -> String {
        mask_id_number(&self.number)
    }

    pub fn masked_name(&self) -> String {
        mask_name(&self.name)
    }

    /// Whole years of age on `today`, from the birth date inside the ID number (a hall that
    /// calls the elderly first asks for this, never the date).
    pub fn age_on(&self, today: chrono::NaiveDate) -> Option<u32> {
        let born = chrono::NaiveDate::parse_from_str(self.number.get(6..14)?, "%Y%m%d").ok()?;
        today.years_since(born)
    }
}

impl std::fmt::Debug for CitizenIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CitizenIdentity({} {})",
            self.masked_name(),
            self.masked_number()
        )
    }
}

/// Why no identity came from the card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardProblem {
    #[error("no card was placed in time")]
    NoCard,
    #[error("the card moved while it was read")]
    Moved,
    #[error("the card cannot be read: {0}")]
    Unreadable(String),
    #[error("the card expired on {0}")]
    Expired(String),
    #[error("the card reader is not working: {0}")]
    ReaderFault(String),
    #[error("the reader is in use: {0}")]
    Busy(String),
    #[error("canceled")]
    Canceled,
}

impl CardProblem {
    fn from_call(e: CallError) -> CardProblem {
        let Some(d) = e.device_error() else {
            return CardProblem::Busy(e.to_string());
        };
        match d.code {
            CompletionCode::Canceled => CardProblem::Canceled,
            CompletionCode::Timeout if d.detail.contains("no card") => CardProblem::NoCard,
            // SW3 41/80/81: the card moved or was pulled away during the read.
            CompletionCode::UserError => CardProblem::Moved,
            CompletionCode::InvalidData => match d.detail.split_once("expired on ") {
                Some((_, date)) => CardProblem::Expired(date.chars().take(10).collect::<String>()),
                None => CardProblem::Unreadable(d.detail.clone()),
            },
            _ => CardProblem::ReaderFault(d.detail.clone()),
        }
    }
}

/// Waits up to `ctx.timeout` for a card on the claimed reader and reads it.
pub fn wait_and_read(
    rt: &Runtime,
    reader: &Claim,
    ctx: CommandContext,
) -> Result<CitizenIdentity, CardProblem> {
    let mut answer = rt
        .call_with(reader, "wait-card", json!({ "reveal": true }), ctx)
        .map_err(CardProblem::from_call)?;
    let identity = identity_from(&answer["identity"]);
    // The reader's answer held the full identity: wipe it before it is dropped.
    wipe_json(&mut answer);
    identity.ok_or_else(|| CardProblem::Unreadable("the reader's answer lacks the identity".into()))
}

/// What the card carries to compare with the person at the terminal: its photo (BMP, as the
/// reader's decoder gave it) and its fingerprint block (two 512-byte templates). Wiped when
/// dropped.
#[derive(Default, Clone)]
pub struct CardBiometrics {
    pub photo_bmp: Option<Zeroizing<Vec<u8>>>,
    pub fingerprint: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for CardBiometrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CardBiometrics(photo: {}, fingerprint: {})",
            self.photo_bmp.is_some(),
            self.fingerprint.is_some()
        )
    }
}

/// Like [`wait_and_read`], with the card's photo and fingerprint block for a login.
pub fn wait_and_read_biometrics(
    rt: &Runtime,
    reader: &Claim,
    ctx: CommandContext,
) -> Result<(CitizenIdentity, CardBiometrics), CardProblem> {
    let mut answer = rt
        .call_with(
            reader,
            "wait-card",
            json!({ "reveal": true, "biometrics": true, "fingerprint": true }),
            ctx,
        )
        .map_err(CardProblem::from_call)?;
    let identity = identity_from(&answer["identity"]);
    let biometrics = biometrics_from(&answer);
    wipe_json(&mut answer);
    let identity = identity
        .ok_or_else(|| CardProblem::Unreadable("the reader's answer lacks the identity".into()))?;
    Ok((identity, biometrics))
}

/// As [`wait_and_read_biometrics`], for a caller that maps the reader's answer itself (the
/// gateway): the answer as JSON (the caller wipes it) and the biometrics taken out of it.
pub fn wait_and_read_biometrics_json(
    rt: &Runtime,
    reader: &Claim,
    ctx: CommandContext,
) -> Result<(Value, CardBiometrics), CallError> {
    let mut answer = rt.call_with(
        reader,
        "wait-card",
        json!({ "reveal": true, "biometrics": true, "fingerprint": true }),
        ctx,
    )?;
    let biometrics = biometrics_from(&answer);
    if let Some(photo) = answer.get_mut("photo") {
        wipe_json(photo);
    }
    if let Some(f) = answer.get_mut("fingerprint_hex") {
        wipe_json(f);
    }
    Ok((answer, biometrics))
}

fn biometrics_from(v: &Value) -> CardBiometrics {
    use base64::Engine as _;
    let photo_bmp = v["photo"]["bmp_base64"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(Zeroizing::new);
    // A block of the wrong size cannot be compared; the login then goes by face or window.
    let fingerprint = v["fingerprint_hex"]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .filter(|b| b.len() == 1024)
        .map(Zeroizing::new);
    CardBiometrics {
        photo_bmp,
        fingerprint,
    }
}

/// A context that waits `timeout` and can be canceled with `cancel`.
pub fn context(timeout: std::time::Duration, cancel: CancelToken) -> CommandContext {
    CommandContext {
        cancel,
        progress: kiosk_hal::device::ProgressSink::none(),
        timeout,
    }
}

/// The card's last day (`2040-05-01`) or `long-term`, from the reader's identity.
pub fn valid_to_words(v: &Value) -> String {
    match v.get("valid_to") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("date")
            .and_then(Value::as_str)
            .map_or_else(|| "long-term".to_string(), str::to_string),
        _ => "long-term".into(),
    }
}

fn identity_from(v: &Value) -> Option<CitizenIdentity> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let valid_to = valid_to_words(v);
    Some(CitizenIdentity {
        name: s("name").or_else(|| s("english_name")).unwrap_or_default(),
        number: s("number")?,
        card_type: s("card_type").unwrap_or_default(),
        valid_to,
        address: s("address").unwrap_or_default(),
        // The reader gives the nation as its code and name.
        nation: match v.get("nation") {
            Some(Value::Array(a)) => a.get(1).and_then(Value::as_str).unwrap_or("").to_string(),
            Some(Value::String(n)) => n.clone(),
            _ => String::new(),
        },
    })
}

/// Overwrites every string in `v` before it is freed: JSON that carried personal data.
pub fn wipe_json(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe_json),
        Value::Object(m) => {
            m.values_mut().for_each(wipe_json);
        }
        _ => {}
    }
    *v = Value::Null;
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_hal::device::CommandError;

    fn problem(code: CompletionCode, detail: &str) -> CardProblem {
        CardProblem::from_call(CallError::Device(CommandError::new(code, detail)))
    }

    #[test]
    fn reader_answers_become_reasons_a_citizen_can_act_on() {
        assert_eq!(
            problem(
                CompletionCode::InvalidData,
                "card text: the card expired on 2025-03-10"
            ),
            CardProblem::Expired("2025-03-10".into())
        );
        assert_eq!(
            problem(
                CompletionCode::UserError,
                "SW3 41: reading failed: the card moved"
            ),
            CardProblem::Moved
        );
        assert!(matches!(
            problem(
                CompletionCode::InvalidData,
                "SW3 32: the SAM failed to authenticate the card"
            ),
            CardProblem::Unreadable(_)
        ));
        assert_eq!(
            problem(CompletionCode::Timeout, "no card was placed on the reader"),
            CardProblem::NoCard
        );
        assert!(matches!(
            problem(CompletionCode::HardwareError, "SW3 60"),
            CardProblem::ReaderFault(_)
        ));
        assert_eq!(
            problem(CompletionCode::Canceled, "canceled"),
            CardProblem::Canceled
        );
    }

    #[test]
    fn biometrics_are_taken_only_when_well_formed() {
        use base64::Engine as _;
        let v = json!({"photo": {"bmp_base64": base64::engine::general_purpose::STANDARD.encode(b"BM12")},
                       "fingerprint_hex": hex::encode([7u8; 1024])});
        let b = biometrics_from(&v);
        assert_eq!(
            b.photo_bmp.as_deref().map(Vec::as_slice),
            Some(&b"BM12"[..])
        );
        assert_eq!(b.fingerprint.as_ref().map(|f| f.len()), Some(1024));
        assert_eq!(
            format!("{b:?}"),
            "CardBiometrics(photo: true, fingerprint: true)"
        );
        let bad = json!({"photo": {"bmp_base64": "%%%"}, "fingerprint_hex": "abcd"});
        let b = biometrics_from(&bad);
        assert!(b.photo_bmp.is_none() && b.fingerprint.is_none());
    }

    #[test]
    fn identities_print_masked_and_json_is_wiped() {
        let v = json!({"name": "张三丰", "number": "320583199001011234", "card_type": "resident",
                       "valid_to": {"date": "2040-05-01"}});
        let id = identity_from(&v).unwrap();
        assert_eq!(
            format!("{id:?}"),
            "CitizenIdentity(张** 3205**********1234)"
        );
        assert_eq!(id.valid_to, "2040-05-01");
        let mut v = v;
        wipe_json(&mut v);
        assert_eq!(v, Value::Null);
    }
}
