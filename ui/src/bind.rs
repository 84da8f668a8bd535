//! The window and its globals, bound once. Every model is made once and updated in place —
//! rows changed, added or removed — so a screen refreshed every half second does not rebuild
//! its lists, and Slint redraws only what changed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use slint::{ComponentHandle, Image, Model, ModelRc, PhysicalSize, SharedString, VecModel};

use crate::{
    device_state, health_value, window_size, AppWindow, Attract, DeviceLine, DeviceRow,
    DeviceState, Devices, GroupTile, Home, Intents, JourneyTile, Language, Nav, ProblemKind, Queue,
    ScreenId, Slide, Staff, Terminal, TerminalTexts, UiError, Why,
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
    pub ahead: u32,
    pub unconfirmed: bool,
    pub problem: Option<Problem>,
    pub slides: Vec<SlideLine>,
    pub slide: usize,
    pub pin_length: usize,
    pub pin_wrong: bool,
    pub pin_locked_minutes: u32,
    pub no_pin: bool,
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
            ahead: 0,
            unconfirmed: false,
            problem: None,
            slides: Vec::new(),
            slide: 0,
            pin_length: 0,
            pin_wrong: false,
            pin_locked_minutes: 0,
            no_pin: false,
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
    pictures: RefCell<HashMap<PathBuf, Image>>,
    language: RefCell<Option<Language>>,
    last_slide: RefCell<Option<SlideLine>>,
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
        let ui = Ui {
            rows: Rc::new(VecModel::default()),
            left: Rc::new(VecModel::default()),
            right: Rc::new(VecModel::default()),
            journeys: Rc::new(VecModel::default()),
            groups: Rc::new(VecModel::default()),
            pictures: RefCell::new(HashMap::new()),
            language: RefCell::new(None),
            last_slide: RefCell::new(None),
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
        i.on_staff_digit(move |d| {
            if let Some(c) = d.chars().next() {
                f(UiIntent::StaffDigit(c))
            }
        });
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
        q.set_ahead(i32::try_from(v.ahead).unwrap_or(i32::MAX));
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
        Ok(())
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
