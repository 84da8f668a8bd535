//! The OpenAPI document of the device ↔ centre API, built from the wire types themselves so it
//! cannot drift from them; `docs/openapi.json` is generated from it and a test keeps it in sync.

use schemars::{schema_for, JsonSchema};
use serde_json::{json, Map, Value};

use crate::wire::{
    AttachmentRef, AttachmentStatus, CentreHealth, CommandAck, CommandRequest, Heartbeat,
    IngestBatch, IngestResult, QueuedCommand, SealAuthorisation, SealAuthorisationRequest,
    SealConsume, Ticket, TicketRequest,
};

fn schema<T: JsonSchema>(defs: &mut Map<String, Value>) -> Value {
    let mut s = serde_json::to_value(schema_for!(T)).unwrap_or(Value::Null);
    // Nested definitions move to components/schemas; references follow them there.
    if let Some(Value::Object(d)) = s.as_object_mut().and_then(|o| o.remove("$defs")) {
        for (k, v) in d {
            defs.insert(k, v);
        }
    }
    if let Some(o) = s.as_object_mut() {
        o.remove("$schema");
    }
    s
}

fn fix_refs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                *r = r.replace("#/$defs/", "#/components/schemas/");
            }
            m.values_mut().for_each(fix_refs);
        }
        Value::Array(a) => a.iter_mut().for_each(fix_refs),
        _ => {}
    }
}

pub fn document() -> Value {
    let mut defs = Map::new();
    let mut schemas = Map::new();
    schemas.insert("CentreHealth".into(), schema::<CentreHealth>(&mut defs));
    schemas.insert("IngestBatch".into(), schema::<IngestBatch>(&mut defs));
    schemas.insert("IngestResult".into(), schema::<IngestResult>(&mut defs));
    schemas.insert("Heartbeat".into(), schema::<Heartbeat>(&mut defs));
    schemas.insert("AttachmentRef".into(), schema::<AttachmentRef>(&mut defs));
    schemas.insert("TicketRequest".into(), schema::<TicketRequest>(&mut defs));
    schemas.insert("Ticket".into(), schema::<Ticket>(&mut defs));
    schemas.insert(
        "SealAuthorisationRequest".into(),
        schema::<SealAuthorisationRequest>(&mut defs),
    );
    schemas.insert(
        "SealAuthorisation".into(),
        schema::<SealAuthorisation>(&mut defs),
    );
    schemas.insert("SealConsume".into(), schema::<SealConsume>(&mut defs));
    schemas.insert(
        "SignedDocument".into(),
        schema::<crate::signing::SignedDocument>(&mut defs),
    );
    schemas.insert(
        "EnrolRequest".into(),
        schema::<crate::wire::EnrolRequest>(&mut defs),
    );
    schemas.insert(
        "Enrolment".into(),
        schema::<crate::wire::Enrolment>(&mut defs),
    );
    schemas.insert("CommandRequest".into(), schema::<CommandRequest>(&mut defs));
    schemas.insert("CommandAck".into(), schema::<CommandAck>(&mut defs));
    schemas.insert("QueuedCommand".into(), schema::<QueuedCommand>(&mut defs));
    schemas.insert(
        "AttachmentStatus".into(),
        schema::<AttachmentStatus>(&mut defs),
    );
    for (k, v) in defs {
        schemas.entry(k).or_insert(v);
    }
    let device = json!({ "name": "device_id", "in": "path", "required": true, "schema": { "type": "string" },
                         "description": "The terminal's id, as enrolled (KSK-320583-0001)." });
    let error = json!({ "description": "A JSON object with an `error` message." });
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "HallKit device ↔ centre API",
            "version": crate::API_VERSION,
            "license": { "name": "GPL-3.0-only" },
            "description": "Terminals upload their outbox in sequence order; the centre applies each event exactly once, keyed by (device, seq). A resend with the same payload hash is acknowledged as a duplicate; the same key with a different hash is refused as a conflict."
        },
        "paths": {
            "/health": { "get": {
                "summary": "Service and store health",
                "responses": {
                    "200": { "description": "Healthy", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CentreHealth" } } } },
                    "503": error
                }
            }},
            "/api/v1/devices/{device_id}/events": { "post": {
                "summary": "Ingest a batch of outbox events (at most 1000)",
                "parameters": [device],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/IngestBatch" } } } },
                "responses": {
                    "200": { "description": "Per-event outcome", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/IngestResult" } } } },
                    "400": error, "413": error, "503": error
                }
            }},
            "/api/v1/devices/{device_id}/heartbeat": { "post": {
                "summary": "Report health, usage counters and queue depth",
                "parameters": [device],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Heartbeat" } } } },
                "responses": { "200": { "description": "Recorded" }, "400": error, "503": error }
            }},
            "/api/v1/attachments/{sha256}": {
                "get": {
                    "summary": "How much of an attachment the centre holds",
                    "parameters": [{ "name": "sha256", "in": "path", "required": true, "schema": { "type": "string" } }],
                    "responses": {
                        "200": { "description": "Status", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/AttachmentStatus" } } } },
                        "404": error
                    }
                },
                "put": {
                    "summary": "Append a chunk at `offset` (resumable); the last chunk is verified against the hash",
                    "parameters": [
                        { "name": "sha256", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "offset", "in": "query", "required": true, "schema": { "type": "integer", "minimum": 0 } },
                        { "name": "size", "in": "query", "required": true, "schema": { "type": "integer", "minimum": 0 } }
                    ],
                    "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                    "responses": {
                        "200": { "description": "Chunk stored", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/AttachmentStatus" } } } },
                        "400": error,
                        "409": { "description": "Wrong offset (resume from `received`) or a different size" },
                        "422": { "description": "The bytes do not match the hash; the upload starts over" },
                        "503": error
                    }
                }
            },
            "/api/v1/halls/{hall}/services/{service}/tickets": { "post": {
                "summary": "Issue the next queue ticket of a hall's service (numbers restart daily, CST)",
                "parameters": [
                    { "name": "hall", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "service", "in": "path", "required": true, "schema": { "type": "string" } }
                ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TicketRequest" } } } },
                "responses": {
                    "200": { "description": "The ticket (the same one again for a repeated request_id)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Ticket" } } } },
                    "400": error, "503": error
                }
            }},
            "/api/v1/halls/{hall}/services/{service}/tickets/{day}/{number}": { "get": {
                "summary": "One ticket and its state: issued, printed, unconfirmed, or void when its print failed",
                "parameters": [
                    { "name": "hall", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "service", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "day", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "number", "in": "path", "required": true, "schema": { "type": "string" } }
                ],
                "responses": {
                    "200": { "description": "The ticket", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Ticket" } } } },
                    "404": error, "503": error
                }
            }},
            "/api/v1/seal-authorisations": { "post": {
                "summary": "A one-time authorisation for one seal impression (valid five minutes; a repeated request_id gets the same one)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SealAuthorisationRequest" } } } },
                "responses": {
                    "201": { "description": "The authorisation", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SealAuthorisation" } } } },
                    "400": error, "503": error
                }
            }},
            "/api/v1/seal-authorisations/{id}/consume": { "post": {
                "summary": "Use an authorisation, once, just before stamping",
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }
                ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SealConsume" } } } },
                "responses": {
                    "200": { "description": "Used now", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SealAuthorisation" } } } },
                    "403": error, "404": error, "409": error, "410": error, "503": error
                }
            }},
            "/api/v1/enrol": { "post": {
                "summary": "Register a terminal's public key against its one-time enrolment code. From then on every request the terminal makes for itself (events, heartbeat, pending commands, acknowledgements, documents) (also ticket, seal-authorisation and attachment requests) must carry x-hallkit-device, x-hallkit-time (unix seconds, within 300 s) and x-hallkit-signature (hex, over METHOD, path with query, time and the body's SHA-256, one per line)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/EnrolRequest" } } } },
                "responses": {
                    "201": { "description": "Enrolled", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Enrolment" } } } },
                    "400": error, "403": error, "409": error, "410": error, "503": error
                }
            }},
            "/api/v1/documents": { "put": {
                "summary": "Hand a publisher-signed configuration or catalogue to the centre for distribution; its version must exceed every earlier one of its kind",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SignedDocument" } } } },
                "responses": {
                    "201": { "description": "Stored for distribution", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SignedDocument" } } } },
                    "400": error, "409": error, "503": error
                }
            }},
            "/api/v1/devices/{device_id}/documents/{kind}": { "get": {
                "summary": "The newest document of a kind (config, catalogue) addressed to the terminal or to all, if newer than `after`; the terminal verifies its signature",
                "parameters": [
                    device,
                    { "name": "kind", "in": "path", "required": true, "schema": { "type": "string", "enum": ["config", "catalogue"] } },
                    { "name": "after", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } }
                ],
                "responses": {
                    "200": { "description": "A newer document", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SignedDocument" } } } },
                    "204": { "description": "Nothing newer" },
                    "404": error
                }
            }},
            "/api/v1/devices/{device_id}/commands": { "post": {
                "summary": "Queue a remote command for a terminal (idempotent by request_id)",
                "parameters": [device],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CommandRequest" } } } },
                "responses": {
                    "201": { "description": "Queued (or the command this request_id queued before)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/QueuedCommand" } } } },
                    "400": error, "503": error
                }
            }},
            "/api/v1/devices/{device_id}/commands/pending": { "get": {
                "summary": "Commands the terminal has not acknowledged and that have not expired, oldest first; marked delivered",
                "parameters": [device],
                "responses": {
                    "200": { "description": "The commands", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/QueuedCommand" } } } } },
                    "503": error
                }
            }},
            "/api/v1/devices/{device_id}/commands/{id}": { "get": {
                "summary": "One command and its state (queued, delivered, done, failed, expired)",
                "parameters": [device, { "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } }],
                "responses": {
                    "200": { "description": "The command", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/QueuedCommand" } } } },
                    "404": error
                }
            }},
            "/api/v1/devices/{device_id}/commands/{id}/ack": { "post": {
                "summary": "Acknowledge a command once; the same acknowledgement again is accepted, another one is a conflict",
                "parameters": [device, { "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CommandAck" } } } },
                "responses": {
                    "200": { "description": "Recorded", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/QueuedCommand" } } } },
                    "404": error, "409": error, "410": error, "503": error
                }
            }},
            "/api/v1/devices/{device_id}/status": { "get": {
                "summary": "The device's latest heartbeat (monitoring view)",
                "parameters": [device],
                "responses": {
                    "200": { "description": "Latest heartbeat", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Heartbeat" } } } },
                    "404": error
                }
            }}
        },
        "components": { "schemas": Value::Object(schemas) }
    });
    fix_refs(&mut doc);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_doc_is_in_sync_and_references_resolve() {
        let doc = document();
        let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        assert!(
            std::fs::read_to_string(&path).unwrap_or_default() == text,
            "docs/openapi.json is out of date; run UPDATE_OPENAPI=1 cargo test -p kiosk-protocol"
        );
        // Every $ref points at a schema the document defines.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| walk(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        walk(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "dangling reference {r}");
        }
        assert!(schemas["EventEnvelope"]["properties"]
            .get("payload_sha256")
            .is_some());
    }
}
