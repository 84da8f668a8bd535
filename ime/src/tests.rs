//! The engine from Debian's packages: pinyin gives characters, a pick commits them, nothing
//! typed is learned or left in the engine's folder.

use super::*;

fn letters(ime: &mut Ime, s: &str) -> State {
    let mut last = State::default();
    for c in s.chars() {
        last = ime.key(Key::Letter(c));
    }
    last
}

/// One folder for the whole test process (the engine is process-wide), kept in the target
/// folder so a second run reuses its deployment.
fn folder() -> PathBuf {
    let d = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/ime-test"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn pinyin_gives_simplified_characters_and_a_pick_commits() {
    let mut ime = Ime::start(&folder()).unwrap();
    let s = letters(&mut ime, "shebao");
    assert_eq!(s.preedit.as_str().replace(' ', ""), "shebao", "{s:?}");
    assert!(
        s.candidates.iter().any(|c| c.as_str() == "社保"),
        "社保 among {:?}",
        s.candidates
    );
    assert!(s.candidates.len() <= PAGE_SIZE);
    let at = s
        .candidates
        .iter()
        .position(|c| c.as_str() == "社保")
        .unwrap();
    let s = ime.pick(at);
    assert_eq!(s.committed.as_str(), "社保");
    assert!(s.preedit.is_empty() && s.candidates.is_empty());
    // Simplified, not traditional.
    let s = letters(&mut ime, "guojia");
    assert!(
        s.candidates.iter().any(|c| c.as_str() == "国家"),
        "{:?}",
        s.candidates
    );
    assert!(!s.candidates.iter().any(|c| c.as_str() == "國家"));
    let s = ime.key(Key::Clear);
    assert!(s.preedit.is_empty() && s.committed.is_empty());
}

#[test]
fn backspace_space_and_pages() {
    let mut ime = Ime::start(&folder()).unwrap();
    letters(&mut ime, "zhang");
    let s = ime.key(Key::Backspace);
    assert_eq!(s.preedit.as_str(), "zhan");
    let first = s.candidates.first().cloned().unwrap();
    let next = ime.key(Key::NextPage);
    assert_eq!(next.page, 1);
    assert_ne!(next.candidates.first(), Some(&first));
    let back = ime.key(Key::PreviousPage);
    assert_eq!(back.page, 0);
    let s = ime.key(Key::Space);
    assert_eq!(s.committed, first, "space commits the first candidate");
    // Anything but a-z is not typed.
    let s = ime.key(Key::Letter('1'));
    assert!(s.preedit.is_empty());
}

#[test]
fn nothing_typed_is_learned() {
    let dir = folder();
    {
        let mut ime = Ime::start(&dir).unwrap();
        letters(&mut ime, "zhangsanfeng");
        ime.key(Key::Space);
    }
    // No user dictionary is made: its folder would be <schema>.userdb.
    let learned: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("userdb"))
        .collect();
    assert!(learned.is_empty(), "{learned:?}");
    // A second terminal in the same process shares the deployed engine; nothing is written
    // to the folder it names.
    let elsewhere = dir.join("elsewhere");
    let mut ime = Ime::start(&elsewhere).unwrap();
    letters(&mut ime, "ni");
    assert!(!ime.state().candidates.is_empty());
    assert!(!elsewhere.exists());
}
