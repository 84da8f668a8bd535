//! Casting (投屏) at the window unit: while the clerk casts, a worker grabs the clerk's screen
//! a few times a second, scales it to the citizen screen and publishes it with the desk's
//! view. Three grabs failing in a row stop the cast and tell the clerk why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::DeskHost;
use crate::flows::window::{DeskProblem, Input};
use crate::services::cast::{self, CastError};

/// The largest frame the citizen screen shows (its area under the header).
pub const CAST_WIDTH: u32 = 1280;
pub const CAST_HEIGHT: u32 = 720;

/// A cast in progress: its worker stops when `stop` is set.
pub(super) struct CastRun {
    stop: Arc<AtomicBool>,
}

impl Drop for CastRun {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl DeskHost {
    pub(super) fn start_cast(&self) {
        let stop = Arc::new(AtomicBool::new(false));
        {
            let mut inner = self.lock();
            // One cast at a time: a new one replaces (and stops) the last.
            inner.cast = Some(CastRun { stop: stop.clone() });
            inner.cast_frame = None;
        }
        let source = self.shared.cfg.config.cast_source();
        let every = Duration::from_millis(1000 / u64::from(self.shared.window.cast_fps.max(1)));
        self.background(move |h| {
            let failed = match source {
                Some(s) => h.cast_loop(&s, &stop, every).err(),
                None => Some(CastError::Source("no [window] cast".into())),
            };
            if let Some(e) = failed {
                if !stop.load(Ordering::SeqCst) {
                    tracing::warn!(error = %e, "the cast stopped");
                    h.send(Input::CastFailed(DeskProblem::Cast(e.to_string())));
                }
            }
        });
    }

    pub(super) fn stop_cast(&self) {
        let mut inner = self.lock();
        inner.cast = None;
        inner.cast_frame = None;
        self.changed(&mut inner);
    }

    fn cast_loop(
        &self,
        source: &cast::CastSource,
        stop: &AtomicBool,
        every: Duration,
    ) -> Result<(), CastError> {
        let mut grab = source.open()?;
        let mut failures = 0;
        while !stop.load(Ordering::SeqCst) {
            let started = std::time::Instant::now();
            match grab
                .grab()
                .and_then(|shot| cast::fit(&shot, CAST_WIDTH, CAST_HEIGHT, 0))
            {
                Ok(mut frame) => {
                    failures = 0;
                    let mut inner = self.lock();
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    inner.cast_seq += 1;
                    frame.seq = inner.cast_seq;
                    inner.cast_frame = Some(frame);
                    self.changed(&mut inner);
                }
                Err(e) => {
                    failures += 1;
                    if failures >= 3 {
                        return Err(e);
                    }
                }
            }
            std::thread::sleep(every.saturating_sub(started.elapsed()));
        }
        Ok(())
    }
}
