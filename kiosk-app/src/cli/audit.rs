//! `kiosk audit verify | list`: checks the audit log's SM3 chain in the terminal's journal, or
//! shows its newest records. Read-only: the kiosk may be running.

use std::path::Path;
use std::process::ExitCode;

use rusqlite::{Connection, OpenFlags};

use crate::journal::audit::{self, AuditHead};

fn open(db: &Path) -> anyhow::Result<Connection> {
    if !db.exists() {
        anyhow::bail!("no journal at {}", db.display());
    }
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let version = crate::journal::migrations::version(&conn)?;
    if version < 4 {
        anyhow::bail!(
            "the journal at {} is at schema version {version}, before the audit log (4): start \
             this kiosk once to upgrade it",
            db.display()
        );
    }
    Ok(conn)
}

/// Checks the chain; exit 0 when intact, 1 with every finding listed.
pub fn verify(db: &Path, expect: Option<&AuditHead>) -> anyhow::Result<ExitCode> {
    let conn = open(db)?;
    let v = audit::verify(&conn, expect)?;
    let report = serde_json::json!({
        "journal": db.display().to_string(),
        "records": v.records,
        "head": v.head,
        "intact": v.intact(),
        "findings": v.findings.iter().map(|f| serde_json::json!({
            "what": f,
            "message": f.to_string(),
        })).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if v.intact() {
        Ok(ExitCode::SUCCESS)
    } else {
        for f in &v.findings {
            eprintln!("kiosk: audit log: {f}");
        }
        Ok(ExitCode::from(1))
    }
}

/// The newest `limit` records, newest first, as JSON lines.
pub fn list(db: &Path, limit: usize) -> anyhow::Result<ExitCode> {
    let conn = open(db)?;
    for r in audit::latest(&conn, limit)? {
        println!("{}", serde_json::to_string(&r)?);
    }
    Ok(ExitCode::SUCCESS)
}
