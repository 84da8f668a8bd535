//! Makes a model readable by older OpenCV DNN importers without changing what it computes.
//!
//! Since opset 11, ONNX `Clip` takes its bounds as inputs; OpenCV 4.6 (Debian 12) only reads
//! them as attributes and refuses the node. MobileFaceNet (opset 18) uses Clip as ReLU6 with
//! constant bounds, so each such node is rewritten to carry the same constants as attributes.
//! Only the OpenCV yardstick uses this; tract reads the file as shipped.

use prost::Message;
use tract_onnx::pb::{
    attribute_proto::AttributeType, AttributeProto, ModelProto, NodeProto, TensorProto,
};

fn scalar(t: &TensorProto) -> Option<f32> {
    if let Some(v) = t.float_data.first() {
        return Some(*v);
    }
    t.raw_data
        .get(..4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Float as i32,
        // prost writes proto3, where 0.0 is the default and is left off the wire; OpenCV then
        // finds no value. The smallest positive float stands in (ReLU6's floor moves by 1e-38).
        f: if f == 0.0 { f32::MIN_POSITIVE } else { f },
        ..AttributeProto::default()
    }
}

/// Returns the rewritten model and how many Clip nodes were changed.
pub fn clip_bounds_to_attributes(onnx: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut model = ModelProto::decode(onnx).map_err(|e| format!("not an ONNX model: {e}"))?;
    let Some(graph) = model.graph.as_mut() else {
        return Err("ONNX model without a graph".into());
    };
    let mut constants: std::collections::HashMap<String, f32> = graph
        .initializer
        .iter()
        .filter_map(|t| scalar(t).map(|v| (t.name.clone(), v)))
        .collect();
    for n in &graph.node {
        if n.op_type == "Constant" {
            if let (Some(out), Some(t)) = (
                n.output.first(),
                n.attribute.iter().find_map(|a| a.t.as_ref()),
            ) {
                if let Some(v) = scalar(t) {
                    constants.insert(out.clone(), v);
                }
            }
        }
    }
    let mut changed = 0;
    for n in graph
        .node
        .iter_mut()
        .filter(|n: &&mut NodeProto| n.op_type == "Clip" && n.input.len() > 1)
    {
        let bound = |i: usize| {
            n.input
                .get(i)
                .filter(|s| !s.is_empty())
                .map(|s| constants.get(s).copied())
        };
        let (min, max) = (bound(1), bound(2));
        if matches!(min, Some(None)) || matches!(max, Some(None)) {
            return Err(format!("Clip node {:?} has non-constant bounds", n.name));
        }
        n.input.truncate(1);
        if let Some(Some(v)) = min {
            n.attribute.push(float_attr("min", v));
        }
        if let Some(Some(v)) = max {
            n.attribute.push(float_attr("max", v));
        }
        changed += 1;
    }
    if changed == 0 {
        return Ok((onnx.to_vec(), 0));
    }
    // prost writes proto3: an integer attribute equal to 0 loses its value on the wire, and
    // OpenCV then refuses the attribute. Those whose ONNX default is 0 can simply go.
    for n in graph.node.iter_mut() {
        n.attribute.retain(|a| {
            !(a.r#type == AttributeType::Int as i32
                && a.i == 0
                && matches!(a.name.as_str(), "allowzero" | "ceil_mode" | "storage_order"))
        });
    }
    Ok((model.encode_to_vec(), changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_and_models_without_clip_pass_unchanged() {
        assert!(clip_bounds_to_attributes(b"\xff\xff\xff garbage").is_err());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/models/minifasnetv2_scale2.7_80x80.onnx");
        let bytes = std::fs::read(path).expect("model");
        let (out, changed) = clip_bounds_to_attributes(&bytes).expect("rewrite");
        assert_eq!(changed, 0);
        assert_eq!(out, bytes);
    }

    #[test]
    fn mobilefacenet_clips_get_their_bounds_as_attributes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/models/mobilefacenet.onnx");
        let (out, changed) =
            clip_bounds_to_attributes(&std::fs::read(path).expect("model")).expect("rewrite");
        assert!(changed > 0);
        let model = ModelProto::decode(out.as_slice()).expect("valid");
        let graph = model.graph.expect("graph");
        for n in graph.node.iter().filter(|n| n.op_type == "Clip") {
            assert_eq!(n.input.len(), 1);
            let max = n.attribute.iter().find(|a| a.name == "max").expect("max");
            assert_eq!(max.f, 6.0);
        }
    }
}
