//! The admin mode's network check: the centre reached now (or why not) with the round trip's
//! time, whether the link is TLS and through which trust, and how far the terminal's clock is
//! from the centre's (the `Date` of its answer). Signed requests and document validity depend
//! on the clock, so a skew beyond a minute is a finding.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::CentreClient;

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkCheck {
    pub url: String,
    pub reachable: bool,
    /// The round trip of `GET /health`.
    pub round_trip_ms: u64,
    pub transport: Transport,
    /// Centre minus terminal, in seconds, when the answer carried a date.
    pub skew_s: Option<i64>,
    /// The centre's version, or why it could not be reached.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// https, trusted through the configured CA only.
    TlsPinned,
    /// https, trusted through the system's roots.
    TlsSystem,
    /// http to this machine (the embedded centre).
    Loopback,
    /// http over the network: not encrypted.
    Plain,
}

/// A skew beyond this is reported as a problem.
pub const SKEW_LIMIT_S: i64 = 60;

impl NetworkCheck {
    pub fn skew_ok(&self) -> bool {
        self.skew_s.is_none_or(|s| s.abs() <= SKEW_LIMIT_S)
    }
}

fn transport(url: &str, pinned: bool) -> Transport {
    if url.starts_with("https://") {
        return if pinned {
            Transport::TlsPinned
        } else {
            Transport::TlsSystem
        };
    }
    let host = url
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    if matches!(host, "127.0.0.1" | "localhost" | "[") || host.starts_with("127.") {
        Transport::Loopback
    } else {
        Transport::Plain
    }
}

/// Checks the centre now; `now` is the terminal's clock when the answer arrives.
pub async fn check(
    client: &CentreClient,
    pinned: bool,
    now: impl Fn() -> DateTime<Utc>,
) -> NetworkCheck {
    let url = client.base().to_string();
    let started = Instant::now();
    let answer = client.http.get(client.url("/health")).send().await;
    let round_trip_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let transport = transport(&url, pinned);
    match answer {
        Ok(resp) => {
            let skew_s = resp
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|d| d.to_str().ok())
                .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
                .map(|d| (d.with_timezone(&Utc) - now()).num_seconds());
            let status = resp.status();
            let detail = match resp.json::<kiosk_protocol::wire::CentreHealth>().await {
                Ok(h) => format!("API {} · {} {}", h.api_version, h.store, h.service_version),
                Err(e) => format!("status {status}: {e}"),
            };
            NetworkCheck {
                url,
                reachable: status.is_success(),
                round_trip_ms,
                transport,
                skew_s,
                detail,
            }
        }
        Err(e) => NetworkCheck {
            url,
            reachable: false,
            round_trip_ms,
            transport,
            skew_s: None,
            detail: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transport_is_named_from_the_url_and_the_trust() {
        assert_eq!(
            transport("https://centre.hall:8443", true),
            Transport::TlsPinned
        );
        assert_eq!(
            transport("https://centre.hall", false),
            Transport::TlsSystem
        );
        assert_eq!(
            transport("http://127.0.0.1:7700", false),
            Transport::Loopback
        );
        assert_eq!(
            transport("http://localhost/api", false),
            Transport::Loopback
        );
        assert_eq!(transport("http://10.2.3.4:7700", false), Transport::Plain);
    }

    #[test]
    fn a_skew_beyond_a_minute_is_a_finding() {
        let mut c = NetworkCheck {
            url: String::new(),
            reachable: true,
            round_trip_ms: 3,
            transport: Transport::Loopback,
            skew_s: Some(-59),
            detail: String::new(),
        };
        assert!(c.skew_ok());
        c.skew_s = Some(61);
        assert!(!c.skew_ok());
        c.skew_s = None;
        assert!(c.skew_ok());
    }
}
