//! A citizen's session owns all personal data of one visit — who the card says they are, the
//! codes they scanned, later their answers and captured images — and wipes it (zeroize) when
//! the session ends: done, cancelled or timed out. Nothing of it is kept anywhere else in the
//! flows; what must outlive the visit leaves only through the journal.

use std::time::Duration;

use zeroize::{Zeroize, Zeroizing};

use crate::services::card::CitizenIdentity;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Done,
    Cancelled,
    TimedOut,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Done => "done",
            EndReason::Cancelled => "cancelled",
            EndReason::TimedOut => "timed-out",
        }
    }
}

pub struct Session {
    pub id: u64,
    pub journey: &'static str,
    /// On the terminal's clock.
    pub started: Duration,
    identity: Option<CitizenIdentity>,
    appointment: Option<Zeroizing<String>>,
    /// Every code scanned during the visit, whatever it was.
    codes: Vec<Zeroizing<String>>,
}

impl Session {
    pub fn new(id: u64, journey: &'static str, started: Duration) -> Session {
        Session {
            id,
            journey,
            started,
            identity: None,
            appointment: None,
            codes: Vec::new(),
        }
    }

    pub fn set_identity(&mut self, identity: CitizenIdentity) {
        self.identity = Some(identity);
    }

    pub fn identity(&self) -> Option<&CitizenIdentity> {
        self.identity.as_ref()
    }

    /// Keeps a scanned code; returns it for the moment it is needed.
    pub fn scanned(&mut self, code: Zeroizing<String>, appointment: bool) {
        if appointment {
            self.appointment = Some(code.clone());
        }
        self.codes.push(code);
    }

    pub fn appointment(&self) -> Option<&str> {
        self.appointment.as_deref().map(String::as_str)
    }

    /// Forgets who the citizen is for the current ticket (after "back" or a failed check),
    /// keeping the session itself.
    pub fn forget(&mut self) {
        self.identity = None;
        self.appointment = None;
    }

    /// Whether the session holds any personal data.
    pub fn holds_personal_data(&self) -> bool {
        self.identity.is_some() || self.appointment.is_some() || !self.codes.is_empty()
    }

    /// Wipes everything it holds (also done when it is dropped).
    pub fn wipe(&mut self) {
        self.identity = None;
        self.appointment = None;
        for c in &mut self.codes {
            c.zeroize();
        }
        self.codes.clear();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.wipe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wiped_session_holds_nothing() {
        let mut s = Session::new(1, "ticket", Duration::ZERO);
        assert!(!s.holds_personal_data());
        s.set_identity(CitizenIdentity {
            name: "张三丰".into(),
            number: "320583199001011234".into(),
            card_type: "resident".into(),
            valid_to: "2040-05-01".into(),
        });
        s.scanned(Zeroizing::new("YY20261202-0042".into()), true);
        assert_eq!(s.appointment(), Some("YY20261202-0042"));
        assert!(s.holds_personal_data());
        s.forget();
        assert!(s.identity().is_none() && s.appointment().is_none());
        assert!(
            s.holds_personal_data(),
            "the scanned code stays until the session ends"
        );
        s.wipe();
        assert!(!s.holds_personal_data());
    }
}
