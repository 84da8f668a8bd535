//! HallKit device drivers. One module per device family, each with its simulator beside it: the
//! device side of the same protocol, run at the other end of a real pseudo-terminal or socket so
//! tests and the sim profile drive the real driver code.

pub mod board;
pub mod camera;
pub mod escpos;
pub mod fingerprint;
pub mod idcard;
pub mod ipp;
pub mod pcsc;
pub mod registry;
pub mod scanner;
pub mod seal;
pub mod sim;
pub mod spec;

pub use registry::{find_driver, DriverEntry, DRIVERS};
pub use sim::{SimControl, SimEnv, SimFaults};
pub use spec::{DeviceSpec, TransportKind};

/// Why a driver could not be made from its device table entry. A device that is merely absent
/// is not an error here: the driver starts and reports `no-device` until it appears.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("device {device}: {message}")]
    Config { device: String, message: String },
    #[error("device {device}: driver {driver} is not available in this build: {why}")]
    Unavailable {
        device: String,
        driver: String,
        why: String,
    },
    #[error("device {device}: simulator failed to start: {source}")]
    Simulator {
        device: String,
        #[source]
        source: std::io::Error,
    },
}

impl DriverError {
    pub fn config(spec: &DeviceSpec, message: impl Into<String>) -> Self {
        DriverError::Config {
            device: spec.id.clone(),
            message: message.into(),
        }
    }
}
