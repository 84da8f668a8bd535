//! One connection's requests: requestIds must be positive and rising, none may be reused while
//! in flight, at most so many device commands run at once, and a cancel reaches only this
//! connection's own requests. Kept apart from the socket so every rule is tested on its own.

use std::collections::BTreeMap;

use kiosk_hal::device::CancelToken;
use kiosk_protocol::gateway::{AckStatus, Command};

struct InFlight {
    cancel: CancelToken,
    canceled: bool,
    /// Counts against the in-flight limit (device commands do; `Common.*` do not, so a cancel
    /// always gets through).
    counted: bool,
}

pub struct Requests {
    max_in_flight: usize,
    highest: u64,
    in_flight: BTreeMap<u64, InFlight>,
}

impl Requests {
    pub fn new(max_in_flight: usize) -> Requests {
        Requests {
            max_in_flight: max_in_flight.max(1),
            highest: 0,
            in_flight: BTreeMap::new(),
        }
    }

    /// Takes `cmd` in, or says which acknowledgement refuses it.
    pub fn admit(&mut self, cmd: &Command) -> Result<CancelToken, (AckStatus, String)> {
        let id = cmd.request_id;
        if self.in_flight.contains_key(&id) {
            return Err((
                AckStatus::InvalidRequestId,
                format!("requestId {id} is in flight already"),
            ));
        }
        if id <= self.highest {
            return Err((
                AckStatus::InvalidRequestId,
                format!(
                    "requestId {id} is not above this connection's earlier {}",
                    self.highest
                ),
            ));
        }
        let counted = !cmd.name.starts_with("Common.");
        if counted && self.in_flight.values().filter(|r| r.counted).count() >= self.max_in_flight {
            return Err((
                AckStatus::TooManyRequests,
                format!(
                    "{} commands are in flight on this connection",
                    self.max_in_flight
                ),
            ));
        }
        self.highest = id;
        let cancel = CancelToken::new();
        self.in_flight.insert(
            id,
            InFlight {
                cancel: cancel.clone(),
                canceled: false,
                counted,
            },
        );
        Ok(cancel)
    }

    /// The request completed; returns whether a cancel had been asked for it.
    pub fn finish(&mut self, id: u64) -> bool {
        self.in_flight.remove(&id).is_some_and(|r| r.canceled)
    }

    /// Asks `ids` to stop (all of this connection's requests when empty), except `except` (the
    /// cancel request itself). Returns those asked.
    pub fn cancel(&mut self, ids: &[u64], except: u64) -> Vec<u64> {
        let mut asked = Vec::new();
        for (id, r) in self.in_flight.iter_mut() {
            if *id == except || !(ids.is_empty() || ids.contains(id)) {
                continue;
            }
            r.canceled = true;
            r.cancel.cancel();
            asked.push(*id);
        }
        asked
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn cmd(name: &str, id: u64) -> Command {
        Command {
            name: name.into(),
            request_id: id,
            timeout_ms: None,
            version: None,
            payload: Value::Null,
        }
    }

    #[test]
    fn request_ids_rise_and_are_never_reused() {
        let mut r = Requests::new(2);
        r.admit(&cmd("IdCard.Read", 5)).unwrap();
        assert_eq!(
            r.admit(&cmd("IdCard.Read", 5)).unwrap_err().0,
            AckStatus::InvalidRequestId
        );
        assert_eq!(
            r.admit(&cmd("IdCard.Read", 4)).unwrap_err().0,
            AckStatus::InvalidRequestId
        );
        assert!(!r.finish(5));
        // Done, but still not reusable: a late answer must never be confused with a new one.
        assert_eq!(
            r.admit(&cmd("IdCard.Read", 5)).unwrap_err().0,
            AckStatus::InvalidRequestId
        );
        r.admit(&cmd("IdCard.Read", 9)).unwrap();
    }

    #[test]
    fn too_many_device_commands_are_refused_but_a_cancel_gets_through() {
        let mut r = Requests::new(2);
        let a = r.admit(&cmd("IdCard.Read", 1)).unwrap();
        let b = r.admit(&cmd("Scanner.Scan", 2)).unwrap();
        assert_eq!(
            r.admit(&cmd("Printer.PrintReceipt", 3)).unwrap_err().0,
            AckStatus::TooManyRequests
        );
        r.admit(&cmd("Common.Cancel", 4)).unwrap();
        assert_eq!(r.cancel(&[1], 4), vec![1]);
        assert!(a.is_canceled());
        assert!(!b.is_canceled());
        assert!(r.finish(1));
        assert!(!r.finish(2));
        r.admit(&cmd("Common.Cancel", 5)).unwrap();
        r.admit(&cmd("IdCard.Read", 6)).unwrap();
        // An empty list cancels everything but the cancel itself; unknown ids are ignored.
        assert_eq!(r.cancel(&[], 5), vec![4, 6]);
        assert_eq!(r.cancel(&[77], 5), Vec::<u64>::new());
        assert_eq!(r.in_flight(), 3);
    }
}
