//! Voice announcements against a real centre: a call and a recall give chime, words, chime,
//! words — in order, each file a real sound (sox measures its length and loudness).

use std::path::Path;

use kiosk_central::announce::{follow, Announcer, Follow, Sink};
use kiosk_central::queue::{BuiltinQueue, QueueEngine, QueueRules};
use kiosk_central::{CentreHandle, SqliteStore, Store};
use kiosk_protocol::queue::WindowCommand;

mod common;
use common::printed_tickets;

const HALL: &str = "kunshan";

/// (seconds, RMS amplitude) of a WAV file, as sox measures them.
fn measure(path: &Path) -> (f64, f64) {
    let secs = std::process::Command::new("sox")
        .args(["--i", "-D"])
        .arg(path)
        .output()
        .expect("sox (scripts/setup-debian.sh installs it)");
    let secs: f64 = String::from_utf8_lossy(&secs.stdout)
        .trim()
        .parse()
        .unwrap();
    let stat = std::process::Command::new("sox")
        .arg(path)
        .args(["-n", "stat"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&stat.stderr);
    let rms = text
        .lines()
        .find(|l| l.starts_with("RMS     amplitude"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RMS in {text}"));
    (secs, rms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_and_its_recall_are_announced_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from(SqliteStore::open(&dir.path().join("c.db")).unwrap());
    let q = BuiltinQueue::new(store.clone(), QueueRules::default());
    q.set_window(HALL, "3", &["social".into()]).unwrap();
    q.command(
        HALL,
        "3",
        &WindowCommand::Login {
            staff: "S003".into(),
        },
    )
    .unwrap()
    .unwrap();
    printed_tickets(&store, HALL, "social", "A", 2, 1);
    let token = store.create_display_token(HALL).unwrap();
    let start = q.board(HALL).unwrap().last_event;
    let centre = CentreHandle::start("127.0.0.1:0", store).await.unwrap();
    let base = centre.base_url();

    // The clerk calls A001 and, nobody coming, calls it again.
    q.command(HALL, "3", &WindowCommand::CallNext)
        .unwrap()
        .unwrap();
    q.command(HALL, "3", &WindowCommand::Recall)
        .unwrap()
        .unwrap();

    let out = dir.path().join("said");
    let (o, work) = (out.clone(), dir.path().join("work"));
    let said = tokio::task::spawn_blocking(move || {
        let mut a = Announcer::new(Sink::Files(o), &work).unwrap();
        follow(
            &base,
            HALL,
            &token,
            &mut a,
            Follow {
                after: Some(start),
                limit: Some(2),
                stop: &|| false,
            },
        )
    })
    .await
    .unwrap()
    .unwrap();
    centre.stop().await.unwrap();
    assert_eq!(said, 2);

    let mut files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "0001-chime.wav",
            "0002-call-A001.wav",
            "0003-chime.wav",
            "0004-call-A001.wav"
        ]
    );
    for f in &files {
        let (secs, rms) = measure(&out.join(f));
        println!("{f}: {secs:.2} s, RMS {rms:.3}");
        assert!(rms > 0.01, "{f} is not silent");
        if f.contains("chime") {
            assert!((0.8..1.2).contains(&secs), "{f}: {secs} s");
        } else {
            // Eleven syllables or so at espeak-ng's pace: a couple of seconds, not a click.
            assert!((1.5..10.0).contains(&secs), "{f}: {secs} s");
        }
    }
}
