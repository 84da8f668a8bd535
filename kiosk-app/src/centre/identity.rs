//! The terminal's identity: a key pair made at enrolment, kept in the data directory (mode
//! 0600), whose public half the centre registers against a one-time code. Every request the
//! terminal makes for itself carries its id, the time and a signature over method, path, time
//! and body hash (kiosk_protocol::signing::request_message).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use kiosk_protocol::signing::{
    request_message, Algorithm, PublicKey, SigningKey, HEADER_DEVICE, HEADER_SIGNATURE, HEADER_TIME,
};
use kiosk_protocol::wire::{EnrolRequest, Enrolment};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a device key: {message}")]
    Key { path: String, message: String },
    #[error("enrolment: {0}")]
    Enrol(String),
}

pub struct DeviceIdentity {
    pub device_id: String,
    key: SigningKey,
}

impl DeviceIdentity {
    /// The key file of an enrolled terminal, if there is one.
    pub fn load(path: &Path, device_id: &str) -> Result<Option<DeviceIdentity>, IdentityError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(IdentityError::Io {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let key = SigningKey::from_secret_string(text.trim()).map_err(|e| IdentityError::Key {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(Some(DeviceIdentity {
            device_id: device_id.to_string(),
            key,
        }))
    }

    /// Makes a new key pair and writes it to `path`, which must not exist yet.
    pub fn create(
        path: &Path,
        device_id: &str,
        algorithm: Algorithm,
    ) -> Result<DeviceIdentity, IdentityError> {
        let io = |source| IdentityError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let key = SigningKey::generate(algorithm);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        writeln!(f, "{}", key.to_secret_string()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(DeviceIdentity {
            device_id: device_id.to_string(),
            key,
        })
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The headers that sign a request to `url` with `body`.
    pub fn headers(&self, method: &str, url: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let path = reqwest::Url::parse(url)
            .map(|u| match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            })
            .unwrap_or_else(|_| url.to_string());
        let time = chrono::Utc::now().timestamp();
        let sig = self.key.sign(&request_message(method, &path, time, body));
        vec![
            (HEADER_DEVICE, self.device_id.clone()),
            (HEADER_TIME, time.to_string()),
            (HEADER_SIGNATURE, hex::encode(sig)),
        ]
    }

    /// Signs an async request; `body` must be exactly the bytes sent.
    pub fn sign(
        &self,
        mut b: reqwest::RequestBuilder,
        method: &str,
        url: &str,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        for (k, v) in self.headers(method, url, body) {
            b = b.header(k, v);
        }
        b
    }

    /// Registers this terminal's public key with the centre against a one-time code, through
    /// `centre` (unsigned: the key is not registered yet).
    pub async fn enrol(
        &self,
        centre: &super::CentreClient,
        code: &str,
    ) -> Result<Enrolment, IdentityError> {
        let req = EnrolRequest {
            device_id: self.device_id.clone(),
            code: code.to_string(),
            public_key: self.public_key().to_string(),
        };
        centre
            .json(centre.post_json("/api/v1/enrol", &req))
            .await
            .map_err(|e| IdentityError::Enrol(e.to_string()))
    }
}
