use std::time::Duration;

use kiosk_hal::actor::{CommandContext, Device};
use kiosk_hal::device::Health;
use kiosk_hal::DeviceKind;
use kiosk_image::{FrameError, FrameSource};
use opencv::core::{Mat, Scalar, Size, CV_8UC3};
use opencv::prelude::*;
use opencv::videoio;
use serde_json::json;

use super::sim::{simulate, CameraSim, SceneSource};
use super::*;
use crate::sim::SimControl;
use crate::{SimEnv, TransportKind};

fn spec(kind: DeviceKind) -> DeviceSpec {
    let driver = if kind == DeviceKind::DocumentCamera {
        DOCUMENT_DRIVER
    } else {
        FACE_DRIVER
    };
    let mut s = DeviceSpec::new("cam", kind, driver, TransportKind::Video);
    s.path = Some("/dev/video0".into());
    s
}

fn ctx() -> CommandContext {
    CommandContext::with_timeout(Duration::from_secs(5))
}

fn solid(w: i32, h: i32, v: f64) -> Mat {
    Mat::new_rows_cols_with_default(h, w, CV_8UC3, Scalar::all(v)).expect("mat")
}

#[test]
fn settings_are_checked_when_the_table_is_loaded() {
    let mut s = spec(DeviceKind::DocumentCamera);
    let d = CameraSettings::from_spec(&s).expect("defaults");
    assert_eq!((d.preview, d.still), ((1280, 720), Some((3264, 2448))));
    s.options.insert("preview".into(), json!("1920x1080"));
    s.options.insert("still".into(), json!("3648x2736"));
    s.options.insert("exposure".into(), json!("120"));
    s.options.insert("focus".into(), json!("auto"));
    let d = CameraSettings::from_spec(&s).expect("options");
    assert_eq!(d.still, Some((3648, 2736)));
    assert_eq!(
        d.controls,
        vec![Control::Exposure(120.0), Control::AutoFocus]
    );
    for (k, v, why) in [
        ("preview", "1920", "WIDTHxHEIGHT"),
        ("still", "99999x2", "outside"),
        ("exposure", "bright", "auto"),
        ("ir_path", "/dev/video2", "binocular"),
        ("zoom", "2", "unknown option"),
    ] {
        let mut bad = spec(DeviceKind::DocumentCamera);
        bad.options.insert(k.into(), json!(v));
        let err = CameraSettings::from_spec(&bad).unwrap_err().to_string();
        assert!(err.contains(why), "{k}={v}: {err}");
    }
    let mut face = spec(DeviceKind::FaceCamera);
    face.options.insert("still".into(), json!("3264x2448"));
    assert!(CameraSettings::from_spec(&face).is_err());
    assert!(crate::registry::validate(&spec(DeviceKind::FaceCamera)).is_ok());
}

#[test]
fn document_camera_previews_and_takes_full_resolution_stills() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = SimEnv::new(dir.path()).expect("env");
    let mut s = spec(DeviceKind::DocumentCamera);
    let captures = dir.path().join("captures").display().to_string();
    s.options.insert("capture_dir".into(), json!(captures));
    let (mut cam, _sim) = simulate(&s, &env).expect("sim");
    let r = cam.poll();
    assert_eq!(r.health, Health::Online, "{r:?}");
    assert!(r.detail.contains("1280×720"));
    let f = FrameSource::grab(&mut cam).expect("frame");
    assert_eq!((f.image.cols(), f.image.rows()), (1280, 720));
    let out = dir.path().join("still.jpg");
    let v = cam
        .run(
            "capture",
            &json!({ "path": out.display().to_string() }),
            &ctx(),
        )
        .expect("capture");
    assert_eq!(
        (v["width"].as_i64(), v["height"].as_i64()),
        (Some(3264), Some(2448))
    );
    // Never over an existing file, and only as JPEG.
    let again = cam.run(
        "capture",
        &json!({ "path": out.display().to_string() }),
        &ctx(),
    );
    assert!(again.unwrap_err().detail.contains("never overwrite"));
    let txt = dir.path().join("x.txt").display().to_string();
    assert!(cam.run("capture", &json!({ "path": txt }), &ctx()).is_err());
    let auto = cam
        .run("capture", &json!({}), &ctx())
        .expect("capture into capture_dir");
    let auto_path = std::path::PathBuf::from(auto["path"].as_str().expect("path"));
    assert!(auto_path.starts_with(dir.path().join("captures")) && auto_path.exists());
    let still =
        opencv::imgcodecs::imread(out.as_os_str(), opencv::imgcodecs::IMREAD_COLOR).expect("read");
    assert_eq!((still.cols(), still.rows()), (3264, 2448));
    // The page the simulated camera looks at is found in its still.
    let page = kiosk_image::page::find_page(&still).expect("detect");
    assert!(page.is_some());
    // Back in preview afterwards.
    let f = FrameSource::grab(&mut cam).expect("frame");
    assert_eq!(f.image.cols(), 1280);
    let inline = cam
        .run("frame", &json!({ "quality": 60 }), &ctx())
        .expect("frame");
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(inline["jpeg"].as_str().expect("jpeg"))
        .expect("base64");
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    assert!(cam.run("frame", &json!({ "quality": 0 }), &ctx()).is_err());
}

#[test]
fn an_unplugged_camera_goes_offline_and_comes_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = SimEnv::new(dir.path()).expect("env");
    let (mut cam, sim) = simulate(&spec(DeviceKind::DocumentCamera), &env).expect("sim");
    assert_eq!(cam.poll().health, Health::Online);
    sim.unplug().expect("unplug");
    assert_eq!(
        FrameSource::grab(&mut cam).err(),
        Some(FrameError::Offline("cam".into()))
    );
    let r = cam.poll();
    assert_eq!(r.health, Health::Offline);
    assert!(r.detail.contains("not there"), "{}", r.detail);
    assert!(cam.run("capture", &json!({}), &ctx()).is_err());
    sim.replug().expect("replug");
    assert_eq!(cam.poll().health, Health::Online);
    assert!(FrameSource::grab(&mut cam).is_ok());
    // Unplugged between polls: the next poll notices without a grab.
    sim.unplug().expect("unplug");
    assert_eq!(cam.poll().health, Health::Offline);
}

#[test]
fn a_binocular_camera_delivers_rgb_and_ir_from_one_grab() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = SimEnv::new(dir.path()).expect("env");
    let face = dir.path().join("face.png");
    opencv::imgcodecs::imwrite_def(face.as_os_str(), &solid(640, 480, 120.0)).expect("write");
    let mut s = spec(DeviceKind::FaceCamera);
    s.options.insert("ir_path".into(), json!("/dev/video2"));
    s.options.insert("preview".into(), json!("640x480"));
    s.options
        .insert("sim_source".into(), json!(face.display().to_string()));
    let (mut cam, sim) = simulate(&s, &env).expect("sim");
    assert!(cam.has_ir());
    assert_eq!(cam.poll().health, Health::Online);
    let f = FrameSource::grab(&mut cam).expect("pair");
    let ir = f.ir.expect("ir frame");
    assert_eq!((ir.cols(), ir.rows(), ir.channels()), (640, 480, 1));
    assert_eq!(*ir.at_2d::<u8>(10, 10).expect("px"), 120);
    sim.inject("show", &json!({ "ir": "blank" })).expect("show");
    let f = FrameSource::grab(&mut cam).expect("pair");
    assert!(*f.ir.expect("ir").at_2d::<u8>(10, 10).expect("px") < 20);
    assert!(
        cam.actions().iter().all(|a| a.name != "capture"),
        "face frames are never written to disk"
    );
    sim.unplug().expect("unplug");
    assert_eq!(cam.poll().health, Health::Offline);
}

#[test]
fn video_files_and_image_folders_play_as_camera_streams() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = SimEnv::new(dir.path()).expect("env");
    let video = dir.path().join("clip.avi");
    {
        let fourcc = videoio::VideoWriter::fourcc('M', 'J', 'P', 'G').expect("fourcc");
        let mut w =
            videoio::VideoWriter::new(video.as_os_str(), fourcc, 10.0, Size::new(320, 240), true)
                .expect("writer");
        assert!(w.is_opened().expect("opened"));
        for v in [40.0, 120.0, 200.0] {
            w.write(&solid(320, 240, v)).expect("write");
        }
    }
    let mut s = spec(DeviceKind::FaceCamera);
    s.options.insert("preview".into(), json!("320x240"));
    s.options
        .insert("sim_source".into(), json!(video.display().to_string()));
    let (mut cam, sim) = simulate(&s, &env).expect("sim");
    let level = |cam: &mut Camera| {
        let f = FrameSource::grab(cam).expect("frame");
        opencv::core::mean(&f.image, &opencv::core::no_array()).expect("mean")[0]
    };
    let seen: Vec<f64> = (0..4).map(|_| level(&mut cam)).collect();
    assert!(
        (seen[0] - 40.0).abs() < 8.0 && (seen[2] - 200.0).abs() < 8.0,
        "{seen:?}"
    );
    assert!((seen[3] - 40.0).abs() < 8.0, "the clip loops: {seen:?}");
    let folder = dir.path().join("frames");
    std::fs::create_dir(&folder).expect("dir");
    for (i, v) in [10.0, 250.0].iter().enumerate() {
        opencv::imgcodecs::imwrite_def(
            folder.join(format!("{i}.png")).as_os_str(),
            &solid(32, 24, *v),
        )
        .expect("write");
    }
    sim.inject("show", &json!({ "rgb": folder.display().to_string() }))
        .expect("show");
    let seen: Vec<f64> = (0..3).map(|_| level(&mut cam)).collect();
    assert!(
        seen[0] < 20.0 && seen[1] > 240.0 && seen[2] < 20.0,
        "{seen:?}"
    );
    assert!(sim
        .inject("show", &json!({ "rgb": "/nonexistent.png" }))
        .is_err());
}

#[test]
fn nobody_in_front_of_a_binocular_camera_is_dark_colour_and_dark_ir() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = SimEnv::new(dir.path()).expect("env");
    let mut s = spec(DeviceKind::FaceCamera);
    s.options.insert("sim_ir".into(), json!("derive"));
    let (mut cam, sim) = simulate(&s, &env).expect("sim");
    sim.inject("show", &json!({ "rgb": "blank" }))
        .expect("show");
    for _ in 0..2 {
        let f = FrameSource::grab(&mut cam).expect("a dark frame, not a camera fault");
        assert_eq!(f.image.channels(), 3, "colour frames have three channels");
        let ir = f.ir.expect("ir");
        assert_eq!(ir.channels(), 1);
    }
}

#[test]
fn a_card_on_the_plate_is_shown_on_request() {
    let dir = tempfile::tempdir().expect("tmp");
    let env = SimEnv::new(dir.path()).expect("env");
    let mut s = spec(DeviceKind::DocumentCamera);
    s.options.insert("still".into(), json!("3264x2448"));
    let (mut cam, sim) = simulate(&s, &env).expect("sim");
    for side in ["front", "back"] {
        sim.inject("card", &json!({ "side": side })).expect("card");
        let v = cam
            .run("frame", &json!({ "still": true, "quality": 95 }), &ctx())
            .expect("still");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v["jpeg"].as_str().expect("jpeg"))
            .expect("base64");
        let image = kiosk_image::scan::decode(&bytes).expect("decode");
        assert_eq!((image.cols(), image.rows()), (3264, 2448), "a full still");
        let quad = kiosk_image::page::find_page(&image)
            .expect("find")
            .expect("a card on the plate");
        let card = kiosk_image::page::rectify(&image, &quad).expect("rectify");
        let aspect = card.cols().max(card.rows()) as f32 / card.cols().min(card.rows()) as f32;
        assert!((aspect - 1.585).abs() < 0.06, "{side}: {aspect}");
    }
    sim.inject("card", &json!({ "side": "none" }))
        .expect("empty");
    let f = FrameSource::grab(&mut cam).expect("frame");
    assert!(kiosk_image::page::find_page(&f.image)
        .expect("find")
        .is_none());
    assert!(sim.inject("card", &json!({ "side": "edge" })).is_err());
}

#[test]
fn a_camera_that_is_not_there_is_offline_with_its_node_named() {
    let mut s = spec(DeviceKind::DocumentCamera);
    s.path = Some("/dev/video-hallkit-absent".into());
    let mut cam = Camera::from_spec(&s).expect("camera");
    let r = cam.poll();
    assert_eq!(r.health, Health::Offline);
    assert!(
        r.detail.contains("/dev/video-hallkit-absent"),
        "{}",
        r.detail
    );
    assert!(matches!(
        FrameSource::grab(&mut cam),
        Err(FrameError::Offline(_))
    ));
}

#[test]
fn capture_nodes_are_enumerated_from_sysfs() {
    let root = tempfile::tempdir().expect("tmp");
    let usb = root.path().join("usb1");
    for (node, index, name) in [
        ("video0", "0", "HD Document Camera"),
        ("video1", "1", "HD Document Camera"),
        ("video2", "0", "IR Camera"),
    ] {
        let d = usb.join(format!("if{node}"));
        std::fs::create_dir_all(&d).expect("dir");
        let link = root.path().join("class").join(node);
        std::fs::create_dir_all(&link).expect("class dir");
        std::fs::write(link.join("index"), index).expect("index");
        std::fs::write(link.join("name"), format!("{name}\n")).expect("name");
        std::os::unix::fs::symlink(&d, link.join("device")).expect("link");
    }
    std::fs::write(usb.join("idVendor"), "0c45\n").expect("vid");
    std::fs::write(usb.join("idProduct"), "6366\n").expect("pid");
    let found = enumerate(&root.path().join("class"));
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].path, "/dev/video0");
    assert_eq!(found[0].name, "HD Document Camera");
    assert_eq!(found[0].usb.as_deref(), Some("0c45:6366"));
    assert_eq!(found[1].path, "/dev/video2");
    assert!(enumerate(std::path::Path::new("/nonexistent")).is_empty());
}

#[test]
fn scene_sources_parse() {
    assert_eq!(SceneSource::parse("derive"), SceneSource::DeriveFromRgb);
    assert_eq!(SceneSource::parse("blank"), SceneSource::Blank);
    let sim = CameraSim::new("x", SceneSource::Blank, None);
    assert!(sim.ir_stream().is_none());
    assert!(sim.set_faults(crate::SimFaults::default()).is_err());
}

#[test]
fn this_opencv_build_reads_v4l2_cameras() {
    let backends = opencv::videoio::get_camera_backends().expect("backends");
    let names: Vec<String> = backends
        .iter()
        .map(|b| opencv::videoio::get_backend_name(b).unwrap_or_default())
        .collect();
    assert!(
        names.iter().any(|n| n == "V4L2"),
        "camera backends: {names:?}"
    );
}

#[test]
fn old_stills_of_this_camera_are_purged_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tmp");
    for name in [
        "docam-1-1.jpg",
        "docam-2-2.jpg",
        "other-1-1.jpg",
        "docam-notes.txt",
    ] {
        std::fs::write(dir.path().join(name), b"x").expect("write");
    }
    assert_eq!(
        purge_captures(dir.path(), "docam", Duration::from_secs(3600)),
        0
    );
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        purge_captures(dir.path(), "docam", Duration::from_millis(1)),
        2
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(
        purge_captures(
            std::path::Path::new("/nonexistent"),
            "docam",
            Duration::ZERO
        ),
        0
    );
}
