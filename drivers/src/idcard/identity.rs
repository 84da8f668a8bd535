//! The text block of an ID card read, for every card type the halls must accept, and the checks
//! a terminal makes before trusting it: the ID number's check digit, its agreement with birth
//! date and sex, and the validity period.
//!
//! The text is 256 bytes of UTF-16LE, padded with spaces; the card type sits at offset 248.

use std::fmt;

use chrono::NaiveDate;
use kiosk_hal::privacy::{mask_id_number, mask_name};
use serde::{Deserialize, Serialize};

pub const TEXT_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CardType {
    /// 居民身份证.
    Resident,
    /// 港澳台居民居住证 ('J').
    HkMacaoTaiwanPermit,
    /// 外国人永久居留身份证, 2017 edition ('I').
    ForeignPermanent2017,
    /// 外国人永久居留身份证, 2023 edition ('Y'). Its layout comes from a single public
    /// source, so it is marked provisional.
    ForeignPermanent2023,
}

impl CardType {
    pub fn code(self) -> char {
        match self {
            CardType::Resident => ' ',
            CardType::HkMacaoTaiwanPermit => 'J',
            CardType::ForeignPermanent2017 => 'I',
            CardType::ForeignPermanent2023 => 'Y',
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            CardType::Resident => "居民身份证",
            CardType::HkMacaoTaiwanPermit => "港澳台居民居住证",
            CardType::ForeignPermanent2017 => "外国人永久居留身份证（2017版）",
            CardType::ForeignPermanent2023 => "外国人永久居留身份证（2023版）",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    fn from_code(c: &str) -> Option<Sex> {
        match c {
            "1" => Some(Sex::Male),
            "2" => Some(Sex::Female),
            _ => None,
        }
    }
    fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }
}

/// The end of a validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValidTo {
    Date(NaiveDate),
    /// 长期: no expiry.
    LongTerm,
}

/// The 56 ethnic groups of GB/T 3304 plus 97 (other) and 98 (foreign origin).
const NATIONS: &[(u8, &str)] = &[
    (1, "汉"),
    (2, "蒙古"),
    (3, "回"),
    (4, "藏"),
    (5, "维吾尔"),
    (6, "苗"),
    (7, "彝"),
    (8, "壮"),
    (9, "布依"),
    (10, "朝鲜"),
    (11, "满"),
    (12, "侗"),
    (13, "瑶"),
    (14, "白"),
    (15, "土家"),
    (16, "哈尼"),
    (17, "哈萨克"),
    (18, "傣"),
    (19, "黎"),
    (20, "傈僳"),
    (21, "佤"),
    (22, "畲"),
    (23, "高山"),
    (24, "拉祜"),
    (25, "水"),
    (26, "东乡"),
    (27, "纳西"),
    (28, "景颇"),
    (29, "柯尔克孜"),
    (30, "土"),
    (31, "达斡尔"),
    (32, "仫佬"),
    (33, "羌"),
    (34, "布朗"),
    (35, "撒拉"),
    (36, "毛南"),
    (37, "仡佬"),
    (38, "锡伯"),
    (39, "阿昌"),
    (40, "普米"),
    (41, "塔吉克"),
    (42, "怒"),
    (43, "乌孜别克"),
    (44, "俄罗斯"),
    (45, "鄂温克"),
    (46, "德昂"),
    (47, "保安"),
    (48, "裕固"),
    (49, "京"),
    (50, "塔塔尔"),
    (51, "独龙"),
    (52, "鄂伦春"),
    (53, "赫哲"),
    (54, "门巴"),
    (55, "珞巴"),
    (56, "基诺"),
    (97, "其他"),
    (98, "外国血统中国籍人士"),
];

pub fn nation_name(code: u8) -> Option<&'static str> {
    NATIONS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("text block is {0} bytes; a card's text is {TEXT_LEN}")]
    TextLength(usize),
    #[error("unknown card type {0:?} at offset 248")]
    UnknownCardType(String),
    #[error("field {field} is invalid: {reason}")]
    BadField { field: &'static str, reason: String },
    #[error("ID number check digit is wrong (expected {expected})")]
    CheckDigit { expected: char },
    #[error("ID number disagrees with the card's {0}")]
    Inconsistent(&'static str),
    #[error("the card expired on {0}")]
    Expired(NaiveDate),
    #[error("the card is valid only from {0}")]
    NotYetValid(NaiveDate),
}

/// One person's card, as read. Display and Debug mask personal data; `Serialize` does not, so
/// only code that must hand the data on (a flow, devctl's decode) serialises it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub card_type: CardType,
    /// The Chinese name (may be empty on a foreigner's card without one).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_name: Option<String>,
    pub sex: Sex,
    /// Ethnic group code and name, resident cards only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nation: Option<(u8, String)>,
    /// ISO 3166 alpha-3 nationality, foreigners' cards only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    pub birth: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The ID number, or the permit number on a foreigner's card.
    pub number: String,
    /// Issuing authority (or its code on a 2017 foreigner's card).
    pub authority: String,
    pub valid_from: NaiveDate,
    pub valid_to: ValidTo,
    /// HK/Macao/Taiwan permits: the home-return pass number and how often the permit was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_count: Option<u32>,
    /// 2023 foreigners' cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_number_link: Option<String>,
    /// 2017 foreigners' cards: the card version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_version: Option<String>,
    /// The card type's layout is from a single source (2023 foreigners' cards).
    pub provisional_layout: bool,
    /// 追加住址 read with command 30/03, when the card has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appended_address: Option<String>,
}

impl Identity {
    pub fn masked_number(&self) -> String {
        mask_id_number(&self.number)
    }

    /// Checks the validity period against `today`.
    pub fn check_validity(&self, today: NaiveDate) -> Result<(), IdentityError> {
        if today < self.valid_from {
            return Err(IdentityError::NotYetValid(self.valid_from));
        }
        match self.valid_to {
            ValidTo::Date(d) if today > d => Err(IdentityError::Expired(d)),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.card_type.zh(),
            mask_name(&self.name),
            self.masked_number()
        )
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("card_type", &self.card_type)
            .field("name", &mask_name(&self.name))
            .field("number", &self.masked_number())
            .field("valid_to", &self.valid_to)
            .finish_non_exhaustive()
    }
}

/// ISO 7064 MOD 11-2 check character of the first 17 digits.
pub fn check_digit(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const MAP: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    Some(MAP[(sum % 11) as usize])
}

/// Checks an 18-character number's form and check digit.
pub fn check_number(number: &str) -> Result<(), IdentityError> {
    let bad = |reason: &str| IdentityError::BadField {
        field: "number",
        reason: reason.into(),
    };
    if number.len() != 18 || !number.is_ascii() {
        return Err(bad("must be 18 characters"));
    }
    let (body, last) = number.split_at(17);
    let expected =
        check_digit(body).ok_or_else(|| bad("the first 17 characters must be digits"))?;
    let last = last.chars().next().map(|c| c.to_ascii_uppercase());
    if last != Some(expected) {
        return Err(IdentityError::CheckDigit { expected });
    }
    Ok(())
}

fn field(text: &[u8], off: usize, len: usize) -> String {
    let units: Vec<u16> = text[off..off + len]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .to_string()
}

fn date(text: &[u8], off: usize, name: &'static str) -> Result<NaiveDate, IdentityError> {
    let s = field(text, off, 16);
    NaiveDate::parse_from_str(&s, "%Y%m%d").map_err(|_| IdentityError::BadField {
        field: name,
        reason: format!("{s:?} is not a YYYYMMDD date"),
    })
}

fn valid_to(text: &[u8]) -> Result<ValidTo, IdentityError> {
    let s = field(text, 204, 16);
    if s == "长期" {
        return Ok(ValidTo::LongTerm);
    }
    date(text, 204, "valid_to").map(ValidTo::Date)
}

fn sex(text: &[u8], off: usize) -> Result<Sex, IdentityError> {
    let s = field(text, off, 2);
    Sex::from_code(&s).ok_or_else(|| IdentityError::BadField {
        field: "sex",
        reason: format!("code {s:?}"),
    })
}

fn count(
    text: &[u8],
    off: usize,
    len: usize,
    name: &'static str,
) -> Result<Option<u32>, IdentityError> {
    let s = field(text, off, len);
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| IdentityError::BadField {
        field: name,
        reason: format!("{s:?} is not a number"),
    })
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Birth date and sex encoded in an 18-digit resident-style number agree with the card.
fn check_consistency(number: &str, birth: NaiveDate, sex: Sex) -> Result<(), IdentityError> {
    if number.get(6..14) != Some(birth.format("%Y%m%d").to_string().as_str()) {
        return Err(IdentityError::Inconsistent("birth date"));
    }
    let seq = number
        .as_bytes()
        .get(16)
        .and_then(|b| (*b as char).to_digit(10));
    let number_sex = match seq {
        Some(d) if d % 2 == 1 => Sex::Male,
        Some(_) => Sex::Female,
        None => return Err(IdentityError::Inconsistent("sex")),
    };
    if number_sex != sex {
        return Err(IdentityError::Inconsistent("sex"));
    }
    Ok(())
}

/// Parses and checks a card's text block.
pub fn parse_text(text: &[u8]) -> Result<Identity, IdentityError> {
    if text.len() != TEXT_LEN {
        return Err(IdentityError::TextLength(text.len()));
    }
    let type_code = field(text, 248, 2);
    let card_type = match type_code.as_str() {
        "" => CardType::Resident,
        "J" => CardType::HkMacaoTaiwanPermit,
        "I" => CardType::ForeignPermanent2017,
        "Y" => CardType::ForeignPermanent2023,
        _ => return Err(IdentityError::UnknownCardType(type_code)),
    };
    let mut id = match card_type {
        CardType::Resident | CardType::HkMacaoTaiwanPermit => {
            let sex = sex(text, 30)?;
            let birth = date(text, 36, "birth")?;
            let number = field(text, 122, 36).to_ascii_uppercase();
            check_number(&number)?;
            check_consistency(&number, birth, sex)?;
            let nation = if card_type == CardType::Resident {
                let code = field(text, 32, 4);
                let n: u8 = code.parse().map_err(|_| IdentityError::BadField {
                    field: "nation",
                    reason: format!("code {code:?}"),
                })?;
                let name = nation_name(n).ok_or_else(|| IdentityError::BadField {
                    field: "nation",
                    reason: format!("code {n:02}"),
                })?;
                Some((n, name.to_string()))
            } else {
                None
            };
            let j = card_type == CardType::HkMacaoTaiwanPermit;
            Identity {
                card_type,
                name: field(text, 0, 30),
                english_name: None,
                sex,
                nation,
                nationality: None,
                birth,
                address: non_empty(field(text, 52, 70)),
                number,
                authority: field(text, 158, 30),
                valid_from: date(text, 188, "valid_from")?,
                valid_to: valid_to(text)?,
                pass_number: if j {
                    non_empty(field(text, 220, 18))
                } else {
                    None
                },
                issue_count: if j {
                    count(text, 238, 4, "issue_count")?
                } else {
                    None
                },
                renewal_count: None,
                previous_number_link: None,
                card_version: None,
                provisional_layout: false,
                appended_address: None,
            }
        }
        CardType::ForeignPermanent2017 => {
            let number = field(text, 122, 30).to_ascii_uppercase();
            if number.len() != 15 || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(IdentityError::BadField {
                    field: "number",
                    reason: "a 2017 permit number has 15 letters and digits".into(),
                });
            }
            Identity {
                card_type,
                name: field(text, 158, 30),
                english_name: non_empty(field(text, 0, 120)),
                sex: sex(text, 120)?,
                nation: None,
                nationality: non_empty(field(text, 152, 6)),
                birth: date(text, 220, "birth")?,
                address: None,
                number,
                authority: field(text, 240, 8),
                valid_from: date(text, 188, "valid_from")?,
                valid_to: valid_to(text)?,
                pass_number: None,
                issue_count: None,
                renewal_count: None,
                previous_number_link: None,
                card_version: non_empty(field(text, 236, 4)),
                provisional_layout: false,
                appended_address: None,
            }
        }
        CardType::ForeignPermanent2023 => {
            let number = field(text, 122, 36).to_ascii_uppercase();
            check_number(&number)?;
            let english = [field(text, 52, 70), field(text, 220, 22)].concat();
            Identity {
                card_type,
                name: field(text, 0, 30),
                english_name: non_empty(english),
                sex: sex(text, 30)?,
                nation: None,
                nationality: non_empty(field(text, 242, 6)),
                birth: date(text, 36, "birth")?,
                address: None,
                number,
                authority: String::new(),
                valid_from: date(text, 188, "valid_from")?,
                valid_to: valid_to(text)?,
                pass_number: None,
                issue_count: None,
                renewal_count: count(text, 32, 4, "renewal_count")?,
                previous_number_link: non_empty(field(text, 250, 6)),
                card_version: None,
                provisional_layout: true,
                appended_address: None,
            }
        }
    };
    if let ValidTo::Date(to) = id.valid_to {
        if to < id.valid_from {
            return Err(IdentityError::BadField {
                field: "valid_to",
                reason: "ends before it starts".into(),
            });
        }
    }
    id.name = id.name.trim().to_string();
    Ok(id)
}

/// Parses the 70-byte appended address (command 30/03).
pub fn parse_appended_address(bytes: &[u8]) -> Option<String> {
    if bytes.len() < 2 {
        return None;
    }
    let len = bytes.len() - bytes.len() % 2;
    non_empty(field(bytes, 0, len.min(70)))
}

/// Builds a card's text block: the card side of the protocol, for the simulator and tests.
pub fn encode_text(id: &Identity) -> [u8; TEXT_LEN] {
    let mut t = [0u8; TEXT_LEN];
    // Unused space is UTF-16LE spaces, as on real cards.
    for c in t.chunks_exact_mut(2) {
        c.copy_from_slice(&[0x20, 0x00]);
    }
    let put = |t: &mut [u8; TEXT_LEN], off: usize, len: usize, s: &str| {
        for (i, u) in s.encode_utf16().take(len / 2).enumerate() {
            t[off + 2 * i..off + 2 * i + 2].copy_from_slice(&u.to_le_bytes());
        }
    };
    let d = |x: NaiveDate| x.format("%Y%m%d").to_string();
    let to = match id.valid_to {
        ValidTo::Date(x) => d(x),
        ValidTo::LongTerm => "长期".into(),
    };
    match id.card_type {
        CardType::Resident | CardType::HkMacaoTaiwanPermit => {
            put(&mut t, 0, 30, &id.name);
            put(&mut t, 30, 2, id.sex.code());
            if let Some((n, _)) = &id.nation {
                put(&mut t, 32, 4, &format!("{n:02}"));
            }
            put(&mut t, 36, 16, &d(id.birth));
            put(&mut t, 52, 70, id.address.as_deref().unwrap_or(""));
            put(&mut t, 122, 36, &id.number);
            put(&mut t, 158, 30, &id.authority);
            put(&mut t, 188, 16, &d(id.valid_from));
            put(&mut t, 204, 16, &to);
            if id.card_type == CardType::HkMacaoTaiwanPermit {
                put(&mut t, 220, 18, id.pass_number.as_deref().unwrap_or(""));
                put(
                    &mut t,
                    238,
                    4,
                    &id.issue_count
                        .map(|c| format!("{c:02}"))
                        .unwrap_or_default(),
                );
            }
        }
        CardType::ForeignPermanent2017 => {
            put(&mut t, 0, 120, id.english_name.as_deref().unwrap_or(""));
            put(&mut t, 120, 2, id.sex.code());
            put(&mut t, 122, 30, &id.number);
            put(&mut t, 152, 6, id.nationality.as_deref().unwrap_or(""));
            put(&mut t, 158, 30, &id.name);
            put(&mut t, 188, 16, &d(id.valid_from));
            put(&mut t, 204, 16, &to);
            put(&mut t, 220, 16, &d(id.birth));
            put(&mut t, 236, 4, id.card_version.as_deref().unwrap_or(""));
            put(&mut t, 240, 8, &id.authority);
        }
        CardType::ForeignPermanent2023 => {
            put(&mut t, 0, 30, &id.name);
            put(&mut t, 30, 2, id.sex.code());
            put(
                &mut t,
                32,
                4,
                &id.renewal_count
                    .map(|c| format!("{c:02}"))
                    .unwrap_or_default(),
            );
            put(&mut t, 36, 16, &d(id.birth));
            let en: Vec<u16> = id
                .english_name
                .as_deref()
                .unwrap_or("")
                .encode_utf16()
                .collect();
            let (a, b) = en.split_at(en.len().min(35));
            put(&mut t, 52, 70, &String::from_utf16_lossy(a));
            put(&mut t, 220, 22, &String::from_utf16_lossy(b));
            put(&mut t, 122, 36, &id.number);
            put(&mut t, 188, 16, &d(id.valid_from));
            put(&mut t, 204, 16, &to);
            put(&mut t, 242, 6, id.nationality.as_deref().unwrap_or(""));
            put(
                &mut t,
                250,
                6,
                id.previous_number_link.as_deref().unwrap_or(""),
            );
        }
    }
    put(&mut t, 248, 2, &id.card_type.code().to_string());
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    pub(crate) fn resident() -> Identity {
        Identity {
            card_type: CardType::Resident,
            name: "张三丰".into(),
            english_name: None,
            sex: Sex::Male,
            nation: Some((1, "汉".into())),
            nationality: None,
            birth: ymd(1990, 1, 1),
            address: Some("江苏省昆山市前进西路1801号".into()),
            number: "320583199001011232".into(),
            authority: "昆山市公安局".into(),
            valid_from: ymd(2020, 5, 1),
            valid_to: ValidTo::Date(ymd(2040, 5, 1)),
            pass_number: None,
            issue_count: None,
            renewal_count: None,
            previous_number_link: None,
            card_version: None,
            provisional_layout: false,
            appended_address: None,
        }
    }

    #[test]
    fn check_digits() {
        // The GB 11643 worked example.
        assert_eq!(check_digit("11010519491231002"), Some('X'));
        assert_eq!(check_digit("32058319900101123"), Some('2'));
        assert_eq!(check_digit("3205831990010112"), None);
        assert_eq!(check_digit("3205831990010112A"), None);
        assert!(check_number("11010519491231002X").is_ok());
        assert!(check_number("11010519491231002x").is_ok());
        assert_eq!(
            check_number("110105194912310021"),
            Err(IdentityError::CheckDigit { expected: 'X' })
        );
    }

    #[test]
    fn resident_card_round_trip_and_masking() {
        let id = resident();
        let parsed = parse_text(&encode_text(&id)).unwrap();
        assert_eq!(parsed, id);
        let shown = format!("{parsed} {parsed:?}");
        assert!(
            !shown.contains("320583199001011232")
                && !shown.contains("三丰")
                && !shown.contains("前进西路"),
            "{shown}"
        );
        assert!(shown.contains("3205**********1232"), "{shown}");
        assert!(parsed.check_validity(ymd(2026, 11, 22)).is_ok());
        assert_eq!(
            parsed.check_validity(ymd(2041, 1, 1)),
            Err(IdentityError::Expired(ymd(2040, 5, 1)))
        );
        assert_eq!(
            parsed.check_validity(ymd(2019, 1, 1)),
            Err(IdentityError::NotYetValid(ymd(2020, 5, 1)))
        );
        let mut long = id.clone();
        long.valid_to = ValidTo::LongTerm;
        assert!(parse_text(&encode_text(&long))
            .unwrap()
            .check_validity(ymd(2099, 1, 1))
            .is_ok());
    }

    #[test]
    fn number_must_agree_with_birth_and_sex() {
        let mut id = resident();
        id.sex = Sex::Female;
        assert_eq!(
            parse_text(&encode_text(&id)),
            Err(IdentityError::Inconsistent("sex"))
        );
        let mut id = resident();
        id.birth = ymd(1990, 1, 2);
        assert_eq!(
            parse_text(&encode_text(&id)),
            Err(IdentityError::Inconsistent("birth date"))
        );
        let mut id = resident();
        id.number = "320583199001011237".into();
        assert!(matches!(
            parse_text(&encode_text(&id)),
            Err(IdentityError::CheckDigit { .. })
        ));
        let mut id = resident();
        id.nation = Some((77, String::new()));
        assert!(matches!(
            parse_text(&encode_text(&id)),
            Err(IdentityError::BadField {
                field: "nation",
                ..
            })
        ));
    }

    #[test]
    fn other_card_types_round_trip() {
        let mut j = resident();
        j.card_type = CardType::HkMacaoTaiwanPermit;
        j.nation = None;
        j.number = "810000199001011234".into();
        j.number = format!(
            "{}{}",
            &j.number[..17],
            check_digit(&j.number[..17]).unwrap()
        );
        j.pass_number = Some("H12345678".into());
        j.issue_count = Some(2);
        assert_eq!(parse_text(&encode_text(&j)).unwrap(), j);

        let i = Identity {
            card_type: CardType::ForeignPermanent2017,
            name: "玛丽".into(),
            english_name: Some("SMITH, MARY ANN".into()),
            sex: Sex::Female,
            nation: None,
            nationality: Some("USA".into()),
            birth: ymd(1985, 7, 4),
            address: None,
            number: "USA320085070401".into(),
            authority: "1500".into(),
            valid_from: ymd(2019, 3, 1),
            valid_to: ValidTo::Date(ymd(2029, 3, 1)),
            pass_number: None,
            issue_count: None,
            renewal_count: None,
            previous_number_link: None,
            card_version: Some("01".into()),
            provisional_layout: false,
            appended_address: None,
        };
        assert_eq!(parse_text(&encode_text(&i)).unwrap(), i);

        let mut y = i.clone();
        y.card_type = CardType::ForeignPermanent2023;
        y.english_name = Some("VAN DER BERG-SMITHSON, ALEXANDRA MARGARET".into());
        y.number = format!("93284019850704{}2", "20");
        y.number = format!(
            "{}{}",
            &y.number[..17],
            check_digit(&y.number[..17]).unwrap()
        );
        y.authority = String::new();
        y.card_version = None;
        y.renewal_count = Some(1);
        y.previous_number_link = Some("001".into());
        y.provisional_layout = true;
        assert_eq!(parse_text(&encode_text(&y)).unwrap(), y);
    }

    #[test]
    fn unknown_type_and_short_text() {
        let mut t = encode_text(&resident());
        t[248] = b'Q';
        assert_eq!(
            parse_text(&t),
            Err(IdentityError::UnknownCardType("Q".into()))
        );
        assert_eq!(parse_text(&t[..100]), Err(IdentityError::TextLength(100)));
        assert_eq!(nation_name(56), Some("基诺"));
        assert_eq!(nation_name(57), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), TEXT_LEN..=TEXT_LEN), ty in prop::sample::select(vec![b' ', b'J', b'I', b'Y'])) {
            let mut b = bytes;
            b[248] = ty;
            b[249] = 0;
            let _ = parse_text(&b);
        }

        #[test]
        fn parse_appended_address_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse_appended_address(&bytes);
        }
    }
}
