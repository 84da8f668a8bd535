//! The HallKit runtime as a library, so end-to-end tests drive the same code as the `kiosk` binary.

pub mod attachments;
pub mod centre_link;
pub mod config;
pub mod devctl;
pub mod documents;
pub mod face;
pub mod identity;
pub mod imaging;
pub mod logging;
pub mod outbox;
pub mod outputs;
pub mod remote;
pub mod runtime;
pub mod screen;
pub mod simulate;
pub mod sync;
pub mod tls;
pub mod window_watchdog;

pub use config::{Config, ConfigError, Profile};
pub use runtime::{DeviceStatus, EventBus, Runtime};
