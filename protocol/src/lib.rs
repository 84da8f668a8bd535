//! What the device and the centre say to each other, and the catalogue of events a terminal emits.
// The OpenAPI document is one `json!` literal, deeper than the default limit.
#![recursion_limit = "256"]

pub mod cases;
pub mod documents;
pub mod events;
pub mod gateway;
pub mod openapi;
pub mod queue;
pub mod signing;
pub mod update_bundle;
pub mod wire;

pub use events::{Category, Disposition, Event, EventKind};

/// The device ↔ centre API version; bumped on any incompatible change of `wire`.
pub const API_VERSION: &str = "v1";
