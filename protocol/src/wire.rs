//! Wire types of the device ↔ centre API (JSON over HTTPS).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /health` of the central service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CentreHealth {
    /// `ok` when the service and its store answer.
    pub status: String,
    pub api_version: String,
    pub service_version: String,
    /// The storage backend in use (`sqlite`, `postgres`).
    pub store: String,
    pub schema_version: u32,
    pub enrolled_devices: u64,
}

impl CentreHealth {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_ignores_key_order() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"d":2,"c":3}],"x":"文"}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a":{"x":"文","y":[1,{"c":3,"d":2}]},"b":1}"#).unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":"文","y":[1,{"c":3,"d":2}]},"b":1}"#
        );
        assert_eq!(payload_sha256(&a), payload_sha256(&b));
        assert_ne!(
            payload_sha256(&a),
            payload_sha256(&serde_json::json!({"b": 2}))
        );
    }

    #[test]
    fn health_round_trips_as_json() {
        let h = CentreHealth {
            status: "ok".into(),
            api_version: crate::API_VERSION.into(),
            service_version: "0.1.0".into(),
            store: "sqlite".into(),
            schema_version: 1,
            enrolled_devices: 0,
        };
        let s = serde_json::to_string(&h).unwrap();
        assert!(s.contains("\"api_version\":\"v1\""));
        assert_eq!(serde_json::from_str::<CentreHealth>(&s).unwrap(), h);
        assert!(serde_json::from_str::<CentreHealth>("{\"status\":\"ok\"}").is_err());
    }
}

/// One outbox event as it travels to the centre. The centre applies it exactly once, keyed by
/// `(device_id, seq)`; `payload_sha256` tells a resend (same hash) from a conflict (different).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventEnvelope {
    pub device_id: String,
    /// Per-device sequence number, assigned in the same transaction as the business write;
    /// starts at 1 and has no gaps.
    pub seq: u64,
    pub uuid: String,
    /// A catalogue key or a business event type (`application.submitted`).
    pub kind: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub payload: serde_json::Value,
    /// Hex SHA-256 of the canonical JSON of `payload`.
    pub payload_sha256: String,
}

/// `POST /api/v1/devices/{device_id}/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestBatch {
    #[schemars(length(max = 1000))]
    pub events: Vec<EventEnvelope>,
}

/// Why the centre refused an event. A refused event is dead-lettered on the device with this
/// reason, visible to technicians, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rejection {
    pub seq: u64,
    pub reason: String,
}

/// The centre's answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
pub struct IngestResult {
    /// Applied now.
    pub accepted: Vec<u64>,
    /// Already applied earlier with the same hash: acknowledged again, not applied again.
    pub duplicates: Vec<u64>,
    /// Refused for good (same key, different content; malformed).
    pub rejected: Vec<Rejection>,
    /// The lowest sequence number the centre has not seen from this device.
    pub next_expected: u64,
    /// Holes below the highest sequence seen, as inclusive ranges.
    pub gaps: Vec<(u64, u64)>,
}

impl IngestResult {
    /// Everything the device may mark acknowledged.
    pub fn acknowledged(&self) -> impl Iterator<Item = u64> + '_ {
        self.accepted.iter().chain(self.duplicates.iter()).copied()
    }
}

/// JSON with object keys sorted at every level and no insignificant space, whatever order the
/// map kept: the form both sides hash.
pub fn canonical_json(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// Hex SHA-256 of a file, read in blocks.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// The hash of a payload both the device and the centre compute.
pub fn payload_sha256(payload: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(canonical_json(payload).as_bytes()))
}

/// One peripheral in a heartbeat, in the centre's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeripheralReport {
    pub id: String,
    pub kind: String,
    /// `normal`, `warning`, `abnormal` or `offline` (正常 / 预警 / 异常 / 离线).
    pub state: String,
    /// The device model's health value (`online`, `no-device`, …) and its detail.
    pub health: String,
    #[serde(default)]
    pub detail: String,
}

/// `POST /api/v1/devices/{device_id}/heartbeat`: health, usage and queue depth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub device_id: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub peripherals: Vec<PeripheralReport>,
    /// Events waiting to be uploaded, and dead letters waiting for a technician.
    pub queue_pending: u64,
    pub queue_dead: u64,
    /// Usage counters per function (`idcard.read-card`: 12).
    #[serde(default)]
    pub counters: std::collections::BTreeMap<String, u64>,
    /// The last record of the terminal's audit log. The centre keeps it, so records cut from
    /// the end of a terminal's log are noticed (`kiosk audit verify --expect SEQ:HASH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<AuditAnchor>,
    /// The version of each signed document kind in force (`config`: 7), for staged rollouts
    /// to see which terminals took a version.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub documents: std::collections::BTreeMap<String, u64>,
    /// The software version running (its update slot's `VERSION`, else the build's), for
    /// staged rollouts of updates to see which terminals run which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
}

/// A record of an audit log's SM3 chain: its sequence number and hash (64 hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditAnchor {
    pub seq: u64,
    pub hash: String,
}

/// An attachment (a scan, a signature) referenced from an event's payload by content hash:
/// `"attachments": [{"sha256": …, "size": …, "media_type": …}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRef {
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
}

/// `GET /api/v1/attachments/{sha256}`: how much of an attachment the centre holds. Uploads
/// resume from `received` with `PUT …?offset=received&size=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttachmentStatus {
    pub sha256: String,
    pub size: u64,
    pub received: u64,
    /// Fully received and verified against its hash.
    pub complete: bool,
}

/// `POST /api/v1/halls/{hall}/services/{service}/tickets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    pub device_id: String,
    /// Unique per request: a retry after a lost reply carries the same id and gets the same
    /// ticket, so one citizen never holds two numbers.
    #[schemars(length(min = 1))]
    pub request_id: String,
    /// The service's letter on the display (`A` for 社保, `B` for 不动产 …).
    #[schemars(length(max = 2))]
    pub prefix: String,
    /// An appointment code the citizen showed (`YY20261202-0042`): the centre checks it is
    /// booked for this hall, service and day and not used yet, and marks it used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<String>,
    /// The card the citizen identified with, masked (`3205**********1234`), so the window can
    /// match the card shown there; never the full number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// The citizen's age in whole years from the ID card's birth date, where the terminal read
    /// a card: a hall that calls the elderly first uses it. Never the birth date itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 150))]
    pub age: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Ticket {
    /// What the ticket and the hall display show: prefix and a 3-digit number (`A012`).
    pub number: String,
    pub seq: u32,
    /// The hall's local day the numbering belongs to (numbers restart every day).
    pub day: String,
    pub hall: String,
    pub service: String,
    /// `issued` when numbered; `printed`, `unconfirmed` or `void` once the terminal reported
    /// the ticket's print result. A void number is never called.
    #[serde(default)]
    pub state: TicketState,
    /// Other tickets of the same service still waiting in the hall's queue: the people ahead.
    #[serde(default)]
    pub ahead: u32,
    /// The appointment this ticket checked in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<String>,
    /// Numbered by the terminal from its reserved block while the centre could not be
    /// reached: nobody knows yet how many are ahead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
}

/// `POST /api/v1/halls/{hall}/services/{service}/blocks`: a ticket machine reserves numbers of
/// today to issue on its own while the centre cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberBlockRequest {
    pub device_id: String,
    /// The same id again (a retry after a lost answer) gets the same block.
    #[schemars(length(min = 1, max = 64))]
    pub request_id: String,
    #[schemars(range(min = 1, max = 200))]
    pub size: u32,
}

/// Numbers `first ..= last` of a service's day, the terminal's alone to issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberBlock {
    pub hall: String,
    pub service: String,
    pub day: String,
    pub first: u32,
    pub last: u32,
}

/// The body of a `ticket.offline` journal record: a ticket a terminal numbered from its block.
/// The centre takes it into the queue at the time it was issued, so it keeps its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineTicket {
    pub hall: String,
    pub service: String,
    pub day: String,
    pub seq: u32,
    pub number: String,
    /// RFC 3339.
    pub issued_at: String,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
}

/// `POST /api/v1/halls/{hall}/appointments`: the hall's booking system registers a booked
/// appointment, so a terminal can check it in by its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentRequest {
    /// The code the citizen shows (on the booking confirmation, usually as a QR code).
    #[schemars(length(min = 1, max = 64))]
    pub code: String,
    #[schemars(length(min = 1, max = 64))]
    pub service: String,
    /// The hall's local day the appointment is for (`2026-12-02`).
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"), extend("format" = "date"))]
    pub day: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Appointment {
    pub code: String,
    pub hall: String,
    pub service: String,
    pub day: String,
    /// The ticket it was checked in as, once it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TicketState {
    #[default]
    Issued,
    Printed,
    Unconfirmed,
    Void,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Issued => "issued",
            TicketState::Printed => "printed",
            TicketState::Unconfirmed => "unconfirmed",
            TicketState::Void => "void",
        }
    }
    pub fn parse(s: &str) -> TicketState {
        match s {
            "printed" => TicketState::Printed,
            "unconfirmed" => TicketState::Unconfirmed,
            "void" => TicketState::Void,
            _ => TicketState::Issued,
        }
    }
}

/// `POST /api/v1/seal-authorisations`: a terminal asks to make one seal impression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SealAuthorisationRequest {
    pub device_id: String,
    /// A retry after a lost reply carries the same id and gets the same authorisation.
    #[schemars(length(min = 1))]
    pub request_id: String,
    /// Which of the module's seals, from 1.
    #[schemars(range(min = 1))]
    pub seal: u8,
    /// The document the impression goes on.
    #[schemars(regex(pattern = r"^[0-9a-fA-F]{64}$"))]
    pub document_sha256: String,
    /// Why (`application-receipt`, `proof-of-registration` …).
    pub purpose: String,
}

/// A one-time authorisation for one impression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SealAuthorisation {
    pub id: String,
    pub device_id: String,
    pub seal: u8,
    pub document_sha256: String,
    pub purpose: String,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Set once, when the terminal used it; a second use is refused with 409.
    pub consumed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `POST /api/v1/seal-authorisations/{id}/consume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SealConsume {
    pub device_id: String,
}

/// What an operator can ask a terminal to do remotely.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RemoteCommand {
    /// Run one of a device's actions (`receipt` `print-test`, `idcard` `self-test` …).
    DeviceAction {
        device: String,
        action: String,
        #[serde(default)]
        args: serde_json::Value,
    },
    /// Upload the outbox now rather than at the next interval.
    UploadNow,
    /// Send a heartbeat now.
    Heartbeat,
    /// Run every device's self-test (a device a citizen's journey holds is skipped, not
    /// taken) and answer each result.
    SelfTest,
    /// Restart the kiosk: it answers, stops in order, and the service manager starts it again.
    Restart,
    /// A bundle of the terminal's recent journal events and service log, personal data masked,
    /// uploaded as an attachment.
    LogBundle {
        /// How many of the newest journal events (default 500, at most 5000).
        #[serde(default)]
        events: Option<u32>,
    },
    /// A PNG of what the screen shows now, uploaded as an attachment. Refused while a
    /// citizen's session is on screen (it would carry their data out).
    Screenshot,
    /// Set (or, with none, clear) the daily or weekly power schedule.
    SetPowerSchedule {
        #[serde(default)]
        schedule: Option<PowerSchedule>,
    },
    /// Fetch the update bundle the centre holds as `sha256` (`size` bytes, version
    /// `version`), check it against the terminal's pinned publisher keys, and install it at
    /// the first moment allowed: no citizen at the screen and outside `[update]
    /// business_hours`. The kiosk then restarts into it; how it ended comes back as a
    /// `system.update.outcome` event, and the heartbeat's `software` names what runs.
    InstallUpdate {
        version: String,
        #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
        sha256: String,
        size: u64,
    },
}

/// When a terminal is on: `days` (`Mon-Fri`, `Mon-Sun`, `Sat`), switched on at `on` and off at
/// `off` (local `HH:MM`); off the rest of the time, woken by the RTC (`rtcwake`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerSchedule {
    pub days: String,
    pub on: String,
    pub off: String,
}

/// `POST /api/v1/devices/{device_id}/commands`: queue a command for a terminal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// A retried request with the same id queues nothing new.
    #[schemars(length(min = 1))]
    pub request_id: String,
    pub command: RemoteCommand,
    /// How long the command may wait for the terminal: default one day, at most 30 days
    /// (a longer wait is shortened to 30 days).
    #[serde(default)]
    pub expires_in_s: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CommandState {
    /// Waiting for the terminal.
    Queued,
    /// Handed to the terminal, not yet acknowledged.
    Delivered,
    /// Acknowledged as done.
    Done,
    /// Acknowledged as failed (the terminal says why).
    Failed,
    /// Not picked up in time; never runs.
    Expired,
}

/// A terminal's answer to a command. Sent again after a lost reply, it must be the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandAck {
    pub ok: bool,
    #[serde(default)]
    pub result: serde_json::Value,
    #[serde(default)]
    pub detail: String,
}

/// A command as the centre keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueuedCommand {
    pub id: u64,
    pub device_id: String,
    pub command: RemoteCommand,
    pub state: CommandState,
    pub queued_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub acked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ack: Option<CommandAck>,
}

/// `POST /api/v1/enrol`: a terminal proves its one-time code and registers its public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub device_id: String,
    /// The one-time code an operator made for this terminal (`kiosk-central enrol-code`).
    pub code: String,
    /// `ed25519:HEX` (32 bytes) or `sm2:HEX` (the 65-byte uncompressed point).
    #[schemars(regex(pattern = r"^(ed25519:[0-9a-fA-F]{64}|sm2:[0-9a-fA-F]{130})$"))]
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Enrolment {
    pub device_id: String,
    pub key_id: String,
    pub enrolled_at: chrono::DateTime<chrono::Utc>,
}
