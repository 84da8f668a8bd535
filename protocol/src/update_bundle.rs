//! The signed update bundle (`HKUPD1`): one text line naming the format, one line of manifest
//! JSON (version, the files with their sizes, SHA-256 and modes, and the publisher's signature
//! over the rest of the manifest), then the files' bytes one after another. The signature is
//! checked against the terminal's pinned publisher keys (Ed25519 or SM2, as for documents)
//! before a byte of payload is trusted, and every file is checked against its hash as it is
//! copied, so a corrupt, truncated or forged bundle is refused and never half-installed.

use std::io::{BufRead, Read, Write};
use std::path::Path;

use crate::signing::{Algorithm, PublicKey, SignatureError, SigningKey};
use crate::wire::canonical_json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MAGIC: &str = "HKUPD1";
/// The manifest line's limit: a few files' names and hashes, never megabytes.
const MAX_MANIFEST: usize = 64 * 1024;
/// What signatures are made over, so no other HallKit signature can be replayed as one.
const CONTEXT: &[u8] = b"HALLKIT-UPDATE-1\n";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    /// A plain file name (`kiosk`): no directories, nothing hidden.
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: String,
    pub files: Vec<BundleFile>,
    pub algorithm: Algorithm,
    pub key_id: String,
    pub signature: String,
}

impl Manifest {
    fn message(version: &str, files: &[BundleFile]) -> Vec<u8> {
        let mut m = CONTEXT.to_vec();
        m.extend(
            canonical_json(&serde_json::json!({ "version": version, "files": files })).into_bytes(),
        );
        m
    }

    pub fn verify(&self, trusted: &[PublicKey]) -> Result<(), BundleError> {
        let key = trusted
            .iter()
            .find(|k| k.key_id() == self.key_id && k.algorithm == self.algorithm)
            .ok_or_else(|| BundleError::Untrusted(self.key_id.clone()))?;
        let sig = hex::decode(&self.signature).map_err(|_| BundleError::BadSignature)?;
        key.verify(&Self::message(&self.version, &self.files), &sig)
            .map_err(|e| match e {
                SignatureError::Untrusted { key_id } => BundleError::Untrusted(key_id),
                _ => BundleError::BadSignature,
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not an update bundle (it does not start with {MAGIC})")]
    NotABundle,
    #[error("the bundle's manifest is longer than {MAX_MANIFEST} bytes")]
    ManifestTooLong,
    #[error("the bundle's manifest is not valid: {0}")]
    BadManifest(String),
    #[error("the bundle is signed by key {0}, which this terminal does not trust")]
    Untrusted(String),
    #[error("the bundle's signature does not match its manifest")]
    BadSignature,
    #[error("file {0:?} in the bundle is cut short")]
    Truncated(String),
    #[error("file {0:?} in the bundle does not match its hash")]
    HashMismatch(String),
    #[error("the bundle has bytes after its last file")]
    TrailingBytes,
    #[error("writing the update: {0}")]
    Io(#[from] std::io::Error),
}

fn check_name(name: &str) -> Result<(), BundleError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(BundleError::BadManifest(format!(
            "file name {name:?} is not a plain file name"
        )))
    }
}

/// Makes a bundle of `files` (name, bytes, mode), signed by `key`.
pub fn make(version: &str, files: &[(&str, &[u8], u32)], key: &SigningKey) -> Vec<u8> {
    let listed: Vec<BundleFile> = files
        .iter()
        .map(|(name, bytes, mode)| BundleFile {
            name: name.to_string(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            mode: *mode,
        })
        .collect();
    let signature = hex::encode(key.sign(&Manifest::message(version, &listed)));
    let manifest = Manifest {
        version: version.to_string(),
        files: listed,
        algorithm: key.algorithm(),
        key_id: key.public_key().key_id(),
        signature,
    };
    let mut out = format!("{MAGIC}\n").into_bytes();
    out.extend(serde_json::to_vec(&manifest).unwrap_or_default());
    out.push(b'\n');
    for (_, bytes, _) in files {
        out.extend_from_slice(bytes);
    }
    out
}

/// Reads one line of at most `max` bytes (without its newline).
fn line(r: &mut impl BufRead, max: usize) -> Result<Vec<u8>, BundleError> {
    let mut buf = Vec::new();
    let n = r.take(max as u64 + 1).read_until(b'\n', &mut buf)?;
    if buf.last() != Some(&b'\n') {
        return Err(if n > max {
            BundleError::ManifestTooLong
        } else {
            BundleError::NotABundle
        });
    }
    buf.pop();
    Ok(buf)
}

/// Reads and checks the manifest: format, shape, names and signature.
pub fn read_manifest(r: &mut impl BufRead, trusted: &[PublicKey]) -> Result<Manifest, BundleError> {
    let m = read_manifest_unverified(r)?;
    m.verify(trusted)?;
    Ok(m)
}

/// Reads the manifest and checks its format, shape and names, but not its signature: for the
/// centre, which holds bundles for terminals without trusting them (each terminal checks the
/// signature against the keys it pins). Never trust a payload read this way.
pub fn read_manifest_unverified(r: &mut impl BufRead) -> Result<Manifest, BundleError> {
    let magic = line(r, 16).map_err(|_| BundleError::NotABundle)?;
    if magic != MAGIC.as_bytes() {
        return Err(BundleError::NotABundle);
    }
    let text = line(r, MAX_MANIFEST).map_err(|e| match e {
        BundleError::NotABundle => BundleError::Truncated("the manifest".into()),
        e => e,
    })?;
    let m: Manifest =
        serde_json::from_slice(&text).map_err(|e| BundleError::BadManifest(e.to_string()))?;
    if m.files.is_empty() {
        return Err(BundleError::BadManifest("it lists no files".into()));
    }
    if m.version.is_empty() || m.version.len() > 64 {
        return Err(BundleError::BadManifest(
            "its version is empty or too long".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for f in &m.files {
        check_name(&f.name)?;
        if !seen.insert(f.name.as_str()) {
            return Err(BundleError::BadManifest(format!(
                "{:?} is listed twice",
                f.name
            )));
        }
    }
    Ok(m)
}

/// Copies the payload into `dir` file by file, each checked against its hash; `each` is
/// called before each file (the fault tests stop the copy there). Files are fsync'd.
pub fn extract(
    r: &mut impl Read,
    m: &Manifest,
    dir: &Path,
    mut each: impl FnMut(usize) -> std::io::Result<()>,
) -> Result<(), BundleError> {
    use std::os::unix::fs::OpenOptionsExt;
    for (i, f) in m.files.iter().enumerate() {
        each(i)?;
        let path = dir.join(&f.name);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(f.mode & 0o755)
            .open(&path)?;
        let mut hasher = Sha256::new();
        let mut left = f.size;
        let mut buf = vec![0u8; 64 * 1024];
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = r.read(&mut buf[..want])?;
            if n == 0 {
                return Err(BundleError::Truncated(f.name.clone()));
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            left -= n as u64;
        }
        if hex::encode(hasher.finalize()) != f.sha256 {
            return Err(BundleError::HashMismatch(f.name.clone()));
        }
        out.sync_all()?;
    }
    let mut one = [0u8; 1];
    if r.read(&mut one)? != 0 {
        return Err(BundleError::TrailingBytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::generate(Algorithm::Ed25519)
    }

    #[test]
    fn a_bundle_round_trips_with_both_algorithms() {
        for alg in [Algorithm::Ed25519, Algorithm::Sm2] {
            let k = SigningKey::generate(alg);
            let b = make("1.2.3", &[("kiosk", b"#!/bin/sh\necho 1.2.3\n", 0o755)], &k);
            let mut r = std::io::BufReader::new(&b[..]);
            let m = read_manifest(&mut r, &[k.public_key()]).unwrap();
            assert_eq!(m.version, "1.2.3");
            let dir = tempfile::tempdir().unwrap();
            extract(&mut r, &m, dir.path(), |_| Ok(())).unwrap();
            assert_eq!(
                std::fs::read(dir.path().join("kiosk")).unwrap(),
                b"#!/bin/sh\necho 1.2.3\n"
            );
        }
    }

    #[test]
    fn forged_corrupt_and_odd_bundles_are_refused_with_their_reason() {
        let k = key();
        let good = make("2.0.0", &[("kiosk", &[7u8; 1000], 0o755)], &k);
        let check = |bytes: &[u8], trusted: &[PublicKey]| -> Result<(), BundleError> {
            let mut r = std::io::BufReader::new(bytes);
            let m = read_manifest(&mut r, trusted)?;
            let dir = tempfile::tempdir().unwrap();
            extract(&mut r, &m, dir.path(), |_| Ok(()))
        };
        let pk = [k.public_key()];
        assert!(check(&good, &pk).is_ok());
        assert!(matches!(
            check(&good, &[key().public_key()]),
            Err(BundleError::Untrusted(_))
        ));
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(check(&flipped, &pk), Err(BundleError::HashMismatch(n)) if n == "kiosk"));
        assert!(matches!(
            check(&good[..good.len() - 10], &pk),
            Err(BundleError::Truncated(_))
        ));
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(
            check(&longer, &pk),
            Err(BundleError::TrailingBytes)
        ));
        let renamed = String::from_utf8_lossy(&good).replacen("\"2.0.0\"", "\"9.0.0\"", 1);
        assert!(matches!(
            check(renamed.as_bytes(), &pk),
            Err(BundleError::BadSignature)
        ));
        assert!(matches!(
            check(b"PK\x03\x04zip", &pk),
            Err(BundleError::NotABundle)
        ));
        assert!(matches!(check(b"", &pk), Err(BundleError::NotABundle)));
        let huge = format!("{MAGIC}\n{}", "x".repeat(MAX_MANIFEST + 10));
        assert!(matches!(
            check(huge.as_bytes(), &pk),
            Err(BundleError::ManifestTooLong)
        ));
        let sneaky = make("1", &[("../../etc/passwd", b"x", 0o644)], &k);
        assert!(matches!(
            check(&sneaky, &pk),
            Err(BundleError::BadManifest(_))
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn any_bytes_are_refused_without_a_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut with_magic = format!("{MAGIC}\n").into_bytes();
            with_magic.extend(&bytes);
            for b in [&bytes[..], &with_magic[..]] {
                let mut r = std::io::BufReader::new(b);
                proptest::prop_assert!(read_manifest(&mut r, &[key().public_key()]).is_err());
            }
        }
    }
}
