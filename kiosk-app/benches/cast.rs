//! Casting the clerk's screen (printed, never asserted): one frame is a grab of the X display
//! (`GetImage` of the root window) and its scaling to the citizen screen (1280×720 at most).
//! At `[window] cast_fps = 4` a frame has 250 ms; this prints how much of that it takes.
//!
//!     cargo bench --profile dev -p kiosk-app --bench cast
//!
//! The grab runs against a private Xvfb (installed by scripts/setup-debian.sh); without one
//! only the scaling is measured, and it says so.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiosk_app::services::cast::{fit, CastSource, Shot};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn shot(w: u32, h: u32) -> Shot {
    let bgra = (0..w * h * 4).map(|i| (i % 251) as u8).collect();
    Shot {
        width: w,
        height: h,
        bgra,
    }
}

/// An Xvfb on a display it picks, stopped on drop.
struct Xvfb(Child, String);

impl Xvfb {
    fn start(geometry: &str) -> Option<Xvfb> {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                geometry,
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut n = String::new();
        BufReader::new(child.stdout.take()?)
            .read_line(&mut n)
            .ok()?;
        let display = format!(":{}", n.trim());
        Some(Xvfb(child, display))
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    const RUNS: usize = 40;
    println!("cast: one frame = grab + scale to ≤1280×720; budget at 4 fps = 250 ms");
    for (w, h) in [(1920u32, 1080u32), (2560, 1440)] {
        let s = shot(w, h);
        let times: Vec<Duration> = (0..RUNS)
            .map(|i| {
                let t = Instant::now();
                let f = fit(&s, 1280, 720, i as u64).expect("fit");
                assert_eq!(f.width, 1280);
                t.elapsed()
            })
            .collect();
        println!(
            "  scale {w}×{h} → 1280×720: median {:.1} ms ({RUNS} runs)",
            ms(median(times))
        );

        let Some(x) = Xvfb::start(&format!("{w}x{h}x24")) else {
            println!("  grab {w}×{h}: no Xvfb here, not measured");
            continue;
        };
        // Xvfb resets when its first probe leaves: connect until it takes us.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut grab = loop {
            match CastSource::X11(Some(x.1.clone())).open() {
                Ok(g) => break g,
                Err(e) if Instant::now() > deadline => panic!("{}: {e}", x.1),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let mut grabs = Vec::new();
        let mut frames = Vec::new();
        for i in 0..RUNS {
            let t = Instant::now();
            let s = grab.grab().expect("grab");
            let g = t.elapsed();
            fit(&s, 1280, 720, i as u64).expect("fit");
            grabs.push(g);
            frames.push(t.elapsed());
        }
        let (g, f) = (median(grabs), median(frames));
        println!(
            "  grab {w}×{h}: median {:.1} ms; grab + scale median {:.1} ms = {:.0} % of the 4 fps budget",
            ms(g),
            ms(f),
            ms(f) / 250.0 * 100.0
        );
    }
}
