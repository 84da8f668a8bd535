//! Makes sure the kiosk's window really reached the screen.
//!
//! Slint's winit backend creates a window from inside the event loop; when that fails (the X
//! server refuses a resource, the compositor restarts) the error is kept until the loop ends
//! and the loop runs on with no window. A kiosk in that state is a black screen with a live
//! process, which no service manager restarts. The watchdog asks again for the window a few
//! times and, if it never appears, makes the kiosk exit with an error so systemd starts it
//! afresh.

use std::time::{Duration, Instant};

/// What the screen should do after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowCheck {
    /// The window exists now; nothing more to watch.
    Shown,
    /// Not yet; give the windowing system more time.
    Wait,
    /// Still nothing after the grace time: hide and show the window again (this attempt number).
    Reshow(u32),
    /// Every attempt failed: stop the kiosk with an error.
    GiveUp,
    /// The window appeared earlier; checks no longer matter.
    Done,
}

#[derive(Debug)]
pub struct WindowWatchdog {
    grace: Duration,
    max_reshows: u32,
    since: Instant,
    reshows: u32,
    shown: bool,
    gave_up: bool,
}

impl WindowWatchdog {
    /// `grace` is how long one attempt may take before the next; after `max_reshows` further
    /// attempts the watchdog gives up.
    pub fn new(now: Instant, grace: Duration, max_reshows: u32) -> WindowWatchdog {
        WindowWatchdog {
            grace,
            max_reshows,
            since: now,
            reshows: 0,
            shown: false,
            gave_up: false,
        }
    }

    pub fn check(&mut self, now: Instant, has_window: bool) -> WindowCheck {
        if self.shown {
            return WindowCheck::Done;
        }
        if has_window {
            self.shown = true;
            return WindowCheck::Shown;
        }
        if now.saturating_duration_since(self.since) < self.grace {
            return WindowCheck::Wait;
        }
        if self.reshows >= self.max_reshows {
            self.gave_up = true;
            return WindowCheck::GiveUp;
        }
        self.reshows += 1;
        self.since = now;
        WindowCheck::Reshow(self.reshows)
    }

    /// How many times the window had to be asked for again.
    pub fn reshows(&self) -> u32 {
        self.reshows
    }

    /// Whether the window has been seen on the display.
    pub fn shown(&self) -> bool {
        self.shown
    }

    /// Whether every attempt failed.
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// The time one attempt is given.
    pub fn grace(&self) -> Duration {
        self.grace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(10);

    #[test]
    fn a_window_that_appears_is_reported_once_and_then_left_alone() {
        let t0 = Instant::now();
        let mut dog = WindowWatchdog::new(t0, GRACE, 2);
        assert_eq!(
            dog.check(t0 + Duration::from_secs(1), false),
            WindowCheck::Wait
        );
        assert_eq!(
            dog.check(t0 + Duration::from_secs(2), true),
            WindowCheck::Shown
        );
        // Later checks change nothing, even long after the grace time or with no window.
        assert_eq!(
            dog.check(t0 + Duration::from_secs(60), false),
            WindowCheck::Done
        );
        assert_eq!(dog.reshows(), 0);
    }

    #[test]
    fn a_missing_window_is_asked_for_again_then_given_up() {
        let t0 = Instant::now();
        let mut dog = WindowWatchdog::new(t0, GRACE, 2);
        assert_eq!(
            dog.check(t0 + Duration::from_secs(9), false),
            WindowCheck::Wait
        );
        assert_eq!(
            dog.check(t0 + Duration::from_secs(10), false),
            WindowCheck::Reshow(1)
        );
        // Each attempt gets its own grace time, counted from the attempt.
        assert_eq!(
            dog.check(t0 + Duration::from_secs(15), false),
            WindowCheck::Wait
        );
        assert_eq!(
            dog.check(t0 + Duration::from_secs(20), false),
            WindowCheck::Reshow(2)
        );
        assert_eq!(
            dog.check(t0 + Duration::from_secs(29), false),
            WindowCheck::Wait
        );
        assert!(!dog.gave_up());
        assert_eq!(
            dog.check(t0 + Duration::from_secs(30), false),
            WindowCheck::GiveUp
        );
        assert_eq!(dog.reshows(), 2);
        assert!(dog.gave_up() && !dog.shown());
    }

    #[test]
    fn a_window_that_appears_after_a_second_request_counts_as_shown() {
        let t0 = Instant::now();
        let mut dog = WindowWatchdog::new(t0, GRACE, 3);
        assert_eq!(
            dog.check(t0 + Duration::from_secs(11), false),
            WindowCheck::Reshow(1)
        );
        assert_eq!(
            dog.check(t0 + Duration::from_secs(12), true),
            WindowCheck::Shown
        );
        assert_eq!(dog.reshows(), 1);
        assert_eq!(
            dog.check(t0 + Duration::from_secs(90), false),
            WindowCheck::Done
        );
    }

    #[test]
    fn a_clock_that_steps_back_does_not_trigger_anything() {
        let t0 = Instant::now() + Duration::from_secs(100);
        let mut dog = WindowWatchdog::new(t0, GRACE, 1);
        assert_eq!(
            dog.check(t0 - Duration::from_secs(50), false),
            WindowCheck::Wait
        );
    }
}
