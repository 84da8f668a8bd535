//! The TypeScript SDK and the sample business page against a real `kiosk run` on the sim
//! profile: the SDK's own tests (node's test runner), then the page in Debian's headless
//! Chromium driven by playwright-core — ID card read, document captured, receipt printed
//! (the virtual printer's PNG checked) — and the same page from an origin the terminal does not
//! list, refused. `HALLKIT_SHOTS=DIR` keeps the screenshots.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::*;

const TOKEN: &str = "hallkit-sample-token";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn node_modules() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
    cache.join("hallkit/browser-tests-1/node_modules")
}

/// Runs `cmd`, and fails the test with everything it said when it fails.
fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_sdk_and_the_sample_page_work_against_kiosk_run() {
    let sdk = repo().join("sdk/js");
    assert!(
        sdk.join("node_modules/typescript").exists()
            && node_modules().join("playwright-core").exists()
            && Path::new("/usr/bin/chromium").exists(),
        "run scripts/setup-debian.sh: it installs the SDK's build tools, Debian's chromium and playwright-core"
    );
    // The SDK's types must match the terminal's schema; then it is compiled.
    run_ok(
        Command::new("npm")
            .args(["run", "--silent", "build"])
            .current_dir(&sdk),
        "building the SDK",
    );

    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), "");
    let run = KioskRun::start(&cfg, None);
    let ready: serde_json::Value =
        serde_json::from_str(&run.ready).unwrap_or_else(|e| panic!("{e}: {:?}", run.ready));
    let gateway = ready["gateway"]
        .as_str()
        .unwrap_or_else(|| panic!("no gateway in {ready}"))
        .to_string();

    let sdk_tests = Command::new("node")
        .args(["--experimental-websocket", "--test", "test/"])
        .current_dir(&sdk)
        .env("HALLKIT_URL", &gateway)
        .env("HALLKIT_TOKEN", TOKEN)
        .output()
        .unwrap();
    if !sdk_tests.status.success() {
        let said = run.kill();
        panic!(
            "the SDK tests failed:\n{}\n{}\nkiosk: {said}",
            String::from_utf8_lossy(&sdk_tests.stdout),
            String::from_utf8_lossy(&sdk_tests.stderr)
        );
    }

    // The page on an allowed origin (5847) and on one the terminal does not list (5848).
    let mut server = Command::new("node")
        .arg(repo().join("examples/business-app/serve.mjs"))
        .args(["--port", "5847", "--port", "5848"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        let l = lines.next().unwrap().unwrap();
        assert!(l.contains("serving"), "{l}");
    }
    let shots = std::env::var_os("HALLKIT_SHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let browser = Command::new("node")
        .arg(repo().join("examples/business-app/test/browser.cjs"))
        .args([
            "http://127.0.0.1:5847/",
            "http://127.0.0.1:5848/",
            &gateway,
            TOKEN,
        ])
        .arg(&shots)
        .env("NODE_PATH", node_modules())
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let receipts: Vec<PathBuf> = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("sim-"))
        .flat_map(|e| {
            std::fs::read_dir(e.path().join("receipts-receipt"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    let receipts_copy: Vec<Vec<u8>> = receipts.iter().map(|p| std::fs::read(p).unwrap()).collect();
    if !browser.status.success() {
        let said = run.kill();
        panic!(
            "the browser run failed:\n{}\nkiosk: {said}",
            String::from_utf8_lossy(&browser.stderr)
        );
    }
    run.stop();
    let seen: serde_json::Value = serde_json::from_slice(&browser.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&browser.stdout)));

    assert!(
        seen["connection"].as_str().unwrap().contains("终端已连接"),
        "{seen}"
    );
    let devices: Vec<&str> = seen["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    for d in ["idcard", "scanner", "receipt", "docam"] {
        assert!(devices.contains(&d), "{devices:?}");
    }
    assert!(seen["cardPrompt"]
        .as_str()
        .unwrap()
        .contains("请将身份证放在读卡器上"));
    assert_eq!(seen["name"], "张三丰");
    assert_eq!(seen["number"], "320583199001011232");
    assert!(seen["photoWidth"].as_u64().unwrap() > 50, "{seen}");
    assert!(
        seen["capture"].as_str().unwrap().contains("已拍摄"),
        "{seen}"
    );
    assert!(seen["pageWidth"].as_u64().unwrap() > 100, "{seen}");
    assert!(seen["print"].as_str().unwrap().contains("已打印"), "{seen}");
    assert!(
        seen["refused"].as_str().unwrap().contains("无法连接终端"),
        "{seen}"
    );

    // One receipt from the SDK tests, one from the page; each a real picture of a receipt.
    assert!(receipts_copy.len() >= 2, "{receipts:?}");
    for bytes in &receipts_copy {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let info = decoder.read_info().unwrap();
        assert!(info.info().width >= 384 && info.info().height > 100);
    }

    // The audit: every call and the refused origin, never the citizen.
    let db = rusqlite::Connection::open(dir.path().join("data/outbox.db")).unwrap();
    let rows = |kind: &str| -> Vec<String> {
        let mut st = db
            .prepare("SELECT payload FROM outbox WHERE kind = ?1")
            .unwrap();
        st.query_map([kind], |r| r.get::<_, String>(0))
            .unwrap()
            .flatten()
            .collect()
    };
    let calls = rows("device.gateway.call");
    assert!(
        calls
            .iter()
            .any(|c| c.contains("IdCard.Read") && c.contains("success")),
        "{calls:?}"
    );
    assert!(calls
        .iter()
        .all(|c| !c.contains("张三丰") && !c.contains("320583199001011232")));
    let refused = rows("security.gateway.refused");
    assert!(
        refused.iter().any(|r| r.contains("http://127.0.0.1:5848")),
        "{refused:?}"
    );
}
