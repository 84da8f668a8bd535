//! Signed A/B updates: the bundle format (`bundle`), the slots with their health-gated commit
//! (`slots`), an update the centre ordered waiting to be installed (`staging`), and when an
//! update may be installed (`window`).

pub use kiosk_protocol::update_bundle as bundle;
pub mod slots;
pub mod staging;
pub mod window;

#[cfg(test)]
mod tests;

pub use slots::{no_faults, Outcome, Slots, Step, UpdateError, UpdateResult, UpdateState};

/// The software version running: the `VERSION` its update slot holds beside the binary,
/// else the build's own.
pub fn running_version() -> String {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| std::fs::read_to_string(exe.with_file_name("VERSION")).ok())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty() && v.len() <= 64)
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string())
        })
        .clone()
}

/// The event that tells the centre (and the audit log) how an update ended.
pub fn outcome_event(o: &Outcome, at: chrono::DateTime<chrono::Utc>) -> kiosk_protocol::Event {
    kiosk_protocol::Event::new(kiosk_protocol::EventKind::UpdateOutcome, at)
        .field("version", o.version.clone())
        .field("result", serde_json::to_value(o.result).unwrap_or_default())
        .field("reason", o.reason.clone())
        .field("at", o.at.clone())
}
