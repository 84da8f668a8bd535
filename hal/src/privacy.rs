//! Masking of personal data for logs and screens: ID numbers, names, phone numbers.
//!
//! The rule of the halls (and of MLPS level 3): an ID number shows as `3201**********1234`, a
//! phone as `138****5678`, a name keeps its first character. Whatever holds personal data
//! implements Display and Debug through these helpers, so a stray `{:?}` cannot leak it.

use std::fmt;

/// Keeps `head` leading and `tail` trailing characters and stars the rest. Short values are
/// starred whole: revealing most of a short secret is revealing it.
pub fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(s.len());
    out.extend(&chars[..head]);
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// `320102199001011234` → `3201**********1234`.
pub fn mask_id_number(s: &str) -> String {
    mask_middle(s, 4, 4)
}

/// `13812345678` → `138****5678`.
pub fn mask_phone(s: &str) -> String {
    mask_middle(s, 3, 4)
}

/// `张三丰` → `张**`; `Li Lei` → `L*****`.
pub fn mask_name(s: &str) -> String {
    mask_middle(s, 1, 0)
}

/// A value that prints masked in Display and Debug alike.
#[derive(Clone)]
pub struct Masked<'a> {
    value: &'a str,
    how: fn(&str) -> String,
}

impl<'a> Masked<'a> {
    pub fn id_number(value: &'a str) -> Self {
        Masked {
            value,
            how: mask_id_number,
        }
    }
    pub fn phone(value: &'a str) -> Self {
        Masked {
            value,
            how: mask_phone,
        }
    }
    pub fn name(value: &'a str) -> Self {
        Masked {
            value,
            how: mask_name,
        }
    }
}

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&(self.how)(self.value))
    }
}

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", (self.how)(self.value))
    }
}

/// Finds 15- and 18-digit ID numbers and 11-digit mobile numbers in free text (a scanned code,
/// a device reply) and masks them, for logging text whose shape is not known in advance.
pub fn mask_free_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            // An 18-character ID number may end in X.
            if i - start == 17 && i < chars.len() && (chars[i] == 'X' || chars[i] == 'x') {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            let masked = match run.len() {
                15 | 18 => mask_id_number(&run),
                11 if run.starts_with('1') => mask_phone(&run),
                _ => run,
            };
            out.push_str(&masked);
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_the_hall_rules() {
        assert_eq!(mask_id_number("320102199001011234"), "3201**********1234");
        assert_eq!(mask_id_number("32010219900101123X"), "3201**********123X");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("张"), "*");
        assert_eq!(mask_middle("abc", 2, 2), "***");
        assert_eq!(format!("{}", Masked::phone("13812345678")), "138****5678");
        assert_eq!(
            format!("{:?}", Masked::id_number("320102199001011234")),
            "\"3201**********1234\""
        );
    }

    #[test]
    fn free_text_masking_finds_numbers() {
        assert_eq!(
            mask_free_text("id=32010219900101123X&tel=13812345678&n=42"),
            "id=3201**********123X&tel=138****5678&n=42"
        );
        assert_eq!(
            mask_free_text("号码 320102900101123 结束"),
            "号码 3201*******1123 结束"
        );
        assert_eq!(mask_free_text("order 12345"), "order 12345");
    }
}
