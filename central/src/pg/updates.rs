//! The update bundles' registry in PostgreSQL (rules in `crate::updates`); the bytes are
//! attachments, held in their table.

use super::PgStore;
use crate::store::StoreError;
use crate::updates::UpdateBundle;

fn bundle(r: &postgres::Row) -> UpdateBundle {
    UpdateBundle {
        sha256: r.get(0),
        version: r.get(1),
        size: r.get::<_, i64>(2) as u64,
        added_at: r.get(3),
    }
}

impl PgStore {
    pub fn register_update(&self, b: &UpdateBundle) -> Result<(), StoreError> {
        self.client().execute(
            "INSERT INTO update_bundles (sha256, version, size, added_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (sha256) DO NOTHING",
            &[&b.sha256, &b.version, &(b.size as i64), &b.added_at],
        )?;
        Ok(())
    }

    pub fn update_bundle(&self, sha256: &str) -> Result<Option<UpdateBundle>, StoreError> {
        let row = self.client().query_opt(
            "SELECT sha256, version, size, added_at FROM update_bundles WHERE sha256 = $1",
            &[&sha256],
        )?;
        Ok(row.as_ref().map(bundle))
    }

    pub fn update_bundles(&self) -> Result<Vec<UpdateBundle>, StoreError> {
        let rows = self.client().query(
            "SELECT sha256, version, size, added_at FROM update_bundles ORDER BY added_at, sha256",
            &[],
        )?;
        Ok(rows.iter().map(bundle).collect())
    }

    pub fn read_attachment(
        &self,
        sha256: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        // substring counts from 1; both bounds fit an int for the 32 MiB … GiB bundles held.
        let row = self.client().query_opt(
            "SELECT substring(data FROM $2::bigint + 1 FOR $3::bigint) FROM attachments
             WHERE sha256 = $1 AND complete",
            &[&sha256, &(offset as i64), &(len as i64)],
        )?;
        Ok(row.map(|r| r.get(0)))
    }
}
