//! Journeys as pure state machines — `(state, input) → (state, effects)` — and the host that
//! runs them. `ticket` is the queue-ticket journey; `guide` the service guide
//! (find an item, its guide, situation questions, the material list); `identify` the login
//! (card with face or fingerprint, e-ID code, filing for someone) the application and print
//! journeys start with; `idcopy` the ID card copy; `query` checking cases; `papers` printing
//! e-licences and proofs; `kiosk` is the screen around journeys
//! (attract, home, staff entry, help, language, idle); `session` holds a visit's personal data
//! and wipes it; `idle` is the countdown; `host` performs effects on the services and owns the
//! timers, on the terminal's injectable clock.

pub mod admin;
pub mod apply;
pub mod guide;
pub mod host;
pub mod idcopy;
pub mod identify;
pub mod idle;
pub mod kiosk;
pub mod papers;
pub mod query;
pub mod rating;
pub mod session;
pub mod ticket;
pub mod window;
pub mod window_host;

#[cfg(test)]
mod tests;
