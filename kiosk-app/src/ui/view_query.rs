//! The case look-up's part of the screens' view: the keypad's entry (the password as dots),
//! the cases found with their status in the citizen's language, the case open with its log.

use kiosk_protocol::cases::{Case, CaseStatus};
use kiosk_ui::{CasesUiView, ScreenId};

use crate::flows::host::View;
use crate::flows::kiosk::Screen;
use crate::flows::query::{self, Stage};

pub fn screen_id(stage: &Stage) -> ScreenId {
    match stage {
        Stage::How => ScreenId::QueryHow,
        Stage::Login(s) => super::view_copy::login_screen_id(s),
        Stage::Number => ScreenId::QueryNumber,
        Stage::Password => ScreenId::QueryPassword,
        Stage::Looking => ScreenId::QueryLooking,
        Stage::List { .. } => ScreenId::QueryList,
        Stage::Detail { .. } => ScreenId::QueryDetail,
        Stage::Printing { .. } => ScreenId::QueryPrinting,
        Stage::Problem { .. } => ScreenId::QueryProblem,
    }
}

pub fn status_words(s: CaseStatus, english: bool) -> &'static str {
    if !english {
        return crate::flows::host::status_zh(s);
    }
    match s {
        CaseStatus::Submitted => "Submitted",
        CaseStatus::Accepted => "Accepted",
        CaseStatus::Processing => "In progress",
        CaseStatus::NeedsMore => "More material needed",
        CaseStatus::Completed => "Completed",
        CaseStatus::Rejected => "Not accepted",
    }
}

fn tile(c: &Case, v: &View) -> (String, String, String, String, String) {
    // The item's name in the citizen's language when the catalogue knows it; the centre's
    // (Chinese) name otherwise.
    let item = v
        .items
        .iter()
        .find(|i| i.id == c.item)
        .map(|i| i.name.get(v.english).to_string())
        .unwrap_or_else(|| c.item_name.clone());
    (
        c.case_number.clone(),
        item,
        status_words(c.status, v.english).into(),
        c.status.as_str().into(),
        c.submitted_at.chars().take(10).collect(),
    )
}

pub fn cases_view(v: &View) -> CasesUiView {
    let Screen::Query(stage) = &v.screen else {
        return CasesUiView::default();
    };
    let mut u = CasesUiView {
        typed: v
            .typing
            .as_ref()
            .map(|t| t.text.clone())
            .unwrap_or_default(),
        cases: v.cases.iter().map(|c| tile(c, v)).collect(),
        can_print: v.can_print,
        identified: !v.citizen.is_empty(),
        ..CasesUiView::default()
    };
    match stage {
        Stage::Password => u.typed = "●".repeat(u.typed.chars().count()),
        Stage::Detail { at, .. } | Stage::Problem { at: Some(at), .. } => {
            if let Stage::Detail { printed, .. } = stage {
                u.printed = *printed;
            }
            if let Some(c) = v.cases.get(*at) {
                u.open = Some(tile(c, v));
                u.log = c
                    .log
                    .iter()
                    .map(|l| {
                        (
                            l.at.clone(),
                            status_words(l.status, v.english).to_string(),
                            l.comment.clone(),
                        )
                    })
                    .collect();
            }
        }
        _ => {}
    }
    if let Stage::Problem { problem, .. } = stage {
        u.problem = match problem {
            query::Problem::Print(_) => "print".into(),
            other => other.code(),
        };
    }
    u
}
