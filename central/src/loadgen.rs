//! `kiosk-central loadgen`: simulated terminals against a running centre, for capacity
//! planning. Each device uploads its events in order, in batches, then sends heartbeats; the
//! figures printed are throughput and errors per phase.

use std::time::{Duration, Instant};

use kiosk_protocol::wire::{
    payload_sha256, EventEnvelope, Heartbeat, IngestBatch, IngestResult, PeripheralReport,
};
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct LoadPlan {
    pub devices: u32,
    pub events: u64,
    pub batch: u64,
    pub heartbeats: u64,
}

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq)]
pub struct Phase {
    pub requests: u64,
    pub items: u64,
    pub errors: u64,
    pub seconds: f64,
    pub per_second: f64,
}

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq)]
pub struct LoadReport {
    pub ingest: Phase,
    pub heartbeats: Phase,
}

fn device_id(n: u32) -> String {
    format!("LOAD-{n:05}")
}

async fn upload(
    client: &reqwest::Client,
    url: &str,
    device: String,
    plan: LoadPlan,
) -> (u64, u64, u64) {
    let (mut requests, mut accepted, mut errors) = (0, 0, 0);
    let mut seq = 1;
    while seq <= plan.events {
        let end = (seq + plan.batch - 1).min(plan.events);
        let events: Vec<EventEnvelope> = (seq..=end)
            .map(|s| {
                let payload = serde_json::json!({ "ticket": format!("A{s:04}"), "service": "社保业务", "window": s % 20 });
                EventEnvelope {
                    device_id: device.clone(),
                    seq: s,
                    uuid: uuid::Uuid::new_v4().to_string(),
                    kind: "ticket.issued".into(),
                    created_at: chrono::Utc::now(),
                    payload_sha256: payload_sha256(&payload),
                    payload,
                }
            })
            .collect();
        requests += 1;
        let res = async {
            client
                .post(format!("{url}/api/v1/devices/{device}/events"))
                .json(&IngestBatch { events })
                .send()
                .await?
                .error_for_status()?
                .json::<IngestResult>()
                .await
        }
        .await;
        match res {
            Ok(r) => accepted += (r.accepted.len() + r.duplicates.len()) as u64,
            Err(_) => errors += 1,
        }
        seq = end + 1;
    }
    (requests, accepted, errors)
}

async fn beat(client: &reqwest::Client, url: &str, device: String, n: u64) -> (u64, u64) {
    let mut errors = 0;
    for i in 0..n {
        let hb = Heartbeat {
            device_id: device.clone(),
            at: chrono::Utc::now(),
            peripherals: vec![PeripheralReport {
                id: "idcard".into(),
                kind: "id-card-reader".into(),
                state: "normal".into(),
                health: "online".into(),
                detail: String::new(),
            }],
            queue_pending: i,
            queue_dead: 0,
            counters: [("idcard.read-card".to_string(), i)].into_iter().collect(),
            audit_head: None,
            documents: Default::default(),
            software: None,
        };
        let ok = client
            .post(format!("{url}/api/v1/devices/{device}/heartbeat"))
            .json(&hb)
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if !ok {
            errors += 1;
        }
    }
    (n, errors)
}

pub async fn run(url: &str, plan: LoadPlan) -> Result<LoadReport, reqwest::Error> {
    let url = url.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut report = LoadReport::default();

    let t = Instant::now();
    let tasks: Vec<_> = (0..plan.devices)
        .map(|d| {
            let (c, u) = (client.clone(), url.clone());
            tokio::spawn(async move { upload(&c, &u, device_id(d), plan).await })
        })
        .collect();
    for task in tasks {
        if let Ok((req, acc, err)) = task.await {
            report.ingest.requests += req;
            report.ingest.items += acc;
            report.ingest.errors += err;
        } else {
            report.ingest.errors += 1;
        }
    }
    report.ingest.seconds = t.elapsed().as_secs_f64();
    report.ingest.per_second = report.ingest.items as f64 / report.ingest.seconds.max(1e-9);

    let t = Instant::now();
    let tasks: Vec<_> = (0..plan.devices)
        .map(|d| {
            let (c, u) = (client.clone(), url.clone());
            tokio::spawn(async move { beat(&c, &u, device_id(d), plan.heartbeats).await })
        })
        .collect();
    for task in tasks {
        if let Ok((n, err)) = task.await {
            report.heartbeats.requests += n;
            report.heartbeats.items += n - err;
            report.heartbeats.errors += err;
        } else {
            report.heartbeats.errors += 1;
        }
    }
    report.heartbeats.seconds = t.elapsed().as_secs_f64();
    report.heartbeats.per_second =
        report.heartbeats.items as f64 / report.heartbeats.seconds.max(1e-9);
    Ok(report)
}
