//! The HallKit runtime as a library, so end-to-end tests drive the same code as the `kiosk` binary.
//!
//! Rooms, and which way their arrows point (a room uses only the rooms below it):
//!
//! - `cli/`: one file per subcommand of `kiosk`; `main.rs` only parses and dispatches.
//! - `terminal/`: the composition root: starts and stops everything as named, supervised tasks.
//! - `gateway/`: the local device API for browser business systems; reads state, sends intents.
//! - `ui/`: binds flow and runtime state to the Slint globals; sends intents.
//! - `flows/`: journeys as pure state machines, and the host that runs their effects.
//! - `services/`: typed capabilities journeys use (outputs, face, card, queue, lights …).
//! - `centre/`: the one client for the central service and what rides on it.
//! - `journal/`: the outbox and every durable record, with versioned migrations.
//! - `runtime/`: the running devices, the event bus, device claims.
//! - `config/`: the configuration file and its sections, with file positions for errors.

pub mod centre;
pub mod cli;
pub mod config;
pub mod flows;
pub mod gateway;
pub mod journal;
pub mod logging;
pub mod runtime;
pub mod services;
pub mod terminal;
pub mod ui;
pub mod update;

pub use config::{Config, ConfigError, Profile};
pub use runtime::{DeviceStatus, EventBus, Runtime};
