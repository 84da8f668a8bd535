//! Application forms: fields with normalised codes, types, validators and where a value may be
//! prefilled from. The apply flow checks every keystroke's value with [`Field::check`], so a
//! citizen sees what is wrong while typing, not after pressing "next".

use serde::{Deserialize, Serialize};

use super::Text;

/// What a field holds; decides the on-screen keyboard and the built-in checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    Text,
    /// Several lines (an address, a business scope).
    LongText,
    Integer,
    /// A decimal number (an area in m², an amount in yuan).
    Number,
    /// `YYYY-MM-DD`.
    Date,
    /// One of `options`.
    Choice,
    IdNumber,
    Mobile,
    Email,
}

/// A rule a value must satisfy. Length counts characters, not bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Validator {
    Required,
    MinLength {
        value: usize,
    },
    MaxLength {
        value: usize,
    },
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// A whole-value regular expression; `message` says in words what it wants.
    Pattern {
        regex: String,
        message: Text,
    },
    /// A mainland resident ID number (GB 11643: 18 characters, valid date and check digit).
    IdNumber,
    /// A mainland mobile number (11 digits starting 1[3-9]).
    Mobile,
    Email,
    Integer,
    /// Chinese characters only (names may also hold the middle dot ·).
    ChineseOnly,
}

/// Where a field's value may come from before the citizen types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prefill {
    /// The identified citizen's ID card (the principal's, when filing for someone).
    CardName,
    CardNumber,
    CardSex,
    CardBirthDate,
    CardAddress,
    CardNation,
    /// The agent's own card, when filing for someone.
    AgentName,
    AgentNumber,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    pub value: String,
    pub label: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The normalised code the centre and business systems know the value by
    /// (`applicant_name`, `applicant_id_number`, `contact_mobile`).
    pub code: String,
    pub label: Text,
    pub kind: FieldKind,
    #[serde(default)]
    pub hint: Text,
    #[serde(default)]
    pub validators: Vec<Validator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<Prefill>,
    /// For `choice` fields.
    #[serde(default)]
    pub options: Vec<ChoiceOption>,
    /// Personal data: masked on screen once entered and in every log.
    #[serde(default)]
    pub personal: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    pub id: String,
    pub title: Text,
    pub fields: Vec<Field>,
}

/// Why a value was refused, in words for the citizen in both languages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("required")]
    Missing,
    #[error("at least {0} characters")]
    TooShort(usize),
    #[error("at most {0} characters")]
    TooLong(usize),
    #[error("not a number")]
    NotANumber,
    #[error("not a whole number")]
    NotAnInteger,
    #[error("below {0}")]
    BelowMin(String),
    #[error("above {0}")]
    AboveMax(String),
    #[error("does not match: {0}")]
    Pattern(String),
    #[error("not a valid ID number")]
    IdNumber,
    #[error("not a valid mobile number")]
    Mobile,
    #[error("not a valid e-mail address")]
    Email,
    #[error("Chinese characters only")]
    ChineseOnly,
    #[error("not a date (YYYY-MM-DD)")]
    Date,
    #[error("not one of the choices")]
    Choice,
}

impl FieldError {
    /// What the screen shows under the field.
    pub fn message(&self) -> Text {
        let t = |zh: String, en: String| Text { zh, en: Some(en) };
        match self {
            FieldError::Missing => t("必填".into(), "Required".into()),
            FieldError::TooShort(n) => {
                t(format!("至少 {n} 个字"), format!("At least {n} characters"))
            }
            FieldError::TooLong(n) => {
                t(format!("最多 {n} 个字"), format!("At most {n} characters"))
            }
            FieldError::NotANumber => t("请输入数字".into(), "Enter a number".into()),
            FieldError::NotAnInteger => t("请输入整数".into(), "Enter a whole number".into()),
            FieldError::BelowMin(v) => t(format!("不能小于 {v}"), format!("Must be at least {v}")),
            FieldError::AboveMax(v) => t(format!("不能大于 {v}"), format!("Must be at most {v}")),
            FieldError::Pattern(words) => t(words.clone(), words.clone()),
            FieldError::IdNumber => t(
                "身份证号码不正确".into(),
                "This ID number is not valid".into(),
            ),
            FieldError::Mobile => t(
                "手机号码不正确".into(),
                "This mobile number is not valid".into(),
            ),
            FieldError::Email => t(
                "电子邮箱不正确".into(),
                "This e-mail address is not valid".into(),
            ),
            FieldError::ChineseOnly => t("只能填写汉字".into(), "Chinese characters only".into()),
            FieldError::Date => t(
                "请按 年-月-日 填写".into(),
                "Enter the date as YYYY-MM-DD".into(),
            ),
            FieldError::Choice => t("请选择一项".into(), "Choose one".into()),
        }
    }
}

/// A field and its validators, with the regular expressions compiled once.
#[derive(Debug, Clone)]
pub struct CompiledField {
    pub field: Field,
    patterns: Vec<(regex::Regex, Text)>,
}

impl Field {
    /// Compiles the field's patterns; a pattern that does not compile is a catalogue error.
    pub fn compile(&self) -> Result<CompiledField, String> {
        let mut patterns = Vec::new();
        for v in &self.validators {
            if let Validator::Pattern { regex, message } = v {
                let whole = format!("^(?:{regex})$");
                let re = regex::RegexBuilder::new(&whole)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("field {}: pattern {regex:?}: {e}", self.code))?;
                patterns.push((re, message.clone()));
            }
        }
        Ok(CompiledField {
            field: self.clone(),
            patterns,
        })
    }

    pub fn required(&self) -> bool {
        self.validators.contains(&Validator::Required)
    }
}

impl CompiledField {
    /// Checks a value as typed. An empty value is only wrong when the field is required; the
    /// other rules apply to what was entered. Answers in validator order, kind checks first.
    pub fn check(&self, value: &str) -> Result<(), FieldError> {
        let f = &self.field;
        let v = value.trim();
        if v.is_empty() {
            return if f.required() {
                Err(FieldError::Missing)
            } else {
                Ok(())
            };
        }
        match f.kind {
            FieldKind::Integer => check_integer(v)?,
            FieldKind::Number => {
                parse_number(v)?;
            }
            FieldKind::Date => check_date(v)?,
            FieldKind::Choice => {
                if !f.options.iter().any(|o| o.value == v) {
                    return Err(FieldError::Choice);
                }
            }
            FieldKind::IdNumber => check_id_number(v)?,
            FieldKind::Mobile => check_mobile(v)?,
            FieldKind::Email => check_email(v)?,
            FieldKind::Text | FieldKind::LongText => {}
        }
        let chars = v.chars().count();
        let mut pattern = self.patterns.iter();
        for rule in &f.validators {
            match rule {
                Validator::Required => {}
                Validator::MinLength { value } if chars < *value => {
                    return Err(FieldError::TooShort(*value))
                }
                Validator::MaxLength { value } if chars > *value => {
                    return Err(FieldError::TooLong(*value))
                }
                Validator::MinLength { .. } | Validator::MaxLength { .. } => {}
                Validator::Range { min, max } => {
                    let n = parse_number(v)?;
                    if let Some(m) = min.filter(|m| n < *m) {
                        return Err(FieldError::BelowMin(trim_number(m)));
                    }
                    if let Some(m) = max.filter(|m| n > *m) {
                        return Err(FieldError::AboveMax(trim_number(m)));
                    }
                }
                Validator::Pattern { .. } => {
                    if let Some((re, message)) = pattern.next() {
                        if !re.is_match(v) {
                            return Err(FieldError::Pattern(message.zh.clone()));
                        }
                    }
                }
                Validator::IdNumber => check_id_number(v)?,
                Validator::Mobile => check_mobile(v)?,
                Validator::Email => check_email(v)?,
                Validator::Integer => check_integer(v)?,
                Validator::ChineseOnly => {
                    if !v.chars().all(|c| is_han(c) || c == '·') {
                        return Err(FieldError::ChineseOnly);
                    }
                }
            }
        }
        Ok(())
    }
}

fn trim_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn parse_number(v: &str) -> Result<f64, FieldError> {
    let ok = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        && v.parse::<f64>().map(f64::is_finite).unwrap_or(false);
    if ok {
        Ok(v.parse().unwrap_or(0.0))
    } else {
        Err(FieldError::NotANumber)
    }
}

fn check_integer(v: &str) -> Result<(), FieldError> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    if !digits.is_empty() && digits.len() <= 15 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(FieldError::NotAnInteger)
    }
}

/// CJK unified ideographs and extension A.
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{2A6DF}')
}

fn check_date(v: &str) -> Result<(), FieldError> {
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .filter(|_| v.len() == 10)
        .map(drop)
        .ok_or(FieldError::Date)
}

/// GB 11643: six-digit area, a real birth date, sequence, check digit.
pub fn check_id_number(v: &str) -> Result<(), FieldError> {
    let v = v.to_ascii_uppercase();
    let b = v.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return Err(FieldError::IdNumber);
    }
    let birth = &v[6..14];
    if chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
        return Err(FieldError::IdNumber);
    }
    match kiosk_drivers::idcard::identity::check_digit(&v[..17]) {
        Some(c) if c == b[17] as char => Ok(()),
        _ => Err(FieldError::IdNumber),
    }
}

fn check_mobile(v: &str) -> Result<(), FieldError> {
    let b = v.as_bytes();
    let ok = b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit);
    if ok {
        Ok(())
    } else {
        Err(FieldError::Mobile)
    }
}

fn check_email(v: &str) -> Result<(), FieldError> {
    let Some((local, domain)) = v.split_once('@') else {
        return Err(FieldError::Email);
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| label_ok(l))
        && labels.last().is_some_and(|t| t.len() >= 2);
    if local_ok && domain_ok && v.len() <= 254 {
        Ok(())
    } else {
        Err(FieldError::Email)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: FieldKind, validators: Vec<Validator>) -> CompiledField {
        Field {
            code: "f".into(),
            label: Text::zh("字段"),
            kind,
            hint: Text::default(),
            validators,
            prefill: None,
            options: vec![ChoiceOption {
                value: "a".into(),
                label: Text::zh("甲"),
            }],
            personal: false,
        }
        .compile()
        .expect("compiles")
    }

    #[test]
    fn every_validator_accepts_good_values_and_names_what_is_wrong() {
        use FieldError::*;
        let required = field(FieldKind::Text, vec![Validator::Required]);
        assert_eq!(required.check("  "), Err(Missing));
        assert_eq!(required.check("x"), Ok(()));
        let optional = field(FieldKind::Mobile, vec![]);
        assert_eq!(optional.check(""), Ok(()), "empty and optional is fine");
        let len = field(
            FieldKind::Text,
            vec![
                Validator::MinLength { value: 2 },
                Validator::MaxLength { value: 4 },
            ],
        );
        assert_eq!(len.check("张"), Err(TooShort(2)));
        assert_eq!(len.check("欧阳娜娜"), Ok(()), "characters, not bytes");
        assert_eq!(len.check("欧阳娜娜娜"), Err(TooLong(4)));
        let range = field(
            FieldKind::Number,
            vec![Validator::Range {
                min: Some(1.0),
                max: Some(9999.5),
            }],
        );
        assert_eq!(range.check("0.5"), Err(BelowMin("1".into())));
        assert_eq!(range.check("12000"), Err(AboveMax("9999.5".into())));
        assert_eq!(range.check("88.5"), Ok(()));
        assert_eq!(range.check("1e3"), Err(NotANumber));
        assert_eq!(range.check("NaN"), Err(NotANumber));
        let int = field(FieldKind::Text, vec![Validator::Integer]);
        assert_eq!(int.check("12"), Ok(()));
        assert_eq!(int.check("1.5"), Err(NotAnInteger));
        assert_eq!(int.check("99999999999999999999"), Err(NotAnInteger));
        let pattern = field(
            FieldKind::Text,
            vec![Validator::Pattern {
                regex: "[0-9A-Z]{18}".into(),
                message: Text::zh("统一社会信用代码为18位数字或大写字母"),
            }],
        );
        assert_eq!(pattern.check("91320583MA1XXXXX0Y"), Ok(()));
        assert!(
            matches!(pattern.check("91320583MA1XXXXX0Y1"), Err(Pattern(_))),
            "the pattern covers the whole value"
        );
        let id = field(FieldKind::IdNumber, vec![]);
        assert_eq!(id.check("11010519491231002X"), Ok(()));
        assert_eq!(id.check("11010519491231002x"), Ok(()), "lower-case x");
        assert_eq!(id.check("110105194912310021"), Err(IdNumber), "check digit");
        assert_eq!(id.check("110105194913310028"), Err(IdNumber), "month 13");
        assert_eq!(id.check("1101051949123100"), Err(IdNumber));
        let mobile = field(FieldKind::Text, vec![Validator::Mobile]);
        assert_eq!(mobile.check("13812345678"), Ok(()));
        assert_eq!(mobile.check("12812345678"), Err(Mobile));
        assert_eq!(mobile.check("1381234567"), Err(Mobile));
        let email = field(FieldKind::Email, vec![]);
        assert_eq!(email.check("li.si+hall@ks.gov.cn"), Ok(()));
        for bad in [
            "li@",
            "@ks.cn",
            "li@ks",
            "li..si@ks.cn",
            "li@-ks.cn",
            "李@ks.cn",
        ] {
            assert_eq!(email.check(bad), Err(Email), "{bad}");
        }
        let zh = field(FieldKind::Text, vec![Validator::ChineseOnly]);
        assert_eq!(zh.check("买买提·艾力"), Ok(()));
        assert_eq!(zh.check("张3"), Err(ChineseOnly));
        let date = field(FieldKind::Date, vec![]);
        assert_eq!(date.check("2026-02-28"), Ok(()));
        assert_eq!(date.check("2026-02-30"), Err(Date));
        assert_eq!(date.check("2026-2-3"), Err(Date));
        let choice = field(FieldKind::Choice, vec![]);
        assert_eq!(choice.check("a"), Ok(()));
        assert_eq!(choice.check("b"), Err(Choice));
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_a_catalogue_error() {
        let f = Field {
            code: "bad".into(),
            label: Text::zh("坏"),
            kind: FieldKind::Text,
            hint: Text::default(),
            validators: vec![Validator::Pattern {
                regex: "([a-z".into(),
                message: Text::zh("x"),
            }],
            prefill: None,
            options: vec![],
            personal: false,
        };
        assert!(f.compile().unwrap_err().contains("bad"));
    }

    #[test]
    fn every_error_has_words_in_both_languages() {
        for e in [
            FieldError::Missing,
            FieldError::TooShort(2),
            FieldError::BelowMin("1".into()),
            FieldError::IdNumber,
            FieldError::Mobile,
            FieldError::Email,
            FieldError::ChineseOnly,
            FieldError::Date,
            FieldError::Choice,
        ] {
            let m = e.message();
            assert!(!m.zh.is_empty() && m.en.as_deref().is_some_and(|s| !s.is_empty()));
        }
    }

    proptest::proptest! {
        /// Whatever a citizen or a broken keyboard types, the check answers; it never panics.
        #[test]
        fn checks_never_panic(value in "\\PC{0,40}") {
            for kind in [FieldKind::Text, FieldKind::Integer, FieldKind::Number, FieldKind::Date,
                         FieldKind::Choice, FieldKind::IdNumber, FieldKind::Mobile, FieldKind::Email] {
                let f = field(kind, vec![
                    Validator::Required, Validator::MinLength { value: 1 },
                    Validator::Range { min: Some(0.0), max: None }, Validator::ChineseOnly,
                ]);
                let _ = f.check(&value);
            }
        }
    }
}
