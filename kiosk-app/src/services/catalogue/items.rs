//! Service items (事项): what a citizen can apply for or print at the terminal. Each item has
//! its guide (办事指南), a situation tree (情形问答) whose answers decide which forms and
//! materials the case needs, the forms, and the materials with where each comes from.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::forms::{CompiledField, Form};
use super::Text;

/// Where an item sits on the home screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// 个人服务
    Personal,
    /// 法人服务
    LegalPerson,
    /// 查询打印
    QueryPrint,
}

impl Category {
    pub const ALL: [Category; 3] = [
        Category::Personal,
        Category::LegalPerson,
        Category::QueryPrint,
    ];

    pub fn name(self) -> Text {
        let (zh, en) = match self {
            Category::Personal => ("个人服务", "For citizens"),
            Category::LegalPerson => ("法人服务", "For businesses"),
            Category::QueryPrint => ("查询打印", "Look up and print"),
        };
        Text {
            zh: zh.into(),
            en: Some(en.into()),
        }
    }
}

/// What the terminal does with the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// Guide → questions → materials → form → sign → submit: a case at the centre.
    Apply,
    /// A proof generated from the citizen's records at the centre, printed on the spot.
    Proof,
    /// A look-up shown on screen and printable (records, not a case).
    Lookup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Guide {
    /// 办理须知: what the citizen should know first.
    pub notice: Text,
    /// 设定依据
    pub legal_basis: Text,
    /// 承诺时限, e.g. 「即办」 or 「5 个工作日」.
    pub time_limit: Text,
    /// 收费标准, e.g. 「不收费」.
    pub fee: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Choice {
    Single,
    Multiple,
}

/// One answer to a situation question, and what choosing it adds to the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub id: String,
    pub label: Text,
    #[serde(default)]
    pub materials: Vec<String>,
    #[serde(default)]
    pub forms: Vec<String>,
    /// Too complex for the terminal: the screen says to hand the case in at a window.
    #[serde(default)]
    pub at_window: bool,
}

/// Asked only when an earlier question was answered a certain way: the tree's branches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskedWhen {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub title: Text,
    #[serde(default = "yes")]
    pub required: bool,
    pub choice: Choice,
    pub answers: Vec<Answer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<AskedWhen>,
}

fn yes() -> bool {
    true
}

/// Where a material comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaterialSource {
    /// Photographed on the document camera, page by page.
    Capture { min_pages: u32, max_pages: u32 },
    /// An electronic licence (电子证照) of this type from the citizen's licence list.
    Elicence { licence_type: String },
    /// Made by the terminal from a form the citizen filled (the application form PDF).
    Generated { form: String },
    /// Cannot be taken at the terminal: handed in at a window.
    AtWindow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MaterialEntry", into = "MaterialEntry")]
pub struct Material {
    pub id: String,
    pub name: Text,
    pub source: MaterialSource,
    pub required: bool,
    /// 原件 / 复印件 and how many copies, in words.
    pub note: Text,
    /// Needed whatever the answers.
    pub always: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum SourceKind {
    Capture,
    Elicence,
    Generated,
    AtWindow,
}

/// A material as the document spells it: the source's own keys sit beside the others, and a
/// key that belongs to another source is refused rather than ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaterialEntry {
    id: String,
    name: Text,
    source: SourceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_pages: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_pages: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    licence_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    form: Option<String>,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    note: Text,
    #[serde(default)]
    always: bool,
}

impl TryFrom<MaterialEntry> for Material {
    type Error = String;

    fn try_from(e: MaterialEntry) -> Result<Material, String> {
        let stray = |keys: &[(&str, bool)]| -> Result<(), String> {
            match keys.iter().find(|(_, present)| *present) {
                Some((key, _)) => Err(format!(
                    "material {}: {key} does not belong to source {:?}",
                    e.id, e.source
                )),
                None => Ok(()),
            }
        };
        let source = match e.source {
            SourceKind::Capture => {
                stray(&[
                    ("licence_type", e.licence_type.is_some()),
                    ("form", e.form.is_some()),
                ])?;
                MaterialSource::Capture {
                    min_pages: e.min_pages.unwrap_or(1),
                    max_pages: e.max_pages.unwrap_or(1),
                }
            }
            SourceKind::Elicence => {
                stray(&[
                    ("form", e.form.is_some()),
                    ("max_pages", e.max_pages.is_some()),
                ])?;
                MaterialSource::Elicence {
                    licence_type: e.licence_type.clone().ok_or_else(|| {
                        format!("material {}: an e-licence needs licence_type", e.id)
                    })?,
                }
            }
            SourceKind::Generated => {
                stray(&[
                    ("licence_type", e.licence_type.is_some()),
                    ("max_pages", e.max_pages.is_some()),
                ])?;
                MaterialSource::Generated {
                    form: e.form.clone().ok_or_else(|| {
                        format!("material {}: a generated material needs form", e.id)
                    })?,
                }
            }
            SourceKind::AtWindow => {
                stray(&[
                    ("licence_type", e.licence_type.is_some()),
                    ("form", e.form.is_some()),
                    ("max_pages", e.max_pages.is_some()),
                ])?;
                MaterialSource::AtWindow
            }
        };
        Ok(Material {
            id: e.id,
            name: e.name,
            source,
            required: e.required,
            note: e.note,
            always: e.always,
        })
    }
}

impl From<Material> for MaterialEntry {
    fn from(m: Material) -> MaterialEntry {
        let mut e = MaterialEntry {
            id: m.id,
            name: m.name,
            source: SourceKind::AtWindow,
            min_pages: None,
            max_pages: None,
            licence_type: None,
            form: None,
            required: m.required,
            note: m.note,
            always: m.always,
        };
        match m.source {
            MaterialSource::Capture {
                min_pages,
                max_pages,
            } => {
                e.source = SourceKind::Capture;
                e.min_pages = Some(min_pages);
                e.max_pages = Some(max_pages);
            }
            MaterialSource::Elicence { licence_type } => {
                e.source = SourceKind::Elicence;
                e.licence_type = Some(licence_type);
            }
            MaterialSource::Generated { form } => {
                e.source = SourceKind::Generated;
                e.form = Some(form);
            }
            MaterialSource::AtWindow => {}
        }
        e
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceItem {
    /// The item's code at the centre (`huji-zhengming`).
    pub id: String,
    pub name: Text,
    pub department: Text,
    pub category: Category,
    pub kind: ItemKind,
    /// Shown among the common items on the home screen.
    #[serde(default)]
    pub common: bool,
    /// Words a citizen might search for that are not in the name (`开证明`).
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub guide: Guide,
    #[serde(default)]
    pub questions: Vec<Question>,
    #[serde(default)]
    pub forms: Vec<Form>,
    #[serde(default)]
    pub materials: Vec<Material>,
    /// The forms every case of this item fills, whatever the answers.
    #[serde(default)]
    pub always_forms: Vec<String>,
    /// For proofs: the proof type the centre generates (`shebao-canbao`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

/// What a set of answers asks of the case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub forms: Vec<String>,
    pub materials: Vec<String>,
    /// The answers that send the citizen to a window, if any.
    pub at_window: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("question {0} needs an answer")]
    Unanswered(String),
    #[error("question {0} takes one answer")]
    OneOnly(String),
    #[error("question {question} has no answer {answer}")]
    Unknown { question: String, answer: String },
    #[error("no question {0}")]
    NoQuestion(String),
}

/// The citizen's answers: question id → chosen answer ids.
pub type Answers = HashMap<String, BTreeSet<String>>;

impl ServiceItem {
    /// The questions to ask given the answers so far, in order: a question whose `when` is
    /// not met is skipped, and so is everything that hangs on it.
    pub fn questions_for(&self, answers: &Answers) -> Vec<&Question> {
        let mut asked: Vec<&Question> = Vec::new();
        for q in &self.questions {
            let shown = match &q.when {
                None => true,
                Some(w) => {
                    asked.iter().any(|a| a.id == w.question)
                        && answers
                            .get(&w.question)
                            .is_some_and(|chosen| chosen.contains(&w.answer))
                }
            };
            if shown {
                asked.push(q);
            }
        }
        asked
    }

    /// The forms and materials these answers ask for; an error names the first question not
    /// properly answered.
    pub fn plan(&self, answers: &Answers) -> Result<Plan, AnswerError> {
        for id in answers.keys() {
            if !self.questions.iter().any(|q| &q.id == id) {
                return Err(AnswerError::NoQuestion(id.clone()));
            }
        }
        let mut forms: Vec<String> = self.always_forms.clone();
        let mut materials: Vec<String> = self
            .materials
            .iter()
            .filter(|m| m.always)
            .map(|m| m.id.clone())
            .collect();
        let mut at_window = Vec::new();
        for q in self.questions_for(answers) {
            let chosen = answers.get(&q.id).cloned().unwrap_or_default();
            if chosen.is_empty() && q.required {
                return Err(AnswerError::Unanswered(q.id.clone()));
            }
            if q.choice == Choice::Single && chosen.len() > 1 {
                return Err(AnswerError::OneOnly(q.id.clone()));
            }
            for c in &chosen {
                let a =
                    q.answers
                        .iter()
                        .find(|a| &a.id == c)
                        .ok_or_else(|| AnswerError::Unknown {
                            question: q.id.clone(),
                            answer: c.clone(),
                        })?;
                forms.extend(a.forms.iter().cloned());
                materials.extend(a.materials.iter().cloned());
                if a.at_window {
                    at_window.push(a.id.clone());
                }
            }
        }
        // Keep the catalogue's order and drop repeats: the list the citizen reads is stable.
        let order = |ids: Vec<String>, all: Vec<&str>| -> Vec<String> {
            let wanted: HashSet<String> = ids.into_iter().collect();
            all.into_iter()
                .filter(|id| wanted.contains(*id))
                .map(str::to_string)
                .collect()
        };
        Ok(Plan {
            forms: order(forms, self.forms.iter().map(|f| f.id.as_str()).collect()),
            materials: order(
                materials,
                self.materials.iter().map(|m| m.id.as_str()).collect(),
            ),
            at_window,
        })
    }

    pub fn form(&self, id: &str) -> Option<&Form> {
        self.forms.iter().find(|f| f.id == id)
    }

    pub fn material(&self, id: &str) -> Option<&Material> {
        self.materials.iter().find(|m| m.id == id)
    }

    /// Checks the item's own consistency: ids unique, every reference resolves, patterns
    /// compile, branches point backwards.
    pub fn check(&self) -> Result<(), String> {
        let at = |m: String| format!("item {}: {m}", self.id);
        if self.name.zh.trim().is_empty() {
            return Err(at("no Chinese name".into()));
        }
        let forms: HashSet<&str> = self.forms.iter().map(|f| f.id.as_str()).collect();
        let materials: HashSet<&str> = self.materials.iter().map(|m| m.id.as_str()).collect();
        if forms.len() != self.forms.len() {
            return Err(at("a form id appears twice".into()));
        }
        if materials.len() != self.materials.len() {
            return Err(at("a material id appears twice".into()));
        }
        for f in &self.forms {
            let mut codes = HashSet::new();
            for field in &f.fields {
                if !codes.insert(field.code.as_str()) {
                    return Err(at(format!(
                        "form {}: field {} appears twice",
                        f.id, field.code
                    )));
                }
                field.compile().map_err(at)?;
                if field.kind == super::forms::FieldKind::Choice && field.options.is_empty() {
                    return Err(at(format!(
                        "form {}: choice {} has no options",
                        f.id, field.code
                    )));
                }
            }
        }
        for id in &self.always_forms {
            if !forms.contains(id.as_str()) {
                return Err(at(format!("always_forms names unknown form {id}")));
            }
        }
        for m in &self.materials {
            if let MaterialSource::Generated { form } = &m.source {
                if !forms.contains(form.as_str()) {
                    return Err(at(format!(
                        "material {} is generated from unknown form {form}",
                        m.id
                    )));
                }
            }
            if let MaterialSource::Capture {
                min_pages,
                max_pages,
            } = m.source
            {
                if min_pages > max_pages || max_pages == 0 || max_pages > 50 {
                    return Err(at(format!(
                        "material {}: pages {min_pages}..{max_pages} make no sense",
                        m.id
                    )));
                }
            }
        }
        let mut seen: HashMap<&str, &Question> = HashMap::new();
        for q in &self.questions {
            if seen.contains_key(q.id.as_str()) {
                return Err(at(format!("question {} appears twice", q.id)));
            }
            if q.answers.is_empty() {
                return Err(at(format!("question {} has no answers", q.id)));
            }
            let mut answer_ids = HashSet::new();
            for a in &q.answers {
                if !answer_ids.insert(a.id.as_str()) {
                    return Err(at(format!(
                        "question {}: answer {} appears twice",
                        q.id, a.id
                    )));
                }
                for m in &a.materials {
                    if !materials.contains(m.as_str()) {
                        return Err(at(format!(
                            "answer {}.{} names unknown material {m}",
                            q.id, a.id
                        )));
                    }
                }
                for f in &a.forms {
                    if !forms.contains(f.as_str()) {
                        return Err(at(format!(
                            "answer {}.{} names unknown form {f}",
                            q.id, a.id
                        )));
                    }
                }
            }
            if let Some(w) = &q.when {
                // Only an earlier question can open a branch, so the tree has no cycles.
                let Some(parent) = seen.get(w.question.as_str()) else {
                    return Err(at(format!(
                        "question {} hangs on {}, which is not asked before it",
                        q.id, w.question
                    )));
                };
                if !parent.answers.iter().any(|a| a.id == w.answer) {
                    return Err(at(format!(
                        "question {} hangs on answer {}.{}, which does not exist",
                        q.id, w.question, w.answer
                    )));
                }
            }
            seen.insert(q.id.as_str(), q);
        }
        if self.kind == ItemKind::Proof && self.proof.is_none() {
            return Err(at("a proof item names no proof type".into()));
        }
        Ok(())
    }

    /// The form's fields compiled for checking as the citizen types.
    pub fn compiled_form(&self, id: &str) -> Option<Vec<CompiledField>> {
        self.form(id)?
            .fields
            .iter()
            .map(|f| f.compile().ok())
            .collect()
    }
}
