//! Kiosk mode: Debian's Chromium full-screen at the business system's page, its profile in the
//! data directory, restarted with back-off when it dies. The device layer and the journal stay
//! in HallKit; the page reaches the devices only through the gateway.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The command line that shows `url` full-screen with nothing of the browser around it.
pub fn chromium_args(url: &str, profile: &Path) -> Vec<String> {
    vec![
        "--kiosk".into(),
        format!("--app={url}"),
        format!("--user-data-dir={}", profile.display()),
        "--no-first-run".into(),
        "--disable-translate".into(),
        "--disable-features=TranslateUI".into(),
        "--disable-session-crashed-bubble".into(),
        "--disable-infobars".into(),
        "--noerrdialogs".into(),
        "--overscroll-history-navigation=0".into(),
        "--disable-pinch".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
    ]
}

/// The back-off before the n-th restart in a row: 1 s doubling to 30 s; a browser that ran a
/// minute or more starts the count again.
pub fn backoff(restarts_in_a_row: u32) -> Duration {
    Duration::from_secs(1u64 << restarts_in_a_row.min(5)).min(Duration::from_secs(30))
}

/// Keeps the browser running until dropped.
pub struct KioskBrowser {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KioskBrowser {
    /// Starts `program` with [`chromium_args`] and watches it.
    pub fn start(program: String, url: String, profile: PathBuf) -> KioskBrowser {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kiosk-browser".into())
            .spawn(move || watch(&program, &url, &profile, &flag))
            .ok();
        KioskBrowser { stop, thread }
    }
}

impl Drop for KioskBrowser {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(program: &str, url: &str, profile: &Path, stop: &AtomicBool) {
    let mut in_a_row = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let child = Command::new(program)
            .args(chromium_args(url, profile))
            .spawn();
        match child {
            Ok(mut c) => {
                tracing::info!(program, url, pid = c.id(), "kiosk browser started");
                let status = wait_or_stop(&mut c, stop);
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                tracing::warn!(?status, "the kiosk browser ended; it is started again");
            }
            Err(e) => tracing::error!(program, error = %e, "the kiosk browser cannot start"),
        }
        in_a_row = if started.elapsed() >= Duration::from_secs(60) {
            0
        } else {
            in_a_row + 1
        };
        let until = Instant::now() + backoff(in_a_row);
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn wait_or_stop(c: &mut Child, stop: &AtomicBool) -> Option<std::process::ExitStatus> {
    loop {
        if let Ok(Some(s)) = c.try_wait() {
            return Some(s);
        }
        if stop.load(Ordering::SeqCst) {
            let _ = c.kill();
            let _ = c.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_is_full_screen_at_the_page_and_backs_off_when_it_keeps_dying() {
        let a = chromium_args(
            "https://yw.example.gov.cn/",
            Path::new("/var/lib/hallkit/chromium"),
        );
        assert!(a.contains(&"--kiosk".to_string()));
        assert!(a.contains(&"--app=https://yw.example.gov.cn/".to_string()));
        assert!(a
            .iter()
            .any(|x| x == "--user-data-dir=/var/lib/hallkit/chromium"));
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(9), Duration::from_secs(30));
    }

    #[test]
    fn a_browser_that_dies_is_started_again() {
        // A stand-in for chromium that records each start and exits at once.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("starts");
        let script = dir.path().join("fake-chromium");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$@\" >> {}\nexit 1\n", log.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let b = KioskBrowser::start(
            script.display().to_string(),
            "http://127.0.0.1:1/".into(),
            dir.path().join("profile"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let starts = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .count();
            if starts >= 2 {
                break;
            }
            assert!(Instant::now() < deadline, "started {starts} times");
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(b);
        let line = std::fs::read_to_string(&log).unwrap();
        assert!(line.contains("--app=http://127.0.0.1:1/"), "{line}");
    }
}
