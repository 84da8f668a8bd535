//! The centre's certificate authority, pinned: when `[centre] ca_cert` is set, every client of
//! the centre trusts that CA and no other (the system's and the built-in roots are off), so a
//! proxy holding a publicly trusted certificate cannot stand in for the centre.

use std::sync::RwLock;

static PINNED: RwLock<Option<Vec<u8>>> = RwLock::new(None);

#[derive(Debug, thiserror::Error)]
#[error("the centre CA {path}: {message}")]
pub struct PinError {
    pub path: String,
    pub message: String,
}

/// Pins the CA in `pem` for clients made from now on (None: the default roots).
pub fn pin_ca(pem: Option<Vec<u8>>) -> Result<(), String> {
    if let Some(p) = &pem {
        use rustls::pki_types::pem::PemObject;
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(p)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        if certs.is_empty() {
            return Err("no certificate in the file".into());
        }
        reqwest::Certificate::from_pem(p).map_err(|e| e.to_string())?;
    }
    *PINNED.write().unwrap_or_else(|p| p.into_inner()) = pem;
    Ok(())
}

/// Reads and pins the CA file a configuration names.
pub fn pin_ca_file(path: &std::path::Path) -> Result<(), PinError> {
    let e = |message: String| PinError {
        path: path.display().to_string(),
        message,
    };
    let pem = std::fs::read(path).map_err(|x| e(x.to_string()))?;
    pin_ca(Some(pem)).map_err(e)
}

fn pinned() -> Option<reqwest::Certificate> {
    PINNED
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|p| reqwest::Certificate::from_pem(p).ok())
}

/// A client builder for talking to the centre.
pub fn client() -> reqwest::ClientBuilder {
    let b = reqwest::Client::builder();
    match pinned() {
        Some(ca) => b.tls_built_in_root_certs(false).add_root_certificate(ca),
        None => b,
    }
}

/// The blocking counterpart, for outputs that run on a device thread.
pub fn blocking_client() -> reqwest::blocking::ClientBuilder {
    let b = reqwest::blocking::Client::builder();
    match pinned() {
        Some(ca) => b.tls_built_in_root_certs(false).add_root_certificate(ca),
        None => b,
    }
}
