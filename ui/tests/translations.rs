//! Every string a screen shows exists in both languages: each `@tr` of the .slint files has a
//! Chinese translation in the bundled catalogue, and the catalogue holds nothing stale.

use std::collections::BTreeSet;
use std::path::Path;

fn unescape(s: &str) -> String {
    s.replace("\\\"", "\"").replace("\\\\", "\\")
}

fn slint_strings(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            slint_strings(&p, out);
        } else if p.extension().is_some_and(|x| x == "slint") {
            let text = std::fs::read_to_string(&p).unwrap();
            let mut rest = text.as_str();
            while let Some(i) = rest.find("@tr(\"") {
                rest = &rest[i + 5..];
                let mut end = 0;
                let b = rest.as_bytes();
                while end < b.len() && !(b[end] == b'"' && (end == 0 || b[end - 1] != b'\\')) {
                    end += 1;
                }
                out.insert(unescape(&rest[..end]));
                rest = &rest[end..];
            }
        }
    }
}

#[test]
fn every_string_has_its_chinese_and_no_translation_is_stale() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = BTreeSet::new();
    slint_strings(&root.join("ui"), &mut used);
    assert!(used.len() > 90, "only {} strings found", used.len());
    let po =
        std::fs::read_to_string(root.join("translations/zh_CN/LC_MESSAGES/kiosk-ui.po")).unwrap();
    let mut translated = std::collections::BTreeMap::new();
    let mut id: Option<String> = None;
    for line in po.lines() {
        if let Some(m) = line
            .strip_prefix("msgid \"")
            .and_then(|l| l.strip_suffix('"'))
        {
            id = Some(unescape(m));
        } else if let Some(m) = line
            .strip_prefix("msgstr \"")
            .and_then(|l| l.strip_suffix('"'))
        {
            if let Some(k) = id.take() {
                if !k.is_empty() {
                    translated.insert(k, unescape(m));
                }
            }
        }
    }
    for s in &used {
        let zh = translated
            .get(s)
            .unwrap_or_else(|| panic!("no Chinese for {s:?}"));
        assert!(!zh.trim().is_empty(), "empty Chinese for {s:?}");
        // Placeholders may be reordered (`{1} … {0}`), never lost.
        let holes = |t: &str| t.matches('{').count();
        assert_eq!(holes(s), holes(zh), "placeholders differ: {s:?} → {zh:?}");
        assert!(
            zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) || s == "OK",
            "not Chinese: {s:?} → {zh:?}"
        );
    }
    for k in translated.keys() {
        assert!(used.contains(k), "stale translation for {k:?}");
    }
}
