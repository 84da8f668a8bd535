//! The fault table, in the manner of Mender's state tests: an update interrupted at every step
//! (a kill: the process stops there, nothing is cleaned up), a corrupt, truncated or forged
//! bundle, a full disk, and a new version that never passes its health gate. Each case then
//! starts the terminal again as systemd would (boot check, then the version `current` points
//! at) and must end on a whole working version, with the outcome kept for the centre.

use std::path::Path;

use kiosk_protocol::signing::{Algorithm, SigningKey};

use super::bundle;
use super::slots::{no_faults, Slots, Step, UpdateError, UpdateResult};

const OLD: &[u8] = b"#!/bin/sh\necho hallkit 1.0.0\n";
const NEW: &[u8] = b"#!/bin/sh\necho hallkit 2.0.0\n";

/// A base as flash.sh leaves it: slot a holding version 1.0.0, `current` → slots/a.
fn provisioned() -> (tempfile::TempDir, Slots) {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("slots/a");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::write(a.join("kiosk"), OLD).unwrap();
    std::os::unix::fs::symlink("slots/a", dir.path().join("current")).unwrap();
    let slots = Slots::new(dir.path());
    (dir, slots)
}

fn bundle_file(dir: &Path, key: &SigningKey, body: &[u8]) -> std::path::PathBuf {
    let b = bundle::make(
        "2.0.0",
        &[("kiosk", body, 0o755), ("README", b"notes", 0o644)],
        key,
    );
    let path = dir.join("update.hkupd");
    std::fs::write(&path, b).unwrap();
    path
}

/// What a start runs: the whole `kiosk` of the slot `current` points at.
fn running(slots: &Slots) -> Vec<u8> {
    let slot = slots.current().unwrap();
    std::fs::read(slots.slot_dir(&slot).join("kiosk")).unwrap()
}

/// A kill at `at`: the fault stops the step there.
fn kill_at(at: Step) -> impl Fn(Step) -> std::io::Result<()> {
    move |s| {
        if s == at {
            Err(std::io::Error::other("killed"))
        } else {
            Ok(())
        }
    }
}

/// One start of the terminal: the boot check (from the committed slot), then the version
/// `current` points at; `healthy` says whether it passes its health gate and commits.
fn start(slots: &Slots, healthy: bool) {
    slots.boot_check(&no_faults).unwrap();
    if healthy && running(slots) == NEW {
        slots.commit(&no_faults).unwrap();
    }
}

#[test]
fn a_kill_at_every_install_step_leaves_a_whole_version() {
    let steps = [
        Step::Verify,
        Step::ClearSlot,
        Step::WriteFile(0),
        Step::WriteFile(1),
        Step::SealSlot,
        Step::WriteState,
        Step::Switch,
    ];
    for at in steps {
        let (dir, slots) = provisioned();
        let key = SigningKey::generate(Algorithm::Ed25519);
        let path = bundle_file(dir.path(), &key, NEW);
        let killed = slots.install(&path, &[key.public_key()], None, &kill_at(at));
        assert!(killed.is_err(), "{at:?}");
        // Started again, twice (a healthy old version never commits anything).
        start(&slots, true);
        start(&slots, true);
        assert_eq!(running(&slots), OLD, "{at:?}: the old version runs whole");
        assert!(slots.state().unwrap().pending.is_none(), "{at:?}");
        // Nothing stops the next attempt.
        slots
            .install(&path, &[key.public_key()], None, &no_faults)
            .unwrap();
        start(&slots, true);
        assert_eq!(running(&slots), NEW, "{at:?}: the retry lands");
        let last = slots.state().unwrap().last.unwrap();
        assert_eq!(last.result, UpdateResult::Committed, "{at:?}");
    }
}

#[test]
fn a_kill_at_every_start_and_commit_step_leaves_a_whole_version() {
    for at in [
        Step::BootCount,
        Step::Rollback,
        Step::CommitLink,
        Step::CommitState,
    ] {
        let (dir, slots) = provisioned();
        let key = SigningKey::generate(Algorithm::Sm2);
        let path = bundle_file(dir.path(), &key, NEW);
        slots
            .install(&path, &[key.public_key()], None, &no_faults)
            .unwrap();
        let healthy = !matches!(at, Step::Rollback);
        // The first start, killed at `at` wherever it comes.
        let first = slots.boot_check(&kill_at(at));
        if first.is_ok() && healthy && running(&slots) == NEW {
            let _ = slots.commit(&kill_at(at));
        }
        // A rollback killed halfway needs the failed start first.
        if at == Step::Rollback {
            let _ = slots.boot_check(&kill_at(at));
        }
        start(&slots, healthy);
        start(&slots, healthy);
        let version = running(&slots);
        assert!(version == OLD || version == NEW, "{at:?}");
        let state = slots.state().unwrap();
        assert!(state.pending.is_none(), "{at:?}: {state:?}");
        let last = state.last.unwrap();
        match at {
            // A kill before the committed link moved is a first start that never committed:
            // the next start rolls it back, as for any version that fails its gate.
            Step::Rollback | Step::CommitLink => {
                assert_eq!(version, OLD, "{at:?}");
                assert_eq!(last.result, UpdateResult::RolledBack);
            }
            _ => {
                assert_eq!(version, NEW, "{at:?}");
                assert_eq!(last.result, UpdateResult::Committed, "{at:?}");
            }
        }
    }
}

#[test]
fn bad_bundles_and_a_full_disk_change_nothing() {
    let (dir, slots) = provisioned();
    let key = SigningKey::generate(Algorithm::Ed25519);
    let trusted = [key.public_key()];
    let good = std::fs::read(bundle_file(dir.path(), &key, NEW)).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut corrupt = good.clone();
    let n = corrupt.len();
    corrupt[n - 8] ^= 0xff;
    let forger = SigningKey::generate(Algorithm::Ed25519);
    let forged = bundle::make("2.0.0", &[("kiosk", NEW, 0o755)], &forger);
    type Expect<'a> = &'a dyn Fn(&UpdateError) -> bool;
    let cases: Vec<(&str, std::path::PathBuf, Expect<'_>)> = vec![
        ("corrupt", write("c", &corrupt), &|e| {
            matches!(e, UpdateError::Bundle(bundle::BundleError::HashMismatch(_)))
        }),
        ("truncated", write("t", &good[..good.len() / 2]), &|e| {
            matches!(e, UpdateError::Bundle(bundle::BundleError::Truncated(_)))
        }),
        ("bad signature", write("f", &forged), &|e| {
            matches!(e, UpdateError::Bundle(bundle::BundleError::Untrusted(_)))
        }),
        ("not a bundle", write("n", b"MZ\x90\x00"), &|e| {
            matches!(e, UpdateError::Bundle(bundle::BundleError::NotABundle))
        }),
    ];
    for (what, path, expect) in cases {
        let e = slots
            .install(&path, &trusted, None, &no_faults)
            .unwrap_err();
        assert!(expect(&e), "{what}: {e}");
        slots.record_refusal("2.0.0", &e.to_string()).unwrap();
        start(&slots, true);
        assert_eq!(running(&slots), OLD, "{what}");
        assert!(
            !dir.path().join("slots/b.incoming").exists(),
            "{what}: no half slot"
        );
        assert_eq!(
            slots.state().unwrap().last.unwrap().result,
            UpdateResult::Refused
        );
    }
    // The disk fills while the slot is written.
    let path = write("u", &good);
    let full = |s: Step| {
        if s == Step::WriteFile(0) {
            Err(std::io::Error::from_raw_os_error(28))
        } else {
            Ok(())
        }
    };
    let e = slots.install(&path, &trusted, None, &full).unwrap_err();
    assert!(e.to_string().contains("No space left on device"), "{e}");
    start(&slots, true);
    assert_eq!(running(&slots), OLD);
    assert!(slots.state().unwrap().pending.is_none());
}

#[test]
fn a_version_that_fails_its_health_gate_is_rolled_back_and_reported_once() {
    let (dir, slots) = provisioned();
    let key = SigningKey::generate(Algorithm::Ed25519);
    let path = bundle_file(dir.path(), &key, NEW);
    assert_eq!(
        slots
            .install(&path, &[key.public_key()], None, &no_faults)
            .unwrap(),
        "2.0.0"
    );
    assert_eq!(running(&slots), NEW);
    // A second bundle while one waits for its gate is refused.
    assert!(matches!(
        slots.install(&path, &[key.public_key()], None, &no_faults),
        Err(UpdateError::AlreadyPending(v)) if v == "2.0.0"
    ));
    start(&slots, false);
    assert_eq!(running(&slots), NEW, "its first start is its chance");
    start(&slots, false);
    assert_eq!(running(&slots), OLD, "rolled back at the next start");
    let told = slots.take_unreported().unwrap().unwrap();
    assert_eq!(told.result, UpdateResult::RolledBack);
    assert!(told.reason.contains("health gate"), "{}", told.reason);
    assert!(slots.take_unreported().unwrap().is_none(), "reported once");
    // Deferred: checked after the bundle, so the reason is the hour, and nothing moves.
    let e = slots
        .install(
            &path,
            &[key.public_key()],
            Some("inside business hours".into()),
            &no_faults,
        )
        .unwrap_err();
    assert!(matches!(e, UpdateError::Deferred(_)), "{e}");
    assert_eq!(running(&slots), OLD);
    // Unprovisioned: said plainly.
    let bare = tempfile::tempdir().unwrap();
    let e = Slots::new(bare.path())
        .install(&path, &[key.public_key()], None, &no_faults)
        .unwrap_err();
    assert!(e.to_string().contains("run flash.sh first"), "{e}");
}
