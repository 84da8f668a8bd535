//! Software update bundles the centre holds for its terminals. An operator adds a signed
//! bundle (`kiosk-central update add`); its bytes become a content-addressed attachment and
//! its version goes into a registry. A terminal ordered to install it (`install-update`, on
//! its own or through `kiosk-central rollout start-update`) fetches it in chunks from
//! `GET /api/v1/devices/{id}/updates/{sha256}`, which serves registered bundles only (never
//! another attachment: those are citizens' materials).
//!
//! The centre pins no publisher keys: it reads the manifest for its version and checks the
//! bundle is whole, and each terminal checks the signature against the keys it trusts.

use std::io::{BufReader, Read, Seek};
use std::path::Path;

use kiosk_protocol::update_bundle::{read_manifest_unverified, BundleError};
use serde::{Deserialize, Serialize};

use crate::backend::Store;
use crate::store::{AttachmentError, StoreError};

/// The most one fetch answers; a terminal asks again from where it stands.
pub const CHUNK: u64 = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateBundle {
    pub sha256: String,
    pub version: String,
    pub size: u64,
    pub added_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an update bundle: {source}")]
    Bundle {
        path: String,
        #[source]
        source: BundleError,
    },
    #[error("{path} is {actual} bytes, but its manifest accounts for {expected}: it is cut short or has bytes after its files")]
    Size {
        path: String,
        actual: u64,
        expected: u64,
    },
    #[error("storing the bundle: {0}")]
    Attachment(#[from] AttachmentError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds the bundle at `path`: checked for shape and length, stored (resuming an earlier
/// interrupted add), then registered. Adding the same bundle again changes nothing.
pub fn add(store: &Store, path: &Path) -> Result<UpdateBundle, AddError> {
    let shown = path.display().to_string();
    let read = |source| AddError::Read {
        path: shown.clone(),
        source,
    };
    let mut f = BufReader::new(std::fs::File::open(path).map_err(read)?);
    let manifest = read_manifest_unverified(&mut f).map_err(|source| AddError::Bundle {
        path: shown.clone(),
        source,
    })?;
    let header = f.stream_position().map_err(read)?;
    let size = std::fs::metadata(path).map_err(read)?.len();
    let expected = manifest
        .files
        .iter()
        .fold(header, |n, file| n.saturating_add(file.size));
    if expected != size {
        return Err(AddError::Size {
            path: shown,
            actual: size,
            expected,
        });
    }
    let sha256 = kiosk_protocol::wire::sha256_file(path).map_err(read)?;
    let mut offset = match store.attachment_status(&sha256)? {
        Some(s) if s.complete => size,
        Some(s) => s.received,
        None => 0,
    };
    let mut f = f.into_inner();
    let mut buf = vec![0; CHUNK as usize];
    while offset < size {
        f.seek(std::io::SeekFrom::Start(offset)).map_err(read)?;
        let want = usize::try_from((size - offset).min(CHUNK)).unwrap_or(buf.len());
        f.read_exact(&mut buf[..want]).map_err(read)?;
        let s = store.put_attachment_chunk(&sha256, size, offset, &buf[..want])?;
        offset = s.received;
    }
    let bundle = UpdateBundle {
        sha256: sha256.clone(),
        version: manifest.version,
        size,
        added_at: chrono::Utc::now().to_rfc3339(),
    };
    store.register_update(&bundle)?;
    // The first registration's time stands.
    Ok(store.update_bundle(&sha256)?.unwrap_or(bundle))
}

/// Why the centre does not queue an `install-update` command.
pub fn check_order(
    store: &Store,
    sha256: &str,
    version: &str,
    size: u64,
) -> Result<Result<(), String>, StoreError> {
    Ok(match store.update_bundle(sha256)? {
        None => Err(format!(
            "the centre holds no update bundle {sha256}: add it first (kiosk-central update add)"
        )),
        Some(b) if b.version != version || b.size != size => Err(format!(
            "bundle {sha256} is version {} of {} bytes, not {version} of {size}",
            b.version, b.size
        )),
        Some(_) => Ok(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_protocol::signing::{Algorithm, SigningKey};

    fn store(dir: &Path) -> Store {
        Store::open(dir.join("c.db").to_str().unwrap()).unwrap()
    }

    #[test]
    fn a_bundle_is_added_once_and_read_back_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let key = SigningKey::generate(Algorithm::Ed25519);
        let payload: Vec<u8> = (0..CHUNK + 1000).map(|i| (i % 251) as u8).collect();
        let bytes =
            kiosk_protocol::update_bundle::make("2.0.0", &[("kiosk", &payload, 0o755)], &key);
        let path = dir.path().join("b.hkupd");
        std::fs::write(&path, &bytes).unwrap();
        let b = add(&s, &path).unwrap();
        assert_eq!((b.version.as_str(), b.size), ("2.0.0", bytes.len() as u64));
        assert_eq!(add(&s, &path).unwrap(), b, "adding again changes nothing");
        assert_eq!(s.update_bundles().unwrap(), vec![b.clone()]);
        let first = s.read_attachment(&b.sha256, 0, CHUNK).unwrap().unwrap();
        let rest = s.read_attachment(&b.sha256, CHUNK, CHUNK).unwrap().unwrap();
        assert_eq!([first, rest].concat(), bytes);
        assert_eq!(check_order(&s, &b.sha256, "2.0.0", b.size).unwrap(), Ok(()));
        let wrong = check_order(&s, &b.sha256, "2.0.1", b.size)
            .unwrap()
            .unwrap_err();
        assert!(wrong.contains("not 2.0.1"), "{wrong}");
        let unknown = check_order(&s, &"0".repeat(64), "2.0.0", 1)
            .unwrap()
            .unwrap_err();
        assert!(unknown.contains("add it first"), "{unknown}");
    }

    #[test]
    fn a_cut_or_foreign_file_is_refused_and_nothing_registered() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let key = SigningKey::generate(Algorithm::Ed25519);
        let bytes =
            kiosk_protocol::update_bundle::make("2.0.0", &[("kiosk", b"binary", 0o755)], &key);
        let cut = dir.path().join("cut.hkupd");
        std::fs::write(&cut, &bytes[..bytes.len() - 2]).unwrap();
        assert!(matches!(add(&s, &cut), Err(AddError::Size { .. })));
        let long = dir.path().join("long.hkupd");
        std::fs::write(&long, [&bytes[..], b"x"].concat()).unwrap();
        assert!(matches!(add(&s, &long), Err(AddError::Size { .. })));
        let foreign = dir.path().join("notes.txt");
        std::fs::write(&foreign, "hello\n").unwrap();
        assert!(matches!(add(&s, &foreign), Err(AddError::Bundle { .. })));
        assert!(s.update_bundles().unwrap().is_empty());
        // An attachment a terminal uploaded is never served as a bundle.
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"scan"));
        s.put_attachment_chunk(&sha, 4, 0, b"scan").unwrap();
        assert_eq!(s.update_bundle(&sha).unwrap(), None);
    }
}
