//! The store a centre runs on: SQLite (one file; the default, and what a terminal embeds) or
//! PostgreSQL (selected by a `postgres://` URL, for several centre nodes over one database).

use kiosk_protocol::wire::{
    AttachmentStatus, CommandAck, CommandRequest, Heartbeat, IngestBatch, IngestResult,
    QueuedCommand, SealAuthorisation, SealAuthorisationRequest, Ticket, TicketRequest,
};

use crate::cases::CaseRefusal;
use crate::documents::{DocumentRefusal, HolderDocuments};
use crate::pg::PgStore;
use crate::store::{
    AckRefusal, AttachmentError, BookingRefusal, ConsumeRefusal, EnrolRefusal, PublishRefusal,
    SqliteStore, StoreError, TicketRefusal,
};
use kiosk_protocol::cases::{Case, CaseProgress, CaseStatus, CaseSubmission};
use kiosk_protocol::documents::{Licence, Proof, ProofCheck, ProofKind, ProofRequest};
use kiosk_protocol::signing::{DocumentKind, SignedDocument};
use kiosk_protocol::wire::{Appointment, AppointmentRequest};

#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl From<SqliteStore> for Store {
    fn from(s: SqliteStore) -> Self {
        Store::Sqlite(s)
    }
}

impl From<PgStore> for Store {
    fn from(s: PgStore) -> Self {
        Store::Postgres(s)
    }
}

macro_rules! each {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => s.$method($($arg),*),
            Store::Postgres(p) => p.$method($($arg),*),
        }
    };
}

impl Store {
    /// A `postgres://` or `postgresql://` URL opens PostgreSQL; anything else is a SQLite file.
    pub fn open(target: &str) -> Result<Store, StoreError> {
        if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            Ok(Store::Postgres(PgStore::open(target)?))
        } else {
            Ok(Store::Sqlite(SqliteStore::open(std::path::Path::new(
                target,
            ))?))
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Where it is, for the start-up line (passwords left out).
    pub fn location(&self) -> String {
        match self {
            Store::Sqlite(s) => s.path().display().to_string(),
            Store::Postgres(p) => p.url().to_string(),
        }
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        each!(self.schema_version())
    }
    pub fn enrolled_devices(&self) -> Result<u64, StoreError> {
        each!(self.enrolled_devices())
    }
    pub fn enrol_device(&self, device_id: &str, at: &str) -> Result<bool, StoreError> {
        each!(self.enrol_device(device_id, at))
    }
    pub fn ingest(
        &self,
        device_id: &str,
        batch: &IngestBatch,
        now: &str,
    ) -> Result<IngestResult, StoreError> {
        each!(self.ingest(device_id, batch, now))
    }
    pub fn record_heartbeat(&self, hb: &Heartbeat, now: &str) -> Result<u64, StoreError> {
        each!(self.record_heartbeat(hb, now))
    }
    pub fn latest_heartbeat(&self, device_id: &str) -> Result<Option<Heartbeat>, StoreError> {
        each!(self.latest_heartbeat(device_id))
    }
    pub fn attachment_status(&self, sha256: &str) -> Result<Option<AttachmentStatus>, StoreError> {
        each!(self.attachment_status(sha256))
    }
    pub fn put_attachment_chunk(
        &self,
        sha256: &str,
        size: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<AttachmentStatus, AttachmentError> {
        each!(self.put_attachment_chunk(sha256, size, offset, bytes))
    }
    pub fn issue_ticket(
        &self,
        hall: &str,
        service: &str,
        day: &str,
        req: &TicketRequest,
        priority: &[kiosk_protocol::queue::PriorityReason],
    ) -> Result<Result<Ticket, TicketRefusal>, StoreError> {
        each!(self.issue_ticket(hall, service, day, req, priority))
    }
    pub fn reserve_block(
        &self,
        hall: &str,
        service: &str,
        day: &str,
        req: &kiosk_protocol::wire::NumberBlockRequest,
    ) -> Result<kiosk_protocol::wire::NumberBlock, StoreError> {
        each!(self.reserve_block(hall, service, day, req))
    }
    pub fn put_staff(&self, hall: &str, e: &crate::staff::StaffEntry) -> Result<(), StoreError> {
        each!(self.put_staff(hall, e))
    }
    pub fn staff_login(
        &self,
        hall: &str,
        staff: &str,
        pin: &str,
        window: &str,
        device_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<crate::staff::StaffEntry, crate::staff::StaffRefusal>, StoreError> {
        each!(self.staff_login(hall, staff, pin, window, device_id, now))
    }
    pub fn staff_audit(
        &self,
        hall: &str,
        staff: &str,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        each!(self.staff_audit(hall, staff))
    }
    pub fn queue_ratings(
        &self,
        hall: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<kiosk_protocol::queue::TicketRating>, StoreError> {
        each!(self.queue_ratings(hall, from, to))
    }
    pub fn create_display_token(&self, hall: &str) -> Result<String, StoreError> {
        each!(self.create_display_token(hall))
    }
    pub fn display_token_allows(&self, hall: &str, token: &str) -> Result<bool, StoreError> {
        each!(self.display_token_allows(hall, token))
    }
    /// Runs `f` on a hall's queue for `day` in one transaction (see `queue::BuiltinQueue`).
    pub fn queue_transact<T, E>(
        &self,
        hall: &str,
        day: &str,
        f: impl FnOnce(&mut crate::queue::HallQueue) -> Result<T, E>,
    ) -> Result<Result<T, E>, StoreError> {
        each!(self.queue_transact(hall, day, f))
    }
    pub fn queue_events_after(
        &self,
        hall: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<kiosk_protocol::queue::QueueEvent>, StoreError> {
        each!(self.queue_events_after(hall, after, limit))
    }
    pub fn queue_tickets_between(
        &self,
        hall: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<kiosk_protocol::queue::QueueTicket>, StoreError> {
        each!(self.queue_tickets_between(hall, from, to))
    }
    pub fn book_appointment(
        &self,
        hall: &str,
        req: &AppointmentRequest,
    ) -> Result<Result<Appointment, BookingRefusal>, StoreError> {
        each!(self.book_appointment(hall, req))
    }
    pub fn appointment(&self, hall: &str, code: &str) -> Result<Option<Appointment>, StoreError> {
        each!(self.appointment(hall, code))
    }
    pub fn ticket(
        &self,
        hall: &str,
        service: &str,
        day: &str,
        number: &str,
    ) -> Result<Option<Ticket>, StoreError> {
        each!(self.ticket(hall, service, day, number))
    }
    pub fn authorise_seal(
        &self,
        req: &SealAuthorisationRequest,
        now: chrono::DateTime<chrono::Utc>,
        valid: chrono::Duration,
    ) -> Result<SealAuthorisation, StoreError> {
        each!(self.authorise_seal(req, now, valid))
    }
    pub fn consume_seal(
        &self,
        id: &str,
        device_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<SealAuthorisation, ConsumeRefusal>, StoreError> {
        each!(self.consume_seal(id, device_id, now))
    }
    pub fn event_seqs(&self, device_id: &str) -> Result<Vec<u64>, StoreError> {
        each!(self.event_seqs(device_id))
    }
    pub fn queue_command(
        &self,
        device_id: &str,
        req: &CommandRequest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<QueuedCommand, StoreError> {
        each!(self.queue_command(device_id, req, now))
    }
    pub fn pending_commands(
        &self,
        device_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<QueuedCommand>, StoreError> {
        each!(self.pending_commands(device_id, now))
    }
    pub fn ack_command(
        &self,
        device_id: &str,
        id: u64,
        ack: &CommandAck,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<QueuedCommand, AckRefusal>, StoreError> {
        each!(self.ack_command(device_id, id, ack, now))
    }
    pub fn command(
        &self,
        device_id: &str,
        id: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<QueuedCommand>, StoreError> {
        each!(self.command(device_id, id, now))
    }
    pub fn publish_document(
        &self,
        doc: &SignedDocument,
    ) -> Result<Result<(), PublishRefusal>, StoreError> {
        each!(self.publish_document(doc))
    }
    pub fn latest_document(
        &self,
        kind: DocumentKind,
        device_id: &str,
        after: u64,
    ) -> Result<Option<SignedDocument>, StoreError> {
        each!(self.latest_document(kind, device_id, after))
    }
    pub fn create_enrolment_code(
        &self,
        device_id: &str,
        code_sha256: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        each!(self.create_enrolment_code(device_id, code_sha256, expires_at))
    }
    pub fn check_enrolment_code(
        &self,
        device_id: &str,
        code_sha256: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<(), EnrolRefusal>, StoreError> {
        each!(self.check_enrolment_code(device_id, code_sha256, now))
    }
    pub fn enrol_with_code(
        &self,
        device_id: &str,
        code_sha256: &str,
        public_key: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Result<(), EnrolRefusal>, StoreError> {
        each!(self.enrol_with_code(device_id, code_sha256, public_key, now))
    }
    pub fn device_key(&self, device_id: &str) -> Result<Option<String>, StoreError> {
        each!(self.device_key(device_id))
    }

    pub fn file_case(
        &self,
        s: &CaseSubmission,
        day: &str,
        now: &str,
    ) -> Result<Result<Case, CaseRefusal>, StoreError> {
        each!(self.file_case(s, day, now))
    }
    pub fn lookup_case(
        &self,
        reference: &str,
        password: &str,
    ) -> Result<Result<Case, CaseRefusal>, StoreError> {
        each!(self.lookup_case(reference, password))
    }
    pub fn cases_of(&self, holder_sha256: &str, limit: u32) -> Result<Vec<Case>, StoreError> {
        each!(self.cases_of(holder_sha256, limit))
    }
    pub fn list_cases(
        &self,
        status: Option<CaseStatus>,
        limit: u32,
    ) -> Result<Vec<Case>, StoreError> {
        each!(self.list_cases(status, limit))
    }
    pub fn progress_case(
        &self,
        number: &str,
        p: &CaseProgress,
        now: &str,
    ) -> Result<Result<Case, CaseRefusal>, StoreError> {
        each!(self.progress_case(number, p, now))
    }

    pub fn import_documents(&self, docs: &[HolderDocuments]) -> Result<(usize, usize), StoreError> {
        each!(self.import_documents(docs))
    }
    pub fn licences_of(&self, holder_sha256: &str) -> Result<Vec<Licence>, StoreError> {
        each!(self.licences_of(holder_sha256))
    }
    pub fn proofs_of(&self, holder_sha256: &str) -> Result<Vec<ProofKind>, StoreError> {
        each!(self.proofs_of(holder_sha256))
    }
    pub fn issue_proof(
        &self,
        r: &ProofRequest,
        day: &str,
        now: &str,
    ) -> Result<Result<Proof, DocumentRefusal>, StoreError> {
        each!(self.issue_proof(r, day, now))
    }
    pub fn check_proof(
        &self,
        number: &str,
        code: &str,
    ) -> Result<Result<ProofCheck, DocumentRefusal>, StoreError> {
        each!(self.check_proof(number, code))
    }

    pub fn register_update(&self, b: &crate::updates::UpdateBundle) -> Result<(), StoreError> {
        each!(self.register_update(b))
    }
    pub fn update_bundle(
        &self,
        sha256: &str,
    ) -> Result<Option<crate::updates::UpdateBundle>, StoreError> {
        each!(self.update_bundle(sha256))
    }
    pub fn update_bundles(&self) -> Result<Vec<crate::updates::UpdateBundle>, StoreError> {
        each!(self.update_bundles())
    }
    pub fn read_attachment(
        &self,
        sha256: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self.read_attachment(sha256, offset, len))
    }
}
