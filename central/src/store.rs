//! The centre's storage. SQLite by default: one file, WAL, foreign keys on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

/// Each entry moves the schema from version `index` to `index + 1`; never edit a shipped one.
const MIGRATIONS: &[&str] = &["CREATE TABLE devices (
        device_id   TEXT PRIMARY KEY,
        enrolled_at TEXT NOT NULL
    );"];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path} has schema version {found}, newer than this build knows ({known}); upgrade the centre")]
    TooNew {
        path: String,
        found: u32,
        known: u32,
    },
    #[error("database query failed: {0}")]
    Query(#[from] rusqlite::Error),
}

#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let shown = path.display().to_string();
        let open_err = |source| StoreError::Open {
            path: shown.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                open_err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("cannot create {}: {e}", dir.display())),
                ))
            })?;
        }
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        migrate(&mut conn, &shown)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection. Callers on the async executor go through `spawn_blocking`.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&conn)?)
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
    }

    pub fn enrolled_devices(&self) -> Result<u64, StoreError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM devices", [], |r| r.get::<_, i64>(0)))
            .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Records a device as enrolled; enrolling twice keeps the first time.
    pub fn enrol_device(&self, device_id: &str, at: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            let existing: Option<String> = c
                .query_row(
                    "SELECT enrolled_at FROM devices WHERE device_id = ?1",
                    params![device_id],
                    |r| r.get(0),
                )
                .optional()?;
            if existing.is_some() {
                return Ok(false);
            }
            c.execute(
                "INSERT INTO devices (device_id, enrolled_at) VALUES (?1, ?2)",
                params![device_id, at],
            )?;
            Ok(true)
        })
    }
}

fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as u32;
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_string(),
            found,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_persists_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/centre.db");
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), 1);
        assert!(s.enrol_device("KSK-0001", "2026-11-22T09:00:00Z").unwrap());
        assert!(!s.enrol_device("KSK-0001", "2026-11-22T10:00:00Z").unwrap());
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.enrolled_devices().unwrap(), 1);
        s.with(|c| c.pragma_update(None, "user_version", 99))
            .unwrap();
        drop(s);
        match SqliteStore::open(&path) {
            Err(StoreError::TooNew { found: 99, .. }) => {}
            other => panic!("expected TooNew, got {:?}", other.err()),
        }
    }
}
