//! Who may call the gateway: the page's Origin must be one its business system serves from,
//! its bearer token must hash to that system's, the token must not have expired, and each
//! command needs its scope. Everything refused says why, in words an IT person can act on.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::config::{BusinessSystem, GatewayConfig};

/// The scopes a token may carry.
pub use kiosk_protocol::gateway::SCOPES;

/// What an admitted caller may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The business system, as the audit log names it.
    pub system: String,
    /// The Origin the page sent, or `native`.
    pub origin: String,
    pub scopes: Vec<String>,
}

impl Grant {
    pub fn allows(&self, scope: Option<&str>) -> bool {
        scope.is_none_or(|s| self.scopes.iter().any(|x| x == s))
    }
}

/// Why a caller was refused (HTTP 403 with this in the body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("origin {0} is not on this terminal's allow-list")]
    OriginNotAllowed(String),
    #[error("a request without an Origin is admitted only for a system configured as native")]
    NoOrigin,
    #[error("no bearer token was sent")]
    NoToken,
    #[error("the token is not one this terminal knows")]
    UnknownToken,
    #[error("the token of {system} is not for origin {origin}")]
    WrongOrigin { system: String, origin: String },
    #[error("the token of {system} expired on {day}")]
    Expired { system: String, day: NaiveDate },
}

impl Refusal {
    /// A stable code for the body and the audit line.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::OriginNotAllowed(_) => "origin-not-allowed",
            Refusal::NoOrigin => "origin-missing",
            Refusal::NoToken => "token-missing",
            Refusal::UnknownToken => "token-unknown",
            Refusal::WrongOrigin { .. } => "token-wrong-origin",
            Refusal::Expired { .. } => "token-expired",
        }
    }
}

/// `scheme://host[:port]`, as a browser sends it in Origin; or `native`.
pub fn check_origin_syntax(origin: &str) -> Result<(), String> {
    if origin == "native" {
        return Ok(());
    }
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or("starts with http:// or https://")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) || rest.ends_with(':') {
        return Err("is scheme://host[:port] with no path, as a browser sends it".into());
    }
    Ok(())
}

/// One business system's entry, as the config file or the centre's signed document gives it:
/// a token hash, known scopes, origins a browser can send.
pub fn check_system(s: &BusinessSystem) -> Result<(), String> {
    if s.name.is_empty() {
        return Err("a system needs a name".into());
    }
    if s.token_sha256.len() != 64 || !s.token_sha256.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "gateway system {}: token_sha256 is the token's SHA-256 in 64 hex digits",
            s.name
        ));
    }
    if let Some(scope) = s.scopes.iter().find(|x| !SCOPES.contains(&x.as_str())) {
        return Err(format!(
            "gateway system {}: unknown scope {scope:?} (known: {})",
            s.name,
            SCOPES.join(", ")
        ));
    }
    for origin in &s.origins {
        check_origin_syntax(origin)
            .map_err(|why| format!("gateway system {}: origin {origin:?}: {why}", s.name))?;
    }
    Ok(())
}

/// The business systems admitted: those of the config file, and those the centre paired and
/// distributed in its signed configuration document (`gateway_systems`), read as they are in
/// force now.
#[derive(Clone)]
pub struct Access {
    systems: Vec<BusinessSystem>,
    journal: Option<crate::journal::Journal>,
}

impl Access {
    pub fn new(config: &GatewayConfig, journal: Option<crate::journal::Journal>) -> Access {
        Access {
            systems: config.systems.clone(),
            journal,
        }
    }

    /// The config's systems and the centre's paired ones; a paired entry that does not check
    /// is left out (and said), never half-admitted.
    fn all(&self) -> Vec<BusinessSystem> {
        let mut all = self.systems.clone();
        let Some(journal) = &self.journal else {
            return all;
        };
        let doc = journal
            .lock()
            .document(kiosk_protocol::signing::DocumentKind::Config);
        let Ok(Some(doc)) = doc else {
            return all;
        };
        let Some(list) = doc.body.get("gateway_systems") else {
            return all;
        };
        match serde_json::from_value::<Vec<BusinessSystem>>(list.clone()) {
            Ok(paired) => {
                for s in paired {
                    match check_system(&s) {
                        Ok(()) if !all.iter().any(|a| a.name == s.name) => all.push(s),
                        Ok(()) => {
                            tracing::warn!(system = %s.name, "a paired system has a configured one's name; the configured one stays")
                        }
                        Err(why) => tracing::warn!(%why, "a paired gateway system was left out"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "the centre's gateway_systems cannot be read"),
        }
        all
    }

    /// Whether any system serves from `origin` (the allow-list, before a token is looked at).
    pub fn origin_listed(&self, origin: &str) -> bool {
        self.all()
            .iter()
            .any(|s| s.origins.iter().any(|o| o == origin))
    }

    /// Admits `token` from `origin` on `today`, or says why not.
    pub fn admit(
        &self,
        origin: Option<&str>,
        token: Option<&str>,
        today: NaiveDate,
    ) -> Result<Grant, Refusal> {
        let origin = match origin {
            Some(o) if !self.origin_listed(o) => {
                return Err(Refusal::OriginNotAllowed(o.to_string()))
            }
            Some(o) => o,
            None => "native",
        };
        let token = token.filter(|t| !t.is_empty()).ok_or(Refusal::NoToken)?;
        let digest = hex::encode(Sha256::digest(token.as_bytes()));
        let systems = self.all();
        let system = systems
            .iter()
            .find(|s| {
                constant_time_eq(
                    s.token_sha256.to_ascii_lowercase().as_bytes(),
                    digest.as_bytes(),
                )
            })
            .ok_or(Refusal::UnknownToken)?;
        if !system.origins.iter().any(|o| o == origin) {
            return Err(if origin == "native" {
                Refusal::NoOrigin
            } else {
                Refusal::WrongOrigin {
                    system: system.name.clone(),
                    origin: origin.to_string(),
                }
            });
        }
        if let Some(day) = system.expires {
            if today > day {
                return Err(Refusal::Expired {
                    system: system.name.clone(),
                    day,
                });
            }
        }
        Ok(Grant {
            system: system.name.clone(),
            origin: origin.to_string(),
            scopes: system.scopes.clone(),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a page sends in its WebSocket subprotocols (`hallkit.v1, bearer.TOKEN`).
pub fn token_from_protocols(header: Option<&str>) -> Option<String> {
    header?
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("bearer."))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(name: &str, origins: &[&str], token: &str, expires: Option<&str>) -> BusinessSystem {
        BusinessSystem {
            name: name.into(),
            origins: origins.iter().map(|s| s.to_string()).collect(),
            token_sha256: hex::encode(Sha256::digest(token.as_bytes())),
            scopes: vec!["idcard.read".into()],
            expires: expires.map(|d| d.parse().unwrap()),
        }
    }

    #[test]
    fn a_token_is_admitted_only_from_its_origins_and_until_it_expires() {
        let access = Access {
            journal: None,
            systems: vec![
                system(
                    "ywxt",
                    &["https://yw.example.gov.cn"],
                    "tok-a",
                    Some("2027-06-30"),
                ),
                system("local", &["native"], "tok-b", None),
            ],
        };
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        let g = access
            .admit(
                Some("https://yw.example.gov.cn"),
                Some("tok-a"),
                day("2027-06-30"),
            )
            .unwrap();
        assert_eq!(g.system, "ywxt");
        assert!(g.allows(Some("idcard.read")));
        assert!(!g.allows(Some("printer.print")));
        assert!(g.allows(None));
        let refused = |o: Option<&str>, t: Option<&str>, d: &str| {
            access.admit(o, t, day(d)).unwrap_err().code()
        };
        assert_eq!(
            refused(Some("https://evil.example"), Some("tok-a"), "2027-01-01"),
            "origin-not-allowed"
        );
        assert_eq!(
            refused(Some("https://yw.example.gov.cn"), None, "2027-01-01"),
            "token-missing"
        );
        assert_eq!(
            refused(
                Some("https://yw.example.gov.cn"),
                Some("nope"),
                "2027-01-01"
            ),
            "token-unknown"
        );
        assert_eq!(
            refused(
                Some("https://yw.example.gov.cn"),
                Some("tok-b"),
                "2027-01-01"
            ),
            "token-wrong-origin"
        );
        assert_eq!(refused(None, Some("tok-a"), "2027-01-01"), "origin-missing");
        assert_eq!(
            refused(
                Some("https://yw.example.gov.cn"),
                Some("tok-a"),
                "2027-07-01"
            ),
            "token-expired"
        );
        assert_eq!(
            access
                .admit(None, Some("tok-b"), day("2030-01-01"))
                .unwrap()
                .origin,
            "native"
        );
    }

    #[test]
    fn origins_are_checked_as_a_browser_sends_them() {
        for ok in ["https://a.gov.cn", "http://127.0.0.1:8080", "native"] {
            assert!(check_origin_syntax(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a.gov.cn",
            "https://a.gov.cn/",
            "https://",
            "ftp://x",
            "https://a b",
            "http://x:",
        ] {
            assert!(check_origin_syntax(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_token_comes_from_the_subprotocol_list() {
        assert_eq!(
            token_from_protocols(Some("hallkit.v1, bearer.abc")).as_deref(),
            Some("abc")
        );
        assert_eq!(token_from_protocols(Some("hallkit.v1")), None);
        assert_eq!(token_from_protocols(None), None);
    }
}
