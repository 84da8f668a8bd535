//! The application's part of the screens' view: which screen, the field on screen in the
//! citizen's language, the pick-up ways, the pages' thumbnails, the review, the signature and
//! the numbers; and what a touch on an application screen means.

use kiosk_ui::{ApplyUiView, JpegPicture, ScreenId};

use crate::flows::apply::{self, CaptureProblem, Stage};
use crate::flows::host::View;
use crate::flows::kiosk::Screen;
use crate::services::apply::Keyboard;

pub fn screen_id(stage: &Stage) -> ScreenId {
    match stage {
        Stage::Login(s) => super::view_copy::login_screen_id(s),
        Stage::Form { .. } => ScreenId::ApplyForm,
        Stage::Pickup => ScreenId::ApplyPickup,
        Stage::Address { .. } => ScreenId::ApplyAddress,
        Stage::Pages { .. } => ScreenId::ApplyPages,
        Stage::Capturing { .. } => ScreenId::ApplyCapturing,
        Stage::FetchingLicences => ScreenId::ApplyFetchingLicences,
        Stage::Licences => ScreenId::ApplyLicences,
        Stage::Review => ScreenId::ApplyReview,
        Stage::Sign { .. } => ScreenId::ApplySign,
        Stage::Submitting => ScreenId::ApplySubmitting,
        Stage::Submitted { .. } => ScreenId::ApplySubmitted,
        Stage::PrintingReceipt { .. } => ScreenId::ApplyPrinting,
        Stage::Rating { stage, .. } => super::view_copy::rating_screen_id(stage),
        Stage::Problem { .. } => ScreenId::ApplyProblem,
    }
}

pub fn apply_view(v: &View) -> ApplyUiView {
    let (Screen::Apply(stage), Some(a)) = (&v.screen, &v.apply) else {
        return ApplyUiView::default();
    };
    let en = v.english;
    let mut u = ApplyUiView {
        item: a.item.get(en).into(),
        citizen: v.citizen.clone(),
        agent: a.agent.clone(),
        form_title: a.form_title.get(en).into(),
        label: a.label.get(en).into(),
        hint: a.hint.get(en).into(),
        at: a.at,
        fields: a.fields,
        keyboard: match a.keyboard {
            Some(Keyboard::Pinyin) => "pinyin",
            Some(Keyboard::Digits) => "digits",
            Some(Keyboard::Latin) => "latin",
            Some(Keyboard::None) | None => "none",
        }
        .into(),
        digit_extra: a.digit_extra.into(),
        options: a.options.iter().map(|o| o.get(en).to_string()).collect(),
        chosen: a.chosen,
        prefilled: a.prefilled,
        typed_ok: a.typed_ok,
        error: a
            .error
            .as_ref()
            .map(|e| e.get(en).to_string())
            .unwrap_or_default(),
        pickups: a.pickups.iter().map(|p| p.as_str().to_string()).collect(),
        pickup: a.pickup.map(|p| p.as_str().to_string()).unwrap_or_default(),
        address: a.address.clone(),
        material: a.material.get(en).into(),
        material_note: a.material_note.get(en).into(),
        material_at: a.material_at,
        materials: a.materials,
        pages: a
            .pages
            .iter()
            .map(|p| JpegPicture {
                id: std::sync::Arc::as_ptr(&p.0) as usize,
                bytes: p.0.clone(),
            })
            .collect(),
        plate: super::view_copy::picture(&a.plate),
        min_pages: a.min_pages,
        max_pages: a.max_pages,
        review: a
            .review
            .iter()
            .map(|(l, x)| (l.get(en).to_string(), x.clone()))
            .collect(),
        page_total: a.page_total,
        ink: a.ink.clone(),
        number: a.number.clone(),
        numbered: a.numbered,
        password: a.password.0.clone(),
        can_print: v.can_print,
        not_here: a.not_here.iter().map(|t| t.get(en).to_string()).collect(),
        licences: a
            .licences
            .iter()
            .map(|(name, from, required)| (name.get(en).to_string(), from.clone(), *required))
            .collect(),
        licences_ready: a.licences_ready,
        ..ApplyUiView::default()
    };
    match stage {
        Stage::Pages {
            problem: Some(p), ..
        } => {
            u.capture_problem = match p {
                CaptureProblem::NoCard => "no-card",
                CaptureProblem::Camera(_) => "camera",
            }
            .into();
        }
        Stage::Sign { problem: Some(_) } => u.sign_problem = "too-little".into(),
        Stage::Submitted { printed, .. } => u.printed = *printed,
        Stage::Problem { problem, filed } => {
            u.problem = match problem {
                apply::Problem::Print(_) => "print".into(),
                other => other.code(),
            };
            u.can_retry = match problem {
                apply::Problem::Print(_) => filed.is_some(),
                apply::Problem::Submit(_) | apply::Problem::LicencesAway => true,
                _ => false,
            };
        }
        _ => {}
    }
    u
}
