//! The hall's staff directory: who may sit at a window, with a PIN kept as an Argon2 hash. Five
//! wrong PINs lock a staff number for 15 minutes; the count and the lock live in the database,
//! so a restart of the centre or the window unit does not reset them. Every attempt is audited
//! (never the PIN).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Wrong PINs before the lock, and how long it lasts.
pub const PIN_TRIES: u32 = 5;
pub const PIN_LOCK_MINUTES: i64 = 15;

/// A directory entry as kept (the PIN only as its hash).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StaffEntry {
    pub staff: String,
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub photo_jpeg_base64: Option<String>,
    pub pin_hash: String,
}

/// Why a clerk is not let in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffRefusal {
    #[error("no staff number {0} in this hall's directory")]
    Unknown(String),
    #[error("wrong PIN; {tries_left} tries left before a {PIN_LOCK_MINUTES}-minute lock")]
    WrongPin { tries_left: u32 },
    #[error("too many wrong PINs: locked until {until}")]
    Locked { until: String },
}

impl StaffRefusal {
    pub fn reason(&self) -> &'static str {
        match self {
            StaffRefusal::Unknown(_) => "staff-unknown",
            StaffRefusal::WrongPin { .. } => "pin-wrong",
            StaffRefusal::Locked { .. } => "locked",
        }
    }
}

/// A PIN is 4 to 12 digits.
pub fn is_pin(pin: &str) -> bool {
    (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

pub fn hash_pin(pin: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn pin_matches(pin: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The failure count and lock after one attempt at `now`: (failures, locked_until, refusal).
/// `locked_until` in force refuses without looking at the PIN.
pub fn attempt(
    ok: bool,
    failures: u32,
    locked_until: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> (
    u32,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<StaffRefusal>,
) {
    if let Some(until) = locked_until.filter(|u| *u > now) {
        let until_s = until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        return (
            failures,
            Some(until),
            Some(StaffRefusal::Locked { until: until_s }),
        );
    }
    if ok {
        return (0, None, None);
    }
    let failures = failures + 1;
    if failures >= PIN_TRIES {
        let until = now + chrono::Duration::minutes(PIN_LOCK_MINUTES);
        let until_s = until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        return (
            0,
            Some(until),
            Some(StaffRefusal::Locked { until: until_s }),
        );
    }
    (
        failures,
        None,
        Some(StaffRefusal::WrongPin {
            tries_left: PIN_TRIES - failures,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_wrong_pins_lock_for_fifteen_minutes_and_a_right_one_resets() {
        let t0 = chrono::Utc::now();
        let (mut f, mut lock) = (0, None);
        for left in (1..PIN_TRIES).rev() {
            let (nf, nl, r) = attempt(false, f, lock, t0);
            assert_eq!(r, Some(StaffRefusal::WrongPin { tries_left: left }));
            (f, lock) = (nf, nl);
        }
        let (nf, nl, r) = attempt(false, f, lock, t0);
        assert!(matches!(r, Some(StaffRefusal::Locked { .. })));
        (f, lock) = (nf, nl);
        // Even the right PIN is refused while locked …
        let (_, _, r) = attempt(true, f, lock, t0 + chrono::Duration::minutes(14));
        assert!(matches!(r, Some(StaffRefusal::Locked { .. })));
        // … and let in once the lock is over.
        let (f2, l2, r) = attempt(true, f, lock, t0 + chrono::Duration::minutes(16));
        assert_eq!((f2, l2, r), (0, None, None));
    }

    #[test]
    fn pins_are_hashed_with_a_salt() {
        let a = hash_pin("246810").unwrap();
        let b = hash_pin("246810").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("246810"));
        assert!(pin_matches("246810", &a) && !pin_matches("246811", &a));
        assert!(!pin_matches("246810", "not a hash"));
        assert!(is_pin("1234") && !is_pin("123") && !is_pin("12a4"));
    }
}
