//! Memory over many journeys: the terminal as `kiosk run --headless` composes it (sim profile,
//! embedded centre, no screen), driven through its flows the way the screen's touches drive
//! it, ticket after ticket. Prints the resident set size after 10 journeys and at intervals up
//! to `HALLKIT_SOAK_JOURNEYS` (10,000 by default), and the growth — the tenders ask ≤ 5 % over
//! 72 hours. Printed, never asserted. Beside RSS: the heap the allocator has handed out and
//! SQLite's share of it, which tell live data from pages glibc keeps after they were freed;
//! `HALLKIT_SOAK_TRIM=1` returns those pages (malloc_trim) before each reading.
//!
//! `HALLKIT_SOAK_MINUTES=N` runs for N minutes instead, RSS sampled at every whole minute, and
//! every 25th round is a technician's visit to the admin mode (staff number and PIN, a
//! device's page, the log, the journal, out again) so its pages are soaked too.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kiosk_app::flows::kiosk::Input;
use kiosk_app::flows::ticket;
use kiosk_app::{Config, Profile};
use kiosk_hal::clock::SystemClock;
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// What the allocator hands out now (glibc's count of bytes in use), apart from pages it keeps.
fn heap_in_use_mib() -> f64 {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd) as f64 / 1048576.0
}

/// What SQLite holds across every connection in the process (the journal's and the embedded
/// centre's page caches).
fn sqlite_mib() -> f64 {
    // SAFETY: a read of SQLite's global memory counter.
    unsafe { rusqlite::ffi::sqlite3_memory_used() as f64 / 1048576.0 }
}

fn main() {
    let n: usize = std::env::var("HALLKIT_SOAK_JOURNEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let trim = std::env::var_os("HALLKIT_SOAK_TRIM").is_some();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cfg = Config::load(&root.join("config/kiosk.sim.toml")).expect("config");
    cfg.devices.retain(|d| d.driver != "pcsc");
    let data = tempfile::tempdir().expect("tmp");
    cfg.terminal.data_dir = data.path().to_path_buf();
    let terminal = kiosk_app::terminal::Terminal::start(cfg, Profile::Sim, SystemClock::shared())
        .expect("start");
    let host = terminal.host.clone();
    let wait = |screen: &str| wait_for(&host, screen);
    host.wait_for(Duration::from_secs(60), |v| {
        !v.groups.is_empty() && v.offers.iter().all(|o| o.available)
    })
    .expect("ready");
    host.send(Input::Wake);
    wait("home");
    let printer = terminal.runtime.device("receipt").expect("printer");
    let psim = printer.sim.as_ref().expect("sim printer").clone();
    let started = Instant::now();
    let mut first = 0;
    let minutes: Option<u64> = std::env::var("HALLKIT_SOAK_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok());
    if let Some(m) = minutes {
        soak_for(&terminal, &psim, Duration::from_secs(m * 60), trim);
        terminal.stop();
        return;
    }
    let marks = [10, 100, 1_000, 2_500, 5_000, 7_500, 10_000, 20_000, 50_000];
    for i in 1..=n {
        ticket_round(&host);
        if i % 100 == 0 {
            psim.inject("clear-receipts", &json!({})).expect("clear");
        }
        if marks.contains(&i) || i == n {
            if trim {
                // SAFETY: malloc_trim only returns free pages to the system.
                unsafe { libc::malloc_trim(0) };
            }
            let rss = rss_kib();
            if i == 10 {
                first = rss;
            }
            let growth = if first > 0 {
                (rss as f64 - first as f64) / first as f64 * 100.0
            } else {
                0.0
            };
            println!(
                "after {i} ticket journeys: RSS {:.1} MiB ({growth:+.2} % since 10), heap in use {:.1} MiB, of it SQLite {:.1} MiB, {:.0} journeys/min",
                rss as f64 / 1024.0,
                heap_in_use_mib(),
                sqlite_mib(),
                i as f64 / started.elapsed().as_secs_f64() * 60.0
            );
        }
    }
    let counts = terminal.journal.lock().counts().expect("counts");
    println!("journal: {counts:?}");
    terminal.stop();
}

/// Waits (a minute at most) for `screen`.
fn wait_for(host: &kiosk_app::flows::host::Host, screen: &str) {
    host.wait_for(Duration::from_secs(60), |v| v.screen.name() == screen)
        .unwrap_or_else(|| panic!("never reached {screen}: {:?}", host.view().screen));
}

/// One ticket journey from home back to home.
fn ticket_round(host: &kiosk_app::flows::host::Host) {
    let wait = |screen: &str| wait_for(host, screen);
    host.send(Input::Start("ticket".into()));
    wait("ticket-groups");
    host.send(Input::Journey(ticket::Input::Choose("shuiwu".into())));
    wait("ticket-taken");
    host.send(Input::Journey(ticket::Input::Done));
    wait("home");
}

/// A technician's visit: staff number and PIN (the sim config's), a device's page, the log,
/// the journal, and out.
fn admin_round(host: &kiosk_app::flows::host::Host) {
    use kiosk_app::flows::admin::{Input as A, Page};
    let wait = |screen: &str| wait_for(host, screen);
    host.send(Input::StaffEntry);
    for (digits, then) in [("1024", "staff-pin"), ("135790", "device-status")] {
        for d in digits.chars() {
            host.send(Input::StaffDigit(d));
        }
        host.send(Input::StaffSubmit);
        wait(then);
    }
    for (page, screen) in [
        (Page::Device("receipt".into()), "admin-device"),
        (Page::Logs, "admin-logs"),
        (Page::Journal, "admin-journal"),
    ] {
        host.send(Input::Admin(A::Open(page)));
        wait(screen);
    }
    host.send(Input::Home);
    wait("home");
}

/// Rounds for `length`, RSS printed at each whole minute and the growth over the run.
fn soak_for(
    terminal: &kiosk_app::terminal::Terminal,
    psim: &std::sync::Arc<dyn kiosk_drivers::SimControl>,
    length: Duration,
    trim: bool,
) {
    let host = terminal.host.clone();
    let started = Instant::now();
    let (mut rounds, mut admin, mut minute) = (0u64, 0u64, 0u64);
    let mut samples = Vec::new();
    while started.elapsed() < length {
        rounds += 1;
        if rounds % 25 == 0 {
            admin_round(&host);
            admin += 1;
        } else {
            ticket_round(&host);
        }
        if rounds % 100 == 0 {
            psim.inject("clear-receipts", &json!({})).expect("clear");
        }
        let m = started.elapsed().as_secs() / 60;
        if m > minute {
            minute = m;
            if trim {
                // SAFETY: malloc_trim only returns free pages to the system.
                unsafe { libc::malloc_trim(0) };
            }
            let rss = rss_kib() as f64 / 1024.0;
            samples.push(rss);
            println!(
                "minute {m:>3}: RSS {rss:.1} MiB, heap in use {:.1} MiB, of it SQLite {:.1} MiB, {rounds} rounds ({admin} admin visits)",
                heap_in_use_mib(),
                sqlite_mib(),
            );
        }
    }
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let max = samples.iter().cloned().fold(f64::MIN, f64::max);
        println!(
            "soak: {} minutes, {rounds} rounds, RSS {first:.1} → {last:.1} MiB ({:+.2} % from minute 1 to the end; peak {max:.1} MiB)",
            samples.len(),
            (last - first) / first * 100.0
        );
    }
    let counts = terminal.journal.lock().counts().expect("counts");
    println!("journal: {counts:?}");
}
