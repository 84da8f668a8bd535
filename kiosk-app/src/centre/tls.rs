//! The centre's certificate authority, pinned: when `[centre] ca_cert` is set, the terminal's
//! client for the centre trusts that CA and no other (the system's and the built-in roots are
//! off), so a proxy holding a publicly trusted certificate cannot stand in for the centre. The
//! CA belongs to the client that uses it, not to the process.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("the centre CA {path}: {message}")]
pub struct CaError {
    pub path: String,
    pub message: String,
}

/// A CA certificate checked to be PEM with at least one certificate in it.
#[derive(Clone)]
pub struct PinnedCa {
    pem: Vec<u8>,
}

impl std::fmt::Debug for PinnedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinnedCa({} bytes of PEM)", self.pem.len())
    }
}

impl PinnedCa {
    pub fn from_pem(pem: Vec<u8>) -> Result<PinnedCa, String> {
        use rustls::pki_types::pem::PemObject;
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        if certs.is_empty() {
            return Err("no certificate in the file".into());
        }
        reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string())?;
        Ok(PinnedCa { pem })
    }

    /// Reads the CA file a configuration names.
    pub fn load(path: &Path) -> Result<PinnedCa, CaError> {
        let e = |message: String| CaError {
            path: path.display().to_string(),
            message,
        };
        let pem = std::fs::read(path).map_err(|x| e(x.to_string()))?;
        PinnedCa::from_pem(pem).map_err(e)
    }

    /// A client builder that trusts this CA only.
    pub fn apply(&self, b: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        match reqwest::Certificate::from_pem(&self.pem) {
            Ok(ca) => b.tls_built_in_root_certs(false).add_root_certificate(ca),
            // Checked in from_pem; unreachable in practice, and trusting nothing is the safe
            // way to fail.
            Err(_) => b.tls_built_in_root_certs(false),
        }
    }
}
