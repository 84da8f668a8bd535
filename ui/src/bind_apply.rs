//! The application screens' global, filled from plain values; page thumbnails arrive as JPEG
//! and are decoded only when the pages change.

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::bind::update_model;
use crate::bind_copy::{jpeg_image, JpegPicture};
use crate::{Apply, CaseTile, Cases, LogRow, PageThumb, ReviewRow, Ui};

/// What the case look-up's screens show: (number, item, status words, status code, date).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CasesUiView {
    pub typed: String,
    pub cases: Vec<(String, String, String, String, String)>,
    pub open: Option<(String, String, String, String, String)>,
    /// at, status, comment.
    pub log: Vec<(String, String, String)>,
    pub printed: bool,
    pub can_print: bool,
    pub identified: bool,
    pub problem: String,
}

fn tile(c: &(String, String, String, String, String)) -> CaseTile {
    CaseTile {
        number: SharedString::from(c.0.as_str()),
        item: SharedString::from(c.1.as_str()),
        status: SharedString::from(c.2.as_str()),
        status_code: SharedString::from(c.3.as_str()),
        date: SharedString::from(c.4.as_str()),
    }
}

/// What the application screens show, texts in the screen's language.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplyUiView {
    pub item: String,
    pub citizen: String,
    pub agent: String,
    pub form_title: String,
    pub label: String,
    pub hint: String,
    pub at: usize,
    pub fields: usize,
    /// `none`, `pinyin`, `digits`, `latin`.
    pub keyboard: String,
    pub options: Vec<String>,
    pub chosen: Option<usize>,
    pub prefilled: bool,
    pub error: String,
    pub pickups: Vec<String>,
    pub pickup: String,
    pub address: String,
    pub material: String,
    pub material_note: String,
    pub material_at: usize,
    pub materials: usize,
    pub pages: Vec<JpegPicture>,
    pub min_pages: u32,
    pub max_pages: u32,
    pub capture_problem: String,
    /// label, value as shown.
    pub review: Vec<(String, String)>,
    pub page_total: usize,
    pub ink: String,
    pub sign_problem: String,
    pub number: String,
    pub numbered: bool,
    pub password: String,
    pub printed: bool,
    pub can_print: bool,
    pub problem: String,
    pub not_here: Vec<String>,
    /// The document camera's live picture of the plate.
    pub plate: Option<JpegPicture>,
    /// The digit pad's extra key (X, -, .), or none.
    pub digit_extra: String,
    /// What is typed passes the field's rules.
    pub typed_ok: bool,
    /// The e-licence materials: name, where the licence came from (empty: none found),
    /// required.
    pub licences: Vec<(String, String, bool)>,
    pub licences_ready: bool,
    pub can_retry: bool,
}

fn s(x: &str) -> SharedString {
    SharedString::from(x)
}

/// The models the application global's lists live in.
pub(crate) struct ApplyModels {
    options: std::rc::Rc<VecModel<SharedString>>,
    pickups: std::rc::Rc<VecModel<SharedString>>,
    pages: std::rc::Rc<VecModel<PageThumb>>,
    review: std::rc::Rc<VecModel<ReviewRow>>,
    not_here: std::rc::Rc<VecModel<SharedString>>,
    licences: std::rc::Rc<VecModel<crate::ApplyLicence>>,
    cases: std::rc::Rc<VecModel<CaseTile>>,
    log: std::rc::Rc<VecModel<LogRow>>,
    /// Which thumbnails the pages model shows, by id.
    shown: std::cell::RefCell<Vec<usize>>,
    /// Which plate picture shows.
    plate: std::cell::Cell<Option<usize>>,
}

impl ApplyModels {
    pub(crate) fn new(app: &crate::AppWindow) -> ApplyModels {
        let m = ApplyModels {
            options: Default::default(),
            pickups: Default::default(),
            pages: Default::default(),
            review: Default::default(),
            not_here: Default::default(),
            licences: Default::default(),
            cases: Default::default(),
            log: Default::default(),
            shown: Default::default(),
            plate: Default::default(),
        };
        let c = app.global::<Cases>();
        c.set_cases(ModelRc::from(m.cases.clone()));
        c.set_log(ModelRc::from(m.log.clone()));
        let a = app.global::<Apply>();
        a.set_options(ModelRc::from(m.options.clone()));
        a.set_pickups(ModelRc::from(m.pickups.clone()));
        a.set_pages(ModelRc::from(m.pages.clone()));
        a.set_review(ModelRc::from(m.review.clone()));
        a.set_not_here(ModelRc::from(m.not_here.clone()));
        a.set_licences(ModelRc::from(m.licences.clone()));
        m
    }
}

impl Ui {
    pub(crate) fn show_cases(&self, v: &CasesUiView) {
        let c = self.app.global::<Cases>();
        let m = &self.apply;
        c.set_typed(s(&v.typed));
        let tiles: Vec<CaseTile> = v.cases.iter().map(tile).collect();
        update_model(&m.cases, &tiles);
        c.set_open(v.open.as_ref().map(tile).unwrap_or_default());
        let log: Vec<LogRow> = v
            .log
            .iter()
            .map(|(at, status, comment)| LogRow {
                at: s(at),
                status: s(status),
                comment: s(comment),
            })
            .collect();
        update_model(&m.log, &log);
        c.set_printed(v.printed);
        c.set_can_print(v.can_print);
        c.set_identified(v.identified);
        c.set_problem(s(&v.problem));
    }

    pub(crate) fn show_apply(&self, v: &ApplyUiView) {
        let a = self.app.global::<Apply>();
        let m = &self.apply;
        a.set_item(s(&v.item));
        a.set_citizen(s(&v.citizen));
        a.set_agent(s(&v.agent));
        a.set_form_title(s(&v.form_title));
        a.set_label(s(&v.label));
        a.set_hint(s(&v.hint));
        a.set_at(i32::try_from(v.at).unwrap_or(0));
        a.set_fields(i32::try_from(v.fields).unwrap_or(0));
        a.set_keyboard(s(&v.keyboard));
        a.set_digit_extra(s(&v.digit_extra));
        a.set_typed_ok(v.typed_ok);
        let to_shared = |l: &[String]| l.iter().map(|x| s(x)).collect::<Vec<_>>();
        update_model(&m.options, &to_shared(&v.options));
        a.set_chosen(v.chosen.and_then(|c| i32::try_from(c).ok()).unwrap_or(-1));
        a.set_prefilled(v.prefilled);
        a.set_error(s(&v.error));
        update_model(&m.pickups, &to_shared(&v.pickups));
        a.set_pickup(s(&v.pickup));
        a.set_address(s(&v.address));
        a.set_material(s(&v.material));
        a.set_material_note(s(&v.material_note));
        a.set_material_at(i32::try_from(v.material_at).unwrap_or(0));
        a.set_materials(i32::try_from(v.materials).unwrap_or(0));
        let ids: Vec<usize> = v.pages.iter().map(|p| p.id).collect();
        if *m.shown.borrow() != ids {
            let thumbs: Vec<PageThumb> = v
                .pages
                .iter()
                .map(|p| PageThumb {
                    picture: jpeg_image(&p.bytes).unwrap_or_default(),
                })
                .collect();
            m.pages.set_vec(thumbs);
            *m.shown.borrow_mut() = ids;
        }
        let plate = v.plate.as_ref().map(|p| p.id);
        if m.plate.get() != plate {
            let image = v.plate.as_ref().and_then(|p| jpeg_image(&p.bytes));
            a.set_has_plate(image.is_some());
            a.set_plate(image.unwrap_or_default());
            m.plate.set(plate);
        }
        a.set_min_pages(i32::try_from(v.min_pages).unwrap_or(0));
        a.set_max_pages(i32::try_from(v.max_pages).unwrap_or(0));
        a.set_capture_problem(s(&v.capture_problem));
        let review: Vec<ReviewRow> = v
            .review
            .iter()
            .map(|(l, x)| ReviewRow {
                label: s(l),
                value: s(x),
            })
            .collect();
        update_model(&m.review, &review);
        a.set_page_total(i32::try_from(v.page_total).unwrap_or(0));
        a.set_ink(s(&v.ink));
        a.set_sign_problem(s(&v.sign_problem));
        a.set_number(s(&v.number));
        a.set_numbered(v.numbered);
        a.set_password(s(&v.password));
        a.set_printed(v.printed);
        a.set_can_print(v.can_print);
        a.set_problem(s(&v.problem));
        update_model(&m.not_here, &to_shared(&v.not_here));
        let licences: Vec<crate::ApplyLicence> = v
            .licences
            .iter()
            .map(|(name, from, required)| crate::ApplyLicence {
                name: s(name),
                from: s(from),
                required: *required,
            })
            .collect();
        update_model(&m.licences, &licences);
        a.set_licences_ready(v.licences_ready);
        a.set_can_retry(v.can_retry);
    }
}
