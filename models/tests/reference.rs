//! The tract pipeline against the ONNX Runtime reference values shipped with the photo set, and
//! its accuracy on the labelled pairs.

use std::path::{Path, PathBuf};

use kiosk_models::engine::largest;
use kiosk_models::{image_ops, BackendKind, FaceEngine};
use serde_json::Value;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn engine() -> FaceEngine {
    FaceEngine::load(&shared().join("models"), BackendKind::Tract).expect("models load")
}

fn reference() -> Value {
    let text =
        std::fs::read_to_string(shared().join("faces/reference_ort.json")).expect("reference");
    serde_json::from_str(&text).expect("reference json")
}

fn f(v: &Value) -> f32 {
    v.as_f64().expect("number") as f32
}

#[test]
fn detections_embeddings_and_liveness_match_the_reference() {
    let mut engine = engine();
    let reference = reference();
    let images = reference["images"].as_object().expect("images");
    let mut checked = 0;
    let mut worst_box = 0f32;
    let mut worst_cos = 1f32;
    for (file, want) in images {
        let path = shared().join("faces").join(file);
        if !path.exists() {
            continue;
        }
        let img = image_ops::read(&path).expect("decode");
        let found = engine.detect(&img).expect("detect");
        let want_faces = want["yunet"].as_array().expect("yunet");
        // Borderline background faces may appear or vanish with another JPEG decoder and
        // resize; the labelled person may not.
        assert!(
            (found.len() as i64 - want_faces.len() as i64).abs() <= 1,
            "{file}: {} faces, reference {}",
            found.len(),
            want_faces.len()
        );
        let Some(face) = largest(found) else {
            assert!(want_faces.is_empty(), "{file}: no face found");
            continue;
        };
        let want_face = want_faces
            .iter()
            .max_by(|a, b| {
                let area = |v: &Value| f(&v["box"][2]) * f(&v["box"][3]);
                area(a).total_cmp(&area(b))
            })
            .expect("reference face");
        for k in 0..4 {
            let d = (face.rect[k] - f(&want_face["box"][k])).abs() / face.rect[2];
            worst_box = worst_box.max(d);
            assert!(
                d < 0.04,
                "{file}: box[{k}] off by {:.1}% of the face width",
                d * 100.0
            );
        }
        let emb = engine.embed(&img, &face).expect("embed");
        let want_emb: Vec<f32> = want["embedding"]
            .as_array()
            .expect("embedding")
            .iter()
            .map(f)
            .collect();
        let cos: f32 = emb.values().iter().zip(&want_emb).map(|(a, b)| a * b).sum();
        worst_cos = worst_cos.min(cos);
        assert!(
            cos >= 0.97,
            "{file}: embedding cosine to reference {cos:.4}"
        );
        if let Some(live) = want.get("liveness").filter(|v| !v.is_null()) {
            let got = engine.liveness(&img, &face).expect("liveness");
            let want_real = live["real"].as_bool().expect("real");
            let want_p = f(&live["p_real"]);
            // Only decisions the reference made with a clear margin must agree.
            if (want_p - 0.5).abs() > 0.1 {
                assert_eq!(
                    got.label == 1,
                    want_real,
                    "{file}: p_real {} vs {want_p}",
                    got.p_real
                );
            }
        }
        checked += 1;
    }
    eprintln!("checked {checked} photos: worst box error {:.2}% of face width, worst embedding cosine {worst_cos:.4}", worst_box * 100.0);
    assert!(checked >= 50, "only {checked} photos checked");
}

#[test]
fn silent_face_samples_are_classified_as_labelled() {
    let mut engine = engine();
    for (file, real) in [
        ("silentface_image_F1.jpg", false),
        ("silentface_image_F2.jpg", false),
        ("silentface_image_T1.jpg", true),
    ] {
        let img = image_ops::read(&shared().join("faces").join(file)).expect("decode");
        let face = largest(engine.detect(&img).expect("detect")).expect("a face");
        let l = engine.liveness(&img, &face).expect("liveness");
        assert_eq!(l.is_real(0.5), real, "{file}: p_real {:.3}", l.p_real);
    }
}

#[test]
fn genuine_and_impostor_pairs_separate_at_the_manifest_threshold() {
    let mut engine = engine();
    let threshold = engine.thresholds.match_cosine;
    let scores =
        kiosk_models::eval::score_pairs(&mut engine, &shared().join("faces")).expect("pairs");
    assert!(scores.no_face.is_empty(), "no face in {:?}", scores.no_face);
    let r = scores.rates(threshold);
    eprintln!(
        "threshold {threshold}: FAR {}/{} FRR {}/{}; lowest genuine {:.3}, highest impostor {:.3}",
        r.false_accepts,
        r.impostor_pairs,
        r.false_rejects,
        r.genuine_pairs,
        scores.lowest_genuine(),
        scores.highest_impostor()
    );
    assert!(r.genuine_pairs > 50 && r.impostor_pairs > 500);
    assert!(r.far() <= 0.005, "FAR {:.4}", r.far());
    assert!(r.frr() <= 0.02, "FRR {:.4}", r.frr());
}

#[test]
fn opencv_dnn_runs_the_same_models_to_the_same_results() {
    let mut tract = engine();
    let mut dnn = FaceEngine::load(&shared().join("models"), BackendKind::OpencvDnn)
        .expect("OpenCV DNN loads the models");
    for file in ["deepface_img1.jpg", "silentface_image_T1.jpg"] {
        let img = image_ops::read(&shared().join("faces").join(file)).expect("decode");
        let a = largest(tract.detect(&img).expect("detect")).expect("face");
        let b = largest(dnn.detect(&img).expect("detect")).expect("face");
        assert!(
            (0..4).all(|k| (a.rect[k] - b.rect[k]).abs() < 0.5),
            "{file}: {a:?} vs {b:?}"
        );
        let cos = tract
            .embed(&img, &a)
            .expect("embed")
            .cosine(&dnn.embed(&img, &b).expect("embed"));
        assert!(cos > 0.999, "{file}: cosine {cos}");
        let (la, lb) = (
            tract.liveness(&img, &a).expect("live"),
            dnn.liveness(&img, &b).expect("live"),
        );
        assert!(
            (la.p_real - lb.p_real).abs() < 0.01,
            "{file}: {la:?} vs {lb:?}"
        );
    }
}

#[test]
fn opencv_face_recognizer_sf_gives_the_same_embeddings_and_decisions() {
    use kiosk_models::opencv_recognizer::OpenCvFaceRecognizer;
    let store =
        kiosk_models::ModelStore::open(&shared().join("models"), kiosk_models::Manifest::builtin())
            .expect("models");
    let mut sf = OpenCvFaceRecognizer::load(&store).expect("FaceRecognizerSF loads MobileFaceNet");
    let mut engine = engine();
    let threshold = engine.thresholds.match_cosine;
    let mut worst = 1f32;
    let scores = kiosk_models::eval::score_pairs_with(&shared().join("faces"), |img| {
        let Some(face) = largest(engine.detect(img)?) else {
            return Ok(None);
        };
        let ours = engine.embed(img, &face)?;
        let theirs = sf.embed(img, &face)?;
        worst = worst.min(ours.cosine(&theirs));
        Ok(Some(theirs))
    })
    .expect("pairs");
    let r = scores.rates(threshold);
    eprintln!(
        "FaceRecognizerSF: worst cosine to HallKit's embedding {worst:.5}; at {threshold}: FAR {}/{} FRR {}/{}",
        r.false_accepts, r.impostor_pairs, r.false_rejects, r.genuine_pairs
    );
    assert!(
        worst > 0.99,
        "FaceRecognizerSF embedding differs: cosine {worst}"
    );
    assert!(r.genuine_pairs > 50 && r.impostor_pairs > 500);
    assert!(r.far() <= 0.005 && r.frr() <= 0.02, "{r:?}");

    // Its own match() on raw features is the cosine of the normalised embeddings.
    let a = image_ops::read(&shared().join("faces/deepface_img1.jpg")).expect("a");
    let b = image_ops::read(&shared().join("faces/deepface_img2.jpg")).expect("b");
    let fa = largest(engine.detect(&a).expect("detect")).expect("face");
    let fb = largest(engine.detect(&b).expect("detect")).expect("face");
    let (ra, rb) = (
        sf.feature(&sf.align(&a, &fa).expect("align"))
            .expect("feature"),
        sf.feature(&sf.align(&b, &fb).expect("align"))
            .expect("feature"),
    );
    let matched = sf.cosine(&ra, &rb).expect("match");
    let expected = sf
        .embed(&a, &fa)
        .expect("embed")
        .cosine(&sf.embed(&b, &fb).expect("embed"));
    assert!((matched - expected).abs() < 1e-4, "{matched} vs {expected}");
    assert!(matched > threshold, "same person scores {matched}");
}

#[test]
fn opencv_face_detector_yn_finds_the_same_faces() {
    use kiosk_models::opencv_detector::OpenCvFaceDetector;
    let store =
        kiosk_models::ModelStore::open(&shared().join("models"), kiosk_models::Manifest::builtin())
            .expect("models");
    let mut engine = engine();
    let mut yn = OpenCvFaceDetector::load(&store).expect("FaceDetectorYN loads YuNet");
    let (mut worst, mut faces) = (0f32, 0);
    for (file, _) in kiosk_models::eval::read_labels(&shared().join("faces")).expect("labels") {
        let img = image_ops::read(&shared().join("faces").join(&file)).expect("decode");
        let ours = engine.detect(&img).expect("detect");
        let theirs = yn.detect(&img).expect("FaceDetectorYN");
        let a = largest(ours).expect("face");
        let b = largest(theirs).expect("FaceDetectorYN finds the face");
        for k in 0..4 {
            worst = worst.max((a.rect[k] - b.rect[k]).abs() / a.rect[2]);
        }
        for (p, q) in a.landmarks.iter().zip(&b.landmarks) {
            worst = worst.max(((p[0] - q[0]).abs() + (p[1] - q[1]).abs()) / a.rect[2]);
        }
        assert!((a.score - b.score).abs() < 0.01, "{file}: {a:?} vs {b:?}");
        faces += 1;
    }
    eprintln!(
        "FaceDetectorYN on {faces} photos: worst box/landmark difference {:.3}% of the face width",
        worst * 100.0
    );
    assert!(
        worst < 0.01,
        "FaceDetectorYN differs by {:.2}% of the face width",
        worst * 100.0
    );
}
