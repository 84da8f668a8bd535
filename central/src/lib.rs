//! The thin central service the terminals sync with. It runs on its own (`kiosk-central serve`)
//! or embedded in a terminal's runtime on loopback when no remote centre is configured.

pub mod announce;
pub mod backend;
pub mod cases;
pub mod documents;
pub mod loadgen;
pub mod pairing;
pub mod pg;
pub mod pgserver;
pub mod queue;
pub mod rollout;
pub mod server;
pub mod staff;
pub mod store;
pub mod tls;
pub mod updates;

pub use backend::Store;
pub use pg::PgStore;
pub use server::{router, router_with, CentreHandle, CentreOptions};
pub use store::{AttachmentError, SqliteStore, StoreError};
