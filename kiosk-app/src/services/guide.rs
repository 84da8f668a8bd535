//! Guide lights: the light at the module the citizen must use next blinks (the card reader,
//! the scanner, the ticket slot) and goes dark when that step is done. The board is claimed by
//! the journey's session like any other device.

use std::time::Duration;

use serde_json::json;

use crate::runtime::{Claim, Runtime};

/// A module with a guide light, by the name the board's `lights` option gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Module {
    IdCard,
    Scanner,
    Printer,
    Camera,
}

impl Module {
    pub fn light(self) -> &'static str {
        match self {
            Module::IdCard => "idcard",
            Module::Scanner => "scanner",
            Module::Printer => "printer",
            Module::Camera => "camera",
        }
    }
}

/// Blinks (`on = true`) or darkens one module's light. A board without that light, or one
/// that fails, costs the citizen nothing: it is logged, not raised.
pub fn set(rt: &Runtime, board: &Claim, module: Module, on: bool) {
    let args = if on {
        json!({ "module": module.light(), "mode": "blink", "period_ms": 500 })
    } else {
        json!({ "module": module.light(), "mode": "off" })
    };
    // Not journaled: a light is guidance, not an action anyone audits.
    if let Err(e) = rt.call_unrecorded(board, "light", args, Duration::from_secs(2)) {
        tracing::warn!(module = module.light(), on, error = %e, "guide light not set");
    }
}
