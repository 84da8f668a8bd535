//! The queue's rules, on a snapshot of one hall's day: which ticket a window calls next, what
//! a recall, a transfer or a no-show does, and the timeline each ticket keeps. Pure: the store
//! loads the snapshot inside one transaction, runs a command here and writes back what
//! changed, so two windows calling at once are serialised by the database and never get the
//! same ticket.

use std::collections::{BTreeMap, BTreeSet};

use kiosk_protocol::queue::{
    Period, PriorityReason, QueueEvent, QueueEventKind, QueueState, QueueTicket, QueueWindow,
    WindowCommand, WindowState,
};

use super::QueueRules;

/// Why a window's command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueRefusal {
    #[error("window {0} is not set up in this hall")]
    UnknownWindow(String),
    #[error("window {0} has nobody logged in")]
    NotLoggedIn(String),
    #[error("window {0} is paused")]
    Paused(String),
    #[error(
        "window {window} still has ticket {ticket}: finish it, mark it a no-show or hold it first"
    )]
    Busy { window: String, ticket: String },
    #[error("window {0} has no ticket now")]
    NoTicket(String),
    #[error("nobody is waiting for window {0}")]
    NobodyWaiting(String),
    #[error("ticket {0} is not on hold at this window")]
    NotHeld(String),
    #[error("ticket {ticket} is {state}, not {wanted}")]
    WrongState {
        ticket: String,
        state: &'static str,
        wanted: &'static str,
    },
    #[error("no window in this hall serves {0}")]
    UnknownService(String),
    #[error("a transfer names a service or a window")]
    TransferNowhere,
    #[error("{0} is already logged in at window {1}")]
    StaffElsewhere(String, String),
}

impl QueueRefusal {
    /// A short reason code for the HTTP answer.
    pub fn reason(&self) -> &'static str {
        match self {
            QueueRefusal::UnknownWindow(_) => "unknown-window",
            QueueRefusal::NotLoggedIn(_) => "not-logged-in",
            QueueRefusal::Paused(_) => "paused",
            QueueRefusal::Busy { .. } => "busy",
            QueueRefusal::NoTicket(_) => "no-ticket",
            QueueRefusal::NobodyWaiting(_) => "nobody-waiting",
            QueueRefusal::NotHeld(_) => "not-held",
            QueueRefusal::WrongState { .. } => "wrong-state",
            QueueRefusal::UnknownService(_) => "unknown-service",
            QueueRefusal::TransferNowhere => "transfer-nowhere",
            QueueRefusal::StaffElsewhere(..) => "staff-elsewhere",
        }
    }
}

/// One hall's open tickets for a day and its windows, as loaded inside a transaction, plus
/// what a command changed (so the store writes back only that).
#[derive(Debug, Clone, Default)]
pub struct HallQueue {
    pub hall: String,
    pub day: String,
    /// Open tickets by number.
    pub tickets: BTreeMap<String, QueueTicket>,
    pub windows: BTreeMap<String, QueueWindow>,
    /// The id the next event gets.
    pub next_event: u64,
    pub changed_tickets: BTreeSet<String>,
    pub changed_windows: BTreeSet<String>,
    pub events: Vec<QueueEvent>,
}

/// Orders tickets for calling: more priority first, then earlier arrival, then number.
fn call_order(rules: &QueueRules, t: &QueueTicket) -> (std::cmp::Reverse<u32>, String, String) {
    (
        std::cmp::Reverse(rules.weight(&t.priority)),
        t.arrived_at.clone(),
        t.number.clone(),
    )
}

impl HallQueue {
    fn event(&mut self, now: &str, kind: QueueEventKind, t: Option<&QueueTicket>, window: &str) {
        let id = self.next_event;
        self.next_event += 1;
        self.events.push(QueueEvent {
            id,
            at: now.to_string(),
            kind,
            number: t.map(|t| t.number.clone()),
            window: (!window.is_empty()).then(|| window.to_string()),
            service: t.map(|t| t.service.clone()),
            calls: t.map(|t| t.calls).unwrap_or(0),
        });
    }

    /// Closes the ticket's open period and opens one in `state`.
    fn move_to(
        &mut self,
        number: &str,
        state: QueueState,
        window: Option<&str>,
        staff: Option<&str>,
        now: &str,
    ) {
        if let Some(t) = self.tickets.get_mut(number) {
            if let Some(open) = t.periods.iter_mut().rev().find(|p| p.to.is_none()) {
                open.to = Some(now.to_string());
            }
            t.state = state;
            t.window = window.map(str::to_string);
            t.staff = staff.map(str::to_string);
            t.periods.push(Period {
                state,
                window: window.map(str::to_string),
                staff: staff.map(str::to_string),
                from: now.to_string(),
                to: (!state.is_open()).then(|| now.to_string()),
            });
            self.changed_tickets.insert(number.to_string());
        }
    }

    /// Takes a new ticket into the queue (issued, waiting for its print to settle, or
    /// waiting at once when it is already on paper).
    pub fn admit(&mut self, ticket: QueueTicket, now: &str) {
        let number = ticket.number.clone();
        let t = ticket.clone();
        self.tickets.insert(number.clone(), ticket);
        self.changed_tickets.insert(number);
        self.event(now, QueueEventKind::Issued, Some(&t), "");
    }

    /// A ticket's print settled: on paper it waits; a failed print cancels it.
    pub fn settle(&mut self, number: &str, printed: bool, now: &str) {
        let Some(t) = self.tickets.get(number) else {
            return;
        };
        if t.state != QueueState::Issued {
            return;
        }
        if printed {
            self.move_to(number, QueueState::Waiting, None, None, now);
            let t = self.tickets[number].clone();
            self.event(now, QueueEventKind::Waiting, Some(&t), "");
        } else {
            self.move_to(number, QueueState::Cancelled, None, None, now);
            let t = self.tickets[number].clone();
            self.event(now, QueueEventKind::Cancelled, Some(&t), "");
        }
    }

    /// Tickets `window` may call now, best first.
    pub fn callable<'a>(
        &'a self,
        rules: &QueueRules,
        window: &QueueWindow,
    ) -> Vec<&'a QueueTicket> {
        let mut v: Vec<&QueueTicket> = self
            .tickets
            .values()
            .filter(|t| t.state == QueueState::Waiting)
            .filter(|t| match &t.for_window {
                Some(w) => *w == window.window,
                None => window.services.contains(&t.service),
            })
            .collect();
        v.sort_by_key(|t| call_order(rules, t));
        v
    }

    /// Tickets waiting per service.
    pub fn waiting_by_service(&self) -> BTreeMap<String, u32> {
        let mut m = BTreeMap::new();
        for t in self.tickets.values() {
            if t.state == QueueState::Waiting {
                *m.entry(t.service.clone()).or_insert(0) += 1;
            }
        }
        m
    }

    fn window(&self, w: &str) -> Result<QueueWindow, QueueRefusal> {
        self.windows
            .get(w)
            .cloned()
            .ok_or_else(|| QueueRefusal::UnknownWindow(w.to_string()))
    }

    fn set_window(&mut self, w: QueueWindow) {
        self.changed_windows.insert(w.window.clone());
        self.windows.insert(w.window.clone(), w);
    }

    fn current(&self, w: &QueueWindow) -> Result<QueueTicket, QueueRefusal> {
        w.current
            .as_ref()
            .and_then(|n| self.tickets.get(n))
            .cloned()
            .ok_or_else(|| QueueRefusal::NoTicket(w.window.clone()))
    }

    fn staffed(&self, w: &QueueWindow) -> Result<String, QueueRefusal> {
        match (&w.state, &w.staff) {
            (WindowState::Closed, _) | (_, None) => {
                Err(QueueRefusal::NotLoggedIn(w.window.clone()))
            }
            (_, Some(s)) => Ok(s.clone()),
        }
    }

    /// Runs one window's command at `now` (RFC 3339). On a refusal nothing has changed.
    pub fn command(
        &mut self,
        rules: &QueueRules,
        window: &str,
        cmd: &WindowCommand,
        now: &str,
    ) -> Result<Option<String>, QueueRefusal> {
        let mut w = self.window(window)?;
        match cmd {
            WindowCommand::Login { staff } => {
                if let Some(other) = self
                    .windows
                    .values()
                    .find(|o| o.window != w.window && o.staff.as_deref() == Some(staff))
                {
                    return Err(QueueRefusal::StaffElsewhere(
                        staff.clone(),
                        other.window.clone(),
                    ));
                }
                w.staff = Some(staff.clone());
                w.state = WindowState::Open;
                self.set_window(w);
                self.event(now, QueueEventKind::WindowOpened, None, window);
                Ok(None)
            }
            WindowCommand::Logout => {
                // A clerk leaving hands an unfinished ticket back to the queue, in its place.
                if let Some(t) = w.current.clone() {
                    if self.tickets.contains_key(&t) {
                        self.move_to(&t, QueueState::Waiting, None, None, now);
                        if let Some(t) = self.tickets.get_mut(&t) {
                            t.calls = 0;
                        }
                    }
                }
                w.staff = None;
                w.current = None;
                w.state = WindowState::Closed;
                self.set_window(w);
                self.event(now, QueueEventKind::WindowClosed, None, window);
                Ok(None)
            }
            WindowCommand::Pause | WindowCommand::Resume => {
                self.staffed(&w)?;
                let pause = matches!(cmd, WindowCommand::Pause);
                if let Some(cur) = w.current.as_ref().and_then(|n| self.tickets.get(n)) {
                    if pause && matches!(cur.state, QueueState::Called | QueueState::Serving) {
                        return Err(QueueRefusal::Busy {
                            window: w.window.clone(),
                            ticket: cur.number.clone(),
                        });
                    }
                }
                w.state = if pause {
                    WindowState::Paused
                } else {
                    WindowState::Open
                };
                self.set_window(w);
                let kind = if pause {
                    QueueEventKind::WindowPaused
                } else {
                    QueueEventKind::WindowOpened
                };
                self.event(now, kind, None, window);
                Ok(None)
            }
            WindowCommand::CallNext | WindowCommand::CallHeld { .. } => {
                let staff = self.staffed(&w)?;
                if w.state == WindowState::Paused {
                    return Err(QueueRefusal::Paused(w.window.clone()));
                }
                if let Some(cur) = w.current.as_ref().and_then(|n| self.tickets.get(n)) {
                    if matches!(cur.state, QueueState::Called | QueueState::Serving) {
                        return Err(QueueRefusal::Busy {
                            window: w.window.clone(),
                            ticket: cur.number.clone(),
                        });
                    }
                }
                let number = match cmd {
                    WindowCommand::CallHeld { number } => {
                        let held = self.tickets.get(number).filter(|t| {
                            t.state == QueueState::Hold && t.window.as_deref() == Some(window)
                        });
                        held.ok_or_else(|| QueueRefusal::NotHeld(number.clone()))?;
                        number.clone()
                    }
                    _ => self
                        .callable(rules, &w)
                        .first()
                        .map(|t| t.number.clone())
                        .ok_or_else(|| QueueRefusal::NobodyWaiting(w.window.clone()))?,
                };
                self.move_to(&number, QueueState::Called, Some(window), Some(&staff), now);
                if let Some(t) = self.tickets.get_mut(&number) {
                    t.calls = 1;
                    t.for_window = None;
                }
                w.current = Some(number.clone());
                self.set_window(w);
                let t = self.tickets[&number].clone();
                self.event(now, QueueEventKind::Called, Some(&t), window);
                Ok(Some(number))
            }
            WindowCommand::Recall => {
                let staff = self.staffed(&w)?;
                let t = self.current(&w)?;
                if t.state != QueueState::Called {
                    return Err(wrong(&t, "called"));
                }
                if t.calls >= rules.max_calls {
                    return self.no_show(w, &t.number, now);
                }
                // A recall is a new call period, so the timeline shows every announcement.
                self.move_to(
                    &t.number,
                    QueueState::Called,
                    Some(window),
                    Some(&staff),
                    now,
                );
                if let Some(t) = self.tickets.get_mut(&t.number) {
                    t.calls += 1;
                }
                let t = self.tickets[&t.number].clone();
                self.event(now, QueueEventKind::Called, Some(&t), window);
                Ok(Some(t.number))
            }
            WindowCommand::Start => {
                let staff = self.staffed(&w)?;
                let t = self.current(&w)?;
                if t.state != QueueState::Called {
                    return Err(wrong(&t, "called"));
                }
                self.move_to(
                    &t.number,
                    QueueState::Serving,
                    Some(window),
                    Some(&staff),
                    now,
                );
                let t = self.tickets[&t.number].clone();
                self.event(now, QueueEventKind::Serving, Some(&t), window);
                Ok(Some(t.number))
            }
            WindowCommand::NoShow => {
                self.staffed(&w)?;
                let t = self.current(&w)?;
                if t.state != QueueState::Called {
                    return Err(wrong(&t, "called"));
                }
                self.no_show(w, &t.number, now)
            }
            WindowCommand::Finish => {
                let staff = self.staffed(&w)?;
                let t = self.current(&w)?;
                if !matches!(t.state, QueueState::Called | QueueState::Serving) {
                    return Err(wrong(&t, "serving"));
                }
                self.move_to(
                    &t.number,
                    QueueState::Finished,
                    Some(window),
                    Some(&staff),
                    now,
                );
                w.current = None;
                self.set_window(w);
                let t = self.tickets[&t.number].clone();
                self.event(now, QueueEventKind::Finished, Some(&t), window);
                Ok(Some(t.number))
            }
            WindowCommand::Hold => {
                let staff = self.staffed(&w)?;
                let t = self.current(&w)?;
                if !matches!(t.state, QueueState::Called | QueueState::Serving) {
                    return Err(wrong(&t, "serving"));
                }
                self.move_to(&t.number, QueueState::Hold, Some(window), Some(&staff), now);
                w.current = None;
                self.set_window(w);
                let t = self.tickets[&t.number].clone();
                self.event(now, QueueEventKind::Hold, Some(&t), window);
                Ok(Some(t.number))
            }
            WindowCommand::Transfer {
                service,
                window: to_window,
            } => {
                self.staffed(&w)?;
                let t = self.current(&w)?;
                if !matches!(t.state, QueueState::Called | QueueState::Serving) {
                    return Err(wrong(&t, "serving"));
                }
                if service.is_none() && to_window.is_none() {
                    return Err(QueueRefusal::TransferNowhere);
                }
                if let Some(s) = service {
                    if !self.windows.values().any(|o| o.services.contains(s)) {
                        return Err(QueueRefusal::UnknownService(s.clone()));
                    }
                }
                if let Some(o) = to_window {
                    self.window(o)?;
                }
                self.move_to(&t.number, QueueState::Waiting, None, None, now);
                if let Some(t) = self.tickets.get_mut(&t.number) {
                    if let Some(s) = service {
                        t.service = s.clone();
                    }
                    t.for_window = to_window.clone();
                    t.calls = 0;
                }
                w.current = None;
                self.set_window(w);
                let t = self.tickets[&t.number].clone();
                self.event(now, QueueEventKind::Transferred, Some(&t), window);
                Ok(Some(t.number))
            }
        }
    }

    fn no_show(
        &mut self,
        mut w: QueueWindow,
        number: &str,
        now: &str,
    ) -> Result<Option<String>, QueueRefusal> {
        let staff = w.staff.clone();
        self.move_to(
            number,
            QueueState::NoShow,
            Some(&w.window),
            staff.as_deref(),
            now,
        );
        let window = w.window.clone();
        w.current = None;
        self.set_window(w);
        let t = self.tickets[number].clone();
        self.event(now, QueueEventKind::NoShow, Some(&t), &window);
        Ok(Some(number.to_string()))
    }
}

fn wrong(t: &QueueTicket, wanted: &'static str) -> QueueRefusal {
    QueueRefusal::WrongState {
        ticket: t.number.clone(),
        state: t.state.as_str(),
        wanted,
    }
}

/// The reasons a new ticket is called early, by the hall's rules.
pub fn priority_of(rules: &QueueRules, appointment: bool, age: Option<u32>) -> Vec<PriorityReason> {
    let mut v = Vec::new();
    if appointment {
        v.push(PriorityReason::Appointment);
    }
    if let (Some(min), Some(age)) = (rules.elderly_age, age) {
        if age >= min {
            v.push(PriorityReason::Elderly);
        }
    }
    v
}
