//! Personal data at rest: files the terminal keeps until the centre has them (scanned
//! materials, signatures, application PDFs) are sealed with an authenticated cipher — SM4-GCM
//! (GB/T 32907, the national algorithm) or AES-256-GCM, by config — under a key kept in the
//! data directory with mode 0600. A sealed file read back with another key, or changed on
//! disk, is refused with a typed error rather than returned as garbage.
//!
//! Layout: `HKSEAL1` · algorithm byte (1 SM4-GCM, 2 AES-256-GCM) · 12-byte nonce · ciphertext
//! with its 16-byte tag. The associated data is the file's name (the content hash), so a
//! sealed file renamed to another attachment's name does not open.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::aes::cipher::consts::U12;
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use serde::Deserialize;
use zeroize::Zeroizing;

type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

const MAGIC: &[u8; 7] = b"HKSEAL1";
const NONCE: usize = 12;
const HEADER: usize = MAGIC.len() + 1 + NONCE;

/// The cipher for files at rest (`[outbox] at_rest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AtRest {
    #[default]
    Sm4Gcm,
    Aes256Gcm,
}

impl AtRest {
    fn id(self) -> u8 {
        match self {
            AtRest::Sm4Gcm => 1,
            AtRest::Aes256Gcm => 2,
        }
    }

    fn key_len(self) -> usize {
        match self {
            AtRest::Sm4Gcm => 16,
            AtRest::Aes256Gcm => 32,
        }
    }

    fn key_file(self) -> &'static str {
        match self {
            AtRest::Sm4Gcm => "at-rest.sm4.key",
            AtRest::Aes256Gcm => "at-rest.aes256.key",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {0} has the wrong length or is readable by others; refusing it")]
    BadKey(String),
    #[error("{0} is not a sealed file")]
    NotSealed(String),
    #[error("{0} was sealed with a cipher this terminal is not configured for")]
    OtherCipher(String),
    #[error("{0} does not open: it was changed on disk or sealed under another key")]
    Tampered(String),
}

/// Seals and opens files under the terminal's at-rest key. The key is wiped when dropped.
#[derive(Clone)]
pub struct Sealer {
    cipher: AtRest,
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({:?}, key withheld)", self.cipher)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SealError + '_ {
    move |source| SealError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Sealer {
    /// The key in `keys_dir` for `cipher`, made (from the OS's random source, mode 0600, in a
    /// mode-0700 folder) the first time. A key file others can read, or of the wrong length,
    /// is refused: the data it protects would not be private.
    pub fn open(keys_dir: &Path, cipher: AtRest) -> Result<Sealer, SealError> {
        std::fs::create_dir_all(keys_dir).map_err(io(keys_dir))?;
        std::fs::set_permissions(keys_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io(keys_dir))?;
        let path = keys_dir.join(cipher.key_file());
        if !path.exists() {
            let mut key = Zeroizing::new(vec![0u8; cipher.key_len()]);
            OsRng.fill_bytes(&mut key);
            let tmp = keys_dir.join(format!(".{}.tmp", cipher.key_file()));
            {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(io(&tmp))?;
                f.write_all(&key).map_err(io(&tmp))?;
                f.sync_all().map_err(io(&tmp))?;
            }
            std::fs::rename(&tmp, &path).map_err(io(&path))?;
        }
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        let key = Zeroizing::new(std::fs::read(&path).map_err(io(&path))?);
        if key.len() != cipher.key_len() || meta.permissions().mode() & 0o077 != 0 {
            return Err(SealError::BadKey(path.display().to_string()));
        }
        Ok(Sealer { cipher, key })
    }

    pub fn cipher(&self) -> AtRest {
        self.cipher
    }

    /// `plain` sealed, bound to `name`.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: name.as_bytes(),
        };
        let n = Nonce::from_slice(&nonce);
        let sealed = match self.cipher {
            AtRest::Sm4Gcm => Sm4Gcm::new_from_slice(&self.key)
                .map_err(|_| SealError::BadKey(name.into()))?
                .encrypt(n, payload),
            AtRest::Aes256Gcm => Aes256Gcm::new_from_slice(&self.key)
                .map_err(|_| SealError::BadKey(name.into()))?
                .encrypt(n, payload),
        }
        .map_err(|_| SealError::Tampered(name.into()))?;
        let mut out = Vec::with_capacity(HEADER + sealed.len());
        out.extend_from_slice(MAGIC);
        out.push(self.cipher.id());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plain bytes of a sealed file named `name`.
    pub fn open_bytes(&self, name: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if !is_sealed(sealed) {
            return Err(SealError::NotSealed(name.into()));
        }
        if sealed[MAGIC.len()] != self.cipher.id() {
            return Err(SealError::OtherCipher(name.into()));
        }
        let n = Nonce::from_slice(&sealed[MAGIC.len() + 1..HEADER]);
        let payload = Payload {
            msg: &sealed[HEADER..],
            aad: name.as_bytes(),
        };
        match self.cipher {
            AtRest::Sm4Gcm => Sm4Gcm::new_from_slice(&self.key)
                .map_err(|_| SealError::BadKey(name.into()))?
                .decrypt(n, payload),
            AtRest::Aes256Gcm => Aes256Gcm::new_from_slice(&self.key)
                .map_err(|_| SealError::BadKey(name.into()))?
                .decrypt(n, payload),
        }
        .map(Zeroizing::new)
        .map_err(|_| SealError::Tampered(name.into()))
    }
}

/// Whether bytes are a sealed file (files written before sealing was on are plain).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER + 16 && bytes.starts_with(MAGIC)
}

/// Where the terminal keeps its at-rest keys.
pub fn keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ciphers_seal_and_open_and_the_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        for cipher in [AtRest::Sm4Gcm, AtRest::Aes256Gcm] {
            let s = Sealer::open(&dir.path().join("keys"), cipher).unwrap();
            let key = dir.path().join("keys").join(cipher.key_file());
            assert_eq!(
                std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                std::fs::metadata(dir.path().join("keys"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o700
            );
            let plain = "张三 11010519491231002X".repeat(100);
            let sealed = s.seal("abc", plain.as_bytes()).unwrap();
            assert!(is_sealed(&sealed));
            assert!(!sealed.windows(6).any(|w| w == "张三".as_bytes()));
            assert_eq!(&*s.open_bytes("abc", &sealed).unwrap(), plain.as_bytes());
            // The same key again after a restart.
            let again = Sealer::open(&dir.path().join("keys"), cipher).unwrap();
            assert_eq!(
                &*again.open_bytes("abc", &sealed).unwrap(),
                plain.as_bytes()
            );
            assert!(!format!("{again:?}").contains(&hex::encode(&*again.key)));
        }
    }

    #[test]
    fn changed_renamed_foreign_or_plain_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::open(dir.path(), AtRest::Sm4Gcm).unwrap();
        let sealed = s.seal("abc", b"personal data").unwrap();
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            s.open_bytes("abc", &flipped),
            Err(SealError::Tampered(_))
        ));
        assert!(matches!(
            s.open_bytes("def", &sealed),
            Err(SealError::Tampered(_))
        ));
        let other = tempfile::tempdir().unwrap();
        let stranger = Sealer::open(other.path(), AtRest::Sm4Gcm).unwrap();
        assert!(matches!(
            stranger.open_bytes("abc", &sealed),
            Err(SealError::Tampered(_))
        ));
        let aes = Sealer::open(dir.path(), AtRest::Aes256Gcm).unwrap();
        assert!(matches!(
            aes.open_bytes("abc", &sealed),
            Err(SealError::OtherCipher(_))
        ));
        assert!(matches!(
            s.open_bytes("abc", b"plain"),
            Err(SealError::NotSealed(_))
        ));
        assert!(matches!(
            s.open_bytes("abc", &sealed[..20]),
            Err(SealError::NotSealed(_))
        ));
    }

    #[test]
    fn a_key_others_can_read_or_of_the_wrong_length_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Sealer::open(dir.path(), AtRest::Aes256Gcm).unwrap();
        let key = dir.path().join(AtRest::Aes256Gcm.key_file());
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Sealer::open(dir.path(), AtRest::Aes256Gcm),
            Err(SealError::BadKey(_))
        ));
        std::fs::write(&key, b"short").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            Sealer::open(dir.path(), AtRest::Aes256Gcm),
            Err(SealError::BadKey(_))
        ));
    }
}
