//! Journeys as pure state machines — `(state, input) → (state, effects)` — and the host that
//! runs them. `ticket` is the queue-ticket journey; `kiosk` is the screen around journeys
//! (attract, home, staff entry, help, language, idle); `session` holds a visit's personal data
//! and wipes it; `idle` is the countdown; `host` performs effects on the services and owns the
//! timers, on the terminal's injectable clock.

pub mod host;
pub mod idle;
pub mod kiosk;
pub mod session;
pub mod ticket;

#[cfg(test)]
mod tests;
