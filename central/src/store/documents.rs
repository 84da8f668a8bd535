//! The licence library and proof store in SQLite: an import upserts a citizen's licences and
//! proof data; a terminal lists them by the holder's hash, counts prints through the journal,
//! and has proofs issued; anyone checks a proof by its number and check code.

use kiosk_protocol::documents::{
    Licence, LicencePrint, Proof, ProofCheck, ProofData, ProofKind, ProofRequest,
};
use rusqlite::{params, Connection, OptionalExtension};

use super::{SqliteStore, StoreError};
use crate::documents::{issue, kind_of, proof_number, DocumentRefusal, HolderDocuments};

fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn from_json<T: serde::de::DeserializeOwned>(i: usize, s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Counts a terminal's print inside the caller's (ingest) transaction. A print of a licence
/// the library does not hold (or holds for someone else) is kept in the log but counts nothing.
pub(crate) fn count_print_in(c: &Connection, p: &LicencePrint, now: &str) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO licence_prints (device_id, licence_id, printed_at, received_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![p.device_id, p.licence_id, p.printed_at, now],
    )?;
    c.execute(
        "UPDATE licences SET printed = printed + 1 WHERE licence_id = ?1 AND holder_sha256 = ?2",
        params![p.licence_id, p.holder_sha256],
    )?;
    Ok(())
}

impl SqliteStore {
    /// Takes an import: licences by their number (a print count already kept stays), proof
    /// data by citizen and kind. Returns (licences, proofs) taken.
    pub fn import_documents(&self, docs: &[HolderDocuments]) -> Result<(usize, usize), StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let (mut licences, mut proofs) = (0, 0);
        for h in docs {
            for l in &h.licences {
                let body = serde_json::to_string(&Licence {
                    printed: 0,
                    ..l.clone()
                })
                .map_err(json_err)?;
                tx.execute(
                    "INSERT INTO licences (licence_id, holder_sha256, licence_type, body, printed)
                     VALUES (?1, ?2, ?3, ?4, 0)
                     ON CONFLICT (licence_id) DO UPDATE SET holder_sha256 = excluded.holder_sha256,
                        licence_type = excluded.licence_type, body = excluded.body",
                    params![l.licence_id, h.holder_sha256, l.licence_type, body],
                )?;
                licences += 1;
            }
            for p in &h.proofs {
                let body = serde_json::to_string(p).map_err(json_err)?;
                tx.execute(
                    "INSERT INTO proof_data (holder_sha256, kind, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (holder_sha256, kind) DO UPDATE SET body = excluded.body",
                    params![h.holder_sha256, p.kind, body],
                )?;
                proofs += 1;
            }
        }
        tx.commit()?;
        Ok((licences, proofs))
    }

    /// A citizen's licences with their print counts, by type and number.
    pub fn licences_of(&self, holder_sha256: &str) -> Result<Vec<Licence>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT body, printed FROM licences WHERE holder_sha256 = ?1
                 ORDER BY licence_type, licence_id",
            )?;
            let rows = st.query_map(params![holder_sha256], |r| {
                let mut l: Licence = from_json(0, &r.get::<_, String>(0)?)?;
                l.printed = r.get::<_, i64>(1)?.clamp(0, u32::MAX as i64) as u32;
                Ok(l)
            })?;
            rows.collect()
        })
    }

    /// The proofs the centre holds data for, for this citizen.
    pub fn proofs_of(&self, holder_sha256: &str) -> Result<Vec<ProofKind>, StoreError> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT body FROM proof_data WHERE holder_sha256 = ?1 ORDER BY kind")?;
            let rows = st.query_map(params![holder_sha256], |r| {
                let p: ProofData = from_json(0, &r.get::<_, String>(0)?)?;
                Ok(kind_of(&p))
            })?;
            rows.collect()
        })
    }

    /// Issues a proof: the citizen's data for `kind`, numbered for the day, recorded.
    pub fn issue_proof(
        &self,
        r: &ProofRequest,
        day: &str,
        now: &str,
    ) -> Result<Result<Proof, DocumentRefusal>, StoreError> {
        let (device_id, holder_sha256, kind) = (&r.device_id, &r.holder_sha256, &r.kind);
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        let data: Option<String> = tx
            .query_row(
                "SELECT body FROM proof_data WHERE holder_sha256 = ?1 AND kind = ?2",
                params![holder_sha256, kind],
                |r| r.get(0),
            )
            .optional()?;
        let Some(data) = data else {
            return Ok(Err(DocumentRefusal::NoData(kind.to_string())));
        };
        let data: ProofData = from_json(0, &data)?;
        let seq: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM proofs WHERE day = ?1",
            params![day],
            |r| r.get(0),
        )?;
        let proof = issue(data, r, proof_number(day, seq), now);
        tx.execute(
            "INSERT INTO proofs (proof_number, day, seq, device_id, holder_sha256, kind,
                check_code, issued_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                proof.proof_number,
                day,
                seq,
                device_id,
                holder_sha256,
                kind,
                proof.check_code,
                proof.issued_at,
                serde_json::to_string(&proof).map_err(json_err)?,
            ],
        )?;
        tx.commit()?;
        Ok(Ok(proof))
    }

    /// A printed proof checked by its number and code.
    pub fn check_proof(
        &self,
        number: &str,
        code: &str,
    ) -> Result<Result<ProofCheck, DocumentRefusal>, StoreError> {
        self.with(|c| {
            let body: Option<String> = c
                .query_row(
                    "SELECT body FROM proofs WHERE proof_number = ?1 AND check_code = ?2",
                    params![number, code],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(match body {
                Some(b) => {
                    let p: Proof = from_json(0, &b)?;
                    Ok(crate::documents::check_of(&p))
                }
                None => Err(DocumentRefusal::Unknown(number.to_string())),
            })
        })
    }
}
