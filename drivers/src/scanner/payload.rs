//! What a scanned code is. Halls see four kinds: links, the province's one-code QR (一码通 such as
//! 新服码 or 随申码, recognised by their configured prefixes), appointment codes from the online
//! booking system (a configured pattern), and anything else as text.

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum ScanPayload {
    Url { url: String },
    OneCode { code: String },
    Appointment { code: String },
    Text { text: String },
}

/// The hall's rules for telling codes apart.
#[derive(Debug, Clone)]
pub struct PayloadRules {
    pub onecode_prefixes: Vec<String>,
    pub appointment: Regex,
}

/// The booking system's default appointment code: `YY` + date + `-` + 4-digit sequence.
pub const DEFAULT_APPOINTMENT: &str = r"^YY\d{8}-\d{4}$";

impl Default for PayloadRules {
    fn default() -> Self {
        PayloadRules {
            onecode_prefixes: Vec::new(),
            appointment: Regex::new(DEFAULT_APPOINTMENT)
                .unwrap_or_else(|e| unreachable!("the default pattern is valid: {e}")),
        }
    }
}

impl PayloadRules {
    pub fn new(onecode_prefixes: Vec<String>, appointment: Option<&str>) -> Result<Self, String> {
        let appointment = Regex::new(appointment.unwrap_or(DEFAULT_APPOINTMENT))
            .map_err(|e| format!("appointment_pattern: {e}"))?;
        Ok(PayloadRules {
            onecode_prefixes,
            appointment,
        })
    }

    pub fn classify(&self, text: &str) -> ScanPayload {
        let t = text.trim();
        if self
            .onecode_prefixes
            .iter()
            .any(|p| !p.is_empty() && t.starts_with(p.as_str()))
        {
            return ScanPayload::OneCode {
                code: t.to_string(),
            };
        }
        if self.appointment.is_match(t) {
            return ScanPayload::Appointment {
                code: t.to_string(),
            };
        }
        match url::Url::parse(t) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                ScanPayload::Url { url: u.to_string() }
            }
            _ => ScanPayload::Text {
                text: text.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_told_apart() {
        let rules = PayloadRules::new(
            vec!["https://xfm.example.gov.cn/".into(), "SSM:".into()],
            None,
        )
        .unwrap();
        assert_eq!(
            rules.classify("https://xfm.example.gov.cn/q?c=abc"),
            ScanPayload::OneCode {
                code: "https://xfm.example.gov.cn/q?c=abc".into()
            }
        );
        assert_eq!(
            rules.classify("SSM:0123456789"),
            ScanPayload::OneCode {
                code: "SSM:0123456789".into()
            }
        );
        assert_eq!(
            rules.classify("YY20261122-0042"),
            ScanPayload::Appointment {
                code: "YY20261122-0042".into()
            }
        );
        assert_eq!(
            rules.classify("https://zwfw.example.gov.cn/x"),
            ScanPayload::Url {
                url: "https://zwfw.example.gov.cn/x".into()
            }
        );
        assert_eq!(
            rules.classify("6901234567892"),
            ScanPayload::Text {
                text: "6901234567892".into()
            }
        );
        assert!(PayloadRules::new(vec![], Some("(")).is_err());
    }
}
