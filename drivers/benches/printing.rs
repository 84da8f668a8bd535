//! Printing benchmarks (printed, never asserted):
//! - "print ticket": a queue ticket sent to the virtual ESC/POS printer on a pty paced like a
//!   115200-bps UART, until the printer confirmed it (status before, job, GS r 1, status after),
//!   as a ratio to the wire-time floor of every byte exchanged;
//! - ESC/POS encoding of that ticket (with its QR code), and rendering its bytes to a picture;
//! - IPP submit-to-completed of a one-page PDF through a real CUPS on loopback.
//!
//!     cargo bench -p kiosk-drivers --bench printing

use std::time::{Duration, Instant};

use kiosk_drivers::escpos::sim::{EscposSim, EscposSimConfig};
use kiosk_drivers::escpos::templates::QueueTicket;
use kiosk_drivers::escpos::{render, Paper, ReceiptPrinter};
use kiosk_drivers::ipp::cups::CupsServer;
use kiosk_drivers::ipp::{IppPrinter, JobTicket};
use kiosk_drivers::sim::{SimControl, SimEnv, SimFaults};
use kiosk_drivers::{DeviceSpec, TransportKind};
use kiosk_hal::actor::CommandContext;
use kiosk_hal::transport::wire_time;
use kiosk_hal::DeviceKind;
use serde_json::json;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p90(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * 0.9).round() as usize]
}

fn ticket() -> QueueTicket {
    QueueTicket {
        hall: "昆山市政务服务中心".into(),
        number: "A023".into(),
        service: "社保业务".into(),
        waiting: Some(7),
        issued_at: "2026-11-23 09:41".into(),
        qr_url: "https://zwfw.example/queue/A023".into(),
        window_hint: Some("3-8 号窗口".into()),
    }
}

fn print_ticket() {
    const RUNS: usize = 20;
    let dir = tempfile::tempdir().expect("temp dir");
    let env = SimEnv::new(dir.path()).expect("sim env");
    let sim = EscposSim::start_pty(
        "receipt",
        &env,
        EscposSimConfig {
            paper: Paper::Mm80,
            out_dir: dir.path().join("receipts"),
            one_way: false,
        },
    )
    .expect("sim");
    sim.set_faults(SimFaults {
        pace_baud: Some(115_200),
        ..Default::default()
    })
    .expect("pace");
    let mut spec = DeviceSpec::new(
        "receipt",
        DeviceKind::ReceiptPrinter,
        kiosk_drivers::escpos::DRIVER,
        TransportKind::Serial,
    );
    spec.path = Some(sim.endpoint());
    spec.baud = Some(115_200);
    let mut printer = ReceiptPrinter::from_spec(&spec).expect("printer");
    let bytes = ticket().receipt(Paper::Mm80).encode().expect("encode");
    // Status before (4 requests of 3 bytes, 4 replies), the job, GS r 1 and its reply, status
    // after: the least a confirmed job can cost on the wire.
    let exchanged = 16 + bytes.len() + 3 + 1 + 16;
    let floor = wire_time(exchanged, 115_200);
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let report = printer.print_job(&bytes).expect("print");
        times.push(t.elapsed());
        assert_eq!(report.outcome, kiosk_drivers::escpos::JobOutcome::Printed);
    }
    let med = median(times.clone());
    println!(
        "print ticket (80 mm, QR, {} job bytes, {} exchanged) @115200 over a paced pty: median {:.1} ms, p90 {:.1} ms, floor {:.1} ms, ratio {:.3}",
        bytes.len(),
        exchanged,
        med.as_secs_f64() * 1e3,
        p90(times).as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3,
        med.as_secs_f64() / floor.as_secs_f64()
    );
    let got = sim.inject("stats", &json!({})).expect("stats");
    assert_eq!(got["receipts"], RUNS);
}

fn encode_and_render() {
    const RUNS: usize = 200;
    let t = ticket();
    let mut enc = Vec::new();
    let mut bytes = Vec::new();
    for _ in 0..RUNS {
        let s = Instant::now();
        bytes = t.receipt(Paper::Mm80).encode().expect("encode");
        enc.push(s.elapsed());
    }
    let _ = render::render_stream(&bytes, 576).expect("warm the font");
    let mut ren = Vec::new();
    for _ in 0..RUNS / 10 {
        let s = Instant::now();
        let pages = render::render_stream(&bytes, 576).expect("render");
        ren.push(s.elapsed());
        assert_eq!(pages.len(), 1);
    }
    println!(
        "ESC/POS encode of a queue ticket with a QR code ({} bytes): median {:.1} µs, p90 {:.1} µs",
        bytes.len(),
        median(enc.clone()).as_secs_f64() * 1e6,
        p90(enc).as_secs_f64() * 1e6
    );
    println!(
        "ESC/POS stream rendered to a 576-dot picture (virtual printer): median {:.2} ms",
        median(ren).as_secs_f64() * 1e3
    );
}

fn ipp() {
    const RUNS: usize = 10;
    let dir = tempfile::tempdir().expect("temp dir");
    let cups = match CupsServer::start(dir.path()) {
        Ok(c) => c,
        Err(e) => {
            println!("IPP submit-to-completed: not measured, CUPS unavailable: {e}");
            return;
        }
    };
    let uri = cups.add_printer("KioskLaser").expect("queue");
    let mut spec = DeviceSpec::new(
        "a4",
        DeviceKind::A4Printer,
        kiosk_drivers::ipp::DRIVER,
        TransportKind::Ipp,
    );
    spec.options.insert("uri".into(), json!(uri));
    spec.options.insert("follow_ms".into(), json!(20));
    let p = IppPrinter::from_spec(&spec).expect("printer");
    let pdf = kiosk_drivers::ipp::testpage::a4_test_pdf("a4").expect("pdf");
    let ticket = JobTicket {
        title: "bench".into(),
        copies: 1,
        duplex: false,
        media: "iso_a4_210x297mm".into(),
        hold: false,
    };
    let ctx = CommandContext::with_timeout(Duration::from_secs(120));
    let (mut submit, mut total) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let r = p.print(pdf.clone(), &ticket, &ctx).expect("print");
        submit.push(Duration::from_secs_f64(r.submit_ms / 1e3));
        total.push(Duration::from_secs_f64(r.total_ms / 1e3));
    }
    println!(
        "IPP one-page PDF through CUPS + cups-pdf on loopback: submit median {:.1} ms, submit-to-completed median {:.0} ms, p90 {:.0} ms ({} jobs, state followed every 20 ms)",
        median(submit).as_secs_f64() * 1e3,
        median(total.clone()).as_secs_f64() * 1e3,
        p90(total).as_secs_f64() * 1e3,
        RUNS
    );
}

fn main() {
    print_ticket();
    encode_and_render();
    ipp();
}
