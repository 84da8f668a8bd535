//! The running devices: the device table (real or simulated), each device on its own actor
//! thread, the event bus, and the claims through which every device call goes.

pub mod bus;
pub mod claims;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk_drivers::registry::find_driver;
use kiosk_drivers::{DeviceSpec, DriverError, SimControl, SimEnv};
use kiosk_hal::actor::{ActionSpec, CommandContext, Device, DeviceHandle, DeviceInput};
use kiosk_hal::clock::SharedClock;
use kiosk_hal::device::{CommandError, CompletionCode, DeviceInfo, Health, HealthReport};
use kiosk_protocol::{Disposition, Event, EventKind};
use serde::Serialize;
use serde_json::Value;

pub use bus::EventBus;
pub use claims::{CallError, Claim, ClaimError, ClaimTable, Owner};

use crate::config::{Config, Profile};

/// One device of the table, running. Its actor is reached only through [`Runtime::call`] with
/// a claim; what anyone may read without one is its health, info and actions.
pub struct ManagedDevice {
    pub spec: DeviceSpec,
    handle: DeviceHandle,
    /// The simulator behind it, in the sim profile.
    pub sim: Option<Arc<dyn SimControl>>,
}

impl ManagedDevice {
    pub fn health(&self) -> HealthReport {
        self.handle.health()
    }

    pub fn info(&self) -> DeviceInfo {
        self.handle.info()
    }

    pub fn actions(&self) -> &[ActionSpec] {
        self.handle.actions()
    }

    /// Polls the device's health now. A health poll is the runtime's own watch, not a command
    /// of an owner, so it needs no claim.
    pub fn poll_now(&self) -> Result<HealthReport, CommandError> {
        self.handle.poll_now()
    }
}

/// What the device-status screen and the centre's report need of one device.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeviceStatus {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub driver: String,
    pub transport: String,
    pub health: Health,
    pub centre_state: kiosk_hal::CentreState,
    pub sub: Vec<kiosk_hal::SubStatus>,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("simulator directory: {0}")]
    SimDir(std::io::Error),
    #[error("no device {0:?} in the device table")]
    UnknownDevice(String),
}

pub struct Runtime {
    pub profile: Profile,
    /// Usage per device action (`idcard.read-card`), for the heartbeat.
    counters: Mutex<std::collections::BTreeMap<String, u64>>,
    pub devices: Vec<ManagedDevice>,
    pub events: EventBus,
    claims: Arc<ClaimTable>,
    clock: SharedClock,
    watchers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// The simulators' folder and private servers (cupsd); dropped at shutdown.
    sim_env: Mutex<Option<SimEnv>>,
}

/// Stands in for a device whose driver cannot run in this build or on this machine, so the
/// terminal still starts and the device-status screen says why.
struct UnavailableDevice {
    info: DeviceInfo,
    why: String,
}

impl Device for UnavailableDevice {
    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }
    fn poll(&mut self) -> HealthReport {
        HealthReport::new(Health::HardwareError).with_detail(self.why.clone())
    }
    fn self_test(&mut self, _ctx: &CommandContext) -> Result<Value, CommandError> {
        Err(CommandError::not_ready(self.why.clone()))
    }
    fn actions(&self) -> Vec<ActionSpec> {
        Vec::new()
    }
    fn run(&mut self, _a: &str, _v: &Value, _c: &CommandContext) -> Result<Value, CommandError> {
        Err(CommandError::not_ready(self.why.clone()))
    }
}

impl Runtime {
    /// Starts every device of the table in `profile`. A device that cannot run (a driver left
    /// out of this build) is shown as a hardware error; a config error stops the start.
    pub fn start(
        config: &Config,
        profile: Profile,
        clock: SharedClock,
    ) -> Result<Runtime, RuntimeError> {
        let sim_env = match profile {
            Profile::Sim => Some(
                SimEnv::new(
                    config
                        .data_dir()
                        .join(format!("sim-{}", std::process::id())),
                )
                .map_err(RuntimeError::SimDir)?,
            ),
            Profile::Hardware => None,
        };
        let poll = Duration::from_millis(config.terminal.poll_interval_ms);
        let events = EventBus::new(clock.clone());
        let mut devices = Vec::new();
        for spec in &config.devices {
            let entry = find_driver(&spec.driver).ok_or_else(|| {
                DriverError::config(spec, format!("unknown driver {}", spec.driver))
            })?;
            let made = match &sim_env {
                Some(env) => {
                    (entry.simulate)(spec, env, clock.clone()).map(|s| (s.device, Some(s.control)))
                }
                None => (entry.open)(spec, clock.clone()).map(|d| (d, None)),
            };
            let (device, sim): (Box<dyn Device>, _) = match made {
                Ok(pair) => pair,
                Err(DriverError::Unavailable { why, .. }) => {
                    tracing::error!(device = %spec.id, %why, "driver unavailable");
                    let mut info = DeviceInfo::new(&spec.id, spec.kind, &spec.driver);
                    info.transport = spec.path.clone().unwrap_or_default();
                    (
                        Box::new(UnavailableDevice { info, why }) as Box<dyn Device>,
                        None,
                    )
                }
                Err(e) => return Err(e.into()),
            };
            devices.push(ManagedDevice {
                spec: spec.clone(),
                handle: DeviceHandle::spawn(device, poll),
                sim,
            });
        }
        let claims = ClaimTable::new(
            devices.iter().map(|d| d.spec.id.clone()).collect(),
            clock.clone(),
            events.clone(),
        );
        let rt = Runtime {
            profile,
            counters: Default::default(),
            devices,
            events,
            claims,
            clock,
            watchers: Mutex::new(Vec::new()),
            stop: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            sim_env: Mutex::new(sim_env),
        };
        rt.watch_devices();
        Ok(rt)
    }

    /// Turns health changes and device input into catalogue events.
    fn watch_devices(&self) {
        for d in &self.devices {
            let id = d.spec.id.clone();
            let mut health = d.handle.health_watch().subscribe();
            let mut inputs = d.handle.subscribe_input();
            let bus = self.events.clone();
            let stop = self.stop.clone();
            let t = std::thread::Builder::new()
                .name(format!("watch-{id}"))
                .spawn(move || {
                    let mut last = health.borrow_and_update().clone();
                    while !stop.load(Ordering::Relaxed) {
                        if health.has_changed().unwrap_or(false) {
                            let now = health.borrow_and_update().clone();
                            if now != last {
                                bus.emit(
                                    Event::new(EventKind::DeviceHealthChanged, bus.now())
                                        .device(&id)
                                        .field("from", last.health.as_str())
                                        .field("to", now.health.as_str())
                                        .field("centre_state", now.centre_state().as_str())
                                        .field("detail", now.detail.clone()),
                                );
                                last = now;
                            }
                        }
                        loop {
                            match inputs.try_recv() {
                                Ok(input) => bus.emit(input_event(&bus, &input)),
                                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                                    tracing::warn!(device = %id, missed = n, "input events lagged");
                                }
                                Err(_) => break,
                            }
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                });
            if let Ok(t) = t {
                self.watchers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(t);
            }
        }
    }

    pub fn device(&self, id: &str) -> Result<&ManagedDevice, RuntimeError> {
        self.devices
            .iter()
            .find(|d| d.spec.id == id)
            .ok_or_else(|| RuntimeError::UnknownDevice(id.to_string()))
    }

    /// Takes `device` for `owner` (see [`claims`]): `lease` on the terminal's clock, waiting up
    /// to `wait` for another holder to let go.
    pub fn claim(
        &self,
        device: &str,
        owner: Owner,
        lease: Duration,
        wait: Duration,
    ) -> Result<Claim, ClaimError> {
        self.claims.claim(device, owner, lease, wait)
    }

    /// Who holds `device` now.
    pub fn holder(&self, device: &str) -> Option<Owner> {
        self.claims.holder(device)
    }

    /// Runs an action on the claimed device and records it as an init/complete event pair.
    pub fn call(
        &self,
        claim: &Claim,
        action: &str,
        args: Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        self.call_with(claim, action, args, CommandContext::with_timeout(timeout))
    }

    /// As [`Runtime::call`], with the caller's cancellation and progress.
    pub fn call_with(
        &self,
        claim: &Claim,
        action: &str,
        args: Value,
        ctx: CommandContext,
    ) -> Result<Value, CallError> {
        let (id, dev) = self.held(claim)?;
        let corr = self.events.next_correlation();
        self.events
            .emit(Event::action_init(id, action, corr, self.clock.now()));
        let result = dev.handle.call(action, args, ctx);
        if result.is_ok() {
            *self
                .counters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(format!("{id}.{action}"))
                .or_default() += 1;
        }
        let disposition = match &result {
            Ok(_) => Disposition::Success,
            Err(e) if e.code == CompletionCode::Canceled => Disposition::Canceled,
            Err(e) if e.code == CompletionCode::Timeout => Disposition::TimedOut,
            Err(e) => Disposition::Failed {
                code: e.code.as_str().into(),
                detail: e.detail.clone(),
            },
        };
        self.events.emit(Event::action_complete(
            id,
            action,
            corr,
            disposition,
            self.clock.now(),
        ));
        Ok(result?)
    }

    /// As [`Runtime::call`] without the init/complete record, for reads that are neither an
    /// output nor worth an audit line each (a camera's preview frames, many a second).
    pub fn call_unrecorded(
        &self,
        claim: &Claim,
        action: &str,
        args: Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        let (_, dev) = self.held(claim)?;
        Ok(dev
            .handle
            .call(action, args, CommandContext::with_timeout(timeout))?)
    }

    /// The device `claim` is for, once the claim is checked to be still held.
    fn held<'c>(&self, claim: &'c Claim) -> Result<(&'c str, &ManagedDevice), CallError> {
        let id = claim.device();
        let dev = self
            .device(id)
            .map_err(|_| CallError::UnknownDevice(id.to_string()))?;
        self.claims.check(claim, id)?;
        Ok((id, dev))
    }

    /// The first device of `kind`, if the table has one.
    pub fn first_of(&self, kind: kiosk_hal::DeviceKind) -> Option<&ManagedDevice> {
        self.devices.iter().find(|d| d.spec.kind == kind)
    }

    pub fn snapshot(&self) -> Vec<DeviceStatus> {
        self.devices
            .iter()
            .map(|d| {
                let h = d.handle.health();
                let info = d.handle.info();
                DeviceStatus {
                    id: d.spec.id.clone(),
                    name: d.spec.display_name().to_string(),
                    kind: d.spec.kind.to_string(),
                    driver: d.spec.driver.clone(),
                    transport: info.transport,
                    health: h.health,
                    centre_state: h.centre_state(),
                    sub: h.sub.clone(),
                    detail: h.detail.clone(),
                }
            })
            .collect()
    }

    /// The heartbeat the centre's monitoring expects: every peripheral in the 4-state form,
    /// usage counters, and the outbox's depth.
    pub fn heartbeat(
        &self,
        terminal: &str,
        pending: u64,
        dead: u64,
    ) -> kiosk_protocol::wire::Heartbeat {
        kiosk_protocol::wire::Heartbeat {
            device_id: terminal.to_string(),
            at: self.clock.now(),
            peripherals: self
                .snapshot()
                .into_iter()
                .map(|d| kiosk_protocol::wire::PeripheralReport {
                    id: d.id,
                    kind: d.kind,
                    state: d.centre_state.as_str().into(),
                    health: d.health.as_str().into(),
                    detail: d.detail,
                })
                .collect(),
            queue_pending: pending,
            queue_dead: dead,
            counters: self
                .counters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            audit_head: None,
            documents: Default::default(),
            software: Some(crate::update::running_version()),
        }
    }

    /// Counts one use of a citizen-facing function (`users`, `tickets`, `queries`,
    /// `applications`, `prints`): the heartbeat reports them as `usage.<function>` beside the
    /// device actions, as the tenders' 「查询、办理、打印」 and 「用户量」 statistics ask.
    pub fn count_use(&self, function: &str) {
        *self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(format!("usage.{function}"))
            .or_default() += 1;
    }

    /// Polls every device once now (instead of waiting for the idle poll).
    pub fn poll_all(&self) {
        for d in &self.devices {
            if let Err(e) = d.handle.poll_now() {
                tracing::warn!(device = %d.spec.id, error = %e, "poll failed");
            }
        }
    }

    /// Stops every device, its watcher and the simulators' private servers. Idempotent; the
    /// runtime answers "not ready" afterwards.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        for d in &self.devices {
            d.handle.shutdown();
        }
        let watchers: Vec<_> = self
            .watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for t in watchers {
            let _ = t.join();
        }
        drop(
            self.sim_env
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }
}

fn input_event(bus: &EventBus, input: &DeviceInput) -> Event {
    let kind = match (input.kind.as_str(), &input.data) {
        ("presence", d) if d["present"] == Value::Bool(true) => EventKind::PresenceDetected,
        ("presence", _) => EventKind::PresenceLost,
        ("door", d) if d["open"] == Value::Bool(true) => EventKind::CabinetDoorOpened,
        ("door", _) => EventKind::CabinetDoorClosed,
        _ => EventKind::DeviceInput,
    };
    let mut e = Event::new(kind, bus.now())
        .device(&input.device)
        .field("input", input.kind.clone());
    // A scanned code can carry personal data: the event says what kind of code it was, never
    // what it said.
    if let Some(t) = input.data.get("payload").and_then(|p| p.get("type")) {
        e = e.field("payload_type", t.clone());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_hal::clock::SystemClock;
    use std::path::Path;

    #[test]
    fn sim_profile_runs_the_sample_config_and_records_action_pairs() {
        let mut cfg =
            Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kiosk.sim.toml"))
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        cfg.terminal.data_dir = dir.path().to_path_buf();
        cfg.devices.retain(|d| d.driver != "pcsc");
        let rt = Runtime::start(&cfg, Profile::Sim, SystemClock::shared()).unwrap();
        let mut events = rt.events.subscribe();
        rt.poll_all();
        let snap = rt.snapshot();
        assert_eq!(snap.len(), 9);
        assert!(snap.iter().all(|d| d.health == Health::Online), "{snap:?}");

        // Without the claim, another owner's call is refused before it reaches the device.
        let held = rt
            .claim(
                "scanner",
                Owner::Admin,
                Duration::from_secs(60),
                Duration::ZERO,
            )
            .unwrap();
        let mine = rt
            .claim(
                "scanner",
                Owner::Flow("ticket".into()),
                Duration::from_secs(60),
                Duration::ZERO,
            )
            .unwrap_err();
        assert_eq!(mine.to_string(), "device scanner is held by admin mode");
        drop(held);
        let claim = rt
            .claim(
                "scanner",
                Owner::Flow("ticket".into()),
                Duration::from_secs(60),
                Duration::ZERO,
            )
            .unwrap();
        let err = rt
            .call(
                &claim,
                "scan",
                serde_json::json!({"timeout_ms": 100}),
                Duration::from_secs(2),
            )
            .unwrap_err();
        assert_eq!(
            err.device_error().map(|e| e.code),
            Some(CompletionCode::Timeout)
        );
        let mut pair = Vec::new();
        while pair.len() < 2 {
            let e = events.blocking_recv().unwrap();
            if e.device.as_deref() == Some("scanner") && e.correlation.is_some() {
                pair.push(e);
            }
        }
        assert_eq!(pair[0].kind, EventKind::DeviceActionInit);
        assert_eq!(pair[1].kind, EventKind::DeviceActionComplete);
        assert_eq!(pair[0].correlation, pair[1].correlation);
        assert_eq!(pair[1].disposition, Some(Disposition::TimedOut));
        rt.shutdown();
    }

    #[test]
    fn missing_board_support_shows_as_a_hardware_error_not_a_crash() {
        if cfg!(feature = "gpio-cdev") {
            return;
        }
        let mut cfg = Config::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kiosk.hardware.toml"),
        )
        .unwrap();
        cfg.devices.retain(|d| d.id == "board");
        let rt = Runtime::start(&cfg, Profile::Hardware, SystemClock::shared()).unwrap();
        let h = rt.device("board").unwrap().poll_now().unwrap();
        assert_eq!(h.health, Health::HardwareError);
        assert!(h.detail.contains("gpio-cdev"), "{}", h.detail);
        rt.shutdown();
    }
}
