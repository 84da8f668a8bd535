//! The HallKit runtime as a library, so end-to-end tests drive the same code as the `kiosk` binary.

pub mod centre_link;
pub mod config;
pub mod devctl;
pub mod logging;
pub mod runtime;
pub mod screen;
pub mod simulate;

pub use config::{Config, ConfigError, Profile};
pub use runtime::{DeviceStatus, EventBus, Runtime};
