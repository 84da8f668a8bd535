//! Remote commands end to end: an operator queues commands at the centre over HTTP; the
//! terminal runs each once against its simulated devices, through lost acknowledgements and a
//! crash mid-command, and the centre ends up with one acknowledgement per command.

use std::sync::Arc;
use std::time::Duration;

use kiosk_app::centre::commands::{PollReport, RemoteCommands};
use kiosk_app::centre::{BlockingCentre, CentreClient};
use kiosk_app::config::SealOffline;
use kiosk_app::journal::{Journal, Outbox};
use kiosk_app::runtime::Owner;
use kiosk_app::services::outputs::OutputDesk;
use kiosk_app::{Profile, Runtime};
use kiosk_e2e::sample_config;
use kiosk_hal::clock::SystemClock;
use kiosk_protocol::wire::{CommandState, QueuedCommand};
use serde_json::json;

const DEVICE: &str = "KSK-320583-0001";

fn queue(base: &str, request_id: &str, command: serde_json::Value) -> QueuedCommand {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{base}/api/v1/devices/{DEVICE}/commands"))
        .json(&json!({ "request_id": request_id, "command": command }))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().unwrap()
}

fn state(base: &str, id: u64) -> QueuedCommand {
    reqwest::blocking::get(format!("{base}/api/v1/devices/{DEVICE}/commands/{id}"))
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn remote_commands_run_once_through_lost_acks_and_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = sample_config("kiosk.sim.toml", dir.path());
    cfg.devices.retain(|d| d.id == "receipt");
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let store = kiosk_central::SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = tokio
        .block_on(kiosk_central::CentreHandle::start("127.0.0.1:0", store))
        .unwrap();
    let base = centre.base_url();
    let rt = Arc::new(Runtime::start(&cfg, Profile::Sim, SystemClock::shared()).unwrap());
    let outbox = Journal::new(
        Outbox::open(&dir.path().join("outbox.db"), DEVICE, SystemClock::shared()).unwrap(),
    );
    let client = CentreClient::plain(&base, DEVICE).unwrap();
    let desk = OutputDesk {
        rt: rt.clone(),
        journal: outbox.clone(),
        centre: Some(BlockingCentre::new(client.clone(), tokio.handle().clone())),
        seal_offline: SealOffline::Refuse,
        timeout: Duration::from_secs(30),
    };
    let remote = RemoteCommands::new(client, rt.clone(), outbox.clone(), desk)
        .with_claim_wait(Duration::from_millis(300));
    let receipts = || {
        rt.device("receipt")
            .unwrap()
            .sim
            .as_ref()
            .unwrap()
            .inject("stats", &json!({}))
            .unwrap()["receipts"]
            .as_u64()
            .unwrap()
    };

    // A test print, queued by an operator, runs and is acknowledged with the printer's answer.
    let print = json!({"type": "device-action", "device": "receipt", "action": "print-test"});
    let c1 = queue(&base, "op-1", print.clone());
    let r = tokio.block_on(remote.poll_once()).unwrap();
    assert_eq!(
        r,
        PollReport {
            ran: 1,
            ..Default::default()
        }
    );
    assert_eq!(receipts(), 1);
    let done = state(&base, c1.id);
    assert_eq!(done.state, CommandState::Done);
    assert_eq!(done.ack.unwrap().result["outcome"], "printed");
    assert!(tokio.block_on(remote.poll_once()).unwrap() == PollReport::default());
    // The remote test print is an output like any other: an intent before, a result after.
    let outputs: Vec<(String, serde_json::Value)> = outbox
        .lock()
        .events_like("output.", 10)
        .unwrap()
        .into_iter()
        .map(|(_, k, p)| (k, p))
        .collect();
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert_eq!(outputs[0].0, "output.intent");
    assert_eq!(outputs[0].1["purpose"], "remote-command");
    assert_eq!(outputs[1].1["outcome"], "printed");
    assert_eq!(outputs[0].1["output_id"], outputs[1].1["output_id"]);

    // Run, but the acknowledgement is lost: delivered again, answered from the record.
    let c2 = queue(&base, "op-2", print.clone());
    let pending = tokio.block_on(remote.pending()).unwrap();
    tokio.block_on(remote.execute(&pending[0])).unwrap();
    assert_eq!(receipts(), 2);
    assert_eq!(state(&base, c2.id).state, CommandState::Delivered);
    let r = tokio.block_on(remote.poll_once()).unwrap();
    assert_eq!(
        r,
        PollReport {
            answered_again: 1,
            ..Default::default()
        }
    );
    assert_eq!(receipts(), 2, "printed twice");
    assert_eq!(state(&base, c2.id).state, CommandState::Done);

    // The terminal stopped while running a command: reported as interrupted, not repeated.
    let c3 = queue(&base, "op-3", print);
    outbox.lock().command_started(c3.id).unwrap();
    let r = tokio.block_on(remote.poll_once()).unwrap();
    assert_eq!(
        r,
        PollReport {
            interrupted: 1,
            ..Default::default()
        }
    );
    assert_eq!(receipts(), 2);
    let c3 = state(&base, c3.id);
    assert_eq!(c3.state, CommandState::Failed);
    assert!(c3.ack.unwrap().detail.contains("interrupted"));

    // A failing action is acknowledged as failed, with the device's reason.
    rt.device("receipt")
        .unwrap()
        .sim
        .as_ref()
        .unwrap()
        .inject("paper-out", &json!({}))
        .unwrap();
    let c4 = queue(
        &base,
        "op-4",
        json!({"type": "device-action", "device": "receipt", "action": "print-test"}),
    );
    let c5 = queue(&base, "op-5", json!({"type": "upload-now"}));
    let r = tokio.block_on(remote.poll_once()).unwrap();
    assert_eq!(r.ran, 2);
    let c4 = state(&base, c4.id);
    assert_eq!(c4.state, CommandState::Failed);
    assert!(c4.ack.unwrap().detail.contains("out of paper"));
    // Upload-now drained the outbox: the command records went to the centre.
    assert_eq!(state(&base, c5.id).state, CommandState::Done);
    let counts = outbox.lock().counts().unwrap();
    assert_eq!(
        counts.pending, 1,
        "only upload-now's own record is left: {counts:?}"
    );

    // A printer a citizen's journey holds: the command waits its turn, then reports the
    // holder instead of printing over the citizen's ticket.
    let held = rt
        .claim(
            "receipt",
            Owner::Flow("ticket#1".into()),
            Duration::from_secs(600),
            Duration::ZERO,
        )
        .unwrap();
    let c6 = queue(
        &base,
        "op-6",
        json!({"type": "device-action", "device": "receipt", "action": "print-test"}),
    );
    let r = tokio.block_on(remote.poll_once()).unwrap();
    assert_eq!(r.ran, 1);
    let c6 = state(&base, c6.id);
    assert_eq!(c6.state, CommandState::Failed);
    assert!(
        c6.ack
            .as_ref()
            .unwrap()
            .detail
            .contains("held by flow ticket#1"),
        "{:?}",
        c6.ack
    );
    drop(held);

    tokio.block_on(centre.stop()).unwrap();
}
