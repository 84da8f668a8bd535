//! Who holds a device. Every device call goes through a [`Claim`] held by one owner — a
//! citizen's session, a remote command, the technician's bench tool, later the admin mode and
//! the browser gateway. A call on a device the caller does not hold is refused with a typed
//! error naming the holder. A claim is a lease: it ends when its owner drops it (also while the
//! owner unwinds from a panic) or when its lease runs out on the terminal's clock, after which
//! another owner may take the device and the old claim's calls are refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use kiosk_hal::clock::SharedClock;
use kiosk_hal::device::CommandError;
pub use kiosk_hal::device::Owner;
use kiosk_protocol::{Event, EventKind};

use super::bus::EventBus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("device {device} is held by {owner}")]
    HeldBy { device: String, owner: Owner },
    #[error("no device {0:?} in the device table")]
    UnknownDevice(String),
}

/// Why a device call did not reach the device, or how the device answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("device {device} is held by {owner}")]
    HeldBy { device: String, owner: Owner },
    #[error("device {device} is not held by the caller (its claim is for {claimed})")]
    NotClaimed { device: String, claimed: String },
    #[error("the claim of {owner} on device {device} has expired")]
    Expired { device: String, owner: Owner },
    #[error("no device {0:?} in the device table")]
    UnknownDevice(String),
    #[error("{}: {}", .0.code.as_str(), .0.detail)]
    Device(#[from] CommandError),
}

impl From<ClaimError> for CallError {
    fn from(e: ClaimError) -> Self {
        match e {
            ClaimError::HeldBy { device, owner } => CallError::HeldBy { device, owner },
            ClaimError::UnknownDevice(d) => CallError::UnknownDevice(d),
        }
    }
}

impl CallError {
    /// The completion code, as journals and remote acknowledgements name it.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::HeldBy { .. } => "held",
            CallError::NotClaimed { .. } => "not-claimed",
            CallError::Expired { .. } => "claim-expired",
            CallError::UnknownDevice(_) => "invalid-data",
            CallError::Device(e) => e.code.as_str(),
        }
    }

    /// The device's own answer, when the call reached it.
    pub fn device_error(&self) -> Option<&CommandError> {
        match self {
            CallError::Device(e) => Some(e),
            _ => None,
        }
    }

    pub fn detail(&self) -> String {
        match self {
            CallError::Device(e) => e.detail.clone(),
            other => other.to_string(),
        }
    }
}

struct Held {
    owner: Owner,
    token: u64,
    /// On the terminal's clock (`elapsed`).
    until: Duration,
}

/// The table of holders, one entry per held device.
pub struct ClaimTable {
    held: Mutex<HashMap<String, Held>>,
    freed: Condvar,
    clock: SharedClock,
    bus: EventBus,
    next: AtomicU64,
    devices: Vec<String>,
}

impl ClaimTable {
    pub fn new(devices: Vec<String>, clock: SharedClock, bus: EventBus) -> Arc<ClaimTable> {
        Arc::new(ClaimTable {
            held: Mutex::new(HashMap::new()),
            freed: Condvar::new(),
            clock,
            bus,
            next: AtomicU64::new(1),
            devices,
        })
    }

    /// Takes `device` for `owner` for `lease`, waiting up to `wait` (real time) for its holder
    /// to let go. A holder whose lease ran out is displaced.
    pub fn claim(
        self: &Arc<Self>,
        device: &str,
        owner: Owner,
        lease: Duration,
        wait: Duration,
    ) -> Result<Claim, ClaimError> {
        if !self.devices.iter().any(|d| d == device) {
            return Err(ClaimError::UnknownDevice(device.to_string()));
        }
        let deadline = Instant::now() + wait;
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = self.clock.elapsed();
            let free = match held.get(device) {
                None => true,
                Some(h) if h.until <= now => {
                    tracing::warn!(device, holder = %h.owner, "claim expired; the device is taken over");
                    true
                }
                Some(_) => false,
            };
            if free {
                let token = self.next.fetch_add(1, Ordering::Relaxed);
                held.insert(
                    device.to_string(),
                    Held {
                        owner: owner.clone(),
                        token,
                        until: now.saturating_add(lease),
                    },
                );
                drop(held);
                self.bus.emit(
                    Event::new(EventKind::DeviceClaimed, self.bus.now())
                        .device(device)
                        .field("owner", owner.to_string()),
                );
                return Ok(Claim {
                    table: self.clone(),
                    device: device.to_string(),
                    owner,
                    token,
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let owner = held.get(device).map(|h| h.owner.clone()).unwrap_or(owner);
                return Err(ClaimError::HeldBy {
                    device: device.to_string(),
                    owner,
                });
            }
            // Wake at least every 50 ms: a lease may run out on a clock the condvar cannot see.
            held = self
                .freed
                .wait_timeout(held, left.min(Duration::from_millis(50)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Who holds `device` now (a holder whose lease ran out still shows until displaced).
    pub fn holder(&self, device: &str) -> Option<Owner> {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(device)
            .map(|h| h.owner.clone())
    }

    /// Checks that `claim` is the current, unexpired holder of `device`.
    pub(crate) fn check(&self, claim: &Claim, device: &str) -> Result<(), CallError> {
        if claim.device != device {
            return Err(CallError::NotClaimed {
                device: device.to_string(),
                claimed: claim.device.clone(),
            });
        }
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match held.get(device) {
            Some(h) if h.token == claim.token => {
                if h.until <= self.clock.elapsed() {
                    Err(CallError::Expired {
                        device: device.to_string(),
                        owner: h.owner.clone(),
                    })
                } else {
                    Ok(())
                }
            }
            Some(h) => Err(CallError::HeldBy {
                device: device.to_string(),
                owner: h.owner.clone(),
            }),
            None => Err(CallError::Expired {
                device: device.to_string(),
                owner: claim.owner.clone(),
            }),
        }
    }

    fn renew(&self, claim: &Claim, lease: Duration) -> Result<(), CallError> {
        self.check(claim, &claim.device)?;
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = held.get_mut(&claim.device) {
            if h.token == claim.token {
                h.until = self.clock.elapsed().saturating_add(lease);
            }
        }
        Ok(())
    }

    fn release(&self, claim: &Claim) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mine = held
            .get(&claim.device)
            .is_some_and(|h| h.token == claim.token);
        if mine {
            held.remove(&claim.device);
            drop(held);
            self.freed.notify_all();
            self.bus.emit(
                Event::new(EventKind::DeviceReleased, self.bus.now())
                    .device(&claim.device)
                    .field("owner", claim.owner.to_string()),
            );
        }
    }
}

/// Holding this means holding one device. Dropped, the device is free again.
pub struct Claim {
    table: Arc<ClaimTable>,
    device: String,
    owner: Owner,
    token: u64,
}

impl Claim {
    pub fn device(&self) -> &str {
        &self.device
    }

    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// Extends the lease from now.
    pub fn renew(&self, lease: Duration) -> Result<(), CallError> {
        self.table.renew(self, lease)
    }
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Claim({} by {})", self.device, self.owner)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.table.release(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use kiosk_hal::clock::ManualClock;

    fn table() -> (Arc<ClaimTable>, ManualClock) {
        let clock =
            ManualClock::starting_at(chrono::Utc.with_ymd_and_hms(2026, 12, 1, 1, 0, 0).unwrap());
        let shared: SharedClock = Arc::new(clock.clone());
        let bus = EventBus::new(shared.clone());
        (
            ClaimTable::new(vec!["receipt".into(), "idcard".into()], shared, bus),
            clock,
        )
    }

    const LEASE: Duration = Duration::from_secs(60);

    #[test]
    fn one_holder_at_a_time_and_others_are_told_who() {
        let (t, _) = table();
        let a = t
            .claim(
                "receipt",
                Owner::Flow("ticket".into()),
                LEASE,
                Duration::ZERO,
            )
            .unwrap();
        let e = t
            .claim("receipt", Owner::Admin, LEASE, Duration::from_millis(20))
            .unwrap_err();
        assert_eq!(
            e,
            ClaimError::HeldBy {
                device: "receipt".into(),
                owner: Owner::Flow("ticket".into())
            }
        );
        assert_eq!(e.to_string(), "device receipt is held by flow ticket");
        assert!(t.check(&a, "receipt").is_ok());
        // A claim is for one device only.
        assert!(matches!(
            t.check(&a, "idcard"),
            Err(CallError::NotClaimed { .. })
        ));
        drop(a);
        assert!(t
            .claim("receipt", Owner::Admin, LEASE, Duration::ZERO)
            .is_ok());
        assert_eq!(
            t.claim("printer", Owner::Admin, LEASE, Duration::ZERO)
                .unwrap_err(),
            ClaimError::UnknownDevice("printer".into())
        );
    }

    #[test]
    fn a_waiting_claim_gets_the_device_when_it_is_let_go() {
        let (t, _) = table();
        let a = t
            .claim(
                "idcard",
                Owner::Flow("ticket".into()),
                LEASE,
                Duration::ZERO,
            )
            .unwrap();
        let t2 = t.clone();
        let waiter = std::thread::spawn(move || {
            t2.claim("idcard", Owner::Admin, LEASE, Duration::from_secs(30))
                .map(|c| c.owner().clone())
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(a);
        assert_eq!(waiter.join().unwrap().unwrap(), Owner::Admin);
    }

    #[test]
    fn an_expired_lease_is_refused_and_can_be_taken_over() {
        let (t, clock) = table();
        let a = t
            .claim(
                "receipt",
                Owner::Flow("ticket".into()),
                LEASE,
                Duration::ZERO,
            )
            .unwrap();
        clock.advance(Duration::from_secs(30));
        a.renew(LEASE).unwrap();
        clock.advance(Duration::from_secs(61));
        assert!(matches!(
            t.check(&a, "receipt"),
            Err(CallError::Expired { .. })
        ));
        let b = t
            .claim("receipt", Owner::Admin, LEASE, Duration::ZERO)
            .unwrap();
        // The old holder's calls are now refused in the new holder's name, and its drop does
        // not free the new holder's device.
        assert_eq!(
            t.check(&a, "receipt").unwrap_err(),
            CallError::HeldBy {
                device: "receipt".into(),
                owner: Owner::Admin
            }
        );
        drop(a);
        assert_eq!(t.holder("receipt"), Some(Owner::Admin));
        drop(b);
        assert_eq!(t.holder("receipt"), None);
    }

    #[test]
    fn a_panicking_owner_lets_go() {
        let (t, _) = table();
        let t2 = t.clone();
        let r = std::thread::spawn(move || {
            let _c = t2
                .claim(
                    "receipt",
                    Owner::Flow("ticket".into()),
                    LEASE,
                    Duration::ZERO,
                )
                .unwrap();
            panic!("the journey failed");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(t.holder("receipt"), None);
        assert!(t
            .claim("receipt", Owner::Admin, LEASE, Duration::ZERO)
            .is_ok());
    }
}
