//! The document pipeline on synthetic photographs of a rendered form: warped, rotated,
//! shadowed, on a textured desk. Corner error is measured against the true page corners, and
//! the result must match the flat page (readable) the right way up (upright).

use kiosk_image::encode::{jpeg, jpeg_within, pdf};
use kiosk_image::idcopy::{id_card_copy, mm};
use kiosk_image::page::{estimate_skew, find_page, rotate};
use kiosk_image::synth::{Shot, SyntheticPage};
use kiosk_image::{scan, Enhancement, ImageError, ScanOptions};
use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

fn shots() -> Vec<(&'static str, Shot)> {
    let base = Shot::default();
    vec![
        (
            "straight",
            Shot {
                rotate_deg: 0.0,
                keystone: 0.0,
                shadow: 0.0,
                ..base.clone()
            },
        ),
        (
            "rotated -25°",
            Shot {
                rotate_deg: -25.0,
                fill: 0.7,
                seed: 2,
                ..base.clone()
            },
        ),
        (
            "rotated 18°, keystone",
            Shot {
                rotate_deg: 18.0,
                keystone: 0.12,
                fill: 0.72,
                seed: 3,
                ..base.clone()
            },
        ),
        (
            "heavy shadow",
            Shot {
                rotate_deg: -6.0,
                shadow: 0.6,
                seed: 4,
                ..base.clone()
            },
        ),
        (
            "busy desk",
            Shot {
                rotate_deg: 4.0,
                texture: 2.0,
                seed: 5,
                ..base.clone()
            },
        ),
        (
            "small page",
            Shot {
                rotate_deg: 10.0,
                fill: 0.5,
                seed: 6,
                ..base.clone()
            },
        ),
    ]
}

/// Normalised correlation of two grey images of the same size.
fn ncc(a: &Mat, b: &Mat) -> f64 {
    let mut r = Mat::default();
    imgproc::match_template_def(a, b, &mut r, imgproc::TM_CCOEFF_NORMED).expect("match");
    *r.at_2d::<f32>(0, 0).expect("value") as f64
}

fn grey_at(img: &Mat, size: Size) -> Mat {
    let mut g = Mat::default();
    if img.channels() == 3 {
        imgproc::cvt_color_def(img, &mut g, imgproc::COLOR_BGR2GRAY).expect("grey");
    } else {
        g = img.clone();
    }
    let mut out = Mat::default();
    imgproc::resize(&g, &mut out, size, 0.0, 0.0, imgproc::INTER_AREA).expect("resize");
    out
}

/// (similarity to the flat page, similarity to it turned upside down)
fn readability(result: &Mat, page: &Mat) -> (f64, f64) {
    // Compared at a quarter of the page size, softened: layout and text blocks must line up;
    // a pixel of resampling shift must not count.
    let size = Size::new(page.cols() / 4, page.rows() / 4);
    let soften = |m: Mat| {
        let mut b = Mat::default();
        imgproc::gaussian_blur_def(&m, &mut b, Size::new(5, 5), 1.5).expect("blur");
        b
    };
    let want = soften(grey_at(page, size));
    let got = soften(grey_at(result, size));
    let mut flipped = Mat::default();
    opencv::core::rotate(&want, &mut flipped, opencv::core::ROTATE_180).expect("rotate");
    (ncc(&got, &want), ncc(&got, &flipped))
}

#[test]
fn page_corners_are_found_within_a_quarter_percent_of_the_diagonal() {
    let page = SyntheticPage::default();
    for (name, shot) in shots() {
        let photo = page.photograph(&shot).expect("photo");
        let quad = find_page(&photo.image)
            .expect("detect")
            .unwrap_or_else(|| panic!("{name}: no page"));
        let diag = ((shot.frame.0.pow(2) + shot.frame.1.pow(2)) as f32).sqrt();
        let worst = quad
            .iter()
            .zip(photo.corners)
            .map(|(a, b)| ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt())
            .fold(0f32, f32::max);
        eprintln!(
            "{name}: worst corner error {worst:.2} px ({:.3}% of the diagonal)",
            worst / diag * 100.0
        );
        assert!(worst / diag < 0.0025, "{name}: corner off by {worst:.1} px");
    }
}

#[test]
fn scanned_pages_are_upright_and_match_the_flat_page() {
    let page = SyntheticPage::default();
    let flat = page.render().expect("render");
    for (name, shot) in shots() {
        let photo = page.photograph(&shot).expect("photo");
        for mode in [
            Enhancement::Colour,
            Enhancement::Grey,
            Enhancement::BlackWhite,
        ] {
            let s = scan(
                &photo.image,
                &ScanOptions {
                    enhancement: mode,
                    orient: true,
                },
            )
            .expect("scan");
            let (same, flipped) = readability(&s.image, &flat);
            eprintln!(
                "{name} {mode:?}: similarity {same:.3} (upside down {flipped:.3}), {}×{}",
                s.image.cols(),
                s.image.rows()
            );
            assert!(same > 0.75, "{name} {mode:?}: similarity {same:.3}");
            assert!(same > flipped + 0.3, "{name} {mode:?}: not upright");
            assert_eq!(s.report.quarter_turns, 0, "{name}: turned needlessly");
        }
    }
}

#[test]
fn pages_placed_sideways_or_upside_down_are_turned_upright() {
    let page = SyntheticPage::default();
    let flat = page.render().expect("render");
    for (deg, turns) in [(177.0f32, 2u8), (92.0, 3), (-88.0, 1)] {
        let shot = Shot {
            rotate_deg: deg,
            fill: 0.62,
            frame: (1920, 1920),
            seed: 9,
            ..Shot::default()
        };
        let photo = page.photograph(&shot).expect("photo");
        let s = scan(&photo.image, &ScanOptions::default()).expect("scan");
        let (same, flipped) = readability(&s.image, &flat);
        eprintln!(
            "placed at {deg}°: similarity {same:.3} (flipped {flipped:.3}), quarter turns {}",
            s.report.quarter_turns
        );
        assert_eq!(s.report.quarter_turns, turns, "placed at {deg}°");
        assert!(same > 0.75 && same > flipped + 0.3, "placed at {deg}°");
    }
}

#[test]
fn shadows_are_evened_out() {
    let page = SyntheticPage::default();
    let photo = page
        .photograph(&Shot {
            rotate_deg: 0.0,
            keystone: 0.0,
            shadow: 0.6,
            ..Shot::default()
        })
        .expect("photo");
    let s = scan(
        &photo.image,
        &ScanOptions {
            enhancement: Enhancement::Grey,
            orient: false,
        },
    )
    .expect("scan");
    // Paper on the shadowed left and the lit right come out alike.
    let w = s.image.cols();
    let band = |x0: i32| {
        let roi = Mat::roi(
            &s.image,
            opencv::core::Rect::new(x0, s.image.rows() * 3 / 4, w / 10, s.image.rows() / 10),
        )
        .expect("roi");
        let mut sorted: Vec<u8> = roi
            .try_clone()
            .expect("clone")
            .data_bytes()
            .expect("bytes")
            .to_vec();
        sorted.sort_unstable();
        f64::from(sorted[sorted.len() * 3 / 4])
    };
    let (left, right) = (band(w / 20), band(w * 17 / 20));
    eprintln!("paper level after enhancement: shadowed side {left}, lit side {right}");
    assert!((left - right).abs() < 20.0 && left > 200.0);
}

#[test]
fn text_skew_is_measured_and_removed_when_no_page_edge_is_in_view() {
    let flat = SyntheticPage::default().render().expect("render");
    for angle in [-9.0f32, -3.5, 4.0, 11.0] {
        let tilted = rotate(&flat, angle).expect("rotate");
        assert!(find_page(&tilted).expect("detect").is_none() || angle.abs() > 0.0);
        let est = estimate_skew(&tilted).expect("skew");
        eprintln!("skew {angle}°: estimated {est:.2}°");
        assert!((est + angle).abs() < 0.3, "skew {angle}: estimated {est}");
    }
}

#[test]
fn jpeg_fits_the_size_limit_at_the_best_quality_that_fits() {
    let photo = SyntheticPage::default()
        .photograph(&Shot::default())
        .expect("photo")
        .image;
    let full = jpeg(&photo, 95).expect("jpeg").bytes.len();
    for limit in [300_000usize, 120_000, 40_000] {
        let j = jpeg_within(&photo, limit).expect("fits");
        eprintln!(
            "limit {limit}: {} bytes, quality {}, {}×{} (q95 is {full} bytes)",
            j.bytes.len(),
            j.quality,
            j.width,
            j.height
        );
        assert!(j.bytes.len() <= limit);
        if j.quality < 95 && j.width == photo.cols() {
            assert!(
                jpeg(&photo, j.quality + 1).expect("jpeg").bytes.len() > limit,
                "a higher quality would have fit"
            );
        }
    }
    assert!(matches!(
        jpeg_within(&photo, 100),
        Err(ImageError::BadInput(_))
    ));
}

#[test]
fn scans_make_a_multi_page_pdf() {
    let page = SyntheticPage::default();
    let mut pages = Vec::new();
    for (i, (_, shot)) in shots().into_iter().take(3).enumerate() {
        let s = scan(
            &page.photograph(&shot).expect("photo").image,
            &ScanOptions {
                enhancement: if i == 1 {
                    Enhancement::Grey
                } else {
                    Enhancement::Colour
                },
                orient: true,
            },
        )
        .expect("scan");
        pages.push(jpeg_within(&s.image, 400_000).expect("jpeg"));
    }
    let bytes = pdf(&pages, 10.0).expect("pdf");
    let doc = lopdf::Document::load_mem(&bytes).expect("a PDF lopdf reads back");
    assert_eq!(doc.get_pages().len(), 3);
    assert!(bytes.len() > pages.iter().map(|p| p.bytes.len()).sum::<usize>());
    assert!(matches!(pdf(&[], 10.0), Err(ImageError::BadInput(_))));
}

#[test]
fn id_card_copy_is_true_size_on_a4_with_a_watermark() {
    let front = Mat::new_rows_cols_with_default(
        540,
        856,
        opencv::core::CV_8UC3,
        opencv::core::Scalar::new(230.0, 220.0, 200.0, 0.0),
    )
    .expect("front");
    let back = Mat::new_rows_cols_with_default(
        540,
        856,
        opencv::core::CV_8UC3,
        opencv::core::Scalar::new(200.0, 230.0, 230.0, 0.0),
    )
    .expect("back");
    let page = id_card_copy(&front, &back, "仅供办理户籍证明使用 他用无效", 300.0).expect("copy");
    assert_eq!(
        (page.cols(), page.rows()),
        (mm(210.0, 300.0), mm(297.0, 300.0))
    );
    assert_eq!((mm(85.6, 300.0), mm(54.0, 300.0)), (1011, 638));
    // The card area differs from the plain card colour where the watermark runs.
    let (cw, ch) = (1011, 638);
    let x = (page.cols() - cw) / 2;
    let y = (page.rows() - 2 * ch - mm(20.0, 300.0)) / 2;
    let card = Mat::roi(&page, opencv::core::Rect::new(x, y, cw, ch))
        .expect("roi")
        .try_clone()
        .expect("clone");
    let marked = card
        .data_bytes()
        .expect("bytes")
        .chunks(3)
        .filter(|p| p[0] < 225)
        .count();
    let share = marked as f64 / f64::from(cw * ch);
    eprintln!("watermark covers {:.1}% of the card", share * 100.0);
    assert!(share > 0.03 && share < 0.6);
    // Outside the cards the page stays white.
    assert_eq!(
        *page.at_2d::<opencv::core::Vec3b>(10, 10).expect("px"),
        opencv::core::Vec3b::from([255, 255, 255])
    );
    assert!(id_card_copy(&front, &back, "  ", 300.0).is_err());
}

#[test]
fn garbage_input_is_a_typed_error() {
    assert!(matches!(
        kiosk_image::scan::decode(b"not a jpeg"),
        Err(ImageError::BadInput(_))
    ));
    assert!(matches!(
        kiosk_image::scan::decode(b""),
        Err(ImageError::BadInput(_))
    ));
    let tiny = Mat::new_rows_cols_with_default(
        8,
        8,
        opencv::core::CV_8UC3,
        opencv::core::Scalar::all(0.0),
    )
    .expect("tiny");
    assert!(matches!(
        scan(&tiny, &ScanOptions::default()),
        Err(ImageError::BadInput(_))
    ));
}

mod fuzz {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Camera and upload bytes go through the decoder: nothing it is given may panic it.
        #[test]
        fn any_bytes_decode_to_an_image_or_a_typed_error(mut bytes in proptest::collection::vec(any::<u8>(), 0..4096), jpeg in any::<bool>()) {
            if jpeg {
                bytes.splice(0..0, [0xFF, 0xD8, 0xFF, 0xE0]);
            }
            if let Ok(m) = kiosk_image::scan::decode(&bytes) {
                use opencv::prelude::*;
                prop_assert!(!m.empty());
            }
        }
    }
}

#[test]
fn a_card_is_cut_out_of_a_camera_photo_at_its_own_proportions() {
    let card = SyntheticPage {
        width: 856,
        height: 540,
        title: "居民身份证".into(),
        lines: vec!["姓名 张三".into(), "公民身份号码 3201**********1234".into()],
    };
    let shot = Shot {
        rotate_deg: 80.0,
        fill: 0.55,
        keystone: 0.03,
        seed: 11,
        ..Shot::default()
    };
    let photo = card.photograph(&shot).expect("photo");
    let cut = kiosk_image::idcopy::card_from_photo(&photo.image).expect("card");
    let aspect = cut.cols() as f32 / cut.rows() as f32;
    eprintln!(
        "card cut out at {}×{}, aspect {aspect:.3} (ID-1: 1.585)",
        cut.cols(),
        cut.rows()
    );
    assert!((aspect - 856.0 / 540.0).abs() < 0.05, "aspect {aspect}");
}
