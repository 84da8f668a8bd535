//! Writes the event bus's durable lane into the outbox on a thread of its own, never on the
//! async executor: every event the centre must receive, in the order it was emitted. What
//! arrives while a write is under way is written together in the next transaction, so a burst
//! costs one fsync per batch rather than per event, and a slow disk delays, never drops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use kiosk_protocol::Event;

use super::{Journal, OutboxError};

/// Where recorded events go: the outbox, or a stand-in in tests.
pub trait EventSink: Send + 'static {
    /// Writes `events` durably, all or nothing.
    fn write(&mut self, events: &[Event]) -> Result<(), OutboxError>;
}

impl EventSink for Journal {
    fn write(&mut self, events: &[Event]) -> Result<(), OutboxError> {
        let mut ob = self.lock();
        ob.transaction(|tx| {
            for e in events {
                tx.enqueue(e.kind.key(), serde_json::to_value(e)?)?;
            }
            Ok(())
        })
        .map(drop)
    }
}

/// How a recorder ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecorderReport {
    pub recorded: u64,
    pub batches: u64,
    /// Events that could not be written before the lane closed (the disk kept failing).
    pub lost: u64,
}

pub struct Recorder {
    thread: Option<JoinHandle<RecorderReport>>,
    alive: Arc<AtomicBool>,
}

/// Marks the recorder gone when its thread ends, however it ends.
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Most events in one transaction; bounds the time one write holds the outbox.
const BATCH: usize = 512;

impl Recorder {
    /// Starts recording `lane` into `sink`.
    pub fn start(lane: mpsc::Receiver<Event>, mut sink: impl EventSink) -> Recorder {
        let alive = Arc::new(AtomicBool::new(true));
        let guard = AliveGuard(alive.clone());
        let thread = std::thread::Builder::new()
            .name("journal-recorder".into())
            .spawn(move || {
                let _guard = guard;
                let mut report = RecorderReport::default();
                let mut batch = Vec::with_capacity(BATCH);
                let mut backoff = Duration::from_millis(200);
                while let Ok(first) = lane.recv() {
                    batch.push(first);
                    while batch.len() < BATCH {
                        match lane.try_recv() {
                            Ok(e) => batch.push(e),
                            Err(_) => break,
                        }
                    }
                    loop {
                        match sink.write(&batch) {
                            Ok(()) => {
                                report.recorded += batch.len() as u64;
                                report.batches += 1;
                                batch.clear();
                                backoff = Duration::from_millis(200);
                                break;
                            }
                            Err(e) => {
                                // Keep the batch and try again; what arrives meanwhile joins
                                // it, in order. Give up only once the lane is closed.
                                tracing::error!(error = %e, events = batch.len(), retry_in = ?backoff, "events could not be journaled");
                                std::thread::sleep(backoff);
                                backoff = (backoff * 2).min(Duration::from_secs(30));
                                let mut closed = false;
                                loop {
                                    match lane.try_recv() {
                                        Ok(e) => batch.push(e),
                                        Err(mpsc::TryRecvError::Empty) => break,
                                        Err(mpsc::TryRecvError::Disconnected) => {
                                            closed = true;
                                            break;
                                        }
                                    }
                                }
                                if closed {
                                    match sink.write(&batch) {
                                        Ok(()) => {
                                            report.recorded += batch.len() as u64;
                                            report.batches += 1;
                                        }
                                        Err(e) => {
                                            tracing::error!(error = %e, events = batch.len(), "events lost: the journal cannot be written");
                                            report.lost += batch.len() as u64;
                                        }
                                    }
                                    batch.clear();
                                    break;
                                }
                            }
                        }
                    }
                }
                report
            })
            .ok();
        if thread.is_none() {
            tracing::error!("cannot start the journal recorder thread");
        }
        Recorder { thread, alive }
    }

    /// True while the recorder's thread runs.
    pub fn alive(&self) -> Arc<AtomicBool> {
        self.alive.clone()
    }

    /// Waits until everything sent before the lane was closed is written. Close the lane first
    /// (`EventBus::close_record_lane`), or this waits for ever.
    pub fn finish(mut self) -> RecorderReport {
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::EventBus;
    use kiosk_hal::clock::SystemClock;
    use kiosk_protocol::{Event, EventKind};
    use std::sync::Mutex;

    /// A sink slower than any disk: every write takes 5 ms, and fails now and then.
    struct Slow {
        seen: Arc<Mutex<Vec<u64>>>,
        writes: u64,
    }

    impl EventSink for Slow {
        fn write(&mut self, events: &[Event]) -> Result<(), OutboxError> {
            std::thread::sleep(Duration::from_millis(5));
            self.writes += 1;
            if self.writes % 7 == 3 {
                return Err(OutboxError::DiskFull);
            }
            self.seen
                .lock()
                .unwrap()
                .extend(events.iter().map(|e| e.correlation.unwrap_or(0)));
            Ok(())
        }
    }

    fn burst(bus: &EventBus, n: u64) {
        for i in 0..n {
            bus.emit(Event::action_init("scanner", "scan", i, bus.now()));
        }
    }

    #[test]
    fn a_burst_against_a_slow_failing_writer_is_recorded_whole_and_in_order() {
        let bus = EventBus::new(SystemClock::shared());
        // An observer that never reads: the broadcast channel lags, the lane does not.
        let _idle_observer = bus.subscribe();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rec = Recorder::start(
            bus.record_lane(),
            Slow {
                seen: seen.clone(),
                writes: 0,
            },
        );
        burst(&bus, 10_000);
        // Events that need not be recorded stay off the lane.
        bus.emit(Event::new(EventKind::DeviceInput, bus.now()));
        bus.close_record_lane();
        let report = rec.finish();
        assert_eq!((report.recorded, report.lost), (10_000, 0), "{report:?}");
        let seen = seen.lock().unwrap();
        assert_eq!(*seen, (0..10_000).collect::<Vec<u64>>());
        assert!(report.batches < 10_000, "batched: {report:?}");
    }

    #[test]
    fn a_burst_lands_in_the_outbox_in_emission_order() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(
            super::super::Outbox::open(&dir.path().join("o.db"), "KSK-1", SystemClock::shared())
                .unwrap(),
        );
        let bus = EventBus::new(SystemClock::shared());
        let rec = Recorder::start(bus.record_lane(), journal.clone());
        // Two emitters at once: each one's events keep their order.
        let b2 = bus.clone();
        let other = std::thread::spawn(move || {
            for i in 0..5_000u64 {
                b2.emit(Event::action_init(
                    "receipt",
                    "print",
                    1_000_000 + i,
                    b2.now(),
                ));
            }
        });
        burst(&bus, 5_000);
        other.join().unwrap();
        bus.close_record_lane();
        let report = rec.finish();
        assert_eq!(report.recorded, 10_000);
        let rows = journal
            .lock()
            .events_like("device.action.init", 20_000)
            .unwrap();
        assert_eq!(rows.len(), 10_000);
        for device in ["scanner", "receipt"] {
            let corr: Vec<u64> = rows
                .iter()
                .filter(|(_, _, p)| p["device"] == device)
                .map(|(_, _, p)| p["correlation"].as_u64().unwrap())
                .collect();
            assert_eq!(corr.len(), 5_000);
            assert!(
                corr.windows(2).all(|w| w[0] < w[1]),
                "{device} out of order"
            );
        }
    }
}
