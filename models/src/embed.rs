//! MobileFaceNet embeddings and their comparison.

use opencv::core::Mat;

use crate::backend::{Blob, Network};
use crate::image_ops::{to_blob, Channels};
use crate::FaceError;

pub(crate) const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub(crate) const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// An L2-normalised face embedding. It is biometric data: it lives in memory for one session,
/// is never printed (its Debug shows only the length) and is overwritten when dropped.
#[derive(Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    pub fn from_raw(mut v: Vec<f32>) -> Result<Embedding, FaceError> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !(norm.is_finite() && norm > 1e-6) {
            return Err(FaceError::inference("embedder", "embedding has no length"));
        }
        v.iter_mut().for_each(|x| *x /= norm);
        Ok(Embedding(v))
    }

    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// For comparison with reference values in tests and tools.
    pub fn values(&self) -> &[f32] {
        &self.0
    }
}

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Embedding(<{} values>)", self.0.len())
    }
}

impl Drop for Embedding {
    fn drop(&mut self) {
        for x in self.0.iter_mut() {
            // SAFETY: `x` is a valid, aligned, exclusive reference; a volatile write keeps the
            // compiler from dropping the wipe of memory it knows is about to be freed.
            unsafe { std::ptr::write_volatile(x, 0.0) };
        }
    }
}

pub struct FaceEmbedder {
    net: Box<dyn Network>,
}

impl FaceEmbedder {
    pub fn new(net: Box<dyn Network>) -> FaceEmbedder {
        FaceEmbedder { net }
    }

    /// The embedding of a face already aligned to 112×112 BGR.
    pub fn embed(&mut self, aligned: &Mat) -> Result<Embedding, FaceError> {
        let blob: Blob = to_blob(aligned, Channels::Rgb, |v, c| {
            (v / 255.0 - MEAN[c]) / STD[c]
        })?;
        let out = self.net.run(&blob)?;
        Embedding::from_raw(out.single("embedder")?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_normalised_and_compared_by_cosine() {
        let a = Embedding::from_raw(vec![3.0, 4.0]).unwrap();
        let b = Embedding::from_raw(vec![6.0, 8.0]).unwrap();
        let c = Embedding::from_raw(vec![-4.0, 3.0]).unwrap();
        assert!((a.cosine(&b) - 1.0).abs() < 1e-6);
        assert!(a.cosine(&c).abs() < 1e-6);
        assert!(Embedding::from_raw(vec![0.0, 0.0]).is_err());
        assert!(Embedding::from_raw(vec![f32::NAN, 1.0]).is_err());
        assert_eq!(format!("{a:?}"), "Embedding(<2 values>)");
    }
}
