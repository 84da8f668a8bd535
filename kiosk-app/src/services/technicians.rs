//! Who may open the admin mode: the `[admin]` section's technicians, each with a staff number
//! and an Argon2 hash of their PIN (never the PIN itself; `kiosk admin hash-pin` makes one),
//! optionally the UID of their staff badge (a card on the PC/SC reader stands in for the
//! staff number; the PIN is still asked), and the counters of the supplies a technician replaces. Without technicians, the older
//! shared `ui.staff_pin` still opens the pad, and the audit log says so.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[admin]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    #[serde(default)]
    pub technicians: Vec<Technician>,
    /// Prints a full roll or tray holds, by device id (receipt printers default to 500
    /// tickets a roll, A4 printers to 250 sheets a tray).
    #[serde(default)]
    pub supplies: BTreeMap<String, u64>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Technician {
    /// The staff number (工号) typed on the pad: digits only, so the pad can take it.
    pub staff_no: String,
    /// How the audit log and the admin screens name them.
    #[serde(default)]
    pub name: String,
    /// `$argon2id$…` as `kiosk admin hash-pin` prints it.
    pub pin_hash: String,
    /// The UID of their staff badge (工作证) as the PC/SC reader reads it: 4, 7 or 10 bytes
    /// in hex, as `kiosk devctl --config F sscard card-uid` prints it. A UID can be copied,
    /// so it only names the technician; the PIN still proves it is them.
    #[serde(default)]
    pub card_uid: Option<String>,
}

impl std::fmt::Debug for Technician {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Technician")
            .field("staff_no", &self.staff_no)
            .field("name", &self.name)
            .field("card", &self.card_uid.is_some())
            .finish_non_exhaustive()
    }
}

impl AdminConfig {
    /// Checks the entries; the message names the bad one.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut cards = std::collections::BTreeSet::new();
        for t in &self.technicians {
            if !(1..=12).contains(&t.staff_no.len())
                || !t.staff_no.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(format!(
                    "admin.technicians: staff_no {:?} must be 1 to 12 digits",
                    t.staff_no
                ));
            }
            if !seen.insert(t.staff_no.as_str()) {
                return Err(format!(
                    "admin.technicians: staff_no {:?} appears twice",
                    t.staff_no
                ));
            }
            if let Some(uid) = &t.card_uid {
                let bytes = hex::decode(uid).map_err(|_| {
                    format!(
                        "admin.technicians: the card_uid of {:?} is not hex",
                        t.staff_no
                    )
                })?;
                if ![4, 7, 10].contains(&bytes.len()) {
                    return Err(format!(
                        "admin.technicians: the card_uid of {:?} must be 4, 7 or 10 bytes",
                        t.staff_no
                    ));
                }
                if !cards.insert(bytes) {
                    return Err(format!(
                        "admin.technicians: the card_uid of {:?} is another technician's too",
                        t.staff_no
                    ));
                }
            }
            if argon2::password_hash::PasswordHash::new(&t.pin_hash).is_err() {
                return Err(format!(
                    "admin.technicians: the pin_hash of {:?} is not a PHC string; make one with `kiosk admin hash-pin`",
                    t.staff_no
                ));
            }
        }
        for (id, n) in &self.supplies {
            if *n == 0 {
                return Err(format!("admin.supplies.{id} must be at least 1"));
            }
        }
        Ok(())
    }
}

/// What the staff pad checks a try against.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub technicians: Vec<Technician>,
    /// The shared PIN of `ui.staff_pin`, used only when no technician is configured.
    pub shared_pin: Option<String>,
}

/// Who opened the pad, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opener {
    Technician { staff_no: String, name: String },
    SharedPin,
}

impl Opener {
    pub fn staff_no(&self) -> Option<&str> {
        match self {
            Opener::Technician { staff_no, .. } => Some(staff_no),
            Opener::SharedPin => None,
        }
    }
}

impl Credentials {
    /// Staff numbers are asked for (technicians are configured).
    pub fn personal(&self) -> bool {
        !self.technicians.is_empty()
    }

    /// Some technician has a staff badge: the pad takes cards on the PC/SC reader.
    pub fn takes_cards(&self) -> bool {
        self.technicians.iter().any(|t| t.card_uid.is_some())
    }

    /// The staff number of the badge with `uid` (hex, either case), if it is a technician's.
    pub fn card_holder(&self, uid: &str) -> Option<&str> {
        let uid = hex::decode(uid).ok()?;
        self.technicians
            .iter()
            .find(|t| {
                t.card_uid
                    .as_deref()
                    .and_then(|c| hex::decode(c).ok())
                    .is_some_and(|c| c == uid)
            })
            .map(|t| t.staff_no.as_str())
    }

    /// No way in is configured: the pad says so.
    pub fn none(&self) -> bool {
        self.technicians.is_empty() && self.shared_pin.is_none()
    }

    /// The opener for `staff_no` and `pin`, or None. An unknown staff number costs the same
    /// Argon2 work as a known one, so the time taken does not tell which numbers exist.
    pub fn check(&self, staff_no: Option<&str>, pin: &str) -> Option<Opener> {
        if self.personal() {
            let staff_no = staff_no?;
            let found = self.technicians.iter().find(|t| t.staff_no == staff_no);
            let hash: &str = match found {
                Some(t) => &t.pin_hash,
                None => dummy_hash(),
            };
            let ok = kiosk_central::staff::pin_matches(pin, hash);
            return found.filter(|_| ok).map(|t| Opener::Technician {
                staff_no: t.staff_no.clone(),
                name: t.name.clone(),
            });
        }
        let shared = self.shared_pin.as_deref()?;
        constant_time_eq(shared.as_bytes(), pin.as_bytes()).then_some(Opener::SharedPin)
    }
}

/// An Argon2id hash of no one's PIN (not digits, so nothing typed matches), checked for an
/// unknown staff number.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| kiosk_central::staff::hash_pin("no-one").unwrap_or_default())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tech(no: &str, pin: &str) -> Technician {
        Technician {
            staff_no: no.into(),
            name: "王工".into(),
            pin_hash: kiosk_central::staff::hash_pin(pin).unwrap(),
            card_uid: None,
        }
    }

    #[test]
    fn a_badge_names_its_technician_whichever_case_its_uid_is_written_in() {
        let mut t = tech("1024", "135790");
        t.card_uid = Some("04a1b2c3".into());
        let c = Credentials {
            technicians: vec![tech("2048", "246810"), t],
            shared_pin: None,
        };
        assert!(c.takes_cards());
        assert_eq!(c.card_holder("04A1B2C3"), Some("1024"));
        assert_eq!(c.card_holder("04A1B2C4"), None);
        assert_eq!(c.card_holder("not hex"), None);
        assert!(!Credentials::default().takes_cards());
    }

    #[test]
    fn a_technician_opens_with_their_own_pin_only() {
        let c = Credentials {
            technicians: vec![tech("1024", "135790"), tech("2048", "246810")],
            shared_pin: Some("111111".into()),
        };
        assert!(c.personal());
        assert_eq!(
            c.check(Some("1024"), "135790"),
            Some(Opener::Technician {
                staff_no: "1024".into(),
                name: "王工".into()
            })
        );
        assert_eq!(c.check(Some("1024"), "246810"), None, "another's PIN");
        assert_eq!(c.check(Some("9999"), "135790"), None, "unknown number");
        assert_eq!(c.check(None, "135790"), None);
        // The shared PIN no longer opens once technicians are configured.
        assert_eq!(c.check(Some("1024"), "111111"), None);
    }

    #[test]
    fn the_shared_pin_opens_when_no_technician_is_configured() {
        let c = Credentials {
            technicians: vec![],
            shared_pin: Some("246810".into()),
        };
        assert_eq!(c.check(None, "246810"), Some(Opener::SharedPin));
        assert_eq!(c.check(None, "24681"), None);
        assert!(Credentials::default().none());
        assert_eq!(Credentials::default().check(None, "246810"), None);
    }

    #[test]
    fn bad_entries_are_named() {
        let mut a = AdminConfig {
            technicians: vec![tech("10a4", "1234")],
            ..Default::default()
        };
        assert!(a.check().unwrap_err().contains("10a4"));
        a.technicians = vec![tech("1024", "1234"), tech("1024", "5678")];
        assert!(a.check().unwrap_err().contains("twice"));
        a.technicians = vec![Technician {
            staff_no: "1".into(),
            name: String::new(),
            pin_hash: "135790".into(),
            card_uid: None,
        }];
        assert!(a.check().unwrap_err().contains("hash-pin"));
        let badge = |no: &str, uid: &str| Technician {
            card_uid: Some(uid.into()),
            ..tech(no, "1234")
        };
        a.technicians = vec![badge("1", "04A1B2")];
        assert!(a.check().unwrap_err().contains("4, 7 or 10 bytes"));
        a.technicians = vec![badge("1", "04A1B2ZZ")];
        assert!(a.check().unwrap_err().contains("not hex"));
        a.technicians = vec![badge("1", "04A1B2C3"), badge("2", "04a1b2c3")];
        assert!(a.check().unwrap_err().contains("another technician's"));
        a.technicians = vec![badge("1", "04A1B2C3"), badge("2", "04A1B2C30A0B0C")];
        assert!(a.check().is_ok());
        a.technicians.clear();
        a.supplies.insert("printer".into(), 0);
        assert!(a.check().unwrap_err().contains("admin.supplies.printer"));
        // A Debug print never shows the hash.
        let t = tech("1024", "1234");
        assert!(!format!("{t:?}").contains("argon2"));
    }
}
