//! Attachments (scanned materials, signatures) stored on the device by content hash. An event
//! refers to them by `AttachmentRef`; the bytes are written before the event's transaction
//! commits, so a committed event never points at a missing file. With a [`Sealer`] the files
//! are sealed at rest (they hold personal data until the centre has them and they are
//! purged); the hash, and what is uploaded, are those of the plain bytes.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use kiosk_protocol::wire::AttachmentRef;
use sha2::{Digest, Sha256};

use super::sealed::Sealer;

#[derive(Clone)]
pub struct AttachmentStore {
    dir: PathBuf,
    sealer: Option<Sealer>,
}

impl AttachmentStore {
    /// A store that keeps files as given (tests, tools).
    pub fn open(dir: &Path) -> std::io::Result<AttachmentStore> {
        std::fs::create_dir_all(dir)?;
        Ok(AttachmentStore {
            dir: dir.to_path_buf(),
            sealer: None,
        })
    }

    /// A store that seals every file it writes; files written before sealing was on are still
    /// read.
    pub fn open_sealed(dir: &Path, sealer: Sealer) -> std::io::Result<AttachmentStore> {
        Ok(AttachmentStore {
            sealer: Some(sealer),
            ..AttachmentStore::open(dir)?
        })
    }

    /// A file's plain bytes.
    pub fn read(&self, sha256: &str) -> std::io::Result<zeroize::Zeroizing<Vec<u8>>> {
        let bytes = std::fs::read(self.path(sha256))?;
        match &self.sealer {
            Some(s) if super::sealed::is_sealed(&bytes) => s
                .open_bytes(sha256, &bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())),
            _ => Ok(zeroize::Zeroizing::new(bytes)),
        }
    }

    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// Stores `bytes` durably under their hash (written to a temporary file, synced, renamed)
    /// and returns the reference to put in an event. Storing the same bytes twice is free.
    pub fn put(&self, bytes: &[u8], media_type: &str) -> std::io::Result<AttachmentRef> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let path = self.path(&sha256);
        if !path.exists() {
            let tmp = self
                .dir
                .join(format!(".{sha256}.{}.tmp", std::process::id()));
            {
                let mut f = std::fs::File::create(&tmp)?;
                match &self.sealer {
                    Some(s) => f.write_all(&s.seal(&sha256, bytes).map_err(|e| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                    })?)?,
                    None => f.write_all(bytes)?,
                }
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
            // The rename itself must survive a power cut too.
            std::fs::File::open(&self.dir)?.sync_all()?;
        }
        Ok(AttachmentRef {
            sha256,
            size: bytes.len() as u64,
            media_type: media_type.to_string(),
        })
    }

    /// Reads up to `len` plain bytes from `offset`.
    pub fn read_chunk(&self, sha256: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        if self.sealer.is_some() {
            let plain = self.read(sha256)?;
            let from = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(plain.len());
            let to = from.saturating_add(len).min(plain.len());
            return Ok(plain[from..to].to_vec());
        }
        let mut f = std::fs::File::open(self.path(sha256))?;
        f.seek(std::io::SeekFrom::Start(offset))?;
        let mut buf = Vec::with_capacity(len);
        f.take(len as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }
}

/// The attachments an event's payload refers to.
pub fn referenced(payload: &serde_json::Value) -> Vec<AttachmentRef> {
    payload
        .get("attachments")
        .and_then(|a| serde_json::from_value::<Vec<AttachmentRef>>(a.clone()).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::sealed::AtRest;

    #[test]
    fn sealed_attachments_hold_no_plain_bytes_and_read_back_whole_and_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::open(&dir.path().join("keys"), AtRest::Sm4Gcm).unwrap();
        // A file from before sealing was on stays readable.
        let plain_store = AttachmentStore::open(&dir.path().join("att")).unwrap();
        let old = plain_store
            .put(b"an older plain scan", "image/jpeg")
            .unwrap();
        let store = AttachmentStore::open_sealed(&dir.path().join("att"), sealer).unwrap();
        let scan: Vec<u8> = "姓名 张三 身份证号 11010519491231002X "
            .repeat(2000)
            .into_bytes();
        let r = store.put(&scan, "image/jpeg").unwrap();
        assert_eq!(
            r.sha256,
            hex::encode(Sha256::digest(&scan)),
            "hash of the plain bytes"
        );
        assert_eq!(r.size, scan.len() as u64);
        let on_disk = std::fs::read(store.path(&r.sha256)).unwrap();
        assert!(crate::journal::sealed::is_sealed(&on_disk));
        assert!(!on_disk.windows(18).any(|w| w == b"11010519491231002X"));
        assert_eq!(&*store.read(&r.sha256).unwrap(), &scan[..]);
        let mut joined = Vec::new();
        let mut offset = 0u64;
        loop {
            let chunk = store.read_chunk(&r.sha256, offset, 7_000).unwrap();
            if chunk.is_empty() {
                break;
            }
            offset += chunk.len() as u64;
            joined.extend(chunk);
        }
        assert_eq!(joined, scan);
        assert_eq!(&*store.read(&old.sha256).unwrap(), b"an older plain scan");
        // Changed on disk: an error, never other bytes.
        let mut bad = on_disk.clone();
        bad[40] ^= 0x55;
        std::fs::write(store.path(&r.sha256), &bad).unwrap();
        let e = store.read_chunk(&r.sha256, 0, 10).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    }
}
