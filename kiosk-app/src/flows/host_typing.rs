//! The on-screen keyboard's text: pinyin through the input engine (`kiosk-ime`) into the
//! words the citizen is typing, held by the host for the session and wiped with it. Without
//! the engine (its data missing) the keys type the letters themselves.

use kiosk_ime::{Ime, Key, State};
use zeroize::Zeroizing;

use super::Worker;

/// The longest text the keyboard takes (a use, a short answer).
pub const MAX_CHARS: usize = 24;

/// A tap on the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tap {
    Key(Key),
    /// A candidate of the page showing.
    Pick(usize),
    /// A digit, `X` (the ID number's check letter), or `-`, `.`, `@` from the digit pad: typed
    /// as it is.
    Char(char),
}

#[derive(Default)]
pub(crate) struct Typing {
    ime: Option<Ime>,
    pub text: Zeroizing<String>,
    pub state: State,
    /// The engine could not start: letters are typed as they are.
    pub plain: bool,
    /// The longest text this keyboard takes.
    pub max: usize,
}

/// The on-screen keyboard's key by the name the screen sends (`backspace`, `space`, `clear`,
/// `next`, `prev`, or one letter).
pub fn key_named(k: &str) -> Option<kiosk_ime::Key> {
    use kiosk_ime::Key;
    Some(match k {
        "backspace" => Key::Backspace,
        "space" => Key::Space,
        "clear" => Key::Clear,
        "next" => Key::NextPage,
        "prev" => Key::PreviousPage,
        letter => match letter.chars().next() {
            Some(c) if letter.chars().count() == 1 => Key::Letter(c),
            _ => return None,
        },
    })
}

impl Typing {
    /// A keyboard starting with `initial`, taking at most `max` characters; `pinyin` false for
    /// the digit pad and Latin letters (no engine then). `dir` holds the engine's data.
    pub(crate) fn start(dir: &std::path::Path, initial: &str, max: usize, pinyin: bool) -> Typing {
        let ime = if pinyin {
            Ime::start(dir)
                .map_err(|e| tracing::warn!(error = %e, "pinyin input unavailable; letters only"))
                .ok()
        } else {
            None
        };
        let mut t = Typing {
            plain: ime.is_none(),
            ime,
            max,
            ..Typing::default()
        };
        t.push(initial);
        t
    }

    /// The engine goes; what was typed stays.
    pub(crate) fn stop(&mut self) {
        self.ime = None;
        self.state = State::default();
    }

    /// One tap: pinyin goes to the engine; a committed word, or a letter without the engine,
    /// to the text; backspace with no pinyin pending takes the text's last character.
    pub(crate) fn tap(&mut self, tap: Tap) {
        let t = self;
        let pending = !t.state.preedit.is_empty();
        match (t.ime.as_mut(), tap) {
            (_, Tap::Key(Key::Backspace)) if !pending => {
                t.text.pop();
            }
            (Some(ime), Tap::Key(k)) => t.state = ime.key(k),
            (Some(ime), Tap::Pick(i)) => t.state = ime.pick(i),
            (None, Tap::Key(Key::Letter(c))) if c.is_ascii_alphabetic() => {
                t.push(&c.to_string());
            }
            (_, Tap::Char(c)) if !pending && (c.is_ascii_digit() || "Xx-.@_".contains(c)) => {
                t.push(&c.to_ascii_uppercase().to_string());
            }
            (_, Tap::Char(_)) | (None, _) => {}
        }
        let committed = std::mem::take(&mut t.state.committed);
        t.push(&committed);
    }

    fn push(&mut self, s: &str) {
        let max = if self.max == 0 { MAX_CHARS } else { self.max };
        for c in s.chars() {
            if self.text.chars().count() < max {
                self.text.push(c);
            }
        }
    }
}

impl Worker {
    pub(super) fn start_typing(&mut self) {
        self.start_typing_with("", MAX_CHARS, true);
    }

    /// The keyboard starts with `initial` (a prefilled or earlier value), taking at most `max`
    /// characters; `pinyin` false for the digit pad and Latin letters (no engine then).
    pub(super) fn start_typing_with(&mut self, initial: &str, max: usize, pinyin: bool) {
        let dir = self.cfg.config.data_dir().join("ime");
        self.typing = Some(Typing::start(&dir, initial, max, pinyin));
    }

    /// The keyboard goes; what was typed stays for the page.
    pub(super) fn stop_typing(&mut self) {
        if let Some(t) = self.typing.as_mut() {
            t.stop();
        }
    }

    /// One tap on the keyboard.
    pub(super) fn tap(&mut self, tap: Tap) {
        if let Some(t) = self.typing.as_mut() {
            t.tap(tap);
        }
    }

    /// The text typed, when there is one.
    pub(super) fn typed(&self) -> Option<&str> {
        self.typing
            .as_ref()
            .map(|t| t.text.as_str())
            .filter(|s| !s.trim().is_empty())
    }
}
