//! The `kiosk` binary as a technician and the service manager use it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::*;

#[test]
fn run_starts_headless_serves_the_centre_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let run = KioskRun::start(&cfg, None);
    let line = &run.ready;
    let ready: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["profile"], "sim");
    let devices = ready["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 9);
    assert!(devices.iter().all(|d| d["health"] == "online"), "{ready}");

    let url = ready["centre"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let health: serde_json::Value = rt.block_on(async {
        reqwest::get(format!("{url}/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(health["status"], "ok");
    // The first heartbeat goes out at start: the centre's monitoring view sees every device.
    let status = rt.block_on(async {
        for _ in 0..600 {
            let r = reqwest::get(format!("{url}/api/v1/devices/KSK-320583-0001/status"))
                .await
                .unwrap();
            if r.status() == 200 {
                return r.json::<serde_json::Value>().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no heartbeat reached the centre");
    });
    assert_eq!(
        status["peripherals"].as_array().unwrap().len(),
        9,
        "{status}"
    );
    assert!(
        status["peripherals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "normal"),
        "{status}"
    );

    let (err, stopped) = run.stop_report();
    // The start event and the stop event were queued and reached the centre before it stopped:
    // nothing is left pending in the outbox.
    assert_eq!(stopped["outbox"]["pending"], 0, "{stopped}");
    assert!(
        stopped["outbox"]["acknowledged"].as_u64().unwrap() >= 2,
        "{stopped}"
    );
    assert!(
        err.contains("running headless"),
        "the headless message is missing: {err}"
    );
    assert!(
        rt.block_on(reqwest::get(format!("{url}/health"))).is_err(),
        "centre still up after stop"
    );
}

#[test]
fn config_errors_name_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), ", sufix = \"\\n\"");
    let out = kiosk()
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:", cfg.display())) && err.contains("sufix"),
        "{err}"
    );
    let good = config_in(dir.path(), "");
    let out = kiosk()
        .args(["check-config", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn devctl_talks_to_the_scanner_over_a_pty() {
    let dir = tempfile::tempdir().unwrap();
    // Trigger mode: the simulated scanner holds a presented code until the driver triggers it,
    // so the test does not race the driver opening the port.
    let cfg = config_in(dir.path(), ", trigger = \"16 54 0d\"");
    let mut sim = kiosk()
        .args(["simulate", "scanner", "--config"])
        .arg(&cfg)
        .arg("--dir")
        .arg(dir.path().join("sim"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (line, mut sim_out) = first_line(&mut sim);
    let hello: serde_json::Value = serde_json::from_str(&line).unwrap();
    let endpoint = hello["endpoint"].as_str().unwrap().to_string();
    assert!(Path::new(&endpoint).exists(), "{endpoint}");
    let mut sim_in = sim.stdin.take().unwrap();
    writeln!(sim_in, "scan {{\"text\": \"预约码 YY20261122-0042\"}}").unwrap();
    let mut ack = String::new();
    sim_out.read_line(&mut ack).unwrap();
    assert!(ack.contains("\"ok\":true"), "{ack}");

    let devctl = |words: &[&str]| {
        kiosk()
            .args(["devctl", "--profile", "hardware", "--config"])
            .arg(&cfg)
            .arg("--port")
            .arg(format!("scanner={endpoint}"))
            .args(words)
            .output()
            .unwrap()
    };
    let out = devctl(&["scanner", "scan", "timeout_ms=5000"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["result"]["payload"],
        serde_json::json!({"type": "text", "text": "预约码 YY20261122-0042"})
    );

    let out = devctl(&["status", "scanner"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["health"], "online");

    let out = devctl(&["self-test", "scanner"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"]["trigger_sent"], true, "{v}");

    // Nothing presented: the scan times out with a typed completion and exit status 1.
    let out = devctl(&["scanner", "scan", "timeout_ms=300"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["completion"], "timeout");

    // Unplugged: the device reports no-device, not a crash.
    writeln!(sim_in, "unplug").unwrap();
    let mut ack = String::new();
    sim_out.read_line(&mut ack).unwrap();
    let out = devctl(&["status", "scanner"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["health"], "no-device", "{v}");

    drop(sim_in);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "simulator did not exit at end of input"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn devctl_in_the_sim_profile_lists_and_drives_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let run = |words: &[&str]| {
        let out = kiosk()
            .args(["devctl", "--config"])
            .arg(&cfg)
            .args(words)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            words,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let list = run(&["list"]);
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "idcard",
            "fingerprint",
            "scanner",
            "receipt",
            "a4",
            "seal",
            "board",
            "docam",
            "face"
        ]
    );
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["simulated"] == true));
    let v = run(&[
        "board",
        "light",
        "module=idcard",
        "mode=blink",
        "period_ms=400",
    ]);
    assert_eq!(v["result"]["mode"]["mode"], "blink");
    let v = run(&["actions", "board"]);
    assert!(v.as_array().unwrap().iter().any(|a| a["name"] == "sensors"));
    let v = run(&["self-test", "board"]);
    assert_eq!(v["result"]["lights_tested"], 4);
    let out = kiosk()
        .args(["devctl", "--config"])
        .arg(&cfg)
        .args(["nosuch", "scan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn screenshot_renders_the_device_status_screen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    for (portrait, name, w, h) in [
        (false, "status.png", 1920, 1080),
        (true, "status-portrait.png", 1080, 1920),
    ] {
        let png = dir.path().join(name);
        let mut cmd = kiosk();
        cmd.args(["screenshot", "device-status"])
            .arg(&png)
            .arg("--config")
            .arg(&cfg);
        if portrait {
            cmd.arg("--portrait");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (w, h));
        // Keep a copy where a person can look at it after the test run.
        let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::copy(&png, keep).unwrap();
    }
    let out = kiosk()
        .args(["screenshot", "nowhere", "x.png", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A private X server for the window test, stopped on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        Xvfb::with_screen("1920x1080x24")
    }

    /// An X server whose one screen is `geometry` (width x height x depth), checked to accept
    /// clients before it is handed out.
    fn with_screen(geometry: &str) -> Xvfb {
        let _one_at_a_time = X_SERVERS.lock().unwrap_or_else(|e| e.into_inner());
        let mut refused = Vec::new();
        for _ in 0..3 {
            let (mut child, display) = spawn_xvfb(geometry);
            if accepts_clients(&display, Duration::from_secs(10)) {
                return Xvfb { child, display };
            }
            refused.push(display);
            terminate(&mut child);
        }
        panic!("Xvfb started on {refused:?} but refused every client");
    }
}

/// Two X servers starting (or stopping) at the same moment can leave one that refuses clients
/// for a while: CI's kiosk once got "Failed to open connection to X server" on a display that
/// answered `xwininfo` later, and two concurrent `Xvfb -displayfd` runs showed it here (2 in 30).
/// So this test binary starts and stops its X servers one at a time.
static X_SERVERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts Xvfb on a display it picks itself (`-displayfd`), which it reports once it listens.
fn spawn_xvfb(geometry: &str) -> (Child, String) {
    let mut child = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            geometry,
            "-nolisten",
            "tcp",
            // Without it Xvfb resets when its last client leaves (the readiness probe below)
            // and refuses connections meanwhile: the kiosk, starting just then, got "Failed to
            // open connection to X server" now and then.
            "-noreset",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb is installed by scripts/setup-debian.sh");
    let mut number = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut number)
        .unwrap();
    let number = number.trim();
    assert!(
        !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        "Xvfb did not start: {number:?}"
    );
    (child, format!(":{number}"))
}

/// Whether a real X client can open `display` within `wait`.
fn accepts_clients(display: &str, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        let ok = Command::new("xwininfo")
            .args(["-root"])
            .env("DISPLAY", display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM lets Xvfb remove its lock file and socket; SIGKILL would leave them behind.
fn terminate(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _one_at_a_time = X_SERVERS.lock().unwrap_or_else(|e| e.into_inner());
        terminate(&mut self.child);
    }
}

/// Waits until the kiosk's window is on `x`'s screen, found by its title. The deadline only
/// bounds a hang: a loaded CI machine may take its time.
fn wait_for_window(run: &mut KioskRun, x: &Xvfb) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let o = Command::new("xwininfo")
            .args(["-root", "-tree"])
            .env("DISPLAY", &x.display)
            .output()
            .unwrap();
        let tree = String::from_utf8_lossy(&o.stdout).to_string();
        if tree.contains("政务服务自助终端") {
            return Ok(());
        }
        let exited = !matches!(run.child.try_wait(), Ok(None));
        if exited || Instant::now() > deadline {
            return Err(tree);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn run_opens_a_window_when_a_display_exists() {
    let x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let mut run = KioskRun::start(&cfg, Some(&x.display));
    assert!(run.ready.contains("\"ready\":true"), "{}", run.ready);
    if let Err(tree) = wait_for_window(&mut run, &x) {
        let why = run.kill();
        panic!("no kiosk window on {}: {tree}\n{why}", x.display);
    }
    let err = run.stop();
    assert!(
        !err.contains("running headless"),
        "it ran headless despite a display: {err}"
    );
}

/// The children of `pid` named `name`, from /proc.
fn children_named(pid: u32, name: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // pid (comm) state ppid …
            let Some((comm, rest)) = stat.split_once(") ") else {
                return false;
            };
            comm.ends_with(&format!("({name}"))
                && rest.split_whitespace().nth(1) == Some(&pid.to_string())
                && !rest.starts_with('Z')
        })
        .collect()
}

#[test]
fn run_stops_in_order_when_the_display_goes_away() {
    let mut x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let mut run = KioskRun::start(&cfg, Some(&x.display));
    if let Err(tree) = wait_for_window(&mut run, &x) {
        let why = run.kill();
        panic!("no kiosk window on {}: {tree}\n{why}", x.display);
    }
    // The sim profile's private CUPS scheduler runs as the kiosk's child.
    let cupsd = children_named(run.child.id(), "cupsd");
    assert_eq!(cupsd.len(), 1, "{cupsd:?}");
    // The X server goes away under the kiosk.
    {
        let _one_at_a_time = X_SERVERS.lock().unwrap_or_else(|e| e.into_inner());
        terminate(&mut x.child);
    }
    let (status, err, stopped) = run.finish();
    assert!(
        !status.success(),
        "a lost display must end with an error status: {err}"
    );
    assert!(
        err.contains("the X display connection was lost; stopping in order"),
        "{err}"
    );
    // It stopped in order: the stop event and everything before it reached the centre.
    assert_eq!(stopped["stopped"], true, "{stopped}\n{err}");
    assert_eq!(stopped["display_lost"], true, "{stopped}");
    assert_eq!(stopped["outbox"]["pending"], 0, "{stopped}");
    // And its children went with it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::path::Path::new(&format!("/proc/{}", cupsd[0])).exists()
        && !std::fs::read_to_string(format!("/proc/{}/stat", cupsd[0]))
            .unwrap_or_default()
            .contains(") Z ")
    {
        assert!(
            Instant::now() < deadline,
            "cupsd {} outlived the kiosk",
            cupsd[0]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn run_stops_in_order_and_fails_when_the_display_never_shows_its_window() {
    // An 8-bit display has no visual the window can draw with: Slint fails to create the
    // window inside its event loop and, left alone, would run on with a black screen.
    let x = Xvfb::with_screen("1024x768x8");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("window_wait_s = 15", "window_wait_s = 1")
        .replace("window_attempts = 4", "window_attempts = 2");
    std::fs::write(&cfg, text).unwrap();
    let run = KioskRun::start(&cfg, Some(&x.display));
    assert!(run.ready.contains("\"ready\":true"), "{}", run.ready);
    let (status, err, stopped) = run.finish();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("the kiosk window has not appeared; asking for it again"),
        "{err}"
    );
    assert!(
        err.contains("the kiosk window never appeared on the display (asked 2 times)"),
        "{err}"
    );
    // Slint's own reason is passed on for the technician.
    assert!(err.contains("softbuffer"), "{err}");
    // The terminal still stopped in order: its stop event reached the centre.
    assert_eq!(stopped["stopped"], true, "{stopped}");
    assert_eq!(stopped["outbox"]["pending"], 0, "{stopped}");
}

#[test]
fn devctl_reads_a_simulated_id_card_and_decodes_captures() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let out = kiosk()
        .args(["devctl", "--config"])
        .arg(&cfg)
        .args([
            "sim",
            "idcard",
            "place",
            "card=hk-permit",
            "then",
            "idcard",
            "read-card",
            "reveal=true",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[1]["result"]["identity"]["pass_number"], "H60123456");
    assert_eq!(v[1]["result"]["photo"]["decoded"], true);

    // Read again without lifting: the reader says no (new) card, a user error, exit status 1.
    let out = kiosk()
        .args(["devctl", "--config"])
        .arg(&cfg)
        .args([
            "sim",
            "idcard",
            "place",
            "card=resident",
            "then",
            "idcard",
            "read-card",
            "then",
            "idcard",
            "read-card",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[1]["result"]["identity"]["number"], "3205**********1232");
    assert_eq!(v[2]["completion"], "user-error");

    // A captured frame, as hex text, decodes offline; a damaged one is a typed error.
    let good = dir.path().join("read.hex");
    let bad = dir.path().join("bad.bin");
    let frame = kiosk_drivers::idcard::frame::Reply::new(
        0x90,
        kiosk_drivers::idcard::build_read_payload(
            &kiosk_drivers::idcard::RawRead {
                text: kiosk_drivers::idcard::identity::encode_text(
                    &kiosk_drivers::idcard::sim::CardFixture::builtin("resident")
                        .unwrap()
                        .identity,
                )
                .to_vec(),
                wlt: vec![0; 1024],
                fingerprint: None,
            },
            false,
        ),
    )
    .encode()
    .unwrap();
    std::fs::write(
        &good,
        frame
            .iter()
            .map(|b| format!("{b:02X} "))
            .collect::<String>(),
    )
    .unwrap();
    let mut damaged = frame.clone();
    damaged[200] ^= 0x55;
    std::fs::write(&bad, &damaged).unwrap();
    let out = kiosk()
        .args(["devctl", "--config"])
        .arg(&cfg)
        .args(["idcard", "decode"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["identity"]["card_type"], "resident");
    assert_eq!(v["identity"]["number"], "3205**********1232");
    let out = kiosk()
        .args(["devctl", "--config"])
        .arg(&cfg)
        .args(["idcard", "decode"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], "frame", "{v}");
}

#[test]
fn devctl_prints_a_ticket_on_the_virtual_printer_and_renders_byte_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let out = kiosk()
        .args(["devctl", "--config"])
        .arg(&cfg)
        .args([
            "receipt",
            "print-test",
            "then",
            "sim",
            "receipt",
            "receipts",
            "then",
            "sim",
            "receipt",
            "paper-out",
            "then",
            "receipt",
            "print-test",
        ])
        .output()
        .unwrap();
    // The second job fails: exit status 1, and the sequence stops there.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["result"]["outcome"], "printed", "{v}");
    assert_eq!(v[1]["result"].as_array().unwrap().len(), 1);
    assert!(v[1]["result"][0]["text"]
        .as_str()
        .unwrap()
        .contains("打印机自检"));
    assert_eq!(v[3]["completion"], "user-error");
    assert!(
        v[3]["detail"].as_str().unwrap().contains("out of paper"),
        "{v}"
    );

    let bin = dir.path().join("ticket.bin");
    let ticket = kiosk_drivers::escpos::templates::QueueTicket {
        hall: "昆山市政务服务中心".into(),
        number: "B107".into(),
        service: "不动产登记".into(),
        waiting: Some(12),
        issued_at: "2026-11-23 14:05".into(),
        qr_url: "https://zwfw.example/queue/B107".into(),
        window_hint: None,
    };
    let mut bytes = ticket
        .receipt(kiosk_drivers::escpos::Paper::Mm58)
        .encode()
        .unwrap();
    bytes.extend(bytes.clone());
    std::fs::write(&bin, &bytes).unwrap();
    let png = dir.path().join("ticket.png");
    let out = kiosk()
        .args(["devctl", "--config"])
        .arg(&cfg)
        .args(["escpos", "render"])
        .arg(&bin)
        .arg(&png)
        .arg("paper=58mm")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pages = v["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0]["width"], 384);
    assert!(pages[1]["text"].as_str().unwrap().contains("B107"));
    assert!(dir.path().join("ticket-2.png").exists());

    std::fs::write(&bin, &bytes[..bytes.len() - 2]).unwrap();
    let out = kiosk()
        .args(["devctl", "--config"])
        .arg(&cfg)
        .args(["escpos", "render"])
        .arg(&bin)
        .arg(&png)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], "truncated", "{v}");
}

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(rel)
}

#[test]
fn image_scan_turns_a_camera_still_into_a_clean_page_and_a_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let still = dir.path().join("still.jpg");
    let out = kiosk()
        .args(["devctl", "--config"])
        .arg(&cfg)
        .args(["docam", "capture"])
        .arg(format!("path={}", still.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scanned = dir.path().join("page.jpg");
    let out = kiosk()
        .args(["image", "scan"])
        .arg(&still)
        .arg(&scanned)
        .args(["--mode", "grey", "--max-kb", "150"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["bytes"].as_u64().unwrap() <= 150 * 1024);
    assert!(v["pages"][0]["report"]["corners"].is_array(), "{v}");
    assert!(std::fs::metadata(&scanned).unwrap().len() <= 150 * 1024);
    let pdf = dir.path().join("two.pdf");
    let out = kiosk()
        .args(["image", "scan"])
        .arg(&still)
        .arg(&still)
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    // Several photos into one JPEG, or a file that is no image: clear errors, exit 1.
    let out = kiosk()
        .args(["image", "scan"])
        .arg(&still)
        .arg(&still)
        .arg(&scanned)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".pdf"));
    let out = kiosk()
        .args(["image", "scan"])
        .arg(&cfg)
        .arg(&scanned)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an image"));
}

#[test]
fn face_verify_prints_the_decision_and_score_as_json() {
    let run = |card: &str, probe: &str| {
        let out = kiosk()
            .args(["face", "verify", "--card"])
            .arg(shared(card))
            .arg("--probe")
            .arg(shared(probe))
            .arg("--models")
            .arg(shared("models"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let v = run("faces/deepface_img1.jpg", "faces/deepface_img4.jpg");
    assert_eq!(v["decision"], "verified", "{v}");
    assert!(v["score"].as_f64().unwrap() > v["threshold"].as_f64().unwrap());
    let v = run("faces/deepface_img1.jpg", "faces/deepface_img8.jpg");
    assert_eq!(v["decision"], "not-verified", "{v}");
    let v = run("faces/deepface_img1.jpg", "faces/silentface_image_F2.jpg");
    assert_eq!(v["decision"], "spoof", "{v}");
    // No models where it looks: unavailable, said plainly.
    let dir = tempfile::tempdir().unwrap();
    let out = kiosk()
        .args(["face", "verify", "--card"])
        .arg(shared("faces/deepface_img1.jpg"))
        .arg("--probe")
        .arg(shared("faces/deepface_img4.jpg"))
        .arg("--models")
        .arg(dir.path())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "unavailable");
    assert!(v["reason"].as_str().unwrap().contains("missing"), "{v}");
}

/// The README's offline `kiosk devctl` lines run exactly as written: no configuration file,
/// no /etc/hallkit, just the files they name.
#[test]
fn readme_offline_devctl_lines_run_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let lines: Vec<Vec<String>> = readme
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| l.starts_with("kiosk devctl ") && !l.contains("--config"))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert!(
        lines.iter().any(|l| l.contains(&"decode".to_string()))
            && lines.iter().any(|l| l.contains(&"render".to_string())),
        "the README lost its offline devctl lines: {lines:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    // The files the lines name: a captured reader reply as hex text, an ESC/POS job.
    let frame = kiosk_drivers::idcard::frame::Reply::new(
        0x90,
        kiosk_drivers::idcard::build_read_payload(
            &kiosk_drivers::idcard::RawRead {
                text: kiosk_drivers::idcard::identity::encode_text(
                    &kiosk_drivers::idcard::sim::CardFixture::builtin("resident")
                        .unwrap()
                        .identity,
                )
                .to_vec(),
                wlt: vec![0; 1024],
                fingerprint: None,
            },
            false,
        ),
    )
    .encode()
    .unwrap();
    let hex: String = frame.iter().map(|b| format!("{b:02X} ")).collect();
    std::fs::write(dir.path().join("capture.hex"), hex).unwrap();
    let job = kiosk_drivers::escpos::templates::QueueTicket {
        hall: "昆山市政务服务中心".into(),
        number: "A023".into(),
        service: "户籍业务".into(),
        waiting: Some(7),
        issued_at: "2026-12-02 09:05".into(),
        qr_url: "https://zwfw.example/queue/A023".into(),
        window_hint: None,
    }
    .receipt(kiosk_drivers::escpos::Paper::Mm58)
    .encode()
    .unwrap();
    std::fs::write(dir.path().join("job.bin"), job).unwrap();
    for words in &lines {
        let out = kiosk()
            .env_remove("HALLKIT_CONFIG")
            .current_dir(dir.path())
            .args(&words[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`{}` failed: {}{}",
            words.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v.is_object(), "{v}");
    }
    assert!(dir.path().join("job.png").exists());
}

/// Paints a `w`×`h` window at the top left of `display` in `pixel` (the server's own value).
fn paint_corner(
    display: &str,
    w: u16,
    h: u16,
    pixel: impl Fn(&x11rb::protocol::xproto::Screen) -> u32,
) -> x11rb::rust_connection::RustConnection {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ConnectionExt, CreateWindowAux, WindowClass};
    // The server runs with -noreset, but a loaded machine may still be slow to accept: try
    // again for a while.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (conn, n) = loop {
        match x11rb::connect(Some(display)) {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => panic!("{display}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let screen = conn.setup().roots[n].clone();
    let id = conn.generate_id().unwrap();
    conn.create_window(
        screen.root_depth,
        id,
        screen.root,
        0,
        0,
        w,
        h,
        0,
        WindowClass::INPUT_OUTPUT,
        screen.root_visual,
        &CreateWindowAux::new()
            .background_pixel(pixel(&screen))
            .override_redirect(1),
    )
    .unwrap();
    conn.map_window(id).unwrap();
    conn.clear_area(false, id, 0, 0, 0, 0).unwrap();
    conn.flush().unwrap();
    // A round trip: the server has done all of the above.
    conn.get_input_focus().unwrap().reply().unwrap();
    conn
}

/// The cast (投屏) grabs the clerk's real X display: what a window paints there is what the
/// citizen screen gets, scaled to fit, at 24-bit and 16-bit depths.
#[test]
fn cast_grabs_the_clerks_x_display() {
    use kiosk_app::services::cast::{fit, CastSource};
    for (geometry, red) in [("800x600x24", 0xff0000u32), ("800x600x16", 0xf800)] {
        let x = Xvfb::with_screen(geometry);
        let _painter = paint_corner(&x.display, 400, 300, |_| red);
        let mut grab = CastSource::X11(Some(x.display.clone())).open().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let shot = loop {
            let shot = grab.grab().unwrap();
            // BGRA: the top-left pixel is red once the window is drawn.
            if shot.bgra[..3] == [0, 0, 255] || Instant::now() > deadline {
                break shot;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!((shot.width, shot.height), (800, 600), "{geometry}");
        assert_eq!(&shot.bgra[..3], &[0, 0, 255], "{geometry}: top left");
        // Outside the window: Xvfb's root is not red.
        let i = (599 * 800 + 799) * 4;
        assert_ne!(
            &shot.bgra[i..i + 3],
            &[0, 0, 255],
            "{geometry}: bottom right"
        );
        let f = fit(&shot, 400, 400, 1).unwrap();
        assert_eq!((f.width, f.height), (400, 300));
        assert_eq!(&f.rgba[..4], &[255, 0, 0, 255]);
    }
}
