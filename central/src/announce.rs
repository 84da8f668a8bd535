//! Voice announcements for the hall (语音叫号): follows a hall's queue feed and, for every
//! call and recall, plays a chime then 「请 A 零 二 三 号 到 三 号窗口办理」 spoken by
//! espeak-ng's Mandarin voice — one announcement after another, never over each other. Runs
//! on the display host or a window unit (`kiosk-central announce`); with `--out` it writes the
//! sequence as WAV files instead of playing it (tests, or a host without a sound card).

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiosk_protocol::queue::{HallBoard, QueueEvent, QueueEventKind};

#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    #[error("espeak-ng: {0} (install espeak-ng)")]
    Speech(String),
    #[error("the player {player}: {message}")]
    Player { player: String, message: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the centre: {0}")]
    Centre(String),
}

const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];

/// A window number as said aloud: 3 → 三, 12 → 十二, 20 → 二十; anything else character by
/// character.
pub fn window_words(window: &str) -> String {
    match window.parse::<u32>() {
        Ok(n @ 0..=9) => DIGITS[n as usize].to_string(),
        Ok(n @ 10..=99) => {
            let (tens, ones) = (n / 10, n % 10);
            let mut s = if tens == 1 {
                String::new()
            } else {
                DIGITS[tens as usize].to_string()
            };
            s.push('十');
            if ones > 0 {
                s.push_str(DIGITS[ones as usize]);
            }
            s
        }
        _ => spelled(window),
    }
}

/// A ticket number read one character at a time: A023 → A 零 二 三.
fn spelled(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => DIGITS[d as usize].to_string(),
            None => c.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What is said for a call.
pub fn words(number: &str, window: &str) -> String {
    format!(
        "请 {} 号，到 {} 号窗口办理",
        spelled(number),
        window_words(window)
    )
}

/// A two-note chime (B5 then G5, each fading), 16-bit mono WAV at 22.05 kHz.
pub fn chime_wav() -> Vec<u8> {
    const RATE: u32 = 22_050;
    let mut samples: Vec<i16> = Vec::new();
    for (freq, secs) in [(987.77_f64, 0.35_f64), (783.99, 0.6)] {
        let n = (RATE as f64 * secs) as usize;
        for i in 0..n {
            let t = i as f64 / RATE as f64;
            let fade = (-4.0 * t / secs).exp();
            let v = (2.0 * std::f64::consts::PI * freq * t).sin() * fade * 0.5;
            samples.push((v * i16::MAX as f64) as i16);
        }
    }
    wav(RATE, &samples)
}

fn wav(rate: u32, samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        w.extend_from_slice(&s.to_le_bytes());
    }
    w
}

/// Speaks `text` with espeak-ng's Mandarin voice into `path` (WAV).
pub fn speak_to(text: &str, path: &Path) -> Result<(), AnnounceError> {
    let out = std::process::Command::new("espeak-ng")
        .args(["-v", "cmn", "-s", "140", "-w"])
        .arg(path)
        .arg(text)
        .output()
        .map_err(|e| AnnounceError::Speech(e.to_string()))?;
    if !out.status.success() {
        return Err(AnnounceError::Speech(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

/// Where announcements go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Played through `player` (`aplay -q`), one file after another.
    Play { player: String },
    /// Written as numbered WAV files (`0001-chime.wav`, `0002-call-A023.wav`, …).
    Files(PathBuf),
}

/// Renders and plays (or writes) announcements in order.
pub struct Announcer {
    sink: Sink,
    work: PathBuf,
    written: u32,
}

impl Announcer {
    /// `work` holds the rendered files while they play.
    pub fn new(sink: Sink, work: &Path) -> Result<Announcer, AnnounceError> {
        std::fs::create_dir_all(work)?;
        if let Sink::Files(d) = &sink {
            std::fs::create_dir_all(d)?;
        }
        Ok(Announcer {
            sink,
            work: work.to_path_buf(),
            written: 0,
        })
    }

    fn out(
        &mut self,
        name: &str,
        render: impl FnOnce(&Path) -> Result<(), AnnounceError>,
    ) -> Result<(), AnnounceError> {
        self.written += 1;
        match &self.sink {
            Sink::Files(dir) => {
                let path = dir.join(format!("{:04}-{name}.wav", self.written));
                render(&path)
            }
            Sink::Play { player } => {
                let path = self.work.join(format!("{name}.wav"));
                render(&path)?;
                let mut parts = player.split_whitespace();
                let program = parts.next().unwrap_or("aplay");
                let status = std::process::Command::new(program)
                    .args(parts)
                    .arg(&path)
                    .status()
                    .map_err(|e| AnnounceError::Player {
                        player: player.clone(),
                        message: e.to_string(),
                    })?;
                if !status.success() {
                    return Err(AnnounceError::Player {
                        player: player.clone(),
                        message: format!("exited with {status}"),
                    });
                }
                Ok(())
            }
        }
    }

    /// Announces one call: the chime, then the words. Returns what was said.
    pub fn call(&mut self, number: &str, window: &str) -> Result<String, AnnounceError> {
        let text = words(number, window);
        self.out("chime", |p| Ok(std::fs::write(p, chime_wav())?))?;
        let name = format!(
            "call-{}",
            number.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        self.out(&name, |p| speak_to(&text, p))?;
        Ok(text)
    }
}

/// The calls worth saying in a page of the feed: every call and recall, in order.
pub fn calls(events: &[QueueEvent]) -> impl Iterator<Item = (&str, &str)> {
    events
        .iter()
        .filter_map(|e| match (e.kind, &e.number, &e.window) {
            (QueueEventKind::Called, Some(n), Some(w)) => Some((n.as_str(), w.as_str())),
            _ => None,
        })
}

/// How long to follow.
pub struct Follow<'a> {
    /// Start after this feed event; from now when left out.
    pub after: Option<u64>,
    /// Stop after this many announcements (tests).
    pub limit: Option<usize>,
    /// Asked between polls.
    pub stop: &'a dyn Fn() -> bool,
}

/// Follows the hall's feed and announces each call. Calls made while the centre cannot be
/// reached are announced when it can again, in order.
pub fn follow(
    base: &str,
    hall: &str,
    token: &str,
    announcer: &mut Announcer,
    how: Follow<'_>,
) -> Result<usize, AnnounceError> {
    let Follow { after, limit, stop } = how;
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| AnnounceError::Centre(e.to_string()))?;
    let q = format!("{base}/api/v1/halls/{hall}/queue");
    let get = |url: String| -> Result<reqwest::blocking::Response, AnnounceError> {
        let r = http
            .get(url)
            .query(&[("token", token)])
            .send()
            .map_err(|e| AnnounceError::Centre(e.to_string()))?;
        if !r.status().is_success() {
            return Err(AnnounceError::Centre(format!(
                "{}: {}",
                r.status(),
                r.text().unwrap_or_default()
            )));
        }
        Ok(r)
    };
    let mut after = match after {
        Some(a) => a,
        None => {
            let board: HallBoard = get(format!("{q}/board"))?
                .json()
                .map_err(|e| AnnounceError::Centre(e.to_string()))?;
            board.last_event
        }
    };
    let mut said = 0;
    while !stop() {
        let page: Vec<QueueEvent> = match get(format!("{q}/events?after={after}"))
            .and_then(|r| r.json().map_err(|e| AnnounceError::Centre(e.to_string())))
        {
            Ok(p) => p,
            Err(AnnounceError::Centre(e)) => {
                tracing::warn!(error = %e, "announcements: the centre is not answering; trying again");
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
            Err(e) => return Err(e),
        };
        for (number, window) in calls(&page) {
            let text = announcer.call(number, window)?;
            tracing::info!(%text, "announced");
            said += 1;
            if limit.is_some_and(|l| said >= l) {
                return Ok(said);
            }
        }
        match page.last() {
            Some(e) => after = e.id,
            None => std::thread::sleep(Duration::from_millis(250)),
        }
    }
    Ok(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_digit_by_digit_and_windows_as_numbers() {
        assert_eq!(words("A023", "3"), "请 A 零 二 三 号，到 三 号窗口办理");
        assert_eq!(words("B100", "12"), "请 B 一 零 零 号，到 十二 号窗口办理");
        assert_eq!(window_words("20"), "二十");
        assert_eq!(window_words("10"), "十");
        assert_eq!(window_words("3A"), "三 A");
    }

    #[test]
    fn the_chime_is_a_valid_wav_of_about_a_second() {
        let w = chime_wav();
        assert_eq!(&w[..4], b"RIFF");
        assert_eq!(&w[8..16], b"WAVEfmt ");
        let data = u32::from_le_bytes(w[40..44].try_into().unwrap()) as usize;
        assert_eq!(data + 44, w.len());
        let secs = data as f64 / 2.0 / 22_050.0;
        assert!((0.9..1.0).contains(&secs), "{secs}");
        let loudest = w[44..]
            .chunks(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]).unsigned_abs())
            .max()
            .unwrap();
        assert!(loudest > 10_000, "not silent: {loudest}");
    }
}
