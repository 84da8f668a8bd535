//! The central service in-process on loopback, for a terminal whose configuration names no
//! remote centre (the sim profile, a stand-alone ticket machine).

use kiosk_central::{CentreHandle, SqliteStore};

use crate::config::Config;

/// Starts the embedded centre when the config names no remote one.
pub async fn start(config: &Config) -> anyhow::Result<Option<CentreHandle>> {
    if config.centre.url.is_some() {
        return Ok(None);
    }
    let db = config.data_dir().join("central").join("central.db");
    let store = SqliteStore::open(&db)?;
    let handle = CentreHandle::start(&config.centre.listen, store).await?;
    tracing::info!(url = %handle.base_url(), db = %db.display(), "embedded central service started");
    Ok(Some(handle))
}

/// For a terminal with an embedded centre: signs the configured sample catalogue with a
/// publisher key kept in the data directory (made on first use) and publishes it into that
/// centre, unless the catalogue in force already says the same. Returns the key to pin, so the
/// terminal takes the catalogue through the same signed path as from a hall's centre.
pub async fn publish_sample_catalogue(
    config: &Config,
    centre: &super::CentreClient,
    journal: &crate::journal::Journal,
) -> anyhow::Result<Option<kiosk_protocol::signing::PublicKey>> {
    use anyhow::Context;
    use kiosk_protocol::signing::{Algorithm, DocumentKind, SignedDocument, SigningKey};
    let Some(sample) = &config.catalogue.embedded_sample else {
        return Ok(None);
    };
    let body: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sample).with_context(|| format!("reading {}", sample.display()))?,
    )
    .with_context(|| format!("{} is not JSON", sample.display()))?;
    crate::services::catalogue::Catalogue::from_json(&body)
        .with_context(|| format!("{}", sample.display()))?;
    let key_path = config.data_dir().join("sample-publisher.key");
    let key = match std::fs::read_to_string(&key_path) {
        Ok(text) => SigningKey::from_secret_string(text.trim())
            .with_context(|| format!("{}", key_path.display()))?,
        Err(_) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let key = SigningKey::generate(Algorithm::Ed25519);
            if let Some(d) = key_path.parent() {
                std::fs::create_dir_all(d)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_path)
                .with_context(|| format!("creating {}", key_path.display()))?;
            writeln!(f, "{}", key.to_secret_string())?;
            key
        }
    };
    let in_force = journal
        .with(|ob| ob.document(DocumentKind::Catalogue))
        .await?;
    if in_force
        .as_ref()
        .is_some_and(|d| d.body == body && d.key_id == key.public_key().key_id())
    {
        return Ok(Some(key.public_key()));
    }
    let version = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1)
        .max(in_force.map_or(0, |d| d.version + 1));
    let doc = SignedDocument::sign(DocumentKind::Catalogue, "all", version, body, &key);
    centre.publish(&doc).await?;
    tracing::info!(version, sample = %sample.display(), "sample catalogue published into the embedded centre");
    Ok(Some(key.public_key()))
}
