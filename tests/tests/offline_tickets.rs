//! A ticket machine with the centre cut off and back: it keeps issuing from the numbers it
//! reserved, prints them, and once the centre answers again its tickets join the queue in the
//! order they were taken, no number issued twice.

use std::sync::Arc;
use std::time::Duration;

use kiosk_app::centre::sync::SyncClient;
use kiosk_app::centre::{BlockingCentre, CentreClient};
use kiosk_app::config::SealOffline;
use kiosk_app::journal::{Journal, Outbox};
use kiosk_app::runtime::Owner;
use kiosk_app::services::catalogue::Catalogue;
use kiosk_app::services::outputs::OutputDesk;
use kiosk_app::services::queue::{self, NumberProblem};
use kiosk_app::{Profile, Runtime};
use kiosk_central::queue::{BuiltinQueue, QueueEngine, QueueRules};
use kiosk_central::{CentreHandle, SqliteStore, Store};
use kiosk_e2e::{repo_root, sample_config};
use kiosk_hal::clock::SystemClock;
use kiosk_protocol::queue::WindowCommand;

const DEVICE: &str = "KSK-320583-0009";

#[test]
fn tickets_keep_coming_with_the_centre_cut_off_and_join_the_queue_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = sample_config("kiosk.sim.toml", dir.path());
    cfg.devices.retain(|d| d.id == "receipt");
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let db = dir.path().join("centre.db");
    let centre = tokio
        .block_on(CentreHandle::start(
            "127.0.0.1:0",
            SqliteStore::open(&db).unwrap(),
        ))
        .unwrap();
    let addr = centre.addr;
    let base = centre.base_url();
    let rt = Arc::new(Runtime::start(&cfg, Profile::Sim, SystemClock::shared()).unwrap());
    let journal = Journal::new(
        Outbox::open(&dir.path().join("outbox.db"), DEVICE, SystemClock::shared()).unwrap(),
    );
    let desk = OutputDesk {
        rt: rt.clone(),
        journal: journal.clone(),
        centre: Some(BlockingCentre::new(
            CentreClient::new(&base, DEVICE, None, Duration::from_secs(2)).unwrap(),
            tokio.handle().clone(),
        )),
        seal_offline: SealOffline::Refuse,
        timeout: Duration::from_secs(60),
    };
    let catalogue = Catalogue::from_json(
        &serde_json::from_str(
            &std::fs::read_to_string(repo_root().join("config/hall-catalogue.json")).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let group = catalogue.group("huji").unwrap().clone();
    let hall = catalogue.hall.id.clone();
    let printer = rt
        .claim(
            "receipt",
            Owner::Flow("test".into()),
            Duration::from_secs(600),
            Duration::ZERO,
        )
        .unwrap();
    fn ask<'a>(request_id: &'a str, appointment: Option<&'a str>) -> queue::NumberAsk<'a> {
        queue::NumberAsk {
            request_id,
            appointment,
            holder: None,
            age: None,
            offline_numbers: 30,
        }
    }
    let take = |request: &str| {
        let t = queue::number(&desk, &catalogue, &group, &ask(request, None))?;
        queue::print(&desk, &printer, &catalogue, &group, &t, "2026-12-03 09:00").expect("printed");
        Ok::<_, NumberProblem>(t)
    };

    // Online: the first ticket, and numbers reserved for later.
    let first = take("r1").unwrap();
    assert_eq!((first.number.as_str(), first.offline), ("A001", false));
    assert!(queue::top_up(&desk, &hall, "huji", 30).unwrap() >= 10);

    // The centre goes away. Tickets keep coming, from the block, in order.
    tokio.block_on(centre.stop()).unwrap();
    let offline: Vec<_> = ["r2", "r3", "r4"]
        .iter()
        .map(|r| take(r).unwrap())
        .collect();
    let numbers: Vec<_> = offline.iter().map(|t| t.number.as_str()).collect();
    assert_eq!(
        numbers,
        ["A501", "A502", "A503"],
        "apart from the online numbers"
    );
    assert!(offline.iter().all(|t| t.offline));
    // An appointment cannot be checked in without the centre: told so, no number used.
    assert!(matches!(
        queue::number(&desk, &catalogue, &group, &ask("r5", Some("YY-1"))),
        Err(NumberProblem::CentreUnreachable(_))
    ));

    // The centre is back on the same address and database; the journal catches up.
    let store = Store::from(SqliteStore::open(&db).unwrap());
    let q = BuiltinQueue::new(store.clone(), QueueRules::default());
    let centre = tokio
        .block_on(CentreHandle::start(&addr.to_string(), store))
        .unwrap();
    let sync = SyncClient::new(CentreClient::plain(&base, DEVICE).unwrap(), 100);
    tokio.block_on(sync.drain(&journal)).unwrap();
    // A ticket taken now, online: never a number of the block.
    let later = take("r6").unwrap();
    assert!(!later.offline);
    assert_eq!(later.number, "A002", "online numbers go on from A001");
    tokio.block_on(sync.drain(&journal)).unwrap();

    q.set_window(&hall, "1", &["huji".into()]).unwrap();
    q.command(&hall, "1", &WindowCommand::Login { staff: "S1".into() })
        .unwrap()
        .unwrap();
    let mut called = Vec::new();
    while let Ok(o) = q.command(&hall, "1", &WindowCommand::CallNext).unwrap() {
        called.push(o.ticket.unwrap().number);
        q.command(&hall, "1", &WindowCommand::Finish)
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        called,
        ["A001", "A501", "A502", "A503", "A002"],
        "in the order they were taken"
    );
    tokio.block_on(centre.stop()).unwrap();
}
