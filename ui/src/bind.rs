//! The window and its globals, bound once. Every model is made once and updated in place —
//! rows changed, added or removed — so a screen refreshed every half second does not rebuild
//! its lists, and Slint redraws only what changed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use slint::{ComponentHandle, Image, Model, ModelRc, PhysicalSize, SharedString, VecModel};

use crate::bind_copy::{CopyView, LoginView};
use crate::{
    device_state, health_value, window_size, AnswerTile, AppWindow, Attract, DeviceLine, DeviceRow,
    DeviceState, Devices, GroupTile, Guide, Home, Intents, ItemTile, JourneyTile, Language,
    MaterialTile, Nav, ProblemKind, Queue, ScreenId, Slide, Staff, Terminal, TerminalTexts,
    UiError, Why,
};

/// What a touch asks for; the runtime turns it into a step of its state machines.
#[derive(Debug, Clone, PartialEq)]
pub enum UiIntent {
    Wake,
    Touch,
    Start(String),
    ChooseGroup(String),
    Skip,
    Back,
    Home,
    Retry,
    Done,
    Continue,
    Help(bool),
    ToggleLanguage,
    StaffEntry,
    StaffDigit(char),
    StaffDelete,
    StaffSubmit,
    GuideShelf(String),
    GuideType(char),
    GuideErase,
    GuideClear,
    OpenItem(String),
    Begin,
    ChooseAnswer(String),
    Next,
    Print,
    ToggleCare,
    /// Read the screen aloud.
    ReadAloud,
    /// Say this label (a control touched in care mode).
    Speak(String),
    /// The login: agree to the face check; use the finger instead.
    Agree,
    UseFingerprint,
    /// The ID card copy: take the side on the plate; the copy's use.
    Capture,
    ChoosePurpose(usize),
    /// "Another use": type it.
    OtherUse,
    /// The on-screen keyboard: `a`–`z`, `backspace`, `space`, `clear`, `next`, `prev`.
    ImeKey(String),
    /// A candidate of the page showing.
    ImePick(usize),
    /// A rating level (5 非常满意 … 1 非常不满意).
    Rate(u8),
    /// A rating tag touched.
    RatingTag(String),
    /// "Apply here" on the guide's material list.
    ApplyHere,
    /// An option of the field on screen, or a pick-up way.
    ChooseOption(usize),
    /// A key of the digit pad: `0`–`9`, `X`, `-`, `.`, `@`.
    DigitKey(char),
    DeletePage(usize),
    /// A finished stroke on the signature pad: (x, y, milliseconds, pressure) in pad units.
    InkStroke(Vec<(f32, f32, u32, Option<f32>)>),
    ClearSignature,
    /// The login: the one at the terminal files for someone else (代办).
    ForSomeoneElse,
    /// Looking a case up: with the ID card, or with the number and password; a case opened.
    QueryByCard,
    QueryByNumber,
    OpenCase(usize),
    /// A licence of the papers' list opened.
    OpenPaper(usize),
    /// A proof's records period chosen, in months.
    ChooseMonths(u32),
    /// A touch on the admin mode's pages.
    Admin(crate::AdminIntent),
}

/// A material line of the guide's list, in the screen's language.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MaterialLine {
    pub name: String,
    pub how: String,
    pub optional: bool,
}

/// What the guide's screens show, texts already in the screen's language.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuideView {
    /// `common`, `personal`, `legal-person`, `query-print`.
    pub shelf: String,
    pub query: String,
    /// id, name, department.
    pub items: Vec<(String, String, String)>,
    pub item_name: String,
    pub item_department: String,
    pub notice: String,
    pub legal_basis: String,
    pub time_limit: String,
    pub fee: String,
    pub has_questions: bool,
    pub question: String,
    pub question_number: usize,
    pub question_count: usize,
    pub multiple: bool,
    pub required: bool,
    /// id, label, chosen.
    pub answers: Vec<(String, String, bool)>,
    pub can_next: bool,
    pub materials: Vec<MaterialLine>,
    pub at_window: bool,
    pub can_print: bool,
    /// "Apply here" shows.
    pub can_apply: bool,
    pub can_prove: bool,
    pub printed: bool,
    /// What the QR code holds (empty: none).
    pub qr: String,
    pub problem: String,
}

/// A journey tile on the home screen.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyLine {
    pub id: String,
    pub available: bool,
    pub why: Why,
}

/// A service group, its texts already in the screen's language.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupLine {
    pub id: String,
    pub name: String,
    pub summary: String,
    pub prefix: String,
    /// `none`, `optional` or `required`.
    pub identify: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlideLine {
    pub picture: Option<PathBuf>,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub detail: String,
    pub can_retry: bool,
}

/// Everything a screen shows that changes, as plain values.
#[derive(Debug, Clone, PartialEq)]
pub struct UiView {
    pub screen: ScreenId,
    pub language: Language,
    pub help: bool,
    pub asking: Option<u32>,
    pub journeys: Vec<JourneyLine>,
    pub hall: String,
    pub groups: Vec<GroupLine>,
    pub group: Option<GroupLine>,
    pub by_card: bool,
    pub by_code: bool,
    pub may_skip: bool,
    pub number: String,
    /// `None` when the ticket was numbered offline (nobody knows yet how many are ahead).
    pub ahead: Option<u32>,
    pub unconfirmed: bool,
    pub problem: Option<Problem>,
    pub slides: Vec<SlideLine>,
    pub slide: usize,
    pub pin_length: usize,
    pub pin_wrong: bool,
    pub pin_locked_minutes: u32,
    pub pin_asks_number: bool,
    pub pin_takes_cards: bool,
    pub pin_by_card: bool,
    pub pin_not_a_badge: bool,
    pub pin_wrong_card: bool,
    pub staff_number: String,
    pub admin: crate::AdminUiView,
    pub no_pin: bool,
    pub guide: GuideView,
    pub care: bool,
    pub login: LoginView,
    pub copy: CopyView,
    pub apply: crate::ApplyUiView,
    pub cases: crate::CasesUiView,
    pub papers: crate::PapersUiView,
}

impl Default for UiView {
    fn default() -> Self {
        UiView {
            screen: ScreenId::Attract,
            language: Language::ZhCn,
            help: false,
            asking: None,
            journeys: Vec::new(),
            hall: String::new(),
            groups: Vec::new(),
            group: None,
            by_card: false,
            by_code: false,
            may_skip: false,
            number: String::new(),
            ahead: Some(0),
            unconfirmed: false,
            problem: None,
            slides: Vec::new(),
            slide: 0,
            pin_length: 0,
            pin_wrong: false,
            pin_locked_minutes: 0,
            no_pin: false,
            guide: GuideView::default(),
            care: false,
            login: LoginView::default(),
            copy: CopyView::default(),
            apply: crate::ApplyUiView::default(),
            cases: crate::CasesUiView::default(),
            papers: crate::PapersUiView::default(),
            pin_asks_number: false,
            pin_takes_cards: false,
            pin_by_card: false,
            pin_not_a_badge: false,
            pin_wrong_card: false,
            staff_number: String::new(),
            admin: crate::AdminUiView::default(),
        }
    }
}

/// The window with its models.
pub struct Ui {
    pub app: AppWindow,
    rows: Rc<VecModel<DeviceRow>>,
    left: Rc<VecModel<DeviceRow>>,
    right: Rc<VecModel<DeviceRow>>,
    journeys: Rc<VecModel<JourneyTile>>,
    groups: Rc<VecModel<GroupTile>>,
    items: Rc<VecModel<ItemTile>>,
    answers: Rc<VecModel<AnswerTile>>,
    materials: Rc<VecModel<MaterialTile>>,
    pub(crate) purposes: Rc<VecModel<crate::PurposeTile>>,
    pub(crate) candidates: Rc<VecModel<SharedString>>,
    pub(crate) rating_tags: Rc<VecModel<AnswerTile>>,
    /// Which session pictures (front, page) the copy screens show, by id.
    pub(crate) copy_pictures: RefCell<(Option<usize>, Option<usize>)>,
    /// The face preview the login screen shows, by id.
    pub(crate) face_preview: RefCell<Option<usize>>,
    /// The QR code shown and what it holds, made again only when that changes.
    qr: RefCell<Option<(String, Image)>>,
    pictures: RefCell<HashMap<PathBuf, Image>>,
    language: RefCell<Option<Language>>,
    last_slide: RefCell<Option<SlideLine>>,
    pub(crate) apply: crate::bind_apply::ApplyModels,
    pub(crate) papers: crate::bind_papers::PapersModels,
    pub(crate) admin: crate::bind_admin::AdminModels,
}

/// Makes `model` hold `rows`, touching only the rows that differ.
pub fn update_model<T: Clone + PartialEq + 'static>(model: &VecModel<T>, rows: &[T]) {
    for (i, r) in rows.iter().enumerate() {
        if i < model.row_count() {
            if model.row_data(i).as_ref() != Some(r) {
                model.set_row_data(i, r.clone());
            }
        } else {
            model.push(r.clone());
        }
    }
    while model.row_count() > rows.len() {
        model.remove(model.row_count() - 1);
    }
}

fn s(x: &str) -> SharedString {
    SharedString::from(x)
}

impl Ui {
    /// Builds the window for `portrait` or landscape in `lang`, with the terminal's texts.
    pub fn new(texts: &TerminalTexts, lang: Language, portrait: bool) -> Result<Ui, UiError> {
        let app = AppWindow::new().map_err(|e| UiError::Platform(e.to_string()))?;
        let apply = crate::bind_apply::ApplyModels::new(&app);
        let papers = crate::bind_papers::PapersModels::new(&app);
        let admin = crate::bind_admin::AdminModels::new(&app);
        let ui = Ui {
            rows: Rc::new(VecModel::default()),
            left: Rc::new(VecModel::default()),
            right: Rc::new(VecModel::default()),
            journeys: Rc::new(VecModel::default()),
            groups: Rc::new(VecModel::default()),
            items: Rc::new(VecModel::default()),
            answers: Rc::new(VecModel::default()),
            materials: Rc::new(VecModel::default()),
            purposes: Rc::new(VecModel::default()),
            candidates: Rc::new(VecModel::default()),
            rating_tags: Rc::new(VecModel::default()),
            copy_pictures: RefCell::new((None, None)),
            face_preview: RefCell::new(None),
            qr: RefCell::new(None),
            pictures: RefCell::new(HashMap::new()),
            language: RefCell::new(None),
            last_slide: RefCell::new(None),
            apply,
            papers,
            admin,
            app,
        };
        let d = ui.app.global::<Devices>();
        d.set_rows(ModelRc::from(ui.rows.clone()));
        d.set_left(ModelRc::from(ui.left.clone()));
        d.set_right(ModelRc::from(ui.right.clone()));
        ui.app
            .global::<Home>()
            .set_journeys(ModelRc::from(ui.journeys.clone()));
        ui.app
            .global::<Queue>()
            .set_groups(ModelRc::from(ui.groups.clone()));
        let g = ui.app.global::<Guide>();
        g.set_items(ModelRc::from(ui.items.clone()));
        g.set_answers(ModelRc::from(ui.answers.clone()));
        g.set_materials(ModelRc::from(ui.materials.clone()));
        let copy = ui.app.global::<crate::Copy>();
        copy.set_purposes(ModelRc::from(ui.purposes.clone()));
        copy.set_candidates(ModelRc::from(ui.candidates.clone()));
        copy.set_rating_tags(ModelRc::from(ui.rating_tags.clone()));
        let t = ui.app.global::<Terminal>();
        t.set_service_point(s(&texts.service_point));
        t.set_device_id(s(&texts.device_id));
        t.set_fault_phone(s(&texts.fault_phone));
        if let Some(title) = &texts.title {
            t.set_title(s(title));
        }
        ui.app.global::<Nav>().set_portrait(portrait);
        // The screens are laid out for these sizes; a smaller default window would clip rows.
        let (w, h) = window_size(portrait);
        ui.app.window().set_size(PhysicalSize::new(w, h));
        ui.set_language(lang)?;
        Ok(ui)
    }

    /// Switches every `@tr` string to `lang` (only when it changes).
    pub fn set_language(&self, lang: Language) -> Result<(), UiError> {
        if *self.language.borrow() == Some(lang) {
            return Ok(());
        }
        // Source strings are English; Chinese comes from the bundled zh_CN catalogue.
        let bundle = match lang {
            Language::ZhCn => "zh_CN",
            Language::En => "",
        };
        slint::select_bundled_translation(bundle).map_err(|e| UiError::Platform(e.to_string()))?;
        self.app
            .global::<Terminal>()
            .set_language_label(lang.switch_label().into());
        *self.language.borrow_mut() = Some(lang);
        Ok(())
    }

    pub fn language(&self) -> Option<Language> {
        *self.language.borrow()
    }

    /// Sends every touch to `f`.
    pub fn on_intent(&self, f: impl Fn(UiIntent) + 'static) {
        let f = Rc::new(f);
        let i = self.app.global::<Intents>();
        macro_rules! plain {
            ($on:ident, $intent:expr) => {{
                let f = f.clone();
                i.$on(move || f($intent));
            }};
        }
        plain!(on_wake, UiIntent::Wake);
        plain!(on_touch, UiIntent::Touch);
        plain!(on_skip, UiIntent::Skip);
        plain!(on_back, UiIntent::Back);
        plain!(on_home, UiIntent::Home);
        plain!(on_retry, UiIntent::Retry);
        plain!(on_done, UiIntent::Done);
        plain!(on_continue_session, UiIntent::Continue);
        plain!(on_toggle_language, UiIntent::ToggleLanguage);
        plain!(on_staff_entry, UiIntent::StaffEntry);
        plain!(on_staff_delete, UiIntent::StaffDelete);
        plain!(on_staff_submit, UiIntent::StaffSubmit);
        plain!(on_guide_erase, UiIntent::GuideErase);
        plain!(on_guide_clear, UiIntent::GuideClear);
        plain!(on_begin, UiIntent::Begin);
        plain!(on_next, UiIntent::Next);
        plain!(on_print, UiIntent::Print);
        plain!(on_toggle_care, UiIntent::ToggleCare);
        plain!(on_read_aloud, UiIntent::ReadAloud);
        plain!(on_agree, UiIntent::Agree);
        plain!(on_use_fingerprint, UiIntent::UseFingerprint);
        plain!(on_capture, UiIntent::Capture);
        plain!(on_other_use, UiIntent::OtherUse);
        plain!(on_apply_here, UiIntent::ApplyHere);
        plain!(on_clear_signature, UiIntent::ClearSignature);
        plain!(on_query_by_card, UiIntent::QueryByCard);
        plain!(on_for_someone_else, UiIntent::ForSomeoneElse);
        plain!(on_query_by_number, UiIntent::QueryByNumber);
        {
            let f = f.clone();
            i.on_open_paper(move |n| {
                if let Ok(n) = usize::try_from(n) {
                    f(UiIntent::OpenPaper(n))
                }
            });
        }
        {
            let f = f.clone();
            i.on_choose_months(move |n| {
                if let Ok(n) = u32::try_from(n) {
                    f(UiIntent::ChooseMonths(n))
                }
            });
        }
        {
            let f = f.clone();
            i.on_open_case(move |n| {
                if let Ok(n) = usize::try_from(n) {
                    f(UiIntent::OpenCase(n))
                }
            });
        }
        {
            let f = f.clone();
            i.on_choose_option(move |n| {
                if let Ok(n) = usize::try_from(n) {
                    f(UiIntent::ChooseOption(n))
                }
            });
        }
        {
            let f = f.clone();
            i.on_delete_page(move |n| {
                if let Ok(n) = usize::try_from(n) {
                    f(UiIntent::DeletePage(n))
                }
            });
        }
        {
            let f = f.clone();
            i.on_digit_key(move |k| {
                let mut chars = k.chars();
                if let (Some(c), None) = (chars.next(), chars.next()) {
                    f(UiIntent::DigitKey(c))
                }
            });
        }
        {
            let f = f.clone();
            i.on_ink_stroke(move |text| {
                let stroke = crate::bind_desk::parse_stroke(&text);
                f(UiIntent::InkStroke(stroke))
            });
        }
        {
            let f = f.clone();
            i.on_rate(move |n| {
                if let Ok(n) = u8::try_from(n) {
                    f(UiIntent::Rate(n))
                }
            });
        }
        {
            let f = f.clone();
            i.on_rating_tag(move |t| f(UiIntent::RatingTag(t.to_string())));
        }
        {
            let f = f.clone();
            i.on_ime_key(move |k| f(UiIntent::ImeKey(k.to_string())));
        }
        {
            let f = f.clone();
            i.on_ime_pick(move |n| {
                if let Ok(n) = usize::try_from(n) {
                    f(UiIntent::ImePick(n))
                }
            });
        }
        {
            let f = f.clone();
            i.on_choose_purpose(move |n| {
                if let Ok(n) = usize::try_from(n) {
                    f(UiIntent::ChoosePurpose(n))
                }
            });
        }
        {
            let f = f.clone();
            self.app
                .global::<crate::Voice>()
                .on_speak(move |t| f(UiIntent::Speak(t.to_string())));
        }
        {
            let f = f.clone();
            i.on_guide_shelf(move |id| f(UiIntent::GuideShelf(id.to_string())));
        }
        {
            let f = f.clone();
            i.on_guide_type(move |k| {
                if let Some(c) = k.chars().next() {
                    f(UiIntent::GuideType(c))
                }
            });
        }
        {
            let f = f.clone();
            i.on_open_item(move |id| f(UiIntent::OpenItem(id.to_string())));
        }
        {
            let f = f.clone();
            i.on_choose_answer(move |id| f(UiIntent::ChooseAnswer(id.to_string())));
        }
        {
            let f = f.clone();
            i.on_start(move |j| f(UiIntent::Start(j.to_string())));
        }
        {
            let f = f.clone();
            i.on_choose_group(move |g| f(UiIntent::ChooseGroup(g.to_string())));
        }
        {
            let f = f.clone();
            i.on_help(move |on| f(UiIntent::Help(on)));
        }
        {
            let f = f.clone();
            i.on_staff_digit(move |d| {
                if let Some(c) = d.chars().next() {
                    f(UiIntent::StaffDigit(c))
                }
            });
        }
        self.connect_admin(f);
    }

    /// The device table and its summary count, in place.
    pub fn set_devices(&self, lines: &[DeviceLine]) {
        let rows: Vec<DeviceRow> = lines
            .iter()
            .map(|l| DeviceRow {
                id: s(&l.id),
                name: s(&l.name),
                kind: s(&l.kind),
                health: health_value(&l.health),
                state: device_state(&l.state),
                detail: s(&l.detail),
                transport: s(&l.transport),
            })
            .collect();
        let normal = rows
            .iter()
            .filter(|r| r.state == DeviceState::Normal)
            .count();
        self.app
            .global::<Devices>()
            .set_normal_count(i32::try_from(normal).unwrap_or(i32::MAX));
        let half = rows.len().div_ceil(2);
        update_model(&self.rows, &rows);
        update_model(&self.left, &rows[..half]);
        update_model(&self.right, &rows[half..]);
    }

    /// The clock and the centre's state for the header and the status screen.
    pub fn set_status(&self, clock: &str, centre_online: bool, centre_text: &str) {
        let t = self.app.global::<Terminal>();
        if t.get_clock() != clock {
            t.set_clock(s(clock));
        }
        t.set_centre_online(centre_online);
        if t.get_centre_text() != centre_text {
            t.set_centre_text(s(centre_text));
        }
    }

    /// Shows `v`. Properties and models that did not change are left alone.
    pub fn show_view(&self, v: &UiView) -> Result<(), UiError> {
        self.set_language(v.language)?;
        let nav = self.app.global::<Nav>();
        nav.set_screen(v.screen);
        nav.set_help(v.help);
        nav.set_asking(v.asking.is_some());
        nav.set_seconds_left(i32::try_from(v.asking.unwrap_or(0)).unwrap_or(i32::MAX));
        let journeys: Vec<JourneyTile> = v
            .journeys
            .iter()
            .map(|j| JourneyTile {
                id: s(&j.id),
                available: j.available,
                why: j.why,
            })
            .collect();
        update_model(&self.journeys, &journeys);
        let groups: Vec<GroupTile> = v.groups.iter().map(group_tile).collect();
        update_model(&self.groups, &groups);
        let q = self.app.global::<Queue>();
        q.set_hall(s(&v.hall));
        let g = v.group.as_ref();
        q.set_group_name(s(g.map_or("", |g| &g.name)));
        q.set_group_prefix(s(g.map_or("", |g| &g.prefix)));
        q.set_by_card(v.by_card);
        q.set_by_code(v.by_code);
        q.set_may_skip(v.may_skip);
        q.set_number(s(&v.number));
        q.set_ahead(v.ahead.map_or(-1, |a| i32::try_from(a).unwrap_or(i32::MAX)));
        q.set_unconfirmed(v.unconfirmed);
        if let Some(p) = &v.problem {
            q.set_problem(p.kind);
            q.set_problem_detail(s(&p.detail));
            q.set_can_retry(p.can_retry);
        }
        let a = self.app.global::<Attract>();
        a.set_count(i32::try_from(v.slides.len()).unwrap_or(0));
        let current = v.slides.get(v.slide).cloned();
        if *self.last_slide.borrow() != current {
            if let Some(l) = &current {
                a.set_slide(self.slide(l));
            }
            *self.last_slide.borrow_mut() = current;
        }
        let st = self.app.global::<Staff>();
        st.set_pin_length(i32::try_from(v.pin_length).unwrap_or(0));
        st.set_wrong(v.pin_wrong);
        st.set_locked_minutes(i32::try_from(v.pin_locked_minutes).unwrap_or(i32::MAX));
        st.set_no_pin(v.no_pin);
        st.set_asks_number(v.pin_asks_number);
        st.set_takes_cards(v.pin_takes_cards);
        st.set_by_card(v.pin_by_card);
        st.set_not_a_badge(v.pin_not_a_badge);
        st.set_wrong_card(v.pin_wrong_card);
        st.set_staff_number(s(&v.staff_number));
        self.show_admin(&v.admin);
        self.show_guide(&v.guide);
        self.show_login(&v.login);
        self.show_copy(&v.copy);
        self.show_apply(&v.apply);
        self.show_cases(&v.cases);
        self.show_papers(&v.papers);
        let theme = self.app.global::<crate::Theme>();
        if theme.get_care() != v.care {
            theme.set_care(v.care);
            theme.set_scale(if v.care { 1.5 } else { 1.0 });
        }
        Ok(())
    }

    fn show_guide(&self, v: &GuideView) {
        let g = self.app.global::<Guide>();
        g.set_shelf(s(&v.shelf));
        g.set_query(s(&v.query));
        let items: Vec<ItemTile> = v
            .items
            .iter()
            .map(|(id, name, department)| ItemTile {
                id: s(id),
                name: s(name),
                department: s(department),
            })
            .collect();
        update_model(&self.items, &items);
        g.set_item_name(s(&v.item_name));
        g.set_item_department(s(&v.item_department));
        g.set_notice(s(&v.notice));
        g.set_legal_basis(s(&v.legal_basis));
        g.set_time_limit(s(&v.time_limit));
        g.set_fee(s(&v.fee));
        g.set_has_questions(v.has_questions);
        g.set_question(s(&v.question));
        g.set_question_number(i32::try_from(v.question_number).unwrap_or(0));
        g.set_question_count(i32::try_from(v.question_count).unwrap_or(0));
        g.set_multiple(v.multiple);
        g.set_required(v.required);
        let answers: Vec<AnswerTile> = v
            .answers
            .iter()
            .map(|(id, label, chosen)| AnswerTile {
                id: s(id),
                label: s(label),
                chosen: *chosen,
            })
            .collect();
        update_model(&self.answers, &answers);
        g.set_can_next(v.can_next);
        let materials: Vec<MaterialTile> = v
            .materials
            .iter()
            .map(|m| MaterialTile {
                name: s(&m.name),
                how: s(&m.how),
                optional: m.optional,
            })
            .collect();
        update_model(&self.materials, &materials);
        g.set_at_window(v.at_window);
        g.set_can_print(v.can_print);
        g.set_can_apply(v.can_apply);
        g.set_can_prove(v.can_prove);
        g.set_printed(v.printed);
        g.set_problem(s(&v.problem));
        let current = self.qr.borrow().as_ref().map(|(text, _)| text.clone());
        if current.as_deref() != Some(v.qr.as_str()) {
            let image = if v.qr.is_empty() {
                None
            } else {
                qr_image(&v.qr)
            };
            g.set_has_qr(image.is_some());
            if let Some(i) = &image {
                g.set_qr(i.clone());
            }
            *self.qr.borrow_mut() = image.map(|i| (v.qr.clone(), i));
        }
    }

    fn slide(&self, l: &SlideLine) -> Slide {
        let picture = l.picture.as_deref().and_then(|p| self.picture(p));
        Slide {
            has_picture: picture.is_some(),
            picture: picture.unwrap_or_default(),
            title: s(&l.title),
            text: s(&l.text),
        }
    }

    fn picture(&self, p: &Path) -> Option<Image> {
        if let Some(i) = self.pictures.borrow().get(p) {
            return Some(i.clone());
        }
        match Image::load_from_path(p) {
            Ok(i) => {
                self.pictures
                    .borrow_mut()
                    .insert(p.to_path_buf(), i.clone());
                Some(i)
            }
            Err(e) => {
                tracing::warn!(picture = %p.display(), error = %e, "attract picture cannot be loaded");
                None
            }
        }
    }

    /// Shows the window on the current platform (needed before rendering a headless frame).
    pub fn show(&self) -> Result<(), UiError> {
        self.app
            .show()
            .map_err(|e| UiError::Platform(e.to_string()))
    }
}

fn group_tile(g: &GroupLine) -> GroupTile {
    GroupTile {
        id: s(&g.id),
        name: s(&g.name),
        summary: s(&g.summary),
        prefix: s(&g.prefix),
        identify: s(&g.identify),
    }
}

/// A QR code as an image, four pixels a module with the quiet zone, scaled sharp by the
/// screen. `None` when the text is too long for a QR code.
pub fn qr_image(text: &str) -> Option<Image> {
    use slint::{Rgb8Pixel, SharedPixelBuffer};
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let (quiet, px) = (4usize, 4usize);
    let side = (modules + 2 * quiet) * px;
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(side as u32, side as u32);
    let pixels = buffer.make_mut_slice();
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x / px).checked_sub(quiet), (y / px).checked_sub(quiet));
            let dark = match (mx, my) {
                (Some(mx), Some(my)) if mx < modules && my < modules => {
                    colors[my * modules + mx] == qrcode::Color::Dark
                }
                _ => false,
            };
            let v = if dark { 0 } else { 255 };
            pixels[y * side + x] = Rgb8Pixel { r: v, g: v, b: v };
        }
    }
    Some(Image::from_rgb8(buffer))
}
