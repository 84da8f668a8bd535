//! The model manifest and the verified model directory.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model manifest {path}: {message}")]
    Manifest { path: String, message: String },
    #[error("model {name}: file {path} is missing")]
    Missing { name: String, path: String },
    #[error("model {name}: file {path} has sha256 {actual}, but the manifest requires {expected}; refusing an altered model")]
    Altered {
        name: String,
        path: String,
        expected: String,
        actual: String,
    },
    #[error("model {name}: reading {path}: {source}")]
    Read {
        name: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no model named {0:?} in the manifest")]
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub licence: String,
    pub task: String,
    pub input: Vec<usize>,
    /// Further input shapes a model with dynamic sides is also prepared for.
    #[serde(default)]
    pub also_inputs: Vec<Vec<usize>>,
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ModelEntry>,
}

impl Manifest {
    /// The manifest shipped with this build.
    pub fn builtin() -> Manifest {
        Manifest::parse(include_str!("../manifest.toml"), "models/manifest.toml")
            .expect("the shipped manifest is checked by tests")
    }

    pub fn load(path: &Path) -> Result<Manifest, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Manifest {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Manifest::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Manifest, ModelError> {
        let bad = |message: String| ModelError::Manifest {
            path: origin.to_string(),
            message,
        };
        let m: Manifest = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for e in &m.models {
            if !seen.insert(e.name.as_str()) {
                return Err(bad(format!("model {} is listed twice", e.name)));
            }
            if e.sha256.len() != 64 || !e.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(format!(
                    "model {}: sha256 must be 64 hex digits",
                    e.name
                )));
            }
            if e.file.contains("..") || Path::new(&e.file).is_absolute() {
                return Err(bad(format!(
                    "model {}: file must be a plain name inside the model directory",
                    e.name
                )));
            }
        }
        Ok(m)
    }

    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// A model directory whose files have been checked against the manifest.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
    manifest: Manifest,
}

impl ModelStore {
    /// Verifies every model of the manifest in `dir`.
    pub fn open(dir: &Path, manifest: Manifest) -> Result<ModelStore, ModelError> {
        for entry in &manifest.models {
            verify(dir, entry)?;
        }
        Ok(ModelStore {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    pub fn path_of(&self, name: &str) -> Result<PathBuf, ModelError> {
        let e = self
            .manifest
            .get(name)
            .ok_or_else(|| ModelError::Unknown(name.to_string()))?;
        Ok(self.dir.join(&e.file))
    }

    /// The model's bytes, checked against the manifest again as they are read: the file is
    /// loaded from exactly the bytes that were verified.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, ModelError> {
        let entry = self.entry(name)?;
        let path = self.dir.join(&entry.file);
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ModelError::Missing {
                    name: name.to_string(),
                    path: shown.clone(),
                }
            } else {
                ModelError::Read {
                    name: name.to_string(),
                    path: shown.clone(),
                    source,
                }
            }
        })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(&entry.sha256) {
            return Err(ModelError::Altered {
                name: name.to_string(),
                path: shown,
                expected: entry.sha256.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entry(&self, name: &str) -> Result<&ModelEntry, ModelError> {
        self.manifest
            .get(name)
            .ok_or_else(|| ModelError::Unknown(name.to_string()))
    }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn verify(dir: &Path, entry: &ModelEntry) -> Result<(), ModelError> {
    let path = dir.join(&entry.file);
    let shown = path.display().to_string();
    if !path.is_file() {
        return Err(ModelError::Missing {
            name: entry.name.clone(),
            path: shown,
        });
    }
    let actual = sha256_file(&path).map_err(|source| ModelError::Read {
        name: entry.name.clone(),
        path: shown.clone(),
        source,
    })?;
    if !actual.eq_ignore_ascii_case(&entry.sha256) {
        return Err(ModelError::Altered {
            name: entry.name.clone(),
            path: shown,
            expected: entry.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_models() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models")
    }

    #[test]
    fn builtin_manifest_matches_the_shared_model_files() {
        let m = Manifest::builtin();
        assert_eq!(m.models.len(), 5);
        let dir = shared_models();
        if !dir.is_dir() {
            // A checkout without shared/ beside it cannot verify digests; the manifest still parsed.
            eprintln!(
                "shared/models not found at {}; digest check skipped",
                dir.display()
            );
            return;
        }
        let store = ModelStore::open(&dir, m).unwrap();
        assert!(store
            .path_of("face-embedder")
            .unwrap()
            .ends_with("mobilefacenet.onnx"));
        assert_eq!(
            store.entry("face-detector").unwrap().thresholds["score"],
            0.6
        );
        assert!(matches!(store.path_of("nope"), Err(ModelError::Unknown(_))));
    }

    #[test]
    fn missing_and_altered_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"not really a model";
        std::fs::write(dir.path().join("m.onnx"), data).unwrap();
        let digest = hex::encode(Sha256::digest(data));
        let text = format!(
            "[[model]]\nname = \"m\"\nfile = \"m.onnx\"\nsha256 = \"{digest}\"\nlicence = \"MIT\"\ntask = \"t\"\ninput = [1]\n"
        );
        let m = Manifest::parse(&text, "test").unwrap();
        ModelStore::open(dir.path(), m.clone()).unwrap();
        std::fs::write(dir.path().join("m.onnx"), b"tampered").unwrap();
        let e = ModelStore::open(dir.path(), m.clone()).unwrap_err();
        assert!(matches!(e, ModelError::Altered { .. }), "{e}");
        std::fs::remove_file(dir.path().join("m.onnx")).unwrap();
        assert!(matches!(
            ModelStore::open(dir.path(), m).unwrap_err(),
            ModelError::Missing { .. }
        ));
    }

    #[test]
    fn manifest_errors_name_the_problem() {
        let e = Manifest::parse("[[model]]\nname = \"x\"\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.toml") && e.contains("missing field"), "{e}");
        let row = "[[model]]\nname = \"x\"\nfile = \"../x\"\nsha256 = \"00\"\nlicence = \"\"\ntask = \"\"\ninput = []\n";
        assert!(Manifest::parse(row, "f")
            .unwrap_err()
            .to_string()
            .contains("64 hex"));
    }
}
