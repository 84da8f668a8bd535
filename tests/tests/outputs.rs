//! Two-phase outputs end to end: simulated receipt printer and seal module, a real CUPS for
//! the A4 printer, the outbox on disk, and the central service over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use kiosk_app::centre::sync::SyncClient;
use kiosk_app::centre::{BlockingCentre, CentreClient};
use kiosk_app::config::SealOffline;
use kiosk_app::journal::{Journal, Outbox};
use kiosk_app::runtime::{Claim, Owner};
use kiosk_app::services::outputs::{OutputDesk, OutputOutcome, SealOrder, TicketOrder};
use kiosk_app::{Profile, Runtime};
use kiosk_e2e::sample_config;
use kiosk_hal::clock::SystemClock;
use kiosk_protocol::wire::{Ticket, TicketState};
use serde_json::json;

const DEVICE: &str = "KSK-320583-0001";

struct Rig {
    _dir: tempfile::TempDir,
    tokio: tokio::runtime::Runtime,
    rt: Arc<Runtime>,
    outbox: Journal,
    base: String,
    _centre: kiosk_central::CentreHandle,
}

fn rig(keep: &[&str]) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = sample_config("kiosk.sim.toml", dir.path());
    cfg.devices.retain(|d| keep.contains(&d.id.as_str()));
    for d in cfg.devices.iter_mut().filter(|d| d.id == "docam") {
        let captures = dir.path().join("captures").display().to_string();
        d.options.insert("capture_dir".into(), json!(captures));
    }
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let store = kiosk_central::SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = tokio
        .block_on(kiosk_central::CentreHandle::start("127.0.0.1:0", store))
        .unwrap();
    let rt = Arc::new(Runtime::start(&cfg, Profile::Sim, SystemClock::shared()).unwrap());
    let outbox =
        Outbox::open(&dir.path().join("outbox.db"), DEVICE, SystemClock::shared()).unwrap();
    Rig {
        base: centre.base_url(),
        _dir: dir,
        tokio,
        rt,
        outbox: Journal::new(outbox),
        _centre: centre,
    }
}

impl Rig {
    fn desk(&self, centre: Option<&str>, seal_offline: SealOffline) -> OutputDesk {
        OutputDesk {
            rt: self.rt.clone(),
            journal: self.outbox.clone(),
            centre: centre.map(|u| {
                BlockingCentre::new(
                    CentreClient::new(u, DEVICE, None, Duration::from_secs(3)).unwrap(),
                    self.tokio.handle().clone(),
                )
            }),
            seal_offline,
            timeout: Duration::from_secs(60),
        }
    }

    fn claim(&self, device: &str) -> Claim {
        self.rt
            .claim(
                device,
                Owner::Flow("test".into()),
                Duration::from_secs(600),
                Duration::ZERO,
            )
            .unwrap()
    }

    fn sync(&self) {
        let client = SyncClient::new(CentreClient::plain(&self.base, DEVICE).unwrap(), 100);
        self.tokio.block_on(client.drain(&self.outbox)).unwrap();
    }

    fn ticket_state(&self, t: &Ticket) -> TicketState {
        let url = format!(
            "{}/api/v1/halls/{}/services/{}/tickets/{}/{}",
            self.base, t.hall, t.service, t.day, t.number
        );
        reqwest::blocking::get(url)
            .unwrap()
            .json::<Ticket>()
            .unwrap()
            .state
    }

    fn journal(&self) -> Vec<(String, serde_json::Value)> {
        let ob = self.outbox.lock();
        ob.events_like("output.", 1000)
            .unwrap()
            .into_iter()
            .map(|(_, k, p)| (k, p))
            .collect()
    }
}

fn order() -> TicketOrder<'static> {
    TicketOrder {
        hall: "kunshan",
        hall_name: "昆山市政务服务中心",
        service: "social",
        service_name: "社保业务",
        issued_at: "2026-11-23 09:00",
        queue_url: "https://zwfw.example/queue",
    }
}

#[test]
fn a_ticket_counts_only_when_the_printer_confirmed_it() {
    let r = rig(&["receipt"]);
    let desk = r.desk(Some(&r.base), SealOffline::Refuse);
    let printer = r.claim("receipt");

    let (good, rec) = desk.issue_ticket(&printer, "A", &order()).unwrap();
    assert_eq!(rec.outcome, OutputOutcome::Printed, "{}", rec.detail);
    assert!(rec.done());
    assert!(rec.intent_seq.unwrap() < rec.result_seq);

    // The roll runs out: the next number is taken but its print fails.
    let sim = r.rt.device("receipt").unwrap().sim.clone().unwrap();
    sim.inject("paper-out", &json!({})).unwrap();
    let (lost, rec) = desk.issue_ticket(&printer, "A", &order()).unwrap();
    assert_eq!(lost.ahead, 1, "the printed ticket is ahead of it");
    assert_eq!(rec.outcome, OutputOutcome::Failed);
    assert!(!rec.done());
    assert!(rec.detail.contains("out of paper"), "{}", rec.detail);

    // Intent before result for both, tickets named in each.
    let j = r.journal();
    let kinds: Vec<&str> = j.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "output.intent",
            "output.result",
            "output.intent",
            "output.result"
        ]
    );
    assert_eq!(j[3].1["ticket"]["number"], lost.number);
    assert_eq!(j[3].1["outcome"], "failed");

    // Once synced, the centre calls the printed number and voids the lost one.
    assert_eq!(r.ticket_state(&lost), TicketState::Issued);
    r.sync();
    assert_eq!(r.ticket_state(&good), TicketState::Printed);
    assert_eq!(r.ticket_state(&lost), TicketState::Void);

    // Without the printer's claim, another owner's print is refused before the device hears of
    // it, and recorded as refused.
    let other = r.rt.claim(
        "receipt",
        Owner::Admin,
        Duration::from_secs(1),
        Duration::ZERO,
    );
    assert!(other.unwrap_err().to_string().contains("held by flow test"));
    // A claim whose lease ran out and was taken over by another owner prints nothing.
    drop(printer);
    let stale =
        r.rt.claim("receipt", Owner::Remote(7), Duration::ZERO, Duration::ZERO)
            .unwrap();
    let _current = r.claim("receipt");
    let rec = desk
        .print_receipt(&stale, "receipt", json!({"template": "print-test"}))
        .unwrap();
    assert_eq!(rec.outcome, OutputOutcome::Refused, "{}", rec.detail);
    assert!(rec.detail.contains("held by flow test"), "{}", rec.detail);
}

#[test]
fn an_interrupted_output_is_closed_as_unknown_at_the_next_start() {
    let r = rig(&["receipt"]);
    {
        let mut ob = r.outbox.lock();
        ob.enqueue(
            "output.intent",
            json!({"output_id": "out-x", "device": "receipt", "purpose": "queue-ticket",
                   "ticket": {"hall": "kunshan", "service": "social", "day": "2026-11-23", "number": "A009"}}),
        )
        .unwrap();
        assert_eq!(ob.unfinished_outputs().unwrap().len(), 1);
        assert_eq!(ob.reconcile_interrupted().unwrap(), 1);
        assert!(ob.unfinished_outputs().unwrap().is_empty());
    }
    let j = r.journal();
    assert_eq!(j[1].1["outcome"], "interrupted");
    assert_eq!(j[1].1["ticket"]["number"], "A009");
}

#[test]
fn every_impression_is_authorised_once_and_recorded() {
    let r = rig(&["seal"]);
    let sim = r.rt.device("seal").unwrap().sim.clone().unwrap();
    let doc = b"%PDF-1.5 application receipt SQ2026112300017";
    let claim = r.claim("seal");
    let seal = SealOrder {
        seal: 2,
        x: 1500,
        y: 2400,
        document: doc,
        purpose: "application-receipt",
    };

    let rec = r
        .desk(Some(&r.base), SealOffline::Refuse)
        .stamp(&claim, &seal)
        .unwrap();
    assert_eq!(rec.outcome, OutputOutcome::Printed, "{}", rec.detail);
    let j = r.journal();
    let (intent, result) = (&j[0].1, &j[1].1);
    let auth = intent["authorisation"].as_str().unwrap();
    assert!(auth.starts_with("SA-"), "{auth}");
    assert_eq!(intent["authorisation_source"], "centre");
    assert_eq!(intent["position"], json!({"x": 1500, "y": 2400}));
    assert_eq!(result["authorisation"], auth);
    assert_eq!(result["photo"]["taken"], false);
    assert_eq!(
        sim.inject("impressions", &json!({})).unwrap(),
        json!([{"seal": 2, "x": 1500, "y": 2400}])
    );

    // The centre away: refused by default, nothing stamped, the refusal recorded.
    let rec = r
        .desk(Some("http://127.0.0.1:9"), SealOffline::Refuse)
        .stamp(&claim, &seal)
        .unwrap();
    assert_eq!(rec.outcome, OutputOutcome::Refused);
    assert!(rec.intent_seq.is_none());
    assert!(
        rec.detail.contains("offline policy refuses"),
        "{}",
        rec.detail
    );
    assert_eq!(
        sim.inject("impressions", &json!({}))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Allowed offline by policy: stamped under a local authorisation for later audit.
    let rec = r
        .desk(Some("http://127.0.0.1:9"), SealOffline::Local)
        .stamp(&claim, &seal)
        .unwrap();
    assert_eq!(rec.outcome, OutputOutcome::Printed, "{}", rec.detail);
    let j = r.journal();
    let last_intent = &j
        .iter()
        .rev()
        .find(|(k, _)| k == "output.intent")
        .unwrap()
        .1;
    assert!(last_intent["authorisation"]
        .as_str()
        .unwrap()
        .starts_with("LOCAL-"));
    assert_eq!(last_intent["authorisation_source"], "local");

    // A door opened during the impression: a failed output, recorded as such.
    sim.inject("open-during-stamp", &json!({})).unwrap();
    let rec = r
        .desk(Some(&r.base), SealOffline::Refuse)
        .stamp(&claim, &seal)
        .unwrap();
    assert_eq!(rec.outcome, OutputOutcome::Failed);
    assert!(
        rec.detail.contains("opened during stamping"),
        "{}",
        rec.detail
    );
    r.sync();
}

#[test]
fn an_a4_print_is_followed_to_completion_through_cups() {
    let r = rig(&["a4"]);
    let pdf = r._dir.path().join("proof.pdf");
    std::fs::write(
        &pdf,
        kiosk_drivers::ipp::testpage::a4_test_pdf("a4").unwrap(),
    )
    .unwrap();
    let desk = r.desk(None, SealOffline::Refuse);
    let a4 = r.claim("a4");
    let rec = desk
        .print_a4(&a4, "proof-of-registration", pdf.to_str().unwrap(), 1, true)
        .unwrap();
    assert_eq!(rec.outcome, OutputOutcome::Printed, "{}", rec.detail);
    assert_eq!(rec.result["state"], "completed");

    let sim = r.rt.device("a4").unwrap().sim.clone().unwrap();
    sim.inject("stop", &json!({"reason": "paper tray being refilled"}))
        .unwrap();
    let rec = desk
        .print_a4(
            &a4,
            "proof-of-registration",
            pdf.to_str().unwrap(),
            1,
            false,
        )
        .unwrap();
    assert_eq!(rec.outcome, OutputOutcome::Failed);
    assert!(
        rec.detail.contains("paper tray being refilled"),
        "{}",
        rec.detail
    );
}

#[test]
fn a_stamped_page_is_photographed_by_the_document_camera_for_the_record() {
    let r = rig(&["seal", "docam"]);
    let claim = r.claim("seal");
    let seal = SealOrder {
        seal: 1,
        x: 800,
        y: 2000,
        document: b"%PDF-1.5 proof of residence",
        purpose: "proof",
    };
    let rec = r
        .desk(Some(&r.base), SealOffline::Refuse)
        .stamp(&claim, &seal)
        .unwrap();
    assert_eq!(rec.outcome, OutputOutcome::Printed, "{}", rec.detail);
    let j = r.journal();
    let photo = &j[1].1["photo"];
    assert_eq!(photo["taken"], true, "{photo}");
    assert_eq!(photo["camera"], "docam");
    let path = photo["capture"]["path"].as_str().unwrap();
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
    assert_eq!(photo["capture"]["width"], 3264);
    assert_eq!(
        photo["capture"]["sha256"].as_str().unwrap(),
        sha_hex(&bytes)
    );
}

fn sha_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
