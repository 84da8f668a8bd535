//! An update the centre ordered (`install-update`), fetched and checked, waiting for a moment
//! it may be installed. It lives under the slots' base in `staged/`: the bytes arrive in
//! `bundle.part` beside `order.json.part` (what they are for), so a fetch cut short resumes
//! where it stood; once whole, hashed and its signature checked, they become `bundle` and
//! `order.json`. One at a time: a newer order replaces one not yet installed.
//!
//! The signature is checked here, when the bundle arrives, so a bad bundle is refused at once
//! rather than hours later when the hall closes; `Slots::install` checks it again.

use std::io::{BufReader, Write};
use std::path::PathBuf;

use kiosk_protocol::signing::PublicKey;
use serde::{Deserialize, Serialize};

use super::bundle::{self, BundleError};

/// What the centre ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub version: String,
    pub sha256: String,
    pub size: u64,
    /// The remote command that ordered it.
    pub command: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the centre sent more than the bundle's {size} bytes")]
    TooLong { size: u64 },
    #[error("the centre names the bundle {actual} bytes, the order {ordered}")]
    SizeConflict { ordered: u64, actual: u64 },
    #[error("the fetched bundle does not match its SHA-256 (got {actual}); it was dropped")]
    HashMismatch { actual: String },
    #[error("the bundle is refused: {0}")]
    Bundle(#[from] BundleError),
    #[error("the bundle is version {found}, but the order named {ordered}")]
    VersionMismatch { ordered: String, found: String },
    #[error("staging the update: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub fn new(base: &std::path::Path) -> Staging {
        Staging {
            dir: base.join("staged"),
        }
    }

    pub fn bundle_path(&self) -> PathBuf {
        self.dir.join("bundle")
    }

    fn part(&self) -> PathBuf {
        self.dir.join("bundle.part")
    }

    fn order_path(&self, part: bool) -> PathBuf {
        self.dir.join(if part {
            "order.json.part"
        } else {
            "order.json"
        })
    }

    fn read_order(&self, part: bool) -> Option<Order> {
        let bytes = std::fs::read(self.order_path(part)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn write_order(&self, order: &Order, part: bool) -> std::io::Result<()> {
        let path = self.order_path(part);
        let tmp = path.with_extension("new");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(order).unwrap_or_default())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    }

    /// The order whose bundle is here whole and checked, waiting to be installed.
    pub fn staged(&self) -> Option<Order> {
        self.bundle_path()
            .exists()
            .then(|| self.read_order(false))
            .flatten()
    }

    /// Starts (or resumes) fetching `order`: how many of its bytes are here already. Bytes of
    /// another order are dropped.
    pub fn begin(&self, order: &Order) -> Result<u64, StageError> {
        std::fs::create_dir_all(&self.dir)?;
        if self.read_order(true).as_ref() == Some(order) {
            if let Ok(m) = std::fs::metadata(self.part()) {
                return Ok(m.len().min(order.size));
            }
        }
        let _ = std::fs::remove_file(self.part());
        self.write_order(order, true)?;
        std::fs::File::create(self.part())?.sync_all()?;
        Ok(0)
    }

    /// Appends the next bytes of the order being fetched.
    pub fn append(&self, order: &Order, bytes: &[u8]) -> Result<u64, StageError> {
        let mut f = std::fs::OpenOptions::new().append(true).open(self.part())?;
        let have = f.metadata()?.len();
        if have + bytes.len() as u64 > order.size {
            return Err(StageError::TooLong { size: order.size });
        }
        f.write_all(bytes)?;
        f.sync_data()?;
        Ok(have + bytes.len() as u64)
    }

    /// Checks the whole bundle (hash, signature, version) and stages it in place of any
    /// earlier one. A bundle that fails is dropped, so the next order starts clean.
    pub fn finish(&self, order: &Order, trusted: &[PublicKey]) -> Result<(), StageError> {
        let checked = (|| {
            let actual = kiosk_protocol::wire::sha256_file(&self.part())?;
            if actual != order.sha256 {
                return Err(StageError::HashMismatch { actual });
            }
            let mut r = BufReader::new(std::fs::File::open(self.part())?);
            let m = bundle::read_manifest(&mut r, trusted)?;
            if m.version != order.version {
                return Err(StageError::VersionMismatch {
                    ordered: order.version.clone(),
                    found: m.version,
                });
            }
            Ok(())
        })();
        if let Err(e) = checked {
            self.clear_part();
            return Err(e);
        }
        let _ = std::fs::remove_file(self.order_path(false));
        std::fs::rename(self.part(), self.bundle_path())?;
        std::fs::rename(self.order_path(true), self.order_path(false))?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    fn clear_part(&self) {
        let _ = std::fs::remove_file(self.part());
        let _ = std::fs::remove_file(self.order_path(true));
    }

    /// Drops the staged bundle (installed, or refused at install).
    pub fn clear(&self) {
        let _ = std::fs::remove_file(self.order_path(false));
        let _ = std::fs::remove_file(self.bundle_path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_protocol::signing::{Algorithm, SigningKey};

    fn order_of(bytes: &[u8], version: &str) -> Order {
        Order {
            version: version.into(),
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
            size: bytes.len() as u64,
            command: 7,
        }
    }

    #[test]
    fn a_fetch_resumes_and_only_a_checked_bundle_is_staged() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(Algorithm::Ed25519);
        let trusted = [key.public_key()];
        let bytes = bundle::make("2.0.0", &[("kiosk", b"new binary", 0o755)], &key);
        let order = order_of(&bytes, "2.0.0");
        let s = Staging::new(dir.path());
        assert_eq!(s.begin(&order).unwrap(), 0);
        s.append(&order, &bytes[..10]).unwrap();
        // Cut off here: the next try resumes at 10.
        assert_eq!(s.begin(&order).unwrap(), 10);
        assert_eq!(s.staged(), None);
        s.append(&order, &bytes[10..]).unwrap();
        assert!(matches!(
            s.append(&order, b"x"),
            Err(StageError::TooLong { .. })
        ));
        s.finish(&order, &trusted).unwrap();
        assert_eq!(s.staged(), Some(order.clone()));
        assert_eq!(std::fs::read(s.bundle_path()).unwrap(), bytes);
        // Another order starts from nothing and leaves the staged one until it is whole.
        let other = bundle::make("2.0.1", &[("kiosk", b"newer", 0o755)], &key);
        let o2 = order_of(&other, "2.0.1");
        assert_eq!(s.begin(&o2).unwrap(), 0);
        assert_eq!(s.staged(), Some(order));
        s.append(&o2, &other).unwrap();
        s.finish(&o2, &trusted).unwrap();
        assert_eq!(s.staged(), Some(o2));
        s.clear();
        assert_eq!(s.staged(), None);
    }

    #[test]
    fn a_corrupt_foreign_or_misnamed_bundle_is_refused_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(Algorithm::Ed25519);
        let stranger = SigningKey::generate(Algorithm::Ed25519);
        let s = Staging::new(dir.path());
        let bytes = bundle::make("2.0.0", &[("kiosk", b"new binary", 0o755)], &key);
        // Corrupt in transit: the hash does not match the order.
        let order = order_of(&bytes, "2.0.0");
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        s.begin(&order).unwrap();
        s.append(&order, &bad).unwrap();
        assert!(matches!(
            s.finish(&order, &[key.public_key()]),
            Err(StageError::HashMismatch { .. })
        ));
        assert_eq!(s.begin(&order).unwrap(), 0, "the bad bytes were dropped");
        // Signed by a key the terminal does not pin.
        s.append(&order, &bytes).unwrap();
        assert!(matches!(
            s.finish(&order, &[stranger.public_key()]),
            Err(StageError::Bundle(BundleError::Untrusted(_)))
        ));
        // Another version than the order names.
        let named = order_of(&bytes, "3.0.0");
        s.begin(&named).unwrap();
        s.append(&named, &bytes).unwrap();
        assert!(matches!(
            s.finish(&named, &[key.public_key()]),
            Err(StageError::VersionMismatch { .. })
        ));
        assert_eq!(s.staged(), None);
    }
}
