//! Journeys, timed: a screen transition from a touch (and from a device event) to the next
//! frame drawn by the software renderer at 1920×1080, median and p99; and the queue-ticket
//! journey from the citizen's touch to the printer's confirmation, against the wire floor of
//! the bytes a paced 115200-bps printer had to receive. Printed, never asserted.
//! Then an application with an e-licence, played through: every screen change touch → frame,
//! and "submit" → the submitted frame. `HALLKIT_BENCH_TOUCHES` (150), `HALLKIT_BENCH_WAKES`
//! (40) and `HALLKIT_BENCH_APPLICATIONS` (5) set the rounds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kiosk_app::cli::tour::{Tour, TourOptions};
use kiosk_app::Config;
use kiosk_protocol::EventKind;
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, mut d: Vec<Duration>) {
    d.sort();
    println!(
        "{what}: median {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} runs)",
        percentile(&d, 0.5).as_secs_f64() * 1e3,
        percentile(&d, 0.99).as_secs_f64() * 1e3,
        d.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        d.len()
    );
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cfg = Config::load(&root.join("config/kiosk.sim.toml")).expect("config");
    // The machine's pcscd is not part of this benchmark.
    cfg.devices.retain(|d| d.driver != "pcsc");
    let out = tempfile::tempdir().expect("tmp");
    let opts = TourOptions {
        journey: "bench".into(),
        script: None,
        out: out.path().to_path_buf(),
        lang: None,
        portrait: false,
    };
    let mut tour = Tour::start(cfg, &opts).expect("terminal");
    let host = tour.terminal.host.clone();
    let wait = |screen: &str| {
        host.wait_for(Duration::from_secs(30), |v| v.screen.name() == screen)
            .unwrap_or_else(|| panic!("never reached {screen}: {:?}", host.view().screen))
    };
    tour.touch("请触摸屏幕开始办理").expect("wake");
    tour.draw(&wait("home")).expect("draw");

    // Touch → frame: home ↔ service groups.
    let rounds: usize = std::env::var("HALLKIT_BENCH_TOUCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let mut touches = Vec::new();
    let (mut finding, mut flowing, mut drawing) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (label, screen) in [("取号", "ticket-groups"), ("首页", "home")] {
            let t = Instant::now();
            tour.touch(label).expect("touch");
            let touched = Instant::now();
            let v = wait(screen);
            let flowed = Instant::now();
            tour.draw(&v).expect("draw");
            touches.push(t.elapsed());
            finding.push(touched - t);
            flowing.push(flowed - touched);
            drawing.push(flowed.elapsed());
        }
    }
    report("touch → next frame at 1920×1080 (home ↔ groups)", touches);
    report(
        "  of which finding and pressing the control (test driver)",
        finding,
    );
    report("  of which the flow deciding the next screen", flowing);
    report("  of which binding and rendering the frame", drawing);

    // Device event → frame: the presence sensor wakes the attract screen.
    let board = tour.terminal.runtime.device("board").expect("board");
    let sim = board.sim.as_ref().expect("sim board");
    let mut wakes = Vec::new();
    let mut bus = tour.terminal.runtime.events.subscribe();
    let wake_rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    // When the board reports `kind` (within `within`), or None.
    let mut presence = |kind: EventKind, within: Duration| {
        let deadline = tokio::time::Instant::now() + within;
        wake_rt.block_on(async {
            loop {
                match tokio::time::timeout_at(deadline, bus.recv()).await {
                    Ok(Ok(e)) if e.kind == kind => break Some(Instant::now()),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => panic!("bus: {e}"),
                    Err(_) => break None,
                }
            }
        })
    };
    let wake_rounds: usize = std::env::var("HALLKIT_BENCH_WAKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    for _ in 0..wake_rounds {
        // Back to the attract screen: the idle countdown, on the tour's clock.
        tour.clock.advance(Duration::from_secs(90));
        tour.draw(&wait("attract")).expect("draw");
        // The citizen before has walked away (nothing to report when nobody was there).
        sim.inject("presence", &json!({"present": false}))
            .expect("presence off");
        presence(EventKind::PresenceLost, Duration::from_millis(500));
        sim.inject("presence", &json!({"present": true}))
            .expect("presence on");
        // From the sensor's event on the bus (after the board's 50 ms debounce) to the frame.
        let t =
            presence(EventKind::PresenceDetected, Duration::from_secs(10)).unwrap_or_else(|| {
                panic!(
                    "no presence event within 10 s of the sensor changing; board {:?}, screen {:?}",
                    board.health(),
                    host.view().screen
                )
            });
        let v = wait("home");
        tour.draw(&v).expect("draw");
        wakes.push(t.elapsed());
    }
    report(
        "presence event → next frame at 1920×1080 (attract → home)",
        wakes,
    );

    // The journey: touch on a group to the printer's confirmation, on a printer paced like a
    // real 115200-bps serial line.
    let printer = tour.terminal.runtime.device("receipt").expect("printer");
    let psim = printer.sim.as_ref().expect("sim printer");
    psim.set_faults(serde_json::from_value(json!({"pace_baud": 115200})).expect("faults"))
        .expect("pace");
    let mut ratios = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..20 {
        tour.touch("取号").expect("start");
        tour.draw(&wait("ticket-groups")).expect("draw");
        let before = psim.inject("stats", &json!({})).expect("stats")["bytes_in"]
            .as_u64()
            .unwrap_or(0);
        let t = Instant::now();
        tour.touch("税务业务").expect("group");
        let v = wait("ticket-taken");
        let took = t.elapsed();
        tour.draw(&v).expect("draw");
        let after = psim.inject("stats", &json!({})).expect("stats")["bytes_in"]
            .as_u64()
            .unwrap_or(0);
        // 8N1: ten bits a byte on the wire.
        let floor = Duration::from_secs_f64((after - before) as f64 * 10.0 / 115_200.0);
        ratios.push(took.as_secs_f64() / floor.as_secs_f64());
        totals.push(took);
        tour.touch("完成").expect("done");
        tour.draw(&wait("home")).expect("draw");
        psim.inject("clear-receipts", &json!({})).expect("clear");
    }
    let floor_ms = totals[0].as_secs_f64() * 1e3 / ratios[0];
    ratios.sort_by(f64::total_cmp);
    report(
        "ticket: group touch → printer confirmed, 115200 bps",
        totals,
    );
    println!(
        "  wire floor of the ticket's bytes ≈ {floor_ms:.0} ms; ratio to the floor: median {:.2}, max {:.2}",
        ratios[ratios.len() / 2],
        ratios[ratios.len() - 1]
    );
    // The application journey (居住证签注 with an e-licence), played through the tour steps
    // HALLKIT_BENCH_APPLICATIONS times: every touch that moves to another screen (touch → the
    // next frame), and "submit" → the submitted screen's frame with the case number (the PDF,
    // the sealed parts, the journal commit and the centre's number included).
    psim.set_faults(serde_json::from_value(json!({})).expect("faults"))
        .expect("unpace");
    let applications: usize = std::env::var("HALLKIT_BENCH_APPLICATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (_, text) = kiosk_app::cli::tour::BUILT_IN
        .iter()
        .find(|(n, _)| *n == "apply-with-e-licence")
        .expect("the tour");
    let steps = kiosk_app::cli::tour::parse(text).expect("steps").steps;
    let (mut transitions, mut submits) = (Vec::new(), Vec::new());
    let mut n = 0;
    for _ in 0..applications {
        tour.clock.advance(Duration::from_secs(200));
        tour.draw(&wait("attract")).expect("draw");
        for step in &steps {
            n += 1;
            let before = host.view().screen.name();
            let r = tour.step(n, step).expect("application step");
            let flowed = Duration::from_millis(r.elapsed_ms);
            let touched = matches!(step.action, Some(kiosk_app::cli::tour::Action::Touch(_)));
            let changed = r.screen != before;
            // The frame as the window draws it (the step also wrote a PNG, not timed here).
            let t = Instant::now();
            tour.draw(&host.view()).expect("draw");
            let took = flowed + t.elapsed();
            if step.name == "submitted" {
                submits.push(took);
            } else if touched && step.until.is_none() && changed {
                transitions.push(took);
            }
        }
    }
    report(
        "application: touch → next frame at 1920×1080 (every screen change)",
        transitions,
    );
    report(
        "application: \"submit\" → submitted screen with the case number (1 page, 1 e-licence)",
        submits,
    );
    tour.finish("bench", "").expect("stop");
}
