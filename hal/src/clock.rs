//! The one injectable clock. Everything that waits for idle timeouts, session expiry, retention or
//! back-off asks this clock, so tests can run days of simulated time in milliseconds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};

pub trait Clock: Send + Sync {
    /// Wall-clock time, for timestamps shown to people and sent to the centre.
    fn now(&self) -> DateTime<Utc>;
    /// Monotonic time since the clock was made, for timeouts.
    fn elapsed(&self) -> Duration;
}

pub type SharedClock = Arc<dyn Clock>;

pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock {
            start: Instant::now(),
        })
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A clock that moves only when told to.
#[derive(Clone)]
pub struct ManualClock {
    state: Arc<Mutex<(DateTime<Utc>, Duration)>>,
}

impl ManualClock {
    pub fn starting_at(t: DateTime<Utc>) -> Self {
        ManualClock {
            state: Arc::new(Mutex::new((t, Duration::ZERO))),
        }
    }

    pub fn advance(&self, d: Duration) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 += chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        s.1 += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }
    fn elapsed(&self) -> Duration {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

/// Real time that can also be moved forward by hand: what a tour uses to show the idle
/// countdown without waiting a minute for it, while devices keep real timing.
#[derive(Clone)]
pub struct SteppedClock {
    start: Instant,
    skipped: Arc<Mutex<Duration>>,
}

impl SteppedClock {
    pub fn new() -> Self {
        SteppedClock {
            start: Instant::now(),
            skipped: Arc::new(Mutex::new(Duration::ZERO)),
        }
    }

    pub fn advance(&self, d: Duration) {
        *self.skipped.lock().unwrap_or_else(|p| p.into_inner()) += d;
    }

    fn skipped(&self) -> Duration {
        *self.skipped.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for SteppedClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SteppedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.skipped()).unwrap_or(chrono::Duration::MAX)
    }
    fn elapsed(&self) -> Duration {
        self.start.elapsed() + self.skipped()
    }
}

/// China Standard Time, the halls' local time (no daylight saving).
pub fn china_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Parses "+08:00" style offsets from config.
/// Days of the week as halls write them in schedules: `daily`, a range `Mon-Fri`, one day
/// `Sat`, or a list `Tue,Sat` (English three-letter names, any case).
pub fn parse_weekdays(s: &str) -> Result<Vec<chrono::Weekday>, String> {
    use chrono::Weekday::*;
    const DAYS: [(&str, chrono::Weekday); 7] = [
        ("Mon", Mon),
        ("Tue", Tue),
        ("Wed", Wed),
        ("Thu", Thu),
        ("Fri", Fri),
        ("Sat", Sat),
        ("Sun", Sun),
    ];
    let day = |d: &str| {
        DAYS.iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(d.trim()))
            .ok_or_else(|| format!("{d:?} is not a day (Mon … Sun)"))
    };
    let s = s.trim();
    if s.eq_ignore_ascii_case("daily") {
        return Ok(DAYS.iter().map(|(_, d)| *d).collect());
    }
    if let Some((a, b)) = s.split_once('-') {
        let (a, b) = (day(a)?, day(b)?);
        if a > b {
            return Err(format!("the days {s:?} run backwards"));
        }
        return Ok(DAYS[a..=b].iter().map(|(_, d)| *d).collect());
    }
    s.split(',').map(|d| day(d).map(|i| DAYS[i].1)).collect()
}

pub fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    let bad = || format!("time offset {s:?} is not of the form +HH:MM");
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 1, 0, 0).unwrap();
        let c = ManualClock::starting_at(t0);
        assert_eq!(c.now(), t0);
        c.advance(Duration::from_secs(3 * 86_400));
        assert_eq!((c.now() - t0).num_days(), 3);
        assert_eq!(c.elapsed(), Duration::from_secs(3 * 86_400));
        assert_eq!(
            c.now()
                .with_timezone(&china_offset())
                .format("%H:%M")
                .to_string(),
            "09:00"
        );
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+08:00").unwrap(), china_offset());
        assert_eq!(
            parse_offset("-05:30").unwrap().local_minus_utc(),
            -(5 * 3600 + 1800)
        );
        assert!(parse_offset("8").is_err());
        assert!(parse_offset("+25:00").is_err());
    }
}
