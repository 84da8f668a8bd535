//! The local device API that browser business systems use (HTTP and WebSocket on loopback):
//! the message envelope in the spirit of XFS4IoT, its statuses and completion codes, and the
//! catalogue of commands with their payloads. The Rust types here are the one schema: the JSON
//! Schema for the TypeScript SDK and the API reference in docs/ are generated from them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest message the gateway reads; larger results travel by one-time URL.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The version of the message model. Commands carry their own version in the header.
pub const GATEWAY_VERSION: &str = "1.0";

/// The scopes a business system's token may carry; each command needs one (or none).
pub const SCOPES: &[&str] = &[
    "idcard.read",
    "idcard.verify",
    "iccard.read",
    "iccard.apdu",
    "scanner.scan",
    "printer.print",
    "camera.capture",
    "seal.stamp",
    "window.desk",
    "window.screen",
];

/// The WebSocket subprotocol a page asks for; its bearer token travels as a second one
/// (`bearer.<token>`), since a browser cannot set headers on a WebSocket.
pub const SUBPROTOCOL: &str = "hallkit.v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MessageType {
    Command,
    Acknowledge,
    Event,
    Completion,
    Unsolicited,
}

/// How a command was taken, sent at once for every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AckStatus {
    /// Accepted: events and exactly one completion follow.
    Ok,
    /// Not a message this service reads (bad JSON, wrong shape, unknown type).
    InvalidMessage,
    /// The requestId is missing, not positive, not above this connection's earlier ones, or in
    /// flight already.
    #[serde(rename = "invalidRequestID")]
    InvalidRequestId,
    /// This connection has as many commands in flight as it may.
    TooManyRequests,
}

/// How a command ended. The XFS4IoT codes, with `deviceBusy` added for a device another
/// owner holds (a citizen's journey on the terminal, another business system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CompletionCode {
    Success,
    /// The command failed in a way its `errorCode` in the payload names.
    CommandErrorCode,
    Canceled,
    DeviceNotReady,
    DeviceBusy,
    HardwareError,
    InternalError,
    InvalidCommand,
    #[serde(rename = "invalidRequestID")]
    InvalidRequestId,
    TimeOut,
    UnsupportedCommand,
    InvalidData,
    UserError,
    UnsupportedData,
    FraudAttempt,
    SequenceError,
    AuthorisationRequired,
}

impl CompletionCode {
    pub const ALL: &'static [CompletionCode] = &[
        CompletionCode::Success,
        CompletionCode::CommandErrorCode,
        CompletionCode::Canceled,
        CompletionCode::DeviceNotReady,
        CompletionCode::DeviceBusy,
        CompletionCode::HardwareError,
        CompletionCode::InternalError,
        CompletionCode::InvalidCommand,
        CompletionCode::InvalidRequestId,
        CompletionCode::TimeOut,
        CompletionCode::UnsupportedCommand,
        CompletionCode::InvalidData,
        CompletionCode::UserError,
        CompletionCode::UnsupportedData,
        CompletionCode::FraudAttempt,
        CompletionCode::SequenceError,
        CompletionCode::AuthorisationRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompletionCode::Success => "success",
            CompletionCode::CommandErrorCode => "commandErrorCode",
            CompletionCode::Canceled => "canceled",
            CompletionCode::DeviceNotReady => "deviceNotReady",
            CompletionCode::DeviceBusy => "deviceBusy",
            CompletionCode::HardwareError => "hardwareError",
            CompletionCode::InternalError => "internalError",
            CompletionCode::InvalidCommand => "invalidCommand",
            CompletionCode::InvalidRequestId => "invalidRequestID",
            CompletionCode::TimeOut => "timeOut",
            CompletionCode::UnsupportedCommand => "unsupportedCommand",
            CompletionCode::InvalidData => "invalidData",
            CompletionCode::UserError => "userError",
            CompletionCode::UnsupportedData => "unsupportedData",
            CompletionCode::FraudAttempt => "fraudAttempt",
            CompletionCode::SequenceError => "sequenceError",
            CompletionCode::AuthorisationRequired => "authorisationRequired",
        }
    }

    /// What a page should tell its user or do, for the API reference.
    pub fn meaning(self) -> &'static str {
        match self {
            CompletionCode::Success => "The command did what it was asked.",
            CompletionCode::CommandErrorCode => {
                "The command failed for a reason of its own; the payload's `errorCode` names it."
            }
            CompletionCode::Canceled => {
                "`Common.Cancel` named it, or its connection closed, before it finished."
            }
            CompletionCode::DeviceNotReady => {
                "The device is missing, offline or out of paper; `Common.Status` says which."
            }
            CompletionCode::DeviceBusy => {
                "Another owner holds the device: a citizen's journey on the terminal, the \
                 technician, or another business system. Try again later; nothing of theirs is \
                 shown."
            }
            CompletionCode::HardwareError => "The device answered with a fault.",
            CompletionCode::InternalError => "The terminal failed; the audit log has the detail.",
            CompletionCode::InvalidCommand => "The command cannot be carried out as given.",
            CompletionCode::InvalidRequestId => "The requestId was refused.",
            CompletionCode::TimeOut => {
                "The header's `timeout` passed before the device finished (no card was placed, no \
                 code shown)."
            }
            CompletionCode::UnsupportedCommand => "No such command on this terminal.",
            CompletionCode::InvalidData => "The payload does not fit the command's schema.",
            CompletionCode::UserError => {
                "The citizen did something the device could not use (the card was pulled away)."
            }
            CompletionCode::UnsupportedData => "The payload asks for something this device lacks.",
            CompletionCode::FraudAttempt => "The device reported a fraud attempt.",
            CompletionCode::SequenceError => "The command came out of order.",
            CompletionCode::AuthorisationRequired => {
                "The business system's token lacks the command's scope, or the action needs the \
                 centre's one-time authorisation."
            }
        }
    }
}

/// The header of every message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Header {
    /// `Service.Command` (`IdCard.Read`), or the event's name (`IdCard.MediaEvent`).
    pub name: String,
    /// Chosen by the client, positive and rising per connection; absent on unsolicited events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "requestId")]
    pub request_id: Option<u64>,
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The command's version; absent means the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Commands: how long the command may take, in milliseconds (default per command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Acknowledgements only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AckStatus>,
    /// Completions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_code: Option<CompletionCode>,
    /// With a status or completion code other than ok/success: why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// One message, either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub header: Header,
    #[serde(default)]
    pub payload: Value,
}

impl Message {
    fn reply(name: &str, request_id: Option<u64>, kind: MessageType, payload: Value) -> Message {
        Message {
            header: Header {
                name: name.to_string(),
                request_id,
                kind,
                version: None,
                timeout: None,
                status: None,
                completion_code: None,
                error_description: None,
            },
            payload,
        }
    }

    pub fn acknowledge(
        name: &str,
        request_id: Option<u64>,
        status: AckStatus,
        why: Option<String>,
    ) -> Message {
        let mut m = Message::reply(name, request_id, MessageType::Acknowledge, Value::Null);
        m.header.status = Some(status);
        m.header.error_description = why;
        m
    }

    pub fn event(name: &str, request_id: u64, payload: Value) -> Message {
        Message::reply(name, Some(request_id), MessageType::Event, payload)
    }

    pub fn unsolicited(name: &str, payload: Value) -> Message {
        Message::reply(name, None, MessageType::Unsolicited, payload)
    }

    pub fn completion(
        name: &str,
        request_id: u64,
        code: CompletionCode,
        why: Option<String>,
        payload: Value,
    ) -> Message {
        let mut m = Message::reply(name, Some(request_id), MessageType::Completion, payload);
        m.header.completion_code = Some(code);
        m.header.error_description = why;
        m
    }
}

/// A command as the gateway takes it from a client.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub name: String,
    pub request_id: u64,
    pub timeout_ms: Option<u64>,
    pub version: Option<String>,
    pub payload: Value,
}

/// Why a message was not taken as a command. `request_id` is what could be read of it, so the
/// acknowledgement can name the request it refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct EnvelopeError {
    pub status: AckStatus,
    pub name: String,
    pub request_id: Option<u64>,
    pub reason: String,
}

/// Reads one client message. Never panics, whatever the bytes.
pub fn parse_command(text: &str) -> Result<Command, EnvelopeError> {
    let refuse = |status, name: &str, request_id, reason: String| EnvelopeError {
        status,
        name: name.to_string(),
        request_id,
        reason,
    };
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(refuse(
            AckStatus::InvalidMessage,
            "",
            None,
            format!("the message is over {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    let raw: Value = serde_json::from_str(text).map_err(|e| {
        refuse(
            AckStatus::InvalidMessage,
            "",
            None,
            format!("not JSON: {e}"),
        )
    })?;
    // What can be read for the acknowledgement, before the shape is checked.
    let name = raw["header"]["name"].as_str().unwrap_or("").to_string();
    let rid = raw["header"]["requestId"].as_u64();
    let msg: Message = serde_json::from_value(raw).map_err(|e| {
        refuse(
            AckStatus::InvalidMessage,
            &name,
            rid,
            format!("not a message: {e}"),
        )
    })?;
    let h = msg.header;
    if h.kind != MessageType::Command {
        return Err(refuse(
            AckStatus::InvalidMessage,
            &name,
            rid,
            "a client sends only commands".into(),
        ));
    }
    if h.status.is_some() || h.completion_code.is_some() {
        return Err(refuse(
            AckStatus::InvalidMessage,
            &name,
            rid,
            "a command carries no status or completion code".into(),
        ));
    }
    let valid_name = h.name.split_once('.').is_some_and(|(s, c)| {
        !s.is_empty()
            && !c.is_empty()
            && h.name.len() <= 64
            && h.name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '.')
    });
    if !valid_name {
        return Err(refuse(
            AckStatus::InvalidMessage,
            &name,
            rid,
            "the name is not Service.Command".into(),
        ));
    }
    let request_id = match h.request_id {
        Some(id) if id > 0 => id,
        _ => {
            return Err(refuse(
                AckStatus::InvalidRequestId,
                &name,
                None,
                "a command needs a positive requestId".into(),
            ))
        }
    };
    if !matches!(msg.payload, Value::Object(_) | Value::Null) {
        return Err(refuse(
            AckStatus::InvalidMessage,
            &name,
            Some(request_id),
            "the payload is an object".into(),
        ));
    }
    Ok(Command {
        name: h.name,
        request_id,
        timeout_ms: h.timeout,
        version: h.version,
        payload: msg.payload,
    })
}

// ---- Payloads -------------------------------------------------------------------------------

/// A payload with nothing in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `Common.Cancel`: the requests to cancel, of this connection; empty cancels all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelPayload {
    #[serde(default)]
    pub request_ids: Vec<u64>,
}

/// `Common.Cancel`'s completion: what was asked to stop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelResult {
    pub canceled: Vec<u64>,
}

/// A service of the terminal and what a token may do with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceInfo {
    /// `IdCard`.
    pub service: String,
    pub commands: Vec<String>,
    /// The devices of the terminal behind it (`idcard`); empty when the terminal has none.
    pub devices: Vec<String>,
    /// Whether this connection's token may use it.
    pub allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicesResult {
    pub terminal: String,
    pub version: String,
    /// The business system the token was issued to.
    pub system: String,
    pub services: Vec<ServiceInfo>,
}

/// One device's state, as `Common.Status` and `Common.StatusChangedEvent` give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceState {
    pub device: String,
    /// `id-card-reader`, `receipt-printer`, …
    pub kind: String,
    /// `online`, `offline`, `hardware-error`, `busy`, …
    pub health: String,
    /// The centre's view: `normal`, `warning`, `fault`, `offline`.
    pub state: String,
    /// Sub-statuses (`paper-low`).
    pub sub: Vec<String>,
    pub detail: String,
    /// Who holds it now, in words (`a citizen's journey`), or absent when free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusResult {
    pub devices: Vec<DeviceState>,
}

/// `IdCard.Read`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdCardReadPayload {
    /// Also hand out the card's photo, by one-time URL.
    #[serde(default)]
    pub photo: bool,
    /// The reader to use; absent means the terminal's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// What the card says. Personal data: sent only to the connection that asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdCardResult {
    /// `resident`, `foreigner-2017`, `foreigner-2023`, `hk-macao-taiwan`.
    pub card_type: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_name: Option<String>,
    /// `male` or `female`.
    pub sex: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nation: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub number: String,
    pub authority: String,
    pub valid_from: String,
    /// `YYYY-MM-DD`, or `long-term`.
    pub valid_to: String,
    /// The card photo (BMP), fetched once within the result lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
}

/// How `IdCard.Verify` checks that the person at the terminal is the card's holder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum VerifyMethod {
    /// The live face at the face camera against the card photo.
    #[default]
    Face,
    /// The live finger against the card's fingerprint block.
    Fingerprint,
}

/// `IdCard.Verify`: read the card, then check the person against it on the terminal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdCardVerifyPayload {
    #[serde(default)]
    pub method: VerifyMethod,
    /// The card reader; absent means the terminal's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// The card and the decision. The face, the finger and the card photo never leave the
/// terminal: only whether they matched and how closely.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdCardVerifyResult {
    pub card: IdCardResult,
    pub method: VerifyMethod,
    /// Whether the person is the card's holder.
    pub matched: bool,
    /// `verified`, `notVerified`, `spoof` (a photo or screen was shown), `noFace`,
    /// `severalFaces`, `noFinger`.
    pub decision: String,
    /// The similarity found (face: cosine; fingerprint: the module's score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// `IdCard.MediaEvent`, `Scanner.MediaEvent`, …: what the device waits for from the citizen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MediaEvent {
    /// `placeCard`, `removeCard`, `holdStill`, `presentCode`, `placeFinger`, `liftFinger`,
    /// `lookAtCamera`, `comeCloser`, `moreLight`, `tooBright`, `onlyOnePerson`, `working`.
    pub prompt: String,
}

/// `IcCard.ReadSocialSecurity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IcCardPayload {
    /// The PC/SC reader; absent means the terminal's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SocialSecurityResult {
    /// The social-security card number (社会保障号码 record of EF05).
    pub number: String,
}

/// `IcCard.Apdu`: command APDUs sent in order to the card, in one claim of the reader.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApduPayload {
    /// Command APDUs, hex (`00A404000F7378312E73682EC9E7BBE1B1A3D5CF`); 1 to 32 of them.
    pub apdus: Vec<String>,
    /// Stop at the first answer whose status word is not 9000 or 61xx.
    #[serde(default = "yes")]
    pub stop_on_error: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// One response APDU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApduAnswer {
    /// The response data, hex.
    pub data: String,
    /// The status word (`9000`).
    pub sw: String,
    /// The status word in words (`success`, `file not found` …).
    pub meaning: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApduResult {
    /// The card's answer to reset, hex.
    pub atr: String,
    /// One per APDU sent (fewer when `stopOnError` stopped early).
    pub answers: Vec<ApduAnswer>,
}

/// `Scanner.Scan`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanResult {
    /// The code as read.
    pub code: String,
    /// `qr`, `ean13`, … when the scanner says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbology: Option<String>,
}

/// `Scanner.Light`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LightPayload {
    pub on: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// One line of a receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptLine {
    pub text: String,
    #[serde(default)]
    pub bold: bool,
    /// Twice the height and width, for a number or a title.
    #[serde(default)]
    pub large: bool,
    #[serde(default)]
    pub center: bool,
}

/// `Printer.PrintReceipt`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrintReceiptPayload {
    pub lines: Vec<ReceiptLine>,
    /// A QR code printed under the lines (a case number, a link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// `Printer.PrintTemplate`: one of the terminal's receipt templates, laid out by the terminal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrintTemplatePayload {
    /// `application-receipt`, `material-list`, `case-progress`, `print-record` or
    /// `queue-ticket`.
    pub template: String,
    /// The template's fields, snake_case as the terminal's templates name them (for
    /// `application-receipt`: `hall`, `case_number`, `query_password`, `service`, `applicant`,
    /// `id_number_masked`, `materials`, `accepted_at`, `promised_by`, and optionally
    /// `query_url`, `pickup`, `note`). A missing or unknown field completes `invalidData`.
    pub fields: serde_json::Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// `Printer.PrintPdf`: an A4 document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrintPdfPayload {
    /// The PDF, base64, within the message limit.
    pub pdf_base64: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrintResult {
    /// The device that printed.
    pub device: String,
    /// `printed`, or how far it came (`partial`).
    pub outcome: String,
}

/// `DocumentCamera.Capture`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapturePayload {
    /// Find the page, straighten it and flatten its light (the document pipeline); otherwise
    /// the camera's still as taken.
    #[serde(default = "yes")]
    pub document: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptureResult {
    /// The picture (`image/jpeg`), fetched once within the result lifetime.
    pub url: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    /// Whether the page was found and straightened (false: the still as taken).
    pub straightened: bool,
}

/// `Window.Status`, `Window.CallNext`: the window unit's desk as the clerk's business system
/// sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowStatusResult {
    /// The window's number (`3`).
    pub window: String,
    pub signed_in: bool,
    /// `open`, `paused` or `closed`.
    pub state: String,
    /// The ticket being served or called (`A012`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The ticket's service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Tickets this window may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<u32>,
    /// What the citizen screen shows: `closed`, `plate`, `called`, `paused`, `cast`,
    /// `confirm`, `sign`, `rating`, `thanks`.
    pub citizen_screen: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<String>,
}

/// One line the citizen is asked to confirm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmLineItem {
    /// As the citizen reads it (`申请事项`). Not one the screen shows already from the card and
    /// the ticket (姓名, 证件号码, 办理事项, 窗口, 办件编号).
    pub label: String,
    pub value: String,
}

/// `Window.Confirm`: the citizen screen shows the card's facts and these lines, and asks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowConfirmPayload {
    #[serde(default)]
    pub lines: Vec<ConfirmLineItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowConfirmResult {
    /// The citizen touched "correct" (true) or "not correct" (false).
    pub confirmed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowSignResult {
    /// The signature (`image/png`, 1000 px wide), fetched once within the result lifetime.
    /// The terminal keeps it sealed with the ticket as well.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowRateResult {
    /// The citizen rated (the rating itself goes to the centre with the ticket).
    pub rated: bool,
}

/// `Seal.Stamp`: one impression on the paper in the seal module, under the centre's one-time
/// authorisation for this document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StampPayload {
    /// Which seal of the module (1 to 8).
    pub seal: u8,
    /// Where on the page, in the module's units (0.1 mm from the top left).
    pub x: u16,
    pub y: u16,
    /// The document being sealed (base64): the centre authorises this document's SHA-256.
    pub document_base64: String,
    /// Why, for the centre's record (`证明盖章`).
    pub purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StampResult {
    pub device: String,
    /// The output's id in the terminal's journal (intent and result recorded).
    pub output_id: String,
}

/// `DocumentCamera.Preview`: the plate live, until canceled, the stream is closed, or
/// `seconds` pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewPayload {
    /// How long at most (1 to 300; default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    /// Frames a second (1 to 10; default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// `DocumentCamera.PreviewEvent`: where the live picture is, as soon as it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewEvent {
    /// An MJPEG stream (`multipart/x-mixed-replace`) an `<img>` shows as is; one fetch.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewResult {
    /// Frames sent.
    pub frames: u32,
    /// `canceled` (the page stopped it), `closed` (the stream was closed), `time` (`seconds`
    /// passed), `unfetched` (nobody opened the URL in time).
    pub ended: String,
}

/// A command of the catalogue, for discovery, the SDK and the reference.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub name: &'static str,
    /// The token scope it needs (`idcard.read`); `None` for what every token may do.
    pub scope: Option<&'static str>,
    pub summary: &'static str,
    /// Milliseconds when the header gives no timeout.
    pub default_timeout_ms: u64,
    /// Names of the `$defs` of its payload and its completion's payload.
    pub payload: &'static str,
    pub result: &'static str,
    /// The events it may send before its completion.
    pub events: &'static [&'static str],
    /// Whether its completion carries personal data.
    pub personal: bool,
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "Common.GetServices",
        scope: None,
        summary: "The terminal's services, their devices and what this token may use.",
        default_timeout_ms: 5_000,
        payload: "Empty",
        result: "ServicesResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "Common.Status",
        scope: None,
        summary: "Every device's health, sub-status and whether someone holds it.",
        default_timeout_ms: 5_000,
        payload: "Empty",
        result: "StatusResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "Common.Cancel",
        scope: None,
        summary: "Cancels this connection's requests (all of them when the list is empty).",
        default_timeout_ms: 5_000,
        payload: "CancelPayload",
        result: "CancelResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "IdCard.Read",
        scope: Some("idcard.read"),
        summary: "Waits for an ID card on the reader and reads it (with its photo on request).",
        default_timeout_ms: 30_000,
        payload: "IdCardReadPayload",
        result: "IdCardResult",
        events: &["IdCard.MediaEvent"],
        personal: true,
    },
    CommandSpec {
        name: "IdCard.Verify",
        scope: Some("idcard.verify"),
        summary: "Reads the ID card, then checks the person's face or finger against it on the \
                  terminal; only the decision and the score leave it.",
        default_timeout_ms: 60_000,
        payload: "IdCardVerifyPayload",
        result: "IdCardVerifyResult",
        events: &["IdCard.MediaEvent"],
        personal: true,
    },
    CommandSpec {
        name: "IcCard.ReadSocialSecurity",
        scope: Some("iccard.read"),
        summary: "Waits for the citizen's social-security card in the PC/SC reader and reads \
                  its number.",
        default_timeout_ms: 30_000,
        payload: "IcCardPayload",
        result: "SocialSecurityResult",
        events: &["IcCard.MediaEvent"],
        personal: true,
    },
    CommandSpec {
        name: "IcCard.Apdu",
        scope: Some("iccard.apdu"),
        summary: "Waits for a card in the PC/SC reader and sends it command APDUs in order.",
        default_timeout_ms: 30_000,
        payload: "ApduPayload",
        result: "ApduResult",
        events: &["IcCard.MediaEvent"],
        personal: true,
    },
    CommandSpec {
        name: "Scanner.Scan",
        scope: Some("scanner.scan"),
        summary: "Waits for the citizen to show a code (an e-ID, a QR code) and reads it.",
        default_timeout_ms: 30_000,
        payload: "ScanPayload",
        result: "ScanResult",
        events: &["Scanner.MediaEvent"],
        personal: true,
    },
    CommandSpec {
        name: "Scanner.Light",
        scope: Some("scanner.scan"),
        summary: "Switches the scanner's illumination on or off (the model's configured commands).",
        default_timeout_ms: 5_000,
        payload: "LightPayload",
        result: "Empty",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "Printer.PrintReceipt",
        scope: Some("printer.print"),
        summary: "Prints lines (and a QR code) on the receipt printer, then cuts.",
        default_timeout_ms: 30_000,
        payload: "PrintReceiptPayload",
        result: "PrintResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "Printer.PrintTemplate",
        scope: Some("printer.print"),
        summary: "Prints one of the terminal's receipt templates (application receipt, material \
                  list, case progress …) from its fields.",
        default_timeout_ms: 30_000,
        payload: "PrintTemplatePayload",
        result: "PrintResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "Printer.PrintPdf",
        scope: Some("printer.print"),
        summary: "Prints an A4 PDF on the A4 printer.",
        default_timeout_ms: 120_000,
        payload: "PrintPdfPayload",
        result: "PrintResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "Seal.Stamp",
        scope: Some("seal.stamp"),
        summary: "Makes one seal impression, only under the centre's one-time authorisation for \
                  the document (asked by the terminal, consumed at once).",
        default_timeout_ms: 60_000,
        payload: "StampPayload",
        result: "StampResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "DocumentCamera.Capture",
        scope: Some("camera.capture"),
        summary: "Photographs the material on the document camera, straightened as a page.",
        default_timeout_ms: 30_000,
        payload: "CapturePayload",
        result: "CaptureResult",
        events: &["DocumentCamera.MediaEvent"],
        personal: true,
    },
    CommandSpec {
        name: "Window.Status",
        scope: Some("window.desk"),
        summary: "The window unit's desk: who is signed in, the ticket, the waiting count, \
                  what the citizen screen shows.",
        default_timeout_ms: 5_000,
        payload: "Empty",
        result: "WindowStatusResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "Window.CallNext",
        scope: Some("window.desk"),
        summary: "Calls the next ticket through the hall's queue, as the toolbar's 叫号 does.",
        default_timeout_ms: 10_000,
        payload: "Empty",
        result: "WindowStatusResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "Window.Confirm",
        scope: Some("window.screen"),
        summary: "Asks the citizen at the window to confirm the card's facts and the page's \
                  lines on the citizen screen; completes with the answer.",
        default_timeout_ms: 120_000,
        payload: "WindowConfirmPayload",
        result: "WindowConfirmResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "Window.Sign",
        scope: Some("window.screen"),
        summary: "Asks the citizen to sign on the citizen screen; completes with the signature \
                  by one-time URL.",
        default_timeout_ms: 180_000,
        payload: "Empty",
        result: "WindowSignResult",
        events: &[],
        personal: true,
    },
    CommandSpec {
        name: "Window.Rate",
        scope: Some("window.screen"),
        summary: "Asks the citizen to rate the service on the citizen screen.",
        default_timeout_ms: 120_000,
        payload: "Empty",
        result: "WindowRateResult",
        events: &[],
        personal: false,
    },
    CommandSpec {
        name: "DocumentCamera.Preview",
        scope: Some("camera.capture"),
        summary: "Shows the document camera's plate live (MJPEG by one-time URL, in a \
                  PreviewEvent) until canceled, closed or timed; then completes.",
        default_timeout_ms: 310_000,
        payload: "PreviewPayload",
        result: "PreviewResult",
        events: &["DocumentCamera.PreviewEvent"],
        personal: true,
    },
];

/// Unsolicited events, sent to every connection.
pub const UNSOLICITED: &[(&str, &str, &str)] = &[(
    "Common.StatusChangedEvent",
    "DeviceState",
    "A device's health changed.",
)];

/// The payload of a command's events: the preview's URL, or the device's prompt.
pub fn event_payload(c: &CommandSpec) -> Option<&'static str> {
    match c.events {
        [] => None,
        [e] if e.ends_with(".PreviewEvent") => Some("PreviewEvent"),
        _ => Some("MediaEvent"),
    }
}

pub fn command(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// The JSON Schema of the whole API: the envelope, every payload, and the catalogue of
/// commands (`x-commands`) that the SDK and the reference are generated from.
pub fn schema_document() -> Value {
    use schemars::generate::SchemaSettings;
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let mut defs = serde_json::Map::new();
    macro_rules! def {
        ($($t:ty),* $(,)?) => {$(
            let s = generator.subschema_for::<$t>();
            let _ = s;
        )*};
    }
    def!(
        Message,
        Empty,
        CancelPayload,
        CancelResult,
        ServicesResult,
        StatusResult,
        DeviceState,
        IdCardReadPayload,
        IdCardResult,
        IdCardVerifyPayload,
        IdCardVerifyResult,
        MediaEvent,
        IcCardPayload,
        SocialSecurityResult,
        ApduPayload,
        ApduResult,
        ScanPayload,
        ScanResult,
        LightPayload,
        PrintReceiptPayload,
        PrintPdfPayload,
        PrintTemplatePayload,
        PrintResult,
        CapturePayload,
        CaptureResult,
        StampPayload,
        StampResult,
        PreviewPayload,
        PreviewEvent,
        PreviewResult,
        WindowStatusResult,
        WindowConfirmPayload,
        WindowConfirmResult,
        WindowSignResult,
        WindowRateResult,
        CompletionCode,
        AckStatus,
    );
    for (k, v) in generator.take_definitions(true) {
        defs.insert(k, v);
    }
    let commands: Vec<Value> = COMMANDS
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "scope": c.scope,
                "summary": c.summary,
                "defaultTimeoutMs": c.default_timeout_ms,
                "payload": c.payload,
                "result": c.result,
                "events": c.events,
                "eventPayload": event_payload(c),
                "personal": c.personal,
            })
        })
        .collect();
    let unsolicited: Vec<Value> = UNSOLICITED
        .iter()
        .map(|(n, p, s)| serde_json::json!({ "name": n, "payload": p, "summary": s }))
        .collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://hallkit.invalid/schema/gateway/v1",
        "title": "HallKit local device API",
        "version": GATEWAY_VERSION,
        "$defs": defs,
        "x-commands": commands,
        "x-unsolicited": unsolicited,
    })
}

/// The API reference (docs/GATEWAY-API.md), generated from the same schema as the SDK.
pub fn reference_markdown() -> String {
    use std::fmt::Write as _;
    let doc = schema_document();
    let defs = &doc["$defs"];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HallKit local device API reference (v{GATEWAY_VERSION})\n\n\
         Generated from `protocol/src/gateway.rs` (`UPDATE_SCHEMA=1 cargo test -p kiosk-protocol \
         gateway`); the same schema makes the SDK's types (`sdk/js/schema/gateway.schema.json`). \
         How to deploy, secure and call it: [GATEWAY.md](GATEWAY.md).\n\n\
         ## Messages\n\n\
         Every message is `{{ header, payload }}`. A page sends `type: \"command\"` with a \
         `requestId` that is positive and higher than its earlier ones on the connection; the \
         terminal answers at once with an `acknowledge`, then zero or more `event`s carrying the \
         same `requestId`, then exactly one `completion`. `unsolicited` events carry no \
         `requestId`. A message is at most {MAX_MESSAGE_BYTES} bytes; photos and pages travel \
         by one-time URL.\n"
    );
    let _ = writeln!(out, "| header field | |\n|---|---|");
    for (k, v) in defs["Header"]["properties"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let _ = writeln!(out, "| `{k}` | {} |", one_line(&v["description"]));
    }
    let _ = writeln!(
        out,
        "\n## Acknowledge statuses\n\n| status | meaning |\n|---|---|"
    );
    for (name, meaning) in [
        ("ok", "Accepted: events and exactly one completion follow."),
        ("invalidMessage", "Not a message this service reads (bad JSON, wrong shape, not a command)."),
        ("invalidRequestID", "The requestId is missing, not positive, not above the connection's earlier ones, or in flight."),
        ("tooManyRequests", "The connection has as many device commands in flight as it may (`Common.*` always get through)."),
    ] {
        let _ = writeln!(out, "| `{name}` | {meaning} |");
    }
    let _ = writeln!(
        out,
        "\n## Completion codes\n\n| code | meaning |\n|---|---|"
    );
    for c in CompletionCode::ALL {
        let _ = writeln!(out, "| `{}` | {} |", c.as_str(), c.meaning());
    }
    let _ = writeln!(out, "\n## Commands\n");
    for c in COMMANDS {
        let _ = writeln!(out, "### `{}`\n\n{}\n", c.name, c.summary);
        let _ = writeln!(
            out,
            "Scope: {}. Default timeout: {} ms.{}{}\n",
            c.scope
                .map_or("none (every token)".to_string(), |s| format!("`{s}`")),
            c.default_timeout_ms,
            if c.events.is_empty() {
                String::new()
            } else {
                format!(
                    " Events: {} (payload `MediaEvent`).",
                    c.events
                        .iter()
                        .map(|e| format!("`{e}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            if c.personal {
                " Its completion carries personal data: it goes only to the connection that asked."
            } else {
                ""
            }
        );
        fields(&mut out, defs, c.payload, "Payload");
        fields(&mut out, defs, c.result, "Completion payload");
    }
    let _ = writeln!(out, "## Unsolicited events\n");
    for (name, payload, summary) in UNSOLICITED {
        let _ = writeln!(out, "### `{name}`\n\n{summary}\n");
        fields(&mut out, defs, payload, "Payload");
    }
    let _ = writeln!(out, "## Shared types\n");
    for t in [
        "MediaEvent",
        "PreviewEvent",
        "DeviceState",
        "ServiceInfo",
        "ReceiptLine",
    ] {
        fields(&mut out, defs, t, &format!("`{t}`"));
    }
    out
}

fn one_line(v: &Value) -> String {
    v.as_str().unwrap_or("").replace('\n', " ")
}

/// The type of a property, in words (`string`, `array of ReceiptLine`, `integer or null`).
fn type_words(v: &Value) -> String {
    if let Some(r) = v["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    if let Some(any) = v["anyOf"].as_array() {
        return any.iter().map(type_words).collect::<Vec<_>>().join(" or ");
    }
    match &v["type"] {
        Value::String(t) if t == "array" => format!("array of {}", type_words(&v["items"])),
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    }
}

fn fields(out: &mut String, defs: &Value, name: &str, title: &str) {
    use std::fmt::Write as _;
    let def = &defs[name];
    let props = def["properties"].as_object();
    if props.is_none_or(|p| p.is_empty()) {
        let _ = writeln!(out, "{title} (`{name}`): empty object.\n");
        return;
    }
    let required: Vec<&str> = def["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{title} (`{name}`):\n\n| field | type | required | |\n|---|---|---|---|"
    );
    for (k, v) in props.into_iter().flatten() {
        let _ = writeln!(
            out,
            "| `{k}` | {} | {} | {} |",
            type_words(v),
            if required.contains(&k.as_str()) {
                "yes"
            } else {
                "no"
            },
            one_line(&v["description"])
        );
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_command_is_read_and_everything_else_is_refused_with_its_status() {
        let ok = json!({"header": {"name": "IdCard.Read", "requestId": 3, "type": "command",
            "timeout": 5000}, "payload": {"photo": true}});
        let c = parse_command(&ok.to_string()).unwrap();
        assert_eq!(c.name, "IdCard.Read");
        assert_eq!(c.request_id, 3);
        assert_eq!(c.timeout_ms, Some(5000));
        assert_eq!(c.payload["photo"], true);

        let cases = [
            ("{", AckStatus::InvalidMessage, None),
            ("[]", AckStatus::InvalidMessage, None),
            (
                r#"{"header":{"name":"IdCard.Read","requestId":4,"type":"completion"}}"#,
                AckStatus::InvalidMessage,
                Some(4),
            ),
            (
                r#"{"header":{"name":"IdCard.Read","type":"command"}}"#,
                AckStatus::InvalidRequestId,
                None,
            ),
            (
                r#"{"header":{"name":"IdCard.Read","requestId":0,"type":"command"}}"#,
                AckStatus::InvalidRequestId,
                None,
            ),
            (
                r#"{"header":{"name":"Read","requestId":5,"type":"command"}}"#,
                AckStatus::InvalidMessage,
                Some(5),
            ),
            (
                r#"{"header":{"name":"A.B","requestId":6,"type":"command"},"payload":[1]}"#,
                AckStatus::InvalidMessage,
                Some(6),
            ),
            (
                r#"{"header":{"name":"A.B","requestId":7,"type":"command","extra":1}}"#,
                AckStatus::InvalidMessage,
                Some(7),
            ),
            (
                r#"{"header":{"name":"A.B","requestId":8,"type":"command","status":"ok"}}"#,
                AckStatus::InvalidMessage,
                Some(8),
            ),
        ];
        for (text, status, rid) in cases {
            let e = parse_command(text).unwrap_err();
            assert_eq!(e.status, status, "{text}: {e}");
            assert_eq!(e.request_id, rid, "{text}");
            assert!(!e.reason.is_empty());
        }
        let big = format!(
            r#"{{"header":{{"name":"A.B","requestId":1,"type":"command"}},"payload":{{"x":"{}"}}}}"#,
            "a".repeat(MAX_MESSAGE_BYTES)
        );
        assert_eq!(
            parse_command(&big).unwrap_err().status,
            AckStatus::InvalidMessage
        );
    }

    #[test]
    fn replies_serialise_in_the_xfs_spelling() {
        let m = Message::completion(
            "IdCard.Read",
            9,
            CompletionCode::InvalidRequestId,
            Some("x".into()),
            json!({}),
        );
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["header"]["completionCode"], "invalidRequestID");
        assert_eq!(v["header"]["requestId"], 9);
        assert_eq!(v["header"]["type"], "completion");
        assert_eq!(v["header"]["errorDescription"], "x");
        let a = Message::acknowledge("A.B", Some(1), AckStatus::TooManyRequests, None);
        assert_eq!(
            serde_json::to_value(&a).unwrap()["header"]["status"],
            "tooManyRequests"
        );
        for c in CompletionCode::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
            assert!(!c.meaning().is_empty());
        }
    }

    #[test]
    fn every_command_names_schemas_the_document_defines() {
        let doc = schema_document();
        let defs = doc["$defs"].as_object().unwrap();
        for c in COMMANDS {
            assert!(c.scope.is_none_or(|s| SCOPES.contains(&s)), "{}", c.name);
            assert!(defs.contains_key(c.payload), "{}: {}", c.name, c.payload);
            assert!(defs.contains_key(c.result), "{}: {}", c.name, c.result);
            assert!(c.default_timeout_ms > 0);
        }
        for (_, p, _) in UNSOLICITED {
            assert!(defs.contains_key(*p));
        }
        assert!(defs.contains_key("MediaEvent"));
    }

    #[test]
    fn the_sdk_schema_is_in_sync() {
        let text = serde_json::to_string_pretty(&schema_document()).unwrap() + "\n";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../sdk/js/schema/gateway.schema.json");
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        assert!(
            std::fs::read_to_string(&path).unwrap_or_default() == text,
            "sdk/js/schema/gateway.schema.json is out of date; run UPDATE_SCHEMA=1 cargo test -p kiosk-protocol gateway"
        );
        let reference = reference_markdown();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/GATEWAY-API.md");
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &reference).unwrap();
        }
        assert!(
            std::fs::read_to_string(&path).unwrap_or_default() == reference,
            "docs/GATEWAY-API.md is out of date; run UPDATE_SCHEMA=1 cargo test -p kiosk-protocol gateway"
        );
        for c in COMMANDS {
            assert!(reference.contains(&format!("### `{}`", c.name)));
        }
        for c in CompletionCode::ALL {
            assert!(reference.contains(&format!("| `{}` |", c.as_str())));
        }
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]
            #[test]
            fn any_text_is_read_or_refused_without_panic(s in ".{0,400}") {
                let _ = parse_command(&s);
            }

            #[test]
            fn near_miss_envelopes_never_panic(
                name in "[A-Za-z.]{0,20}",
                rid in proptest::option::of(any::<i64>()),
                kind in "(command|event|completion|acknowledge|x)",
                timeout in proptest::option::of(any::<i64>()),
                payload in prop_oneof![Just("null".to_string()), Just("{}".to_string()), Just("[]".to_string()), "\"[a-z]{0,5}\""],
            ) {
                let rid = rid.map_or("null".into(), |r| r.to_string());
                let timeout = timeout.map_or("null".into(), |t| t.to_string());
                let text = format!(r#"{{"header":{{"name":"{name}","requestId":{rid},"type":"{kind}","timeout":{timeout}}},"payload":{payload}}}"#);
                if let Ok(c) = parse_command(&text) {
                    prop_assert!(c.request_id > 0);
                    prop_assert!(c.name.contains('.'));
                }
            }
        }
    }
}
