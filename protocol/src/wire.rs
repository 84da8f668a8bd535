//! Wire types of the device ↔ centre API (JSON over HTTPS).

use serde::{Deserialize, Serialize};

/// `GET /health` of the central service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentreHealth {
    /// `ok` when the service and its store answer.
    pub status: String,
    pub api_version: String,
    pub service_version: String,
    /// The storage backend in use (`sqlite`, `postgres`).
    pub store: String,
    pub schema_version: u32,
    pub enrolled_devices: u64,
}

impl CentreHealth {
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_round_trips_as_json() {
        let h = CentreHealth {
            status: "ok".into(),
            api_version: crate::API_VERSION.into(),
            service_version: "0.1.0".into(),
            store: "sqlite".into(),
            schema_version: 1,
            enrolled_devices: 0,
        };
        let s = serde_json::to_string(&h).unwrap();
        assert!(s.contains("\"api_version\":\"v1\""));
        assert_eq!(serde_json::from_str::<CentreHealth>(&s).unwrap(), h);
        assert!(serde_json::from_str::<CentreHealth>("{\"status\":\"ok\"}").is_err());
    }
}
