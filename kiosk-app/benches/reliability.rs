//! Two of the tenders' reliability figures, printed, never asserted:
//!
//! - monitoring footprint: RSS and average CPU of `kiosk run --headless` idle on the sim
//!   profile (simulated devices, no face models loaded) over `HALLKIT_FOOTPRINT_S` seconds
//!   (60), against 50 MB and 2 %. Measured twice: as on a terminal, the centre a process of its
//!   own (`kiosk-central serve`, as the hall's centre is another machine); and all in one, the
//!   centre embedded as `make run` has it. RSS is split into anonymous memory (the process's
//!   own) and file pages (the binary and shared libraries, OpenCV's among them, shared with
//!   every other process that maps them);
//! - recovery after `kill -9`: the kiosk under a supervisor that restarts it as the unit's
//!   `Restart=always` / `RestartSec=2` does, killed `HALLKIT_KILLS` times (5); the time from the
//!   kill until the new process serves again (ready line printed and the centre answering
//!   `/health`), against 90 s.
//!
//! Run on the release binaries (`--profile dev` throughout for the dev build's figures):
//!
//! ```text
//! cargo build --release -p kiosk-app --bin kiosk
//! cargo build --release -p kiosk-central --bin kiosk-central
//! cargo bench -p kiosk-app --bench reliability
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A binary of this profile's build: `kiosk` or `kiosk-central`.
fn binary(name: &str) -> PathBuf {
    // The bench runs from target/<profile>/deps; the binaries are one level up.
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        bin.exists(),
        "{} is missing: cargo build --bin {name} (same profile) first",
        bin.display()
    );
    bin
}

fn kiosk_bin() -> PathBuf {
    binary("kiosk")
}

/// The centre as its own process, as a terminal has it; killed when dropped.
struct Centre(Child, String);

impl Centre {
    fn start(dir: &Path) -> Centre {
        let mut serve = Command::new(binary("kiosk-central"));
        serve
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(dir.join("central.db"));
        let (child, line) = spawn_until_ready(serve);
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string();
        Centre(child, url)
    }
}

impl Drop for Centre {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sim config as on a terminal: the centre at `url`, not embedded.
fn with_centre(cfg: &Path, url: &str) -> PathBuf {
    let text = std::fs::read_to_string(cfg).unwrap().replacen(
        "[centre]\n",
        &format!("[centre]\nurl = {url:?}\n"),
        1,
    );
    let path = cfg.with_extension("remote.toml");
    std::fs::write(&path, text).unwrap();
    path
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

/// Starts `cmd` and waits for the first line it prints (its "ready" line).
fn spawn_until_ready(mut cmd: Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

fn start(cfg: &Path) -> (Child, String) {
    let mut run = Command::new(kiosk_bin());
    run.args(["run", "--headless", "--config"])
        .arg(cfg)
        .env("RUST_LOG", "warn");
    let (child, line) = spawn_until_ready(run);
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
    let centre = ready["centre"].as_str().unwrap_or_default().to_string();
    (child, centre)
}

/// A `/proc/PID/status` figure in KiB: `VmRSS`, `RssAnon`, `RssFile`.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    stat_ticks(&format!("/proc/{pid}/stat"))
}

/// CPU ticks of the process's simulator threads (`sim-*`, `vicc-*`): the simulated devices
/// run inside the sim profile's process, and a terminal has real devices instead.
fn simulator_ticks(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            comm.starts_with("sim-") || comm.starts_with("vicc-")
        })
        .map(|t| stat_ticks(&t.path().join("stat").to_string_lossy()))
        .sum()
}

fn stat_ticks(path: &str) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
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

fn footprint(cfg: &Path, how: &str) {
    let secs: u64 = std::env::var("HALLKIT_FOOTPRINT_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let (mut child, _) = start(cfg);
    let pid = child.id();
    // Settle: first polls, first heartbeat, first sync.
    std::thread::sleep(Duration::from_secs(10));
    let (t0, c0, s0) = (Instant::now(), cpu_ticks(pid), simulator_ticks(pid));
    let mut peak = 0;
    let (mut rss, mut anon, mut file) = (Vec::new(), Vec::new(), Vec::new());
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        let r = status_kib(pid, "VmRSS");
        peak = peak.max(r);
        rss.push(r);
        anon.push(status_kib(pid, "RssAnon"));
        file.push(status_kib(pid, "RssFile"));
    }
    let percent = |ticks: u64| ticks as f64 / ticks_per_s() / t0.elapsed().as_secs_f64() * 100.0;
    let cpu = percent(cpu_ticks(pid).saturating_sub(c0));
    let sims = percent(simulator_ticks(pid).saturating_sub(s0));
    let _ = child.kill();
    let _ = child.wait();
    let median = |v: &mut Vec<u64>| {
        v.sort();
        v[v.len() / 2] as f64 / 1024.0
    };
    println!(
        "footprint, kiosk run --headless idle on the sim profile, {how}, {secs} s: RSS median {:.1} MB (anonymous {:.1} MB, file pages {:.1} MB), peak {:.1} MB (goal < 50 MB); CPU average {:.2} % of one core, of which the simulated devices {:.2} %, the terminal's own {:.2} % (goal < 2 %)",
        median(&mut rss),
        median(&mut anon),
        median(&mut file),
        peak as f64 / 1024.0,
        cpu,
        sims,
        cpu - sims
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
    {
        let centre = Centre::start(dir.path());
        let remote = with_centre(&cfg, &centre.1);
        footprint(&remote, "centre in its own process as on a terminal");
        let _ = std::fs::remove_file(&remote);
    }
    footprint(&cfg, "centre embedded");
    recovery(&cfg);
    let _ = std::fs::remove_file(&cfg);
}
