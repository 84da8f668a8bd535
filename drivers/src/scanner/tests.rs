//! The serial scanner driver against its simulator over real pseudo-terminals.

use super::sim::{ScannerSim, ScannerSimConfig};
use super::*;
use crate::sim::{SimControl, SimEnv, SimFaults};
use crate::spec::TransportKind;
use kiosk_hal::actor::DeviceHandle;
use kiosk_hal::device::CompletionCode;
use kiosk_hal::DeviceKind;
use proptest::prelude::*;

fn setup(trigger: Option<&str>) -> (tempfile::TempDir, ScannerSim, DeviceSpec) {
    match trigger {
        Some(t) => setup_with(&[("trigger", t)]),
        None => setup_with(&[]),
    }
}

/// A scanner and its simulator sharing `options` (hex commands and the like).
fn setup_with(options: &[(&str, &str)]) -> (tempfile::TempDir, ScannerSim, DeviceSpec) {
    let dir = tempfile::tempdir().unwrap();
    let env = SimEnv::new(dir.path()).unwrap();
    let mut spec = DeviceSpec::new(
        "scanner",
        DeviceKind::QrScanner,
        DRIVER,
        TransportKind::Serial,
    );
    for (k, v) in options {
        spec.options.insert((*k).into(), json!(v));
    }
    let sim =
        ScannerSim::start("scanner", &env, ScannerSimConfig::from_spec(&spec).unwrap()).unwrap();
    spec.path = Some(sim.endpoint());
    (dir, sim, spec)
}

fn ctx(ms: u64) -> CommandContext {
    CommandContext::with_timeout(Duration::from_millis(ms))
}

#[test]
fn scans_arrive_as_typed_input_through_the_actor() {
    let (_dir, sim, spec) = setup(None);
    let handle = DeviceHandle::spawn(
        Box::new(SerialScanner::from_spec(&spec).unwrap()),
        Duration::from_millis(100),
    );
    let mut inputs = handle.subscribe_input();
    assert_eq!(handle.poll_now().unwrap().health, Health::Online);

    sim.present("https://zwfw.example.gov.cn/case?no=KS2026112200017")
        .unwrap();
    sim.present("YY20261122-0042").unwrap();
    let first = recv(&mut inputs);
    assert_eq!(first.kind, "scan");
    assert_eq!(first.data["payload"]["type"], "url");
    assert_eq!(
        first.data["payload"]["url"],
        "https://zwfw.example.gov.cn/case?no=KS2026112200017"
    );
    let second = recv(&mut inputs);
    assert_eq!(
        second.data["payload"],
        json!({"type": "appointment", "code": "YY20261122-0042"})
    );
}

fn recv(rx: &mut tokio::sync::broadcast::Receiver<DeviceInput>) -> DeviceInput {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match rx.try_recv() {
            Ok(i) => return i,
            Err(tokio::sync::broadcast::error::TryRecvError::Empty)
                if Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("no input: {e:?}"),
        }
    }
}

#[test]
fn fragmented_slow_and_noisy_lines_still_decode() {
    let (_dir, sim, spec) = setup(None);
    let mut dev = SerialScanner::from_spec(&spec).unwrap();
    assert_eq!(dev.poll().health, Health::Online);
    sim.set_faults(SimFaults {
        // A power-up burst that ends in a line break, then the code in 3-byte pieces.
        garbage: b"\x00\x13\r\n".to_vec(),
        fragment: Some(3),
        delay_ms: 4,
        ..Default::default()
    })
    .unwrap();
    sim.present("320102199001011234").unwrap();
    let v = dev.run("scan", &json!({}), &ctx(3000)).unwrap();
    assert_eq!(v["payload"]["text"], "320102199001011234");
}

#[test]
fn gb18030_scanners_are_decoded() {
    let (_dir, sim, spec) = setup(None);
    let mut dev = SerialScanner::from_spec(&spec).unwrap();
    dev.poll();
    let (gbk, _, _) = encoding_rs::GB18030.encode("政务服务");
    sim.present_bytes(&gbk).unwrap();
    let v = dev.run("scan", &json!({}), &ctx(3000)).unwrap();
    assert_eq!(v["payload"]["text"], "政务服务");
    assert_eq!(v["gb18030"], true);
}

#[test]
fn trigger_mode_and_silence() {
    let (_dir, sim, spec) = setup(Some("16 54 0d"));
    let mut dev = SerialScanner::from_spec(&spec).unwrap();
    dev.poll();
    sim.present("A0001").unwrap();
    // The code is held in the scanner until the host triggers a read.
    let v = dev
        .run("scan", &json!({"timeout_ms": 3000}), &ctx(5000))
        .unwrap();
    assert_eq!(v["payload"]["text"], "A0001");
    assert_eq!(sim.triggers().unwrap(), 1);

    sim.set_faults(SimFaults {
        no_reply: true,
        ..Default::default()
    })
    .unwrap();
    sim.present("A0002").unwrap();
    let err = dev
        .run("scan", &json!({"timeout_ms": 200}), &ctx(5000))
        .unwrap_err();
    assert_eq!(err.code, CompletionCode::Timeout);
}

#[test]
fn cancel_stops_a_waiting_scan() {
    let (_dir, _sim, spec) = setup(None);
    let mut dev = SerialScanner::from_spec(&spec).unwrap();
    dev.poll();
    let c = ctx(10_000);
    let cancel = c.cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        cancel.cancel();
    });
    let started = Instant::now();
    assert_eq!(
        dev.run("scan", &json!({}), &c).unwrap_err().code,
        CompletionCode::Canceled
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    t.join().unwrap();
}

#[test]
fn unplug_goes_offline_and_replug_recovers() {
    let (_dir, sim, spec) = setup(None);
    let handle = DeviceHandle::spawn(
        Box::new(SerialScanner::from_spec(&spec).unwrap()),
        Duration::from_millis(50),
    );
    assert_eq!(handle.poll_now().unwrap().health, Health::Online);
    sim.unplug().unwrap();
    let mut seen = None;
    for _ in 0..1000 {
        let h = handle.poll_now().unwrap().health;
        if h != Health::Online {
            seen = Some(h);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        seen,
        Some(Health::NoDevice),
        "the path is gone, so the device is not there"
    );
    sim.replug().unwrap();
    let mut back = false;
    for _ in 0..1000 {
        if handle.poll_now().unwrap().health == Health::Online {
            back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(back, "scanner did not come back after replug");
    let mut inputs = handle.subscribe_input();
    sim.present("after-replug").unwrap();
    assert_eq!(recv(&mut inputs).data["payload"]["text"], "after-replug");
}

#[test]
fn bad_options_are_config_errors() {
    let mut spec = DeviceSpec::new("s", DeviceKind::QrScanner, DRIVER, TransportKind::Serial);
    spec.path = Some("/dev/null-scanner".into());
    spec.options.insert("trigger".into(), json!("zz"));
    let e = SerialScanner::from_spec(&spec).err().unwrap().to_string();
    assert!(e.contains("trigger"), "{e}");
    spec.options.clear();
    spec.options.insert("suffix".into(), json!(""));
    assert!(SerialScanner::from_spec(&spec).is_err());
    // An absent port is not a config error: the driver starts and reports no-device.
    spec.options.clear();
    let mut dev = SerialScanner::from_spec(&spec).unwrap();
    assert_eq!(dev.poll().health, Health::NoDevice);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Some(scan) = Scan::decode(&bytes, b"\r\n") {
            prop_assert!(!scan.text.is_empty());
            let _ = scan.payload(&PayloadRules::default());
        }
    }
}

#[test]
fn the_light_commands_reach_the_scanner_and_an_unconfigured_light_is_unsupported() {
    let (_dir, sim, spec) = setup_with(&[
        ("trigger", "16 54 0d"),
        ("light_on", "16 4c 31 0d"),
        ("light_off", "16 4c 30 0d"),
    ]);
    let mut dev = SerialScanner::from_spec(&spec).unwrap();
    dev.poll();
    let light = |sim: &ScannerSim| -> bool {
        // The simulator reads the line between requests.
        std::thread::sleep(Duration::from_millis(50));
        sim.inject("stats", &json!({})).unwrap()["light"] == true
    };
    dev.run("light", &json!({ "on": true }), &ctx(1000))
        .unwrap();
    assert!(light(&sim));
    // A light command between triggers does not disturb a triggered scan.
    sim.present("A0003").unwrap();
    dev.run("light", &json!({ "on": false }), &ctx(1000))
        .unwrap();
    let v = dev
        .run("scan", &json!({"timeout_ms": 3000}), &ctx(5000))
        .unwrap();
    assert_eq!(v["payload"]["text"], "A0003");
    assert!(!light(&sim));
    assert_eq!(sim.triggers().unwrap(), 1);
    assert_eq!(
        dev.run("light", &json!({}), &ctx(1000)).unwrap_err().code,
        CompletionCode::InvalidData
    );

    let (_dir, _sim, plain) = setup(None);
    let mut dev = SerialScanner::from_spec(&plain).unwrap();
    assert_eq!(
        dev.run("light", &json!({ "on": true }), &ctx(1000))
            .unwrap_err()
            .code,
        CompletionCode::Unsupported
    );
    let mut half = plain.clone();
    half.options.insert("light_on".into(), json!("16 4c 31 0d"));
    assert!(SerialScanner::from_spec(&half).is_err());
}
