//! The simulated board: the same `Board` logic on simulated pins that a test (or the sim
//! profile's technician) can drive: step in front of the sensor, open the cabinet door, and
//! see which lights are lit.

use std::collections::BTreeMap;

use kiosk_hal::board::SimPin;
use kiosk_hal::clock::SharedClock;
use serde_json::{json, Value};

use super::{Board, BoardLayout};
use crate::sim::{SimControl, SimFaults};
use crate::{DeviceSpec, DriverError};

pub struct BoardSim {
    id: String,
    layout: BoardLayout,
    lights: BTreeMap<String, SimPin>,
    presence: Option<SimPin>,
    door: Option<SimPin>,
}

impl BoardSim {
    /// Makes the simulated pins and the real board driver on top of them.
    pub fn start(
        spec: &DeviceSpec,
        clock: SharedClock,
    ) -> Result<(Board<SimPin, SimPin>, BoardSim), DriverError> {
        let layout = BoardLayout::from_spec(spec)?;
        let lights: BTreeMap<String, SimPin> = layout
            .lights
            .keys()
            .map(|k| (k.clone(), SimPin::new()))
            .collect();
        let presence = layout.presence.map(|_| {
            let p = SimPin::new();
            // Nobody in front of the kiosk at power-up.
            p.drive(!layout.presence_active_high);
            p
        });
        let door = layout.door.map(|_| {
            let p = SimPin::new();
            p.drive(!layout.door_open_high);
            p
        });
        let board = Board::new(
            spec,
            &layout,
            lights.clone(),
            presence.clone(),
            door.clone(),
            clock,
        )?;
        Ok((
            board,
            BoardSim {
                id: spec.id.clone(),
                layout,
                lights,
                presence,
                door,
            },
        ))
    }

    pub fn set_presence(&self, present: bool) -> Result<(), String> {
        let p = self
            .presence
            .as_ref()
            .ok_or("this board has no presence sensor")?;
        p.drive(present == self.layout.presence_active_high);
        Ok(())
    }

    pub fn set_door_open(&self, open: bool) -> Result<(), String> {
        let d = self.door.as_ref().ok_or("this board has no door switch")?;
        d.drive(open == self.layout.door_open_high);
        Ok(())
    }

    pub fn light_levels(&self) -> BTreeMap<String, (bool, u64)> {
        self.lights
            .iter()
            .map(|(k, p)| (k.clone(), (p.level(), p.edges())))
            .collect()
    }
}

impl SimControl for BoardSim {
    fn device_id(&self) -> &str {
        &self.id
    }
    fn endpoint(&self) -> String {
        "simulated pins".into()
    }
    fn unplug(&self) -> Result<(), String> {
        Err("board pins are soldered on; they cannot be unplugged".into())
    }
    fn replug(&self) -> Result<(), String> {
        Err("board pins are soldered on; they cannot be unplugged".into())
    }
    fn set_faults(&self, _faults: SimFaults) -> Result<(), String> {
        Err("board pins have no wire protocol to corrupt".into())
    }
    fn inject(&self, what: &str, args: &Value) -> Result<Value, String> {
        let flag = |k: &str| {
            args.get(k)
                .and_then(Value::as_bool)
                .ok_or(format!("{what} needs {{\"{k}\": true|false}}"))
        };
        match what {
            "presence" => self.set_presence(flag("present")?).map(|_| Value::Null),
            "door" => self.set_door_open(flag("open")?).map(|_| Value::Null),
            "lights" => Ok(json!(self
                .light_levels()
                .into_iter()
                .map(|(k, (lit, edges))| (k, json!({"lit": lit, "edges": edges})))
                .collect::<serde_json::Map<_, _>>())),
            other => Err(format!(
                "the board simulator cannot {other:?}; it can: presence, door, lights"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::TransportKind;
    use kiosk_hal::actor::{CommandContext, Device, DeviceHandle};
    use kiosk_hal::clock::SystemClock;
    use kiosk_hal::device::{Health, SubStatus};
    use kiosk_hal::DeviceKind;
    use std::time::{Duration, Instant};

    fn spec() -> DeviceSpec {
        let mut s = DeviceSpec::new(
            "board",
            DeviceKind::Board,
            super::super::DRIVER,
            TransportKind::Gpio,
        );
        s.options
            .insert("lights".into(), json!({"idcard": 17, "printer": 18}));
        s.options.insert("presence".into(), json!(22));
        s.options.insert("door".into(), json!(23));
        s.options.insert("debounce_ms".into(), json!(10));
        s
    }

    #[test]
    fn lights_sensors_and_door_through_the_actor() {
        let (board, sim) = BoardSim::start(&spec(), SystemClock::shared()).unwrap();
        let handle = DeviceHandle::spawn(Box::new(board), Duration::from_millis(30));
        let mut inputs = handle.subscribe_input();
        let ctx = || CommandContext::with_timeout(Duration::from_secs(2));
        handle
            .call(
                "light",
                json!({"module": "idcard", "mode": "blink", "period_ms": 100}),
                ctx(),
            )
            .unwrap();
        handle
            .call("light", json!({"module": "printer", "mode": "on"}), ctx())
            .unwrap();
        std::thread::sleep(Duration::from_millis(400));
        let levels = sim.light_levels();
        assert!(
            levels["idcard"].1 >= 4,
            "blinking light toggled only {} times",
            levels["idcard"].1
        );
        assert!(levels["printer"].0);
        let err = handle
            .call("light", json!({"module": "seal", "mode": "on"}), ctx())
            .unwrap_err();
        assert!(err.detail.contains("idcard"), "{}", err.detail);

        sim.set_presence(true).unwrap();
        sim.set_door_open(true).unwrap();
        let mut kinds = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(3);
        while kinds.len() < 2 && Instant::now() < deadline {
            if let Ok(i) = inputs.try_recv() {
                kinds.push((i.kind, i.data));
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        kinds.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            kinds,
            vec![
                ("door".to_string(), json!({"open": true})),
                ("presence".to_string(), json!({"present": true}))
            ]
        );
        let h = handle.poll_now().unwrap();
        assert_eq!(h.health, Health::Online);
        assert_eq!(
            h.sub,
            vec![SubStatus::PersonPresent, SubStatus::CabinetDoorOpen]
        );
        assert_eq!(
            handle.call("sensors", Value::Null, ctx()).unwrap(),
            json!({"presence": true, "door_open": true})
        );
    }

    /// A health poll or a read of the sensors samples the pins too; a change it sees must
    /// still reach the input stream, or a citizen who walks up while the board is polled is
    /// never greeted.
    #[test]
    fn a_change_seen_by_a_poll_or_a_sensor_read_is_still_reported() {
        let (mut board, sim) = BoardSim::start(&spec(), SystemClock::shared()).unwrap();
        let ctx = CommandContext::with_timeout(Duration::from_secs(2));
        assert!(board.take_input(Duration::ZERO).is_empty());
        sim.set_presence(true).unwrap();
        sim.set_door_open(true).unwrap();
        // Only polls see the pins until the debounce has passed.
        let deadline = Instant::now() + Duration::from_secs(3);
        while !board.poll().sub.contains(&SubStatus::PersonPresent) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(3));
        }
        sim.set_door_open(false).unwrap();
        while board.run("sensors", &Value::Null, &ctx).unwrap()["door_open"] != json!(false)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(3));
        }
        let taken: Vec<_> = board
            .take_input(Duration::ZERO)
            .into_iter()
            .map(|i| (i.kind, i.data))
            .collect();
        assert_eq!(
            taken,
            vec![
                ("presence".to_string(), json!({"present": true})),
                ("door".to_string(), json!({"open": true})),
                ("door".to_string(), json!({"open": false})),
            ]
        );
        assert!(
            board.take_input(Duration::ZERO).is_empty(),
            "reported twice"
        );
    }

    #[test]
    fn self_test_lights_every_lamp_and_restores_modes() {
        let (mut board, sim) = BoardSim::start(&spec(), SystemClock::shared()).unwrap();
        let ctx = CommandContext::with_timeout(Duration::from_secs(2));
        board
            .run("light", &json!({"module": "printer", "mode": "on"}), &ctx)
            .unwrap();
        let r = board.self_test(&ctx).unwrap();
        assert_eq!(r["lights_tested"], 2);
        let levels = sim.light_levels();
        assert!(
            levels["idcard"].1 >= 2 && !levels["idcard"].0,
            "idcard lamp was not cycled: {levels:?}"
        );
        assert!(levels["printer"].0, "printer lamp mode was not restored");
    }

    #[test]
    fn layout_errors_are_named() {
        let mut s = spec();
        s.options.insert("door".into(), json!(17));
        assert!(BoardLayout::from_spec(&s)
            .unwrap_err()
            .to_string()
            .contains("used twice"));
        let mut s = spec();
        s.options.insert("lights".into(), json!({"idcard": "x"}));
        assert!(BoardLayout::from_spec(&s)
            .unwrap_err()
            .to_string()
            .contains("lights.idcard"));
    }
}
