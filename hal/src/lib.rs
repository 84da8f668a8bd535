//! HallKit hardware abstraction layer.
//!
//! Everything a driver needs to talk to a device and everything a flow needs to reason about one:
//! byte transports, a length-driven frame receiver, the device model (kinds, health, completions,
//! progress, cancellation, exclusive claim), board I/O through `embedded-hal`, one injectable
//! clock, and the masking helpers that keep personal data out of logs.

pub mod actor;
pub mod board;
pub mod child;
pub mod clock;
pub mod device;
pub mod frame;
pub mod privacy;
pub mod transport;

pub use device::{
    CentreState, CommandError, Completion, CompletionCode, DeviceInfo, DeviceKind, Health,
    HealthReport, Progress, SubStatus,
};
pub use transport::{Transport, TransportError};
