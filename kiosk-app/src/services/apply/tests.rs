//! The application's data: what the answers ask, prefill from the card, checks, masking, the
//! signature, the PDF read back, and a filing whose journal record and files hold no personal
//! data in the clear.

use std::collections::BTreeSet;

use kiosk_hal::clock::SystemClock;

use super::ink::InkPoint;
use super::*;
use crate::journal::attachments::AttachmentStore;
use crate::journal::outbox::Outbox;
use crate::journal::sealed::{AtRest, Sealer};
use crate::journal::Journal;
use crate::services::catalogue::Catalogue;

fn item(id: &str) -> ServiceItem {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hall-catalogue.json");
    let c = Catalogue::from_json(&serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
        .unwrap();
    c.items.into_iter().find(|i| i.id == id).unwrap()
}

fn answers(pairs: &[(&str, &str)]) -> Answers {
    pairs
        .iter()
        .map(|(q, a)| (q.to_string(), BTreeSet::from([a.to_string()])))
        .collect()
}

fn citizen() -> CitizenIdentity {
    CitizenIdentity {
        name: "张三丰".into(),
        number: "320583199001011232".into(),
        card_type: "居民身份证".into(),
        valid_to: "2040-05-01".into(),
        address: "江苏省昆山市前进西路1801号".into(),
        nation: "汉".into(),
    }
}

fn application(pairs: &[(&str, &str)]) -> Application {
    let it = item("huji-zhengming");
    let a = answers(pairs);
    let plan = it.plan(&a).unwrap();
    let shape = shape(&it, &plan).unwrap();
    Application::new(it, a, shape)
}

fn signed(app: &mut Application) {
    let stroke: Vec<InkPoint> = (0..60)
        .map(|i| InkPoint {
            x: 100.0 + i as f32 * 12.0,
            y: 200.0 + ((i as f32) / 4.0).sin() * 60.0,
            t_ms: i * 16,
            pressure: Some(0.6),
        })
        .collect();
    assert!(app.ink.add(stroke));
}

fn page_photo() -> Vec<u8> {
    use kiosk_image::synth::{Shot, SyntheticPage};
    let photo = SyntheticPage {
        width: 1240,
        height: 1754,
        title: "常住人口登记卡".into(),
        lines: vec![
            "户主姓名 张三丰".into(),
            "住址 江苏省昆山市前进西路1801号".into(),
        ],
    }
    .photograph(&Shot {
        fill: 0.7,
        rotate_deg: 3.0,
        ..Shot::default()
    })
    .unwrap();
    kiosk_image::encode::jpeg(&photo.image, 90).unwrap().bytes
}

#[test]
fn the_answers_decide_fields_pages_and_what_only_a_window_takes() {
    let own = application(&[("purpose", "school"), ("for_whom", "self")]);
    assert_eq!(own.shape.entries.len(), 5);
    assert_eq!(own.shape.captures.len(), 1);
    assert_eq!(
        (own.shape.captures[0].min, own.shape.captures[0].max),
        (2, 2)
    );
    assert_eq!(own.shape.generated.len(), 1);
    assert!(own.shape.not_here.is_empty());
    let family = application(&[
        ("purpose", "school"),
        ("for_whom", "family"),
        ("relation", "parent"),
    ]);
    assert_eq!(family.shape.entries.len(), 7, "the relation form joins");
    assert_eq!(family.shape.captures.len(), 2, "and the household register");
    let child = application(&[
        ("purpose", "school"),
        ("for_whom", "family"),
        ("relation", "child"),
    ]);
    assert!(child.shape.not_here.is_empty());
    assert_eq!(
        child.shape.licences.len(),
        1,
        "a birth certificate e-licence"
    );
    assert_eq!(child.shape.licences[0].licence_type, "birth-certificate");
    // Taken from the citizen's licence list when it holds one of that type.
    let mut child = child;
    assert!(!child.licences_ready());
    let list = vec![kiosk_protocol::documents::Licence {
        licence_id: "出生医学证明 N320000001".into(),
        licence_type: "birth-certificate".into(),
        name: "出生医学证明".into(),
        name_en: String::new(),
        issuer: "昆山市第一人民医院".into(),
        issued_on: "2019-05-01".into(),
        valid_until: None,
        entries: vec![],
        printed: 0,
    }];
    assert!(child.take_licences(&list));
    assert!(child
        .materials_zh()
        .iter()
        .any(|m| m.contains("电子证照 出生医学证明 N320000001")));
    assert!(!child.take_licences(&[]), "none of that type");
    let deceased = application(&[("purpose", "job"), ("for_whom", "deceased")]);
    assert!(!deceased.shape.not_here.is_empty(), "a case for a window");
}

#[test]
fn the_card_prefills_name_number_sex_and_typed_values_are_checked() {
    let mut app = application(&[("purpose", "school"), ("for_whom", "self")]);
    app.prefill(&citizen(), None);
    assert_eq!(app.value(0), Some("张三丰"));
    assert_eq!(app.value(1), Some("320583199001011232"));
    assert_eq!(app.value(2), Some("1"), "the 17th digit 3 is odd: male");
    assert_eq!(app.shown(2, false), "男");
    assert_eq!(app.shown(2, true), "Male");
    assert_eq!(app.shown(0, false), "张**");
    assert_eq!(app.shown(1, false), "3205**********1232");
    assert_eq!(app.value(3), None, "the mobile is typed");
    assert_eq!(app.set(3, "1381234567"), Err(FieldError::Mobile));
    assert_eq!(app.set(3, ""), Err(FieldError::Missing));
    app.set(3, " 13812345678 ").unwrap();
    assert_eq!(app.value(3), Some("13812345678"));
    assert_eq!(app.shown(3, false), "138****5678");
    assert_eq!(app.choose(2, 1), Ok(()));
    assert_eq!(app.value(2), Some("2"));
    assert_eq!(app.choose(2, 9), Err(FieldError::Choice));
    assert_eq!(
        app.set_address("昆山"),
        Err(FieldError::TooShort(ADDRESS_MIN))
    );
    app.set_address("江苏省昆山市前进西路1801号").unwrap();
    assert_eq!(app.shown_address(), "江苏省昆山市*********");
    assert_eq!(app.shape.entries[3].keyboard(), Keyboard::Digits);
    assert_eq!(app.shape.entries[0].keyboard(), Keyboard::Pinyin);
    assert_eq!(app.shape.entries[2].keyboard(), Keyboard::None);
}

#[test]
fn a_dot_is_no_signature_and_the_pad_keeps_time_and_pressure() {
    let mut app = application(&[("purpose", "school"), ("for_whom", "self")]);
    app.ink.add(vec![InkPoint {
        x: 10.0,
        y: 10.0,
        t_ms: 0,
        pressure: None,
    }]);
    assert!(!app.ink.enough());
    assert!(!app.ink.add(Vec::new()));
    signed(&mut app);
    assert!(app.ink.enough());
    assert!(app.ink.svg_path().starts_with("M10 10 L11 10 M100 200"));
    let json = serde_json::to_value(&app.ink).unwrap();
    assert_eq!(json["strokes"][1][3]["t_ms"], 48);
    assert!((json["strokes"][1][3]["pressure"].as_f64().unwrap() - 0.6).abs() < 1e-6);
    // Points off the pad are held to its edge; nonsense is not kept as is.
    app.ink.add(vec![InkPoint {
        x: f32::NAN,
        y: 9999.0,
        t_ms: 1,
        pressure: Some(7.0),
    }]);
    let last = app.ink.strokes.last().unwrap()[0];
    assert_eq!(
        (last.x, last.y, last.pressure),
        (0.0, ink::PAD_H, Some(1.0))
    );
    app.ink.clear();
    assert!(app.ink.strokes.is_empty());
}

#[test]
fn a_page_from_the_plate_and_the_pdf_read_back_with_the_signature() {
    let mut app = application(&[("purpose", "school"), ("for_whom", "self")]);
    app.prefill(&citizen(), None);
    app.set(3, "13812345678").unwrap();
    let photo = page_photo();
    for _ in 0..2 {
        let page = document::page_from_photo(&photo).unwrap();
        assert!(page.thumb.len() < page.jpeg.len());
        app.pages[0].push(page);
    }
    // An empty plate is no page.
    let empty = opencv::core::Mat::new_rows_cols_with_default(
        1440,
        1920,
        opencv::core::CV_8UC3,
        opencv::core::Scalar::all(92.0),
    )
    .unwrap();
    let empty = kiosk_image::encode::jpeg(&empty, 90).unwrap().bytes;
    assert!(document::page_from_photo(&empty).is_err());
    signed(&mut app);
    let form = document::form_page(
        &app,
        &document::Header {
            hall: "昆山市政务服务中心",
            local_ref: "KSK-1-20261203-AB12",
            date: "2026-12-03",
            agent: None,
        },
    )
    .unwrap();
    // The signature is on the form page, bottom right.
    use opencv::prelude::*;
    let (w, h) = (form.cols(), form.rows());
    let corner = opencv::core::Mat::roi(
        &form,
        opencv::core::Rect::new(w / 2, h * 3 / 4, w / 2 - 110, h / 4 - 110),
    )
    .unwrap()
    .try_clone()
    .unwrap();
    let mut grey = opencv::core::Mat::default();
    opencv::imgproc::cvt_color_def(&corner, &mut grey, opencv::imgproc::COLOR_BGR2GRAY).unwrap();
    let mut dark = opencv::core::Mat::default();
    opencv::imgproc::threshold(
        &grey,
        &mut dark,
        100.0,
        255.0,
        opencv::imgproc::THRESH_BINARY_INV,
    )
    .unwrap();
    assert!(
        opencv::core::count_non_zero(&dark).unwrap() > 500,
        "ink at the signature"
    );
    let pdf = document::application_pdf(&form, &app, &[]).unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    assert_eq!(doc.get_pages().len(), 3, "the form and two pages");
}

#[test]
fn a_filing_is_one_journal_record_with_nothing_personal_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(
        Outbox::open(
            &dir.path().join("journal.db"),
            "KSK-1",
            SystemClock::shared(),
        )
        .unwrap(),
    );
    let sealer = Sealer::open(&dir.path().join("keys"), AtRest::Sm4Gcm).unwrap();
    let store = AttachmentStore::open_sealed(&dir.path().join("att"), sealer).unwrap();
    let mut app = application(&[("purpose", "school"), ("for_whom", "self")]);
    app.prefill(&citizen(), None);
    app.set(3, "13812345678").unwrap();
    app.pickup = Some(Pickup::Mail);
    app.set_address("江苏省昆山市前进西路1801号").unwrap();
    let photo = page_photo();
    app.pages[0].push(document::page_from_photo(&photo).unwrap());
    app.pages[0].push(document::page_from_photo(&photo).unwrap());
    signed(&mut app);
    let who = filing::Who {
        applicant: &citizen(),
        agent: None,
        factor: "card-face",
    };
    let when = filing::When {
        hall: "昆山市政务服务中心",
        session: 7,
        at: "2026-12-03T09:00:00+08:00",
        date: "2026-12-03",
    };
    let receipt = filing::file(&app, &who, &when, &store, &journal, None).unwrap();
    assert!(receipt.filed.local_ref.starts_with("20261203"));
    assert_eq!(receipt.filed.local_ref.len(), 16);
    assert!(receipt.filed.local_ref.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        receipt.filed.case_number, None,
        "no centre: the reference stands"
    );
    assert_eq!(receipt.password.len(), 6);
    let events = journal.lock().events_like("case.", 10).unwrap();
    assert_eq!(events.len(), 1);
    let payload = &events[0].2;
    let refs = crate::journal::attachments::referenced(payload);
    assert_eq!(refs.len(), 6, "form, PDF, signature, strokes, two pages");
    let filing: kiosk_protocol::cases::CaseSubmission =
        serde_json::from_value(payload["case"].clone()).unwrap();
    assert_eq!(
        filing.holder_sha256,
        kiosk_protocol::cases::holder_sha256("320583199001011232")
    );
    assert_eq!(
        filing.password_sha256,
        kiosk_protocol::cases::password_sha256(&filing.password_salt, &receipt.password)
    );
    let pdf = refs
        .iter()
        .find(|r| r.media_type == "application/pdf")
        .unwrap();
    let doc = lopdf::Document::load_mem(&store.read(&pdf.sha256).unwrap()).unwrap();
    assert_eq!(doc.get_pages().len(), 3);
    // No file the terminal wrote holds the name, the number, the mobile or the address.
    let secrets: [&[u8]; 5] = [
        "张三丰".as_bytes(),
        b"320583199001011232",
        b"13812345678",
        "前进西路".as_bytes(),
        receipt.password.as_bytes(),
    ];
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s),
                "{} holds {}",
                entry.display(),
                String::from_utf8_lossy(s)
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_card_prefills_the_address_too() {
    let it = item("juzhuzheng-qianzhu");
    let answers = answers(&[("valid", "yes"), ("basis", "own")]);
    let plan = it.plan(&answers).unwrap();
    let s = shape(&it, &plan).unwrap();
    assert_eq!(s.licences.len(), 1, "the property certificate");
    let mut app = Application::new(it, answers, s);
    app.prefill(&citizen(), None);
    let at = app
        .shape
        .entries
        .iter()
        .position(|e| e.field.field.code == "home_address")
        .unwrap();
    assert_eq!(app.value(at), Some("江苏省昆山市前进西路1801号"));
    assert_eq!(app.shape.entries[3].keyboard(), Keyboard::Pinyin);
    let date = app
        .shape
        .entries
        .iter()
        .find(|e| e.field.field.code == "arrived_on")
        .unwrap();
    assert_eq!(date.digit_extra(), "-");
}
