//! The machine's pcscd, for the simulated IC card: the sim's virtual social-security card
//! talks to pcscd's vsmartcard reader (vpcd), so a tour or test that reads it needs pcscd
//! running with vpcd loaded. Started here when it is not (as `scripts/run.sh` does).

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// vpcd's second slot: listening means pcscd runs with vpcd (the first slot is the card's).
const VPCD_PROBE_PORT: u16 = 35964;

fn vpcd_listens() -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], VPCD_PROBE_PORT)),
        Duration::from_millis(300),
    )
    .is_ok()
}

/// Makes sure pcscd runs with vpcd, starting it (as root) when it does not.
pub fn ensure() -> Result<(), String> {
    if vpcd_listens() {
        return Ok(());
    }
    let running = Command::new("pgrep")
        .args(["-x", "pcscd"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if running {
        return Err(
            "pcscd runs without the vsmartcard reader (vpcd): install vsmartcard-vpcd (scripts/setup-debian.sh) and restart pcscd".into(),
        );
    }
    // pcscd needs root to open its socket and the card readers.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root {
        return Err("pcscd is not running: start it with `sudo pcscd`".into());
    }
    Command::new("pcscd")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("pcscd cannot be started ({e}): run scripts/setup-debian.sh"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !vpcd_listens() {
        if Instant::now() > deadline {
            return Err("pcscd started but did not load the vsmartcard reader (vpcd)".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
