//! On-device face models. Models load from a directory described by a manifest (file, sha256,
//! licence, input shape, thresholds); a missing or altered file is a clear error, and nothing is
//! ever fetched from a network.

pub mod manifest;

pub use manifest::{Manifest, ModelEntry, ModelError, ModelStore};
