//! The licence library and proof store in PostgreSQL: the same rules as SQLite's
//! (`crate::documents`); numbering a day's proofs takes a transaction-scoped advisory lock.

use kiosk_protocol::documents::{
    Licence, LicencePrint, Proof, ProofCheck, ProofData, ProofKind, ProofRequest,
};
use postgres::GenericClient;

use super::PgStore;
use crate::documents::{check_of, issue, kind_of, proof_number, DocumentRefusal, HolderDocuments};
use crate::store::StoreError;

fn body<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Postgres(format!("a stored document: {e}")))
}

fn text<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Postgres(format!("a document: {e}")))
}

/// Counts a terminal's print inside the caller's (ingest) transaction.
pub(crate) fn count_print_in(
    c: &mut impl GenericClient,
    p: &LicencePrint,
    now: &str,
) -> Result<(), postgres::Error> {
    c.execute(
        "INSERT INTO licence_prints (device_id, licence_id, printed_at, received_at)
         VALUES ($1, $2, $3, $4)",
        &[&p.device_id, &p.licence_id, &p.printed_at, &now],
    )?;
    c.execute(
        "UPDATE licences SET printed = printed + 1 WHERE licence_id = $1 AND holder_sha256 = $2",
        &[&p.licence_id, &p.holder_sha256],
    )?;
    Ok(())
}

impl PgStore {
    pub fn import_documents(&self, docs: &[HolderDocuments]) -> Result<(usize, usize), StoreError> {
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let (mut licences, mut proofs) = (0, 0);
        for h in docs {
            for l in &h.licences {
                let b = text(&Licence {
                    printed: 0,
                    ..l.clone()
                })?;
                tx.execute(
                    "INSERT INTO licences (licence_id, holder_sha256, licence_type, body, printed)
                     VALUES ($1, $2, $3, $4, 0)
                     ON CONFLICT (licence_id) DO UPDATE SET holder_sha256 = excluded.holder_sha256,
                        licence_type = excluded.licence_type, body = excluded.body",
                    &[&l.licence_id, &h.holder_sha256, &l.licence_type, &b],
                )?;
                licences += 1;
            }
            for p in &h.proofs {
                let b = text(p)?;
                tx.execute(
                    "INSERT INTO proof_data (holder_sha256, kind, body) VALUES ($1, $2, $3)
                     ON CONFLICT (holder_sha256, kind) DO UPDATE SET body = excluded.body",
                    &[&h.holder_sha256, &p.kind, &b],
                )?;
                proofs += 1;
            }
        }
        tx.commit()?;
        Ok((licences, proofs))
    }

    pub fn licences_of(&self, holder_sha256: &str) -> Result<Vec<Licence>, StoreError> {
        let mut client = self.client();
        client
            .query(
                "SELECT body, printed FROM licences WHERE holder_sha256 = $1
                 ORDER BY licence_type, licence_id",
                &[&holder_sha256],
            )?
            .iter()
            .map(|r| {
                let mut l: Licence = body(r.get(0))?;
                l.printed = r.get::<_, i64>(1).clamp(0, u32::MAX as i64) as u32;
                Ok(l)
            })
            .collect()
    }

    pub fn proofs_of(&self, holder_sha256: &str) -> Result<Vec<ProofKind>, StoreError> {
        let mut client = self.client();
        client
            .query(
                "SELECT body FROM proof_data WHERE holder_sha256 = $1 ORDER BY kind",
                &[&holder_sha256],
            )?
            .iter()
            .map(|r| body::<ProofData>(r.get(0)).map(|p| kind_of(&p)))
            .collect()
    }

    pub fn issue_proof(
        &self,
        r: &ProofRequest,
        day: &str,
        now: &str,
    ) -> Result<Result<Proof, DocumentRefusal>, StoreError> {
        let (device_id, holder_sha256, kind) = (&r.device_id, &r.holder_sha256, &r.kind);
        let mut client = self.client();
        let mut tx = client.transaction()?;
        let Some(row) = tx.query_opt(
            "SELECT body FROM proof_data WHERE holder_sha256 = $1 AND kind = $2",
            &[&holder_sha256, &kind],
        )?
        else {
            return Ok(Err(DocumentRefusal::NoData(kind.to_string())));
        };
        let data: ProofData = body(row.get(0))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&format!("proofs/{day}")],
        )?;
        let seq: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM proofs WHERE day = $1",
                &[&day],
            )?
            .get(0);
        let proof = issue(data, r, proof_number(day, seq), now);
        tx.execute(
            "INSERT INTO proofs (proof_number, day, seq, device_id, holder_sha256, kind,
                check_code, issued_at, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &proof.proof_number,
                &day,
                &seq,
                &device_id,
                &holder_sha256,
                &kind,
                &proof.check_code,
                &proof.issued_at,
                &text(&proof)?,
            ],
        )?;
        tx.commit()?;
        Ok(Ok(proof))
    }

    pub fn check_proof(
        &self,
        number: &str,
        code: &str,
    ) -> Result<Result<ProofCheck, DocumentRefusal>, StoreError> {
        let mut client = self.client();
        let row = client.query_opt(
            "SELECT body FROM proofs WHERE proof_number = $1 AND check_code = $2",
            &[&number, &code],
        )?;
        Ok(match row {
            Some(r) => Ok(check_of(&body::<Proof>(r.get(0))?)),
            None => Err(DocumentRefusal::Unknown(number.to_string())),
        })
    }
}
