//! After a citizen's session ends, nothing of what their card said is left in the terminal's
//! memory — while the terminal keeps running. The test process scans its own writable memory
//! (heap, anonymous mappings, thread stacks) for the card holder's ID number and name, in UTF-8
//! and in the UTF-16 the card itself uses.
//!
//! Memory a program has freed is not its memory any more, but it is not erased either: the
//! allocator of this test binary zeroes every block it frees, so what the scan finds is memory
//! something still holds — a session not wiped, a copy kept in a buffer or a channel.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use kiosk_app::cli::tour::{Action, Step, Tour, TourOptions};
use kiosk_e2e::sample_config;
use serde_json::json;

struct ZeroOnFree;

// SAFETY: every call is forwarded to the system allocator with the caller's layout; freed
// blocks are overwritten within their own size first.
unsafe impl GlobalAlloc for ZeroOnFree {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe {
            std::ptr::write_bytes(ptr, 0, layout.size());
            System.dealloc(ptr, layout)
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            let new = System.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[global_allocator]
static ALLOC: ZeroOnFree = ZeroOnFree;

/// The card of the `resident` fixture.
const NUMBER: &str = "320583199001011232";
const NAME: &str = "张三丰";

/// The needles, each byte XOR-ed with this, so the needles themselves never stand in memory.
const MASK: u8 = 0x5A;

fn needles() -> Vec<(&'static str, Vec<u8>)> {
    let utf16 = |s: &str| {
        s.encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let masked = |mut v: Vec<u8>| {
        v.iter_mut().for_each(|b| *b ^= MASK);
        v
    };
    vec![
        ("number (UTF-8)", masked(NUMBER.as_bytes().to_vec())),
        ("name (UTF-8)", masked(NAME.as_bytes().to_vec())),
        ("number (UTF-16)", masked(utf16(NUMBER))),
        ("name (UTF-16)", masked(utf16(NAME))),
    ]
}

/// Where needles occur in this process's writable private memory: what, mapping, offset, and
/// the bytes around it as hex with the needle itself blanked (so a report holds no copy).
fn find_in_memory() -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut mem = std::fs::File::open("/proc/self/mem").unwrap();
    let needles = needles();
    let mut found = Vec::new();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        let path = parts.nth(3).unwrap_or("");
        // Writable and private: heap, anonymous mappings, stacks. Files mapped read-only (the
        // binary's own constants, fonts) are not the program's data.
        if !perms.starts_with("rw") || !(path.is_empty() || path.starts_with('[')) {
            continue;
        }
        if path == "[vvar]" || path == "[vsyscall]" {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        // Read in pieces: one unreadable page must not hide the rest of a mapping.
        let mut buf = vec![0u8; (b - a) as usize];
        for (k, piece) in buf.chunks_mut(1 << 20).enumerate() {
            let at = a + (k as u64) * (1 << 20);
            if mem.seek(SeekFrom::Start(at)).is_err() || mem.read_exact(piece).is_err() {
                piece.iter_mut().for_each(|x| *x = 0);
            }
        }
        for (what, n) in &needles {
            let first = n[0] ^ MASK;
            let hits: Vec<usize> = buf
                .iter()
                .enumerate()
                .filter(|(i, x)| {
                    **x == first
                        && buf.len() - i >= n.len()
                        && buf[*i..*i + n.len()]
                            .iter()
                            .zip(n)
                            .all(|(x, y)| *x == *y ^ MASK)
                })
                .map(|(i, _)| i)
                .collect();
            for i in hits {
                let from = i.saturating_sub(64);
                let to = (i + n.len() + 64).min(buf.len());
                let around: String = (from..to)
                    .map(|j| {
                        if (i..i + n.len()).contains(&j) {
                            "##".to_string()
                        } else {
                            format!("{:02x}", buf[j])
                        }
                    })
                    .collect();
                found.push(format!("{what} at {range} {path} +{i:x}: {around}"));
            }
        }
        // Wipe the copy before it is freed (the allocator zeroes it too; this keeps the
        // scan honest whatever allocator runs it).
        buf.iter_mut().for_each(|b| *b = 0);
    }
    found
}

fn step(name: &str, action: Option<Action>, expect: &str) -> Step {
    Step {
        name: name.into(),
        action,
        expect: expect.into(),
        until: None,
    }
}

fn touch(zh: &str) -> Option<Action> {
    let mut m = serde_json::Map::new();
    m.insert("zh-CN".into(), json!(zh));
    Some(Action::Touch(m))
}

#[test]
fn no_personal_data_outlives_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config("kiosk.sim.toml", dir.path());
    let opts = TourOptions {
        journey: "memory".into(),
        script: None,
        out: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("session-memory"),
        lang: None,
        portrait: false,
    };
    let mut tour = Tour::start(cfg, &opts).unwrap();
    let mut group = serde_json::Map::new();
    group.insert("group".into(), json!("huji"));
    let steps = [
        step("woken", touch("请触摸屏幕开始办理"), "home"),
        step("groups", touch("取号"), "ticket-groups"),
        step("identify", Some(Action::Touch(group)), "ticket-identify"),
        step(
            "card",
            Some(Action::Sim(
                "idcard".into(),
                "place".into(),
                json!({"card": "resident"}),
            )),
            "ticket-taken",
        ),
        step(
            "lifted",
            Some(Action::Sim("idcard".into(), "lift".into(), json!({}))),
            "ticket-taken",
        ),
    ];
    for (i, s) in steps.iter().enumerate() {
        tour.step(i + 1, s).unwrap();
    }
    // While the session runs, it holds the identity: the scan must see it, or it proves
    // nothing.
    let during = find_in_memory();
    let seen = during.iter().any(|f| f.starts_with("number (UTF-8)"))
        && during.iter().any(|f| f.starts_with("name (UTF-8)"));
    assert!(
        seen,
        "the scan does not see the session's own copy: {during:#?}"
    );
    drop(during);
    tour.step(6, &step("home", Some(Action::AdvanceS(16)), "home"))
        .unwrap();
    // The terminal still runs, and nothing of the citizen is left.
    let after = find_in_memory();
    assert!(
        after.is_empty(),
        "personal data left after the session:\n{}",
        after.join("\n")
    );
    tour.finish("memory", "").unwrap();
}
