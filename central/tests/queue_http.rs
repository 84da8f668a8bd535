//! The hall queue over real HTTP: a window's commands and their refusals, the board behind
//! its display token, and the server-sent feed that resumes after a dropped connection
//! without missing a call.

use kiosk_central::{CentreHandle, SqliteStore};
use kiosk_protocol::queue::{HallBoard, QueueEvent, QueueEventKind, WindowOutcome};
use serde_json::json;

const HALL: &str = "kunshan";

/// Reads server-sent events from `resp` until `n` have come; each with its `id`.
async fn read_events(resp: &mut reqwest::Response, n: usize) -> Vec<(u64, QueueEvent)> {
    let mut buf = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), resp.chunk())
            .await
            .expect("the feed went quiet")
            .unwrap()
            .expect("the feed ended");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(v.trim().to_string());
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                out.push((id, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    out
}

#[tokio::test]
async fn windows_call_and_the_feed_resumes_from_the_last_event_seen() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("c.db")).unwrap();
    let token = store.create_display_token(HALL).unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store).await.unwrap();
    let url = centre.base_url();
    let c = reqwest::Client::new();
    let q = format!("{url}/api/v1/halls/{HALL}/queue");

    // Set up window 3 and sit down.
    let r = c
        .put(format!("{q}/windows/3"))
        .json(&json!({"services": ["social"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cmd =
        |body: serde_json::Value| c.post(format!("{q}/windows/3/commands")).json(&body).send();
    assert_eq!(
        cmd(json!({"command": "login", "staff": "S003"}))
            .await
            .unwrap()
            .status(),
        200
    );
    let r = cmd(json!({"command": "call-next"})).await.unwrap();
    assert_eq!(r.status(), 409);
    let why: serde_json::Value = r.json().await.unwrap();
    assert_eq!(why["reason"], "nobody-waiting");
    let r = cmd(json!({"command": "fly"})).await.unwrap();
    assert_eq!(r.status(), 400, "an unknown command is refused");
    let r = c
        .post(format!("{q}/windows/9/commands"))
        .json(&json!({"command": "call-next"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Two tickets from the machine, printed.
    let day = kiosk_central::queue::today();
    for (i, n) in ["A001", "A002"].iter().enumerate() {
        let t: serde_json::Value = c
            .post(format!("{url}/api/v1/halls/{HALL}/services/social/tickets"))
            .json(&json!({"device_id": "KSK-1", "request_id": format!("r{i}"), "prefix": "A"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(t["number"], *n);
    }
    let printed: Vec<_> = ["A001", "A002"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let payload = json!({"outcome": "printed", "ticket": {"hall": HALL, "service": "social", "day": day, "number": n}});
            json!({"device_id": "KSK-1", "seq": i + 1, "uuid": format!("u{i}"), "kind": "output.result",
                   "created_at": "2026-12-03T01:00:00Z",
                   "payload_sha256": kiosk_protocol::wire::payload_sha256(&payload), "payload": payload})
        })
        .collect();
    let r = c
        .post(format!("{url}/api/v1/devices/KSK-1/events"))
        .json(&json!({ "events": printed }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The window's unit reads how many it may call between its commands.
    let now: serde_json::Value = c
        .get(format!("{q}/windows/3"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (now["waiting"].as_u64(), now["window"]["state"].as_str()),
        (Some(2), Some("open"))
    );
    let r = c.get(format!("{q}/windows/9")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let why: serde_json::Value = r.json().await.unwrap();
    assert_eq!(why["reason"], "unknown-window");

    // The display needs its token.
    let r = c.get(format!("{q}/board")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .get(format!("{q}/board?token=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c.get(format!("{q}/feed")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let board: HallBoard = c
        .get(format!("{q}/board?token={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(board.waiting.get("social"), Some(&2));

    // A display follows the feed from the board's position.
    let mut feed = c
        .get(format!("{q}/feed?token={token}&after={}", board.last_event))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    let o: WindowOutcome = cmd(json!({"command": "call-next"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(o.ticket.unwrap().number, "A001");
    let got = read_events(&mut feed, 1).await;
    assert_eq!(got[0].1.kind, QueueEventKind::Called);
    assert_eq!(got[0].1.number.as_deref(), Some("A001"));
    let last_seen = got[0].0;
    // The connection drops; meanwhile the clerk recalls, then moves on.
    drop(feed);
    cmd(json!({"command": "recall"})).await.unwrap();
    cmd(json!({"command": "no-show"})).await.unwrap();
    cmd(json!({"command": "call-next"})).await.unwrap();
    let mut feed = c
        .get(format!("{q}/feed?token={token}"))
        .header("Last-Event-ID", last_seen.to_string())
        .send()
        .await
        .unwrap();
    let got = read_events(&mut feed, 3).await;
    let kinds: Vec<_> = got
        .iter()
        .map(|(_, e)| (e.kind, e.number.clone().unwrap_or_default(), e.calls))
        .collect();
    assert_eq!(
        kinds,
        [
            (QueueEventKind::Called, "A001".to_string(), 2),
            (QueueEventKind::NoShow, "A001".to_string(), 2),
            (QueueEventKind::Called, "A002".to_string(), 1),
        ],
        "everything after the last event seen, nothing before"
    );
    assert_eq!(got[0].0, last_seen + 1);

    let board: HallBoard = c
        .get(format!("{q}/board?token={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recent: Vec<_> = board
        .recent
        .iter()
        .filter_map(|e| e.number.clone())
        .collect();
    assert_eq!(
        recent,
        ["A002", "A001"],
        "newest first, a recall not doubled"
    );

    let stats: serde_json::Value = c
        .get(format!("{q}/stats?from={day}&to={day}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"]["issued"], 2);
    assert_eq!(stats["total"]["no_shows"], 1);
    assert_eq!(stats["by_window"]["3"]["calls"], 3);
    let r = c
        .get(format!("{q}/stats?from=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    centre.stop().await.unwrap();
}

#[tokio::test]
async fn a_clerk_logs_in_with_staff_number_and_pin_and_the_window_opens() {
    use kiosk_central::staff::{hash_pin, StaffEntry};
    use kiosk_protocol::queue::StaffPlate;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("c.db")).unwrap();
    store
        .put_staff(
            HALL,
            &StaffEntry {
                staff: "S003".into(),
                name: "张三".into(),
                title: "综合窗口".into(),
                photo_jpeg_base64: None,
                pin_hash: hash_pin("246810").unwrap(),
            },
        )
        .unwrap();
    let token = store.create_display_token(HALL).unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store).await.unwrap();
    let url = centre.base_url();
    let c = reqwest::Client::new();
    c.put(format!("{url}/api/v1/halls/{HALL}/queue/windows/3"))
        .json(&json!({"services": ["social"]}))
        .send()
        .await
        .unwrap();
    let login = |pin: &str| {
        c.post(format!("{url}/api/v1/halls/{HALL}/staff/S003/login"))
            .json(&json!({"pin": pin, "window": "3", "device_id": "WIN-3"}))
            .send()
    };
    let r = login("111111").await.unwrap();
    assert_eq!(r.status(), 403);
    let why: serde_json::Value = r.json().await.unwrap();
    assert_eq!(why["reason"], "pin-wrong");
    assert!(
        why["error"].as_str().unwrap().contains("4 tries left"),
        "{why}"
    );
    assert_eq!(
        login("12ab").await.unwrap().status(),
        400,
        "a PIN is digits"
    );
    let plate: StaffPlate = login("246810").await.unwrap().json().await.unwrap();
    assert_eq!(
        (plate.name.as_str(), plate.window.as_str(), plate.stars),
        ("张三", "3", None)
    );
    let board: HallBoard = c
        .get(format!(
            "{url}/api/v1/halls/{HALL}/queue/board?token={token}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        board.windows[0].staff.as_deref(),
        Some("S003"),
        "the window opened"
    );
    for _ in 0..4 {
        login("111111").await.unwrap();
    }
    let r = login("111111").await.unwrap();
    assert_eq!(r.status(), 423, "locked after five wrong PINs");
    assert_eq!(
        login("246810").await.unwrap().status(),
        423,
        "even the right one"
    );
    centre.stop().await.unwrap();
}
