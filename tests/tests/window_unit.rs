//! The window dual-screen unit end to end on the simulated devices and the embedded centre:
//! its four tours played through the screens by their accessible labels, then what reached
//! the centre (the queue's tickets, the rating with every field), the journal (the sealed
//! signature, the printed slip) and the disk (no citizen's name or ID number in plain).

use std::path::PathBuf;

use kiosk_app::cli::tour::TourOptions;
use kiosk_app::cli::tour_desk::{self, DeskTour};
use kiosk_e2e::{sample_config, sample_config_with_ic_card};
use kiosk_protocol::queue::QueueState;

fn script(name: &str) -> tour_desk::DeskScript {
    let text = tour_desk::BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap();
    tour_desk::parse(text).unwrap()
}

fn play(name: &str) -> (DeskTour, Vec<Vec<String>>) {
    let dir = tempfile::tempdir().unwrap();
    play_with(name, sample_config("window.sim.toml", dir.path()))
}

fn play_with(name: &str, cfg: kiosk_app::Config) -> (DeskTour, Vec<Vec<String>>) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("window-unit")
        .join(name);
    let opts = TourOptions {
        journey: name.into(),
        script: None,
        out,
        lang: None,
        portrait: false,
    };
    let mut tour = DeskTour::start(cfg, &opts).unwrap();
    let mut labels = Vec::new();
    for (i, step) in script(name).steps.iter().enumerate() {
        let r = tour
            .step(i + 1, step)
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        labels.push(r.labels.clone());
    }
    (tour, labels)
}

fn store(tour: &DeskTour) -> kiosk_central::SqliteStore {
    kiosk_central::SqliteStore::open(
        &tour
            .terminal
            .config
            .data_dir()
            .join("central")
            .join("central.db"),
    )
    .unwrap()
}

/// Neither the sim card's name nor its ID number, nor its social-security card number, is
/// anywhere in the terminal's files in plain.
fn no_unmasked_identity(tour: &DeskTour) {
    kiosk_e2e::assert_no_plain(
        &tour.terminal.config.data_dir(),
        None,
        &["320583199001011232", "张三丰", "D12345678"],
    );
}

fn call_serve_rate() {
    let (tour, labels) = play("window-call-serve-rate");
    // The clerk's toolbar shows the citizen masked once the card is read.
    assert!(
        labels.iter().flatten().any(|l| l == "群众：张**"),
        "{labels:?}"
    );
    assert!(labels.iter().flatten().all(|l| !l.contains("张三丰")));
    // The clerk sees the window's own figures of today once the ticket is served.
    assert!(
        labels
            .iter()
            .flatten()
            .any(|l| l.starts_with("今日已办 1 件")),
        "{labels:?}"
    );
    let store = store(&tour);
    let day = kiosk_central::queue::today();
    let ratings = store.queue_ratings("kunshan-zwfw", &day, &day).unwrap();
    assert_eq!(ratings.len(), 1, "{ratings:?}");
    let r = &ratings[0];
    assert_eq!(
        (
            r.hall.as_str(),
            r.number.as_str(),
            r.service.as_str(),
            r.window.as_str(),
            r.staff.as_str(),
            r.level,
            r.channel.as_str()
        ),
        ("kunshan-zwfw", "A001", "huji", "3", "8801", 5, "window-pad")
    );
    assert_eq!(r.tags, ["friendly"]);
    assert_eq!(r.day, day);
    let tickets = store
        .queue_tickets_between("kunshan-zwfw", &day, &day)
        .unwrap();
    let a001 = tickets.iter().find(|t| t.number == "A001").unwrap();
    assert_eq!(a001.state, QueueState::Finished);
    assert_eq!(a001.rating, Some(5), "one rating, bound to its ticket");
    // Called twice (a recall), served at window 3 by 8801.
    assert!(a001
        .periods
        .iter()
        .any(|p| p.state == QueueState::Serving && p.staff.as_deref() == Some("8801")));
    // The calls were said on the unit's speaker: a WAV per call.
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("window-unit")
        .join("window-call-serve-rate");
    let wavs = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wav"))
        .count();
    assert!(wavs >= 2, "{wavs} calls said");
    no_unmasked_identity(&tour);
    tour.finish("window-call-serve-rate", "").unwrap();
}

fn confirm_sign() {
    let (tour, labels) = play("window-confirm-sign");
    // The citizen screen showed the citizen their own details to confirm, the number masked.
    assert!(
        labels
            .iter()
            .flatten()
            .any(|l| l == "证件号码: 3205**********1232"),
        "{labels:?}"
    );
    let journal = tour.terminal.journal.lock();
    let signed = journal.events_like("window.signed", 10).unwrap();
    assert_eq!(signed.len(), 1);
    let p = &signed[0].2;
    assert_eq!(p["number"], "Z001");
    assert_eq!(p["case"], "20261203000042");
    assert_eq!(p["staff"], "8801");
    let sha = p["attachments"][0]["sha256"].as_str().unwrap();
    let stored = tour
        .terminal
        .config
        .data_dir()
        .join("attachments")
        .join(sha);
    let bytes = std::fs::read(&stored).unwrap();
    assert!(
        bytes.starts_with(b"HKSEAL1"),
        "the signature is sealed at rest"
    );
    // The handling slip went to the receipt printer two-phase.
    let slips: Vec<_> = journal
        .events_like("output.", 1000)
        .unwrap()
        .into_iter()
        .filter(|(_, _, p)| p.to_string().contains("window-slip"))
        .collect();
    assert!(!slips.is_empty(), "the slip was recorded");
    drop(journal);
    let store = store(&tour);
    let day = kiosk_central::queue::today();
    let ratings = store.queue_ratings("kunshan-zwfw", &day, &day).unwrap();
    assert_eq!(ratings.len(), 1, "{ratings:?}");
    let r = &ratings[0];
    assert_eq!(r.level, 2);
    assert_eq!(r.tags, ["unfriendly"]);
    assert_eq!(r.case_number.as_deref(), Some("20261203000042"));
    // The complaint went sealed, as an attachment the rating names (never inline).
    assert_eq!(r.complaint, None, "{r:?}");
    let sha = r.complaint_sha256.clone().expect("the complaint's hash");
    let sealed = std::fs::read(
        tour.terminal
            .config
            .data_dir()
            .join("attachments")
            .join(&sha),
    )
    .unwrap();
    assert!(
        sealed.starts_with(b"HKSEAL1"),
        "the complaint is sealed at rest"
    );
    let journal = tour.terminal.journal.lock();
    let rated = journal.events_like("queue.rated", 10).unwrap();
    assert_eq!(rated[0].2["attachments"][0]["sha256"], sha.as_str());
    drop(journal);
    // The speaker said the call, then the prompts: welcome, place the card, confirm, sign,
    // rate, thanks — each a real WAV with sound in it.
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("window-unit")
        .join("window-confirm-sign");
    let wavs: Vec<u64> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wav"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert!(wavs.len() >= 6, "{} said", wavs.len());
    // 16 kHz 16-bit mono: a quarter of a second at least.
    assert!(wavs.iter().all(|&n| n > 44 + 8_000), "{wavs:?}");
    no_unmasked_identity(&tour);
    tour.finish("window-confirm-sign", "").unwrap();
}

fn transfer() {
    let (tour, _) = play("window-transfer");
    let store = store(&tour);
    let day = kiosk_central::queue::today();
    let tickets = store
        .queue_tickets_between("kunshan-zwfw", &day, &day)
        .unwrap();
    let get = |n: &str| tickets.iter().find(|t| t.number == n).unwrap().clone();
    let (a1, a2, a3) = (get("A001"), get("A002"), get("A003"));
    // Transferred to social insurance, waiting there with the arrival time it had.
    assert_eq!(
        (a1.state, a1.service.as_str()),
        (QueueState::Waiting, "shebao")
    );
    assert!(a1.arrived_at <= a2.arrived_at, "it kept its place");
    assert!(a1
        .periods
        .iter()
        .any(|p| p.state == QueueState::Serving && p.window.as_deref() == Some("3")));
    assert_eq!(a2.state, QueueState::NoShow);
    assert_eq!(a3.state, QueueState::Finished);
    assert!(a3.periods.iter().any(|p| p.state == QueueState::Hold));
    tour.finish("window-transfer", "").unwrap();
}

/// Casting, the social-security card on pcscd's virtual reader and a material on the
/// document camera.
fn cast_materials() {
    kiosk_app::cli::pcscd::ensure().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tour, labels) = play_with(
        "window-cast-materials",
        sample_config_with_ic_card("window.sim.toml", dir.path()),
    );
    let has = |step: usize, want: &str| labels[step - 1].iter().any(|l| l == want);
    // The citizen screen showed the clerk's screen, and said what the reader waited for.
    assert!(has(7, "工作人员的屏幕"), "{:?}", labels[6]);
    assert!(has(8, "请将身份证放在读卡器上"), "{:?}", labels[7]);
    assert!(has(10, "请将社保卡插入读卡器"), "{:?}", labels[9]);
    // The clerk saw the social-security card masked, and the material counted.
    assert!(has(13, "社保卡 D123****8"), "{:?}", labels[12]);
    assert!(has(13, "材料 1 份"), "{:?}", labels[12]);
    // The confirmation took the screen; the cast came back after it.
    assert!(has(15, "工作人员的屏幕"), "{:?}", labels[14]);
    // The citizen left: the cast stopped, nothing of theirs stayed on the toolbar.
    assert!(!has(16, "工作人员的屏幕"), "{:?}", labels[15]);
    assert!(labels[15].iter().all(|l| !l.contains("D123")));
    let v = tour.desk.view();
    assert!(!v.casting && v.cast_frame.is_none() && v.ic_card.is_none());

    let journal = tour.terminal.journal.lock();
    let kept = journal.events_like("window.material", 10).unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let p = &kept[0].2;
    assert_eq!(
        (p["number"].as_str(), p["staff"].as_str()),
        (Some("Z001"), Some("8801"))
    );
    let sha = p["attachments"][0]["sha256"].as_str().unwrap();
    let bytes = std::fs::read(
        tour.terminal
            .config
            .data_dir()
            .join("attachments")
            .join(sha),
    )
    .unwrap();
    assert!(
        bytes.starts_with(b"HKSEAL1"),
        "the material is sealed at rest"
    );
    drop(journal);
    no_unmasked_identity(&tour);
    tour.finish("window-cast-materials", "").unwrap();
}

#[test]
fn the_window_unit_on_the_simulated_hall() {
    for (name, _) in tour_desk::BUILT_IN {
        script(name);
    }
    call_serve_rate();
    confirm_sign();
    transfer();
    cast_materials();
}
