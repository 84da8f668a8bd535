//! The login's and the ID card copy's globals, filled from plain values. Pictures of the
//! citizen's card arrive as JPEG bytes and are decoded only when they change.

use slint::{ComponentHandle, Image, Rgb8Pixel, SharedPixelBuffer, SharedString};

use crate::bind::update_model;
use crate::{Copy, Login, PurposeTile, Ui};

/// What the login screens show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoginView {
    pub by_card: bool,
    pub by_code: bool,
    pub finger_possible: bool,
    /// `look-at-camera`, `come-closer`, … `checking`.
    pub prompt: String,
    pub face_attempt: u8,
    pub finger_attempt: u8,
    pub finger_tries: u8,
    pub finger_missed: bool,
    pub problem: String,
    pub problem_detail: String,
    pub can_retry: bool,
    /// The face camera's picture, mirrored, while the face check runs.
    pub preview: Option<JpegPicture>,
    /// Someone may file for another person here (代办).
    pub agents: bool,
    /// Whose card the present screen asks for: `citizen`, `agent` or `principal`.
    pub role: String,
}

/// A JPEG of the session shown on screen; its `id` changes when the picture does.
#[derive(Clone, PartialEq, Default)]
pub struct JpegPicture {
    pub id: usize,
    pub bytes: std::sync::Arc<zeroize::Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for JpegPicture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JpegPicture({} bytes)", self.bytes.len())
    }
}

/// What the ID card copy's screens show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CopyView {
    /// The identified citizen, masked.
    pub citizen: String,
    pub side: String,
    pub capture_problem: String,
    pub front: Option<JpegPicture>,
    /// Label in the screen's language, and the watermark as printed.
    pub purposes: Vec<(String, String)>,
    pub busy: String,
    /// The use chosen, as the screen says it.
    pub chosen: String,
    /// The use being typed and the keyboard's pinyin, candidates, page.
    pub typed: String,
    pub preedit: String,
    pub candidates: Vec<String>,
    pub candidate_page: usize,
    pub last_page: bool,
    pub plain: bool,
    /// The rating: the level chosen (5 best … 1), the tags for it (id, label, chosen).
    pub rating_level: u8,
    pub rating_tags: Vec<(String, String, bool)>,
    pub page: Option<JpegPicture>,
    pub problem: String,
    pub can_retry: bool,
}

fn s(x: &str) -> SharedString {
    SharedString::from(x)
}

/// Decodes a JPEG for the screen; a picture that does not decode shows nothing.
pub(crate) fn jpeg_image(bytes: &[u8]) -> Option<Image> {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
        .ok()?
        .to_rgb8();
    let (w, h) = img.dimensions();
    let buffer = SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(img.as_raw(), w, h);
    // The decoded pixels of a card are wiped; the screen keeps its own copy until replaced.
    let mut raw = img.into_raw();
    zeroize::Zeroize::zeroize(&mut raw);
    Some(Image::from_rgb8(buffer))
}

impl Ui {
    pub(crate) fn show_login(&self, v: &LoginView) {
        let l = self.app.global::<Login>();
        l.set_by_card(v.by_card);
        l.set_by_code(v.by_code);
        l.set_finger_possible(v.finger_possible);
        l.set_prompt(s(&v.prompt));
        l.set_face_attempt(i32::from(v.face_attempt));
        l.set_finger_attempt(i32::from(v.finger_attempt));
        l.set_finger_tries(i32::from(v.finger_tries));
        l.set_finger_missed(v.finger_missed);
        l.set_problem(s(&v.problem));
        l.set_problem_detail(s(&v.problem_detail));
        l.set_can_retry(v.can_retry);
        l.set_agents(v.agents);
        l.set_role(s(&v.role));
        let mut shown = self.face_preview.borrow_mut();
        let id = v.preview.as_ref().map(|p| p.id);
        if *shown != id {
            let image = v.preview.as_ref().and_then(|p| jpeg_image(&p.bytes));
            l.set_has_preview(image.is_some());
            l.set_preview(image.unwrap_or_default());
            *shown = id;
        }
    }

    pub(crate) fn show_copy(&self, v: &CopyView) {
        let c = self.app.global::<Copy>();
        c.set_citizen(s(&v.citizen));
        c.set_side(s(&v.side));
        c.set_capture_problem(s(&v.capture_problem));
        let purposes: Vec<PurposeTile> = v
            .purposes
            .iter()
            .map(|(label, watermark)| PurposeTile {
                label: s(label),
                watermark: s(watermark),
            })
            .collect();
        update_model(&self.purposes, &purposes);
        c.set_busy(s(&v.busy));
        c.set_chosen(s(&v.chosen));
        c.set_typed(s(&v.typed));
        c.set_preedit(s(&v.preedit));
        let candidates: Vec<SharedString> = v.candidates.iter().map(|x| s(x)).collect();
        update_model(&self.candidates, &candidates);
        c.set_candidate_page(i32::try_from(v.candidate_page).unwrap_or(0));
        c.set_last_page(v.last_page);
        c.set_plain(v.plain);
        c.set_rating_level(i32::from(v.rating_level));
        let tags: Vec<crate::AnswerTile> = v
            .rating_tags
            .iter()
            .map(|(id, label, chosen)| crate::AnswerTile {
                id: s(id),
                label: s(label),
                chosen: *chosen,
            })
            .collect();
        update_model(&self.rating_tags, &tags);
        c.set_problem(s(&v.problem));
        c.set_can_retry(v.can_retry);
        let mut shown = self.copy_pictures.borrow_mut();
        let front_id = v.front.as_ref().map(|p| p.id);
        if shown.0 != front_id {
            let image = v.front.as_ref().and_then(|p| jpeg_image(&p.bytes));
            c.set_has_front(image.is_some());
            c.set_front(image.unwrap_or_default());
            shown.0 = front_id;
        }
        let page_id = v.page.as_ref().map(|p| p.id);
        if shown.1 != page_id {
            let image = v.page.as_ref().and_then(|p| jpeg_image(&p.bytes));
            c.set_has_page(image.is_some());
            c.set_page(image.unwrap_or_default());
            shown.1 = page_id;
        }
    }
}
