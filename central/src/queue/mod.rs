//! The hall queue engine: windows call tickets, the queue keeps each ticket's timeline and a
//! feed of what happened for windows and displays. `QueueEngine` is the seam a hall's
//! existing queue system would be adapted behind; `BuiltinQueue` is HallKit's own, over the
//! centre's store (SQLite or PostgreSQL) with the rules of `engine`.

pub mod engine;
pub mod stats;
#[cfg(test)]
mod tests;

use kiosk_protocol::queue::{
    HallBoard, QueueEvent, QueueEventKind, QueueStats, QueueTicket, QueueWindow, WindowCommand,
    WindowOutcome, WindowState,
};

use crate::backend::Store;
use crate::store::StoreError;
pub use engine::{HallQueue, QueueRefusal};

/// A hall's calling rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueRules {
    /// Calls before a ticket is a no-show: the first call and its recalls.
    pub max_calls: u32,
    /// Weight of a checked-in appointment.
    pub appointment_weight: u32,
    /// Weight of an elderly citizen.
    pub elderly_weight: u32,
    /// Citizens this old or older come first, where the hall turns it on.
    pub elderly_age: Option<u32>,
}

impl Default for QueueRules {
    fn default() -> Self {
        QueueRules {
            max_calls: 3,
            appointment_weight: 2,
            elderly_weight: 1,
            elderly_age: None,
        }
    }
}

impl QueueRules {
    pub fn weight(&self, reasons: &[kiosk_protocol::queue::PriorityReason]) -> u32 {
        use kiosk_protocol::queue::PriorityReason as R;
        reasons
            .iter()
            .map(|r| match r {
                R::Appointment => self.appointment_weight,
                R::Elderly => self.elderly_weight,
            })
            .sum()
    }
}

/// How many of the last calls the board shows.
pub const RECENT_CALLS: usize = 8;

/// What a queue does for windows, displays and the statistics, whoever runs it.
pub trait QueueEngine: Send + Sync {
    /// Sets up (or changes) a window and the services it calls from.
    fn set_window(
        &self,
        hall: &str,
        window: &str,
        services: &[String],
    ) -> Result<QueueWindow, StoreError>;
    /// One window's command, in one transaction.
    fn command(
        &self,
        hall: &str,
        window: &str,
        cmd: &WindowCommand,
    ) -> Result<Result<WindowOutcome, QueueRefusal>, StoreError>;
    /// One window now: its state, its ticket and how many it may call (`None`: no such
    /// window). A window unit reads it to keep its waiting count live between commands.
    fn window_now(&self, hall: &str, window: &str) -> Result<Option<WindowOutcome>, StoreError>;
    /// The hall now.
    fn board(&self, hall: &str) -> Result<HallBoard, StoreError>;
    /// What happened after event `after`, oldest first, at most `limit`.
    fn events_after(
        &self,
        hall: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<QueueEvent>, StoreError>;
    /// Figures for the days `from` ..= `to` (`YYYY-MM-DD`).
    fn stats(&self, hall: &str, from: &str, to: &str) -> Result<QueueStats, StoreError>;
}

/// HallKit's own queue over the centre's store.
#[derive(Clone)]
pub struct BuiltinQueue {
    store: Store,
    rules: QueueRules,
}

/// Now, as the queue writes times.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The hall's day (CST) as `YYYY-MM-DD`.
pub fn today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string()
}

impl BuiltinQueue {
    pub fn new(store: Store, rules: QueueRules) -> BuiltinQueue {
        BuiltinQueue { store, rules }
    }

    pub fn rules(&self) -> QueueRules {
        self.rules
    }

    /// Runs `f` on the hall's day inside one store transaction; what it changed is written
    /// back only when it succeeds.
    pub fn transact<T, E>(
        &self,
        hall: &str,
        day: &str,
        f: impl FnOnce(&mut HallQueue) -> Result<T, E>,
    ) -> Result<Result<T, E>, StoreError> {
        self.store.queue_transact(hall, day, f)
    }

    /// Like `transact` for work that cannot be refused.
    fn always<T>(
        &self,
        hall: &str,
        day: &str,
        f: impl FnOnce(&mut HallQueue) -> T,
    ) -> Result<T, StoreError> {
        match self.transact::<T, std::convert::Infallible>(hall, day, |q| Ok(f(q)))? {
            Ok(v) => Ok(v),
            Err(never) => match never {},
        }
    }
}

/// The window after a command, with the ticket it has now or, when the command let its ticket
/// go (finished, no-show, held, transferred), that ticket as it left.
fn outcome(q: &HallQueue, rules: &QueueRules, window: &str, acted: Option<&str>) -> WindowOutcome {
    let w = q.windows.get(window).cloned().unwrap_or(QueueWindow {
        window: window.to_string(),
        services: Vec::new(),
        state: WindowState::Closed,
        staff: None,
        current: None,
    });
    let ticket = w
        .current
        .as_deref()
        .or(acted)
        .and_then(|n| q.tickets.get(n))
        .cloned();
    let waiting = q.callable(rules, &w).len() as u32;
    WindowOutcome {
        window: w,
        ticket,
        waiting,
    }
}

impl QueueEngine for BuiltinQueue {
    fn set_window(
        &self,
        hall: &str,
        window: &str,
        services: &[String],
    ) -> Result<QueueWindow, StoreError> {
        self.always(hall, &today(), |q| {
            let mut w = q.windows.get(window).cloned().unwrap_or(QueueWindow {
                window: window.to_string(),
                services: Vec::new(),
                state: WindowState::Closed,
                staff: None,
                current: None,
            });
            w.services = services.to_vec();
            q.windows.insert(window.to_string(), w.clone());
            q.changed_windows.insert(window.to_string());
            w
        })
    }

    fn command(
        &self,
        hall: &str,
        window: &str,
        cmd: &WindowCommand,
    ) -> Result<Result<WindowOutcome, QueueRefusal>, StoreError> {
        let rules = self.rules;
        let now = now_rfc3339();
        self.transact(hall, &today(), |q| {
            let acted = q.command(&rules, window, cmd, &now)?;
            Ok(outcome(q, &rules, window, acted.as_deref()))
        })
    }

    fn window_now(&self, hall: &str, window: &str) -> Result<Option<WindowOutcome>, StoreError> {
        let rules = self.rules;
        self.always(hall, &today(), |q| {
            q.windows
                .contains_key(window)
                .then(|| outcome(q, &rules, window, None))
        })
    }

    fn board(&self, hall: &str) -> Result<HallBoard, StoreError> {
        let day = today();
        let q = self.always(hall, &day, |q| q.clone())?;
        let last_event = q.next_event.saturating_sub(1);
        // The last calls, one per ticket: scan back through the feed until enough are found.
        let mut recent: Vec<QueueEvent> = Vec::new();
        let mut before = last_event + 1;
        'scan: while recent.len() < RECENT_CALLS && before > 1 {
            let from = before.saturating_sub(200).max(1);
            let page = self.events_after(hall, from - 1, (before - from) as usize)?;
            for e in page.iter().rev() {
                if cst_day_of(&e.at).as_deref() != Some(day.as_str()) {
                    // The feed is in order: everything further back is from earlier days.
                    break 'scan;
                }
                if e.kind == QueueEventKind::Called
                    && !recent.iter().any(|r| r.number == e.number)
                    && recent.len() < RECENT_CALLS
                {
                    recent.push(e.clone());
                }
            }
            before = from;
        }
        let catalogue = self.store.latest_document(
            kiosk_protocol::signing::DocumentKind::Catalogue,
            "hall-display",
            0,
        )?;
        Ok(HallBoard {
            hall: hall.to_string(),
            day,
            windows: q.windows.values().cloned().collect(),
            waiting: q.waiting_by_service(),
            services: catalogue
                .map(|d| service_labels(hall, &d.body))
                .unwrap_or_default(),
            recent,
            last_event,
        })
    }

    fn events_after(
        &self,
        hall: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        self.store.queue_events_after(hall, after, limit)
    }

    fn stats(&self, hall: &str, from: &str, to: &str) -> Result<QueueStats, StoreError> {
        let tickets: Vec<QueueTicket> = self.store.queue_tickets_between(hall, from, to)?;
        Ok(stats::figures(hall, from, to, &tickets))
    }
}

/// The hall's day (CST, `YYYY-MM-DD`) of an RFC 3339 time.
pub fn cst_day_of(at: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    Some(
        (t.with_timezone(&chrono::Utc) + chrono::Duration::hours(8))
            .format("%Y-%m-%d")
            .to_string(),
    )
}

/// A ticket just issued, waiting for its print to settle.
pub fn new_ticket(
    number: &str,
    service: &str,
    day: &str,
    priority: &[kiosk_protocol::queue::PriorityReason],
) -> QueueTicket {
    new_ticket_at(number, service, day, priority, now_rfc3339())
}

/// A ticket issued at `now` (an offline ticket keeps the time its machine printed it).
pub fn new_ticket_at(
    number: &str,
    service: &str,
    day: &str,
    priority: &[kiosk_protocol::queue::PriorityReason],
    now: String,
) -> QueueTicket {
    QueueTicket {
        number: number.to_string(),
        service: service.to_string(),
        day: day.to_string(),
        arrived_at: now.clone(),
        state: kiosk_protocol::queue::QueueState::Issued,
        calls: 0,
        priority: priority.to_vec(),
        for_window: None,
        window: None,
        staff: None,
        case_number: None,
        rating: None,
        periods: vec![kiosk_protocol::queue::Period {
            state: kiosk_protocol::queue::QueueState::Issued,
            window: None,
            staff: None,
            from: now,
            to: None,
        }],
    }
}

/// A new display token: 128 random bits, hex.
pub fn new_display_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// How a display token is kept: its SHA-256, so a copy of the database opens no display.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The queue groups of a published catalogue, when it is this hall's: what the display calls
/// each service. A catalogue it cannot read names nothing (the display shows the service ids).
pub fn service_labels(
    hall: &str,
    catalogue: &serde_json::Value,
) -> std::collections::BTreeMap<String, kiosk_protocol::queue::ServiceLabel> {
    let mut m = std::collections::BTreeMap::new();
    if catalogue["hall"]["id"].as_str() != Some(hall) {
        return m;
    }
    for g in catalogue["queue"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let text = |v: &serde_json::Value, lang: &str| v[lang].as_str().unwrap_or("").to_string();
        if let Some(id) = g["id"].as_str() {
            m.insert(
                id.to_string(),
                kiosk_protocol::queue::ServiceLabel {
                    name: text(&g["name"], "zh-CN"),
                    name_en: text(&g["name"], "en"),
                    prefix: g["prefix"].as_str().unwrap_or("").to_string(),
                },
            );
        }
    }
    m
}

/// Whether an offline ticket's number is its sequence under some letter (`A007` for 7).
pub fn offline_number_fits(t: &kiosk_protocol::wire::OfflineTicket) -> bool {
    let digits = format!("{:03}", t.seq);
    t.seq > 0
        && t.number.ends_with(&digits)
        && t.number.len() <= digits.len() + 2
        && kiosk_protocol::queue::is_name(&t.number, 16)
}

/// The offline ticket a `ticket.offline` journal record carries, if it is one.
pub fn offline_ticket_in(
    e: &kiosk_protocol::wire::EventEnvelope,
) -> Option<kiosk_protocol::wire::OfflineTicket> {
    if e.kind != "ticket.offline" {
        return None;
    }
    serde_json::from_value(e.payload.get("ticket")?.clone()).ok()
}

/// Where reserved blocks start: offline tickets read A501, A502 …, apart from the day's online
/// numbers, so hall staff can tell them at a glance.
pub const OFFLINE_FROM: u32 = 501;

/// The next online number of a service's day: after the last online ticket, stepping over any
/// reserved block it would run into. `blocks` are (first, last).
pub fn next_online(last_online: u32, blocks: &[(u32, u32)]) -> u32 {
    let mut n = last_online + 1;
    while let Some(&(_, last)) = blocks.iter().find(|(f, l)| (*f..=*l).contains(&n)) {
        n = last + 1;
    }
    n
}

/// Where the next block starts: from `OFFLINE_FROM`, after every block and every ticket.
pub fn next_block_start(last_any: u32, last_block: u32) -> u32 {
    (OFFLINE_FROM - 1).max(last_any).max(last_block) + 1
}

/// The rating a `queue.rated` journal record carries, when it is a well-formed one.
pub fn ticket_rating_in(
    e: &kiosk_protocol::wire::EventEnvelope,
) -> Option<kiosk_protocol::queue::TicketRating> {
    if e.kind != "queue.rated" {
        return None;
    }
    let r: kiosk_protocol::queue::TicketRating =
        serde_json::from_value(e.payload.get("rating")?.clone()).ok()?;
    ((1..=5).contains(&r.level) && kiosk_protocol::queue::is_name(&r.number, 16)).then_some(r)
}

/// Binds a rating to its ticket in the queue (the first one counts). Returns whether it did.
pub fn rate(q: &mut HallQueue, r: &kiosk_protocol::queue::TicketRating) -> bool {
    let Some(t) = q.tickets.get_mut(&r.number) else {
        return false;
    };
    if t.rating.is_some() {
        return false;
    }
    t.rating = Some(r.level);
    if t.case_number.is_none() {
        t.case_number = r.case_number.clone();
    }
    q.changed_tickets.insert(r.number.clone());
    true
}
