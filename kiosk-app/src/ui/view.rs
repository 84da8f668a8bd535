//! What the flows' view means on screen: the screen id, texts in the citizen's language, the
//! problem's kind and detail; and what a touch means to the flows. Pure translation, both ways.

use kiosk_ui::{
    GroupLine, GuideView, JourneyLine, Language, MaterialLine, ProblemKind, ScreenId, SlideLine,
    UiIntent, UiView, Why,
};

use crate::flows::guide::{self, Shelf};
use crate::flows::host::typing::Tap;
use crate::flows::host::View;
use crate::flows::kiosk::{self, Screen, Unavailable};
use crate::flows::ticket::{self, Problem, Stage};
use crate::flows::{idcopy, identify};
use crate::services::card::CardProblem;
use crate::services::catalogue::{Category, Choice, Identification, Method, QueueGroup};
use crate::services::queue::{NumberProblem, PrintProblem};

/// What a touch means to the flows, on the screen showing.
pub fn intent(i: UiIntent, screen: &Screen) -> kiosk::Input {
    use crate::flows::apply::Input as A;
    use kiosk::Input as K;
    use ticket::Input as T;
    let applying = matches!(screen, Screen::Apply(_));
    let login = |l: identify::Input| match screen {
        Screen::Apply(_) => K::Apply(A::Login(l)),
        Screen::Query(_) => K::Query(crate::flows::query::Input::Login(l)),
        Screen::Papers(_) => K::Papers(crate::flows::papers::Input::Login(l)),
        _ => K::IdCopy(idcopy::Input::Login(l)),
    };
    match i {
        UiIntent::Wake => K::Wake,
        UiIntent::Touch => K::Touch,
        UiIntent::Start(j) => K::Start(j),
        UiIntent::ChooseGroup(g) => K::Journey(T::Choose(g)),
        UiIntent::Skip => K::Journey(T::Skip),
        UiIntent::Back => K::Back,
        UiIntent::Home => K::Home,
        UiIntent::Retry => K::Retry,
        UiIntent::Done => K::Done,
        UiIntent::Continue => K::Continue,
        UiIntent::Help(on) => K::Help(on),
        UiIntent::ToggleLanguage => K::ToggleLanguage,
        UiIntent::StaffEntry => K::StaffEntry,
        UiIntent::StaffDigit(d) => K::StaffDigit(d),
        UiIntent::StaffDelete => K::StaffDelete,
        UiIntent::StaffSubmit => K::StaffSubmit,
        UiIntent::Admin(a) => super::view_admin::intent(a),
        UiIntent::GuideShelf(id) => K::Guide(guide::Input::Shelf(match id.as_str() {
            "personal" => Shelf::Category(Category::Personal),
            "legal-person" => Shelf::Category(Category::LegalPerson),
            "query-print" => Shelf::Category(Category::QueryPrint),
            _ => Shelf::Common,
        })),
        UiIntent::GuideType(c) => K::Guide(guide::Input::Type(c)),
        UiIntent::GuideErase => K::Guide(guide::Input::Erase),
        UiIntent::GuideClear => K::Guide(guide::Input::ClearQuery),
        UiIntent::OpenItem(id) => K::Guide(guide::Input::Open(id)),
        UiIntent::Begin => K::Guide(guide::Input::Begin),
        UiIntent::ChooseAnswer(id) => K::Guide(guide::Input::Choose(id)),
        // "Next" on the guide's question, or "use this" on a typed text.
        UiIntent::Next => K::Next,
        // "Print" on the copy's preview, or on the guide's material list.
        UiIntent::Print => K::Print,
        UiIntent::ToggleCare => K::ToggleCare,
        // Speech is the window's (see `ui::voice`); as a step it is only a touch.
        UiIntent::ReadAloud | UiIntent::Speak(_) => K::Touch,
        UiIntent::Agree => login(identify::Input::Agree),
        UiIntent::UseFingerprint => login(identify::Input::UseFingerprint),
        UiIntent::ForSomeoneElse => login(identify::Input::ForSomeoneElse),
        UiIntent::Capture if applying => K::Apply(A::Capture),
        UiIntent::Capture => K::IdCopy(idcopy::Input::Capture),
        UiIntent::ChoosePurpose(n) => K::IdCopy(idcopy::Input::Purpose(n)),
        UiIntent::OtherUse => K::IdCopy(idcopy::Input::TypeUse),
        UiIntent::Rate(n) => match crate::flows::rating::Level::from_score(n) {
            Some(l) if applying => K::Apply(A::Rate(l)),
            Some(l) => K::IdCopy(idcopy::Input::Rate(l)),
            None => K::Touch,
        },
        UiIntent::RatingTag(t) if applying => {
            K::Apply(A::Rating(crate::flows::rating::Input::Tag(t)))
        }
        UiIntent::RatingTag(t) => {
            K::IdCopy(idcopy::Input::Rating(crate::flows::rating::Input::Tag(t)))
        }
        UiIntent::ApplyHere => K::Guide(guide::Input::Apply),
        UiIntent::QueryByCard => K::Query(crate::flows::query::Input::ByCard),
        UiIntent::QueryByNumber => K::Query(crate::flows::query::Input::ByNumber),
        UiIntent::OpenCase(n) => K::Query(crate::flows::query::Input::Open(n)),
        UiIntent::OpenPaper(n) => K::Papers(crate::flows::papers::Input::Open(n)),
        UiIntent::ChooseMonths(m) => K::Papers(crate::flows::papers::Input::Months(m)),
        UiIntent::ChooseOption(n) => K::Apply(A::Choose(n)),
        UiIntent::DigitKey(c) => K::Type(Tap::Char(c)),
        UiIntent::DeletePage(n) => K::Apply(A::DeletePage(n)),
        UiIntent::ClearSignature => K::Apply(A::ClearSignature),
        UiIntent::InkStroke(points) => K::Ink(
            points
                .into_iter()
                .map(
                    |(x, y, t_ms, pressure)| crate::services::apply::ink::InkPoint {
                        x,
                        y,
                        t_ms,
                        pressure,
                    },
                )
                .collect(),
        ),
        UiIntent::ImePick(n) => K::Type(Tap::Pick(n)),
        UiIntent::ImeKey(k) => match crate::flows::host::typing::key_named(&k) {
            Some(key) => K::Type(Tap::Key(key)),
            None => K::Touch,
        },
    }
}

fn screen_id(s: &Screen) -> ScreenId {
    match s {
        Screen::Attract => ScreenId::Attract,
        Screen::Home => ScreenId::Home,
        Screen::StaffPin => ScreenId::StaffPin,
        Screen::Admin(stage) => super::view_admin::screen_id(&stage.page),
        Screen::Ticket(stage) => match stage {
            Stage::Groups => ScreenId::TicketGroups,
            Stage::Identify { .. } => ScreenId::TicketIdentify,
            Stage::Numbering { .. } => ScreenId::TicketNumbering,
            Stage::Printing { .. } => ScreenId::TicketPrinting,
            Stage::Taken { .. } => ScreenId::TicketTaken,
            Stage::Problem { .. } => ScreenId::TicketProblem,
        },
        Screen::IdCopy(stage) => super::view_copy::screen_id(stage),
        Screen::Apply(stage) => super::view_apply::screen_id(stage),
        Screen::Query(stage) => super::view_query::screen_id(stage),
        Screen::Papers(stage) => super::view_papers::screen_id(stage),
        Screen::Guide(stage) => match stage {
            guide::Stage::Items { .. } => ScreenId::GuideItems,
            guide::Stage::Item { .. } => ScreenId::GuideItem,
            guide::Stage::Question { .. } => ScreenId::GuideQuestion,
            guide::Stage::Materials { .. } => ScreenId::GuideMaterials,
            guide::Stage::Printing { .. } => ScreenId::GuidePrinting,
            guide::Stage::Problem { .. } => ScreenId::GuideProblem,
        },
    }
}

fn shelf_id(s: Shelf) -> &'static str {
    match s {
        Shelf::Common => "common",
        Shelf::Category(Category::Personal) => "personal",
        Shelf::Category(Category::LegalPerson) => "legal-person",
        Shelf::Category(Category::QueryPrint) => "query-print",
    }
}

/// The guide's screens' view: the list, the item's guide, the question, the materials.
fn guide_view(v: &View) -> GuideView {
    let english = v.english;
    let Screen::Guide(stage) = &v.screen else {
        return GuideView::default();
    };
    let mut g = GuideView {
        can_print: v.can_print,
        can_apply: v.guide_can_apply,
        can_prove: v.guide_can_prove,
        qr: v.guide_url.clone(),
        ..GuideView::default()
    };
    if let guide::Stage::Items { shelf, query } = stage {
        g.shelf = shelf_id(*shelf).into();
        g.query = query.clone();
        g.items = v
            .guide_list
            .iter()
            .filter_map(|id| v.items.iter().find(|i| &i.id == id))
            .map(|i| {
                (
                    i.id.clone(),
                    i.name.get(english).to_string(),
                    i.department.get(english).to_string(),
                )
            })
            .collect();
    }
    let Some(item) = stage
        .item()
        .and_then(|id| v.items.iter().find(|i| i.id == id))
    else {
        if let guide::Stage::Problem { problem, .. } = stage {
            g.problem = problem.code().into();
        }
        return g;
    };
    g.item_name = item.name.get(english).into();
    g.item_department = item.department.get(english).into();
    g.notice = item.guide.notice.get(english).into();
    g.legal_basis = item.guide.legal_basis.get(english).into();
    g.time_limit = item.guide.time_limit.get(english).into();
    g.fee = item.guide.fee.get(english).into();
    g.has_questions = !item.questions.is_empty();
    match stage {
        guide::Stage::Question { answers, at, .. } => {
            let asked = item.questions_for(answers);
            if let Some(q) = asked.get(*at) {
                let chosen = answers.get(&q.id);
                g.question = q.title.get(english).into();
                g.question_number = at + 1;
                g.question_count = asked.len();
                g.multiple = q.choice == Choice::Multiple;
                g.required = q.required;
                g.answers = q
                    .answers
                    .iter()
                    .map(|a| {
                        (
                            a.id.clone(),
                            a.label.get(english).to_string(),
                            chosen.is_some_and(|c| c.contains(&a.id)),
                        )
                    })
                    .collect();
                g.can_next = !q.required || chosen.is_some_and(|c| !c.is_empty());
            }
        }
        guide::Stage::Materials {
            answers, printed, ..
        } => {
            g.printed = *printed;
            g.at_window = crate::services::materials::at_window(item, answers);
            g.materials = crate::services::materials::lines(item, answers, english)
                .unwrap_or_default()
                .into_iter()
                .map(|l| MaterialLine {
                    name: l.name,
                    how: l.how,
                    optional: l.optional,
                })
                .collect();
            // Nothing to bring (a proof printed here): no list to print or to take away.
            if g.materials.is_empty() {
                g.can_print = false;
                g.qr.clear();
            }
        }
        guide::Stage::Problem { problem, .. } => g.problem = problem.code().into(),
        _ => {}
    }
    g
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
        ahead: ticket.map_or(Some(0), |t| t.ahead),
        unconfirmed: ticket.is_some_and(|t| t.unconfirmed),
        problem,
        slides,
        slide,
        pin_length: v.pin_len,
        pin_wrong: v.pin_wrong,
        pin_locked_minutes: v.pin_locked_minutes.unwrap_or(0),
        pin_asks_number: v.pin_asks_number,
        pin_takes_cards: v.pin_takes_cards,
        pin_by_card: v.pin_by_card,
        pin_not_a_badge: v.pin_not_a_badge,
        pin_wrong_card: v.pin_wrong_card,
        staff_number: v.staff_number.clone(),
        admin: super::view_admin::admin_view(v),
        no_pin: !staff_pin_set,
        guide: guide_view(v),
        care: v.care,
        login: super::view_copy::login_view(v),
        copy: super::view_copy::copy_view(v),
        apply: super::view_apply::apply_view(v),
        cases: super::view_query::cases_view(v),
        papers: super::view_papers::papers_view(v),
    }
}
