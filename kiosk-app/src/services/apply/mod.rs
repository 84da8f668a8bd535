//! What an application holds while the citizen fills it: the form's fields in order with the
//! values given (prefilled from the card where the catalogue says so), how the result is
//! collected, the pages photographed for each material, and the signature. All of it is
//! personal data: it lives here, in memory, for the session, is wiped when dropped, and leaves
//! only sealed (`filing`).

pub mod document;
pub mod filing;
pub mod ink;

use kiosk_hal::privacy::{mask_id_number, mask_name, mask_phone};
use kiosk_protocol::cases::Pickup;
use zeroize::Zeroizing;

use super::card::CitizenIdentity;
use super::catalogue::{
    Answers, CompiledField, FieldError, FieldKind, MaterialSource, Plan, Prefill, ServiceItem, Text,
};

/// A field of the application with the form it belongs to.
#[derive(Debug, Clone)]
pub struct Entry {
    pub form: String,
    pub form_title: Text,
    pub field: CompiledField,
}

impl Entry {
    /// Which keyboard the field wants.
    pub fn keyboard(&self) -> Keyboard {
        match self.field.field.kind {
            FieldKind::Choice => Keyboard::None,
            FieldKind::IdNumber
            | FieldKind::Mobile
            | FieldKind::Integer
            | FieldKind::Number
            | FieldKind::Date => Keyboard::Digits,
            FieldKind::Email => Keyboard::Latin,
            FieldKind::Text | FieldKind::LongText => Keyboard::Pinyin,
        }
    }

    /// The key the digit pad offers beside the digits: X for ID numbers, - for dates, . for
    /// numbers, none for mobiles and integers.
    pub fn digit_extra(&self) -> &'static str {
        match self.field.field.kind {
            FieldKind::IdNumber => "X",
            FieldKind::Date => "-",
            FieldKind::Number => ".",
            _ => "",
        }
    }

    /// The longest value the keyboard takes for this field.
    pub fn max_chars(&self) -> usize {
        let from_rules = self.field.field.validators.iter().find_map(|v| match v {
            super::catalogue::Validator::MaxLength { value } => Some(*value),
            _ => None,
        });
        let by_kind = match self.field.field.kind {
            FieldKind::IdNumber => 18,
            FieldKind::Mobile => 11,
            FieldKind::Date => 10,
            FieldKind::LongText => 200,
            _ => 60,
        };
        from_rules.unwrap_or(by_kind).min(by_kind.max(20))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyboard {
    None,
    Pinyin,
    Digits,
    Latin,
}

/// A material photographed page by page.
#[derive(Debug, Clone)]
pub struct Capture {
    pub id: String,
    pub name: Text,
    pub note: Text,
    pub min: u32,
    pub max: u32,
}

/// An e-licence material: taken from the citizen's licence list (电子证照库).
#[derive(Debug, Clone)]
pub struct LicenceWanted {
    pub id: String,
    pub name: Text,
    pub licence_type: String,
    pub required: bool,
}

/// What this terminal takes for the item and the answers, or why it cannot.
#[derive(Debug, Clone)]
pub struct Shape {
    pub entries: Vec<Entry>,
    pub captures: Vec<Capture>,
    /// The e-licence materials, from the citizen's licence list.
    pub licences: Vec<LicenceWanted>,
    /// The generated materials (the application form as PDF), by name.
    pub generated: Vec<Text>,
    /// Materials this terminal cannot take (those for a window): the citizen is sent to a
    /// window with them.
    pub not_here: Vec<Text>,
}

/// The fields and materials `plan` asks of `item`.
pub fn shape(item: &ServiceItem, plan: &Plan) -> Result<Shape, String> {
    let mut entries = Vec::new();
    for form_id in &plan.forms {
        let form = item
            .form(form_id)
            .ok_or_else(|| format!("form {form_id} is not in item {}", item.id))?;
        for f in &form.fields {
            entries.push(Entry {
                form: form.id.clone(),
                form_title: form.title.clone(),
                field: f.compile()?,
            });
        }
    }
    let mut captures = Vec::new();
    let mut licences = Vec::new();
    let mut generated = Vec::new();
    let mut not_here = Vec::new();
    for id in &plan.materials {
        let m = item
            .material(id)
            .ok_or_else(|| format!("material {id} is not in item {}", item.id))?;
        match &m.source {
            MaterialSource::Capture {
                min_pages,
                max_pages,
            } => captures.push(Capture {
                id: m.id.clone(),
                name: m.name.clone(),
                note: m.note.clone(),
                min: (*min_pages).max(u32::from(m.required)),
                max: (*max_pages).max(1),
            }),
            MaterialSource::Generated { .. } => generated.push(m.name.clone()),
            MaterialSource::Elicence { licence_type } => licences.push(LicenceWanted {
                id: m.id.clone(),
                name: m.name.clone(),
                licence_type: licence_type.clone(),
                required: m.required,
            }),
            MaterialSource::AtWindow => {
                if m.required {
                    not_here.push(m.name.clone());
                }
            }
        }
    }
    if !plan.at_window.is_empty() {
        not_here.push(Text {
            zh: "本情形需到窗口办理".into(),
            en: Some("This case is handled at a window".into()),
        });
    }
    Ok(Shape {
        entries,
        captures,
        licences,
        generated,
        not_here,
    })
}

/// A page as taken: the document pipeline's page (JPEG) and its thumbnail.
pub struct Page {
    pub jpeg: Zeroizing<Vec<u8>>,
    /// Shared with the screen's view while the page is in the application.
    pub thumb: std::sync::Arc<Zeroizing<Vec<u8>>>,
}

/// The application being filled.
pub struct Application {
    pub item: ServiceItem,
    pub answers: Answers,
    pub shape: Shape,
    pub values: Vec<Option<Zeroizing<String>>>,
    pub pickup: Option<Pickup>,
    pub address: Option<Zeroizing<String>>,
    /// Pages per capture material, in `shape.captures` order.
    pub pages: Vec<Vec<Page>>,
    /// The citizen's licence for each e-licence material, in `shape.licences` order (none:
    /// not in their list).
    pub licences: Vec<Option<kiosk_protocol::documents::Licence>>,
    pub ink: ink::Ink,
    /// The query password and the reference, once filed.
    pub password: Option<Zeroizing<String>>,
}

impl Drop for Application {
    fn drop(&mut self) {
        // The e-licences taken are the citizen's; the rest wipes itself (`Zeroizing`).
        self.licences
            .iter_mut()
            .flatten()
            .for_each(crate::services::papers::wipe_licence);
    }
}

/// The postal address: at least a street and number, at most what a label holds.
pub const ADDRESS_MIN: usize = 8;
pub const ADDRESS_MAX: usize = 60;

impl Application {
    pub fn new(item: ServiceItem, answers: Answers, shape: Shape) -> Application {
        let n = shape.entries.len();
        let pages = shape.captures.iter().map(|_| Vec::new()).collect();
        let licences = shape.licences.iter().map(|_| None).collect();
        Application {
            item,
            answers,
            shape,
            values: (0..n).map(|_| None).collect(),
            pickup: None,
            address: None,
            pages,
            licences,
            ink: ink::Ink::default(),
            password: None,
        }
    }

    /// Fills every field the catalogue prefills from the card (`citizen`), and the agent's
    /// own fields from `agent` when someone files for the citizen.
    pub fn prefill(&mut self, citizen: &CitizenIdentity, agent: Option<&CitizenIdentity>) {
        for (i, e) in self.shape.entries.iter().enumerate() {
            if self.values[i].is_some() {
                continue;
            }
            let v = e
                .field
                .field
                .prefill
                .and_then(|p| prefilled(p, citizen, agent));
            self.values[i] = v.map(Zeroizing::new);
        }
    }

    /// Keeps `value` for field `at` if it passes the field's rules.
    pub fn set(&mut self, at: usize, value: &str) -> Result<(), FieldError> {
        let e = self.shape.entries.get(at).ok_or(FieldError::Missing)?;
        let v = value.trim();
        e.field.check(v)?;
        self.values[at] = Some(Zeroizing::new(v.to_string()));
        Ok(())
    }

    /// Keeps option `option` of choice field `at`.
    pub fn choose(&mut self, at: usize, option: usize) -> Result<(), FieldError> {
        let value = self
            .shape
            .entries
            .get(at)
            .and_then(|e| e.field.field.options.get(option))
            .map(|o| o.value.clone())
            .ok_or(FieldError::Choice)?;
        self.set(at, &value)
    }

    pub fn value(&self, at: usize) -> Option<&str> {
        self.values.get(at)?.as_deref().map(String::as_str)
    }

    /// The postal address, checked.
    pub fn set_address(&mut self, value: &str) -> Result<(), FieldError> {
        let v = value.trim();
        let n = v.chars().count();
        if n == 0 {
            return Err(FieldError::Missing);
        }
        if n < ADDRESS_MIN {
            return Err(FieldError::TooShort(ADDRESS_MIN));
        }
        if n > ADDRESS_MAX {
            return Err(FieldError::TooLong(ADDRESS_MAX));
        }
        self.address = Some(Zeroizing::new(v.to_string()));
        Ok(())
    }

    /// A field's value as the screens and the review show it: personal values masked, a
    /// choice by its label.
    pub fn shown(&self, at: usize, english: bool) -> String {
        self.words(at, english, true)
    }

    /// A field's value in full, a choice by its label: what the application PDF says.
    pub fn shown_in_full(&self, at: usize) -> String {
        self.words(at, false, false)
    }

    fn words(&self, at: usize, english: bool, masked: bool) -> String {
        let (Some(e), Some(v)) = (self.shape.entries.get(at), self.value(at)) else {
            return String::new();
        };
        let f = &e.field.field;
        if f.kind == FieldKind::Choice {
            return f
                .options
                .iter()
                .find(|o| o.value == v)
                .map(|o| o.label.get(english).to_string())
                .unwrap_or_default();
        }
        if masked && f.personal {
            return mask_value(f.kind, v);
        }
        v.to_string()
    }

    /// The address as the screen shows it: the district kept, the rest masked.
    pub fn shown_address(&self) -> String {
        self.address
            .as_deref()
            .map(|a| {
                let keep: String = a.chars().take(6).collect();
                format!(
                    "{keep}{}",
                    "*".repeat(a.chars().count().saturating_sub(6).min(10))
                )
            })
            .unwrap_or_default()
    }

    /// What is handed in, in Chinese: each photographed material with its page count, then the
    /// generated ones (the application form) — for the PDF and the receipt.
    pub fn materials_zh(&self) -> Vec<String> {
        self.shape
            .captures
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}（{} 页）", c.name.zh, self.page_count(i)))
            .chain(
                self.shape
                    .licences
                    .iter()
                    .zip(&self.licences)
                    .filter_map(|(w, l)| {
                        l.as_ref()
                            .map(|l| format!("{}（电子证照 {}）", w.name.zh, l.licence_id))
                    }),
            )
            .chain(self.shape.generated.iter().map(|g| g.zh.clone()))
            .collect()
    }

    /// Matches the citizen's licence list to the e-licence materials (the first of each
    /// type); returns whether every required one was found.
    pub fn take_licences(&mut self, list: &[kiosk_protocol::documents::Licence]) -> bool {
        for (w, slot) in self.shape.licences.iter().zip(self.licences.iter_mut()) {
            *slot = list
                .iter()
                .find(|l| l.licence_type == w.licence_type)
                .cloned();
        }
        self.licences_ready()
    }

    /// Every required e-licence is in the application.
    pub fn licences_ready(&self) -> bool {
        self.shape
            .licences
            .iter()
            .zip(&self.licences)
            .all(|(w, l)| !w.required || l.is_some())
    }

    /// How many pages capture material `at` holds now.
    pub fn page_count(&self, at: usize) -> u32 {
        self.pages.get(at).map_or(0, |p| p.len() as u32)
    }
}

/// A personal value masked by what it is.
pub fn mask_value(kind: FieldKind, v: &str) -> String {
    match kind {
        FieldKind::IdNumber => mask_id_number(v),
        FieldKind::Mobile => mask_phone(v),
        // Names: the first character, as on every receipt and screen of the hall.
        FieldKind::Text => mask_name(v),
        _ => {
            let keep: String = v.chars().take(2).collect();
            format!(
                "{keep}{}",
                "*".repeat(v.chars().count().saturating_sub(2).min(8))
            )
        }
    }
}

/// A value from the card. Sex and birth date come from the ID number (GB 11643: the 17th
/// digit is odd for men; digits 7–14 are the birth date); the address and nation are not in
/// what the reader hands a login, so those fields are typed.
fn prefilled(
    p: Prefill,
    citizen: &CitizenIdentity,
    agent: Option<&CitizenIdentity>,
) -> Option<String> {
    let number = citizen.number.as_str();
    match p {
        Prefill::CardName => Some(citizen.name.clone()),
        Prefill::CardNumber => Some(number.to_string()),
        Prefill::CardSex => {
            let d = number.chars().nth(16)?.to_digit(10)?;
            Some(if d % 2 == 1 { "1" } else { "2" }.to_string())
        }
        Prefill::CardBirthDate => {
            let b = number.get(6..14)?;
            Some(format!("{}-{}-{}", &b[0..4], &b[4..6], &b[6..8]))
        }
        Prefill::CardAddress => Some(citizen.address.clone()).filter(|a| !a.is_empty()),
        Prefill::CardNation => Some(citizen.nation.clone()).filter(|n| !n.is_empty()),
        Prefill::AgentName => agent.map(|a| a.name.clone()),
        Prefill::AgentNumber => agent.map(|a| a.number.clone()),
    }
}

#[cfg(test)]
mod tests;
