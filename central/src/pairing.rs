//! Pairing a hall's business system with its terminals' local device API: the centre makes the
//! system's token (shown once, to hall IT, for the business system) and the entry that admits
//! it — origins, scopes, expiry and only the token's SHA-256 — which goes into the signed
//! configuration document (`gateway_systems`) the terminals put in force.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use kiosk_protocol::gateway::SCOPES;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PairingError {
    #[error("unknown scope {0:?} (known: {known})", known = SCOPES.join(", "))]
    Scope(String),
    #[error("origin {0:?} is scheme://host[:port] as a browser sends it, or native")]
    Origin(String),
    #[error("a system needs a name, at least one origin and one scope")]
    Missing,
}

/// The token (32 random bytes, base64url, no padding: a valid WebSocket subprotocol after
/// `bearer.`) and the entry for `gateway_systems`.
pub fn issue(
    name: &str,
    origins: &[String],
    scopes: &[String],
    expires: Option<chrono::NaiveDate>,
    random: [u8; 32],
) -> Result<(String, Value), PairingError> {
    if name.trim().is_empty() || origins.is_empty() || scopes.is_empty() {
        return Err(PairingError::Missing);
    }
    if let Some(s) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(PairingError::Scope(s.clone()));
    }
    for o in origins {
        let ok = o == "native"
            || o.strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .is_some_and(|rest| {
                    !rest.is_empty() && !rest.contains(['/', '?', '#', ' ']) && !rest.ends_with(':')
                });
        if !ok {
            return Err(PairingError::Origin(o.clone()));
        }
    }
    use base64::Engine as _;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
    let mut entry = json!({
        "name": name.trim(),
        "origins": origins,
        "token_sha256": hex::encode(Sha256::digest(token.as_bytes())),
        "scopes": scopes,
    });
    if let Some(d) = expires {
        entry["expires"] = json!(d.to_string());
    }
    Ok((token, entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pairing_gives_a_token_once_and_an_entry_with_only_its_hash() {
        let (token, entry) = issue(
            "ywxt",
            &["https://yw.example.gov.cn".into()],
            &["idcard.read".into(), "printer.print".into()],
            Some("2027-06-30".parse().unwrap()),
            [7; 32],
        )
        .unwrap();
        assert_eq!(token.len(), 43);
        assert!(token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(!entry.to_string().contains(&token));
        assert_eq!(
            entry["token_sha256"],
            hex::encode(Sha256::digest(token.as_bytes()))
        );
        assert_eq!(entry["expires"], "2027-06-30");
        let bad =
            |o: &str, s: &str| issue("x", &[o.into()], &[s.into()], None, [0; 32]).unwrap_err();
        assert_eq!(
            bad("https://a.gov.cn", "everything"),
            PairingError::Scope("everything".into())
        );
        assert_eq!(
            bad("a.gov.cn", "idcard.read"),
            PairingError::Origin("a.gov.cn".into())
        );
        assert_eq!(
            issue("", &[], &[], None, [0; 32]).unwrap_err(),
            PairingError::Missing
        );
    }
}
