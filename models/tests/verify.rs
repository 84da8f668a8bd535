//! verify_person end to end on real photos, through still frames and through the simulated
//! binocular camera driver.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::sync::OnceLock;

use kiosk_image::{FrameSource, StillFrames};
use kiosk_models::engine::largest;
use kiosk_models::{
    image_ops, verify_person, BackendKind, Decision, FaceEngine, Prompt, Verification, VerifyPolicy,
};
use opencv::core::{Mat, Rect, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;

fn faces() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/faces")
}

fn engine() -> std::sync::MutexGuard<'static, FaceEngine> {
    static ENGINE: OnceLock<Mutex<FaceEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models");
            Mutex::new(FaceEngine::load(&dir, BackendKind::Tract).expect("models"))
        })
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn photo(name: &str) -> Mat {
    image_ops::read(&faces().join(name)).expect("photo")
}

/// An ID-card style portrait (102×126, head and shoulders) cut from a photo.
fn card_from(name: &str) -> Mat {
    let img = photo(name);
    let face = largest(engine().detect(&img).expect("detect")).expect("face");
    let [x, y, w, h] = face.rect;
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let ch = h * 1.6;
    let cw = ch * 102.0 / 126.0;
    let x0 = (cx - cw / 2.0).max(0.0) as i32;
    let y0 = (cy - ch / 2.0).max(0.0) as i32;
    let r = Rect::new(
        x0,
        y0,
        (cw as i32).min(img.cols() - x0),
        (ch as i32).min(img.rows() - y0),
    );
    let roi = Mat::roi(&img, r).expect("roi");
    let mut card = Mat::default();
    imgproc::resize(
        &roi,
        &mut card,
        Size::new(102, 126),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .expect("resize");
    card
}

fn policy() -> VerifyPolicy {
    VerifyPolicy {
        max_frames: 8,
        timeout_secs: 120.0,
        ..VerifyPolicy::default()
    }
}

fn run(
    card: &Mat,
    camera: &mut dyn FrameSource,
    policy: &VerifyPolicy,
) -> (Verification, Vec<Prompt>) {
    let mut prompts = Vec::new();
    let mut engine = engine();
    let v = verify_person(
        Some(&mut engine),
        card,
        camera,
        policy,
        &mut |p| prompts.push(p),
        &AtomicBool::new(false),
    );
    eprintln!("{v:?} prompts {prompts:?}");
    (v, prompts)
}

#[test]
fn the_card_holder_is_verified_and_someone_else_is_not() {
    let card = card_from("deepface_img1.jpg");
    let (v, prompts) = run(
        &card,
        &mut StillFrames::new(vec![photo("deepface_img2.jpg")]),
        &policy(),
    );
    assert_eq!(v.decision, Decision::Verified);
    assert!(v.score.expect("score") >= v.threshold.expect("threshold"));
    assert_eq!(prompts.first(), Some(&Prompt::LookAtCamera));
    assert!(prompts.contains(&Prompt::Checking));
    let (v, _) = run(
        &card,
        &mut StillFrames::new(vec![photo("deepface_img3.jpg")]),
        &policy(),
    );
    assert_eq!(v.decision, Decision::NotVerified);
    assert!(v.score.expect("score") < v.threshold.expect("threshold"));
}

#[test]
fn a_printed_or_replayed_face_is_a_spoof() {
    let card = card_from("silentface_image_T1.jpg");
    let (v, _) = run(
        &card,
        &mut StillFrames::new(vec![photo("silentface_image_F2.jpg")]),
        &policy(),
    );
    assert_eq!(v.decision, Decision::Spoof);
    let (v, _) = run(
        &card,
        &mut StillFrames::new(vec![photo("silentface_image_T1.jpg")]),
        &policy(),
    );
    assert_eq!(v.decision, Decision::Verified, "the live sample passes");
}

#[test]
fn nobody_in_front_of_the_camera_is_no_face() {
    let card = card_from("deepface_img1.jpg");
    let empty = Mat::new_rows_cols_with_default(
        720,
        1280,
        opencv::core::CV_8UC3,
        Scalar::new(96.0, 104.0, 110.0, 0.0),
    )
    .expect("mat");
    let (v, prompts) = run(&card, &mut StillFrames::new(vec![empty]), &policy());
    assert_eq!(v.decision, Decision::NoFace);
    assert_eq!(v.frames, 8);
    assert_eq!(prompts, vec![Prompt::LookAtCamera]);
}

#[test]
fn two_people_in_view_are_refused() {
    let card = card_from("deepface_img1.jpg");
    let (v, prompts) = run(
        &card,
        &mut StillFrames::new(vec![photo("deepface_couple.jpg")]),
        &policy(),
    );
    assert_eq!(v.decision, Decision::SeveralFaces);
    assert!(prompts.contains(&Prompt::OnlyOnePerson));
}

#[test]
fn a_far_away_or_blurred_face_is_guided_not_judged() {
    let card = card_from("deepface_img1.jpg");
    let near = photo("deepface_img2.jpg");
    let mut far = Mat::default();
    imgproc::resize(
        &near,
        &mut far,
        Size::new(0, 0),
        0.12,
        0.12,
        imgproc::INTER_AREA,
    )
    .expect("shrink");
    let mut canvas =
        Mat::new_rows_cols_with_default(720, 1280, opencv::core::CV_8UC3, Scalar::all(90.0))
            .expect("mat");
    let mut roi =
        Mat::roi_mut(&mut canvas, Rect::new(600, 300, far.cols(), far.rows())).expect("roi");
    far.copy_to(&mut roi).expect("copy");
    let mut blurred = Mat::default();
    imgproc::gaussian_blur_def(&near, &mut blurred, Size::new(0, 0), 9.0).expect("blur");
    let mut dark = Mat::default();
    near.convert_to(&mut dark, -1, 0.15, 0.0).expect("darken");
    let (v, prompts) = run(
        &card,
        &mut StillFrames::new(vec![canvas, blurred, dark]),
        &policy(),
    );
    assert!(prompts.contains(&Prompt::ComeCloser), "{prompts:?}");
    assert!(prompts.contains(&Prompt::HoldStill), "{prompts:?}");
    assert!(prompts.contains(&Prompt::MoreLight), "{prompts:?}");
    assert_eq!(
        v.decision,
        Decision::NoFace,
        "no frame was good enough to judge"
    );
}

#[test]
fn without_models_or_camera_or_card_face_the_check_is_unavailable() {
    let card = card_from("deepface_img1.jpg");
    let mut frames = StillFrames::new(vec![photo("deepface_img2.jpg")]);
    let v = verify_person(
        None,
        &card,
        &mut frames,
        &policy(),
        &mut |_| {},
        &AtomicBool::new(false),
    );
    assert_eq!(v.decision, Decision::Unavailable);
    assert!(v.reason.expect("reason").contains("models"));
    let blank_card =
        Mat::new_rows_cols_with_default(126, 102, opencv::core::CV_8UC3, Scalar::all(255.0))
            .expect("mat");
    let (v, _) = run(&blank_card, &mut frames, &policy());
    assert_eq!(v.decision, Decision::Unavailable);
    assert!(v.reason.expect("reason").contains("card photo"));
    let dir = tempfile::tempdir().expect("tmp");
    let env = kiosk_drivers::SimEnv::new(dir.path()).expect("env");
    let mut spec = kiosk_drivers::DeviceSpec::new(
        "face",
        kiosk_hal::DeviceKind::FaceCamera,
        "uvc-face",
        kiosk_drivers::TransportKind::Video,
    );
    spec.options.insert(
        "sim_source".into(),
        serde_json::json!(faces().join("deepface_img2.jpg").display().to_string()),
    );
    let (mut camera, sim) = kiosk_drivers::camera::sim::simulate(&spec, &env).expect("camera");
    kiosk_drivers::SimControl::unplug(&sim).expect("unplug");
    let (v, _) = run(&card, &mut camera, &policy());
    assert_eq!(v.decision, Decision::Unavailable);
    assert!(v.reason.expect("reason").contains("offline"));
    // A camera that keeps failing without going offline: unavailable, not a spin to the timeout.
    let (v, _) = run(
        &card,
        &mut StillFrames::new(Vec::new()),
        &VerifyPolicy {
            max_frames: 0,
            ..policy()
        },
    );
    assert_eq!(v.decision, Decision::Unavailable);
    assert!(
        v.reason.as_deref().unwrap_or("").contains("no pictures"),
        "{v:?}"
    );
    let cancel = AtomicBool::new(true);
    let v = verify_person(
        Some(&mut engine()),
        &card,
        &mut frames,
        &policy(),
        &mut |_| {},
        &cancel,
    );
    assert_eq!(v.decision, Decision::NoFace);
    assert_eq!(v.reason.as_deref(), Some("canceled"));
}

#[test]
fn a_binocular_camera_refuses_a_face_that_is_not_there_in_infrared() {
    let card = card_from("deepface_img1.jpg");
    let dir = tempfile::tempdir().expect("tmp");
    let env = kiosk_drivers::SimEnv::new(dir.path()).expect("env");
    let mut spec = kiosk_drivers::DeviceSpec::new(
        "face",
        kiosk_hal::DeviceKind::FaceCamera,
        "uvc-face",
        kiosk_drivers::TransportKind::Video,
    );
    spec.options
        .insert("ir_path".into(), serde_json::json!("/dev/video2"));
    spec.options
        .insert("preview".into(), serde_json::json!("1024x768"));
    spec.options.insert(
        "sim_source".into(),
        serde_json::json!(faces().join("deepface_img2.jpg").display().to_string()),
    );
    let (mut camera, sim) = kiosk_drivers::camera::sim::simulate(&spec, &env).expect("camera");
    let (v, _) = run(&card, &mut camera, &policy());
    assert_eq!(v.decision, Decision::Verified, "a live face lit in IR");
    // A phone replaying the same face: the colour stream sees it, the IR stream sees nothing.
    kiosk_drivers::SimControl::inject(&sim, "show", &serde_json::json!({ "ir": "blank" }))
        .expect("show");
    let (v, _) = run(&card, &mut camera, &policy());
    assert_eq!(v.decision, Decision::Spoof);
    assert!(v.reason.expect("reason").contains("IR"));
}

/// `name`'s largest face cut out with head and shoulders, scaled so the face is `face_width`
/// px wide.
fn person(name: &str, face_width: f32) -> Mat {
    let img = photo(name);
    let face = largest(engine().detect(&img).expect("detect")).expect("face");
    let [x, y, w, h] = face.rect;
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let (hw, hh) = (w * 0.9, h * 0.85);
    let x0 = (cx - hw).max(0.0) as i32;
    let y0 = (cy - hh).max(0.0) as i32;
    let r = Rect::new(
        x0,
        y0,
        ((2.0 * hw) as i32).min(img.cols() - x0),
        ((2.0 * hh) as i32).min(img.rows() - y0),
    );
    let roi = Mat::roi(&img, r).expect("roi");
    let mut out = Mat::default();
    let scale = (face_width / w) as f64;
    imgproc::resize(
        &roi,
        &mut out,
        Size::new(0, 0),
        scale,
        scale,
        imgproc::INTER_AREA,
    )
    .expect("resize");
    out
}

/// A busy hall behind the terminal: the group photo of six people (faces 70–130 px), twice
/// side by side, filling a 1280×720 camera frame; then `people` pasted in front, each with
/// its left edge at the given x, standing on the frame's bottom edge.
fn hall_scene(people: &[(Mat, i32)]) -> Mat {
    let crowd = photo("deepface_selfie-many-people.jpg");
    let mut canvas =
        Mat::new_rows_cols_with_default(720, 1280, opencv::core::CV_8UC3, Scalar::all(120.0))
            .expect("canvas");
    for x in [0, 640] {
        let w = crowd.cols().min(640);
        let h = crowd.rows().min(720);
        let src = Mat::roi(&crowd, Rect::new(0, 0, w, h)).expect("crowd");
        let mut dst = Mat::roi_mut(&mut canvas, Rect::new(x, 0, w, h)).expect("dst");
        src.copy_to(&mut dst).expect("copy");
    }
    for (p, x) in people {
        let w = p.cols().min(1280 - x);
        let h = p.rows().min(720);
        let src = Mat::roi(p, Rect::new(0, 0, w, h)).expect("person");
        let mut dst = Mat::roi_mut(&mut canvas, Rect::new(*x, 720 - h, w, h)).expect("dst");
        src.copy_to(&mut dst).expect("copy");
    }
    canvas
}

#[test]
fn bystanders_far_behind_in_a_busy_hall_do_not_block_the_citizen() {
    let card = card_from("deepface_img1.jpg");
    let citizen = person("deepface_img2.jpg", 330.0);
    let x = (1280 - citizen.cols()) / 2;
    let scene = hall_scene(&[(citizen, x)]);
    let faces = engine().detect(&scene).expect("detect");
    assert!(
        faces.len() >= 4,
        "the crowd behind is really seen: {} faces",
        faces.len()
    );
    let (v, prompts) = run(&card, &mut StillFrames::new(vec![scene]), &policy());
    assert_eq!(v.decision, Decision::Verified);
    assert!(!prompts.contains(&Prompt::OnlyOnePerson));
}

#[test]
fn someone_leaning_in_beside_the_citizen_still_refuses() {
    let card = card_from("deepface_img1.jpg");
    let citizen = person("deepface_img2.jpg", 330.0);
    let beside = person("deepface_img3.jpg", 260.0);
    let beside_x = 1280 - beside.cols().min(560);
    let scene = hall_scene(&[(citizen, 380), (beside, beside_x)]);
    let (v, prompts) = run(&card, &mut StillFrames::new(vec![scene.clone()]), &policy());
    assert_eq!(v.decision, Decision::SeveralFaces);
    assert!(prompts.contains(&Prompt::OnlyOnePerson));
    // The share is the hall's to set: counting only faces as large as the citizen's lets
    // this one through.
    let lenient = VerifyPolicy {
        second_face_share: 0.9,
        ..policy()
    };
    let (v, _) = run(&card, &mut StillFrames::new(vec![scene]), &lenient);
    assert_eq!(v.decision, Decision::Verified);
}

#[test]
fn a_group_crowding_the_terminal_is_refused() {
    let card = card_from("deepface_img1.jpg");
    let (v, _) = run(
        &card,
        &mut StillFrames::new(vec![photo("deepface_selfie-many-people.jpg")]),
        &policy(),
    );
    assert_eq!(v.decision, Decision::SeveralFaces);
}
