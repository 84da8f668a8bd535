//! The running terminal: devices from the device table (real or simulated), the event bus, and
//! the link to the central service.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kiosk_drivers::registry::find_driver;
use kiosk_drivers::{DeviceSpec, DriverError, SimControl, SimEnv};
use kiosk_hal::actor::{ActionSpec, CommandContext, Device, DeviceHandle, DeviceInput};
use kiosk_hal::clock::SharedClock;
use kiosk_hal::device::{CommandError, CompletionCode, DeviceInfo, Health, HealthReport};
use kiosk_protocol::{Disposition, Event, EventKind};
use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, Profile};

/// One device of the table, running.
pub struct ManagedDevice {
    pub spec: DeviceSpec,
    pub handle: DeviceHandle,
    /// The simulator behind it, in the sim profile.
    pub sim: Option<Arc<dyn SimControl>>,
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

/// Events go to every subscriber (UI, outbox, logs) and to the log as one line each.
#[derive(Clone)]
pub struct EventBus {
    tx: tokio::sync::broadcast::Sender<Event>,
    clock: SharedClock,
    correlation: Arc<AtomicU64>,
}

impl EventBus {
    pub fn new(clock: SharedClock) -> Self {
        let (tx, _) = tokio::sync::broadcast::channel(1024);
        // Correlation ids must not repeat across restarts, or a reconciled intent could be
        // matched with another run's result: start each run at its start time in microseconds.
        let base = u64::try_from(clock.now().timestamp_micros())
            .unwrap_or(1)
            .max(1);
        EventBus {
            tx,
            clock,
            correlation: Arc::new(AtomicU64::new(base)),
        }
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn emit(&self, event: Event) {
        tracing::info!(
            target: "hallkit::event",
            id = event.id,
            kind = %event.kind,
            device = event.device.as_deref().unwrap_or("-"),
            correlation = event.correlation.unwrap_or(0),
            disposition = ?event.disposition,
            fields = %serde_json::Value::Object(event.fields.clone().into_iter().collect()),
            "{}",
            event.kind.message_en()
        );
        let _ = self.tx.send(event);
    }

    pub fn next_correlation(&self) -> u64 {
        self.correlation.fetch_add(1, Ordering::Relaxed)
    }
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
    counters: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    pub devices: Vec<ManagedDevice>,
    pub events: EventBus,
    clock: SharedClock,
    watchers: Vec<std::thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    _sim_env: Option<SimEnv>,
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
        let mut rt = Runtime {
            profile,
            counters: Default::default(),
            devices,
            events,
            clock,
            watchers: Vec::new(),
            stop: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            _sim_env: sim_env,
        };
        rt.watch_devices();
        Ok(rt)
    }

    /// Turns health changes and device input into catalogue events.
    fn watch_devices(&mut self) {
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
                self.watchers.push(t);
            }
        }
    }

    pub fn device(&self, id: &str) -> Result<&ManagedDevice, RuntimeError> {
        self.devices
            .iter()
            .find(|d| d.spec.id == id)
            .ok_or_else(|| RuntimeError::UnknownDevice(id.to_string()))
    }

    /// Runs a device action and records it as an init/complete event pair.
    pub fn call(
        &self,
        id: &str,
        action: &str,
        args: Value,
        timeout: Duration,
    ) -> Result<Value, CommandError> {
        let dev = self
            .device(id)
            .map_err(|e| CommandError::invalid(e.to_string()))?;
        let corr = self.events.next_correlation();
        self.events
            .emit(Event::action_init(id, action, corr, self.clock.now()));
        let result = dev
            .handle
            .call(action, args, CommandContext::with_timeout(timeout));
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
        result
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
        }
    }

    /// Polls every device once now (instead of waiting for the idle poll).
    pub fn poll_all(&self) {
        for d in &self.devices {
            if let Err(e) = d.handle.poll_now() {
                tracing::warn!(device = %d.spec.id, error = %e, "poll failed");
            }
        }
    }

    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for d in &mut self.devices {
            d.handle.shutdown();
        }
        for t in self.watchers.drain(..) {
            let _ = t.join();
        }
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

        let err = rt
            .call(
                "scanner",
                "scan",
                serde_json::json!({"timeout_ms": 100}),
                Duration::from_secs(2),
            )
            .unwrap_err();
        assert_eq!(err.code, CompletionCode::Timeout);
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
        let h = rt.device("board").unwrap().handle.poll_now().unwrap();
        assert_eq!(h.health, Health::HardwareError);
        assert!(h.detail.contains("gpio-cdev"), "{}", h.detail);
        rt.shutdown();
    }
}
