//! A service item's material list for a citizen's answers, as the guide shows it, as a link
//! to read it on a phone, and printed on the receipt printer (two-phase, like every output).

use serde_json::{json, Value};

use super::catalogue::{Answers, Catalogue, MaterialSource, ServiceItem, Text};
use super::outputs::OutputDesk;
use super::queue::PrintProblem;
use crate::runtime::Claim;

/// One line of the list in the citizen's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialLine {
    pub name: String,
    /// How it is handed in, with the catalogue's note.
    pub how: String,
    pub optional: bool,
}

/// How a material is handed in, in words.
pub fn how(source: &MaterialSource) -> Text {
    let (zh, en) = match source {
        MaterialSource::Capture { .. } => (
            "在本机高拍仪拍照上传",
            "Photographed here on the document camera",
        ),
        MaterialSource::Elicence { .. } => (
            "从您的电子证照中调取，无需携带",
            "Taken from your e-licences; no need to bring it",
        ),
        MaterialSource::Generated { .. } => (
            "在本机申请时由您填写的表单自动生成",
            "Made from the form you fill when you apply here",
        ),
        MaterialSource::AtWindow => ("请带原件到窗口提交", "Bring the original to a window"),
    };
    Text {
        zh: zh.into(),
        en: Some(en.into()),
    }
}

/// The list for `answers`, or `None` when the answers do not hold (a stale screen).
pub fn lines(item: &ServiceItem, answers: &Answers, english: bool) -> Option<Vec<MaterialLine>> {
    let plan = item.plan(answers).ok()?;
    Some(
        plan.materials
            .iter()
            .filter_map(|id| item.material(id))
            .map(|m| {
                let mut how = how(&m.source).get(english).to_string();
                let note = m.note.get(english);
                if !note.is_empty() {
                    how = format!("{how}（{note}）");
                }
                MaterialLine {
                    name: m.name.get(english).to_string(),
                    how,
                    optional: !m.required,
                }
            })
            .collect(),
    )
}

/// Whether some answer sends the case to a window.
pub fn at_window(item: &ServiceItem, answers: &Answers) -> bool {
    item.plan(answers).is_ok_and(|p| !p.at_window.is_empty())
}

/// "question: answer" lines for the answers given, in the questions' order.
pub fn situation(item: &ServiceItem, answers: &Answers, english: bool) -> Vec<String> {
    item.questions_for(answers)
        .iter()
        .filter_map(|q| {
            let chosen: Vec<&str> = q
                .answers
                .iter()
                .filter(|a| answers.get(&q.id).is_some_and(|c| c.contains(&a.id)))
                .map(|a| a.label.get(english))
                .collect();
            (!chosen.is_empty()).then(|| format!("{}：{}", q.title.get(english), chosen.join("、")))
        })
        .collect()
}

/// Where the same list opens on a phone: the hall's guide page with the item and answers.
/// Empty when the hall publishes no guide page.
pub fn list_url(catalogue: &Catalogue, item: &ServiceItem, answers: &Answers) -> String {
    let base = catalogue.hall.guide_url.trim_end_matches('/');
    if base.is_empty() {
        return String::new();
    }
    let picked: Vec<String> = answers
        .iter()
        .map(|(q, a)| format!("{q}:{}", a.iter().cloned().collect::<Vec<_>>().join(",")))
        .collect();
    // Ids are plain letters, digits, '-' and '_' (the catalogue checks), so they need no
    // escaping beyond the separators.
    format!("{base}?item={}&answers={}", item.id, picked.join(";"))
}

/// The receipt printer's `print` arguments for the list.
pub fn print_args(
    catalogue: &Catalogue,
    item: &ServiceItem,
    answers: &Answers,
    printed_at: &str,
) -> Value {
    let materials: Vec<Value> = lines(item, answers, false)
        .unwrap_or_default()
        .into_iter()
        .map(|l| json!({ "name": l.name, "how": l.how, "optional": l.optional }))
        .collect();
    json!({
        "template": "material-list",
        "hall": catalogue.hall.name.zh,
        "service": item.name.zh,
        "department": item.department.zh,
        "time_limit": item.guide.time_limit.zh,
        "fee": item.guide.fee.zh,
        "situation": situation(item, answers, false),
        "materials": materials,
        "at_window": at_window(item, answers),
        "printed_at": printed_at,
        "qr_url": list_url(catalogue, item, answers),
    })
}

/// Prints the list; a printer that cannot confirm counts as printed (the citizen sees it).
pub fn print(
    desk: &OutputDesk,
    printer: &Claim,
    catalogue: &Catalogue,
    item: &ServiceItem,
    answers: &Answers,
    printed_at: &str,
) -> Result<(), PrintProblem> {
    let args = print_args(catalogue, item, answers, printed_at);
    let record = desk
        .print_receipt(printer, "material-list", args)
        .map_err(|e| PrintProblem::Journal(e.to_string()))?;
    super::queue::printed(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Catalogue {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hall-catalogue.json");
        Catalogue::from_json(&serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
            .unwrap()
    }

    fn answers(pairs: &[(&str, &[&str])]) -> Answers {
        pairs
            .iter()
            .map(|(q, a)| (q.to_string(), a.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn the_list_its_words_and_its_link_follow_the_answers() {
        let c = sample();
        let item = c.item("huji-zhengming").unwrap();
        let a = answers(&[
            ("purpose", &["job"]),
            ("for_whom", &["family"]),
            ("relation", &["spouse"]),
        ]);
        let zh = lines(item, &a, false).unwrap();
        assert_eq!(
            zh.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["申请人居民身份证", "居民户口簿", "结婚证", "户籍证明申请表"]
        );
        assert!(zh[0].how.contains("高拍仪") && zh[0].how.contains("正反两面"));
        assert!(zh[2].how.contains("电子证照"));
        let en = lines(item, &a, true).unwrap();
        assert_eq!(en[1].name, "Household register booklet");
        assert_eq!(situation(item, &a, false)[1], "为谁开具：同户家庭成员");
        assert!(!at_window(item, &a));
        assert!(at_window(
            item,
            &answers(&[("purpose", &["job"]), ("for_whom", &["deceased"])])
        ));
        let url = list_url(&c, item, &a);
        assert!(
            url.starts_with("https://") && url.contains("item=huji-zhengming"),
            "{url}"
        );
        assert!(url.contains("relation:spouse"));
        let args = print_args(&c, item, &a, "2026-12-02 09:41");
        let t: kiosk_drivers::escpos::templates::Template = serde_json::from_value(args).unwrap();
        assert!(t.receipt(kiosk_drivers::escpos::doc::Paper::Mm80).is_ok());
        // Answers that do not hold give no list rather than a wrong one.
        assert!(lines(item, &answers(&[("purpose", &["nope"])]), false).is_none());
    }
}
