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
    if let Some(sample) = &config.catalogue.embedded_documents {
        use anyhow::Context;
        let json =
            std::fs::read(sample).with_context(|| format!("reading {}", sample.display()))?;
        let docs = kiosk_central::documents::Import::parse(&json)
            .with_context(|| format!("{}", sample.display()))?;
        let (licences, proofs) = store.import_documents(&docs)?;
        tracing::info!(licences, proofs, sample = %sample.display(), "sample e-licences and proof data in the embedded centre");
    }
    if let Some(sample) = &config.catalogue.embedded_staff {
        let n = import_staff(&store, sample)?;
        tracing::info!(staff = n, sample = %sample.display(), "sample staff directory in the embedded centre");
    }
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
    use kiosk_protocol::signing::{Algorithm, DocumentKind, SignedDocument};
    let Some(sample) = &config.catalogue.embedded_sample else {
        return Ok(None);
    };
    let body: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sample).with_context(|| format!("reading {}", sample.display()))?,
    )
    .with_context(|| format!("{} is not JSON", sample.display()))?;
    crate::services::catalogue::Catalogue::from_json(&body)
        .with_context(|| format!("{}", sample.display()))?;
    let key = key_in_data_dir(config, "sample-publisher.key", Algorithm::Ed25519)?;
    let in_force = journal
        .with(|ob| ob.document(DocumentKind::Catalogue))
        .await?;
    if in_force
        .as_ref()
        .is_some_and(|d| d.body == body && d.key_id == key.public_key().key_id())
    {
        if config.terminal.profile == crate::config::Profile::Sim {
            publish_sample_eid_keys(config, centre, journal, &key).await?;
        }
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
    if config.terminal.profile == crate::config::Profile::Sim {
        publish_sample_eid_keys(config, centre, journal, &key).await?;
    }
    Ok(Some(key.public_key()))
}

/// The sim profile's e-ID issuer: an SM2 key in the data directory, standing in for a
/// province's CTID platform so the login by e-ID code runs end to end. Never on hardware.
pub fn sample_eid_issuer(config: &Config) -> anyhow::Result<crate::services::eid::CodeIssuer> {
    use kiosk_protocol::signing::Algorithm;
    Ok(crate::services::eid::CodeIssuer {
        id: "sim-ctid".into(),
        key: key_in_data_dir(config, "sample-eid-issuer.key", Algorithm::Sm2)?,
    })
}

/// Publishes the sim issuer's key pool (`eid-keys`), signed like the sample catalogue.
async fn publish_sample_eid_keys(
    config: &Config,
    centre: &super::CentreClient,
    journal: &crate::journal::Journal,
    publisher: &kiosk_protocol::signing::SigningKey,
) -> anyhow::Result<()> {
    use kiosk_protocol::signing::{DocumentKind, SignedDocument};
    let issuer = sample_eid_issuer(config)?;
    let in_force = journal
        .with(|ob| ob.document(DocumentKind::EidKeys))
        .await?;
    let key = issuer.key.public_key().to_string();
    if in_force
        .as_ref()
        .is_some_and(|d| d.body.to_string().contains(&key))
    {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let pool = crate::services::eid::KeyPool {
        issuers: vec![issuer.entry(
            "模拟电子身份签发方",
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(3650),
        )],
        max_code_life_s: 300,
    };
    let version = in_force.map_or(1, |d| d.version + 1);
    let doc = SignedDocument::sign(
        DocumentKind::EidKeys,
        "all",
        version,
        serde_json::to_value(&pool)?,
        publisher,
    );
    centre.publish(&doc).await?;
    tracing::info!(
        version,
        "sample e-ID key pool published into the embedded centre"
    );
    Ok(())
}

/// A signing key kept in the data directory (mode 0600), made on first use.
fn key_in_data_dir(
    config: &Config,
    name: &str,
    algorithm: kiosk_protocol::signing::Algorithm,
) -> anyhow::Result<kiosk_protocol::signing::SigningKey> {
    use anyhow::Context;
    use kiosk_protocol::signing::SigningKey;
    let key_path = config.data_dir().join(name);
    if let Ok(text) = std::fs::read_to_string(&key_path) {
        return SigningKey::from_secret_string(text.trim())
            .with_context(|| format!("{}", key_path.display()));
    }
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = SigningKey::generate(algorithm);
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
    Ok(key)
}

/// A sample staff directory for the embedded centre: `{"hall": …, "staff": [{"staff", "name",
/// "title", "pin"}]}`, the PINs hashed on the way in (a hall's centre takes its directory with
/// `kiosk-central queue staff`).
fn import_staff(store: &SqliteStore, path: &std::path::Path) -> anyhow::Result<usize> {
    use anyhow::Context;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        hall: String,
        staff: Vec<Clerk>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Clerk {
        staff: String,
        name: String,
        #[serde(default)]
        title: String,
        pin: String,
    }
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let sample: Sample =
        serde_json::from_slice(&text).with_context(|| format!("{}", path.display()))?;
    for c in &sample.staff {
        anyhow::ensure!(
            kiosk_central::staff::is_pin(&c.pin),
            "{}: staff {}: a PIN is 4 to 12 digits",
            path.display(),
            c.staff
        );
        let entry = kiosk_central::staff::StaffEntry {
            staff: c.staff.clone(),
            name: c.name.clone(),
            title: c.title.clone(),
            photo_jpeg_base64: None,
            pin_hash: kiosk_central::staff::hash_pin(&c.pin).map_err(anyhow::Error::msg)?,
        };
        store.put_staff(&sample.hall, &entry)?;
    }
    Ok(sample.staff.len())
}
