//! Board I/O through `embedded-hal` 1.0 digital pins: guide lights that blink to lead a citizen to
//! the next module, the IR presence sensor that wakes the kiosk, and the cabinet door switch.
//!
//! The logic is written against the `OutputPin` / `InputPin` traits only, so the same code drives
//! simulated pins in tests and the sim profile, and Linux GPIO character-device lines (feature
//! `gpio-cdev`) on a real board.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use embedded_hal::digital::{ErrorType, InputPin, OutputPin, StatefulOutputPin};
use serde::{Deserialize, Serialize};

/// What a guide light does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum LightMode {
    Off,
    On,
    /// On for half the period, off for the other half.
    Blink {
        period_ms: u32,
    },
}

/// One guide light (a LED ring around the card slot, the printer mouth, the scanner window).
pub struct GuideLight<P> {
    pin: P,
    mode: LightMode,
    lit: bool,
    since: Duration,
}

impl<P: OutputPin> GuideLight<P> {
    pub fn new(mut pin: P) -> Result<Self, P::Error> {
        pin.set_low()?;
        Ok(GuideLight {
            pin,
            mode: LightMode::Off,
            lit: false,
            since: Duration::ZERO,
        })
    }

    pub fn mode(&self) -> LightMode {
        self.mode
    }

    pub fn is_lit(&self) -> bool {
        self.lit
    }

    /// Changes the mode; `now` is the board clock's monotonic time.
    pub fn set(&mut self, mode: LightMode, now: Duration) -> Result<(), P::Error> {
        self.mode = mode;
        self.since = now;
        let lit = !matches!(mode, LightMode::Off);
        self.drive(lit)
    }

    /// Advances blinking to `now`. Call at least twice per blink period.
    pub fn tick(&mut self, now: Duration) -> Result<(), P::Error> {
        if let LightMode::Blink { period_ms } = self.mode {
            let period = u128::from(period_ms.max(2));
            let phase = now.saturating_sub(self.since).as_millis() % period;
            self.drive(phase < period / 2)?;
        }
        Ok(())
    }

    fn drive(&mut self, lit: bool) -> Result<(), P::Error> {
        if lit {
            self.pin.set_high()?;
        } else {
            self.pin.set_low()?;
        }
        self.lit = lit;
        Ok(())
    }
}

/// A debounced digital input: a sensor reports a change only after it held for `debounce`.
pub struct DebouncedInput<P> {
    pin: P,
    active_high: bool,
    debounce: Duration,
    stable: bool,
    candidate: Option<(bool, Duration)>,
}

impl<P: InputPin> DebouncedInput<P> {
    pub fn new(mut pin: P, active_high: bool, debounce: Duration) -> Result<Self, P::Error> {
        let raw = pin.is_high()?;
        Ok(DebouncedInput {
            pin,
            active_high,
            debounce,
            stable: raw == active_high,
            candidate: None,
        })
    }

    /// The debounced state: true when active.
    pub fn active(&self) -> bool {
        self.stable
    }

    /// Samples the pin at `now`; returns `Some(new_state)` when the debounced state changed.
    pub fn sample(&mut self, now: Duration) -> Result<Option<bool>, P::Error> {
        let active = self.pin.is_high()? == self.active_high;
        if active == self.stable {
            self.candidate = None;
            return Ok(None);
        }
        match self.candidate {
            Some((state, since)) if state == active => {
                if now.saturating_sub(since) >= self.debounce {
                    self.stable = active;
                    self.candidate = None;
                    return Ok(Some(active));
                }
            }
            _ => self.candidate = Some((active, now)),
        }
        Ok(None)
    }
}

/// A simulated pin: an output the test can read back, or an input the test can drive.
#[derive(Clone, Default, Debug)]
pub struct SimPin {
    state: Arc<Mutex<SimPinState>>,
}

#[derive(Default, Debug)]
struct SimPinState {
    high: bool,
    /// Number of level changes, so tests can see that a light blinked.
    edges: u64,
}

impl SimPin {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn level(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).high
    }

    pub fn edges(&self) -> u64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).edges
    }

    /// Drives the pin from outside, as the physical sensor would.
    pub fn drive(&self, high: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.high != high {
            s.edges += 1;
        }
        s.high = high;
    }
}

impl ErrorType for SimPin {
    type Error = core::convert::Infallible;
}

impl OutputPin for SimPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.drive(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.drive(true);
        Ok(())
    }
}

impl StatefulOutputPin for SimPin {
    fn is_set_high(&mut self) -> Result<bool, Self::Error> {
        Ok(self.level())
    }
    fn is_set_low(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.level())
    }
}

impl InputPin for SimPin {
    fn is_high(&mut self) -> Result<bool, Self::Error> {
        Ok(self.level())
    }
    fn is_low(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.level())
    }
}

#[cfg(feature = "gpio-cdev")]
pub mod cdev {
    //! Linux GPIO character device (`/dev/gpiochipN`) lines as `embedded-hal` pins.

    use embedded_hal::digital::{ErrorKind, ErrorType, InputPin, OutputPin};
    use gpio_cdev::{Chip, LineHandle, LineRequestFlags};

    #[derive(Debug, thiserror::Error)]
    #[error("gpio: {0}")]
    pub struct CdevError(#[from] gpio_cdev::Error);

    impl embedded_hal::digital::Error for CdevError {
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    pub struct CdevPin {
        handle: LineHandle,
    }

    impl CdevPin {
        pub fn output(chip: &str, line: u32, consumer: &str) -> Result<Self, CdevError> {
            let mut chip = Chip::new(chip)?;
            let handle = chip
                .get_line(line)?
                .request(LineRequestFlags::OUTPUT, 0, consumer)?;
            Ok(CdevPin { handle })
        }

        pub fn input(chip: &str, line: u32, consumer: &str) -> Result<Self, CdevError> {
            let mut chip = Chip::new(chip)?;
            let handle = chip
                .get_line(line)?
                .request(LineRequestFlags::INPUT, 0, consumer)?;
            Ok(CdevPin { handle })
        }
    }

    impl ErrorType for CdevPin {
        type Error = CdevError;
    }

    impl OutputPin for CdevPin {
        fn set_low(&mut self) -> Result<(), CdevError> {
            Ok(self.handle.set_value(0)?)
        }
        fn set_high(&mut self) -> Result<(), CdevError> {
            Ok(self.handle.set_value(1)?)
        }
    }

    impl InputPin for CdevPin {
        fn is_high(&mut self) -> Result<bool, CdevError> {
            Ok(self.handle.get_value()? != 0)
        }
        fn is_low(&mut self) -> Result<bool, CdevError> {
            Ok(self.handle.get_value()? == 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn guide_light_on_off_blink() {
        let pin = SimPin::new();
        let mut light = GuideLight::new(pin.clone()).unwrap();
        assert!(!pin.level());
        light.set(LightMode::On, ms(0)).unwrap();
        assert!(pin.level());
        light
            .set(LightMode::Blink { period_ms: 100 }, ms(1000))
            .unwrap();
        let mut seen = Vec::new();
        for t in (1000..1400).step_by(25) {
            light.tick(ms(t)).unwrap();
            seen.push(pin.level());
        }
        assert_eq!(seen.iter().filter(|l| **l).count(), 8, "{seen:?}");
        assert!(pin.edges() >= 8);
        light.set(LightMode::Off, ms(2000)).unwrap();
        light.tick(ms(2010)).unwrap();
        assert!(!pin.level());
    }

    #[test]
    fn presence_sensor_debounces() {
        let pin = SimPin::new();
        let mut s = DebouncedInput::new(pin.clone(), true, ms(50)).unwrap();
        assert!(!s.active());
        pin.drive(true);
        assert_eq!(s.sample(ms(0)).unwrap(), None);
        pin.drive(false); // a flicker shorter than the debounce time
        assert_eq!(s.sample(ms(10)).unwrap(), None);
        pin.drive(true);
        assert_eq!(s.sample(ms(20)).unwrap(), None);
        assert_eq!(s.sample(ms(69)).unwrap(), None);
        assert_eq!(s.sample(ms(70)).unwrap(), Some(true));
        assert!(s.active());
        // Active-low input: the pull-up holds the line high until the switch closes.
        let door = SimPin::new();
        door.drive(true);
        let mut d = DebouncedInput::new(door.clone(), false, ms(0)).unwrap();
        assert!(!d.active());
        door.drive(false);
        d.sample(ms(0)).unwrap();
        assert_eq!(d.sample(ms(1)).unwrap(), Some(true));
    }
}
