//! The receipt printer driver against the virtual printer over real ptys and TCP.

use super::sim::{EscposSim, EscposSimConfig};
use super::templates::{QueueTicket, Template};
use super::*;
use crate::sim::{SimControl, SimEnv};
use crate::spec::TransportKind;
use kiosk_hal::DeviceKind;

struct Rig {
    _dir: tempfile::TempDir,
    sim: EscposSim,
    printer: ReceiptPrinter,
}

fn rig(transport: TransportKind, options: &[(&str, Value)]) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let env = SimEnv::new(dir.path()).unwrap();
    let mut spec = DeviceSpec::new("receipt", DeviceKind::ReceiptPrinter, DRIVER, transport);
    for (k, v) in options {
        spec.options.insert(k.to_string(), v.clone());
    }
    let paper = match spec.opt_str("paper").unwrap() {
        Some(p) => Paper::parse(p).unwrap(),
        None => Paper::Mm80,
    };
    let config = EscposSimConfig {
        paper,
        out_dir: dir.path().join("receipts"),
        one_way: spec.opt_str("status").unwrap() == Some("none"),
    };
    let sim = match transport {
        TransportKind::Tcp => {
            let sim = EscposSim::start_tcp("receipt", config).unwrap();
            spec.address = Some(sim.endpoint());
            sim
        }
        _ => {
            let sim = EscposSim::start_pty("receipt", &env, config).unwrap();
            spec.path = Some(sim.endpoint());
            sim
        }
    };
    spec.options.insert("job_timeout_ms".into(), json!(5000));
    let printer = ReceiptPrinter::from_spec(&spec).unwrap();
    Rig {
        _dir: dir,
        sim,
        printer,
    }
}

fn ctx() -> CommandContext {
    CommandContext::with_timeout(Duration::from_secs(10))
}

pub fn ticket() -> Value {
    serde_json::to_value(Template::QueueTicket(QueueTicket {
        hall: "南京市政务服务中心".into(),
        number: "A023".into(),
        service: "户籍业务".into(),
        waiting: Some(7),
        issued_at: "2026-11-23 09:41".into(),
        qr_url: "https://zwfw.example/queue/A023".into(),
        window_hint: None,
    }))
    .unwrap()
}

fn decode_qr(png: &str) -> Vec<String> {
    let img = image::open(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .iter()
        .filter_map(|g| g.decode().ok().map(|(_, s)| s))
        .collect()
}

fn receipts(sim: &EscposSim) -> Vec<Value> {
    sim.inject("receipts", &json!({}))
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
}

#[test]
fn a_ticket_is_confirmed_and_comes_out_as_a_readable_png() {
    let mut r = rig(TransportKind::Serial, &[]);
    assert_eq!(r.printer.poll().health, Health::Online);
    let out = r.printer.run("print", &ticket(), &ctx()).unwrap();
    assert_eq!(out["outcome"], "printed", "{out}");
    let got = receipts(&r.sim);
    assert_eq!(got.len(), 1);
    let text = got[0]["text"].as_str().unwrap();
    assert!(
        text.contains("A023")
            && text.contains("南京市政务服务中心")
            && text.contains("前面等候：7 人"),
        "{text}"
    );
    let png = got[0]["png"].as_str().unwrap();
    assert_eq!(
        decode_qr(png),
        vec!["https://zwfw.example/queue/A023".to_string()]
    );
    let img = image::open(png).unwrap().to_luma8();
    assert_eq!(img.width(), 576);
    let black = img.pixels().filter(|p| p.0[0] == 0).count();
    assert!(
        black > 5_000,
        "only {black} black dots: glyphs were not drawn"
    );
}

#[test]
fn a_lost_status_reply_is_asked_again_and_a_silent_printer_prints_nothing() {
    let mut r = rig(TransportKind::Serial, &[]);
    // The answers to the status check before the job are lost once: asked again, it prints.
    r.sim
        .set_faults(crate::sim::SimFaults {
            swallow_next: std::cell::Cell::new(1),
            ..Default::default()
        })
        .unwrap();
    let out = r.printer.run("print", &ticket(), &ctx()).unwrap();
    assert_eq!(out["outcome"], "printed", "{out}");
    assert_eq!(receipts(&r.sim).len(), 1);
    assert_eq!(r.printer.poll().health, Health::Online);
    // A printer that answers nothing is offline, and no job is sent to it.
    r.sim
        .set_faults(crate::sim::SimFaults {
            no_reply: true,
            ..Default::default()
        })
        .unwrap();
    let e = r.printer.run("print", &ticket(), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::Timeout, "{e}");
    assert_eq!(r.printer.poll().health, Health::Offline);
    let stats = r.sim.inject("stats", &json!({})).unwrap();
    assert_eq!(stats["receipts"], 1);
}

/// A line on which the printer has already answered a job's GS r (paper present, `0x00`) when
/// the driver next asks for status, and answers every DLE EOT with "all well".
struct AnsweredLine {
    incoming: std::collections::VecDeque<u8>,
}

impl kiosk_hal::transport::Transport for AnsweredLine {
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let n = buf.len().min(self.incoming.len());
        if n == 0 {
            return Err(TransportError::Timeout(timeout));
        }
        for b in buf.iter_mut().take(n) {
            *b = self.incoming.pop_front().unwrap_or_default();
        }
        Ok(n)
    }
    fn write_all(&mut self, data: &[u8]) -> Result<(), TransportError> {
        for w in data.windows(3) {
            if w[..2] == DLE_EOT {
                self.incoming
                    .push_back(PrinterStatus::default().real_time_reply(w[2]));
            }
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
    fn reopen(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "answered line".into()
    }
}

#[test]
fn a_status_query_during_a_job_keeps_the_jobs_confirmation() {
    let mut r = rig(TransportKind::Serial, &[]);
    // The confirmation arrived just as the driver, tired of waiting, asks for status.
    r.printer.link = Some(Box::new(AnsweredLine {
        incoming: [0x00].into(),
    }));
    r.printer.awaiting_confirmation = true;
    let s = r.printer.query_status().unwrap();
    assert!(s.blocking_problem().is_none(), "{s:?}");
    assert_eq!(
        r.printer
            .take_reply(|b| b & 0x90 == 0, Duration::from_millis(10))
            .unwrap(),
        Some(0x00),
        "the job's confirmation was thrown away with the stale status"
    );
    // The same line after the job: whatever waits is stale and goes.
    r.printer.awaiting_confirmation = false;
    r.printer.link = Some(Box::new(AnsweredLine {
        incoming: [0x00].into(),
    }));
    r.printer.query_status().unwrap();
    assert!(r.printer.inbox.is_empty(), "{:?}", r.printer.inbox);
}

#[test]
fn an_empty_roll_refuses_the_job_before_sending_it() {
    let mut r = rig(TransportKind::Serial, &[]);
    r.sim.inject("paper-out", &json!({})).unwrap();
    let h = r.printer.poll();
    assert_eq!(h.health, Health::UserError);
    assert!(h.sub.contains(&SubStatus::PaperOut));
    let e = r.printer.run("print", &ticket(), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::UserError);
    assert!(
        e.detail.contains("not printed") && e.detail.contains("paper"),
        "{}",
        e.detail
    );
    let stats = r.sim.inject("stats", &json!({})).unwrap();
    assert_eq!(stats["receipts"], 0);
    // Only status requests reached the printer: four for the poll, four before the job.
    assert_eq!(stats["bytes_in"], 24);
}

#[test]
fn paper_running_out_mid_job_fails_the_job() {
    let mut r = rig(TransportKind::Serial, &[]);
    r.sim.inject("paper-left", &json!({"dots": 150})).unwrap();
    let e = r.printer.run("print", &ticket(), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::UserError);
    assert!(
        e.detail.contains("job failed") && e.detail.contains("out of paper"),
        "{}",
        e.detail
    );
    assert!(receipts(&r.sim).is_empty());
    r.sim.inject("load-paper", &json!({})).unwrap();
    assert_eq!(r.printer.poll().health, Health::Online);
    assert_eq!(
        r.printer.run("print", &ticket(), &ctx()).unwrap()["outcome"],
        "printed"
    );
}

#[test]
fn a_cover_opened_or_a_cutter_jam_is_reported_as_such() {
    let mut r = rig(TransportKind::Serial, &[("paper", json!("58mm"))]);
    r.sim.inject("open-cover", &json!({})).unwrap();
    let h = r.printer.poll();
    assert_eq!(h.health, Health::UserError);
    assert!(h.sub.contains(&SubStatus::CoverOpen));
    r.sim.inject("close-cover", &json!({})).unwrap();
    assert_eq!(r.printer.poll().health, Health::Online);

    // Someone opens the cover while the ticket is printing.
    r.sim
        .inject("cover-opens-after", &json!({"dots": 120}))
        .unwrap();
    let e = r.printer.run("print", &ticket(), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::UserError);
    assert!(
        e.detail.contains("job failed") && e.detail.contains("cover"),
        "{}",
        e.detail
    );
    r.sim.inject("close-cover", &json!({})).unwrap();

    r.sim.inject("jam-cutter", &json!({})).unwrap();
    let e = r.printer.run("print-test", &json!({}), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::HardwareError);
    assert!(e.detail.contains("cutter"), "{}", e.detail);
    let h = r.printer.poll();
    assert_eq!(h.health, Health::HardwareError);
    assert!(h.sub.contains(&SubStatus::CutterError));
    assert!(receipts(&r.sim).is_empty());
}

#[test]
fn a_one_way_printer_reports_unconfirmed_or_fails_by_policy() {
    let mut r = rig(TransportKind::Serial, &[("status", json!("none"))]);
    let h = r.printer.poll();
    assert_eq!(h.health, Health::Unknown);
    assert!(h.sub.contains(&SubStatus::StatusUnknown));
    let out = r.printer.run("print", &ticket(), &ctx()).unwrap();
    assert_eq!(out["outcome"], "unconfirmed");

    let mut strict = rig(
        TransportKind::Serial,
        &[("status", json!("none")), ("unconfirmed", json!("fail"))],
    );
    let e = strict.printer.run("print", &ticket(), &ctx()).unwrap_err();
    assert!(e.detail.contains("cannot be confirmed"), "{}", e.detail);
}

#[test]
fn network_and_lp_printers_print_the_same_way() {
    for transport in [TransportKind::Tcp, TransportKind::Lp] {
        let mut r = rig(transport, &[]);
        assert_eq!(r.printer.poll().health, Health::Online, "{transport:?}");
        let out = r.printer.run("print", &ticket(), &ctx()).unwrap();
        assert_eq!(out["outcome"], "printed", "{transport:?}");
        assert_eq!(receipts(&r.sim).len(), 1);
    }
}

#[test]
fn automatic_status_back_keeps_jobs_confirmed() {
    let mut r = rig(TransportKind::Serial, &[("status", json!("auto-status"))]);
    assert_eq!(r.printer.poll().health, Health::Online);
    r.sim.inject("paper-near-end", &json!({})).unwrap();
    let out = r.printer.run("print", &ticket(), &ctx()).unwrap();
    assert_eq!(out["outcome"], "printed");
    assert_eq!(out["warnings"][0], "paper roll nearly used up");
    assert!(r.printer.poll().sub.contains(&SubStatus::PaperNearEnd));
}

#[test]
fn print_file_sends_bytes_and_refuses_a_truncated_stream() {
    let mut r = rig(TransportKind::Serial, &[]);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("job.bin");
    std::fs::write(
        &good,
        Receipt::new(Paper::Mm80).text("办件 OK").encode().unwrap(),
    )
    .unwrap();
    let out = r
        .printer
        .run(
            "print-file",
            &json!({"path": good.to_str().unwrap()}),
            &ctx(),
        )
        .unwrap();
    assert_eq!(out["outcome"], "printed");
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, [0x1B, 0x40, 0x1D, 0x76, 0x30, 0x00, 0x10]).unwrap();
    let e = r
        .printer
        .run(
            "print-file",
            &json!({"path": bad.to_str().unwrap()}),
            &ctx(),
        )
        .unwrap_err();
    assert_eq!(e.code, CompletionCode::InvalidData);
    assert_eq!(receipts(&r.sim).len(), 1);
}

#[test]
fn an_unplugged_printer_goes_offline_and_comes_back() {
    let mut r = rig(TransportKind::Serial, &[]);
    assert_eq!(r.printer.poll().health, Health::Online);
    r.sim.unplug().unwrap();
    let h = r.printer.poll().health;
    assert!(matches!(h, Health::Offline | Health::NoDevice), "{h:?}");
    r.sim.replug().unwrap();
    assert_eq!(r.printer.poll().health, Health::Online);
}

#[test]
fn receipts_render_for_review() {
    // Writes the sample receipts under target/receipts so a person can look at them.
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/receipts");
    std::fs::create_dir_all(&out).unwrap();
    let samples = [
        (
            "queue-ticket-80mm",
            serde_json::from_value::<Template>(ticket())
                .unwrap()
                .receipt(Paper::Mm80)
                .unwrap(),
        ),
        (
            // Numbered while the centre was out of reach: nobody knows how many are ahead.
            "queue-ticket-offline-58mm",
            serde_json::from_value::<Template>({
                let mut t = ticket();
                t["number"] = serde_json::json!("A501");
                t["waiting"] = serde_json::Value::Null;
                t
            })
            .unwrap()
            .receipt(Paper::Mm58)
            .unwrap(),
        ),
        (
            "test-page-58mm",
            templates::test_page(Paper::Mm58, "receipt"),
        ),
        (
            "print-record-58mm",
            templates::PrintRecordSlip {
                hall: "昆山市政务服务中心".into(),
                terminal: "KSK-320583-0001".into(),
                document: "不动产登记证明.pdf".into(),
                pages: 3,
                copies: 2,
                printed_at: "2026-11-23 10:15".into(),
                record_id: "PR-20261123-0042".into(),
            }
            .receipt(Paper::Mm58),
        ),
        (
            "application-receipt-80mm",
            templates::ApplicationReceipt {
                hall: "南京市政务服务中心".into(),
                case_number: "SQ2026112300017".into(),
                query_password: "583920".into(),
                service: "居民身份证换领".into(),
                applicant: "王*明".into(),
                id_number_masked: "3201**********1234".into(),
                materials: vec!["居民户口簿（原件）".into(), "近期免冠照片 1 张".into()],
                accepted_at: "2026-11-23 10:02".into(),
                promised_by: "2026-12-07".into(),
                query_url: "https://zwfw.example/case/SQ2026112300017".into(),
                pickup: String::new(),
                note: String::new(),
            }
            .receipt(Paper::Mm80)
            .unwrap(),
        ),
    ];
    for (name, receipt) in samples {
        let pages =
            render::render_stream(&receipt.encode().unwrap(), receipt.paper.dots()).unwrap();
        assert_eq!(pages.len(), 1);
        assert!(pages[0].cut && pages[0].unknown == 0, "{name}");
        let path = out.join(format!("{name}.png"));
        pages[0].save_png(&path).unwrap();
        assert_eq!(
            decode_qr(path.to_str().unwrap()).len(),
            usize::from(!name.starts_with("print-record")),
            "{name}: the QR code must scan"
        );
    }
}

#[test]
fn a_usb_printer_that_is_not_plugged_in_is_reported_absent() {
    let mut spec = DeviceSpec::new(
        "receipt",
        DeviceKind::ReceiptPrinter,
        DRIVER,
        TransportKind::Usb,
    );
    spec.usb = Some("0416:5011".parse().unwrap());
    spec.ep_in = Some(0x81);
    spec.ep_out = Some(0x01);
    let mut p = ReceiptPrinter::from_spec(&spec).unwrap();
    let h = p.poll();
    assert_eq!(h.health, Health::NoDevice, "{h:?}");
    let e = p.run("print-test", &json!({}), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::NotReady, "{e:?}");
}
