//! Rewrites that make a model faster on tract without changing what it computes.
//!
//! tract expands ONNX `PRelu` into a comparison, a multiply and a select, none of them fused,
//! which made the two small MiniFASNet liveness models cost more than half the face
//! detector's share of a frame (about 7 ms per model, 5 of them in PRelu). With a constant
//! slope `a` per channel the same function is
//!
//! `PRelu(x) = a·x + (1 − a)·Relu(x)`
//!
//! (x ≥ 0: a·x + (1 − a)·x = x; x < 0: a·x + 0), which tract runs as a few tight vector loops.
//! The slopes of these models are of both signs, so no single Max or Min form would do. A
//! PRelu whose slope is not a constant of the file is left alone.

use prost::Message;
use tract_onnx::pb::{tensor_proto, ModelProto, NodeProto, TensorProto};

/// The float values of a constant tensor, or `None` when it holds another type.
fn floats(t: &TensorProto) -> Option<Vec<f32>> {
    if t.data_type != tensor_proto::DataType::Float as i32 {
        return None;
    }
    if !t.float_data.is_empty() {
        return Some(t.float_data.clone());
    }
    if !t.raw_data.len().is_multiple_of(4) {
        return None;
    }
    Some(
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

fn node(op: &str, name: String, input: Vec<String>, output: String) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name,
        input,
        output: vec![output],
        ..NodeProto::default()
    }
}

/// Returns the rewritten model and how many PRelu nodes were changed; a model with none to
/// change comes back byte for byte.
pub fn prelu_as_two_ops(onnx: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut model = ModelProto::decode(onnx).map_err(|e| format!("not an ONNX model: {e}"))?;
    let Some(graph) = model.graph.as_mut() else {
        return Err("ONNX model without a graph".into());
    };
    let slopes: std::collections::HashMap<String, (Vec<i64>, Vec<f32>)> = graph
        .initializer
        .iter()
        .filter_map(|t| floats(t).map(|v| (t.name.clone(), (t.dims.clone(), v))))
        .collect();
    let mut nodes = Vec::with_capacity(graph.node.len() * 2);
    let mut added = Vec::new();
    let mut changed = 0;
    for n in graph.node.drain(..) {
        let slope = (n.op_type == "PRelu" && n.input.len() == 2 && n.output.len() == 1)
            .then(|| slopes.get(&n.input[1]))
            .flatten()
            .filter(|(_, a)| !a.is_empty() && a.iter().all(|v| v.is_finite()));
        let Some((dims, a)) = slope else {
            nodes.push(n);
            continue;
        };
        // New names extend the node's own output name, which is unique in the graph.
        let out = &n.output[0];
        let (x, name) = (n.input[0].clone(), n.name.clone());
        let keep = format!("{out}.hallkit_one_minus_slope");
        added.push(TensorProto {
            name: keep.clone(),
            dims: dims.clone(),
            data_type: tensor_proto::DataType::Float as i32,
            float_data: a.iter().map(|v| 1.0 - v).collect(),
            ..TensorProto::default()
        });
        let (relu, kept, scaled) = (
            format!("{out}.hallkit_relu"),
            format!("{out}.hallkit_kept"),
            format!("{out}.hallkit_scaled"),
        );
        nodes.push(node(
            "Relu",
            format!("{name}.relu"),
            vec![x.clone()],
            relu.clone(),
        ));
        nodes.push(node(
            "Mul",
            format!("{name}.keep"),
            vec![relu, keep],
            kept.clone(),
        ));
        nodes.push(node(
            "Mul",
            format!("{name}.scale"),
            vec![x, n.input[1].clone()],
            scaled.clone(),
        ));
        nodes.push(node(
            "Add",
            format!("{name}.sum"),
            vec![scaled, kept],
            out.clone(),
        ));
        changed += 1;
    }
    graph.node = nodes;
    graph.initializer.extend(added);
    if changed == 0 {
        return Ok((onnx.to_vec(), 0));
    }
    Ok((model.encode_to_vec(), changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Blob, Network, TractNetwork};

    fn model(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/models")
            .join(name);
        std::fs::read(path).expect("model")
    }

    #[test]
    fn garbage_is_an_error_and_a_model_without_prelu_passes_unchanged() {
        assert!(prelu_as_two_ops(b"\xff\xff garbage").is_err());
        let yunet = model("face_detection_yunet_2023mar.onnx");
        let (out, changed) = prelu_as_two_ops(&yunet).expect("rewrite");
        assert_eq!((changed, out == yunet), (0, true));
    }

    /// The liveness models give the same logits before and after, on an input with both
    /// signs everywhere so every PRelu sees negative values.
    #[test]
    fn rewritten_liveness_models_compute_the_same_logits() {
        for name in [
            "minifasnetv2_scale2.7_80x80.onnx",
            "minifasnetv1se_scale4.0_80x80.onnx",
        ] {
            let original = model(name);
            let (rewritten, changed) = prelu_as_two_ops(&original).expect("rewrite");
            assert!(changed > 10, "{name}: only {changed} PRelu nodes rewritten");
            let graph = ModelProto::decode(rewritten.as_slice())
                .expect("valid")
                .graph
                .expect("graph");
            assert!(!graph.node.iter().any(|n| n.op_type == "PRelu"));
            let shape = [1, 3, 80, 80];
            let mut a = TractNetwork::load_as_shipped("original", &original, shape).expect("a");
            let mut b = TractNetwork::load_as_shipped("rewritten", &rewritten, shape).expect("b");
            for seed in 0..3usize {
                let mut input = Blob::zeros(shape);
                for (i, v) in input.data.iter_mut().enumerate() {
                    *v = (((i * 7919 + seed * 104_729) % 511) as f32) - 255.0;
                }
                let want = a.run(&input).expect("run").single("a").unwrap().to_vec();
                let got = b.run(&input).expect("run").single("b").unwrap().to_vec();
                assert_eq!(want.len(), 3);
                let worst = want
                    .iter()
                    .zip(&got)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                let size = want.iter().map(|x| x.abs()).fold(0f32, f32::max);
                assert!(
                    worst <= 1e-4 * size.max(1.0),
                    "{name}: logits differ by {worst} (values up to {size})"
                );
            }
        }
    }
}
