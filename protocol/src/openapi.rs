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
    schemas.insert(
        "AppointmentRequest".into(),
        schema::<crate::wire::AppointmentRequest>(&mut defs),
    );
    schemas.insert(
        "Appointment".into(),
        schema::<crate::wire::Appointment>(&mut defs),
    );
    schemas.insert(
        "ApiError".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": { "type": "string" },
                "reason": { "type": "string" },
                "received": { "type": "integer", "minimum": 0 }
            }
        }),
    );
    schemas.insert("Ticket".into(), schema::<Ticket>(&mut defs));
    schemas.insert(
        "NumberBlockRequest".into(),
        schema::<crate::wire::NumberBlockRequest>(&mut defs),
    );
    schemas.insert(
        "NumberBlock".into(),
        schema::<crate::wire::NumberBlock>(&mut defs),
    );
    schemas.insert(
        "WindowSetup".into(),
        schema::<crate::queue::WindowSetup>(&mut defs),
    );
    schemas.insert(
        "QueueWindow".into(),
        schema::<crate::queue::QueueWindow>(&mut defs),
    );
    schemas.insert(
        "WindowCommand".into(),
        schema::<crate::queue::WindowCommand>(&mut defs),
    );
    schemas.insert(
        "WindowOutcome".into(),
        schema::<crate::queue::WindowOutcome>(&mut defs),
    );
    schemas.insert(
        "HallBoard".into(),
        schema::<crate::queue::HallBoard>(&mut defs),
    );
    schemas.insert(
        "QueueEvents".into(),
        schema::<Vec<crate::queue::QueueEvent>>(&mut defs),
    );
    schemas.insert(
        "StaffLogin".into(),
        schema::<crate::queue::StaffLogin>(&mut defs),
    );
    schemas.insert(
        "StaffPlate".into(),
        schema::<crate::queue::StaffPlate>(&mut defs),
    );
    schemas.insert(
        "TicketRatings".into(),
        schema::<Vec<crate::queue::TicketRating>>(&mut defs),
    );
    schemas.insert(
        "QueueStats".into(),
        schema::<crate::queue::QueueStats>(&mut defs),
    );
    schemas.insert(
        "CaseSubmission".into(),
        schema::<crate::cases::CaseSubmission>(&mut defs),
    );
    schemas.insert("Case".into(), schema::<crate::cases::Case>(&mut defs));
    schemas.insert(
        "CaseLookup".into(),
        schema::<crate::cases::CaseLookup>(&mut defs),
    );
    schemas.insert(
        "CaseProgress".into(),
        schema::<crate::cases::CaseProgress>(&mut defs),
    );
    schemas.insert(
        "Licence".into(),
        schema::<crate::documents::Licence>(&mut defs),
    );
    schemas.insert(
        "ProofKind".into(),
        schema::<crate::documents::ProofKind>(&mut defs),
    );
    schemas.insert(
        "ProofRequest".into(),
        schema::<crate::documents::ProofRequest>(&mut defs),
    );
    schemas.insert("Proof".into(), schema::<crate::documents::Proof>(&mut defs));
    schemas.insert(
        "ProofCheck".into(),
        schema::<crate::documents::ProofCheck>(&mut defs),
    );
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
    let text = |name: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } });
    let sha256 = json!({ "name": "sha256", "in": "path", "required": true,
                         "schema": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                         "description": "The attachment's SHA-256, 64 lowercase hex digits." });
    let command_id = json!({ "name": "id", "in": "path", "required": true,
                             "schema": { "type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX } });
    let json_body = |schema: &str| json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let ok = |what: &str, schema: &str| json!({ "description": what, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    // Every error answer is a JSON object with an `error` message, a stable `reason` where a
    // terminal acts on which refusal it was, and `received` for resumable uploads.
    let e = |what: &str| json!({ "description": what, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ApiError" } } } });
    // Hall, window and service names: 1 to `max` printable characters.
    // "No control character anywhere" as `not` a search for one, not as an anchored pattern:
    // generators that read `$` the Python way (before a final newline) made names with a
    // newline in them and took them for valid.
    let name = |n: &str, max: u32| json!({ "name": n, "in": "path", "required": true, "schema": { "type": "string", "minLength": 1, "maxLength": max, "not": { "pattern": crate::queue::CONTROL_PATTERN } } });
    let token = json!({ "name": "token", "in": "query", "required": false, "schema": { "type": "string" },
                        "description": "The hall's display token (`kiosk-central queue display-token`); without the right one the answer is 403." });
    let refused_token = e("No display token, or one not made for this hall (reasons `token-missing`, `token-refused`)");
    let bad = e("The request does not parse (body, path or query) or breaks a rule of this schema");
    let unsigned = e("The terminal is enrolled and the request is not signed by its key, or the centre serves enrolled terminals only");
    let busy = e("The store cannot be reached; try again");
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "HallKit device ↔ centre API",
            "version": crate::API_VERSION,
            "license": { "name": "GPL-3.0-only" },
            "description": "Terminals upload their outbox in sequence order; the centre applies each event exactly once, keyed by (device, seq). A resend with the same payload hash is acknowledged as a duplicate; the same key with a different hash is refused as a conflict. Requests a terminal makes for itself are signed once it is enrolled (see POST /api/v1/enrol)."
        },
        "paths": {
            "/health": { "get": {
                "summary": "Service and store health",
                "responses": {
                    "200": ok("Healthy", "CentreHealth"),
                    "503": busy
                }
            }},
            "/api/v1/devices/{device_id}/events": { "post": {
                "summary": "Ingest a batch of outbox events (at most 1000)",
                "parameters": [device],
                "requestBody": json_body("IngestBatch"),
                "responses": {
                    "200": ok("Per-event outcome: accepted, duplicates, rejected (with the reason), gaps", "IngestResult"),
                    "400": bad, "401": unsigned, "413": e("Too large: more than 1000 events, or a body over 32 MiB"), "503": busy
                }
            }},
            "/api/v1/devices/{device_id}/heartbeat": { "post": {
                "summary": "Report health, usage counters and queue depth",
                "parameters": [device],
                "requestBody": json_body("Heartbeat"),
                "responses": {
                    "200": { "description": "Recorded", "content": { "application/json": { "schema": { "type": "object", "properties": { "heartbeats": { "type": "integer", "minimum": 0 } }, "required": ["heartbeats"] } } } },
                    "400": bad, "401": unsigned,
                    "409": e("The body names another terminal than the path (reason `device-mismatch`)"),
                    "413": e("The body is over 32 MiB"),
                    "503": busy
                }
            }},
            "/api/v1/devices/{device_id}/status": { "get": {
                "summary": "The device's latest heartbeat (monitoring view)",
                "parameters": [device],
                "responses": {
                    "200": ok("Latest heartbeat", "Heartbeat"),
                    "401": unsigned, "404": e("No heartbeat from this terminal yet"), "503": busy
                }
            }},
            "/api/v1/attachments/{sha256}": {
                "get": {
                    "summary": "How much of an attachment the centre holds",
                    "parameters": [sha256],
                    "responses": {
                        "200": ok("Status", "AttachmentStatus"),
                        "400": bad, "401": unsigned, "404": e("Nothing of it is held"), "503": busy
                    }
                },
                "put": {
                    "summary": "Append a chunk at `offset` (resumable); the last chunk is verified against the hash",
                    "parameters": [
                        sha256,
                        { "name": "offset", "in": "query", "required": true, "schema": { "type": "integer", "format": "int64", "minimum": 0, "maximum": i64::MAX } },
                        { "name": "size", "in": "query", "required": true, "schema": { "type": "integer", "format": "int64", "minimum": 0, "maximum": i64::MAX } }
                    ],
                    "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                    "responses": {
                        "200": ok("Chunk stored", "AttachmentStatus"),
                        "400": bad, "401": unsigned,
                        "409": e("Not where the upload stands: a wrong offset (reason `offset`, resume from `received`), another size than before (`size-conflict`), past the announced size (`too-long`), or bytes that do not match the hash (`hash-mismatch`, dropped, `received` 0)"),
                        "413": e("The chunk is over 32 MiB"),
                        "503": busy
                    }
                }
            },
            "/api/v1/halls/{hall}/services/{service}/tickets": { "post": {
                "summary": "Issue the next queue ticket of a hall's service (numbers restart daily, CST); with an appointment, check it in",
                "parameters": [text("hall"), text("service")],
                "requestBody": json_body("TicketRequest"),
                "responses": {
                    "200": ok("The ticket (the same one again for a repeated request_id), with the people ahead", "Ticket"),
                    "400": bad, "401": unsigned,
                    "404": e("No such appointment is booked at this hall (reason `appointment-unknown`)"),
                    "409": e("The appointment is for another service or day (`appointment-elsewhere`), or already checked in (`appointment-used`)"),
                    "413": e("The body is over 32 MiB"),
                    "503": busy
                }
            }},
            "/api/v1/halls/{hall}/services/{service}/blocks": { "post": {
                "summary": "Reserve numbers of today for a ticket machine to issue while it cannot reach the centre (its `ticket.offline` journal records bring them into the queue later); online numbering goes past every block",
                "parameters": [text("hall"), text("service")],
                "requestBody": json_body("NumberBlockRequest"),
                "responses": {
                    "200": ok("The block (the same one again for a repeated request_id)", "NumberBlock"),
                    "400": bad, "401": unsigned,
                    "413": e("The body is over 32 MiB"),
                    "503": busy
                }
            }},
            "/api/v1/halls/{hall}/services/{service}/tickets/{day}/{number}": { "get": {
                "summary": "One ticket and its state: issued, printed, unconfirmed, or void when its print failed",
                "parameters": [text("hall"), text("service"), text("day"), text("number")],
                "responses": {
                    "200": ok("The ticket", "Ticket"),
                    "404": e("No such ticket"), "503": busy
                }
            }},
            "/api/v1/halls/{hall}/queue/windows/{window}": { "put": {
                "summary": "Set up a window of the hall's queue, or change the services it calls from",
                "parameters": [name("hall", 64), name("window", 16)],
                "requestBody": json_body("WindowSetup"),
                "responses": {
                    "200": ok("The window", "QueueWindow"),
                    "400": bad, "413": e("The body is over 32 MiB"), "503": busy
                }
            }, "get": {
                "summary": "One window now: its state, its ticket and how many tickets it may call (a window unit keeps its waiting count live between commands)",
                "parameters": [name("hall", 64), name("window", 16)],
                "responses": {
                    "200": ok("The window and its ticket, with the tickets it may call", "WindowOutcome"),
                    "400": bad, "401": unsigned,
                    "404": e("No such window in this hall (reason `unknown-window`)"),
                    "503": busy
                }
            }},
            "/api/v1/halls/{hall}/queue/windows/{window}/commands": { "post": {
                "summary": "A window unit's command: log in or out, call next, recall, start, finish, no-show, hold, call a held ticket, transfer, pause, resume — one transaction each",
                "parameters": [name("hall", 64), name("window", 16)],
                "requestBody": json_body("WindowCommand"),
                "responses": {
                    "200": ok("The window and its ticket after the command, with the tickets it may call", "WindowOutcome"),
                    "400": bad, "401": unsigned,
                    "404": e("No such window in this hall (reason `unknown-window`)"),
                    "409": e("Refused as things stand: `not-logged-in`, `paused`, `busy` (a ticket is out), `no-ticket`, `nobody-waiting`, `not-held`, `wrong-state`, `unknown-service`, `staff-elsewhere`"),
                    "413": e("The body is over 32 MiB"),
                    "503": busy
                }
            }},
            "/api/v1/halls/{hall}/queue/board": { "get": {
                "summary": "The hall now, for its display and windows: windows, waiting per service, the last calls (a recall moves a ticket up, never doubles it), and the feed position",
                "parameters": [name("hall", 64), token],
                "responses": {
                    "200": ok("The board", "HallBoard"),
                    "400": bad, "403": refused_token, "503": busy
                }
            }},
            "/api/v1/halls/{hall}/queue/events": { "get": {
                "summary": "The queue feed after event `after`, oldest first, at most 200. The same events stream as server-sent events from `/api/v1/halls/{hall}/queue/feed` (resuming from `Last-Event-ID`)",
                "parameters": [
                    name("hall", 64), token,
                    { "name": "after", "in": "query", "required": false, "schema": { "type": "integer", "format": "int64", "minimum": 0, "maximum": i64::MAX } }
                ],
                "responses": {
                    "200": ok("The events", "QueueEvents"),
                    "400": bad, "403": refused_token, "503": busy
                }
            }},
            "/api/v1/halls/{hall}/queue/stats": { "get": {
                "summary": "Queue statistics from the tickets' timelines for the days `from` to `to` (CST; today when left out): in total and per window, service, hour and day",
                "parameters": [
                    name("hall", 64),
                    { "name": "from", "in": "query", "required": false, "schema": { "type": "string", "format": "date" } },
                    { "name": "to", "in": "query", "required": false, "schema": { "type": "string", "format": "date" } }
                ],
                "responses": {
                    "200": ok("The figures", "QueueStats"),
                    "400": bad, "503": busy
                }
            }},
            "/api/v1/halls/{hall}/staff/{staff}/login": { "post": {
                "summary": "A clerk logs in at a window with staff number and PIN; the window opens for them. Five wrong PINs lock the staff number for 15 minutes (kept across restarts); every attempt is audited",
                "parameters": [name("hall", 64), name("staff", 32)],
                "requestBody": json_body("StaffLogin"),
                "responses": {
                    "200": ok("The clerk's name plate", "StaffPlate"),
                    "400": bad, "401": unsigned,
                    "403": e("Wrong PIN (reason `pin-wrong`; the message says how many tries are left)"),
                    "404": e("No such staff number in the hall's directory (`staff-unknown`), or no such window (`unknown-window`)"),
                    "409": e("The clerk is logged in at another window (`staff-elsewhere`)"),
                    "413": e("The body is over 32 MiB"),
                    "423": e("Locked after too many wrong PINs (`locked`; the message says until when)"),
                    "503": busy
                }
            }},
            "/api/v1/halls/{hall}/queue/ratings": { "get": {
                "summary": "The window ratings (一号一评) of the days `from` to `to` (CST; today when left out), every field: ticket, case, window, clerk, service, level, tags, complaint, channel, time. They arrive in terminals' `queue.rated` journal records, one per ticket",
                "parameters": [
                    name("hall", 64),
                    { "name": "from", "in": "query", "required": false, "schema": { "type": "string", "format": "date" } },
                    { "name": "to", "in": "query", "required": false, "schema": { "type": "string", "format": "date" } }
                ],
                "responses": {
                    "200": ok("The ratings, oldest first", "TicketRatings"),
                    "400": bad, "503": busy
                }
            }},
            "/api/v1/halls/{hall}/appointments": { "post": {
                "summary": "The hall's booking system registers a booked appointment, so a terminal can check it in (the same code with the same details again is accepted)",
                "parameters": [text("hall")],
                "requestBody": json_body("AppointmentRequest"),
                "responses": {
                    "201": ok("Booked", "Appointment"),
                    "400": bad, "409": e("The code is already booked with other details"), "503": busy
                }
            }},
            "/api/v1/halls/{hall}/appointments/{code}": { "get": {
                "summary": "One appointment, and the ticket it was checked in as",
                "parameters": [text("hall"), text("code")],
                "responses": {
                    "200": ok("The appointment", "Appointment"),
                    "404": e("No such appointment at this hall"), "503": busy
                }
            }},
            "/api/v1/cases": { "post": {
                "summary": "File an application: the centre gives it a case number (a repeated device and local_ref gets the same case)",
                "requestBody": json_body("CaseSubmission"),
                "responses": {
                    "200": ok("The case, with its number and log", "Case"),
                    "400": bad, "401": unsigned,
                    "409": e("The same local_ref was filed before with other contents (reason `case-conflict`)"),
                    "413": e("The body is over 32 MiB"),
                    "503": busy
                }
            }},
            "/api/v1/cases/lookup": { "post": {
                "summary": "A case by its number (or the terminal's reference) and query password",
                "requestBody": json_body("CaseLookup"),
                "responses": {
                    "200": ok("The case, with its log", "Case"),
                    "400": bad, "401": unsigned,
                    "404": e("No case with that reference and password (reason `case-not-found`)"),
                    "413": e("The body is over 32 MiB"),
                    "503": busy
                }
            }},
            "/api/v1/cases/{number}/progress": { "post": {
                "summary": "A department moves a case on (accepted, processing, needs-more, completed, rejected) with a comment for the citizen",
                "parameters": [text("number")],
                "requestBody": json_body("CaseProgress"),
                "responses": {
                    "200": ok("The case after the move", "Case"),
                    "400": bad,
                    "404": e("No such case (reason `case-unknown`)"),
                    "409": e("Not a move this case may make (reason `case-move-not-allowed`)"),
                    "413": e("The body is over 32 MiB"),
                    "503": busy
                }
            }},
            "/api/v1/holders/{holder}/cases": { "get": {
                "summary": "The cases of an identified citizen, newest first (at most 50), by the SHA-256 of their ID number",
                "parameters": [{ "name": "holder", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-f]{64}$" } }],
                "responses": {
                    "200": { "description": "The cases", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Case" } } } } },
                    "400": bad, "401": unsigned, "503": busy
                }
            }},
            "/api/v1/holders/{holder}/licences": { "get": {
                "summary": "The electronic licences (电子证照) of an identified citizen, by the SHA-256 of their ID number, each with how often terminals printed it",
                "parameters": [{ "name": "holder", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-f]{64}$" } }],
                "responses": {
                    "200": { "description": "The licences", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Licence" } } } } },
                    "400": bad, "401": unsigned, "503": busy
                }
            }},
            "/api/v1/holders/{holder}/proofs": { "get": {
                "summary": "The proofs (证明) the centre can issue for an identified citizen",
                "parameters": [{ "name": "holder", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-f]{64}$" } }],
                "responses": {
                    "200": { "description": "The proofs on offer", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/ProofKind" } } } } },
                    "400": bad, "401": unsigned, "503": busy
                }
            }},
            "/api/v1/proofs": { "post": {
                "summary": "Issue a proof for an identified citizen: the department's data with a proof number and a check code",
                "requestBody": json_body("ProofRequest"),
                "responses": {
                    "200": ok("The proof", "Proof"),
                    "400": bad, "401": unsigned,
                    "404": e("No data for that proof of this citizen (reason `proof-no-data`)"),
                    "413": e("The body is over 32 MiB"),
                    "503": busy
                }
            }},
            "/api/v1/proofs/{number}/check/{code}": { "get": {
                "summary": "Check a printed proof by its number and check code (the verification QR points here)",
                "parameters": [
                    { "name": "number", "in": "path", "required": true, "schema": { "type": "string", "minLength": 1, "maxLength": 64 } },
                    { "name": "code", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[A-HJ-NP-Z2-9]{8}$" } }
                ],
                "responses": {
                    "200": ok("The proof is genuine: its title, issuer, time and digest", "ProofCheck"),
                    "400": bad,
                    "404": e("No proof with that number and code (reason `proof-unknown`)"),
                    "503": busy
                }
            }},
            "/api/v1/seal-authorisations": { "post": {
                "summary": "A one-time authorisation for one seal impression (valid five minutes; a repeated request_id gets the same one)",
                "requestBody": json_body("SealAuthorisationRequest"),
                "responses": {
                    "201": ok("The authorisation", "SealAuthorisation"),
                    "400": bad, "401": unsigned, "413": e("The body is over 32 MiB"), "503": busy
                }
            }},
            "/api/v1/seal-authorisations/{id}/consume": { "post": {
                "summary": "Use an authorisation, once, just before stamping",
                "parameters": [text("id")],
                "requestBody": json_body("SealConsume"),
                "responses": {
                    "200": ok("Used now", "SealAuthorisation"),
                    "400": bad, "401": unsigned,
                    "403": e("Issued to another terminal"), "404": e("No such authorisation"),
                    "409": e("Already used"), "410": e("Expired"),
                    "413": e("The body is over 32 MiB"), "503": busy
                }
            }},
            "/api/v1/enrol": { "post": {
                "summary": "Register a terminal's public key against its one-time enrolment code. From then on every request the terminal makes for itself (events, heartbeat, pending commands, acknowledgements, documents) (also ticket, seal-authorisation and attachment requests) must carry x-hallkit-device, x-hallkit-time (unix seconds, within 300 s) and x-hallkit-signature (hex, over METHOD, path with query, time and the body's SHA-256, one per line)",
                "requestBody": json_body("EnrolRequest"),
                "responses": {
                    "201": ok("Enrolled", "Enrolment"),
                    "400": e("The body does not parse, or (for the terminal the code is for) the key is not a valid point"),
                    "403": e("The code is wrong for this terminal"), "409": e("The code was already used"), "410": e("The code expired"),
                    "503": busy
                }
            }},
            "/api/v1/documents": { "put": {
                "summary": "Hand a publisher-signed configuration or catalogue to the centre for distribution; its version must exceed every earlier one of its kind (terminals verify the signature against the keys they pin)",
                "requestBody": json_body("SignedDocument"),
                "responses": {
                    "201": ok("Stored for distribution", "SignedDocument"),
                    "400": bad, "409": e("Not newer than a document of this kind already published"), "503": busy
                }
            }},
            "/api/v1/devices/{device_id}/documents/changes": { "get": {
                "summary": "Long poll for published documents: answers the centre's publish generation as soon as it differs from `since` (at once on a first call or after a centre restart), or after `wait` seconds with the same one; the terminal then fetches its documents, so a configuration is in force within a second of publishing",
                "x-hallkit-long-poll": true,
                "parameters": [
                    device,
                    { "name": "since", "in": "query", "required": false, "schema": { "type": "integer", "format": "int64", "minimum": 0 } },
                    { "name": "wait", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": 30 } }
                ],
                "responses": {
                    "200": { "description": "The publish generation", "content": { "application/json": { "schema": { "type": "object", "required": ["generation"], "properties": { "generation": { "type": "integer", "minimum": 0 } } } } } },
                    "400": bad, "401": unsigned
                }
            }},
            "/api/v1/devices/{device_id}/documents/{kind}": { "get": {
                "summary": "The newest document of a kind (config, catalogue) addressed to the terminal or to all, if newer than `after`; the terminal verifies its signature",
                "parameters": [
                    device,
                    { "name": "kind", "in": "path", "required": true, "schema": { "type": "string", "enum": ["config", "catalogue"] } },
                    { "name": "after", "in": "query", "required": false, "schema": { "type": "integer", "format": "int64", "minimum": 0, "maximum": i64::MAX } }
                ],
                "responses": {
                    "200": ok("A newer document", "SignedDocument"),
                    "204": { "description": "Nothing newer" },
                    "400": bad, "401": unsigned, "404": e("No such kind of document"), "503": busy
                }
            }},
            "/api/v1/devices/{device_id}/commands": { "post": {
                "summary": "Queue a remote command for a terminal (idempotent by request_id)",
                "parameters": [device],
                "requestBody": json_body("CommandRequest"),
                "responses": {
                    "201": ok("Queued (or the command this request_id queued before)", "QueuedCommand"),
                    "400": bad,
                    "409": e("An install-update names a bundle the centre does not hold, or gives it another version or size"),
                    "503": busy
                }
            }},
            "/api/v1/devices/{device_id}/commands/pending": { "get": {
                "summary": "Commands the terminal has not acknowledged and that have not expired, oldest first; marked delivered",
                "parameters": [device],
                "responses": {
                    "200": { "description": "The commands", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/QueuedCommand" } } } } },
                    "401": unsigned, "503": busy
                }
            }},
            "/api/v1/devices/{device_id}/commands/{id}": { "get": {
                "summary": "One command and its state (queued, delivered, done, failed, expired)",
                "parameters": [device, command_id],
                "responses": {
                    "200": ok("The command", "QueuedCommand"),
                    "400": bad, "404": e("No such command for this terminal"), "503": busy
                }
            }},
            "/api/v1/devices/{device_id}/commands/{id}/ack": { "post": {
                "summary": "Acknowledge a command once; the same acknowledgement again is accepted, another one is a conflict",
                "parameters": [device, command_id],
                "requestBody": json_body("CommandAck"),
                "responses": {
                    "200": ok("Recorded", "QueuedCommand"),
                    "400": bad, "401": unsigned, "404": e("No such command for this terminal"),
                    "409": e("Acknowledged before with another outcome"), "410": e("Expired before it was acknowledged"),
                    "413": e("The body is over 32 MiB"), "503": busy
                }
            }},
            "/api/v1/devices/{device_id}/updates/{sha256}": { "get": {
                "summary": "Up to 4 MiB of an update bundle the centre holds (`kiosk-central update add`), from `offset`; a terminal ordered to install it fetches it chunk by chunk and checks its hash and signature itself. Only registered bundles are served, never other attachments",
                "parameters": [
                    device,
                    sha256,
                    { "name": "offset", "in": "query", "required": false, "schema": { "type": "integer", "format": "int64", "minimum": 0, "maximum": i64::MAX } }
                ],
                "responses": {
                    "200": {
                        "description": "The bytes from `offset` (none at the end); `x-bundle-size` gives the bundle's whole size",
                        "headers": { "x-bundle-size": { "schema": { "type": "integer", "format": "int64", "minimum": 0 } } },
                        "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } }
                    },
                    "400": bad, "401": unsigned, "404": e("No such update bundle"),
                    "416": e("The offset is past the bundle's end"), "503": busy
                }
            }}
        },
        "components": { "schemas": Value::Object(schemas) }
    });
    fix_refs(&mut doc);
    bound_integers(&mut doc);
    to_openapi_30(&mut doc);
    doc
}

/// schemars speaks JSON Schema 2020-12; the document is OpenAPI 3.0, whose schema dialect says an
/// integer is a number written without a fraction — which is what the centre's parser accepts
/// (`5.0` is refused), and what 3.1 would not promise. The few 2020-12 spellings the wire types
/// produce are rewritten into their 3.0 equivalents.
fn to_openapi_30(v: &mut Value) {
    match v {
        Value::Object(m) => {
            // `"type": ["string", "null"]` → `"type": "string", "nullable": true`
            if let Some(Value::Array(types)) = m.get("type").cloned() {
                let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if rest.len() == 1 {
                    m.insert("type".into(), rest[0].clone());
                    if rest.len() < types.len() {
                        m.insert("nullable".into(), Value::Bool(true));
                    }
                }
            }
            // `"const": x` → `"enum": [x]`
            if let Some(c) = m.remove("const") {
                m.insert("enum".into(), Value::Array(vec![c]));
            }
            // `"anyOf": [A, {"type": "null"}]` → `"anyOf": [A], "nullable": true`
            if let Some(Value::Array(branches)) = m.get_mut("anyOf") {
                let before = branches.len();
                branches.retain(|b| b != &json!({ "type": "null" }));
                if branches.len() < before {
                    m.insert("nullable".into(), Value::Bool(true));
                }
            }
            // A fixed-length tuple of one item type → that type, with the length as bounds.
            if let Some(Value::Array(items)) = m.remove("prefixItems") {
                let first = items.first().cloned().unwrap_or(json!({}));
                let same = items.iter().all(|i| *i == first);
                m.insert("items".into(), if same { first } else { json!({}) });
                m.insert("minItems".into(), json!(items.len()));
                m.insert("maxItems".into(), json!(items.len()));
            }
            m.values_mut().for_each(to_openapi_30);
        }
        Value::Array(a) => a.iter_mut().for_each(to_openapi_30),
        _ => {}
    }
}

/// JSON Schema integers are unbounded; the wire types are not. Every integer of a Rust width
/// gets that width's bounds, so a request the schema allows is one the centre can read.
fn bound_integers(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let bounds: Option<(i128, i128)> = match m.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((0, u8::MAX.into())),
                Some("uint16") => Some((0, u16::MAX.into())),
                Some("uint32") => Some((0, u32::MAX.into())),
                Some("uint64") | Some("uint") => Some((0, i64::MAX.into())),
                Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
                Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("int64") | Some("int") => Some((i64::MIN.into(), i64::MAX.into())),
                _ => None,
            };
            if let Some((lo, hi)) = bounds {
                let lo = m
                    .get("minimum")
                    .and_then(Value::as_i64)
                    .map_or(lo, |x| lo.max(x.into()));
                m.insert("minimum".into(), json!(lo as i64));
                if !m.contains_key("maximum") {
                    m.insert("maximum".into(), json!(hi as i64));
                }
            }
            m.values_mut().for_each(bound_integers);
        }
        Value::Array(a) => a.iter_mut().for_each(bound_integers),
        _ => {}
    }
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
