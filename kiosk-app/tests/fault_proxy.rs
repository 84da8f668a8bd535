//! A fault-injecting HTTP proxy on loopback between the device's sync client and the centre:
//! refused requests (503), delays, duplicated requests, replies lost after the centre applied
//! the batch, and stale batches replayed out of order. Whatever it does, every event arrives at
//! the centre exactly once and in full.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use kiosk_app::centre::sync::SyncClient;
use kiosk_app::centre::{Backoff, CentreClient};
use kiosk_app::journal::{Journal, Outbox};
use kiosk_central::{CentreHandle, SqliteStore};
use kiosk_hal::clock::SystemClock;

#[derive(Default, Debug, Clone, Copy)]
struct Injected {
    passed: u32,
    refused: u32,
    delayed: u32,
    duplicated: u32,
    reply_lost: u32,
    replayed: u32,
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    rng: Mutex<u64>,
    old: Mutex<Vec<Bytes>>,
    injected: Mutex<Injected>,
}

impl Proxy {
    fn roll(&self) -> u64 {
        let mut s = self.rng.lock().unwrap();
        *s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*s >> 33) % 100
    }

    async fn forward(
        &self,
        device: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), reqwest::Error> {
        let r = self
            .http
            .post(format!("{}/api/v1/devices/{device}/events", self.upstream))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        Ok((status, r.bytes().await?))
    }
}

async fn handle(
    State(p): State<Arc<Proxy>>,
    Path(device): Path<String>,
    body: Bytes,
) -> impl IntoResponse {
    let roll = p.roll();
    // An old batch sent again ahead of this one: the centre sees sequences out of order.
    if roll < 10 {
        let stale = p.old.lock().unwrap().first().cloned();
        if let Some(stale) = stale {
            let _ = p.forward(&device, stale).await;
            p.injected.lock().unwrap().replayed += 1;
        }
    }
    p.old.lock().unwrap().push(body.clone());
    match roll {
        0..=14 => {
            p.injected.lock().unwrap().refused += 1;
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from_static(b"{\"error\":\"injected 503\"}"),
            )
                .into_response()
        }
        15..=29 => {
            // Applied at the centre, but the answer never reaches the device.
            let _ = p.forward(&device, body).await;
            p.injected.lock().unwrap().reply_lost += 1;
            (
                StatusCode::BAD_GATEWAY,
                Bytes::from_static(b"{\"error\":\"injected lost reply\"}"),
            )
                .into_response()
        }
        30..=39 => {
            let _ = p.forward(&device, body.clone()).await;
            p.injected.lock().unwrap().duplicated += 1;
            match p.forward(&device, body).await {
                Ok((s, b)) => (s, b).into_response(),
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
        40..=49 => {
            tokio::time::sleep(Duration::from_millis(30)).await;
            p.injected.lock().unwrap().delayed += 1;
            match p.forward(&device, body).await {
                Ok((s, b)) => (s, b).into_response(),
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
        _ => {
            p.injected.lock().unwrap().passed += 1;
            match p.forward(&device, body).await {
                Ok((s, b)) => (s, b).into_response(),
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_exactly_once_through_a_faulty_link() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store.clone())
        .await
        .unwrap();
    let proxy = Arc::new(Proxy {
        upstream: centre.base_url(),
        http: reqwest::Client::new(),
        rng: Mutex::new(0xFA17),
        old: Mutex::new(Vec::new()),
        injected: Mutex::new(Injected::default()),
    });
    let app = Router::new()
        .route("/api/v1/devices/{device}/events", post(handle))
        .with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let outbox = Journal::new(
        Outbox::open(&dir.path().join("ob.db"), "KSK-F", SystemClock::shared()).unwrap(),
    );
    let client = SyncClient::new(
        CentreClient::plain(&format!("http://{addr}"), "KSK-F").unwrap(),
        4,
    );
    let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(20), 3);
    let mut failures = 0;
    for round in 0..30 {
        for i in 0..10 {
            outbox
                .lock()
                .enqueue("e", serde_json::json!({ "round": round, "i": i }))
                .unwrap();
        }
        // Drain with back-off until this round is through (bounded: the test must end).
        for _ in 0..200 {
            match client.drain(&outbox).await {
                Ok(_) => {
                    backoff.reset();
                    break;
                }
                Err(_) => {
                    failures += 1;
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }
    let counts = outbox.lock().counts().unwrap();
    assert_eq!(
        (counts.pending, counts.sent, counts.dead),
        (0, 0, 0),
        "{counts:?}"
    );
    assert_eq!(counts.acknowledged, 300);
    assert_eq!(
        store.event_seqs("KSK-F").unwrap(),
        (1..=300).collect::<Vec<_>>()
    );
    let inj = *proxy.injected.lock().unwrap();
    assert!(
        inj.refused > 0 && inj.reply_lost > 0 && inj.duplicated > 0 && inj.replayed > 0,
        "{inj:?}"
    );
    println!("fault proxy: {inj:?}, {failures} failed uploads retried; 300 events at the centre exactly once");
    centre.stop().await.unwrap();
}

/// Closes with RST rather than FIN: linger on, zero timeout.
fn reset(s: &tokio::net::TcpStream) {
    // Deprecated because a non-zero linger blocks on drop; zero does not.
    #[allow(deprecated)]
    s.set_linger(Some(Duration::ZERO)).ok();
}

/// A TCP-level proxy: some connections are reset before the request reaches the centre, some
/// after the centre applied it but before its reply gets back (RST, not a clean close), the
/// rest pass through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_resets_lose_nothing_and_apply_nothing_twice() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("centre.db")).unwrap();
    let centre = CentreHandle::start("127.0.0.1:0", store.clone())
        .await
        .unwrap();
    let upstream = centre.addr;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Mutex::new((0u32, 0u32, 0u32))); // before, after, passed
    {
        let counts = counts.clone();
        tokio::spawn(async move {
            let mut n: u64 = 0;
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                n += 1;
                let counts = counts.clone();
                // Cycle: pass, reset before, reset after, pass, reset before …
                let roll = [6, 0, 3, 6, 1, 4][(n % 6) as usize];
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    match roll {
                        0..=2 => {
                            // Reset as the request arrives: the centre never sees it.
                            let _ = client.read(&mut buf).await;
                            reset(&client);
                            counts.lock().unwrap().0 += 1;
                        }
                        3..=5 => {
                            // Forward one request, let the centre answer, reset the client.
                            let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await
                            else {
                                return;
                            };
                            let Ok(k) = client.read(&mut buf).await else {
                                return;
                            };
                            if server.write_all(&buf[..k]).await.is_err() {
                                return;
                            }
                            // Bodies can follow their headers in a second segment.
                            let mut reply = vec![0u8; 1024];
                            loop {
                                tokio::select! {
                                    r = client.read(&mut buf) => match r {
                                        Ok(0) | Err(_) => break,
                                        Ok(k) => if server.write_all(&buf[..k]).await.is_err() { break },
                                    },
                                    r = server.read(&mut reply) => {
                                        if matches!(r, Ok(k) if k > 0) {
                                            counts.lock().unwrap().1 += 1;
                                        }
                                        break;
                                    }
                                }
                            }
                            reset(&client);
                        }
                        _ => {
                            if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                                counts.lock().unwrap().2 += 1;
                                // A short life, so that later requests meet new connections
                                // and their faults rather than one kept-alive clean link.
                                let _ = tokio::time::timeout(
                                    Duration::from_millis(40),
                                    tokio::io::copy_bidirectional(&mut client, &mut server),
                                )
                                .await;
                            }
                        }
                    }
                });
            }
        });
    }
    let outbox = Journal::new(
        Outbox::open(
            &dir.path().join("outbox.db"),
            "KSK-R",
            SystemClock::shared(),
        )
        .unwrap(),
    );
    let client = SyncClient::new(
        CentreClient::plain(&format!("http://{addr}"), "KSK-R").unwrap(),
        20,
    );
    let mut backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(50), 11);
    let mut failures = 0;
    for round in 0..20 {
        for i in 0..10 {
            outbox
                .lock()
                .enqueue("e", serde_json::json!({ "round": round, "i": i }))
                .unwrap();
        }
        // Rounds spread over time, so they meet several connections.
        tokio::time::sleep(Duration::from_millis(15)).await;
        for _ in 0..300 {
            match client.drain(&outbox).await {
                Ok(_) => {
                    backoff.reset();
                    break;
                }
                Err(_) => {
                    failures += 1;
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }
    let c = outbox.lock().counts().unwrap();
    assert_eq!(
        (c.pending, c.sent, c.dead, c.acknowledged),
        (0, 0, 0, 200),
        "{c:?}"
    );
    assert_eq!(
        store.event_seqs("KSK-R").unwrap(),
        (1..=200).collect::<Vec<_>>()
    );
    let (before, after, passed) = *counts.lock().unwrap();
    assert!(
        before > 0 && after > 0 && passed > 0,
        "{before} {after} {passed}"
    );
    println!(
        "TCP resets: {before} before the centre, {after} after it answered, {passed} connections passed; {failures} failed uploads retried; 200 events exactly once"
    );
    centre.stop().await.unwrap();
}
