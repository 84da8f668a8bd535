//! The terminal's own board: guide lights per module, the IR presence sensor and the cabinet
//! door switch, on GPIO lines. Written against `embedded-hal` pins, so the simulator's pins and
//! Linux GPIO character-device lines run the same code.

pub mod sim;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use embedded_hal::digital::{InputPin, OutputPin};
use kiosk_hal::actor::{ActionSpec, CommandContext, Device, DeviceInput};
use kiosk_hal::board::{DebouncedInput, GuideLight, LightMode};
use kiosk_hal::clock::SharedClock;
use kiosk_hal::device::{CommandError, DeviceInfo, Health, HealthReport, SubStatus};
use serde_json::{json, Value};

use crate::{DeviceSpec, DriverError};

pub const DRIVER: &str = "board-gpio";
/// How often the pins are read: fast enough for a 50 ms presence debounce.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
const OPTIONS: &[&str] = &[
    "lights",
    "presence",
    "presence_active_high",
    "door",
    "door_open_high",
    "debounce_ms",
];

/// The board layout read from a device table entry: which line drives what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardLayout {
    pub chip: String,
    pub lights: BTreeMap<String, u32>,
    pub presence: Option<u32>,
    pub presence_active_high: bool,
    pub door: Option<u32>,
    pub door_open_high: bool,
    pub debounce: Duration,
}

impl BoardLayout {
    pub fn from_spec(spec: &DeviceSpec) -> Result<Self, DriverError> {
        let cfg = |m: String| DriverError::config(spec, m);
        spec.check_options(OPTIONS).map_err(cfg)?;
        let mut lights = BTreeMap::new();
        match spec.options.get("lights") {
            None => {}
            Some(Value::Object(m)) => {
                for (module, line) in m {
                    let line = line
                        .as_u64()
                        .and_then(|l| u32::try_from(l).ok())
                        .ok_or_else(|| {
                            cfg(format!("lights.{module} must be a GPIO line number"))
                        })?;
                    lights.insert(module.clone(), line);
                }
            }
            Some(other) => {
                return Err(cfg(format!(
                    "option `lights` must be a table of module = line, not {other}"
                )))
            }
        }
        let line = |key: &str| -> Result<Option<u32>, DriverError> {
            spec.opt_u64(key)
                .map_err(cfg)?
                .map(|v| {
                    u32::try_from(v).map_err(|_| cfg(format!("{key} line {v} is out of range")))
                })
                .transpose()
        };
        let layout = BoardLayout {
            chip: spec.path.clone().unwrap_or_else(|| "/dev/gpiochip0".into()),
            lights,
            presence: line("presence")?,
            presence_active_high: spec
                .opt_bool("presence_active_high")
                .map_err(cfg)?
                .unwrap_or(true),
            door: line("door")?,
            door_open_high: spec
                .opt_bool("door_open_high")
                .map_err(cfg)?
                .unwrap_or(true),
            debounce: Duration::from_millis(
                spec.opt_u64("debounce_ms").map_err(cfg)?.unwrap_or(50),
            ),
        };
        let mut used = std::collections::HashSet::new();
        for l in layout
            .lights
            .values()
            .chain(layout.presence.iter())
            .chain(layout.door.iter())
        {
            if !used.insert(*l) {
                return Err(cfg(format!("GPIO line {l} is used twice")));
            }
        }
        Ok(layout)
    }
}

pub struct Board<O, I> {
    info: DeviceInfo,
    lights: BTreeMap<String, GuideLight<O>>,
    presence: Option<DebouncedInput<I>>,
    door: Option<DebouncedInput<I>>,
    clock: SharedClock,
    fault: Option<String>,
    /// Sensor changes a health poll saw (a poll samples the pins too); handed out with the
    /// next input, so a citizen's arrival or an opened door is never swallowed by a poll.
    seen: Vec<DeviceInput>,
}

impl<O, I> Board<O, I>
where
    O: OutputPin + Send + 'static,
    I: InputPin + Send + 'static,
    O::Error: Debug,
    I::Error: Debug,
{
    /// Builds the board from pins already opened for `layout`.
    pub fn new(
        spec: &DeviceSpec,
        layout: &BoardLayout,
        lights: BTreeMap<String, O>,
        presence: Option<I>,
        door: Option<I>,
        clock: SharedClock,
    ) -> Result<Self, DriverError> {
        let pin_err =
            |what: &str, e: &dyn Debug| DriverError::config(spec, format!("{what}: {e:?}"));
        let mut built = BTreeMap::new();
        for (name, pin) in lights {
            built.insert(
                name.clone(),
                GuideLight::new(pin).map_err(|e| pin_err(&name, &e))?,
            );
        }
        let presence = presence
            .map(|p| DebouncedInput::new(p, layout.presence_active_high, layout.debounce))
            .transpose()
            .map_err(|e| pin_err("presence", &e))?;
        let door = door
            .map(|p| DebouncedInput::new(p, layout.door_open_high, layout.debounce))
            .transpose()
            .map_err(|e| pin_err("door", &e))?;
        let mut info = DeviceInfo::new(&spec.id, spec.kind, DRIVER);
        info.transport = layout.chip.clone();
        info.model = format!(
            "{} guide lights, presence {}, door {}",
            built.len(),
            if presence.is_some() { "yes" } else { "no" },
            if door.is_some() { "yes" } else { "no" }
        );
        Ok(Board {
            info,
            lights: built,
            presence,
            door,
            clock,
            fault: None,
            seen: Vec::new(),
        })
    }

    fn sample(&mut self) -> Vec<DeviceInput> {
        let now = self.clock.elapsed();
        let mut out = Vec::new();
        for (name, light) in &mut self.lights {
            if let Err(e) = light.tick(now) {
                self.fault = Some(format!("light {name}: {e:?}"));
            }
        }
        let id = self.info.id.clone();
        if let Some(p) = &mut self.presence {
            match p.sample(now) {
                Ok(Some(present)) => out.push(DeviceInput {
                    device: id.clone(),
                    kind: "presence".into(),
                    data: json!({ "present": present }),
                }),
                Ok(None) => {}
                Err(e) => self.fault = Some(format!("presence sensor: {e:?}")),
            }
        }
        if let Some(d) = &mut self.door {
            match d.sample(now) {
                Ok(Some(open)) => out.push(DeviceInput {
                    device: id,
                    kind: "door".into(),
                    data: json!({ "open": open }),
                }),
                Ok(None) => {}
                Err(e) => self.fault = Some(format!("door switch: {e:?}")),
            }
        }
        out
    }

    /// Samples the pins outside the input loop (for a poll or a read of the sensors), keeping
    /// any change for the next input.
    fn refresh(&mut self) {
        let changes = self.sample();
        self.seen.extend(changes);
    }

    fn sensors(&self) -> Value {
        json!({
            "presence": self.presence.as_ref().map(|p| p.active()),
            "door_open": self.door.as_ref().map(|d| d.active()),
        })
    }

    fn lights_state(&self) -> Value {
        let m: serde_json::Map<String, Value> = self
            .lights
            .iter()
            .map(|(k, l)| (k.clone(), json!({ "mode": l.mode(), "lit": l.is_lit() })))
            .collect();
        Value::Object(m)
    }
}

impl<O, I> Device for Board<O, I>
where
    O: OutputPin + Send + 'static,
    I: InputPin + Send + 'static,
    O::Error: Debug,
    I::Error: Debug,
{
    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }

    fn poll(&mut self) -> HealthReport {
        self.refresh();
        if let Some(f) = &self.fault {
            return HealthReport::new(Health::HardwareError).with_detail(f.clone());
        }
        let mut r = HealthReport::new(Health::Online);
        if self.presence.as_ref().is_some_and(|p| p.active()) {
            r = r.with_sub(SubStatus::PersonPresent);
        }
        if self.door.as_ref().is_some_and(|d| d.active()) {
            r = r.with_sub(SubStatus::CabinetDoorOpen);
        }
        r
    }

    fn self_test(&mut self, ctx: &CommandContext) -> Result<Value, CommandError> {
        // Light each lamp briefly so a technician standing at the cabinet sees every one work.
        let now = self.clock.elapsed();
        let before: Vec<(String, LightMode)> = self
            .lights
            .iter()
            .map(|(k, l)| (k.clone(), l.mode()))
            .collect();
        for (name, _) in &before {
            ctx.cancel.check()?;
            if let Some(l) = self.lights.get_mut(name) {
                l.set(LightMode::On, now)
                    .map_err(|e| CommandError::hardware(format!("{name}: {e:?}")))?;
                std::thread::sleep(Duration::from_millis(80));
            }
        }
        for (name, mode) in before {
            if let Some(l) = self.lights.get_mut(&name) {
                l.set(mode, now)
                    .map_err(|e| CommandError::hardware(format!("{name}: {e:?}")))?;
            }
        }
        Ok(json!({ "lights_tested": self.lights.len(), "sensors": self.sensors() }))
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![
            ActionSpec {
                name: "light",
                summary: "set a guide light",
                args: &[
                    "module=which light",
                    "mode=on|off|blink",
                    "period_ms=blink period (default 600)",
                ],
            },
            ActionSpec {
                name: "lights",
                summary: "show every light's mode",
                args: &[],
            },
            ActionSpec {
                name: "sensors",
                summary: "read the presence sensor and door switch",
                args: &[],
            },
        ]
    }

    fn run(
        &mut self,
        action: &str,
        args: &Value,
        _ctx: &CommandContext,
    ) -> Result<Value, CommandError> {
        match action {
            "light" => {
                let module = args
                    .get("module")
                    .and_then(Value::as_str)
                    .ok_or_else(|| CommandError::invalid("light needs module=NAME"))?;
                let mode = match args.get("mode").and_then(Value::as_str) {
                    Some("on") => LightMode::On,
                    Some("off") => LightMode::Off,
                    Some("blink") => {
                        let period = match args.get("period_ms") {
                            None => 600,
                            Some(v) => v
                                .as_u64()
                                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                                .ok_or_else(|| {
                                    CommandError::invalid("period_ms must be a number")
                                })?,
                        };
                        LightMode::Blink {
                            period_ms: u32::try_from(period.clamp(100, 10_000)).unwrap_or(600),
                        }
                    }
                    other => {
                        return Err(CommandError::invalid(format!(
                            "mode must be on, off or blink, not {other:?}"
                        )))
                    }
                };
                let now = self.clock.elapsed();
                let known: Vec<String> = self.lights.keys().cloned().collect();
                let light = self.lights.get_mut(module).ok_or_else(|| {
                    CommandError::invalid(format!(
                        "no light {module:?}; this board has {}",
                        known.join(", ")
                    ))
                })?;
                light
                    .set(mode, now)
                    .map_err(|e| CommandError::hardware(format!("{e:?}")))?;
                Ok(json!({ "module": module, "mode": mode }))
            }
            "lights" => Ok(self.lights_state()),
            "sensors" => {
                self.refresh();
                Ok(self.sensors())
            }
            other => Err(CommandError::unsupported(format!(
                "board has no action {other:?}"
            ))),
        }
    }

    fn produces_input(&self) -> bool {
        true
    }

    fn take_input(&mut self, budget: Duration) -> Vec<DeviceInput> {
        std::thread::sleep(budget.min(SAMPLE_EVERY));
        let mut out = std::mem::take(&mut self.seen);
        out.extend(self.sample());
        out
    }

    fn sample_every(&self) -> Option<Duration> {
        Some(SAMPLE_EVERY)
    }
}

/// Opens the board on real GPIO lines.
#[cfg(feature = "gpio-cdev")]
pub fn open(spec: &DeviceSpec, clock: SharedClock) -> Result<Box<dyn Device>, DriverError> {
    use kiosk_hal::board::cdev::CdevPin;
    let layout = BoardLayout::from_spec(spec)?;
    let consumer = format!("hallkit-{}", spec.id);
    let err = |what: &str, e: kiosk_hal::board::cdev::CdevError| {
        DriverError::config(spec, format!("{what} on {}: {e}", layout.chip))
    };
    let mut lights = BTreeMap::new();
    for (name, line) in &layout.lights {
        lights.insert(
            name.clone(),
            CdevPin::output(&layout.chip, *line, &consumer).map_err(|e| err(name, e))?,
        );
    }
    let presence = layout
        .presence
        .map(|l| CdevPin::input(&layout.chip, l, &consumer))
        .transpose()
        .map_err(|e| err("presence", e))?;
    let door = layout
        .door
        .map(|l| CdevPin::input(&layout.chip, l, &consumer))
        .transpose()
        .map_err(|e| err("door", e))?;
    Ok(Box::new(Board::new(
        spec, &layout, lights, presence, door, clock,
    )?))
}

#[cfg(not(feature = "gpio-cdev"))]
pub fn open(spec: &DeviceSpec, _clock: SharedClock) -> Result<Box<dyn Device>, DriverError> {
    BoardLayout::from_spec(spec)?;
    Err(DriverError::Unavailable {
        device: spec.id.clone(),
        driver: DRIVER.into(),
        why: "built without the `gpio-cdev` feature (cargo build --features gpio-cdev)".into(),
    })
}
