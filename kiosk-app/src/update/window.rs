//! When an update may be installed: never while a citizen is at the screen, never inside the
//! hall's business hours (`[update] business_hours`, local time).

use chrono::{Datelike, NaiveTime, Weekday};
use serde::Deserialize;

/// One span of business hours: `"Mon-Fri 08:30-17:30"`, `"Sat 09:00-12:00"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    days: Vec<Weekday>,
    from: NaiveTime,
    to: NaiveTime,
}

impl std::str::FromStr for Hours {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (days, times) = s
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("{s:?}: expected like \"Mon-Fri 08:30-17:30\""))?;
        let days = kiosk_hal::clock::parse_weekdays(days).map_err(|e| format!("{s:?}: {e}"))?;
        let (from, to) = times
            .trim()
            .split_once('-')
            .ok_or_else(|| format!("{s:?}: expected a time span like 08:30-17:30"))?;
        let t = |x: &str| {
            NaiveTime::parse_from_str(x.trim(), "%H:%M")
                .map_err(|_| format!("{s:?}: {x:?} is not HH:MM"))
        };
        let (from, to) = (t(from)?, t(to)?);
        if from >= to {
            return Err(format!("{s:?}: the span ends before it starts"));
        }
        Ok(Hours { days, from, to })
    }
}

impl<'de> Deserialize<'de> for Hours {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Hours {
    pub fn contains(&self, local: chrono::NaiveDateTime) -> bool {
        self.days.contains(&local.weekday()) && local.time() >= self.from && local.time() < self.to
    }
}

/// `[update]`: where the A/B slots are and when an update may be installed. Absent: this
/// terminal is not updated in place (a development checkout).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    /// The base flash.sh made: `slots/a`, `slots/b`, `current`, `committed`.
    #[serde(default = "default_base")]
    pub base: std::path::PathBuf,
    /// Local time spans when no update is installed.
    #[serde(default)]
    pub business_hours: Vec<Hours>,
    /// How long a new version has, on its first start, to show healthy devices, an empty
    /// journal queue and the idle screen before it counts as failed and is rolled back.
    #[serde(default = "default_gate_s")]
    pub health_gate_s: u64,
}

fn default_base() -> std::path::PathBuf {
    std::path::PathBuf::from("/opt/hallkit")
}

fn default_gate_s() -> u64 {
    300
}

/// Why an update may not be installed at `local`, or `None` when it may.
pub fn deferred(
    hours: &[Hours],
    local: chrono::NaiveDateTime,
    citizen_at_screen: bool,
) -> Option<String> {
    if citizen_at_screen {
        return Some("a citizen is using the terminal".into());
    }
    hours
        .iter()
        .any(|h| h.contains(local))
        .then(|| format!("inside business hours ({})", local.format("%a %H:%M")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> chrono::NaiveDateTime {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn business_hours_and_sessions_defer_an_update() {
        let hours: Vec<Hours> = ["Mon-Fri 08:30-17:30", "Sat 09:00-12:00"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        // 2026-12-03 is a Thursday.
        assert!(deferred(&hours, at("2026-12-03 10:00"), false)
            .unwrap()
            .contains("business hours"));
        assert_eq!(deferred(&hours, at("2026-12-03 17:30"), false), None);
        assert_eq!(deferred(&hours, at("2026-12-03 02:00"), false), None);
        assert!(deferred(&hours, at("2026-12-05 11:59"), false).is_some());
        assert_eq!(deferred(&hours, at("2026-12-06 11:00"), false), None);
        assert!(deferred(&hours, at("2026-12-03 02:00"), true)
            .unwrap()
            .contains("citizen"));
        for bad in [
            "Fri-Mon 08:00-09:00",
            "Mon 9-17",
            "Xyz 08:00-09:00",
            "Mon 17:00-08:00",
            "Mon",
        ] {
            assert!(bad.parse::<Hours>().is_err(), "{bad}");
        }
    }
}
