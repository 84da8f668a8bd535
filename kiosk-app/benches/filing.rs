//! Filing an application (printed, never asserted): ten photographed pages of about 1 MB each
//! (10 MB), the application PDF made, every part sealed (SM4-GCM), one journal transaction,
//! and the case number from a centre over loopback HTTP — what happens between the citizen's
//! touch on "Submit" and the "submitted" screen. Also the document pipeline per page.
//!
//!     cargo bench --profile dev -p kiosk-app --bench filing
//!
//! In the dev profile (as `make bench` runs it, to spare a release build of the Slint tree):
//! the sealing (SM4-GCM in Rust) is unoptimised there, so a terminal's release build files
//! faster than this prints.

use std::time::{Duration, Instant};

use kiosk_app::centre::{BlockingCentre, CentreClient};
use kiosk_app::journal::attachments::AttachmentStore;
use kiosk_app::journal::sealed::{AtRest, Sealer};
use kiosk_app::journal::{Journal, Outbox};
use kiosk_app::services::apply::filing::{self, When, Who};
use kiosk_app::services::apply::ink::InkPoint;
use kiosk_app::services::apply::{document, shape, Application, Page};
use kiosk_app::services::card::CitizenIdentity;
use kiosk_app::services::catalogue::Catalogue;
use kiosk_central::{CentreHandle, SqliteStore};
use kiosk_hal::clock::SystemClock;
use opencv::core::{Mat, Scalar, CV_8UC3};

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A page as the pipeline leaves it at about 1 MB: an A4 scan at 300 dpi with grain.
fn big_page(seed: u8) -> Page {
    let mut img =
        Mat::new_rows_cols_with_default(3508, 2480, CV_8UC3, Scalar::all(235.0)).expect("page");
    let mut noise =
        Mat::new_rows_cols_with_default(3508, 2480, CV_8UC3, Scalar::all(0.0)).expect("noise");
    opencv::core::randn(
        &mut noise,
        &Scalar::all(0.0),
        &Scalar::all(9.0 + f64::from(seed % 3)),
    )
    .expect("grain");
    let mut grainy = Mat::default();
    opencv::core::add(&img, &noise, &mut grainy, &opencv::core::no_array(), -1).expect("add");
    img = grainy;
    let jpeg = kiosk_image::encode::jpeg(&img, 86).expect("jpeg").bytes;
    Page {
        jpeg: zeroize::Zeroizing::new(jpeg),
        thumb: std::sync::Arc::new(zeroize::Zeroizing::new(Vec::new())),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hall-catalogue.json");
    let catalogue = Catalogue::from_json(
        &serde_json::from_slice(&std::fs::read(path).expect("catalogue")).expect("json"),
    )
    .expect("catalogue");
    let item = catalogue
        .items
        .iter()
        .find(|i| i.id == "huji-zhengming")
        .expect("item")
        .clone();
    let answers = [("purpose", "school"), ("for_whom", "self")]
        .iter()
        .map(|(q, a)| {
            (
                q.to_string(),
                std::collections::BTreeSet::from([a.to_string()]),
            )
        })
        .collect();
    let citizen = CitizenIdentity {
        name: "张三丰".into(),
        number: "320583199001011232".into(),
        card_type: "居民身份证".into(),
        address: String::new(),
        nation: String::new(),
        valid_to: "2040-05-01".into(),
    };

    // The document pipeline, one photographed page at a time.
    let photo = {
        use kiosk_image::synth::{Shot, SyntheticPage};
        let p = SyntheticPage {
            width: 1240,
            height: 1754,
            title: "常住人口登记卡".into(),
            lines: vec!["户主姓名 张三丰".into(); 12],
        }
        .photograph(&Shot::default())
        .expect("photo");
        kiosk_image::encode::jpeg(&p.image, 92).expect("jpeg").bytes
    };
    let mut pipe = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        document::page_from_photo(&photo).expect("page");
        pipe.push(t.elapsed());
    }
    pipe.sort();
    println!(
        "page from a plate photo (find, flatten, enhance, JPEG, thumbnail): p50 {:.0} ms, p99 {:.0} ms over {}",
        ms(pct(&pipe, 0.5)),
        ms(pct(&pipe, 0.99)),
        pipe.len()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let centre = rt
        .block_on(CentreHandle::start(
            "127.0.0.1:0",
            SqliteStore::open(&dir.path().join("centre.db")).expect("store"),
        ))
        .expect("centre");
    let client = CentreClient::plain(&centre.base_url(), "KSK-BENCH").expect("client");
    let blocking = BlockingCentre::new(client, rt.handle().clone());
    let journal = Journal::new(
        Outbox::open(
            &dir.path().join("journal.db"),
            "KSK-BENCH",
            SystemClock::shared(),
        )
        .expect("outbox"),
    );
    let sealer = Sealer::open(&dir.path().join("keys"), AtRest::Sm4Gcm).expect("keys");
    let store = AttachmentStore::open_sealed(&dir.path().join("att"), sealer).expect("store");

    let runs = 12;
    let mut took = Vec::new();
    let mut bytes = 0usize;
    for run in 0..runs {
        let plan = item.plan(&answers).expect("plan");
        let mut app = Application::new(
            item.clone(),
            answers.clone(),
            shape(&item, &plan).expect("shape"),
        );
        app.prefill(&citizen, None);
        app.set(3, "13812345678").expect("mobile");
        app.pages[0] = (0..10).map(|k| big_page(run as u8 * 10 + k)).collect();
        bytes = app.pages[0].iter().map(|p| p.jpeg.len()).sum();
        app.ink.add(
            (0..80)
                .map(|i| InkPoint {
                    x: 100.0 + i as f32 * 9.0,
                    y: 200.0 + (i as f32 / 5.0).sin() * 70.0,
                    t_ms: i * 16,
                    pressure: None,
                })
                .collect(),
        );
        let t = Instant::now();
        let receipt = filing::file(
            &app,
            &Who {
                applicant: &citizen,
                agent: None,
                factor: "id-card+face",
            },
            &When {
                hall: "昆山市政务服务中心",
                session: run as u64,
                at: "2026-12-03T09:00:00+08:00",
                date: "2026-12-03",
            },
            &store,
            &journal,
            Some(&blocking),
        )
        .expect("filed");
        took.push(t.elapsed());
        assert!(receipt.filed.case_number.is_some());
    }
    took.sort();
    println!(
        "file an application with 10 pages ({:.1} MB): PDF, sealed parts, one journal transaction, case number over HTTP: p50 {:.0} ms, p99 {:.0} ms over {runs}",
        bytes as f64 / 1e6,
        ms(pct(&took, 0.5)),
        ms(pct(&took, 0.99)),
    );
    drop(blocking);
    rt.block_on(centre.stop()).expect("stop");
}
