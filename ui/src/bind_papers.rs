//! The papers' global (e-licences and proofs), filled from plain values. The page preview
//! arrives as JPEG bytes and is decoded only when it changes.

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::bind::update_model;
use crate::bind_copy::{jpeg_image, JpegPicture};
use crate::{LicenceTile, Papers, Ui};

/// What the papers' screens show, texts in the screen's language.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PapersUiView {
    pub proof: bool,
    pub item: String,
    pub citizen: String,
    /// name, issuer, issued on, times printed.
    pub licences: Vec<(String, String, String, u32)>,
    pub title: String,
    pub pages: usize,
    pub printed_before: u32,
    pub printed: bool,
    pub preview: Option<JpegPicture>,
    pub months: Vec<u32>,
    pub problem: String,
}

/// The models the papers' lists live in, and which preview shows.
#[derive(Default)]
pub(crate) struct PapersModels {
    licences: std::rc::Rc<VecModel<LicenceTile>>,
    months: std::rc::Rc<VecModel<i32>>,
    shown: std::cell::Cell<Option<usize>>,
}

impl PapersModels {
    pub(crate) fn new(app: &crate::AppWindow) -> PapersModels {
        let m = PapersModels::default();
        let p = app.global::<Papers>();
        p.set_licences(ModelRc::from(m.licences.clone()));
        p.set_months(ModelRc::from(m.months.clone()));
        m
    }
}

fn s(v: &str) -> SharedString {
    SharedString::from(v)
}

impl Ui {
    pub(crate) fn show_papers(&self, v: &PapersUiView) {
        let p = self.app.global::<Papers>();
        let m = &self.papers;
        p.set_proof(v.proof);
        p.set_item(s(&v.item));
        p.set_citizen(s(&v.citizen));
        let tiles: Vec<LicenceTile> = v
            .licences
            .iter()
            .map(|(name, issuer, issued, printed)| LicenceTile {
                name: s(name),
                issuer: s(issuer),
                issued: s(issued),
                printed: i32::try_from(*printed).unwrap_or(i32::MAX),
            })
            .collect();
        update_model(&m.licences, &tiles);
        let months: Vec<i32> = v
            .months
            .iter()
            .map(|x| i32::try_from(*x).unwrap_or(0))
            .collect();
        update_model(&m.months, &months);
        p.set_title(s(&v.title));
        p.set_pages(i32::try_from(v.pages).unwrap_or(0));
        p.set_printed_before(i32::try_from(v.printed_before).unwrap_or(i32::MAX));
        p.set_printed(v.printed);
        p.set_problem(s(&v.problem));
        let id = v.preview.as_ref().map(|x| x.id);
        if m.shown.get() != id {
            let image = v.preview.as_ref().and_then(|x| jpeg_image(&x.bytes));
            p.set_has_preview(image.is_some());
            p.set_preview(image.unwrap_or_default());
            m.shown.set(id);
        }
    }
}
