//! Attachments (scanned materials, signatures) stored on the device by content hash. An event
//! refers to them by `AttachmentRef`; the bytes are written before the event's transaction
//! commits, so a committed event never points at a missing file.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use kiosk_protocol::wire::AttachmentRef;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct AttachmentStore {
    dir: PathBuf,
}

impl AttachmentStore {
    pub fn open(dir: &Path) -> std::io::Result<AttachmentStore> {
        std::fs::create_dir_all(dir)?;
        Ok(AttachmentStore {
            dir: dir.to_path_buf(),
        })
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
                f.write_all(bytes)?;
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

    /// Reads up to `len` bytes from `offset`.
    pub fn read_chunk(&self, sha256: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
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
