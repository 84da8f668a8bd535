//! The hall's service catalogue, as the centre distributes it in a signed document: the hall's
//! name, the queue's service groups (each with its ticket letter and how a citizen identifies
//! for it), and notices for the attract screen. A document that does not parse is refused with
//! the reason; the terminal keeps what it had.

use kiosk_protocol::signing::DocumentKind;
use serde::{Deserialize, Serialize};

use crate::journal::{Journal, OutboxError};

/// A text in the hall's two languages. English may be missing; Chinese is then shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Text {
    #[serde(rename = "zh-CN")]
    pub zh: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl Text {
    pub fn zh(s: &str) -> Text {
        Text {
            zh: s.to_string(),
            en: None,
        }
    }

    /// The text in `english` or Chinese.
    pub fn get(&self, english: bool) -> &str {
        match (&self.en, english) {
            (Some(en), true) if !en.is_empty() => en,
            _ => &self.zh,
        }
    }
}

/// Whether a queue group asks who the citizen is before a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Identification {
    /// Anyone may take a ticket.
    None,
    /// The citizen may identify (a ticket linked to a card or an appointment), or skip.
    Optional,
    /// A ticket only with an ID card or an appointment.
    Required,
}

/// How a citizen may identify for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    IdCard,
    Appointment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueGroup {
    /// The service id the centre numbers tickets under (`huji`).
    pub id: String,
    /// The ticket's letter (`A`).
    pub prefix: String,
    pub name: Text,
    #[serde(default)]
    pub summary: Text,
    pub identify: Identification,
    #[serde(default)]
    pub methods: Vec<Method>,
}

impl QueueGroup {
    pub fn accepts(&self, m: Method) -> bool {
        self.identify != Identification::None && self.methods.contains(&m)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hall {
    /// The hall's id at the centre (`kunshan-zwfw`).
    pub id: String,
    pub name: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    pub title: Text,
    pub text: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub groups: Vec<QueueGroup>,
    /// Where the ticket's QR code points (the hall's queue status page); empty: no QR code.
    #[serde(default)]
    pub status_url: String,
}

/// The catalogue document's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub hall: Hall,
    #[serde(default)]
    pub queue: Queue,
    #[serde(default)]
    pub notices: Vec<Notice>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("the catalogue does not parse: {0}")]
    Parse(String),
    #[error("the catalogue is inconsistent: {0}")]
    Invalid(String),
}

impl Catalogue {
    /// Reads and checks a catalogue body.
    pub fn from_json(v: &serde_json::Value) -> Result<Catalogue, CatalogueError> {
        let c: Catalogue =
            serde_json::from_value(v.clone()).map_err(|e| CatalogueError::Parse(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<(), CatalogueError> {
        let bad = |m: String| Err(CatalogueError::Invalid(m));
        if self.hall.id.is_empty() || !safe_id(&self.hall.id) {
            return bad(format!(
                "hall id {:?} must be letters, digits, '-' or '_'",
                self.hall.id
            ));
        }
        let mut ids = std::collections::HashSet::new();
        let mut prefixes = std::collections::HashSet::new();
        for g in &self.queue.groups {
            if !safe_id(&g.id) {
                return bad(format!(
                    "group id {:?} must be letters, digits, '-' or '_'",
                    g.id
                ));
            }
            if !ids.insert(g.id.as_str()) {
                return bad(format!("group {} appears twice", g.id));
            }
            let p = &g.prefix;
            if !(1..=2).contains(&p.len()) || !p.chars().all(|c| c.is_ascii_uppercase()) {
                return bad(format!(
                    "group {}: prefix {p:?} must be one or two capital letters",
                    g.id
                ));
            }
            if !prefixes.insert(p.as_str()) {
                return bad(format!("group {}: prefix {p} is used twice", g.id));
            }
            if g.name.zh.trim().is_empty() {
                return bad(format!("group {} has no Chinese name", g.id));
            }
            if g.identify != Identification::None && g.methods.is_empty() {
                return bad(format!(
                    "group {} asks for identification but names no method",
                    g.id
                ));
            }
        }
        Ok(())
    }

    pub fn group(&self, id: &str) -> Option<&QueueGroup> {
        self.queue.groups.iter().find(|g| g.id == id)
    }

    /// The catalogue in force on this terminal, if a valid one is.
    pub fn in_force(journal: &Journal) -> Result<Option<Catalogue>, CatalogueLoadError> {
        let doc = journal.lock().document(DocumentKind::Catalogue)?;
        match doc {
            None => Ok(None),
            Some(d) => Ok(Some(Catalogue::from_json(&d.body)?)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueLoadError {
    #[error(transparent)]
    Journal(#[from] OutboxError),
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
}

fn safe_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_sample_hall_catalogue_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hall-catalogue.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let c = Catalogue::from_json(&v).unwrap();
        assert!(c.queue.groups.len() >= 8);
        for want in [
            "户籍",
            "出入境",
            "社保",
            "医保",
            "公积金",
            "不动产",
            "市场监管",
            "税务",
        ] {
            assert!(
                c.queue.groups.iter().any(|g| g.name.zh.contains(want)),
                "no group for {want}"
            );
        }
        for g in &c.queue.groups {
            assert!(
                g.name.en.is_some() && g.summary.en.is_some(),
                "{} lacks English",
                g.id
            );
        }
        assert!(!c.notices.is_empty());
    }

    #[test]
    fn bad_catalogues_are_refused_with_the_reason() {
        let base = json!({
            "hall": {"id": "ks", "name": {"zh-CN": "昆山"}},
            "queue": {"groups": [
                {"id": "huji", "prefix": "A", "name": {"zh-CN": "户籍"}, "identify": "none"}
            ]}
        });
        assert!(Catalogue::from_json(&base).is_ok());
        let mut twice = base.clone();
        let again = twice["queue"]["groups"][0].clone();
        twice["queue"]["groups"].as_array_mut().unwrap().push(again);
        assert!(Catalogue::from_json(&twice)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let mut prefix = base.clone();
        prefix["queue"]["groups"][0]["prefix"] = json!("a1");
        assert!(Catalogue::from_json(&prefix)
            .unwrap_err()
            .to_string()
            .contains("capital"));
        let mut methods = base.clone();
        methods["queue"]["groups"][0]["identify"] = json!("required");
        assert!(Catalogue::from_json(&methods)
            .unwrap_err()
            .to_string()
            .contains("no method"));
        let mut unknown = base.clone();
        unknown["queue"]["groups"][0]["colour"] = json!("red");
        assert!(matches!(
            Catalogue::from_json(&unknown),
            Err(CatalogueError::Parse(_))
        ));
        assert!(matches!(
            Catalogue::from_json(&json!("not an object")),
            Err(CatalogueError::Parse(_))
        ));
    }

    #[test]
    fn text_falls_back_to_chinese() {
        let t = Text::zh("户籍");
        assert_eq!(t.get(true), "户籍");
        let t = Text {
            zh: "户籍".into(),
            en: Some("Household registration".into()),
        };
        assert_eq!(
            (t.get(false), t.get(true)),
            ("户籍", "Household registration")
        );
    }
}
