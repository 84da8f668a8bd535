//! The login's and the ID card copy's part of the screens' view: which screen, the face
//! prompt, the finger's tries, the problem's code, and the session's pictures.

use kiosk_models::Prompt;
use kiosk_ui::{CopyView, JpegPicture, LoginView, ScreenId};

use crate::flows::host::{Picture, View};
use crate::flows::idcopy::{self, CaptureProblem, Stage};
use crate::flows::identify::{self, Problem, FINGER_TRIES};
use crate::flows::kiosk::Screen;
use crate::flows::rating;
use crate::services::card::CardProblem;
use crate::services::catalogue::TagFor;

pub fn login_screen_id(s: &identify::Stage) -> ScreenId {
    match s {
        identify::Stage::Present { .. } | identify::Stage::Principal => ScreenId::IdentifyPresent,
        identify::Stage::Consent { .. } => ScreenId::IdentifyConsent,
        identify::Stage::Face { .. } => ScreenId::IdentifyFace,
        identify::Stage::FaceFailed { .. } => ScreenId::IdentifyFaceFailed,
        identify::Stage::Finger { .. } => ScreenId::IdentifyFinger,
        identify::Stage::Problem { .. } => ScreenId::IdentifyProblem,
    }
}

pub fn rating_screen_id(r: &rating::Stage) -> ScreenId {
    match r {
        rating::Stage::Tags { .. } => ScreenId::RatingTags,
        rating::Stage::Complaint { .. } => ScreenId::RatingComplaint,
        rating::Stage::Thanks => ScreenId::RatingThanks,
    }
}

pub fn screen_id(stage: &Stage) -> ScreenId {
    match stage {
        Stage::Login(s) => login_screen_id(s),
        Stage::Place { .. } => ScreenId::IdcopyPlace,
        Stage::Capturing { .. } => ScreenId::IdcopyCapturing,
        Stage::Composing { .. } => ScreenId::IdcopyComposing,
        Stage::Printing { .. } => ScreenId::IdcopyPrinting,
        Stage::Purpose => ScreenId::IdcopyPurpose,
        Stage::TypeUse => ScreenId::IdcopyTypeUse,
        Stage::Preview { .. } => ScreenId::IdcopyPreview,
        Stage::Printed => ScreenId::IdcopyPrinted,
        Stage::Rating(r) => rating_screen_id(r),
        Stage::Problem { .. } => ScreenId::IdcopyProblem,
    }
}

pub fn prompt_code(p: Prompt) -> &'static str {
    match p {
        Prompt::LookAtCamera => "look-at-camera",
        Prompt::ComeCloser => "come-closer",
        Prompt::HoldStill => "hold-still",
        Prompt::MoreLight => "more-light",
        Prompt::TooBright => "too-bright",
        Prompt::OnlyOnePerson => "only-one-person",
        Prompt::Checking => "checking",
    }
}

/// The login problem's code as the screen's words know it, and the detail they need.
pub fn login_problem(p: &Problem) -> (String, String) {
    match p {
        Problem::Card(c) => (
            match c {
                CardProblem::NoCard | CardProblem::Canceled => "card-none",
                CardProblem::Moved => "card-moved",
                CardProblem::Unreadable(_) => "card-unreadable",
                CardProblem::Expired(_) => "card-expired",
                CardProblem::ReaderFault(_) => "card-reader-fault",
                CardProblem::Busy(_) => "card-reader-busy",
            }
            .into(),
            match c {
                CardProblem::Expired(d) => d.clone(),
                _ => String::new(),
            },
        ),
        other => (other.code(), String::new()),
    }
}

pub fn login_view(v: &View) -> LoginView {
    let stage = match &v.screen {
        Screen::IdCopy(Stage::Login(stage))
        | Screen::Apply(crate::flows::apply::Stage::Login(stage))
        | Screen::Query(crate::flows::query::Stage::Login(stage))
        | Screen::Papers(crate::flows::papers::Stage::Login(stage)) => stage,
        _ => return LoginView::default(),
    };
    let mut l = LoginView {
        agents: v.agents_possible,
        role: match stage {
            identify::Stage::Present {
                role: identify::Role::Agent,
            } => "agent",
            identify::Stage::Principal => "principal",
            _ => "citizen",
        }
        .into(),
        by_card: v.has_reader,
        by_code: v.has_scanner,
        finger_possible: v.finger_possible,
        prompt: prompt_code(Prompt::LookAtCamera).into(),
        finger_tries: FINGER_TRIES,
        ..LoginView::default()
    };
    match stage {
        identify::Stage::Face {
            attempt, prompt, ..
        } => {
            l.face_attempt = *attempt;
            l.prompt = prompt_code(*prompt).into();
            l.preview = picture(&v.face_preview);
        }
        identify::Stage::FaceFailed { attempt, .. } => l.face_attempt = *attempt,
        identify::Stage::Finger {
            attempt, missed, ..
        } => {
            l.finger_attempt = *attempt;
            l.finger_missed = *missed;
        }
        identify::Stage::Problem { problem, .. } => {
            let (code, detail) = login_problem(problem);
            l.problem = code;
            l.problem_detail = detail;
            l.can_retry = matches!(
                problem,
                Problem::Card(_) | Problem::Eid(_) | Problem::NotAnEid | Problem::SamePerson
            );
        }
        _ => {}
    }
    l
}

pub(crate) fn picture(p: &Option<Picture>) -> Option<JpegPicture> {
    p.as_ref().map(|p| JpegPicture {
        id: std::sync::Arc::as_ptr(&p.0) as usize,
        bytes: p.0.clone(),
    })
}

/// The keyboard and the rating, which the copy's and the application's screens share.
fn typing_and_rating(v: &View, rating: Option<&rating::Stage>, c: &mut CopyView) {
    if let Some(t) = &v.typing {
        c.typed = t.text.clone();
        c.preedit = t.preedit.clone();
        c.candidates = t.candidates.clone();
        c.candidate_page = t.page;
        c.last_page = t.last_page;
        c.plain = t.plain;
    }
    if let Some(
        rating::Stage::Tags { level, chosen } | rating::Stage::Complaint { level, chosen },
    ) = rating
    {
        let side = if level.unsatisfied() {
            TagFor::Unsatisfied
        } else {
            TagFor::Satisfied
        };
        c.rating_level = level.score();
        c.rating_tags = v
            .rating_tags
            .iter()
            .filter(|t| t.for_levels == side && t.offered_at(false))
            .map(|t| {
                (
                    t.id.clone(),
                    t.label.get(v.english).to_string(),
                    chosen.contains(&t.id),
                )
            })
            .collect();
    }
}

pub fn copy_view(v: &View) -> CopyView {
    let stage = match &v.screen {
        Screen::IdCopy(stage) => stage,
        Screen::Apply(a) => {
            let mut c = CopyView {
                citizen: v.citizen.clone(),
                ..CopyView::default()
            };
            let r = match a {
                crate::flows::apply::Stage::Rating { stage, .. } => Some(stage),
                _ => None,
            };
            typing_and_rating(v, r, &mut c);
            return c;
        }
        _ => return CopyView::default(),
    };
    let english = v.english;
    let mut c = CopyView {
        citizen: v.citizen.clone(),
        side: "front".into(),
        purposes: v
            .purposes
            .iter()
            .map(|p| (p.get(english).to_string(), p.zh.clone()))
            .collect(),
        front: picture(&v.copy_front),
        page: picture(&v.copy_page),
        ..CopyView::default()
    };
    let r = match stage {
        Stage::Rating(r) => Some(r),
        _ => None,
    };
    typing_and_rating(v, r, &mut c);
    if let Stage::Composing { purpose } | Stage::Preview { purpose } | Stage::Printing { purpose } =
        stage
    {
        c.chosen = if *purpose == idcopy::TYPED {
            format!("仅供{}使用，他用无效", c.typed.trim())
        } else {
            c.purposes
                .get(*purpose)
                .map(|(label, _)| label.clone())
                .unwrap_or_default()
        };
    }
    match stage {
        Stage::Place { side, problem } => {
            c.side = side.as_str().into();
            c.capture_problem = match problem {
                None => "",
                Some(CaptureProblem::NoCard) => "no-card",
                Some(CaptureProblem::Camera(_)) => "camera",
            }
            .into();
        }
        Stage::Capturing { side } => {
            c.side = side.as_str().into();
            c.busy = "capturing".into();
        }
        Stage::Composing { .. } => c.busy = "composing".into(),
        Stage::Printing { .. } => c.busy = "printing".into(),
        Stage::Problem { problem, purpose } => {
            c.problem = problem.code();
            c.can_retry = match problem {
                idcopy::Problem::Print(_) => purpose.is_some(),
                idcopy::Problem::Compose(_) => true,
                idcopy::Problem::Unavailable => false,
            };
        }
        _ => {}
    }
    c
}
