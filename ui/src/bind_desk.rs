//! The window unit's screens: what the desk's view fills in, and the touches that come back.
//! One global (`Desk`) serves both windows and the tour stage; each component has its own
//! instance, so every window showing the desk is filled the same way.

use std::path::PathBuf;
use std::rc::Rc;

use slint::{ComponentHandle, Image, ModelRc, SharedString, VecModel};

use crate::{CallerWindow, CitizenWindow, ConfirmRow, Desk, DeskStage, ServiceRow, TagRow};

/// What the two screens of a window unit show, in the screen's language.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeskUiView {
    pub window_no: String,
    pub hall: String,
    pub clock: String,
    pub signed_in: bool,
    pub clerk_name: String,
    pub clerk_staff: String,
    pub clerk_title: String,
    pub clerk_stars: f32,
    /// The clerk's portrait (JPEG), when the directory has one.
    pub clerk_photo: Option<Vec<u8>>,
    pub window_state: String,
    pub ticket: String,
    pub ticket_service: String,
    pub ticket_state: String,
    pub calls: u32,
    pub last: String,
    pub held: Vec<String>,
    pub waiting: Option<u32>,
    pub pending: String,
    pub login_problem: String,
    pub login_detail: String,
    pub problem: String,
    pub problem_detail: String,
    pub done: String,
    pub citizen: String,
    pub too_short: bool,
    pub masked_name: String,
    pub confirmed: Option<bool>,
    pub signed: bool,
    pub can_rate: bool,
    pub case_number: String,
    pub plate_only: bool,
    pub casting: bool,
    /// The clerk's screen while the citizen screen shows it.
    pub cast_frame: Option<CastPicture>,
    /// The social-security card read, masked.
    pub ic_card: String,
    pub materials: u32,
    /// This window's figures of today: tickets served (`None` until known), the average
    /// handling in whole minutes and the satisfied share in percent (empty without any).
    pub today_served: Option<u32>,
    pub today_handling_min: String,
    pub today_satisfied_pct: String,
    /// (label key, value).
    pub confirm_rows: Vec<(String, String)>,
    pub ink: String,
    pub strokes: usize,
    /// (id, name).
    pub services: Vec<(String, String)>,
    /// (id, label, chosen).
    pub tags: Vec<(String, String, bool)>,
    pub rating_level: u8,
    pub typed: String,
    pub preedit: String,
    pub candidates: Vec<String>,
    pub plain_keys: bool,
    pub slide_picture: Option<PathBuf>,
    pub notice_title: String,
    pub notice_text: String,
    pub opens: String,
    pub closes: String,
}

/// One frame of the clerk's screen, RGBA rows without padding.
#[derive(Clone)]
pub struct CastPicture {
    /// Counts frames: a frame already shown is not decoded again.
    pub seq: u64,
    pub width: u32,
    pub height: u32,
    pub rgba: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for CastPicture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CastPicture#{} {}×{}", self.seq, self.width, self.height)
    }
}

impl PartialEq for CastPicture {
    fn eq(&self, o: &Self) -> bool {
        (self.seq, self.width, self.height) == (o.seq, o.width, o.height)
    }
}

/// A touch on the toolbar or the citizen screen.
#[derive(Debug, Clone, PartialEq)]
pub enum DeskIntent {
    /// A toolbar button: its action and argument (`call-next`, `transfer-service` + id, …).
    Clerk(String, String),
    /// A citizen touch: `confirm` yes|no, `rate` 1–5, `tag` id, …
    Citizen(String, String),
    /// A finished stroke on the signature pad: (x, y, milliseconds, pressure) in pad units.
    Ink(Vec<(f32, f32, u32, Option<f32>)>),
    Key(String),
    Pick(usize),
}

fn s(x: &str) -> SharedString {
    SharedString::from(x)
}

fn strings(v: &[String]) -> ModelRc<SharedString> {
    ModelRc::new(VecModel::from(v.iter().map(|x| s(x)).collect::<Vec<_>>()))
}

/// A stroke as the pad sends it: `x y ms pressure;` per point (a point that does not parse is
/// left out).
pub fn parse_stroke(text: &str) -> Vec<(f32, f32, u32, Option<f32>)> {
    text.split(';')
        .filter_map(|p| {
            let v: Vec<f32> = p
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            (v.len() == 4 && v.iter().all(|x| x.is_finite())).then(|| {
                let pressure = (v[3] >= 0.0).then_some(v[3]);
                (v[0], v[1], v[2].max(0.0) as u32, pressure)
            })
        })
        .collect()
}

/// Caches decoded pictures between frames (the carousel changes every few seconds).
#[derive(Default)]
pub struct DeskPictures {
    slide: Option<(PathBuf, Image)>,
    photo: Option<(Vec<u8>, Image)>,
    cast: Option<(u64, Image)>,
}

impl DeskPictures {
    fn slide(&mut self, p: &PathBuf) -> Option<Image> {
        if let Some((path, i)) = &self.slide {
            if path == p {
                return Some(i.clone());
            }
        }
        match Image::load_from_path(p) {
            Ok(i) => {
                self.slide = Some((p.clone(), i.clone()));
                Some(i)
            }
            Err(e) => {
                tracing::warn!(picture = %p.display(), error = %e, "hall picture cannot be loaded");
                None
            }
        }
    }

    fn cast(&mut self, c: &CastPicture) -> Option<Image> {
        if let Some((seq, i)) = &self.cast {
            if *seq == c.seq {
                return Some(i.clone());
            }
        }
        let len = (c.width as usize) * (c.height as usize) * 4;
        if c.width == 0 || c.height == 0 || c.rgba.len() != len {
            return None;
        }
        let buf = slint::SharedPixelBuffer::<slint::Rgba8Pixel>::clone_from_slice(
            &c.rgba, c.width, c.height,
        );
        let i = Image::from_rgba8(buf);
        self.cast = Some((c.seq, i.clone()));
        Some(i)
    }

    fn photo(&mut self, jpeg: &[u8]) -> Option<Image> {
        if let Some((b, i)) = &self.photo {
            if b == jpeg {
                return Some(i.clone());
            }
        }
        let i = crate::bind_copy::jpeg_image(jpeg)?;
        self.photo = Some((jpeg.to_vec(), i.clone()));
        Some(i)
    }
}

/// Fills one instance of the desk's global.
pub fn fill(d: &Desk<'_>, v: &DeskUiView, pictures: &mut DeskPictures) {
    d.set_window_no(s(&v.window_no));
    d.set_hall(s(&v.hall));
    d.set_clock(s(&v.clock));
    d.set_signed_in(v.signed_in);
    d.set_clerk_name(s(&v.clerk_name));
    d.set_clerk_initial(s(&v
        .clerk_name
        .chars()
        .next()
        .map(String::from)
        .unwrap_or_default()));
    d.set_clerk_staff(s(&v.clerk_staff));
    d.set_clerk_title(s(&v.clerk_title));
    d.set_clerk_stars(v.clerk_stars);
    let photo = v.clerk_photo.as_deref().and_then(|j| pictures.photo(j));
    d.set_has_photo(photo.is_some());
    d.set_clerk_photo(photo.unwrap_or_default());
    d.set_window_state(s(&v.window_state));
    d.set_ticket(s(&v.ticket));
    d.set_ticket_service(s(&v.ticket_service));
    d.set_ticket_state(s(&v.ticket_state));
    d.set_calls(i32::try_from(v.calls).unwrap_or(i32::MAX));
    d.set_last(s(&v.last));
    d.set_held(strings(&v.held));
    d.set_waiting(
        v.waiting
            .map_or(-1, |w| i32::try_from(w).unwrap_or(i32::MAX)),
    );
    d.set_pending(s(&v.pending));
    d.set_login_problem(s(&v.login_problem));
    d.set_login_detail(s(&v.login_detail));
    d.set_problem(s(&v.problem));
    d.set_problem_detail(s(&v.problem_detail));
    d.set_done(s(&v.done));
    d.set_citizen(s(&v.citizen));
    d.set_too_short(v.too_short);
    d.set_masked_name(s(&v.masked_name));
    d.set_confirmed(v.confirmed.map_or(-1, i32::from));
    d.set_signed(v.signed);
    d.set_can_rate(v.can_rate);
    d.set_case_number(s(&v.case_number));
    d.set_plate_only(v.plate_only);
    d.set_casting(v.casting);
    let cast = v.cast_frame.as_ref().and_then(|c| pictures.cast(c));
    d.set_has_cast_frame(cast.is_some());
    d.set_cast_frame(cast.unwrap_or_default());
    d.set_ic_card(s(&v.ic_card));
    d.set_materials(i32::try_from(v.materials).unwrap_or(i32::MAX));
    d.set_today_served(
        v.today_served
            .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)),
    );
    d.set_today_handling_min(s(&v.today_handling_min));
    d.set_today_satisfied_pct(s(&v.today_satisfied_pct));
    d.set_confirm_rows(ModelRc::new(VecModel::from(
        v.confirm_rows
            .iter()
            .map(|(l, x)| ConfirmRow {
                label: s(l),
                value: s(x),
            })
            .collect::<Vec<_>>(),
    )));
    d.set_ink(s(&v.ink));
    d.set_strokes(i32::try_from(v.strokes).unwrap_or(i32::MAX));
    d.set_services(ModelRc::new(VecModel::from(
        v.services
            .iter()
            .map(|(id, name)| ServiceRow {
                id: s(id),
                name: s(name),
            })
            .collect::<Vec<_>>(),
    )));
    d.set_tags(ModelRc::new(VecModel::from(
        v.tags
            .iter()
            .map(|(id, label, chosen)| TagRow {
                id: s(id),
                label: s(label),
                chosen: *chosen,
            })
            .collect::<Vec<_>>(),
    )));
    d.set_rating_level(i32::from(v.rating_level));
    d.set_typed(s(&v.typed));
    d.set_preedit(s(&v.preedit));
    d.set_candidates(strings(&v.candidates));
    d.set_plain_keys(v.plain_keys);
    let slide = v.slide_picture.as_ref().and_then(|p| pictures.slide(p));
    d.set_slide_is_picture(slide.is_some());
    d.set_slide_image(slide.unwrap_or_default());
    d.set_notice_title(s(&v.notice_title));
    d.set_notice_text(s(&v.notice_text));
    d.set_opens(s(&v.opens));
    d.set_closes(s(&v.closes));
}

/// Sends the touches of one instance of the desk's global to `f`.
pub fn on_intent(d: &Desk<'_>, f: Rc<dyn Fn(DeskIntent)>) {
    {
        let f = f.clone();
        d.on_press(move |a, b| f(DeskIntent::Clerk(a.to_string(), b.to_string())));
    }
    {
        let f = f.clone();
        d.on_touch(move |a, b| f(DeskIntent::Citizen(a.to_string(), b.to_string())));
    }
    {
        let f = f.clone();
        d.on_ink_stroke(move |t| f(DeskIntent::Ink(parse_stroke(&t))));
    }
    {
        let f = f.clone();
        d.on_key(move |k| f(DeskIntent::Key(k.to_string())));
    }
    d.on_pick(move |n| {
        if let Ok(n) = usize::try_from(n) {
            f(DeskIntent::Pick(n))
        }
    });
}

/// The two windows of a window unit on a display.
pub struct DeskWindows {
    pub caller: CallerWindow,
    pub citizen: CitizenWindow,
    pictures: std::cell::RefCell<DeskPictures>,
}

impl DeskWindows {
    pub fn new(f: Rc<dyn Fn(DeskIntent)>) -> Result<DeskWindows, slint::PlatformError> {
        let caller = CallerWindow::new()?;
        let citizen = CitizenWindow::new()?;
        on_intent(&caller.global::<Desk>(), f.clone());
        on_intent(&citizen.global::<Desk>(), f);
        Ok(DeskWindows {
            caller,
            citizen,
            pictures: Default::default(),
        })
    }

    pub fn show(&self, v: &DeskUiView) {
        let mut p = self.pictures.borrow_mut();
        fill(&self.caller.global::<Desk>(), v, &mut p);
        fill(&self.citizen.global::<Desk>(), v, &mut p);
    }
}

/// Both screens on one canvas (the toolbar above the citizen screen), for tours and tests.
pub struct DeskStageUi {
    pub stage: DeskStage,
    pictures: std::cell::RefCell<DeskPictures>,
}

/// The stage's size in pixels.
pub const STAGE_SIZE: (u32, u32) = (1600, 1120);

impl DeskStageUi {
    pub fn new(f: Rc<dyn Fn(DeskIntent)>) -> Result<DeskStageUi, slint::PlatformError> {
        let stage = DeskStage::new()?;
        on_intent(&stage.global::<Desk>(), f);
        Ok(DeskStageUi {
            stage,
            pictures: Default::default(),
        })
    }

    pub fn show(&self, v: &DeskUiView) {
        fill(
            &self.stage.global::<Desk>(),
            v,
            &mut self.pictures.borrow_mut(),
        );
    }
}

/// Switches every `@tr` string of every window to `lang` (source strings are English; Chinese
/// comes from the bundled catalogue).
pub fn select_language(lang: crate::Language) -> Result<(), crate::UiError> {
    let bundle = match lang {
        crate::Language::ZhCn => "zh_CN",
        crate::Language::En => "",
    };
    slint::select_bundled_translation(bundle).map_err(|e| crate::UiError::Platform(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stroke_keeps_only_whole_finite_points() {
        let s = parse_stroke("10 20 0 -1;NaN 1 2 3;30 40 16 0.5;inf 1 1 1;5 5;x y z w;");
        assert_eq!(s, vec![(10.0, 20.0, 0, None), (30.0, 40.0, 16, Some(0.5))]);
        assert!(parse_stroke("").is_empty());
        // A negative time is taken as the pad's start.
        assert_eq!(parse_stroke("1 1 -5 -1"), vec![(1.0, 1.0, 0, None)]);
    }
}
