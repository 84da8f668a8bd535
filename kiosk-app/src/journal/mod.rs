//! Everything the terminal must not lose: the outbox of events for the centre (with documents
//! in force and remote-command records), content-addressed attachments sealed at rest, the
//! recorder that journals the event bus's durable lane, and the schema's versioned migrations.

pub mod attachments;
pub mod audit;
pub mod migrations;
pub mod number_blocks;
pub mod outbox;
pub mod recorder;
pub mod sealed;
pub mod supplies;

use std::sync::{Arc, Mutex, MutexGuard};

pub use outbox::{Outbox, OutboxError};

/// The outbox, shared by the recorder, outputs, sync and commands. Its writes are fsync'd:
/// from async code go through [`Journal::with`], which runs them on the blocking pool.
#[derive(Clone)]
pub struct Journal(Arc<Mutex<Outbox>>);

impl Journal {
    pub fn new(outbox: Outbox) -> Journal {
        Journal(Arc::new(Mutex::new(outbox)))
    }

    /// The outbox, for threads that may block (device threads, flows, the recorder).
    pub fn lock(&self) -> MutexGuard<'_, Outbox> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the outbox off the async executor (fsync'd writes block).
    pub async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Outbox) -> T + Send + 'static,
    ) -> T {
        let inner = self.0.clone();
        let run = move || f(&mut inner.lock().unwrap_or_else(|p| p.into_inner()));
        match tokio::runtime::Handle::try_current() {
            // A panic inside `f` surfaces here as it would have inline.
            Ok(h) => match h.spawn_blocking(run).await {
                Ok(v) => v,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            },
            Err(_) => run(),
        }
    }
}
