//! The seal driver against its simulator over a real pty.

use super::sim::SealSim;
use super::*;
use crate::sim::{SimControl, SimEnv};
use crate::spec::TransportKind;
use kiosk_hal::DeviceKind;

const CODE: &str = "1122334455667788";

fn rig(code: &str) -> (tempfile::TempDir, SealSim, SerialSealMachine) {
    let dir = tempfile::tempdir().unwrap();
    let env = SimEnv::new(dir.path()).unwrap();
    let sim = SealSim::start("seal", &env, hex::decode(CODE).unwrap(), 4).unwrap();
    let mut spec = DeviceSpec::new(
        "seal",
        DeviceKind::SealModule,
        DRIVER,
        TransportKind::Serial,
    );
    spec.path = Some(sim.endpoint());
    spec.options.insert("auth_code".into(), json!(code));
    (dir, sim, SerialSealMachine::from_spec(&spec).unwrap())
}

fn ctx() -> CommandContext {
    CommandContext::with_timeout(Duration::from_secs(10))
}

fn stamp_args() -> Value {
    json!({"seal": 2, "x": 1500, "y": 2500, "authorisation": "auth-0001"})
}

#[test]
fn an_impression_runs_the_whole_sequence_with_before_and_after_events() {
    let (_d, sim, mut m) = rig(CODE);
    assert_eq!(m.poll().health, Health::Online);
    let out = m.run("stamp", &stamp_args(), &ctx()).unwrap();
    assert_eq!(out["authorisation"], "auth-0001");
    assert_eq!(out["ink_before"], 80);
    let actions: Vec<String> = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["phase"] == "after")
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "handshake",
            "lock",
            "lock",
            "select",
            "move",
            "stamp",
            "unlock",
            "unlock"
        ]
    );
    let before = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["phase"] == "before")
        .count();
    assert_eq!(before, actions.len());
    assert_eq!(
        sim.inject("impressions", &json!({})).unwrap(),
        json!([{"seal": 2, "x": 1500, "y": 2500}])
    );
    // The doors were unlocked again for the citizen to take the paper.
    let st = sim.inject("stats", &json!({})).unwrap();
    assert_eq!(st["status"]["paper_door_locked"], false);
    // An impression needs its authorisation id.
    let e = m
        .run("stamp", &json!({"seal": 1, "x": 1, "y": 1}), &ctx())
        .unwrap_err();
    assert_eq!(e.code, CompletionCode::InvalidData);
}

#[test]
fn a_wrong_authorisation_code_stamps_nothing() {
    let (_d, sim, mut m) = rig("0000000000000000");
    let e = m.run("stamp", &stamp_args(), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::NotReady);
    assert!(
        e.detail.contains("wrong authorisation code"),
        "{}",
        e.detail
    );
    assert_eq!(sim.inject("impressions", &json!({})).unwrap(), json!([]));
    assert_eq!(sim.inject("stats", &json!({})).unwrap()["wrong_codes"], 1);
}

#[test]
fn doors_jams_and_empty_pads_are_typed_and_leave_the_doors_unlocked() {
    let (_d, sim, mut m) = rig(CODE);
    sim.inject("open-door", &json!({"door": "paper"})).unwrap();
    let h = m.poll();
    assert_eq!(h.health, Health::UserError);
    assert!(h.sub.contains(&SubStatus::SealDoorOpen));
    let e = m.run("stamp", &stamp_args(), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::UserError);
    assert!(
        e.detail.contains("paper door was open before"),
        "{}",
        e.detail
    );
    sim.inject("close-door", &json!({"door": "paper"})).unwrap();

    sim.inject("open-during-stamp", &json!({})).unwrap();
    let e = m.run("stamp", &stamp_args(), &ctx()).unwrap_err();
    assert!(e.detail.contains("opened during stamping"), "{}", e.detail);
    sim.inject("close-door", &json!({"door": "paper"})).unwrap();

    sim.inject("ink", &json!({"seal": 2, "level": 0})).unwrap();
    let h = m.poll();
    assert!(h.sub.contains(&SubStatus::InkOut), "{h:?}");
    let e = m.run("stamp", &stamp_args(), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::UserError);
    assert!(e.detail.contains("out of ink"));
    sim.inject("ink", &json!({"seal": 2, "level": 60})).unwrap();

    sim.inject("jam", &json!({})).unwrap();
    let e = m.run("stamp", &stamp_args(), &ctx()).unwrap_err();
    assert_eq!(e.code, CompletionCode::HardwareError);
    assert!(e.detail.contains("jammed"), "{}", e.detail);
    let st = sim.inject("stats", &json!({})).unwrap();
    assert_eq!(
        st["status"]["paper_door_locked"], false,
        "paper trapped after a jam"
    );
    m.run("unlock", &json!({}), &ctx()).unwrap();
    m.run("reset", &json!({}), &ctx()).unwrap();
    m.run("stamp", &stamp_args(), &ctx()).unwrap();
    assert_eq!(
        sim.inject("impressions", &json!({}))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let e = m
        .run(
            "stamp",
            &json!({"seal": 9, "x": 1, "y": 1, "authorisation": "a"}),
            &ctx(),
        )
        .unwrap_err();
    assert_eq!(e.code, CompletionCode::InvalidData);
    let e = m
        .run(
            "stamp",
            &json!({"seal": 1, "x": 9000, "y": 1, "authorisation": "a"}),
            &ctx(),
        )
        .unwrap_err();
    assert_eq!(e.code, CompletionCode::InvalidData);
}

#[test]
fn seal_test_and_an_unplugged_module() {
    let (_d, sim, mut m) = rig(CODE);
    let out = m.run("seal-test", &json!({}), &ctx()).unwrap();
    assert_eq!(out["ink"], json!([80, 80, 80, 80]));
    sim.unplug().unwrap();
    assert!(matches!(
        m.poll().health,
        Health::Offline | Health::NoDevice
    ));
    sim.replug().unwrap();
    assert_eq!(m.poll().health, Health::Online);
}
