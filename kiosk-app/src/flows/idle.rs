//! The idle countdown: after a screen's `after_s` without a touch, "Still there?" counts down
//! its `countdown_s`; a touch or "continue" starts over, the end of the countdown ends the
//! session. Times come from the terminal's clock, so tests run minutes in milliseconds.

use std::time::Duration;

use crate::config::IdleTimes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleState {
    /// Nothing to show.
    Quiet,
    /// "Still there?" with this many seconds left.
    Asking { seconds_left: u32 },
    /// The countdown ran out.
    Expired,
}

#[derive(Debug, Clone)]
pub struct Idle {
    last_touch: Duration,
}

impl Idle {
    pub fn new(now: Duration) -> Idle {
        Idle { last_touch: now }
    }

    /// A touch, "continue", or any progress the citizen made.
    pub fn touch(&mut self, now: Duration) {
        self.last_touch = now;
    }

    pub fn state(&self, now: Duration, times: IdleTimes) -> IdleState {
        let quiet = now.saturating_sub(self.last_touch);
        let after = Duration::from_secs(times.after_s);
        if quiet < after {
            return IdleState::Quiet;
        }
        let end = after + Duration::from_secs(times.countdown_s);
        if quiet >= end {
            return IdleState::Expired;
        }
        let left = end - quiet;
        IdleState::Asking {
            seconds_left: u32::try_from(left.as_secs() + u64::from(left.subsec_nanos() > 0))
                .unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: IdleTimes = IdleTimes {
        after_s: 60,
        countdown_s: 20,
    };

    #[test]
    fn sixty_seconds_then_a_twenty_second_countdown() {
        let s = |x: u64| Duration::from_secs(x);
        let mut idle = Idle::new(s(0));
        assert_eq!(idle.state(s(59), T), IdleState::Quiet);
        assert_eq!(idle.state(s(60), T), IdleState::Asking { seconds_left: 20 });
        assert_eq!(
            idle.state(s(70) + Duration::from_millis(500), T),
            IdleState::Asking { seconds_left: 10 }
        );
        assert_eq!(idle.state(s(80), T), IdleState::Expired);
        idle.touch(s(75));
        assert_eq!(idle.state(s(80), T), IdleState::Quiet);
        // No countdown: straight from quiet to expired.
        let none = IdleTimes {
            after_s: 30,
            countdown_s: 0,
        };
        assert_eq!(idle.state(s(105), none), IdleState::Expired);
    }
}
