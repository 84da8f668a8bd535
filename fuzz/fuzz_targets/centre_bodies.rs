//! Request bodies the centre takes from terminals and operators, decoded into their wire types
//! and hashed the way ingest does.
#![no_main]
use kiosk_protocol::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = serde_json::from_slice::<wire::IngestBatch>(data) {
        for e in &b.events {
            let _ = wire::payload_sha256(&e.payload);
            let _ = wire::canonical_json(&e.payload);
        }
    }
    let _ = serde_json::from_slice::<wire::Heartbeat>(data);
    let _ = serde_json::from_slice::<wire::TicketRequest>(data);
    let _ = serde_json::from_slice::<wire::CommandRequest>(data);
    let _ = serde_json::from_slice::<wire::CommandAck>(data);
    let _ = serde_json::from_slice::<wire::SealAuthorisationRequest>(data);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = wire::canonical_json(&v);
    }
});
