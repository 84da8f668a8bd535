//! The hall's service catalogue, as the centre distributes it in a signed document: the hall's
//! name, the queue's service groups (each with its ticket letter and how a citizen identifies
//! for it), notices for the attract screen, the service items citizens apply for or print
//! (`items`, with `forms` and `search` beside it), and the rating tags. A document that does
//! not parse or does not hold together is refused with the reason; the terminal keeps what it
//! had.

pub mod forms;
pub mod items;
pub mod search;

pub use forms::{CompiledField, Field, FieldError, FieldKind, Form, Prefill, Validator};
pub use items::{
    Answers, Category, Choice, Guide, ItemKind, Material, MaterialSource, Plan, Question,
    ServiceItem,
};
pub use search::{Match, SearchIndex};

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
    /// The hall's public guide page; a material list links there with the item and answers so
    /// a citizen can read it on a phone. Empty: no QR code.
    #[serde(default)]
    pub guide_url: String,
    /// Where a citizen follows a case on a phone (`…?case=20261203000042`); the receipt's QR
    /// code. Empty: no QR code.
    #[serde(default)]
    pub query_url: String,
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

/// Whether a rating tag is offered with the satisfied levels or the unsatisfied ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagFor {
    Satisfied,
    Unsatisfied,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingTag {
    pub id: String,
    pub label: Text,
    #[serde(rename = "for")]
    pub for_levels: TagFor,
    /// Where the tag is offered: a kiosk's tag ("the machine failed") means nothing for a
    /// clerk, and a window's ("friendly") nothing for a machine.
    #[serde(default)]
    pub channel: TagChannel,
}

/// Which ratings offer a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TagChannel {
    #[default]
    Any,
    Kiosk,
    Window,
}

impl RatingTag {
    /// Offered on a kiosk's rating (`window` false) or a window unit's.
    pub fn offered_at(&self, window: bool) -> bool {
        match self.channel {
            TagChannel::Any => true,
            TagChannel::Kiosk => !window,
            TagChannel::Window => window,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    pub tags: Vec<RatingTag>,
}

/// The catalogue document's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub hall: Hall,
    #[serde(default)]
    pub queue: Queue,
    #[serde(default)]
    pub notices: Vec<Notice>,
    #[serde(default)]
    pub items: Vec<ServiceItem>,
    #[serde(default)]
    pub rating: Rating,
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
        let mut items = std::collections::HashSet::new();
        for item in &self.items {
            if !safe_id(&item.id) {
                return bad(format!(
                    "item id {:?} must be letters, digits, '-' or '_'",
                    item.id
                ));
            }
            if !items.insert(item.id.as_str()) {
                return bad(format!("item {} appears twice", item.id));
            }
            item.check().map_err(CatalogueError::Invalid)?;
        }
        let mut tags = std::collections::HashSet::new();
        for t in &self.rating.tags {
            if !safe_id(&t.id) || !tags.insert(t.id.as_str()) {
                return bad(format!("rating tag {:?} is not a unique plain id", t.id));
            }
        }
        Ok(())
    }

    pub fn group(&self, id: &str) -> Option<&QueueGroup> {
        self.queue.groups.iter().find(|g| g.id == id)
    }

    pub fn item(&self, id: &str) -> Option<&ServiceItem> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The home screen's common items, in catalogue order.
    pub fn common_items(&self) -> impl Iterator<Item = &ServiceItem> {
        self.items.iter().filter(|i| i.common)
    }

    pub fn items_in(&self, category: Category) -> impl Iterator<Item = &ServiceItem> {
        self.items.iter().filter(move |i| i.category == category)
    }

    /// The departments that have items, in the order they first appear.
    pub fn departments(&self) -> Vec<&Text> {
        let mut seen: Vec<&Text> = Vec::new();
        for i in &self.items {
            if !seen.iter().any(|d| d.zh == i.department.zh) {
                seen.push(&i.department);
            }
        }
        seen
    }

    pub fn items_of_department<'a>(
        &'a self,
        department: &'a str,
    ) -> impl Iterator<Item = &'a ServiceItem> {
        self.items
            .iter()
            .filter(move |i| i.department.zh == department)
    }

    pub fn search_index(&self) -> SearchIndex {
        SearchIndex::new(&self.items)
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

    fn sample() -> Catalogue {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hall-catalogue.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        Catalogue::from_json(&v).unwrap()
    }

    fn answers(pairs: &[(&str, &[&str])]) -> Answers {
        pairs
            .iter()
            .map(|(q, a)| (q.to_string(), a.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    /// The sample is what halls copy: it must show every feature the catalogue has.
    #[test]
    fn the_sample_items_use_every_feature() {
        use std::collections::HashSet;
        let c = sample();
        assert!(c.items.len() >= 6);
        for want in [
            "户籍证明",
            "居住证签注",
            "社保参保证明打印",
            "不动产登记信息查询",
            "个体工商户登记",
            "公积金缴存证明",
        ] {
            assert!(c.items.iter().any(|i| i.name.zh == want), "no item {want}");
        }
        let categories: HashSet<_> = c.items.iter().map(|i| i.category).collect();
        assert_eq!(categories.len(), Category::ALL.len());
        let kinds: HashSet<_> = c.items.iter().map(|i| format!("{:?}", i.kind)).collect();
        assert_eq!(kinds.len(), 3);
        assert!(c.departments().len() >= 5);
        assert!(c.common_items().count() >= 4);
        let fields: Vec<&Field> = c
            .items
            .iter()
            .flat_map(|i| &i.forms)
            .flat_map(|f| &f.fields)
            .collect();
        let field_kinds: HashSet<_> = fields.iter().map(|f| format!("{:?}", f.kind)).collect();
        assert_eq!(field_kinds.len(), 9, "every field kind: {field_kinds:?}");
        let rules: HashSet<_> = fields
            .iter()
            .flat_map(|f| &f.validators)
            .map(std::mem::discriminant)
            .collect();
        assert_eq!(rules.len(), 10, "every validator");
        let prefills: HashSet<_> = fields.iter().filter_map(|f| f.prefill).collect();
        assert!(prefills.len() >= 5, "{prefills:?}");
        let sources: HashSet<_> = c
            .items
            .iter()
            .flat_map(|i| &i.materials)
            .map(|m| std::mem::discriminant(&m.source))
            .collect();
        assert_eq!(
            sources.len(),
            4,
            "capture, e-licence, generated, at a window"
        );
        let questions: Vec<&Question> = c.items.iter().flat_map(|i| &i.questions).collect();
        assert!(questions
            .iter()
            .any(|q| q.choice == Choice::Multiple && !q.required));
        assert!(questions.iter().any(|q| q.when.is_some()), "a branch");
        assert!(questions
            .iter()
            .flat_map(|q| &q.answers)
            .any(|a| a.at_window));
        for i in &c.items {
            assert!(i.name.en.is_some(), "{} lacks English", i.id);
            assert!(!i.guide.notice.zh.is_empty() && !i.guide.time_limit.zh.is_empty());
        }
        assert!(c
            .rating
            .tags
            .iter()
            .any(|t| t.for_levels == TagFor::Unsatisfied));
    }

    #[test]
    fn answers_decide_the_forms_and_materials() {
        let c = sample();
        let huji = c.item("huji-zhengming").unwrap();
        // Before anything is answered, the branch question is not asked.
        assert_eq!(huji.questions_for(&Answers::new()).len(), 2);
        let own = huji
            .plan(&answers(&[
                ("purpose", &["school"]),
                ("for_whom", &["self"]),
            ]))
            .unwrap();
        assert_eq!(own.forms, ["application"]);
        assert_eq!(own.materials, ["id-card", "application-pdf"]);
        assert!(own.at_window.is_empty());
        let family = answers(&[
            ("purpose", &["job"]),
            ("for_whom", &["family"]),
            ("relation", &["spouse"]),
        ]);
        assert_eq!(huji.questions_for(&family).len(), 3, "the branch opens");
        let plan = huji.plan(&family).unwrap();
        assert_eq!(plan.forms, ["application", "relation"]);
        assert_eq!(
            plan.materials,
            [
                "id-card",
                "hukou-book",
                "marriage-certificate",
                "application-pdf"
            ]
        );
        let deceased = huji
            .plan(&answers(&[
                ("purpose", &["other"]),
                ("for_whom", &["deceased"]),
            ]))
            .unwrap();
        assert_eq!(deceased.at_window, ["deceased"]);
        // The branch question is required once open.
        assert_eq!(
            huji.plan(&answers(&[
                ("purpose", &["job"]),
                ("for_whom", &["family"])
            ])),
            Err(items::AnswerError::Unanswered("relation".into()))
        );
        assert!(matches!(
            huji.plan(&answers(&[
                ("purpose", &["job", "school"]),
                ("for_whom", &["self"])
            ])),
            Err(items::AnswerError::OneOnly(_))
        ));
        assert!(matches!(
            huji.plan(&answers(&[("purpose", &["nope"]), ("for_whom", &["self"])])),
            Err(items::AnswerError::Unknown { .. })
        ));
        let permit = c.item("juzhuzheng-qianzhu").unwrap();
        let both = permit
            .plan(&answers(&[
                ("valid", &["yes"]),
                ("basis", &["rent"]),
                ("extra", &["social", "contract"]),
            ]))
            .unwrap();
        assert_eq!(
            both.materials,
            [
                "permit",
                "lease",
                "social-record",
                "contract",
                "application-pdf"
            ]
        );
        let none = permit
            .plan(&answers(&[("valid", &["yes"]), ("basis", &["own"])]))
            .unwrap();
        assert!(none.materials.contains(&"property-certificate".to_string()));
    }

    #[test]
    fn the_sample_forms_check_what_citizens_type() {
        let c = sample();
        let geti = c.item("getihu-dengji").unwrap();
        let fields = geti.compiled_form("registration").unwrap();
        let field = |code: &str| fields.iter().find(|f| f.field.code == code).unwrap();
        assert_eq!(field("business_name").check("昆山市玉山镇小李面馆"), Ok(()));
        assert!(matches!(
            field("business_name").check("Li's noodles"),
            Err(FieldError::Pattern(_))
        ));
        assert_eq!(
            field("employees").check("0"),
            Err(FieldError::BelowMin("1".into()))
        );
        assert_eq!(field("capital").check("5.5"), Ok(()));
        assert_eq!(field("contact_email").check(""), Ok(()), "optional");
        assert_eq!(
            field("operator_id_number").check(""),
            Err(FieldError::Missing)
        );
    }

    #[test]
    fn home_search_finds_items_by_words_initials_and_pinyin() {
        let c = sample();
        let index = c.search_index();
        let names = |q: &str| -> Vec<String> {
            index
                .search(q)
                .into_iter()
                .map(|(i, _)| c.items[i].name.zh.clone())
                .collect()
        };
        assert_eq!(names("户籍").first().map(String::as_str), Some("户籍证明"));
        assert_eq!(names("hjzm"), ["户籍证明"]);
        assert_eq!(names("HJZM"), ["户籍证明"], "capitals too");
        assert_eq!(
            names("gjj").first().map(String::as_str),
            Some("公积金缴存证明")
        );
        assert_eq!(names("huji").first().map(String::as_str), Some("户籍证明"));
        assert!(names("zm").len() >= 3, "every 证明: {:?}", names("zm"));
        assert_eq!(names("营业执照"), ["个体工商户登记"], "by keyword");
        assert_eq!(
            names("residence").first().map(String::as_str),
            Some("居住证签注")
        );
        assert!(names("").is_empty());
        assert!(names("xyzxyz").is_empty());
        // A name match ranks above a keyword match.
        let found = index.search("证明");
        assert!(found.windows(2).all(|w| w[0].1 <= w[1].1));
    }

    #[test]
    fn items_that_do_not_hold_together_are_refused() {
        let base = json!({
            "hall": {"id": "ks", "name": {"zh-CN": "昆山"}},
            "items": [{
                "id": "x", "name": {"zh-CN": "事项"}, "department": {"zh-CN": "局"},
                "category": "personal", "kind": "apply",
                "questions": [{"id": "q", "title": {"zh-CN": "问"}, "choice": "single",
                    "answers": [{"id": "a", "label": {"zh-CN": "答"}, "materials": ["m"]}]}],
                "materials": [{"id": "m", "name": {"zh-CN": "材料"}, "source": "capture", "min_pages": 1, "max_pages": 2}]
            }]
        });
        assert!(Catalogue::from_json(&base).is_ok());
        let refused = |edit: &dyn Fn(&mut serde_json::Value), want: &str| {
            let mut v = base.clone();
            edit(&mut v);
            let e = Catalogue::from_json(&v).unwrap_err().to_string();
            assert!(e.contains(want), "{e} lacks {want}");
        };
        refused(
            &|v| v["items"][0]["questions"][0]["answers"][0]["materials"] = json!(["nope"]),
            "unknown material nope",
        );
        refused(
            &|v| v["items"][0]["materials"][0]["max_pages"] = json!(0),
            "make no sense",
        );
        refused(
            &|v| v["items"][0]["questions"][0]["when"] = json!({"question": "q", "answer": "a"}),
            "not asked before",
        );
        refused(&|v| v["items"][0]["kind"] = json!("proof"), "no proof type");
        refused(
            &|v| {
                let again = v["items"][0].clone();
                v["items"].as_array_mut().unwrap().push(again);
            },
            "appears twice",
        );
        refused(
            &|v| {
                v["items"][0]["forms"] = json!([{"id": "f", "title": {"zh-CN": "表"}, "fields": [
            {"code": "c", "label": {"zh-CN": "字段"}, "kind": "text",
             "validators": [{"rule": "pattern", "regex": "(", "message": {"zh-CN": "x"}}]}]}])
            },
            "pattern",
        );
        let mut unknown_rule = base.clone();
        unknown_rule["items"][0]["forms"] = json!([{"id": "f", "title": {"zh-CN": "表"}, "fields": [
            {"code": "c", "label": {"zh-CN": "字段"}, "kind": "text", "validators": [{"rule": "psychic"}]}]}]);
        assert!(matches!(
            Catalogue::from_json(&unknown_rule),
            Err(CatalogueError::Parse(_))
        ));
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
