//! Signed documents: configuration and the service catalogue travel from the publisher to the
//! terminals through the centre, signed by the publisher's key, so neither the centre nor the
//! network can change them. Ed25519 now; SM2 (GB/T 32918, with SM3) in the same slot for
//! deployments that must use the national algorithms. Terminals pin the publisher's public keys.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::wire::canonical_json;

/// The SM2 distinguishing identifier of GB/T 35276 when none is agreed.
const SM2_DIST_ID: &str = "1234567812345678";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    Ed25519,
    Sm2,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::Sm2 => "sm2",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("key {0:?}: write it as ed25519:HEX or sm2:HEX")]
    KeyFormat(String),
    #[error("{0} key bytes are not a valid key")]
    BadKey(&'static str),
    #[error("signed by key {key_id}, which this terminal does not trust")]
    Untrusted { key_id: String },
    #[error("the signature does not match the document")]
    BadSignature,
}

/// A public key a terminal trusts, written `ed25519:HEX` or `sm2:HEX` (SEC1, uncompressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: Algorithm,
    pub bytes: Vec<u8>,
}

impl PublicKey {
    /// A short, stable name for the key: the first 8 bytes of SHA-256 over algorithm and key.
    pub fn key_id(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.algorithm.as_str().as_bytes());
        h.update(&self.bytes);
        hex::encode(&h.finalize()[..8])
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        use ed25519_dalek::Verifier as _;
        match self.algorithm {
            Algorithm::Ed25519 => {
                let key: [u8; 32] = self
                    .bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| SignatureError::BadKey("ed25519"))?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&key)
                    .map_err(|_| SignatureError::BadKey("ed25519"))?;
                let sig = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| SignatureError::BadSignature)?;
                vk.verify(message, &sig)
                    .map_err(|_| SignatureError::BadSignature)
            }
            Algorithm::Sm2 => {
                use sm2::dsa::signature::Verifier as _;
                let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DIST_ID, &self.bytes)
                    .map_err(|_| SignatureError::BadKey("sm2"))?;
                let sig = sm2::dsa::Signature::from_slice(signature)
                    .map_err(|_| SignatureError::BadSignature)?;
                vk.verify(message, &sig)
                    .map_err(|_| SignatureError::BadSignature)
            }
        }
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.algorithm.as_str(),
            hex::encode(&self.bytes)
        )
    }
}

fn split_key(s: &str) -> Result<(Algorithm, Vec<u8>), SignatureError> {
    let bad = || SignatureError::KeyFormat(s.chars().take(16).collect());
    let (alg, hex_part) = s.trim().split_once(':').ok_or_else(bad)?;
    let algorithm = match alg {
        "ed25519" => Algorithm::Ed25519,
        "sm2" => Algorithm::Sm2,
        _ => return Err(bad()),
    };
    Ok((algorithm, hex::decode(hex_part).map_err(|_| bad())?))
}

impl FromStr for PublicKey {
    type Err = SignatureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algorithm, bytes) = split_key(s)?;
        let key = PublicKey { algorithm, bytes };
        // Refuse a malformed key when it is configured, not when the first document arrives.
        match key.verify(b"", &[]) {
            Err(SignatureError::BadKey(a)) => Err(SignatureError::BadKey(a)),
            _ => Ok(key),
        }
    }
}

/// A publisher's private key.
pub enum SigningKey {
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Sm2(Box<sm2::dsa::SigningKey>),
}

impl SigningKey {
    pub fn generate(algorithm: Algorithm) -> SigningKey {
        let mut rng = rand_core::OsRng;
        match algorithm {
            Algorithm::Ed25519 => {
                SigningKey::Ed25519(Box::new(ed25519_dalek::SigningKey::generate(&mut rng)))
            }
            Algorithm::Sm2 => loop {
                let secret = sm2::SecretKey::random(&mut rng);
                if let Ok(k) = sm2::dsa::SigningKey::new(SM2_DIST_ID, &secret) {
                    break SigningKey::Sm2(Box::new(k));
                }
            },
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::Ed25519(_) => Algorithm::Ed25519,
            SigningKey::Sm2(_) => Algorithm::Sm2,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::Ed25519(k) => PublicKey {
                algorithm: Algorithm::Ed25519,
                bytes: k.verifying_key().to_bytes().to_vec(),
            },
            SigningKey::Sm2(k) => PublicKey {
                algorithm: Algorithm::Sm2,
                bytes: k.verifying_key().to_sec1_bytes().to_vec(),
            },
        }
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                k.sign(message).to_bytes().to_vec()
            }
            SigningKey::Sm2(k) => {
                use sm2::dsa::signature::Signer as _;
                let sig: sm2::dsa::Signature = k.sign(message);
                sig.to_bytes().to_vec()
            }
        }
    }

    /// The secret, written `ed25519:HEX` or `sm2:HEX`, for a key file.
    pub fn to_secret_string(&self) -> String {
        match self {
            SigningKey::Ed25519(k) => format!("ed25519:{}", hex::encode(k.to_bytes())),
            SigningKey::Sm2(k) => format!("sm2:{}", hex::encode(k.to_bytes())),
        }
    }

    pub fn from_secret_string(s: &str) -> Result<SigningKey, SignatureError> {
        let (algorithm, bytes) = split_key(s)?;
        match algorithm {
            Algorithm::Ed25519 => {
                let b: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| SignatureError::BadKey("ed25519"))?;
                Ok(SigningKey::Ed25519(Box::new(
                    ed25519_dalek::SigningKey::from_bytes(&b),
                )))
            }
            Algorithm::Sm2 => sm2::dsa::SigningKey::from_slice(SM2_DIST_ID, &bytes)
                .map(|k| SigningKey::Sm2(Box::new(k)))
                .map_err(|_| SignatureError::BadKey("sm2")),
        }
    }
}

/// What a signed document configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    /// Terminal settings the centre distributes (texts, hotline, intervals).
    Config,
    /// The hall's service catalogue: services, their materials and queue prefixes.
    Catalogue,
    /// The public keys of the issuers of citizens' e-ID QR codes, for checking them offline.
    EidKeys,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 3] = [
        DocumentKind::Config,
        DocumentKind::Catalogue,
        DocumentKind::EidKeys,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Config => "config",
            DocumentKind::Catalogue => "catalogue",
            DocumentKind::EidKeys => "eid-keys",
        }
    }
}

impl FromStr for DocumentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "config" => Ok(DocumentKind::Config),
            "catalogue" => Ok(DocumentKind::Catalogue),
            "eid-keys" => Ok(DocumentKind::EidKeys),
            other => Err(format!(
                "document kind {other:?}: config, catalogue or eid-keys"
            )),
        }
    }
}

/// A versioned, signed document. Versions rise per kind across scopes; a terminal applies the
/// newest one addressed to it or to all terminals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedDocument {
    pub kind: DocumentKind,
    /// `all`, or one terminal's id.
    #[schemars(length(min = 1))]
    pub scope: String,
    /// From 1; each new document of a kind carries a higher version than any before.
    #[schemars(range(min = 1))]
    pub version: u64,
    pub body: serde_json::Value,
    pub algorithm: Algorithm,
    pub key_id: String,
    /// Hex signature over the canonical JSON of kind, scope, version and body.
    #[schemars(length(min = 1))]
    pub signature: String,
}

impl SignedDocument {
    fn message(kind: DocumentKind, scope: &str, version: u64, body: &serde_json::Value) -> Vec<u8> {
        canonical_json(&serde_json::json!({
            "kind": kind, "scope": scope, "version": version, "body": body,
        }))
        .into_bytes()
    }

    pub fn sign(
        kind: DocumentKind,
        scope: &str,
        version: u64,
        body: serde_json::Value,
        key: &SigningKey,
    ) -> SignedDocument {
        let signature = key.sign(&Self::message(kind, scope, version, &body));
        SignedDocument {
            kind,
            scope: scope.to_string(),
            version,
            body,
            algorithm: key.algorithm(),
            key_id: key.public_key().key_id(),
            signature: hex::encode(signature),
        }
    }

    /// Checks the signature against the keys this terminal trusts.
    pub fn verify(&self, trusted: &[PublicKey]) -> Result<(), SignatureError> {
        let key = trusted
            .iter()
            .find(|k| k.key_id() == self.key_id && k.algorithm == self.algorithm)
            .ok_or_else(|| SignatureError::Untrusted {
                key_id: self.key_id.clone(),
            })?;
        let sig = hex::decode(&self.signature).map_err(|_| SignatureError::BadSignature)?;
        key.verify(
            &Self::message(self.kind, &self.scope, self.version, &self.body),
            &sig,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_algorithms_sign_and_verify_and_refuse_tampering() {
        for alg in [Algorithm::Ed25519, Algorithm::Sm2] {
            let key = SigningKey::generate(alg);
            let public: PublicKey = key.public_key().to_string().parse().unwrap();
            let doc = SignedDocument::sign(
                DocumentKind::Config,
                "all",
                3,
                serde_json::json!({"fault_phone": "0512-5555-1234"}),
                &key,
            );
            doc.verify(std::slice::from_ref(&public)).unwrap();
            let mut changed = doc.clone();
            changed.body["fault_phone"] = serde_json::json!("110");
            assert_eq!(
                changed.verify(std::slice::from_ref(&public)),
                Err(SignatureError::BadSignature),
                "{alg:?}"
            );
            let mut renumbered = doc.clone();
            renumbered.version = 4;
            assert_eq!(
                renumbered.verify(std::slice::from_ref(&public)),
                Err(SignatureError::BadSignature)
            );
            let stranger = SigningKey::generate(alg).public_key();
            assert!(matches!(
                doc.verify(&[stranger]),
                Err(SignatureError::Untrusted { .. })
            ));
            // The secret round-trips through its key-file form.
            let again = SigningKey::from_secret_string(&key.to_secret_string()).unwrap();
            assert_eq!(again.public_key(), key.public_key());
        }
        assert!("rsa:00".parse::<PublicKey>().is_err());
        assert!("ed25519:0011".parse::<PublicKey>().is_err());
    }
}

/// Headers of a device request signed with the device's enrolled key.
pub const HEADER_DEVICE: &str = "x-hallkit-device";
pub const HEADER_TIME: &str = "x-hallkit-time";
pub const HEADER_SIGNATURE: &str = "x-hallkit-signature";

/// How far a signed request's time may be from the centre's clock, either way.
pub const REQUEST_SKEW_S: i64 = 300;

/// What a device signs for one request: method, path with query, the time (unix seconds) and
/// the SHA-256 of the body, one per line.
pub fn request_message(method: &str, path_and_query: &str, time: i64, body: &[u8]) -> Vec<u8> {
    format!(
        "{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        time,
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn a_request_signature_covers_method_path_time_and_body() {
        let key = SigningKey::generate(Algorithm::Ed25519);
        let msg = request_message("post", "/api/v1/devices/K/events", 100, b"{}");
        let sig = key.sign(&msg);
        key.public_key().verify(&msg, &sig).unwrap();
        for other in [
            request_message("GET", "/api/v1/devices/K/events", 100, b"{}"),
            request_message("POST", "/api/v1/devices/L/events", 100, b"{}"),
            request_message("POST", "/api/v1/devices/K/events", 101, b"{}"),
            request_message("POST", "/api/v1/devices/K/events", 100, b"{ }"),
        ] {
            assert!(key.public_key().verify(&other, &sig).is_err());
        }
    }
}
