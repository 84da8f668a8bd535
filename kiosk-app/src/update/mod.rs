//! Signed A/B updates: the bundle format (`bundle`), the slots with their health-gated commit
//! (`slots`), and when an update may be installed (`window`).

pub use kiosk_protocol::update_bundle as bundle;
pub mod slots;
pub mod window;

#[cfg(test)]
mod tests;

pub use slots::{no_faults, Outcome, Slots, Step, UpdateError, UpdateResult, UpdateState};
