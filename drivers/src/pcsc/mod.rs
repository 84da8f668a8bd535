//! Contact and contactless IC cards through PC/SC (pcscd): social-security cards, bank cards.
//! Readers come and go; hot-plug is watched through the PnP pseudo-reader.

pub mod apdu;
pub mod sim;

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use kiosk_hal::actor::{ActionSpec, CommandContext, Device, DeviceInput};
use kiosk_hal::device::{CommandError, DeviceInfo, Health, HealthReport, Progress, SubStatus};
use pcsc::{Context, Protocols, ReaderState, Scope, ShareMode, State};
use serde_json::{json, Value};

use self::apdu::{parse_hex, Command, Response, SSSE_AID};
use crate::{DeviceSpec, DriverError};

pub const DRIVER: &str = "pcsc";
/// `vpcd_port` is read by the sim profile only: the virtual reader slot its card uses.
const OPTIONS: &[&str] = &["reader", "aid", "vpcd_port"];

fn pcsc_error(e: pcsc::Error) -> CommandError {
    use pcsc::Error as E;
    match e {
        E::NoReadersAvailable | E::UnknownReader | E::ReaderUnavailable => {
            CommandError::not_ready(format!("no reader: {e}"))
        }
        E::NoSmartcard | E::RemovedCard => CommandError::new(
            kiosk_hal::CompletionCode::UserError,
            format!("no card: {e}"),
        ),
        E::Timeout => CommandError::timeout(e.to_string()),
        E::Cancelled => CommandError::canceled(),
        E::NoService | E::ServiceStopped => {
            CommandError::not_ready(format!("pcscd is not running: {e}"))
        }
        other => CommandError::hardware(other.to_string()),
    }
}

pub struct PcscReader {
    info: DeviceInfo,
    filter: Option<String>,
    aid: Vec<u8>,
    ctx: Option<Context>,
    reader: Option<CString>,
    card: Option<pcsc::Card>,
    /// The last known state of the watched readers, for change detection.
    states: Vec<ReaderState>,
}

impl PcscReader {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Self, DriverError> {
        let cfg = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(cfg)?;
        let aid = match spec.opt_str("aid").map_err(cfg)? {
            Some(h) => parse_hex(h).map_err(|e| cfg(format!("option `aid`: {e}")))?,
            None => SSSE_AID.to_vec(),
        };
        let mut info = DeviceInfo::new(&spec.id, spec.kind, DRIVER);
        info.transport = format!(
            "pcsc:{}",
            spec.opt_str("reader").map_err(cfg)?.unwrap_or("*")
        );
        Ok(PcscReader {
            info,
            filter: spec.opt_str("reader").map_err(cfg)?.map(str::to_string),
            aid,
            ctx: None,
            reader: None,
            card: None,
            states: Vec::new(),
        })
    }

    fn context(&mut self) -> Result<&Context, CommandError> {
        let valid = self.ctx.as_ref().is_some_and(|c| c.is_valid().is_ok());
        if !valid {
            self.card = None;
            self.states.clear();
            self.ctx = Some(Context::establish(Scope::User).map_err(pcsc_error)?);
        }
        self.ctx
            .as_ref()
            .ok_or_else(|| CommandError::not_ready("no PC/SC context"))
    }

    /// The readers pcscd knows now.
    pub fn readers(&mut self) -> Result<Vec<String>, CommandError> {
        let ctx = self.context()?;
        match ctx.list_readers_owned() {
            Ok(r) => Ok(r
                .into_iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect()),
            Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
            Err(e) => Err(pcsc_error(e)),
        }
    }

    /// The configured reader (the first whose name contains the filter), if attached.
    fn find_reader(&mut self) -> Result<Option<CString>, CommandError> {
        let names = self.readers()?;
        let found = names
            .into_iter()
            .find(|n| self.filter.as_ref().is_none_or(|f| n.contains(f.as_str())))
            .and_then(|n| CString::new(n).ok());
        if found != self.reader {
            self.card = None;
            self.states.clear();
        }
        self.reader = found.clone();
        Ok(found)
    }

    fn card_state(&mut self) -> Result<Option<(bool, Vec<u8>)>, CommandError> {
        let Some(reader) = self.find_reader()? else {
            return Ok(None);
        };
        let ctx = self.context()?;
        let mut rs = [ReaderState::new(reader, State::UNAWARE)];
        ctx.get_status_change(Duration::ZERO, &mut rs)
            .map_err(pcsc_error)?;
        let present = rs[0].event_state().contains(State::PRESENT);
        Ok(Some((present, rs[0].atr().to_vec())))
    }

    fn connect(&mut self) -> Result<&pcsc::Card, CommandError> {
        if self.card.is_none() {
            let reader = self
                .find_reader()?
                .ok_or_else(|| CommandError::not_ready("no matching PC/SC reader attached"))?;
            let card = self
                .context()?
                .connect(&reader, ShareMode::Shared, Protocols::ANY)
                .map_err(pcsc_error)?;
            self.card = Some(card);
        }
        self.card
            .as_ref()
            .ok_or_else(|| CommandError::not_ready("no card connection"))
    }

    /// Runs `f` on the card connection; a dead connection (the card pulled and put back, or
    /// swapped) is dropped and made again once.
    fn on_card<T>(
        &mut self,
        f: impl Fn(&pcsc::Card) -> Result<T, pcsc::Error>,
    ) -> Result<T, CommandError> {
        for attempt in 0..2 {
            let card = self.connect()?;
            match f(card) {
                Ok(v) => return Ok(v),
                Err(pcsc::Error::ResetCard | pcsc::Error::RemovedCard) if attempt == 0 => {
                    self.card = None
                }
                Err(e) => {
                    self.card = None;
                    return Err(pcsc_error(e));
                }
            }
        }
        Err(CommandError::hardware(
            "card connection could not be re-established",
        ))
    }

    /// Sends one APDU.
    pub fn transmit(&mut self, cmd: &[u8]) -> Result<Response, CommandError> {
        let answer = self.on_card(|card| {
            let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
            card.transmit(cmd, &mut buf).map(<[u8]>::to_vec)
        })?;
        Response::parse(&answer).map_err(|e| CommandError::hardware(e.to_string()))
    }

    /// The ATR of the card in the reader now.
    pub fn atr(&mut self) -> Result<Vec<u8>, CommandError> {
        self.on_card(|card| card.status2_owned().map(|s| s.atr().to_vec()))
    }

    /// Selects the configured application (the social-security card's by default).
    pub fn select_application(&mut self) -> Result<Response, CommandError> {
        let cmd = Command::select_aid(&self.aid)
            .encode()
            .map_err(|e| CommandError::invalid(e.to_string()))?;
        let r = self.transmit(&cmd)?;
        if !r.is_ok() {
            return Err(CommandError::new(
                kiosk_hal::CompletionCode::InvalidData,
                format!("SELECT application: {r}"),
            ));
        }
        Ok(r)
    }

    /// The UID of the card on the reader (a staff badge), upper-case hex. A card that gives
    /// none (a contact card, or a reader that does not answer `FF CA`) is `InvalidData`.
    pub fn card_uid(&mut self) -> Result<String, CommandError> {
        let cmd = Command::get_uid()
            .encode()
            .map_err(|e| CommandError::invalid(e.to_string()))?;
        let r = self.transmit(&cmd)?;
        if !r.is_ok() || !(4..=10).contains(&r.data.len()) {
            return Err(CommandError::new(
                kiosk_hal::CompletionCode::InvalidData,
                format!("the card gives no UID: {r}"),
            ));
        }
        Ok(hex::encode_upper(&r.data))
    }

    /// Waits for a card to be inserted into the reader.
    pub fn wait_card(&mut self, ctx: &CommandContext) -> Result<Vec<u8>, CommandError> {
        let deadline = Instant::now() + ctx.timeout;
        ctx.progress.emit(Progress::PlaceCard);
        loop {
            ctx.cancel.check()?;
            if let Some((true, atr)) = self.card_state()? {
                return Ok(atr);
            }
            if Instant::now() >= deadline {
                return Err(CommandError::timeout("no card was inserted"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Blocks up to `budget` for a reader or card change, via the PnP pseudo-reader.
    fn watch(&mut self, budget: Duration) -> Result<Vec<DeviceInput>, CommandError> {
        if self.states.is_empty() {
            let mut s = vec![ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE)];
            if let Some(r) = self.find_reader()? {
                s.push(ReaderState::new(r, State::UNAWARE));
            }
            // Learn the current states without reporting them as changes.
            let ctx = self.context()?;
            ctx.get_status_change(Duration::ZERO, &mut s)
                .map_err(pcsc_error)?;
            for st in &mut s {
                st.sync_current_state();
            }
            self.states = s;
        }
        let mut states = std::mem::take(&mut self.states);
        let res = self.context()?.get_status_change(budget, &mut states);
        match res {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => {
                self.states = states;
                return Ok(Vec::new());
            }
            Err(e) => return Err(pcsc_error(e)),
        }
        let mut out = Vec::new();
        let id = self.info.id.clone();
        for st in &mut states {
            if !st.event_state().contains(State::CHANGED) {
                continue;
            }
            if st.name() == pcsc::PNP_NOTIFICATION() {
                out.push(DeviceInput {
                    device: id.clone(),
                    kind: "readers-changed".into(),
                    data: json!({}),
                });
            } else {
                let was = st.current_state().contains(State::PRESENT);
                let now = st.event_state().contains(State::PRESENT);
                if was != now {
                    if !now {
                        self.card = None;
                    }
                    out.push(DeviceInput {
                        device: id.clone(),
                        kind: "card".into(),
                        data: json!({ "present": now, "atr": hex::encode(st.atr()) }),
                    });
                }
            }
            st.sync_current_state();
        }
        self.states = states;
        // A reader appeared or went away: rebuild the watch list.
        if out.iter().any(|i| i.kind == "readers-changed") {
            self.states.clear();
            self.find_reader()?;
        }
        Ok(out)
    }
}

fn reader_name(r: &Option<CString>) -> String {
    r.as_deref()
        .map(CStr::to_string_lossy)
        .unwrap_or_default()
        .into_owned()
}

impl Device for PcscReader {
    fn info(&self) -> DeviceInfo {
        let mut i = self.info.clone();
        i.model = reader_name(&self.reader);
        i
    }

    fn poll(&mut self) -> HealthReport {
        match self.card_state() {
            Ok(None) => {
                HealthReport::new(Health::NoDevice).with_detail("no matching PC/SC reader attached")
            }
            Ok(Some((present, _))) => {
                let r = HealthReport::new(Health::Online).with_detail(reader_name(&self.reader));
                if present {
                    r.with_sub(SubStatus::CardPresent)
                } else {
                    r
                }
            }
            Err(e) => HealthReport::new(Health::Offline).with_detail(e.detail),
        }
    }

    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        let readers = self.readers()?;
        let state = self.card_state()?;
        Ok(
            json!({ "readers": readers, "selected": reader_name(&self.reader), "card_present": state.map(|s| s.0) }),
        )
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![
            ActionSpec {
                name: "readers",
                summary: "list the PC/SC readers",
                args: &[],
            },
            ActionSpec {
                name: "atr",
                summary: "the inserted card's ATR",
                args: &[],
            },
            ActionSpec {
                name: "select-ssc",
                summary: "select the social-security card application",
                args: &[],
            },
            ActionSpec {
                name: "pcsc-apdu",
                summary: "send one command APDU",
                args: &["apdu=HEX"],
            },
            ActionSpec {
                name: "wait-card",
                summary: "wait for a card to be inserted",
                args: &[],
            },
            ActionSpec {
                name: "card-uid",
                summary: "the UID of the card on the reader (a staff badge)",
                args: &[],
            },
            ActionSpec {
                name: "card-present",
                summary: "whether a card is in or on the reader now",
                args: &[],
            },
        ]
    }

    fn run(
        &mut self,
        action: &str,
        args: &Value,
        ctx: &CommandContext,
    ) -> Result<Value, CommandError> {
        match action {
            "readers" => Ok(json!({ "readers": self.readers()? })),
            "atr" => Ok(json!({ "atr": hex::encode(self.atr()?) })),
            "select-ssc" => {
                let r = self.select_application()?;
                Ok(
                    json!({ "selected": true, "fci": hex::encode(&r.data), "sw": format!("{:04X}", r.sw) }),
                )
            }
            "pcsc-apdu" => {
                let s = args
                    .get("apdu")
                    .and_then(Value::as_str)
                    .ok_or_else(|| CommandError::invalid("needs apdu=HEX"))?;
                let bytes = parse_hex(s).map_err(|e| CommandError::invalid(e.to_string()))?;
                Command::parse(&bytes).map_err(|e| CommandError::invalid(e.to_string()))?;
                let r = self.transmit(&bytes)?;
                Ok(
                    json!({ "data": hex::encode(&r.data), "sw": format!("{:04X}", r.sw), "meaning": r.sw_text() }),
                )
            }
            "wait-card" => Ok(json!({ "atr": hex::encode(self.wait_card(ctx)?) })),
            "card-uid" => Ok(json!({ "uid": self.card_uid()? })),
            "card-present" => Ok(json!({
                "present": self.card_state()?.is_some_and(|(present, _)| present)
            })),
            other => Err(CommandError::unsupported(format!(
                "PC/SC reader has no action {other:?}"
            ))),
        }
    }

    fn produces_input(&self) -> bool {
        true
    }

    /// pcscd keeps the readers' state, so a look at it costs one request and no wait. Four
    /// looks a second see a card come or go in good time, and leave the actor free for
    /// commands in between; blocking on pcscd in 50 ms slices instead cost an idle terminal
    /// about 2 % of a core.
    fn sample_every(&self) -> Option<Duration> {
        Some(Duration::from_millis(250))
    }

    fn take_input(&mut self, budget: Duration) -> Vec<DeviceInput> {
        match self.watch(budget) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(device = %self.info.id, error = %e, "PC/SC watch");
                std::thread::sleep(budget);
                Vec::new()
            }
        }
    }
}
