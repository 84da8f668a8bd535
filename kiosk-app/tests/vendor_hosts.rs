//! Other vendors' host software against HallKit's simulators, as a hall's integrator would
//! bench-test it with `kiosk simulate`: pyfingerprint (a widely used EF01 library) drives the
//! simulated fingerprint module through enrolment, search, image and template transfer,
//! parameters and deletion. The libraries live in a pinned virtualenv that
//! `scripts/setup-debian.sh` creates (`HALLKIT_VENDOR_HOSTS` points elsewhere).

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HALLKIT_VENDOR_HOSTS") {
        return PathBuf::from(p).join("bin/python");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    cache.join("hallkit/vendor-hosts-1/bin/python")
}

#[test]
fn pyfingerprint_runs_a_whole_session_against_the_simulated_module() {
    let py = python();
    assert!(
        py.exists(),
        "{} is missing: run scripts/setup-debian.sh (it creates the vendor hosts venv)",
        py.display()
    );
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&py)
        .arg(here.join("tests/vendor_hosts/pyfingerprint_session.py"))
        .arg(env!("CARGO_BIN_EXE_kiosk"))
        .arg(here.join("../config/kiosk.sim.toml"))
        .arg(dir.path().join("sim"))
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("pyfingerprint session complete"),
        "{stdout}"
    );
}
