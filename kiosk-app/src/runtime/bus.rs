//! The event bus: every event goes to the log (one line each), to observers (the UI, tours,
//! tests) over a broadcast channel that may drop what a slow observer misses, and — for the
//! kinds the centre must receive — down a lane to the journal that never drops anything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use kiosk_hal::clock::SharedClock;
use kiosk_protocol::{Event, EventKind};

/// Whether an event kind must reach the centre (and so the journal): device action pairs, health
/// changes, start and stop, door, sessions, tickets, failures of the terminal's own tasks, and
/// every call to the local device API and every refusal of one (the audit the tenders ask for).
pub fn must_record(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::DeviceActionInit
            | EventKind::DeviceActionComplete
            | EventKind::DeviceHealthChanged
            | EventKind::TerminalStarted
            | EventKind::TerminalStopping
            | EventKind::TaskFailed
            | EventKind::DisplayLost
            | EventKind::CabinetDoorOpened
            | EventKind::CabinetDoorClosed
            | EventKind::SessionStarted
            | EventKind::SessionEnded
            | EventKind::SessionTimedOut
            | EventKind::TicketTaken
            | EventKind::TicketNotTaken
            | EventKind::SessionIdentified
            | EventKind::GatewayCall
            | EventKind::GatewayRefused
            // Audited (journal::audit) as well as sent to the centre.
            | EventKind::ConfigLoaded
            | EventKind::AdminModeEntered
            | EventKind::AdminModeLeft
            | EventKind::AdminLoginRefused
            | EventKind::AdminLocked
            | EventKind::AdminAction
            | EventKind::UsbDeviceRefused
            | EventKind::UpdateOutcome
    )
}

#[derive(Clone)]
pub struct EventBus {
    tx: tokio::sync::broadcast::Sender<Event>,
    /// The journal's lane: unbounded, so a slow disk slows nothing down and loses nothing.
    durable: Arc<Mutex<Option<mpsc::Sender<Event>>>>,
    clock: SharedClock,
    correlation: Arc<AtomicU64>,
}

impl EventBus {
    pub fn new(clock: SharedClock) -> Self {
        let (tx, _) = tokio::sync::broadcast::channel(1024);
        // Correlation ids must not repeat across restarts, or a reconciled intent could be
        // matched with another run's result: start each run at its start time in microseconds.
        let base = u64::try_from(clock.now().timestamp_micros())
            .unwrap_or(1)
            .max(1);
        EventBus {
            tx,
            durable: Arc::new(Mutex::new(None)),
            clock,
            correlation: Arc::new(AtomicU64::new(base)),
        }
    }

    /// Observers: may miss events when they fall more than 1024 behind (they are told so).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// The journal's lane: every event that must be recorded, in emission order, from now on.
    /// One lane at a time; a second call replaces the first.
    pub fn record_lane(&self) -> mpsc::Receiver<Event> {
        let (tx, rx) = mpsc::channel();
        *self.durable.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    /// Closes the journal's lane: its receiver sees the end after the events already sent.
    pub fn close_record_lane(&self) {
        self.durable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn emit(&self, event: Event) {
        tracing::info!(
            target: "hallkit::event",
            id = event.id,
            kind = %event.kind,
            device = event.device.as_deref().unwrap_or("-"),
            correlation = event.correlation.unwrap_or(0),
            disposition = ?event.disposition,
            fields = %serde_json::Value::Object(event.fields.clone().into_iter().collect()),
            "{}",
            event.kind.message_en()
        );
        if must_record(event.kind) {
            // The lane's lock also orders concurrent emitters: what is sent first is recorded
            // first.
            let lane = self.durable.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(tx) = lane.as_ref() {
                if tx.send(event.clone()).is_err() {
                    tracing::error!(kind = %event.kind, "the journal's lane is closed; event not recorded");
                }
            }
        }
        let _ = self.tx.send(event);
    }

    pub fn next_correlation(&self) -> u64 {
        self.correlation.fetch_add(1, Ordering::Relaxed)
    }
}
