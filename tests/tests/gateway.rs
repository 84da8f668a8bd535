//! The local device API over a real WebSocket and real HTTP, against the whole simulated
//! terminal: the life cycle of a command, refused requestIds, cancel, a dropped connection,
//! claims between two pages and a citizen's journey, Origin and token refusals, one-time
//! result URLs, the audit — and never a citizen's data in the audit or on disk in plain.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use kiosk_app::terminal::Terminal;
use kiosk_app::Profile;
use kiosk_e2e::sample_config;
use kiosk_hal::clock::SystemClock;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

const ORIGIN: &str = "http://127.0.0.1:5847";
const TOKEN: &str = "hallkit-sample-token";
/// A second system that may only print.
const PRINT_TOKEN: &str = "print-only-token";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Rig {
    terminal: Arc<Terminal>,
    base: String,
    _dir: tempfile::TempDir,
}

fn rig(tweak: impl FnOnce(&mut kiosk_app::config::GatewayConfig)) -> Rig {
    rig_config(|cfg| {
        tweak(
            cfg.gateway
                .as_mut()
                .expect("the sim config has a [gateway]"),
        )
    })
}

fn rig_config(tweak: impl FnOnce(&mut kiosk_app::Config)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = sample_config("kiosk.sim.toml", dir.path());
    let g = cfg
        .gateway
        .as_mut()
        .expect("the sim config has a [gateway]");
    g.systems.push(kiosk_app::config::BusinessSystem {
        name: "print-only".into(),
        origins: vec!["http://127.0.0.1:6000".into()],
        token_sha256: sha256(PRINT_TOKEN),
        scopes: vec!["printer.print".into()],
        expires: None,
    });
    tweak(&mut cfg);
    let terminal = Terminal::start(cfg, Profile::Sim, SystemClock::shared()).unwrap();
    let base = terminal
        .gateway_url()
        .expect("the gateway runs")
        .to_string();
    // The devices come up before the pages call them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while terminal
        .runtime
        .snapshot()
        .iter()
        .any(|d| d.health != kiosk_hal::Health::Online && d.kind == "id-card-reader")
    {
        assert!(Instant::now() < deadline, "the reader never came online");
        terminal.runtime.poll_all();
        std::thread::sleep(Duration::from_millis(100));
    }
    Rig {
        terminal,
        base,
        _dir: dir,
    }
}

fn sha256(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

impl Rig {
    fn ws_url(&self) -> String {
        format!("{}/hallkit/v1/ws", self.base.replace("http://", "ws://"))
    }

    async fn connect(
        &self,
        origin: Option<&str>,
        token: Option<&str>,
    ) -> Result<Socket, (u16, String)> {
        let mut req = self.ws_url().into_client_request().unwrap();
        let h = req.headers_mut();
        if let Some(o) = origin {
            h.insert("origin", o.parse().unwrap());
        }
        let protocols = match token {
            Some(t) => format!("hallkit.v1, bearer.{t}"),
            None => "hallkit.v1".into(),
        };
        h.insert("sec-websocket-protocol", protocols.parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok((s, resp)) => {
                assert_eq!(
                    resp.headers().get("sec-websocket-protocol").unwrap(),
                    "hallkit.v1"
                );
                Ok(s)
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                let body = r
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).to_string())
                    .unwrap_or_default();
                Err((r.status().as_u16(), body))
            }
            Err(e) => panic!("connect: {e}"),
        }
    }

    async fn page(&self) -> Socket {
        self.connect(Some(ORIGIN), Some(TOKEN)).await.unwrap()
    }

    fn sim(&self, device: &str, what: &str, args: Value) {
        self.terminal
            .runtime
            .device(device)
            .unwrap()
            .sim
            .as_ref()
            .unwrap()
            .inject(what, &args)
            .unwrap();
    }
}

fn command(name: &str, id: u64, payload: Value) -> Ws {
    Ws::Text(
        json!({ "header": { "name": name, "requestId": id, "type": "command" }, "payload": payload })
            .to_string()
            .into(),
    )
}

fn command_with_timeout(name: &str, id: u64, timeout: u64, payload: Value) -> Ws {
    Ws::Text(
        json!({ "header": { "name": name, "requestId": id, "type": "command", "timeout": timeout },
            "payload": payload })
        .to_string()
        .into(),
    )
}

/// The next message, as JSON; unsolicited status events are skipped unless asked for.
async fn next(s: &mut Socket) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(30), s.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket is open")
            .unwrap();
        if let Ws::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["header"]["type"] != "unsolicited" {
                return v;
            }
        }
    }
}

/// The next acknowledgement, skipping events.
async fn next_ack(s: &mut Socket) -> Value {
    loop {
        let v = next(s).await;
        if v["header"]["type"] == "acknowledge" {
            return v;
        }
    }
}

/// Sends `cmd` and reads until the completion of `id`.
async fn exchange(s: &mut Socket, cmd: Ws, id: u64) -> Vec<Value> {
    s.send(cmd).await.unwrap();
    until_completion(s, id).await
}

/// Messages until the completion of `id`, in order.
async fn until_completion(s: &mut Socket, id: u64) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let v = next(s).await;
        let done = v["header"]["type"] == "completion" && v["header"]["requestId"] == id;
        out.push(v);
        if done {
            return out;
        }
    }
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_id_card_read_is_acknowledged_reports_its_prompts_and_completes_once_with_a_one_time_photo() {
    let r = rig(|_| {});
    tokio().block_on(async {
        let mut s = r.page().await;
        s.send(command("Common.GetServices", 1, json!({})))
            .await
            .unwrap();
        let msgs = until_completion(&mut s, 1).await;
        assert_eq!(msgs[0]["header"]["type"], "acknowledge");
        assert_eq!(msgs[0]["header"]["status"], "ok");
        let services = &msgs[1]["payload"];
        assert_eq!(services["system"], "sample-business-app");
        let idcard = services["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["service"] == "IdCard")
            .unwrap();
        assert_eq!(idcard["devices"], json!(["idcard"]));
        assert_eq!(idcard["allowed"], true);

        s.send(command("IdCard.Read", 2, json!({ "photo": true })))
            .await
            .unwrap();
        let ack = next(&mut s).await;
        assert_eq!(ack["header"]["status"], "ok");
        assert_eq!(ack["header"]["requestId"], 2);
        let prompt = next(&mut s).await;
        assert_eq!(prompt["header"]["type"], "event");
        assert_eq!(prompt["header"]["name"], "IdCard.MediaEvent");
        assert_eq!(prompt["payload"]["prompt"], "placeCard");
        r.sim("idcard", "place", json!({ "card": "resident" }));
        let msgs = until_completion(&mut s, 2).await;
        let done = msgs.last().unwrap();
        assert_eq!(done["header"]["completionCode"], "success", "{done}");
        assert_eq!(done["payload"]["name"], "张三丰");
        assert_eq!(done["payload"]["number"], "320583199001011232");
        assert_eq!(done["payload"]["validTo"], "2040-05-01");
        assert_eq!(done["payload"]["nation"], "汉");
        // Every message between carried this request's id.
        assert!(msgs.iter().all(|m| m["header"]["requestId"] == 2));
        let url = done["payload"]["photoUrl"].as_str().unwrap().to_string();
        let http = reqwest::Client::new();
        let photo = http.get(&url).send().await.unwrap();
        assert_eq!(photo.status(), 200);
        assert_eq!(photo.headers()["content-type"], "image/bmp");
        let bytes = photo.bytes().await.unwrap();
        assert_eq!(&bytes[..2], b"BM");
        assert_eq!(
            http.get(&url).send().await.unwrap().status(),
            404,
            "once only"
        );
        r.sim("idcard", "lift", json!({}));
    });
    // The audit names the call and never the citizen.
    let seen = audit_lines(&r);
    assert!(
        seen.iter()
            .any(|l| l.contains("IdCard.Read") && l.contains("success")),
        "{seen:?}"
    );
    let data = r.terminal.config.data_dir();
    r.terminal.stop();
    kiosk_e2e::assert_no_plain(&data, None, &["张三丰", "320583199001011232"]);
}

/// The journal's gateway audit lines, as text.
fn audit_lines(r: &Rig) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = journal_of(r, "device.gateway.call");
        if !rows.is_empty() || Instant::now() > deadline {
            return rows.iter().map(|v| v.to_string()).collect();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the journal holds of `kind` (once the recorder has written it).
fn journal_of(r: &Rig, kind: &str) -> Vec<Value> {
    std::thread::sleep(Duration::from_millis(300));
    r.terminal
        .journal
        .lock()
        .events_like(kind, 1000)
        .unwrap()
        .into_iter()
        .map(|(_, _, v)| v)
        .collect()
}

#[test]
fn request_ids_are_enforced_and_too_many_commands_are_refused() {
    let r = rig(|g| g.max_in_flight = 1);
    tokio().block_on(async {
        let mut s = r.page().await;
        s.send(Ws::Text("{not json".into())).await.unwrap();
        assert_eq!(next(&mut s).await["header"]["status"], "invalidMessage");
        s.send(command("IdCard.Read", 0, json!({}))).await.unwrap();
        assert_eq!(next(&mut s).await["header"]["status"], "invalidRequestID");

        s.send(command_with_timeout("IdCard.Read", 5, 20_000, json!({})))
            .await
            .unwrap();
        assert_eq!(next(&mut s).await["header"]["status"], "ok");
        // The same id while in flight, a lower one, and a second device command.
        s.send(command("IdCard.Read", 5, json!({}))).await.unwrap();
        let dup = next(&mut s).await;
        // The reader's prompt may come first.
        let dup = if dup["header"]["type"] == "event" {
            next(&mut s).await
        } else {
            dup
        };
        assert_eq!(dup["header"]["status"], "invalidRequestID", "{dup}");
        assert!(dup["header"]["errorDescription"]
            .as_str()
            .unwrap()
            .contains("in flight"));
        s.send(command("IdCard.Read", 4, json!({}))).await.unwrap();
        assert_eq!(
            next_ack(&mut s).await["header"]["status"],
            "invalidRequestID"
        );
        s.send(command("Scanner.Scan", 6, json!({}))).await.unwrap();
        assert_eq!(
            next_ack(&mut s).await["header"]["status"],
            "tooManyRequests"
        );
        // A cancel always gets through, and names what it stopped.
        s.send(command("Common.Cancel", 7, json!({ "requestIds": [5] })))
            .await
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 3 {
            let m = next(&mut s).await;
            if m["header"]["type"] != "event" {
                got.push(m);
            }
        }
        let cancel_done = got
            .iter()
            .find(|m| m["header"]["requestId"] == 7 && m["header"]["type"] == "completion")
            .unwrap();
        assert_eq!(cancel_done["payload"]["canceled"], json!([5]));
        let read_done = got.iter().find(|m| m["header"]["requestId"] == 5).unwrap();
        assert_eq!(
            read_done["header"]["completionCode"], "canceled",
            "{read_done}"
        );
        // An unknown command completes as such; a bad payload as invalidData.
        let m = exchange(&mut s, command("Teleport.Now", 8, json!({})), 8).await;
        assert_eq!(
            m.last().unwrap()["header"]["completionCode"],
            "unsupportedCommand"
        );
        let m = exchange(
            &mut s,
            command("IdCard.Read", 9, json!({ "photo": "yes" })),
            9,
        )
        .await;
        assert_eq!(m.last().unwrap()["header"]["completionCode"], "invalidData");
    });
}

#[test]
fn a_timeout_completes_as_timeout_and_a_closed_page_lets_the_reader_go() {
    let r = rig(|_| {});
    tokio().block_on(async {
        let mut s = r.page().await;
        let m = exchange(
            &mut s,
            command_with_timeout("IdCard.Read", 1, 600, json!({})),
            1,
        )
        .await;
        assert_eq!(m.last().unwrap()["header"]["completionCode"], "timeOut");

        s.send(command_with_timeout("IdCard.Read", 2, 60_000, json!({})))
            .await
            .unwrap();
        assert_eq!(next(&mut s).await["header"]["status"], "ok");
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.terminal.runtime.holder("idcard").is_none() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(s);
        // The page went away: its read is canceled and the reader is free within seconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.terminal.runtime.holder("idcard").is_some() {
            assert!(Instant::now() < deadline, "the reader stayed claimed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn a_second_page_and_a_citizens_journey_keep_the_reader_and_nobody_sees_their_data() {
    let r = rig(|_| {});
    tokio().block_on(async {
        let mut a = r.page().await;
        let mut b = r.page().await;
        a.send(command("IdCard.Read", 1, json!({}))).await.unwrap();
        assert_eq!(next(&mut a).await["header"]["status"], "ok");
        assert_eq!(next(&mut a).await["payload"]["prompt"], "placeCard");
        let m = exchange(&mut b, command("IdCard.Read", 1, json!({})), 1).await;
        let busy = m.last().unwrap();
        assert_eq!(busy["header"]["completionCode"], "deviceBusy");
        assert!(busy["header"]["errorDescription"]
            .as_str()
            .unwrap()
            .contains("business system"));
        // Status tells b who holds it, in words only.
        let m = exchange(&mut b, command("Common.Status", 2, json!({})), 2).await;
        let reader = m.last().unwrap()["payload"]["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["device"] == "idcard")
            .unwrap()
            .clone();
        assert_eq!(reader["heldBy"], "a business system's page");
        r.sim("idcard", "place", json!({ "card": "resident" }));
        let m = until_completion(&mut a, 1).await;
        assert_eq!(m.last().unwrap()["payload"]["name"], "张三丰");
        r.sim("idcard", "lift", json!({}));
        // Nothing of it ever reached b.
        let quiet = tokio::time::timeout(Duration::from_millis(300), b.next()).await;
        if let Ok(Some(Ok(Ws::Text(t)))) = quiet {
            assert!(!t.as_str().contains("张三丰"), "{t}");
        }

        // A citizen starts a ticket journey at the terminal: its devices are its own, the page
        // is told so, and the journey goes on; when it ends the page may read again.
        r.terminal.host.send(kiosk_app::flows::kiosk::Input::Wake);
        // On a loaded machine the home screen may not offer the ticket journey yet (its
        // printer and centre checks come round every half second): asked again until it runs.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut asked = Instant::now() - Duration::from_secs(1);
        while !matches!(
            r.terminal.runtime.holder("idcard"),
            Some(kiosk_app::runtime::Owner::Flow(_))
        ) {
            assert!(
                Instant::now() < deadline,
                "the journey never took the reader: {:?}",
                r.terminal.host.view().screen
            );
            if asked.elapsed() >= Duration::from_secs(1)
                && r.terminal.host.view().screen.name() == "home"
            {
                r.terminal
                    .host
                    .send(kiosk_app::flows::kiosk::Input::Start("ticket".into()));
                asked = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let m = exchange(&mut a, command("IdCard.Read", 2, json!({})), 2).await;
        let busy = m.last().unwrap();
        assert_eq!(busy["header"]["completionCode"], "deviceBusy");
        assert!(busy["header"]["errorDescription"]
            .as_str()
            .unwrap()
            .contains("citizen's journey"));
        assert!(matches!(
            r.terminal.runtime.holder("idcard"),
            Some(kiosk_app::runtime::Owner::Flow(_))
        ));
        r.terminal.host.send(kiosk_app::flows::kiosk::Input::Done);
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.terminal.runtime.holder("idcard").is_some() {
            assert!(Instant::now() < deadline, "the journey kept the reader");
            r.terminal.host.send(kiosk_app::flows::kiosk::Input::Back);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        a.send(command_with_timeout("IdCard.Read", 3, 500, json!({})))
            .await
            .unwrap();
        let m = until_completion(&mut a, 3).await;
        assert_eq!(m.last().unwrap()["header"]["completionCode"], "timeOut");
    });
}

#[test]
fn origins_tokens_and_scopes_are_checked_and_every_refusal_says_why() {
    let r = rig(|_| {});
    tokio().block_on(async {
        let refused = |res: Result<Socket, (u16, String)>| match res {
            Ok(_) => panic!("admitted"),
            Err((status, body)) => {
                assert_eq!(status, 403);
                serde_json::from_str::<Value>(&body).unwrap()["error"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        };
        assert_eq!(
            refused(r.connect(Some("https://evil.example"), Some(TOKEN)).await),
            "origin-not-allowed"
        );
        assert_eq!(
            refused(r.connect(Some(ORIGIN), None).await),
            "token-missing"
        );
        assert_eq!(
            refused(r.connect(Some(ORIGIN), Some("guess")).await),
            "token-unknown"
        );
        assert_eq!(
            refused(r.connect(Some(ORIGIN), Some(PRINT_TOKEN)).await),
            "token-wrong-origin"
        );
        // No Origin (a local program): only for a system that lists "native".
        assert_eq!(
            refused(r.connect(None, Some(PRINT_TOKEN)).await),
            "origin-missing"
        );
        assert!(r.connect(None, Some(TOKEN)).await.is_ok());

        // A token without the scope: the command completes authorisationRequired.
        let mut p = r
            .connect(Some("http://127.0.0.1:6000"), Some(PRINT_TOKEN))
            .await
            .unwrap();
        let m = exchange(&mut p, command("IdCard.Read", 1, json!({})), 1).await;
        assert_eq!(
            m.last().unwrap()["header"]["completionCode"],
            "authorisationRequired"
        );

        // Plain HTTP: the same checks, the same completion with its events in the body.
        let http = reqwest::Client::new();
        let url = format!("{}/hallkit/v1/command", r.base);
        let body =
            json!({ "header": { "name": "Common.Status", "requestId": 1, "type": "command" } });
        let res = http
            .post(&url)
            .header("origin", "https://evil.example")
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        assert!(res.headers().get("access-control-allow-origin").is_none());
        let res = http
            .post(&url)
            .header("origin", ORIGIN)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["access-control-allow-origin"], ORIGIN);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["acknowledge"]["header"]["status"], "ok");
        assert_eq!(v["completion"]["header"]["completionCode"], "success");
        assert!(
            v["completion"]["payload"]["devices"]
                .as_array()
                .unwrap()
                .len()
                >= 5
        );
        // The preflight a browser sends first, Private Network Access included.
        let pre = http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", ORIGIN)
            .header("access-control-request-method", "POST")
            .header("access-control-request-private-network", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(pre.status(), 204);
        assert_eq!(
            pre.headers()["access-control-allow-private-network"],
            "true"
        );
    });
    let refusals = journal_of(&r, "security.gateway.refused");
    assert!(refusals.len() >= 6, "{refusals:?}");
}

#[test]
fn a_receipt_prints_over_http_and_a_capture_leaves_by_a_url_that_expires() {
    let r = rig(|g| g.result_ttl_s = 1);
    tokio().block_on(async {
        let http = reqwest::Client::new();
        let url = format!("{}/hallkit/v1/command", r.base);
        let body = json!({ "header": { "name": "Printer.PrintReceipt", "requestId": 1, "type": "command" },
            "payload": { "lines": [ { "text": "昆山市政务服务中心", "center": true, "bold": true },
                                    { "text": "受理回执 A-0001", "large": true } ],
                         "qr": "https://example.invalid/case/A-0001" } });
        let v: Value = http.post(&url).header("origin", ORIGIN).bearer_auth(TOKEN)
            .json(&body).send().await.unwrap().json().await.unwrap();
        assert_eq!(v["completion"]["header"]["completionCode"], "success", "{v}");
        assert_eq!(v["completion"]["payload"]["device"], "receipt");

        let mut s = r.page().await;
        let m = exchange(&mut s, command("DocumentCamera.Capture", 1, json!({ "document": false })), 1).await;
        let done = m.last().unwrap();
        assert_eq!(done["header"]["completionCode"], "success", "{done}");
        assert!(done["payload"]["width"].as_u64().unwrap() > 100);
        let picture = done["payload"]["url"].as_str().unwrap().to_string();
        let m = exchange(&mut s, command("DocumentCamera.Capture", 2, json!({ "document": false })), 2).await;
        let late = m.last().unwrap()["payload"]["url"].as_str().unwrap().to_string();
        let got = http.get(&picture).send().await.unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.headers()["content-type"], "image/jpeg");
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert_eq!(http.get(&late).send().await.unwrap().status(), 404, "expired");
    });
    let printed = journal_of(&r, "output.result");
    assert!(
        printed
            .iter()
            .any(|p| p.to_string().contains("gateway:sample-business-app")),
        "{printed:?}"
    );
}

#[test]
fn a_device_that_goes_offline_is_told_to_every_page() {
    let r = rig(|_| {});
    tokio().block_on(async {
        let mut s = r.page().await;
        // The connection is up (a command round trip) before the device is pulled.
        s.send(command("Common.Status", 1, json!({})))
            .await
            .unwrap();
        until_completion(&mut s, 1).await;
        r.terminal
            .runtime
            .device("scanner")
            .unwrap()
            .sim
            .as_ref()
            .unwrap()
            .unplug()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "no status event");
            r.terminal.runtime.poll_all();
            let m = tokio::time::timeout(Duration::from_millis(500), s.next()).await;
            if let Ok(Some(Ok(Ws::Text(t)))) = m {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["header"]["type"] == "unsolicited" && v["payload"]["device"] == "scanner" {
                    assert_eq!(v["header"]["name"], "Common.StatusChangedEvent");
                    assert!(v["header"].get("requestId").is_none());
                    assert_ne!(v["payload"]["health"], "online");
                    break;
                }
            }
        }
        r.terminal
            .runtime
            .device("scanner")
            .unwrap()
            .sim
            .as_ref()
            .unwrap()
            .replug()
            .unwrap();
    });
}

#[test]
fn the_holder_is_checked_on_the_terminal_and_only_the_decision_leaves() {
    let r = rig(|_| {});
    tokio().block_on(async {
        let mut s = r.page().await;
        // Face: the simulated camera shows the card's holder.
        s.send(command("IdCard.Verify", 1, json!({ "method": "face" })))
            .await
            .unwrap();
        assert_eq!(next(&mut s).await["header"]["status"], "ok");
        assert_eq!(next(&mut s).await["payload"]["prompt"], "placeCard");
        r.sim("idcard", "place", json!({ "card": "resident" }));
        let m = until_completion(&mut s, 1).await;
        let done = m.last().unwrap();
        assert_eq!(done["header"]["completionCode"], "success", "{done}");
        let p = &done["payload"];
        assert_eq!(p["matched"], true, "{p}");
        assert_eq!(p["decision"], "verified");
        assert!(p["score"].as_f64().unwrap() >= p["threshold"].as_f64().unwrap());
        assert_eq!(p["card"]["name"], "张三丰");
        // Nothing of the face or the card photo travels: no URL, no picture bytes.
        let text = done.to_string();
        assert!(
            !text.contains("photo") && !text.contains("base64") && text.len() < 2000,
            "{text}"
        );
        r.sim("idcard", "lift", json!({}));

        // Fingerprint: a stranger's finger does not match; the holder's does.
        for (id, finger, matched) in [
            (2, "someone-else#0", false),
            (3, "320583199001011232#1", true),
        ] {
            s.send(command(
                "IdCard.Verify",
                id,
                json!({ "method": "fingerprint" }),
            ))
            .await
            .unwrap();
            assert_eq!(next(&mut s).await["header"]["status"], "ok");
            assert_eq!(next(&mut s).await["payload"]["prompt"], "placeCard");
            r.sim("idcard", "place", json!({ "card": "resident" }));
            loop {
                let m = next(&mut s).await;
                if m["payload"]["prompt"] == "placeFinger" {
                    break;
                }
                assert_ne!(m["header"]["type"], "completion", "{m}");
            }
            r.sim("fingerprint", "present", json!({ "finger": finger }));
            let m = until_completion(&mut s, id).await;
            let done = m.last().unwrap();
            assert_eq!(done["header"]["completionCode"], "success", "{done}");
            assert_eq!(done["payload"]["matched"], matched, "{done}");
            r.sim("fingerprint", "lift", json!({}));
            r.sim("idcard", "lift", json!({}));
        }

        // A receipt template is laid out by the terminal; a wrong field is the page's error.
        let m = exchange(
            &mut s,
            command(
                "Printer.PrintTemplate",
                4,
                json!({ "template": "material-list",
            "fields": { "nope": 1 } }),
            ),
            4,
        )
        .await;
        assert_eq!(
            m.last().unwrap()["header"]["completionCode"],
            "invalidData",
            "{m:?}"
        );
        let m = exchange(
            &mut s,
            command("Printer.PrintTemplate", 5, json!({ "template": "no-such" })),
            5,
        )
        .await;
        assert_eq!(m.last().unwrap()["header"]["completionCode"], "invalidData");
    });
}

/// The window unit's steps, from its built-in confirm-and-sign tour.
fn desk_steps() -> Vec<kiosk_app::cli::tour_desk::DeskStep> {
    let text = kiosk_app::cli::tour_desk::BUILT_IN
        .iter()
        .find(|(n, _)| *n == "window-confirm-sign")
        .unwrap()
        .1;
    kiosk_app::cli::tour_desk::parse(text).unwrap().steps
}

#[test]
fn the_clerks_business_system_drives_the_window_unit() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sample_config("window.sim.toml", dir.path());
    let opts = kiosk_app::cli::tour::TourOptions {
        journey: "window-gateway".into(),
        script: None,
        out: std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("window-gateway"),
        lang: None,
        portrait: false,
    };
    let mut tour = kiosk_app::cli::tour_desk::DeskTour::start(cfg, &opts).unwrap();
    let steps = desk_steps();
    let by_name = |n: &str| steps.iter().position(|s| s.name == n).unwrap();
    let play = |tour: &mut kiosk_app::cli::tour_desk::DeskTour, name: &str| {
        let i = by_name(name);
        tour.step(i + 1, &steps[i])
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    };
    for n in ["others-queue", "staff-number", "pin", "signed-in"] {
        play(&mut tour, n);
    }
    let base = tour.terminal.gateway_url().unwrap().to_string();
    let rt = tokio();
    let mut s = rt.block_on(async {
        let mut req = format!("{}/hallkit/v1/ws", base.replace("http://", "ws://"))
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("origin", ORIGIN.parse().unwrap());
        req.headers_mut().insert(
            "sec-websocket-protocol",
            format!("hallkit.v1, bearer.{TOKEN}").parse().unwrap(),
        );
        tokio_tungstenite::connect_async(req).await.unwrap().0
    });
    let ask = |s: &mut Socket, name: &str, id: u64, payload: Value| -> Value {
        rt.block_on(async {
            s.send(command(name, id, payload)).await.unwrap();
            until_completion(s, id).await.pop().unwrap()
        })
    };
    let st = ask(&mut s, "Window.Status", 1, json!({}));
    assert_eq!(st["payload"]["signedIn"], true, "{st}");
    assert_eq!(st["payload"]["state"], "open");
    assert_eq!(st["payload"]["window"], "3");
    // The business system calls the next ticket as the toolbar would.
    let called = ask(&mut s, "Window.CallNext", 2, json!({}));
    assert_eq!(called["header"]["completionCode"], "success", "{called}");
    let ticket = called["payload"]["ticket"].as_str().unwrap().to_string();
    assert_eq!(called["payload"]["citizenScreen"], "called");
    // A line that repeats what the screen shows from the card is the page's mistake.
    let twice = ask(
        &mut s,
        "Window.Confirm",
        3,
        json!({ "lines": [ { "label": "办理事项", "value": "居住证签注" } ] }),
    );
    assert_eq!(twice["header"]["completionCode"], "invalidData", "{twice}");
    // Before the citizen sits down there is nothing to confirm.
    let early = ask(&mut s, "Window.Confirm", 31, json!({ "lines": [] }));
    assert_eq!(
        early["header"]["completionCode"], "sequenceError",
        "{early}"
    );
    for n in ["citizen-came", "card-placed", "card-read"] {
        play(&mut tour, n);
    }
    // The page's lines appear under the card's facts; the citizen answers on their screen.
    rt.block_on(s.send(command(
        "Window.Confirm",
        40,
        json!({ "lines": [ { "label": "申请事项", "value": "居住证签注" } ] }),
    )))
    .unwrap();
    assert_eq!(rt.block_on(next(&mut s))["header"]["status"], "ok");
    let shown = tour
        .desk
        .wait_for(Duration::from_secs(10), |v| {
            matches!(v.citizen, kiosk_app::flows::window::Citizen::Confirm)
        })
        .expect("the citizen screen asks");
    // The citizen screen as the citizen sees it, with the page's line (kept as a tour frame).
    let look: kiosk_app::cli::tour_desk::DeskStep =
        serde_json::from_value(json!({ "name": "page-confirm", "expect": "confirm" })).unwrap();
    tour.step(11, &look).unwrap();
    assert!(
        shown
            .confirm
            .iter()
            .any(|l| l.label == "申请事项" && l.value == "居住证签注"),
        "{:?}",
        shown.confirm
    );
    play(&mut tour, "confirmed");
    let answer = rt.block_on(until_completion(&mut s, 40)).pop().unwrap();
    assert_eq!(answer["header"]["completionCode"], "success", "{answer}");
    assert_eq!(answer["payload"]["confirmed"], true);
    let st = ask(&mut s, "Window.Status", 50, json!({}));
    assert_eq!(st["payload"]["ticket"], json!(ticket));

    // The signature: asked by the page, drawn by the citizen, handed back once by URL.
    rt.block_on(s.send(command("Window.Sign", 80, json!({}))))
        .unwrap();
    assert_eq!(rt.block_on(next(&mut s))["header"]["status"], "ok");
    tour.desk
        .wait_for(Duration::from_secs(10), |v| {
            matches!(v.citizen, kiosk_app::flows::window::Citizen::Sign { .. })
        })
        .expect("the citizen screen asks for a signature");
    for n in ["too-short", "signature-drawn", "signed"] {
        play(&mut tour, n);
    }
    let signed = rt.block_on(until_completion(&mut s, 80)).pop().unwrap();
    assert_eq!(signed["header"]["completionCode"], "success", "{signed}");
    let url = signed["payload"]["url"].as_str().unwrap().to_string();
    let png = rt.block_on(async { reqwest::get(&url).await.unwrap().bytes().await.unwrap() });
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(
        rt.block_on(async { reqwest::get(&url).await.unwrap().status() }),
        404
    );

    // After the finish the page asks for the rating; the citizen gives it.
    play(&mut tour, "finished");
    rt.block_on(s.send(command("Window.Rate", 90, json!({}))))
        .unwrap();
    assert_eq!(rt.block_on(next(&mut s))["header"]["status"], "ok");
    tour.desk
        .wait_for(Duration::from_secs(10), |v| {
            matches!(v.citizen, kiosk_app::flows::window::Citizen::Rating(_))
        })
        .expect("the citizen screen asks for a rating");
    for n in [
        "unsatisfied",
        "tag-unfriendly",
        "complaint",
        "typed",
        "rated",
    ] {
        play(&mut tour, n);
    }
    let rated = rt.block_on(until_completion(&mut s, 90)).pop().unwrap();
    assert_eq!(rated["payload"]["rated"], true, "{rated}");
    // One rating per ticket.
    let again = ask(&mut s, "Window.Rate", 100, json!({}));
    assert_eq!(again["header"]["completionCode"], "sequenceError");
}

#[test]
fn a_social_security_card_is_read_and_apdus_go_through_pcscd() {
    kiosk_app::cli::pcscd::ensure().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = kiosk_e2e::sample_config_with_ic_card("kiosk.sim.toml", dir.path());
    let terminal = Terminal::start(cfg, Profile::Sim, SystemClock::shared()).unwrap();
    let r = Rig {
        base: terminal.gateway_url().unwrap().to_string(),
        terminal,
        _dir: dir,
    };
    tokio().block_on(async {
        let mut s = r.page().await;
        s.send(command("IcCard.ReadSocialSecurity", 1, json!({})))
            .await
            .unwrap();
        assert_eq!(next(&mut s).await["header"]["status"], "ok");
        assert_eq!(next(&mut s).await["payload"]["prompt"], "insertCard");
        r.sim("sscard", "insert", json!({}));
        let m = until_completion(&mut s, 1).await;
        let done = m.last().unwrap();
        assert_eq!(done["header"]["completionCode"], "success", "{done}");
        assert_eq!(done["payload"]["number"], "D12345678");

        // The page's own APDUs: select the social-security application, then a file it lacks.
        let select = format!(
            "00A404000F{}00",
            hex::encode_upper(b"sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF")
        );
        let m = exchange(
            &mut s,
            command(
                "IcCard.Apdu",
                2,
                json!({ "apdus": [select, "00A40200020001", "00B2070400"] }),
            ),
            2,
        )
        .await;
        let done = m.last().unwrap();
        assert_eq!(done["header"]["completionCode"], "success", "{done}");
        let answers = done["payload"]["answers"].as_array().unwrap();
        assert_eq!(answers[0]["sw"], "9000", "{done}");
        assert_ne!(answers[1]["sw"], "9000", "{done}");
        assert_eq!(answers.len(), 2, "it stops at the first error: {done}");
        assert!(!done["payload"]["atr"].as_str().unwrap().is_empty());
        // Not hex: refused by the reader's own parser, as invalidData.
        let m = exchange(
            &mut s,
            command("IcCard.Apdu", 3, json!({ "apdus": ["zz"] })),
            3,
        )
        .await;
        assert_eq!(m.last().unwrap()["header"]["completionCode"], "invalidData");
    });
}

#[test]
fn the_document_camera_previews_live_until_the_page_closes_it_or_cancels() {
    let r = rig(|_| {});
    tokio().block_on(async {
        let mut s = r.page().await;
        s.send(command(
            "DocumentCamera.Preview",
            1,
            json!({ "seconds": 30, "fps": 10 }),
        ))
        .await
        .unwrap();
        assert_eq!(next(&mut s).await["header"]["status"], "ok");
        let ev = next(&mut s).await;
        assert_eq!(ev["header"]["name"], "DocumentCamera.PreviewEvent");
        let url = ev["payload"]["url"].as_str().unwrap().to_string();
        let mut res = reqwest::get(&url).await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("multipart/x-mixed-replace"));
        let mut got = Vec::new();
        while got.windows(7).filter(|w| w == b"--frame").count() < 3 {
            got.extend_from_slice(&res.chunk().await.unwrap().expect("more frames"));
        }
        assert!(got.windows(2).any(|w| w == [0xFF, 0xD8]), "JPEG frames");
        // A second fetch finds nothing; closing the stream ends the command.
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 404);
        drop(res);
        let m = until_completion(&mut s, 1).await;
        let done = m.last().unwrap();
        assert_eq!(done["header"]["completionCode"], "success", "{done}");
        assert_eq!(done["payload"]["ended"], "closed");
        assert!(done["payload"]["frames"].as_u64().unwrap() >= 3);

        // A preview nobody stops is canceled by the page, and the camera is free at once.
        s.send(command("DocumentCamera.Preview", 2, json!({})))
            .await
            .unwrap();
        assert_eq!(next(&mut s).await["header"]["status"], "ok");
        assert_eq!(
            next(&mut s).await["header"]["name"],
            "DocumentCamera.PreviewEvent"
        );
        let m = exchange(
            &mut s,
            command("Common.Cancel", 3, json!({ "requestIds": [2] })),
            2,
        )
        .await;
        assert_eq!(m.last().unwrap()["payload"]["ended"], "canceled", "{m:?}");
        let m = exchange(
            &mut s,
            command("DocumentCamera.Capture", 4, json!({ "document": false })),
            4,
        )
        .await;
        assert_eq!(m.last().unwrap()["header"]["completionCode"], "success");
    });
}

#[test]
fn a_seal_impression_needs_the_centres_one_time_authorisation() {
    use base64::Engine as _;
    let r = rig(|_| {});
    let doc = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7 proof of residence");
    let stamp =
        json!({ "seal": 1, "x": 1500, "y": 2400, "documentBase64": doc, "purpose": "证明盖章" });
    tokio().block_on(async {
        let mut s = r.page().await;
        let m = exchange(&mut s, command("Seal.Stamp", 1, stamp.clone()), 1).await;
        let done = m.last().unwrap();
        assert_eq!(done["header"]["completionCode"], "success", "{done}");
        assert_eq!(done["payload"]["device"], "seal");
    });
    let impressions = r
        .terminal
        .runtime
        .device("seal")
        .unwrap()
        .sim
        .as_ref()
        .unwrap()
        .inject("impressions", &json!({}))
        .unwrap();
    assert_eq!(
        impressions.as_array().map(Vec::len),
        Some(1),
        "{impressions}"
    );
    // Without the centre there is no authorisation, and the sim's policy refuses offline.
    r.terminal.embedded_centre_down().unwrap();
    tokio().block_on(async {
        let mut s = r.page().await;
        let m = exchange(&mut s, command("Seal.Stamp", 1, stamp), 1).await;
        let done = m.last().unwrap();
        assert_eq!(
            done["header"]["completionCode"], "authorisationRequired",
            "{done}"
        );
    });
    r.terminal.embedded_centre_up().unwrap();
}

#[test]
fn a_system_paired_at_the_centre_is_admitted_once_its_signed_document_is_in_force() {
    use kiosk_protocol::signing::{Algorithm, DocumentKind, SignedDocument, SigningKey};
    let publisher = SigningKey::generate(Algorithm::Ed25519);
    let pinned = publisher.public_key().to_string();
    let r = rig_config(|cfg| {
        cfg.centre.publisher_keys.push(pinned);
        cfg.centre.command_interval_s = 1;
    });
    let origin = "http://127.0.0.1:6100";
    let (token, entry) = kiosk_central::pairing::issue(
        "paired-system",
        &[origin.to_string()],
        &["printer.print".to_string()],
        None,
        [9; 32],
    )
    .unwrap();
    tokio().block_on(async {
        let refused = r.connect(Some(origin), Some(&token)).await.err().unwrap();
        assert_eq!(refused.0, 403);
        assert!(refused.1.contains("origin-not-allowed"), "{}", refused.1);
        let doc = SignedDocument::sign(
            DocumentKind::Config,
            "all",
            1,
            json!({ "gateway_systems": [entry] }),
            &publisher,
        );
        let put = reqwest::Client::new()
            .put(format!("{}/api/v1/documents", r.terminal.centre.base()))
            .json(&doc)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201);
        // The terminal fetches the document on its next round and admits the system.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut s = loop {
            match r.connect(Some(origin), Some(&token)).await {
                Ok(s) => break s,
                Err(e) => {
                    assert!(Instant::now() < deadline, "never admitted: {e:?}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let m = exchange(&mut s, command("IdCard.Read", 1, json!({})), 1).await;
        assert_eq!(
            m.last().unwrap()["header"]["completionCode"],
            "authorisationRequired"
        );
        let m = exchange(
            &mut s,
            command(
                "Printer.PrintReceipt",
                2,
                json!({ "lines": [{ "text": "paired" }] }),
            ),
            2,
        )
        .await;
        assert_eq!(
            m.last().unwrap()["header"]["completionCode"],
            "success",
            "{m:?}"
        );
    });
}

#[test]
fn a_pdf_prints_on_the_a4_printer_and_the_scanner_light_switches() {
    use base64::Engine as _;
    use lopdf::dictionary;
    let r = rig(|_| {});
    let mut doc = lopdf::Document::with_version("1.5");
    let pages = doc.new_object_id();
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages,
        lopdf::Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).unwrap();
    let pdf = base64::engine::general_purpose::STANDARD.encode(&pdf);
    tokio().block_on(async {
        let mut s = r.page().await;
        let m = exchange(
            &mut s,
            command("Printer.PrintPdf", 1, json!({ "pdfBase64": pdf })),
            1,
        )
        .await;
        let done = m.last().unwrap();
        assert_eq!(done["header"]["completionCode"], "success", "{done}");
        assert_eq!(done["payload"]["device"], "a4");
        let not_pdf = base64::engine::general_purpose::STANDARD.encode(b"hello");
        let m = exchange(
            &mut s,
            command("Printer.PrintPdf", 2, json!({ "pdfBase64": not_pdf })),
            2,
        )
        .await;
        assert_eq!(m.last().unwrap()["header"]["completionCode"], "invalidData");

        // The scanner hears each command: its light follows.
        for (id, on) in [(3, true), (4, false), (5, true)] {
            let m = exchange(
                &mut s,
                command("Scanner.Light", id, json!({ "on": on })),
                id,
            )
            .await;
            assert_eq!(
                m.last().unwrap()["header"]["completionCode"],
                "success",
                "{m:?}"
            );
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let stats = r
                    .terminal
                    .runtime
                    .device("scanner")
                    .unwrap()
                    .sim
                    .as_ref()
                    .unwrap()
                    .inject("stats", &json!({}))
                    .unwrap();
                if stats["light"] == on {
                    break;
                }
                assert!(Instant::now() < deadline, "light stayed {stats}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
}
