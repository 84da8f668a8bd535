//! Document pipeline figures on a 10 MP frame (3648 × 2736, a typical document camera's still),
//! stage by stage, plus JPEG-at-size and PDF.
//!
//! `cargo bench -p kiosk-image --bench document`

use std::time::{Duration, Instant};

use kiosk_image::encode::{jpeg_within, pdf};
use kiosk_image::enhance::enhance;
use kiosk_image::page::{find_page, orient, rectify};
use kiosk_image::synth::{Shot, SyntheticPage};
use kiosk_image::{scan, Enhancement, ScanOptions};
use opencv::prelude::*;

const RUNS: usize = 7;

fn median<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = f();
    for _ in 0..RUNS {
        let t = Instant::now();
        last = f();
        times.push(t.elapsed());
    }
    times.sort();
    (times[RUNS / 2], last)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let page = SyntheticPage {
        width: 2480,
        height: 3508,
        ..SyntheticPage::default()
    };
    let shot = Shot {
        frame: (3648, 2736),
        rotate_deg: 9.0,
        ..Shot::default()
    };
    let photo = page.photograph(&shot).expect("photo").image;
    println!(
        "document pipeline on a {}×{} frame ({:.1} MP), OpenCV threads {}, median of {RUNS}",
        photo.cols(),
        photo.rows(),
        f64::from(photo.cols() * photo.rows()) / 1e6,
        opencv::core::get_num_threads().unwrap_or(-1)
    );
    let (t, quad) = median(|| find_page(&photo).expect("detect").expect("page"));
    println!("  find page             {:>7.1} ms", ms(t));
    let (t, flat) = median(|| rectify(&photo, &quad).expect("rectify"));
    println!(
        "  perspective correct   {:>7.1} ms  -> {}×{}",
        ms(t),
        flat.cols(),
        flat.rows()
    );
    let (t, _) = median(|| orient(&flat).expect("orient"));
    println!("  orientation check     {:>7.1} ms", ms(t));
    for mode in [
        Enhancement::Colour,
        Enhancement::Grey,
        Enhancement::BlackWhite,
    ] {
        let (t, _) = median(|| enhance(&flat, mode).expect("enhance"));
        println!("  enhance {:<13} {:>7.1} ms", format!("{mode:?}"), ms(t));
    }
    let (t, result) = median(|| scan(&photo, &ScanOptions::default()).expect("scan"));
    println!("  whole scan (colour)   {:>7.1} ms   (tender: scan about 1 s, under 1.5 s, capture included)", ms(t));
    let (t, j) = median(|| jpeg_within(&result.image, 500 * 1024).expect("jpeg"));
    println!(
        "  JPEG within 500 KB    {:>7.1} ms  -> {} bytes at quality {}",
        ms(t),
        j.bytes.len(),
        j.quality
    );
    let pages = vec![j.clone(), j.clone(), j];
    let (t, bytes) = median(|| pdf(&pages, 10.0).expect("pdf"));
    println!(
        "  3-page PDF            {:>7.1} ms  -> {} bytes",
        ms(t),
        bytes.len()
    );
}
