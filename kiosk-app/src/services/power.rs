//! The power schedule (「时控开关：开关时间可按天或按周循环」): on at `on`, off at `off` on the
//! schedule's days, off the rest of the time. The decision — what to do now and when to wake —
//! is a pure function of the local time, tested with an injected clock. On a real host,
//! `kiosk power apply` (root, from the `hallkit-power.timer` flash.sh installs) carries it out
//! with `rtcwake -m off -t <wake>`: the RTC powers the terminal on again.

use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDateTime, NaiveTime, Weekday};
use kiosk_protocol::wire::PowerSchedule;

/// A checked schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerPlan {
    pub days: Vec<Weekday>,
    pub on: NaiveTime,
    pub off: NaiveTime,
    pub source: PowerSchedule,
}

impl PowerPlan {
    pub fn parse(s: &PowerSchedule) -> Result<PowerPlan, String> {
        let days = kiosk_hal::clock::parse_weekdays(&s.days)?;
        let t = |x: &str| {
            NaiveTime::parse_from_str(x.trim(), "%H:%M")
                .map_err(|_| format!("{x:?} is not a time (HH:MM)"))
        };
        let (on, off) = (t(&s.on)?, t(&s.off)?);
        if on >= off {
            return Err(format!(
                "the terminal is switched off ({}) before it is switched on ({})",
                s.off, s.on
            ));
        }
        Ok(PowerPlan {
            days,
            on,
            off,
            source: s.clone(),
        })
    }

    fn on_at(&self, t: NaiveDateTime) -> bool {
        self.days.contains(&t.weekday()) && t.time() >= self.on && t.time() < self.off
    }

    /// The next switch-on after `t` (within the coming week).
    fn next_on(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        (0..=7).find_map(|d| {
            let date = t.date() + Duration::days(d);
            let at = date.and_time(self.on);
            (self.days.contains(&date.weekday()) && at > t).then_some(at)
        })
    }

    /// What to do at local time `t`.
    pub fn decide(&self, t: NaiveDateTime) -> PowerDecision {
        if self.on_at(t) {
            PowerDecision::StayOn {
                until: t.date().and_time(self.off),
            }
        } else {
            match self.next_on(t) {
                Some(wake) => PowerDecision::PowerOff { wake },
                None => PowerDecision::StayOn {
                    until: t + Duration::days(7),
                },
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerDecision {
    /// In service hours: stay on until then.
    StayOn { until: NaiveDateTime },
    /// Outside them: power off and wake at this local time.
    PowerOff { wake: NaiveDateTime },
}

/// Where the schedule is kept (the data directory; set by the centre's command).
pub fn schedule_path(data_dir: &Path) -> PathBuf {
    data_dir.join("power-schedule.json")
}

/// Saves (or, with `None`, removes) the schedule after checking it.
pub fn save(data_dir: &Path, s: Option<&PowerSchedule>) -> Result<Option<PowerPlan>, String> {
    let path = schedule_path(data_dir);
    match s {
        None => match std::fs::remove_file(&path) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        },
        Some(s) => {
            let plan = PowerPlan::parse(s)?;
            let tmp = path.with_extension("json.new");
            std::fs::write(
                &tmp,
                serde_json::to_vec_pretty(s).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
            Ok(Some(plan))
        }
    }
}

pub fn load(data_dir: &Path) -> Result<Option<PowerPlan>, String> {
    match std::fs::read(schedule_path(data_dir)) {
        Ok(b) => {
            let s: PowerSchedule = serde_json::from_slice(&b)
                .map_err(|e| format!("the saved power schedule is damaged: {e}"))?;
            PowerPlan::parse(&s).map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn plan(days: &str, on: &str, off: &str) -> PowerPlan {
        PowerPlan::parse(&PowerSchedule {
            days: days.into(),
            on: on.into(),
            off: off.into(),
        })
        .unwrap()
    }

    #[test]
    fn a_weekday_schedule_sleeps_nights_and_weekends() {
        let p = plan("Mon-Fri", "07:30", "19:00");
        // 2026-12-03 is a Thursday.
        assert_eq!(
            p.decide(at("2026-12-03 10:00")),
            PowerDecision::StayOn {
                until: at("2026-12-03 19:00")
            }
        );
        assert_eq!(
            p.decide(at("2026-12-03 19:00")),
            PowerDecision::PowerOff {
                wake: at("2026-12-04 07:30")
            }
        );
        assert_eq!(
            p.decide(at("2026-12-04 06:00")),
            PowerDecision::PowerOff {
                wake: at("2026-12-04 07:30")
            }
        );
        // Friday evening sleeps to Monday morning.
        assert_eq!(
            p.decide(at("2026-12-04 20:15")),
            PowerDecision::PowerOff {
                wake: at("2026-12-07 07:30")
            }
        );
        assert_eq!(
            p.decide(at("2026-12-06 12:00")),
            PowerDecision::PowerOff {
                wake: at("2026-12-07 07:30")
            }
        );
    }

    #[test]
    fn daily_and_listed_days_and_bad_schedules() {
        let p = plan("daily", "08:00", "20:00");
        assert!(matches!(
            p.decide(at("2026-12-06 09:00")),
            PowerDecision::StayOn { .. }
        ));
        let p = plan("Tue,Sat", "09:00", "12:00");
        assert_eq!(
            p.decide(at("2026-12-03 10:00")),
            PowerDecision::PowerOff {
                wake: at("2026-12-05 09:00")
            }
        );
        for (d, on, off) in [
            ("Fri-Mon", "08:00", "17:00"),
            ("Mon", "17:00", "08:00"),
            ("Mon", "8", "17:00"),
            ("Someday", "08:00", "17:00"),
        ] {
            assert!(
                PowerPlan::parse(&PowerSchedule {
                    days: d.into(),
                    on: on.into(),
                    off: off.into()
                })
                .is_err(),
                "{d} {on} {off}"
            );
        }
    }

    #[test]
    fn the_schedule_is_kept_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let s = PowerSchedule {
            days: "Mon-Fri".into(),
            on: "07:30".into(),
            off: "19:00".into(),
        };
        save(dir.path(), Some(&s)).unwrap();
        assert_eq!(load(dir.path()).unwrap().unwrap().source, s);
        save(dir.path(), None).unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
    }
}
