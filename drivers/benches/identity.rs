//! Identity-device benchmarks (printed, never asserted): an ID card read end to end over a
//! 115200-bps line, as a ratio to the wire-time floor of the bytes exchanged, and a fingerprint
//! 1:1 verification round trip at 57600 bps. The simulators pace the pty like a real UART.
//!
//!     cargo bench -p kiosk-drivers --bench identity

use std::time::{Duration, Instant};

use kiosk_drivers::fingerprint::sim::{sim_template, FingerprintSim, Quality};
use kiosk_drivers::fingerprint::FingerprintModule;
use kiosk_drivers::idcard::sim::{CardFixture, IdCardSim};
use kiosk_drivers::idcard::IdCardReader;
use kiosk_drivers::sim::{SimControl, SimEnv, SimFaults};
use kiosk_drivers::spec::TransportKind;
use kiosk_drivers::DeviceSpec;
use kiosk_hal::actor::CommandContext;
use kiosk_hal::clock::SystemClock;
use kiosk_hal::transport::wire_time;
use kiosk_hal::DeviceKind;
use serde_json::json;

const RUNS: usize = 30;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn idcard(appended_address: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = SimEnv::new(dir.path()).expect("sim env");
    let sim = IdCardSim::start("idcard", &env).expect("sim");
    sim.set_faults(SimFaults {
        pace_baud: Some(115_200),
        ..Default::default()
    })
    .expect("pace");
    let mut spec = DeviceSpec::new(
        "idcard",
        DeviceKind::IdCardReader,
        kiosk_drivers::idcard::DRIVER,
        TransportKind::Serial,
    );
    spec.path = Some(sim.endpoint());
    spec.baud = Some(115_200);
    spec.options
        .insert("appended_address".into(), json!(appended_address));
    spec.options
        .insert("photo_decoder".into(), json!("fixture"));
    spec.options.insert(
        "fixture_dir".into(),
        json!(sim.photo_dir().to_string_lossy()),
    );
    let mut reader = IdCardReader::from_spec(&spec, SystemClock::shared()).expect("reader");
    let card = CardFixture::builtin("resident").expect("card");
    let mut times = Vec::with_capacity(RUNS);
    let mut floors = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        sim.lift().expect("lift");
        sim.place(card.clone()).expect("place");
        let before = sim.stats().expect("stats");
        let t = Instant::now();
        reader.read_card(false).expect("read");
        times.push(t.elapsed());
        let after = sim.stats().expect("stats");
        let bytes = (after["bytes_in"].as_u64().unwrap_or(0)
            + after["bytes_out"].as_u64().unwrap_or(0))
            - (before["bytes_in"].as_u64().unwrap_or(0)
                + before["bytes_out"].as_u64().unwrap_or(0));
        floors.push(wire_time(bytes as usize, 115_200));
    }
    times.sort();
    let floor = floors[0];
    let median = percentile(&times, 0.5);
    println!(
        "idcard read (find+select+read{}) @115200: median {:.1} ms, p90 {:.1} ms, wire floor {:.1} ms, ratio {:.3} (target <= 1.10)",
        if appended_address { "+address" } else { "" },
        median.as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3,
        median.as_secs_f64() / floor.as_secs_f64()
    );
}

fn fingerprint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = SimEnv::new(dir.path()).expect("sim env");
    let sim = FingerprintSim::start("fp", &env, 0).expect("sim");
    sim.set_faults(SimFaults {
        pace_baud: Some(57_600),
        ..Default::default()
    })
    .expect("pace");
    let mut spec = DeviceSpec::new(
        "fp",
        DeviceKind::Fingerprint,
        kiosk_drivers::fingerprint::DRIVER,
        TransportKind::Serial,
    );
    spec.path = Some(sim.endpoint());
    spec.options.insert("poll_interval_ms".into(), json!(5));
    let mut m = FingerprintModule::from_spec(&spec).expect("module");
    m.read_sys_params().expect("params");
    let template = sim_template("bench-finger");
    let mut times = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for _ in 0..RUNS {
        sim.present("bench-finger", Quality::Good).expect("present");
        let before = sim.stats().expect("stats");
        let t = Instant::now();
        m.verify_template(
            &template,
            &CommandContext::with_timeout(Duration::from_secs(5)),
        )
        .expect("verify");
        times.push(t.elapsed());
        let after = sim.stats().expect("stats");
        bytes = (after["bytes_in"].as_u64().unwrap_or(0)
            + after["bytes_out"].as_u64().unwrap_or(0))
            - (before["bytes_in"].as_u64().unwrap_or(0)
                + before["bytes_out"].as_u64().unwrap_or(0));
    }
    times.sort();
    let floor = wire_time(bytes as usize, 57_600);
    let median = percentile(&times, 0.5);
    println!(
        "fingerprint 1:1 verify (DownChar 512 B + GenImg + Img2Tz + Match) @57600: median {:.1} ms, p90 {:.1} ms, wire floor {:.1} ms ({} bytes), ratio {:.3}",
        median.as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3,
        bytes,
        median.as_secs_f64() / floor.as_secs_f64()
    );
}

fn main() {
    // `cargo test --benches` runs this with --bench absent; keep it quick then.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    idcard(false);
    idcard(true);
    fingerprint();
}
