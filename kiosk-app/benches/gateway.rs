//! The local device API's costs (printed, never asserted), on the whole simulated terminal:
//!
//! - command → acknowledge, one WebSocket, one command at a time;
//! - an ID card read through the API against the same read called natively (the overhead
//!   ratio; the goal is ≤ 1.05);
//! - messages a second on one socket (pipelined `Common.Status`: acknowledge + completion);
//! - 100 connections at once, each a `Common.Status`.
//!
//!     cargo bench --profile dev -p kiosk-app --bench gateway

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use kiosk_app::runtime::Owner;
use kiosk_app::terminal::Terminal;
use kiosk_app::{Config, Profile};
use kiosk_hal::clock::SystemClock;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn connect(base: &str) -> Socket {
    let mut req = format!("{}/hallkit/v1/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert("origin", "http://127.0.0.1:5847".parse().unwrap());
    h.insert(
        "sec-websocket-protocol",
        "hallkit.v1, bearer.hallkit-sample-token".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

fn command(name: &str, id: u64, payload: Value) -> Ws {
    Ws::Text(
        json!({ "header": { "name": name, "requestId": id, "type": "command" }, "payload": payload })
            .to_string()
            .into(),
    )
}

/// Reads until a message of `kind` for `id`.
async fn until(s: &mut Socket, id: u64, kind: &str) -> Value {
    loop {
        if let Some(Ok(Ws::Text(t))) = s.next().await {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["header"]["requestId"] == id && v["header"]["type"] == kind {
                return v;
            }
        }
    }
}

fn place(t: &Terminal) {
    t.runtime
        .device("idcard")
        .unwrap()
        .sim
        .as_ref()
        .unwrap()
        .inject("place", &json!({ "card": "resident" }))
        .unwrap();
}

/// Medians of `rounds` reads natively and through the API.
fn read_both(
    terminal: &Terminal,
    tokio: &tokio::runtime::Runtime,
    base: &str,
    rounds: u64,
) -> (Duration, Duration) {
    let mut native = Vec::new();
    for _ in 0..rounds {
        place(terminal);
        let claim = terminal
            .runtime
            .claim(
                "idcard",
                Owner::Bench,
                Duration::from_secs(60),
                Duration::from_secs(5),
            )
            .unwrap();
        let t = Instant::now();
        let ctx = kiosk_app::services::card::context(
            Duration::from_secs(20),
            kiosk_hal::device::CancelToken::new(),
        );
        let read = kiosk_app::services::card::wait_and_read(&terminal.runtime, &claim, ctx);
        native.push(t.elapsed());
        assert!(read.is_ok(), "{read:?}");
        drop(claim);
    }
    let api = tokio.block_on(async {
        let mut s = connect(base).await;
        let mut out = Vec::new();
        for id in 1..=rounds {
            place(terminal);
            let t = Instant::now();
            s.send(command("IdCard.Read", id, json!({}))).await.unwrap();
            let done = until(&mut s, id, "completion").await;
            out.push(t.elapsed());
            assert_eq!(done["header"]["completionCode"], "success", "{done}");
        }
        out
    });
    (median(native), median(api))
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg =
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kiosk.sim.toml"))
            .unwrap();
    cfg.terminal.data_dir = dir.path().to_path_buf();
    cfg.devices.retain(|d| d.driver != "pcsc");
    if let Some(g) = cfg.gateway.as_mut() {
        g.port = 0;
        g.max_connections = 256;
    }
    let terminal: Arc<Terminal> =
        Terminal::start(cfg, Profile::Sim, SystemClock::shared()).unwrap();
    terminal.runtime.poll_all();
    let base = terminal.gateway_url().unwrap().to_string();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Command → acknowledge.
    let acks = tokio.block_on(async {
        let mut s = connect(&base).await;
        let mut acks = Vec::new();
        for id in 1..=400u64 {
            let t = Instant::now();
            s.send(command("Common.Status", id, json!({})))
                .await
                .unwrap();
            until(&mut s, id, "acknowledge").await;
            acks.push(t.elapsed());
            until(&mut s, id, "completion").await;
        }
        acks
    });
    println!(
        "gateway: command → acknowledge (Common.Status, 400 in a row): median {:.3} ms, p95 {:.3} ms",
        ms(median(acks.clone())),
        ms(pct(acks, 0.95))
    );

    // The ID card read: natively (the terminal's card service on a claim) and through the API.
    // The card lies on the reader before each read, so both time the same reader exchange:
    // first on the bare pty (the fixed cost of the API shows), then with the line paced as a
    // real reader's UART at 115200 bps (what a hall's terminal pays).
    for pace in [None, Some(115_200)] {
        terminal
            .runtime
            .device("idcard")
            .unwrap()
            .sim
            .as_ref()
            .unwrap()
            .set_faults(kiosk_drivers::SimFaults {
                pace_baud: pace,
                ..Default::default()
            })
            .unwrap();
        let (n, a) = read_both(&terminal, &tokio, &base, 15);
        println!(
            "gateway: ID card read, {}, median of 15: native {:.1} ms, through the API {:.1} ms (+{:.1} ms), ratio {:.3} (goal ≤ 1.05)",
            pace.map_or("unpaced pty".to_string(), |b| format!("line paced at {b} bps")),
            ms(n),
            ms(a),
            ms(a.saturating_sub(n)),
            a.as_secs_f64() / n.as_secs_f64()
        );
    }

    // Messages a second on one socket: 2000 commands sent without waiting, every answer read.
    let (msgs, took) = tokio.block_on(async {
        let s = connect(&base).await;
        let (mut tx, mut rx) = s.split();
        let n = 2000u64;
        let t = Instant::now();
        let sender = tokio::spawn(async move {
            for id in 1..=n {
                tx.send(command("Common.Status", id, json!({})))
                    .await
                    .unwrap();
            }
            tx
        });
        let mut got = 0u64;
        let mut completions = 0u64;
        while completions < n {
            if let Some(Ok(Ws::Text(t))) = rx.next().await {
                got += 1;
                if t.as_str().contains("\"completion\"") {
                    completions += 1;
                }
            }
        }
        let _ = sender.await;
        (got, t.elapsed())
    });
    println!(
        "gateway: one socket, 2000 pipelined commands: {msgs} messages in {:.0} ms, {:.0} messages/s",
        ms(took),
        msgs as f64 / took.as_secs_f64()
    );

    // 100 connections at once.
    let (open, each) = tokio.block_on(async {
        let t = Instant::now();
        let mut sockets = Vec::new();
        for _ in 0..100 {
            sockets.push(connect(&base).await);
        }
        let open = t.elapsed();
        let mut tasks = Vec::new();
        for mut s in sockets {
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                s.send(command("Common.Status", 1, json!({})))
                    .await
                    .unwrap();
                until(&mut s, 1, "completion").await;
                t.elapsed()
            }));
        }
        let mut each = Vec::new();
        for t in tasks {
            each.push(t.await.unwrap());
        }
        (open, each)
    });
    println!(
        "gateway: 100 connections: opened in {:.0} ms; a Common.Status on all at once: median {:.1} ms, slowest {:.1} ms",
        ms(open),
        ms(median(each.clone())),
        ms(pct(each, 1.0))
    );
    terminal.stop();
}
