//! The face check on a running terminal: the sim profile's binocular face camera (its device
//! actor, its `frame` action), the models from shared/models, per-camera policy from the
//! sample config, and the one event each check leaves.

use std::sync::atomic::AtomicBool;

use std::time::Duration;

use kiosk_app::runtime::Owner;
use kiosk_app::services::face::{FaceConfig, FaceService};
use kiosk_app::{Profile, Runtime};
use kiosk_e2e::{repo_root, sample_config};
use kiosk_hal::clock::SystemClock;
use kiosk_models::Decision;
use kiosk_protocol::EventKind;
use serde_json::json;

fn faces(name: &str) -> std::path::PathBuf {
    repo_root().join("../shared/faces").join(name)
}

#[test]
fn the_terminal_verifies_the_card_holder_at_its_face_camera_and_keeps_no_face_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = sample_config("kiosk.sim.toml", dir.path());
    cfg.devices.retain(|d| d.id == "face");
    assert_eq!(cfg.face.cameras["face"].match_threshold, Some(0.42));
    let rt = Runtime::start(&cfg, Profile::Sim, SystemClock::shared()).unwrap();
    rt.poll_all();
    let mut events = rt.events.subscribe();
    let mut service = FaceService::load(&cfg.face);
    service.available().expect("models load");
    let card = kiosk_image::scan::read_image(&faces("deepface_img1.jpg")).unwrap();
    let never = AtomicBool::new(false);
    let mut prompts = Vec::new();
    let cam = rt
        .claim(
            "face",
            Owner::Flow("test".into()),
            Duration::from_secs(300),
            Duration::ZERO,
        )
        .unwrap();
    let v = service.verify(&rt, &cam, &card, &mut |p| prompts.push(p), &never);
    assert_eq!(v.decision, Decision::Verified, "{v:?}");
    assert!(!prompts.is_empty());

    // A phone held up to the camera: colour sees the face, IR sees a dark screen.
    let sim = rt.device("face").unwrap().sim.clone().unwrap();
    sim.inject("show", &json!({ "ir": "blank" })).unwrap();
    let v = service.verify(&rt, &cam, &card, &mut |_| {}, &never);
    assert_eq!(v.decision, Decision::Spoof, "{v:?}");

    // Someone else in front of the camera.
    sim.inject(
        "show",
        &json!({ "rgb": faces("deepface_img3.jpg").display().to_string(), "ir": "derive" }),
    )
    .unwrap();
    let v = service.verify(&rt, &cam, &card, &mut |_| {}, &never);
    assert_eq!(v.decision, Decision::NotVerified, "{v:?}");

    sim.unplug().unwrap();
    let v = service.verify(&rt, &cam, &card, &mut |_| {}, &never);
    assert_eq!(v.decision, Decision::Unavailable, "{v:?}");

    let mut results = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.kind == EventKind::FaceVerified {
            results.push(e);
        }
    }
    let decisions: Vec<_> = results
        .iter()
        .map(|e| e.fields["decision"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        decisions,
        ["verified", "spoof", "not-verified", "unavailable"]
    );
    for e in &results {
        for (k, v) in &e.fields {
            assert!(
                [
                    "decision",
                    "frames",
                    "elapsed_ms",
                    "score",
                    "threshold",
                    "reason"
                ]
                .contains(&k.as_str()),
                "unexpected field {k}"
            );
            assert!(v.to_string().len() < 200, "{k} carries bulk data");
        }
    }
    rt.shutdown();
}

#[test]
fn without_models_the_check_says_unavailable_so_the_flow_offers_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = sample_config("kiosk.sim.toml", dir.path());
    cfg.devices.retain(|d| d.id == "face");
    let rt = Runtime::start(&cfg, Profile::Sim, SystemClock::shared()).unwrap();
    let mut service = FaceService::load(&FaceConfig {
        models: dir.path().join("no-models-here"),
        ..cfg.face.clone()
    });
    assert!(service.available().unwrap_err().contains("missing"));
    let card = kiosk_image::scan::read_image(&faces("deepface_img1.jpg")).unwrap();
    let cam = rt
        .claim(
            "face",
            Owner::Flow("test".into()),
            Duration::from_secs(300),
            Duration::ZERO,
        )
        .unwrap();
    let v = service.verify(&rt, &cam, &card, &mut |_| {}, &AtomicBool::new(false));
    assert_eq!(v.decision, Decision::Unavailable);
    assert!(v.reason.unwrap().contains("models"));
    // A camera id that is not in the table cannot even be claimed: a typed refusal, no panic.
    assert!(rt
        .claim("nope", Owner::Admin, Duration::from_secs(1), Duration::ZERO)
        .is_err());
    // Another owner's camera: the check is unavailable, with the holder named.
    let admin_cam = rt.claim("face", Owner::Admin, Duration::from_secs(1), Duration::ZERO);
    assert!(admin_cam
        .unwrap_err()
        .to_string()
        .contains("held by flow test"));
    drop(cam);
    rt.shutdown();
}
