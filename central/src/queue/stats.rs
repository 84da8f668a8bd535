//! Queue statistics from the tickets' timelines: calls, served, no-shows, transfers, average
//! wait and handling, satisfaction — in total and per window, service, hour and day.

use std::collections::BTreeMap;

use kiosk_protocol::queue::{QueueFigures, QueueState, QueueStats, QueueTicket};

/// Sums before averaging.
#[derive(Default)]
struct Acc {
    f: QueueFigures,
    wait_sum: f64,
    waits: u32,
    handling_sum: f64,
    handled: u32,
    satisfied: u32,
}

impl Acc {
    fn finish(self) -> QueueFigures {
        let avg = |sum: f64, n: u32| (n > 0).then(|| (sum / n as f64 * 10.0).round() / 10.0);
        QueueFigures {
            average_wait_s: avg(self.wait_sum, self.waits),
            average_handling_s: avg(self.handling_sum, self.handled),
            satisfaction: (self.f.ratings > 0)
                .then(|| (self.satisfied as f64 / self.f.ratings as f64 * 1000.0).round() / 1000.0),
            ..self.f
        }
    }
}

fn seconds(from: &str, to: &str) -> Option<f64> {
    let a = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    Some(((b - a).num_milliseconds().max(0)) as f64 / 1000.0)
}

/// The hour (CST, `08`) of an RFC 3339 time.
fn cst_hour(at: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    Some(
        (t.with_timezone(&chrono::Utc) + chrono::Duration::hours(8))
            .format("%H")
            .to_string(),
    )
}

/// What one ticket adds to the figures, with the window, service and hour it counts under.
struct Contribution {
    window: Option<String>,
    service: String,
    hour: Option<String>,
    day: String,
    calls: u32,
    served: bool,
    no_show: bool,
    transfers: u32,
    wait_s: Option<f64>,
    handling_s: Option<f64>,
    rating: Option<u8>,
}

fn contribution(t: &QueueTicket) -> Contribution {
    let called = |s: QueueState| s == QueueState::Called;
    let first_call = t.periods.iter().find(|p| called(p.state));
    // A transfer shows as a return to waiting after the ticket was called.
    let mut transfers = 0;
    let mut seen_call = false;
    for p in &t.periods {
        if matches!(p.state, QueueState::Called | QueueState::Serving) {
            seen_call = true;
        } else if p.state == QueueState::Waiting && seen_call {
            transfers += 1;
            seen_call = false;
        }
    }
    let handling: f64 = t
        .periods
        .iter()
        .filter(|p| p.state == QueueState::Serving)
        .filter_map(|p| seconds(&p.from, p.to.as_deref()?))
        .sum();
    let last_window = t.periods.iter().rev().find_map(|p| p.window.clone());
    Contribution {
        window: last_window,
        service: t.service.clone(),
        hour: cst_hour(&t.arrived_at),
        day: t.day.clone(),
        calls: t.periods.iter().filter(|p| called(p.state)).count() as u32,
        served: t.state == QueueState::Finished,
        no_show: t.state == QueueState::NoShow,
        transfers,
        wait_s: first_call.and_then(|p| seconds(&t.arrived_at, &p.from)),
        handling_s: (t.state == QueueState::Finished
            && t.periods.iter().any(|p| p.state == QueueState::Serving))
        .then_some(handling),
        rating: t.rating,
    }
}

fn add(acc: &mut Acc, c: &Contribution) {
    acc.f.issued += 1;
    acc.f.calls += c.calls;
    acc.f.served += c.served as u32;
    acc.f.no_shows += c.no_show as u32;
    acc.f.transfers += c.transfers;
    if let Some(w) = c.wait_s {
        acc.wait_sum += w;
        acc.waits += 1;
    }
    if let Some(h) = c.handling_s {
        acc.handling_sum += h;
        acc.handled += 1;
    }
    if let Some(r) = c.rating {
        acc.f.ratings += 1;
        acc.satisfied += (r >= 4) as u32;
    }
}

/// The figures of `tickets` (a hall's, for the days `from` ..= `to`). Cancelled tickets (a
/// failed print) count for nothing.
pub fn figures(hall: &str, from: &str, to: &str, tickets: &[QueueTicket]) -> QueueStats {
    let mut total = Acc::default();
    let mut by_window: BTreeMap<String, Acc> = BTreeMap::new();
    let mut by_service: BTreeMap<String, Acc> = BTreeMap::new();
    let mut by_hour: BTreeMap<String, Acc> = BTreeMap::new();
    let mut by_day: BTreeMap<String, Acc> = BTreeMap::new();
    for t in tickets.iter().filter(|t| t.state != QueueState::Cancelled) {
        let c = contribution(t);
        add(&mut total, &c);
        if let Some(w) = &c.window {
            add(by_window.entry(w.clone()).or_default(), &c);
        }
        add(by_service.entry(c.service.clone()).or_default(), &c);
        if let Some(h) = &c.hour {
            add(by_hour.entry(h.clone()).or_default(), &c);
        }
        add(by_day.entry(c.day.clone()).or_default(), &c);
    }
    let done = |m: BTreeMap<String, Acc>| m.into_iter().map(|(k, a)| (k, a.finish())).collect();
    QueueStats {
        hall: hall.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        total: total.finish(),
        by_window: done(by_window),
        by_service: done(by_service),
        by_hour: done(by_hour),
        by_day: done(by_day),
    }
}
