//! Accuracy on a labelled photo set (`labels.csv`: `file,identity`): every same-identity pair is
//! a genuine attempt, every cross-identity pair an impostor attempt, scored by the cosine of the
//! largest faces' embeddings.

use std::collections::BTreeMap;
use std::path::Path;

use opencv::core::Mat;

use crate::embed::Embedding;
use crate::engine::{largest, FaceEngine};
use crate::{image_ops, FaceError};

#[derive(Debug, Clone, Default)]
pub struct PairScores {
    pub genuine: Vec<f32>,
    pub impostor: Vec<f32>,
    /// Photos in which no face was found (they take no part in pairs).
    pub no_face: Vec<String>,
    pub photos: usize,
    pub identities: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rates {
    pub threshold: f32,
    pub false_accepts: usize,
    pub impostor_pairs: usize,
    pub false_rejects: usize,
    pub genuine_pairs: usize,
}

impl Rates {
    pub fn far(&self) -> f64 {
        self.false_accepts as f64 / self.impostor_pairs.max(1) as f64
    }

    pub fn frr(&self) -> f64 {
        self.false_rejects as f64 / self.genuine_pairs.max(1) as f64
    }
}

impl PairScores {
    pub fn rates(&self, threshold: f32) -> Rates {
        Rates {
            threshold,
            false_accepts: self.impostor.iter().filter(|&&s| s >= threshold).count(),
            impostor_pairs: self.impostor.len(),
            false_rejects: self.genuine.iter().filter(|&&s| s < threshold).count(),
            genuine_pairs: self.genuine.len(),
        }
    }

    pub fn lowest_genuine(&self) -> f32 {
        self.genuine.iter().copied().fold(f32::INFINITY, f32::min)
    }

    pub fn highest_impostor(&self) -> f32 {
        self.impostor
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max)
    }
}

/// Reads `labels.csv` in `dir`.
pub fn read_labels(dir: &Path) -> Result<Vec<(String, String)>, FaceError> {
    let path = dir.join("labels.csv");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| FaceError::BadImage(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (file, identity) = line.split_once(',').ok_or_else(|| {
            FaceError::BadImage(format!(
                "{} line {}: expected file,identity",
                path.display(),
                n + 1
            ))
        })?;
        out.push((file.trim().to_string(), identity.trim().to_string()));
    }
    Ok(out)
}

pub fn score_pairs(engine: &mut FaceEngine, dir: &Path) -> Result<PairScores, FaceError> {
    score_pairs_with(dir, |img| match largest(engine.detect(img)?) {
        Some(face) => engine.embed(img, &face).map(Some),
        None => Ok(None),
    })
}

/// Pairs scored with any embedding of a photo's person (`None`: no face found).
pub fn score_pairs_with(
    dir: &Path,
    mut embed: impl FnMut(&Mat) -> Result<Option<Embedding>, FaceError>,
) -> Result<PairScores, FaceError> {
    let labels = read_labels(dir)?;
    let mut scores = PairScores {
        photos: labels.len(),
        ..PairScores::default()
    };
    let mut embedded: Vec<(String, Embedding)> = Vec::new();
    for (file, identity) in &labels {
        let img = image_ops::read(&dir.join(file))?;
        match embed(&img)? {
            Some(e) => embedded.push((identity.clone(), e)),
            None => scores.no_face.push(file.clone()),
        }
    }
    let ids: BTreeMap<&str, ()> = labels.iter().map(|(_, i)| (i.as_str(), ())).collect();
    scores.identities = ids.len();
    for (i, (id_a, a)) in embedded.iter().enumerate() {
        for (id_b, b) in &embedded[i + 1..] {
            let s = a.cosine(b);
            if id_a == id_b {
                scores.genuine.push(s);
            } else {
                scores.impostor.push(s);
            }
        }
    }
    Ok(scores)
}
