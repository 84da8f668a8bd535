//! Read-aloud for care mode (关爱模式): espeak-ng's Mandarin voice (or English) says the screen
//! or the control a citizen touched. On a terminal with a sound card the speech streams from
//! espeak-ng straight into ALSA's `aplay` (through PulseAudio where ALSA routes there), so
//! nothing spoken — which may be a citizen's own details — touches the disk. Tours and tests
//! write numbered WAV files to a folder instead and measure them.
//!
//! The newest request wins: a citizen who touches another control stops the sentence before.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where speech goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The sound card, when there is one (else nothing is said, and that is logged once).
    Device,
    /// Numbered WAV files in this folder (`speech-01.wav` …).
    Folder(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeechError {
    #[error("nothing to say")]
    Empty,
    #[error("{0} is not installed (scripts/setup-debian.sh installs espeak-ng)")]
    NotInstalled(String),
    #[error("{program} failed: {detail}")]
    Failed { program: String, detail: String },
}

/// The speech engine's command line: which program and voice.
#[derive(Debug, Clone)]
pub struct Voice {
    pub program: String,
    /// Words per minute; slower than espeak-ng's 175 for older listeners.
    pub rate: u32,
}

impl Default for Voice {
    fn default() -> Self {
        Voice {
            program: "espeak-ng".into(),
            rate: 140,
        }
    }
}

/// Texts longer than this are cut: a screen is read in well under a minute.
const MAX_CHARS: usize = 400;

impl Voice {
    /// The voice options and the text to say (control characters dropped, cut to length).
    fn parts(&self, text: &str, english: bool) -> Result<(Vec<String>, String), SpeechError> {
        let text: String = text
            .chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .take(MAX_CHARS)
            .collect();
        if text.trim().is_empty() {
            return Err(SpeechError::Empty);
        }
        let options = vec![
            "-v".into(),
            if english { "en" } else { "cmn" }.into(),
            "-s".into(),
            self.rate.to_string(),
        ];
        Ok((options, text))
    }

    fn spawn(&self, mut c: Command) -> Result<Child, SpeechError> {
        c.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SpeechError::NotInstalled(self.program.clone())
            } else {
                SpeechError::Failed {
                    program: self.program.clone(),
                    detail: e.to_string(),
                }
            }
        })
    }

    /// Speaks `text` into a WAV file.
    pub fn render(&self, text: &str, english: bool, wav: &Path) -> Result<(), SpeechError> {
        let (options, text) = self.parts(text, english)?;
        let mut c = Command::new(&self.program);
        // The text comes last, after `--`, as one argument: never through a shell, never
        // read as an option.
        c.args(&options)
            .arg("-w")
            .arg(wav)
            .arg("--")
            .arg(text)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let out = self
            .spawn(c)?
            .wait_with_output()
            .map_err(|e| SpeechError::Failed {
                program: self.program.clone(),
                detail: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(SpeechError::Failed {
                program: self.program.clone(),
                detail: String::from_utf8_lossy(&out.stderr)
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        Ok(())
    }

    /// Starts speaking `text` on the sound card: espeak-ng's WAV on stdout into `aplay`.
    fn play(&self, text: &str, english: bool) -> Result<(Child, Child), SpeechError> {
        let (options, text) = self.parts(text, english)?;
        let mut c = Command::new(&self.program);
        c.args(&options)
            .arg("--stdout")
            .arg("--")
            .arg(text)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut engine = self.spawn(c)?;
        let wav = engine.stdout.take().ok_or_else(|| SpeechError::Failed {
            program: self.program.clone(),
            detail: "no output".into(),
        })?;
        let player = Command::new("aplay")
            .arg("-q")
            .stdin(Stdio::from(wav))
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| SpeechError::NotInstalled(format!("aplay ({e})")))?;
        Ok((engine, player))
    }
}

/// Whether ALSA lists a playback device.
pub fn has_sound_device() -> bool {
    let mut s = String::new();
    std::fs::File::open("/proc/asound/pcm")
        .and_then(|mut f| f.read_to_string(&mut s))
        .is_ok_and(|_| s.lines().any(|l| l.contains("playback")))
}

struct Say {
    text: String,
    english: bool,
}

/// The read-aloud service: one thread that says the newest request.
pub struct Speaker {
    tx: mpsc::Sender<Say>,
}

impl Speaker {
    pub fn start(voice: Voice, output: Output) -> Speaker {
        let (tx, rx) = mpsc::channel::<Say>();
        let spawned = std::thread::Builder::new()
            .name("speech".into())
            .spawn(move || run(voice, output, rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "read-aloud cannot start");
        }
        Speaker { tx }
    }

    /// Says `text` (Mandarin, or English), stopping whatever is being said.
    pub fn say(&self, text: &str, english: bool) {
        let _ = self.tx.send(Say {
            text: text.to_string(),
            english,
        });
    }
}

fn run(voice: Voice, output: Output, rx: mpsc::Receiver<Say>) {
    let mut playing: Option<(Child, Child)> = None;
    let mut written = 0u32;
    let mut warned = false;
    let stop = |p: &mut Option<(Child, Child)>| {
        if let Some((mut a, mut b)) = p.take() {
            let _ = a.kill();
            let _ = b.kill();
            let _ = a.wait();
            let _ = b.wait();
        }
    };
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(s) => s,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Reap a sentence that finished.
                if let Some((a, b)) = playing.as_mut() {
                    if matches!(b.try_wait(), Ok(Some(_))) {
                        let _ = a.wait();
                        playing = None;
                    }
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        // Only the newest request is said.
        let say = rx.try_iter().last().unwrap_or(first);
        stop(&mut playing);
        // Never the words themselves in the log: they may be a citizen's details.
        let chars = say.text.chars().count();
        let result = match &output {
            Output::Device if has_sound_device() => voice
                .play(&say.text, say.english)
                .map(|p| playing = Some(p)),
            Output::Device => {
                if !warned {
                    warned = true;
                    tracing::warn!("read-aloud asked for, but this terminal has no sound device");
                }
                Ok(())
            }
            Output::Folder(dir) => {
                written += 1;
                voice.render(
                    &say.text,
                    say.english,
                    &dir.join(format!("speech-{written:02}.wav")),
                )
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, chars, "read-aloud failed");
        }
    }
    stop(&mut playing);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Length in seconds and RMS amplitude of a WAV, as sox measures it.
    pub fn measure(wav: &Path) -> (f64, f64) {
        let out = Command::new("sox")
            .arg(wav)
            .args(["-n", "stat"])
            .output()
            .expect("sox (scripts/setup-debian.sh installs it)");
        let text = String::from_utf8_lossy(&out.stderr);
        let field = |name: &str| -> f64 {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(':').next())
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("sox gave no {name:?}: {text}"))
        };
        (field("Length (seconds)"), field("RMS     amplitude"))
    }

    #[test]
    fn mandarin_and_english_are_spoken_audibly() {
        let dir = tempfile::tempdir().unwrap();
        let voice = Voice::default();
        let zh = dir.path().join("zh.wav");
        voice.render("请选择您要办理的事项", false, &zh).unwrap();
        let (secs, rms) = measure(&zh);
        assert!(secs > 1.0 && secs < 15.0, "{secs} s");
        assert!(rms > 0.01, "silent: rms {rms}");
        let en = dir.path().join("en.wav");
        voice.render("Which service is it for?", true, &en).unwrap();
        let (secs, rms) = measure(&en);
        assert!(secs > 0.5 && rms > 0.01, "{secs} s, rms {rms}");
        // A text that looks like an option is said, not obeyed.
        let odd = dir.path().join("odd.wav");
        voice.render("-w /tmp/elsewhere.wav", true, &odd).unwrap();
        assert!(!Path::new("/tmp/elsewhere.wav").exists());
        assert!(measure(&odd).0 > 0.5);
    }

    #[test]
    fn nothing_to_say_and_no_engine_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("x.wav");
        assert_eq!(
            Voice::default().render(" \u{7}\n", false, &wav),
            Err(SpeechError::Empty)
        );
        let missing = Voice {
            program: "/nonexistent/espeak-ng".into(),
            ..Voice::default()
        };
        assert!(matches!(
            missing.render("你好", false, &wav),
            Err(SpeechError::NotInstalled(_))
        ));
    }

    #[test]
    fn the_speaker_writes_the_newest_requests_to_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let speaker = Speaker::start(Voice::default(), Output::Folder(dir.path().to_path_buf()));
        speaker.say("关爱模式已打开", false);
        let first = dir.path().join("speech-01.wav");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !(first.exists() && measure_ok(&first)) {
            assert!(std::time::Instant::now() < deadline, "no speech written");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(measure(&first).1 > 0.01);
    }

    fn measure_ok(wav: &Path) -> bool {
        std::fs::metadata(wav).is_ok_and(|m| m.len() > 1000)
            && Command::new("sox")
                .arg(wav)
                .args(["-n", "stat"])
                .output()
                .is_ok_and(|o| o.status.success())
    }
}
