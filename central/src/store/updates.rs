//! The update bundles' registry in SQLite (rules in `crate::updates`); the bytes are
//! attachments, files under the store's `attachments` folder.

use std::io::{Read, Seek};

use rusqlite::{params, OptionalExtension};

use super::{SqliteStore, StoreError};
use crate::updates::UpdateBundle;

impl SqliteStore {
    /// Names a complete attachment as an update bundle of `version` (again: the same row).
    pub fn register_update(&self, b: &UpdateBundle) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO update_bundles (sha256, version, size, added_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (sha256) DO NOTHING",
                params![b.sha256, b.version, b.size as i64, b.added_at],
            )
        })?;
        Ok(())
    }

    pub fn update_bundle(&self, sha256: &str) -> Result<Option<UpdateBundle>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT sha256, version, size, added_at FROM update_bundles WHERE sha256 = ?1",
                params![sha256],
                |r| {
                    Ok(UpdateBundle {
                        sha256: r.get(0)?,
                        version: r.get(1)?,
                        size: r.get::<_, i64>(2)? as u64,
                        added_at: r.get(3)?,
                    })
                },
            )
            .optional()
        })
    }

    pub fn update_bundles(&self) -> Result<Vec<UpdateBundle>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT sha256, version, size, added_at FROM update_bundles ORDER BY added_at, sha256",
            )?;
            let rows = st.query_map([], |r| {
                Ok(UpdateBundle {
                    sha256: r.get(0)?,
                    version: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    added_at: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Up to `len` bytes of a complete attachment from `offset` (`None`: not held whole).
    pub fn read_attachment(
        &self,
        sha256: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self.attachment_status(sha256)? {
            Some(s) if s.complete => {}
            _ => return Ok(None),
        }
        let mut f = std::fs::File::open(self.blob_dir().join(sha256))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        f.seek(std::io::SeekFrom::Start(offset))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        let mut buf = Vec::new();
        f.take(len)
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(Some(buf))
    }
}
