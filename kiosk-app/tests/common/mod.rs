//! What the tests of the `kiosk` binary share: the binary, hermetic; the sample sim config
//! rewritten into a test's directory; a `kiosk run` under test.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn kiosk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiosk"));
    // Hermetic: no developer's display, desktop session bus or portal reaches the kiosk.
    c.env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("XDG_RUNTIME_DIR")
        .env("RUST_LOG", "warn");
    c
}

/// The sample sim config with its data directory in `dir`, and optional extra scanner options.
pub fn config_in(dir: &Path, scanner_options: &str) -> PathBuf {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kiosk.sim.toml"),
    )
    .unwrap();
    let text = src
        .replace(
            "data_dir = \"../var/sim\"",
            &format!("data_dir = {:?}", dir.join("data")),
        )
        .replace(
            "\"../../shared/",
            &format!(
                "\"{}/",
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../shared")
                    .display()
            ),
        )
        .replace(
            "folder = \"attract\"",
            &format!(
                "folder = {:?}",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/attract")
            ),
        )
        .replace(
            "embedded_sample = \"hall-catalogue.json\"",
            &format!(
                "embedded_sample = {:?}",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hall-catalogue.json")
            ),
        )
        .replace(
            "embedded_documents = \"sample-documents.json\"",
            &format!(
                "embedded_documents = {:?}",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/sample-documents.json")
            ),
        )
        // Tests run side by side: the local device API takes a free port (the ready line
        // names it).
        .replace("port = 5846", "port = 0")
        .replace(
            "options = { suffix = \"\\r\\n\", light_on = \"16 4c 31 0d\", light_off = \"16 4c 30 0d\" }",
            &format!("options = {{ suffix = \"\\r\\n\"{scanner_options} }}"),
        );
    // The PC/SC reader needs the machine's pcscd; drivers/tests/pcsc_vpcd.rs tests it.
    let text: String = text
        .split("[[devices]]")
        .filter(|block| !block.contains("driver = \"pcsc\""))
        .collect::<Vec<_>>()
        .join("[[devices]]");
    let path = dir.join("kiosk.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn sigterm(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
}

pub fn first_line(child: &mut Child) -> (String, BufReader<std::process::ChildStdout>) {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    (line, out)
}

/// A `kiosk run` under test. Its stderr is drained all along, so a chatty kiosk can never
/// block on a full pipe, and whatever it said is at hand when something goes wrong.
pub struct KioskRun {
    pub child: Child,
    pub ready: String,
    pub out: BufReader<std::process::ChildStdout>,
    err: Option<std::thread::JoinHandle<String>>,
}

impl KioskRun {
    /// Starts `kiosk run` (with `display` as DISPLAY, or none) and waits for its ready line.
    pub fn start(cfg: &Path, display: Option<&str>) -> KioskRun {
        let env: Vec<(&str, &str)> = display.map(|d| ("DISPLAY", d)).into_iter().collect();
        KioskRun::start_with(cfg, &env)
    }

    /// Starts `kiosk run` with extra environment variables.
    pub fn start_with(cfg: &Path, env: &[(&str, &str)]) -> KioskRun {
        let mut cmd = kiosk();
        cmd.envs(env.iter().copied());
        let mut child = cmd
            .args(["run", "--config"])
            .arg(cfg)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr, &mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        let (ready, out) = first_line(&mut child);
        KioskRun {
            child,
            ready,
            out,
            err: Some(err),
        }
    }

    /// Everything the kiosk wrote on stderr; call once it has exited.
    pub fn stderr(&mut self) -> String {
        self.err
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Kills the kiosk and returns its stderr, for a failure message.
    pub fn kill(mut self) -> String {
        let status = self.child.try_wait().ok().flatten();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.out, &mut rest);
        let how = match status {
            Some(s) => format!("it had exited by itself ({s})"),
            None => "it was still running".to_string(),
        };
        format!(
            "{how}\nstdout after ready:\n{rest}\nstderr:\n{}",
            self.stderr()
        )
    }

    /// SIGTERMs the kiosk, checks it stopped cleanly, and returns its stderr.
    pub fn stop(self) -> String {
        self.stop_report().0
    }

    /// As `stop`, with the final status line.
    pub fn stop_report(self) -> (String, serde_json::Value) {
        sigterm(&self.child);
        let (status, err, stopped) = self.finish();
        assert!(status.success(), "kiosk run exited {status}: {err}");
        assert_eq!(stopped["stopped"], true, "{stopped}: {err}");
        (err, stopped)
    }

    /// Waits for the kiosk to exit: its status, its stderr and its final status line.
    pub fn finish(mut self) -> (std::process::ExitStatus, String, serde_json::Value) {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.out, &mut rest).unwrap();
        let status = self.child.wait().unwrap();
        let err = self.stderr();
        let last = rest
            .lines()
            .rev()
            .find(|l| l.contains("\"stopped\""))
            .unwrap_or("{}");
        (
            status,
            err,
            serde_json::from_str(last).unwrap_or(serde_json::Value::Null),
        )
    }
}
