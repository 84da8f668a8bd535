//! Two of the tenders' reliability figures, printed, never asserted:
//!
//! - monitoring footprint: RSS and average CPU of `kiosk run --headless` idle on the sim
//!   profile (embedded centre, simulated devices, no face models loaded) over
//!   `HALLKIT_FOOTPRINT_S` seconds (60), against 50 MB and 2 %;
//! - recovery after `kill -9`: the kiosk under a supervisor that restarts it as the unit's
//!   `Restart=always` / `RestartSec=2` does, killed `HALLKIT_KILLS` times (5); the time from the
//!   kill until the new process serves again (ready line printed and the centre answering
//!   `/health`), against 90 s.
//!
//!     cargo bench --profile dev -p kiosk-app --bench reliability

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn kiosk_bin() -> PathBuf {
    // The bench runs from target/<profile>/deps; the kiosk binary is one level up.
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("kiosk");
    assert!(
        bin.exists(),
        "{} is missing: cargo build -p kiosk-app --bin kiosk (same profile) first",
        bin.display()
    );
    bin
}

/// The sample sim config with its data in `dir`, files beside the repo's config.
fn config(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(repo.join("config/kiosk.sim.toml"))
        .unwrap()
        .replace(
            "data_dir = \"../var/sim\"",
            &format!("data_dir = {:?}", dir.join("data")),
        )
        .replace("port = 5846", "port = 0");
    let path = repo
        .join("config")
        .join(format!(".bench-reliability-{}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn start(cfg: &Path) -> (Child, String) {
    let mut child = Command::new(kiosk_bin())
        .args(["run", "--headless", "--config"])
        .arg(cfg)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
    let centre = ready["centre"].as_str().unwrap_or_default().to_string();
    (child, centre)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat; here 12 and 13 (state is 0).
    n(11) + n(12)
}

fn ticks_per_s() -> f64 {
    // SAFETY: sysconf only reads a constant of the system.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

fn serves(centre: &str) -> bool {
    reqwest::blocking::Client::new()
        .get(format!("{centre}/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .is_ok_and(|r| r.status().is_success())
}

fn footprint(cfg: &Path) {
    let secs: u64 = std::env::var("HALLKIT_FOOTPRINT_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let (mut child, _) = start(cfg);
    let pid = child.id();
    // Settle: first polls, first heartbeat, first sync.
    std::thread::sleep(Duration::from_secs(10));
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    let mut peak = 0;
    let mut samples = Vec::new();
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        let r = rss_kib(pid);
        peak = peak.max(r);
        samples.push(r);
    }
    let cpu = (cpu_ticks(pid) - c0) as f64 / ticks_per_s() / t0.elapsed().as_secs_f64() * 100.0;
    samples.sort();
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "footprint, kiosk run --headless idle on the sim profile, {secs} s: RSS median {:.1} MB, peak {:.1} MB (goal < 50 MB); CPU average {:.2} % of one core (goal < 2 %)",
        samples[samples.len() / 2] as f64 / 1024.0,
        peak as f64 / 1024.0,
        cpu
    );
}

fn recovery(cfg: &Path) {
    let kills: usize = std::env::var("HALLKIT_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    const RESTART_SEC: Duration = Duration::from_secs(2);
    let mut took = Vec::new();
    let (mut child, mut centre) = start(cfg);
    for _ in 0..kills {
        std::thread::sleep(Duration::from_secs(3));
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let killed = Instant::now();
        let _ = child.wait();
        // The supervisor notices the exit and starts it again after RestartSec.
        std::thread::sleep(RESTART_SEC);
        let (c, url) = start(cfg);
        child = c;
        centre = url;
        while !serves(&centre) {
            std::thread::sleep(Duration::from_millis(20));
        }
        took.push(killed.elapsed());
    }
    let _ = child.kill();
    let _ = child.wait();
    took.sort();
    println!(
        "recovery after kill -9 ({} kills, restart after {} s as the unit's RestartSec): median {:.2} s, slowest {:.2} s (goal 90 s); of which restart delay {} s",
        took.len(),
        RESTART_SEC.as_secs(),
        took[took.len() / 2].as_secs_f64(),
        took[took.len() - 1].as_secs_f64(),
        RESTART_SEC.as_secs()
    );
    let _ = centre;
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    footprint(&cfg);
    recovery(&cfg);
    let _ = std::fs::remove_file(&cfg);
}
