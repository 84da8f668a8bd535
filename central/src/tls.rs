//! TLS for the centre: a hall's own certificate authority and a server certificate made by
//! `kiosk-central tls-init`, served with rustls (ring). Terminals pin the CA: they trust it and
//! nothing else, so neither a public CA nor a proxy with a system-trusted certificate can stand
//! in for the centre.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// PEM texts of a CA and a server certificate it signed.
pub struct TlsBundle {
    pub ca_cert: String,
    pub ca_key: String,
    pub server_cert: String,
    pub server_key: String,
}

fn err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// A new CA and a server certificate for `hosts` (names or IP addresses), valid ten years.
pub fn make_bundle(hall: &str, hosts: &[String]) -> std::io::Result<TlsBundle> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.distinguished_name
        .push(DnType::CommonName, format!("HallKit CA {hall}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_after = rcgen::date_time_ymd(2036, 12, 31);
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let server_key = KeyPair::generate().map_err(err)?;
    let mut server = CertificateParams::new(hosts.to_vec()).map_err(err)?;
    server
        .distinguished_name
        .push(DnType::CommonName, format!("HallKit centre {hall}"));
    server.not_after = rcgen::date_time_ymd(2036, 12, 31);
    let server_cert = server
        .signed_by(&server_key, &ca_cert, &ca_key)
        .map_err(err)?;
    Ok(TlsBundle {
        ca_cert: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
    })
}

impl TlsBundle {
    /// Writes `ca.pem`, `ca.key`, `server.pem`, `server.key` into `dir` (keys mode 0600).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(dir)?;
        for (name, text, mode) in [
            ("ca.pem", &self.ca_cert, 0o644),
            ("ca.key", &self.ca_key, 0o600),
            ("server.pem", &self.server_cert, 0o644),
            ("server.key", &self.server_key, 0o600),
        ] {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(dir.join(name))?
                .write_all(text.as_bytes())?;
        }
        Ok(())
    }
}

/// The rustls server configuration for a certificate chain and key in PEM.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> std::io::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(err("no certificate in the PEM"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| err(format!("key: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(err)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
