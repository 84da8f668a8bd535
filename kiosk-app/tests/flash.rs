//! `flash.sh` into a temporary root: the files land where they should, systemd accepts the
//! units, a second run changes nothing, the identity survives a reflash, and a bad argument or
//! configuration stops it before anything is written.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory holding `kiosk` and `kiosk-central` (the workspace build puts both there).
fn binaries() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_kiosk"))
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(
        dir.join("kiosk-central").exists(),
        "kiosk-central is not built beside kiosk in {}: cargo build -p kiosk-central",
        dir.display()
    );
    dir
}

/// A Debian-like root: its user database and systemd's own units (what `systemd-analyze
/// verify --root` resolves dependencies against).
fn new_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::write(
        r.join("etc/group"),
        "root:x:0:\ndialout:x:20:\nvideo:x:44:\n",
    )
    .unwrap();
    std::fs::write(r.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::write(r.join("etc/gshadow"), "root:*::\ndialout:*::\nvideo:*::\n").unwrap();
    let units = r.join("usr/lib/systemd");
    std::fs::create_dir_all(&units).unwrap();
    let copied = Command::new("cp")
        .args(["-a", "/usr/lib/systemd/system"])
        .arg(&units)
        .status()
        .unwrap();
    assert!(copied.success());
    root
}

fn flash(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo().join("flash.sh"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every path under `root` with its size, mode and link target: what "nothing changed" means.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.starts_with(root.join("usr/lib/systemd")) {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            let link = std::fs::read_link(&p).ok();
            let body = if m.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            out.push(format!(
                "{} {:o} {}:{} {:?} {:x}",
                p.strip_prefix(root).unwrap().display(),
                m.mode(),
                m.uid(),
                m.gid(),
                link,
                body.iter()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(*b as u64))
            ));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

struct Centre {
    child: std::process::Child,
    url: String,
    db: PathBuf,
}

impl Centre {
    fn start(dir: &Path) -> Centre {
        let db = dir.join("central.db");
        let mut child = Command::new(binaries().join("kiosk-central"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != ':' && c != '/' && c != '.')
            .to_string();
        Centre { child, url, db }
    }

    fn enrol_code(&self) -> String {
        let out = Command::new(binaries().join("kiosk-central"))
            .args(["enrol-code", "--device", "KSK-320583-0001", "--db"])
            .arg(&self.db)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["code"].as_str().unwrap().to_string()
    }
}

impl Drop for Centre {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The hardware sample config, pointed at `centre` instead of an embedded one.
fn config(dir: &Path, centre: &str, extra: &str) -> PathBuf {
    let src = std::fs::read_to_string(repo().join("config/kiosk.hardware.toml")).unwrap();
    let text = src.replace("listen = \"127.0.0.1:0\"", &format!("url = \"{centre}\""));
    assert_ne!(
        text, src,
        "the sample config's [centre] changed; update this test"
    );
    let path = dir.join("kiosk.toml");
    std::fs::write(&path, format!("{text}{extra}")).unwrap();
    path
}

fn uid_of(root: &Path, user: &str) -> u32 {
    std::fs::read_to_string(root.join("etc/passwd"))
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<_> = l.split(':').collect();
            (f[0] == user).then(|| f[2].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no user {user}"))
}

#[test]
fn flash_provisions_a_root_idempotently_and_keeps_the_identity() {
    assert_eq!(
        nix::unistd::geteuid().as_raw(),
        0,
        "flash.sh writes users and ownership: these tests run as root, as CI does"
    );
    let work = tempfile::tempdir().unwrap();
    let centre = Centre::start(work.path());
    let cfg = config(work.path(), &centre.url, "");
    let root = new_root();
    let r = root.path();
    let bins = binaries();
    let code = centre.enrol_code();
    let base = [
        "--root".to_string(),
        r.display().to_string(),
        "--config".into(),
        cfg.display().to_string(),
        "--binaries".into(),
        bins.display().to_string(),
        "--role".into(),
        "both".into(),
    ];
    let run = |extra: &[&str]| {
        let mut all: Vec<&str> = base.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        flash(&all)
    };

    let first = run(&["--enrol-code", &code]);
    assert!(first.status.success(), "{}", text(&first));
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(out.contains("provisioned (both)"), "{out}");
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("\"enrolled\""),
        "{}",
        text(&first)
    );

    // The files, where they should be, with their modes and owners.
    let hallkit = uid_of(r, "hallkit");
    let group = std::fs::read_to_string(r.join("etc/group")).unwrap();
    for g in ["dialout", "video", "lp", "plugdev", "input"] {
        let line = group
            .lines()
            .find(|l| l.starts_with(&format!("{g}:")))
            .unwrap();
        assert!(
            line.ends_with("hallkit") || line.contains("hallkit,"),
            "{line}"
        );
    }
    let mode = |p: &str| std::fs::metadata(r.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        std::fs::read_link(r.join("opt/hallkit/current")).unwrap(),
        Path::new("slots/a")
    );
    assert_eq!(mode("opt/hallkit/slots/a/kiosk"), 0o755);
    assert_eq!(mode("opt/hallkit/slots/a/kiosk-central"), 0o755);
    // The slot names its version, as an update's slot does: the heartbeat reports it.
    assert_eq!(
        std::fs::read_to_string(r.join("opt/hallkit/slots/a/VERSION")).unwrap(),
        format!("{}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(mode("opt/hallkit/slots/a/VERSION"), 0o644);
    assert_eq!(
        std::fs::read(r.join("etc/hallkit/kiosk.toml")).unwrap(),
        std::fs::read(&cfg).unwrap()
    );
    assert_eq!(mode("etc/hallkit/kiosk.toml"), 0o640);
    let rules = std::fs::read_to_string(r.join("etc/udev/rules.d/70-hallkit.rules")).unwrap();
    assert!(rules.contains("kiosk provision udev-rules"), "{rules}");
    let unit = std::fs::read_to_string(r.join("etc/systemd/system/hallkit-kiosk.service")).unwrap();
    for want in [
        "Type=notify",
        "ExecStartPre=-/opt/hallkit/committed/kiosk update boot-check",
        "Restart=always",
        "WatchdogSec=30",
        "User=hallkit",
        "ExecStart=/opt/hallkit/current/kiosk run --config /etc/hallkit/kiosk.toml",
    ] {
        assert!(unit.contains(want), "{want} missing:\n{unit}");
    }
    let timer = std::fs::read_to_string(r.join("etc/systemd/system/hallkit-power.timer")).unwrap();
    assert!(timer.contains("OnUnitActiveSec=1min"), "{timer}");
    assert!(r
        .join("etc/systemd/system/timers.target.wants/hallkit-power.timer")
        .is_symlink());
    let central =
        std::fs::read_to_string(r.join("etc/systemd/system/hallkit-central.service")).unwrap();
    assert!(central.contains("Restart=always") && central.contains("kiosk-central serve"));
    for u in ["hallkit-kiosk.service", "hallkit-central.service"] {
        assert_eq!(
            std::fs::read_link(r.join("etc/systemd/system/multi-user.target.wants").join(u))
                .unwrap(),
            Path::new("/etc/systemd/system").join(u)
        );
    }
    let key = r.join("var/lib/hallkit/device.key");
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (hallkit, 0o600));
    assert_eq!(
        std::fs::metadata(r.join("var/lib/hallkit")).unwrap().uid(),
        hallkit
    );
    // systemd accepts the units as installed.
    let verify = Command::new("systemd-analyze")
        .arg(format!("--root={}", r.display()))
        .args([
            "verify",
            "/etc/systemd/system/hallkit-kiosk.service",
            "/etc/systemd/system/hallkit-central.service",
            "/etc/systemd/system/hallkit-power.service",
            "/etc/systemd/system/hallkit-power.timer",
        ])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));

    // A second run changes nothing at all.
    let before = tree(r);
    let second = run(&[]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("nothing to change"),
        "{}",
        text(&second)
    );
    assert_eq!(tree(r), before);

    // A reflash with a changed configuration and a new code: the config and the rules change,
    // the key stays the same key.
    let key_before = std::fs::read(&key).unwrap();
    let cfg2 = config(
        work.path(),
        &centre.url,
        "\n[usb]\nallow_classes = [\"hid\", \"hub\"]\n",
    );
    assert_eq!(cfg, cfg2);
    let code2 = centre.enrol_code();
    let third = run(&["--enrol-code", &code2]);
    assert!(third.status.success(), "{}", text(&third));
    let said = String::from_utf8_lossy(&third.stdout).into_owned();
    assert!(said.contains("/etc/hallkit/kiosk.toml"), "{said}");
    assert!(
        said.contains("/etc/udev/rules.d/70-hallkit.rules"),
        "{said}"
    );
    assert!(!said.contains("slots/a/kiosk\n"), "{said}");
    assert_eq!(
        std::fs::read(&key).unwrap(),
        key_before,
        "the identity survives"
    );
    let rules = std::fs::read_to_string(r.join("etc/udev/rules.d/70-hallkit.rules")).unwrap();
    assert!(rules.contains("ATTR{bInterfaceClass}==\"03\""), "{rules}");
}

#[test]
fn flash_refuses_bad_input_before_writing_anything() {
    assert_eq!(
        nix::unistd::geteuid().as_raw(),
        0,
        "run as root, as CI does"
    );
    let work = tempfile::tempdir().unwrap();
    let root = new_root();
    let r = root.path();
    let bins = binaries();
    let before = tree(r);
    let good = repo().join("config/kiosk.hardware.toml");
    let broken = work.path().join("broken.toml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&good)
            .unwrap()
            .replace("[terminal]", "[terminal]\nnonsense = 1"),
    )
    .unwrap();
    let root_s = r.display().to_string();
    let bins_s = bins.display().to_string();
    let good_s = good.display().to_string();
    let broken_s = broken.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--root", &root_s, "--bogus"],
            "unknown argument '--bogus'",
        ),
        (
            vec!["--root", &root_s, "--binaries", &bins_s],
            "a kiosk needs --config",
        ),
        (
            vec![
                "--root",
                &root_s,
                "--config",
                "/nowhere.toml",
                "--binaries",
                &bins_s,
            ],
            "no configuration at '/nowhere.toml'",
        ),
        (
            vec![
                "--root",
                &root_s,
                "--config",
                &broken_s,
                "--binaries",
                &bins_s,
            ],
            "is not valid",
        ),
        (
            vec![
                "--root",
                &root_s,
                "--config",
                &good_s,
                "--role",
                "teller",
                "--binaries",
                &bins_s,
            ],
            "--role is kiosk, central or both",
        ),
        (
            vec![
                "--root",
                "/nowhere",
                "--config",
                &good_s,
                "--binaries",
                &bins_s,
            ],
            "is not a directory",
        ),
        (
            vec![
                "--root",
                &root_s,
                "--config",
                &good_s,
                "--binaries",
                "/nowhere",
            ],
            "no binaries directory",
        ),
        (
            vec!["--root", &root_s, "--config", &good_s, "--binaries"],
            "--binaries needs a value",
        ),
    ];
    for (args, want) in cases {
        let out = flash(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: wanted {want:?} in:\n{err}");
        assert_eq!(tree(r), before, "{args:?} wrote into the root");
    }
    // Not an OS root at all.
    let empty = tempfile::tempdir().unwrap();
    let out = flash(&[
        "--root",
        &empty.path().display().to_string(),
        "--config",
        &good_s,
        "--binaries",
        &bins_s,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an operating system root"));
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}
