//! What the flows' view means on screen: the screen id, texts in the citizen's language, the
//! problem's kind and detail; and what a touch means to the flows. Pure translation, both ways.

use kiosk_ui::{
    GroupLine, JourneyLine, Language, ProblemKind, ScreenId, SlideLine, UiIntent, UiView, Why,
};

use crate::flows::host::View;
use crate::flows::kiosk::{self, Screen, Unavailable};
use crate::flows::ticket::{self, Problem, Stage};
use crate::services::card::CardProblem;
use crate::services::catalogue::{Identification, Method, QueueGroup};
use crate::services::queue::{NumberProblem, PrintProblem};

pub fn intent(i: UiIntent) -> kiosk::Input {
    use kiosk::Input as K;
    use ticket::Input as T;
    match i {
        UiIntent::Wake => K::Wake,
        UiIntent::Touch => K::Touch,
        UiIntent::Start(j) => K::Start(j),
        UiIntent::ChooseGroup(g) => K::Journey(T::Choose(g)),
        UiIntent::Skip => K::Journey(T::Skip),
        UiIntent::Back => K::Journey(T::Back),
        UiIntent::Home => K::Home,
        UiIntent::Retry => K::Journey(T::Retry),
        UiIntent::Done => K::Journey(T::Done),
        UiIntent::Continue => K::Continue,
        UiIntent::Help(on) => K::Help(on),
        UiIntent::ToggleLanguage => K::ToggleLanguage,
        UiIntent::StaffEntry => K::StaffEntry,
        UiIntent::StaffDigit(d) => K::StaffDigit(d),
        UiIntent::StaffDelete => K::StaffDelete,
        UiIntent::StaffSubmit => K::StaffSubmit,
    }
}

fn screen_id(s: &Screen) -> ScreenId {
    match s {
        Screen::Attract => ScreenId::Attract,
        Screen::Home => ScreenId::Home,
        Screen::StaffPin => ScreenId::StaffPin,
        Screen::DeviceStatus => ScreenId::DeviceStatus,
        Screen::Ticket(stage) => match stage {
            Stage::Groups => ScreenId::TicketGroups,
            Stage::Identify { .. } => ScreenId::TicketIdentify,
            Stage::Numbering { .. } => ScreenId::TicketNumbering,
            Stage::Printing { .. } => ScreenId::TicketPrinting,
            Stage::Taken { .. } => ScreenId::TicketTaken,
            Stage::Problem { .. } => ScreenId::TicketProblem,
        },
    }
}

fn why(u: Option<Unavailable>) -> Why {
    match u {
        None => Why::None,
        Some(Unavailable::Printer) => Why::Printer,
        Some(Unavailable::Centre) => Why::Centre,
        Some(Unavailable::Catalogue) => Why::Catalogue,
        Some(Unavailable::Busy) => Why::Busy,
    }
}

/// The problem's kind and the detail its words need.
pub fn problem_kind(p: &Problem) -> (ProblemKind, String) {
    match p {
        Problem::NoGroups => (ProblemKind::NoGroups, String::new()),
        Problem::CannotIdentifyHere => (ProblemKind::CannotIdentifyHere, String::new()),
        Problem::Card(c) => match c {
            CardProblem::NoCard | CardProblem::Canceled => (ProblemKind::CardNone, String::new()),
            CardProblem::Moved => (ProblemKind::CardMoved, String::new()),
            CardProblem::Unreadable(_) => (ProblemKind::CardUnreadable, String::new()),
            CardProblem::Expired(d) => (ProblemKind::CardExpired, d.clone()),
            CardProblem::ReaderFault(_) => (ProblemKind::CardReaderFault, String::new()),
            CardProblem::Busy(_) => (ProblemKind::CardReaderBusy, String::new()),
        },
        Problem::NotAnAppointment => (ProblemKind::NotAnAppointment, String::new()),
        Problem::Number(n) => match n {
            NumberProblem::CentreUnreachable(_) => (ProblemKind::CentreUnreachable, String::new()),
            NumberProblem::Refused(_) => (ProblemKind::CentreRefused, String::new()),
            NumberProblem::AppointmentUnknown => (ProblemKind::AppointmentUnknown, String::new()),
            NumberProblem::AppointmentElsewhere(_) => {
                (ProblemKind::AppointmentElsewhere, String::new())
            }
            NumberProblem::AppointmentUsed(_) => (ProblemKind::AppointmentUsed, String::new()),
        },
        Problem::Print(p) => match p {
            PrintProblem::PaperOut => (ProblemKind::PrintPaperOut, String::new()),
            PrintProblem::CoverOpen => (ProblemKind::PrintCoverOpen, String::new()),
            PrintProblem::CutterJam => (ProblemKind::PrintCutterJam, String::new()),
            PrintProblem::Fault(_) | PrintProblem::Busy(_) | PrintProblem::Journal(_) => {
                (ProblemKind::PrintFault, String::new())
            }
        },
        Problem::DevicesBusy(_) => (ProblemKind::DevicesBusy, String::new()),
    }
}

fn group_line(g: &QueueGroup, english: bool) -> GroupLine {
    GroupLine {
        id: g.id.clone(),
        name: g.name.get(english).to_string(),
        summary: g.summary.get(english).to_string(),
        prefix: g.prefix.clone(),
        identify: match g.identify {
            Identification::None => "none",
            Identification::Optional => "optional",
            Identification::Required => "required",
        }
        .into(),
    }
}

/// The screens' view of the flows' view.
pub fn ui_view(v: &View, staff_pin_set: bool) -> UiView {
    let english = v.english;
    let stage = match &v.screen {
        Screen::Ticket(s) => Some(s),
        _ => None,
    };
    let group = stage
        .and_then(|s| s.group())
        .and_then(|id| v.groups.iter().find(|g| g.id == id));
    let ticket = match stage {
        Some(Stage::Printing { ticket, .. } | Stage::Taken { ticket, .. }) => Some(ticket),
        _ => None,
    };
    let problem = match stage {
        Some(Stage::Problem { problem, retry, .. }) => {
            let (kind, detail) = problem_kind(problem);
            Some(kiosk_ui::Problem {
                kind,
                detail,
                can_retry: retry.is_some(),
            })
        }
        _ => None,
    };
    let mut slides: Vec<SlideLine> = v
        .slides
        .iter()
        .map(|p| SlideLine {
            picture: Some(p.clone()),
            title: String::new(),
            text: String::new(),
        })
        .collect();
    slides.extend(v.notices.iter().map(|n| SlideLine {
        picture: None,
        title: n.title.get(english).to_string(),
        text: n.text.get(english).to_string(),
    }));
    let slide = if slides.is_empty() {
        0
    } else {
        v.slide % slides.len()
    };
    UiView {
        screen: screen_id(&v.screen),
        language: if english {
            Language::En
        } else {
            Language::ZhCn
        },
        help: v.help,
        asking: v.asking,
        journeys: v
            .offers
            .iter()
            .map(|o| JourneyLine {
                id: o.id.clone(),
                available: o.available,
                why: why(o.why),
            })
            .collect(),
        hall: v
            .hall
            .as_ref()
            .map(|h| h.get(english).to_string())
            .unwrap_or_default(),
        groups: v.groups.iter().map(|g| group_line(g, english)).collect(),
        group: group.map(|g| group_line(g, english)),
        by_card: group.is_some_and(|g| g.accepts(Method::IdCard)) && v.has_reader,
        by_code: group.is_some_and(|g| g.accepts(Method::Appointment)) && v.has_scanner,
        may_skip: group.is_some_and(|g| g.identify == Identification::Optional),
        number: ticket.map(|t| t.number.clone()).unwrap_or_default(),
        ahead: ticket.map_or(0, |t| t.ahead),
        unconfirmed: ticket.is_some_and(|t| t.unconfirmed),
        problem,
        slides,
        slide,
        pin_length: v.pin_len,
        pin_wrong: v.pin_wrong,
        pin_locked_minutes: v.pin_locked_minutes.unwrap_or(0),
        no_pin: !staff_pin_set,
    }
}
