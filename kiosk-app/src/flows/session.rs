//! A citizen's session owns all personal data of one visit — who the card says they are, the
//! codes they scanned, later their answers and captured images — and wipes it (zeroize) when
//! the session ends: done, cancelled or timed out. Nothing of it is kept anywhere else in the
//! flows; what must outlive the visit leaves only through the journal.

use std::time::Duration;

use zeroize::{Zeroize, Zeroizing};

use crate::services::card::{CardBiometrics, CitizenIdentity};

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
    /// Who files for the citizen (代办人), once confirmed; `identity` is then the principal.
    agent: Option<CitizenIdentity>,
    appointment: Option<Zeroizing<String>>,
    /// Every code scanned during the visit, whatever it was.
    codes: Vec<Zeroizing<String>>,
    /// The card's photo and fingerprint block, for the login's comparison.
    biometrics: Option<CardBiometrics>,
    /// How the citizen was identified, once they are (`id-card+face`, …).
    identified: Option<&'static str>,
    /// Pictures and documents made during the visit, by name (`front`, `back`, `copy-pdf`).
    kept: Vec<(&'static str, Zeroizing<Vec<u8>>)>,
}

impl Session {
    pub fn new(id: u64, journey: &'static str, started: Duration) -> Session {
        Session {
            id,
            journey,
            started,
            identity: None,
            agent: None,
            appointment: None,
            codes: Vec::new(),
            biometrics: None,
            identified: None,
            kept: Vec::new(),
        }
    }

    pub fn set_biometrics(&mut self, b: CardBiometrics) {
        self.biometrics = Some(b);
    }

    pub fn biometrics(&self) -> Option<&CardBiometrics> {
        self.biometrics.as_ref()
    }

    /// The person the session's identity names is confirmed, by `factor`.
    pub fn identified(&mut self, factor: &'static str) {
        self.identified = Some(factor);
    }

    /// The confirmed citizen, if the login succeeded.
    pub fn citizen(&self) -> Option<(&CitizenIdentity, &'static str)> {
        Some((self.identity.as_ref()?, self.identified?))
    }

    /// Keeps `bytes` as `name` (replacing what was kept under it).
    pub fn keep(&mut self, name: &'static str, bytes: Zeroizing<Vec<u8>>) {
        self.kept.retain(|(n, _)| *n != name);
        self.kept.push((name, bytes));
    }

    pub fn kept(&self, name: &str) -> Option<&Zeroizing<Vec<u8>>> {
        self.kept.iter().find(|(n, _)| *n == name).map(|(_, b)| b)
    }

    /// Drops what was kept as `name` (wiped as it goes).
    pub fn drop_kept(&mut self, name: &str) {
        self.kept.retain(|(n, _)| *n != name);
    }

    /// The identity just confirmed is an agent's: it moves aside for the principal's card.
    pub fn identity_is_agent(&mut self) {
        if let Some(i) = self.identity.take() {
            self.agent = Some(i);
        }
        self.biometrics = None;
    }

    pub fn agent(&self) -> Option<&CitizenIdentity> {
        self.agent.as_ref()
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
        self.agent = None;
        self.appointment = None;
        self.biometrics = None;
        self.identified = None;
    }

    /// Whether the session holds any personal data.
    pub fn holds_personal_data(&self) -> bool {
        self.identity.is_some()
            || self.agent.is_some()
            || self.appointment.is_some()
            || !self.codes.is_empty()
            || self.biometrics.is_some()
            || !self.kept.is_empty()
    }

    /// Wipes everything it holds (also done when it is dropped).
    pub fn wipe(&mut self) {
        self.identity = None;
        self.agent = None;
        self.appointment = None;
        self.biometrics = None;
        self.identified = None;
        self.kept.clear();
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
            address: String::new(),
            nation: String::new(),
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

    #[test]
    fn biometrics_login_and_pictures_go_with_the_session() {
        let mut s = Session::new(2, "id-copy", Duration::ZERO);
        s.set_identity(CitizenIdentity {
            name: "张三丰".into(),
            number: "320583199001011232".into(),
            card_type: "resident".into(),
            address: String::new(),
            nation: String::new(),
            valid_to: "2040-05-01".into(),
        });
        s.set_biometrics(CardBiometrics {
            photo_bmp: Some(Zeroizing::new(b"BM..".to_vec())),
            fingerprint: None,
        });
        assert!(s.citizen().is_none(), "read is not identified");
        s.identified("id-card+face");
        assert_eq!(s.citizen().map(|(_, f)| f), Some("id-card+face"));
        s.keep("front", Zeroizing::new(vec![1, 2, 3]));
        s.keep("front", Zeroizing::new(vec![4]));
        assert_eq!(s.kept("front").map(|b| b.as_slice()), Some(&[4u8][..]));
        s.drop_kept("front");
        assert!(s.kept("front").is_none());
        s.keep("back", Zeroizing::new(vec![5]));
        s.forget();
        assert!(s.biometrics().is_none() && s.citizen().is_none());
        assert!(s.holds_personal_data(), "the pictures stay until the end");
        s.wipe();
        assert!(!s.holds_personal_data());
    }
}
