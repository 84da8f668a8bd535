//! The sim profile's A4 printer: a real CUPS scheduler on loopback with a cups-pdf queue,
//! controlled the way an operator controls a queue.

use std::path::Path;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::cups::CupsServer;
use crate::sim::{SimControl, SimFaults};

const PRINTER: &str = "KioskLaser";

pub struct CupsSim {
    id: String,
    uri: String,
    server: Mutex<CupsServer>,
}

impl CupsSim {
    pub fn start(id: &str, root: &Path) -> std::io::Result<CupsSim> {
        let server = CupsServer::start(root)?;
        let uri = server.add_printer(PRINTER)?;
        Ok(CupsSim {
            id: id.to_string(),
            uri,
            server: Mutex::new(server),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&CupsServer) -> std::io::Result<T>) -> Result<T, String> {
        let s = self.server.lock().unwrap_or_else(|p| p.into_inner());
        f(&s).map_err(|e| e.to_string())
    }
}

impl SimControl for CupsSim {
    fn device_id(&self) -> &str {
        &self.id
    }
    fn endpoint(&self) -> String {
        self.uri.clone()
    }
    /// A network printer that dropped off: the queue stops with the reason CUPS gives.
    fn unplug(&self) -> Result<(), String> {
        self.with(|s| s.stop_printer(PRINTER, "printer unreachable"))
    }
    fn replug(&self) -> Result<(), String> {
        self.with(|s| s.start_printer(PRINTER))
    }
    fn set_faults(&self, _faults: SimFaults) -> Result<(), String> {
        Err("line faults do not apply to an IPP printer; use sim ID stop reason=…".into())
    }
    fn inject(&self, what: &str, args: &Value) -> Result<Value, String> {
        match what {
            "stop" => {
                let reason = args
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("stopped at the counter");
                self.with(|s| s.stop_printer(PRINTER, reason))?;
            }
            "start" => self.with(|s| s.start_printer(PRINTER))?,
            other => {
                return Err(format!(
                    "the CUPS printer simulator cannot {other:?}; it can: stop [reason=…], start"
                ))
            }
        }
        Ok(json!({ "printer": PRINTER }))
    }
}
