//! The papers' part of the screens' view: the licences found with their print counts, the
//! paper open (title, pages, printed before, its preview), the proof's periods, the problem.

use kiosk_ui::{PapersUiView, ScreenId};

use crate::flows::host::View;
use crate::flows::kiosk::Screen;
use crate::flows::papers::{Problem, Stage};

pub fn screen_id(stage: &Stage) -> ScreenId {
    match stage {
        Stage::Login(s) => super::view_copy::login_screen_id(s),
        Stage::Months => ScreenId::PapersMonths,
        Stage::Looking => ScreenId::PapersLooking,
        Stage::List => ScreenId::PapersList,
        Stage::Opening { .. } => ScreenId::PapersOpening,
        Stage::Preview { .. } => ScreenId::PapersPreview,
        Stage::Printing { .. } => ScreenId::PapersPrinting,
        Stage::Problem { .. } => ScreenId::PapersProblem,
    }
}

pub fn papers_view(v: &View) -> PapersUiView {
    let (Screen::Papers(stage), Some(p)) = (&v.screen, &v.papers) else {
        return PapersUiView::default();
    };
    let english = v.english;
    PapersUiView {
        proof: p.proof,
        item: p.item.get(english).to_string(),
        citizen: p.citizen.clone(),
        licences: p
            .licences
            .iter()
            .map(|l| {
                let name = if english && !l.name_en.is_empty() {
                    format!("{} {}", l.name, l.name_en)
                } else {
                    l.name.clone()
                };
                (name, l.issuer.clone(), l.issued_on.clone(), l.printed)
            })
            .collect(),
        title: if english && !p.title_en.is_empty() {
            format!("{} {}", p.title, p.title_en)
        } else {
            p.title.clone()
        },
        pages: p.pages,
        printed_before: p.printed_before,
        printed: matches!(stage, Stage::Preview { printed: true, .. }),
        preview: super::view_copy::picture(&p.preview),
        months: p.months.clone(),
        problem: match stage {
            Stage::Problem {
                problem: Problem::Print(_),
                ..
            } => "print".into(),
            Stage::Problem { problem, .. } => problem.code(),
            _ => String::new(),
        },
    }
}
