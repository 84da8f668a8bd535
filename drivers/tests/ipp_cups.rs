//! The IPP driver against a real CUPS scheduler started on loopback with a cups-pdf queue.

use std::time::Duration;

use kiosk_drivers::ipp::cups::CupsServer;
use kiosk_drivers::ipp::{IppFailure, IppPrinter, JobState, JobTicket, DRIVER};
use kiosk_drivers::{DeviceSpec, TransportKind};
use kiosk_hal::actor::{CommandContext, Device};
use kiosk_hal::device::{CompletionCode, Health};
use kiosk_hal::DeviceKind;
use serde_json::json;

fn printer(uri: &str) -> IppPrinter {
    let mut spec = DeviceSpec::new("a4", DeviceKind::A4Printer, DRIVER, TransportKind::Ipp);
    spec.options.insert("uri".into(), json!(uri));
    spec.options.insert("follow_ms".into(), json!(100));
    IppPrinter::from_spec(&spec).unwrap()
}

fn ctx(secs: u64) -> CommandContext {
    CommandContext::with_timeout(Duration::from_secs(secs))
}

#[test]
fn pdf_jobs_complete_stopped_printers_refuse_and_held_jobs_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let cups = CupsServer::start(dir.path())
        .expect("cupsd must start (scripts/setup-debian.sh installs it)");
    let uri = cups.add_printer("KioskLaser").unwrap();
    let mut p = printer(&uri);

    assert_eq!(p.poll().health, Health::Online, "{}", cups.error_log());
    let out = p
        .run(
            "print-test",
            &json!({"copies": 2, "duplex": true}),
            &ctx(120),
        )
        .unwrap_or_else(|e| panic!("{e:?}\n{}", cups.error_log()));
    assert_eq!(out["state"], "completed", "{out}");
    assert!(out["job_id"].as_i64().unwrap() > 0);

    // A file that is not a PDF never reaches the printer.
    let junk = dir.path().join("junk.pdf");
    std::fs::write(&junk, b"hello").unwrap();
    let e = p
        .run(
            "ipp-print",
            &json!({"path": junk.to_str().unwrap()}),
            &ctx(10),
        )
        .unwrap_err();
    assert_eq!(e.code, CompletionCode::InvalidData);

    // A held job waits; cancelling it ends it as canceled.
    let pdf = kiosk_drivers::ipp::testpage::a4_test_pdf("a4").unwrap();
    let held = JobTicket {
        title: "held".into(),
        copies: 1,
        duplex: false,
        media: "iso_a4_210x297mm".into(),
        hold: true,
    };
    let job = p.submit(pdf.clone(), &held).unwrap();
    assert_eq!(p.job_state(job).unwrap().0, JobState::PendingHeld);
    p.run("cancel-job", &json!({"job": job}), &ctx(10)).unwrap();
    assert_eq!(p.job_state(job).unwrap().0, JobState::Canceled);

    // A job that cannot finish in time is canceled, not left to print for nobody.
    let e = p.print(pdf.clone(), &held, &ctx(1)).unwrap_err();
    let IppFailure::JobTimeout { job: stuck, .. } = e else {
        panic!("expected a timeout, got {e}");
    };
    assert_eq!(p.job_state(stuck).unwrap().0, JobState::Canceled);

    // An operator stops the queue: health says so and jobs are refused before submission.
    cups.stop_printer("KioskLaser", "toner being replaced")
        .unwrap();
    let h = p.poll();
    assert_eq!(h.health, Health::Offline, "{h:?}");
    assert!(
        h.detail.contains("stopped") && h.detail.contains("paused"),
        "{}",
        h.detail
    );
    let e = p.run("print-test", &json!({}), &ctx(10)).unwrap_err();
    assert_eq!(e.code, CompletionCode::UserError);
    assert!(
        e.detail.contains("not printed") && e.detail.contains("toner being replaced"),
        "{}",
        e.detail
    );
    cups.start_printer("KioskLaser").unwrap();
    assert_eq!(p.poll().health, Health::Online);

    drop(cups);
    assert_eq!(p.poll().health, Health::Offline);
}
