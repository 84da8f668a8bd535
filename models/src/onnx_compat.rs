//! Makes a model readable by older OpenCV DNN importers without changing what it computes.
//!
//! Since opset 11, ONNX `Clip` takes its bounds as inputs; OpenCV 4.6 (Debian 12) only reads
//! them as attributes and refuses the node. MobileFaceNet (opset 18) uses Clip as ReLU6 with
//! constant bounds, so each such node is rewritten to carry the same constants as attributes.
//! Only the OpenCV yardstick uses this; tract reads the file as shipped.
//!
//! OpenCV's `FaceRecognizerSF` also fixes the input scaling of the recognizer it runs, so the
//! model's own normalisation is put in front of its graph for that wrapper.

use prost::Message;
use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto, AttributeProto, GraphProto, ModelProto,
    NodeProto, TensorProto,
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
    drop_zero_default_ints(graph);
    Ok((model.encode_to_vec(), changed))
}

/// prost writes proto3: an integer attribute equal to 0 loses its value on the wire, and
/// OpenCV then refuses the attribute. Those whose ONNX default is 0 can simply go.
fn drop_zero_default_ints(graph: &mut GraphProto) {
    for n in graph.node.iter_mut() {
        n.attribute.retain(|a| {
            !(a.r#type == AttributeType::Int as i32
                && a.i == 0
                && matches!(a.name.as_str(), "allowzero" | "ceil_mode" | "storage_order"))
        });
    }
}

const SCALE: &str = "hallkit_input_scale";
const BIAS: &str = "hallkit_input_bias";
const SCALED: &str = "hallkit_input_scaled";
const NORMALISED: &str = "hallkit_input_normalised";

fn per_channel(name: &str, values: [f32; 3]) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: vec![1, 3, 1, 1],
        data_type: tensor_proto::DataType::Float as i32,
        float_data: values.to_vec(),
        ..TensorProto::default()
    }
}

fn node(op: &str, inputs: [&str; 2], output: &str) -> NodeProto {
    NodeProto {
        name: output.to_string(),
        op_type: op.to_string(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        ..NodeProto::default()
    }
}

/// Puts `x * scale[c] + bias[c]` in front of the model's image input. OpenCV's
/// `FaceRecognizerSF` feeds a recognizer raw 0..255 RGB; MobileFaceNet was trained on
/// ImageNet-normalised input, so the normalisation moves into the graph and the weights stay
/// untouched.
pub fn prepend_input_normalisation(
    onnx: &[u8],
    scale: [f32; 3],
    bias: [f32; 3],
) -> Result<Vec<u8>, String> {
    let mut model = ModelProto::decode(onnx).map_err(|e| format!("not an ONNX model: {e}"))?;
    let Some(graph) = model.graph.as_mut() else {
        return Err("ONNX model without a graph".into());
    };
    let initialised: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let input = graph
        .input
        .iter()
        .map(|i| i.name.clone())
        .find(|n| !initialised.contains(n.as_str()))
        .ok_or("the model has no image input")?;
    if graph
        .node
        .iter()
        .any(|n| n.output.iter().any(|o| o == NORMALISED))
    {
        return Err("the model's input is already normalised by HallKit".into());
    }
    for n in graph.node.iter_mut() {
        for i in n.input.iter_mut().filter(|i| **i == input) {
            *i = NORMALISED.to_string();
        }
    }
    graph.initializer.push(per_channel(SCALE, scale));
    graph.initializer.push(per_channel(BIAS, bias));
    graph.node.splice(
        0..0,
        [
            node("Mul", [&input, SCALE], SCALED),
            node("Add", [SCALED, BIAS], NORMALISED),
        ],
    );
    drop_zero_default_ints(graph);
    Ok(model.encode_to_vec())
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

    #[test]
    fn prepended_normalisation_makes_raw_pixels_give_the_same_embedding() {
        use crate::backend::{Blob, Network, TractNetwork};
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/models/mobilefacenet.onnx");
        let original = std::fs::read(path).expect("model");
        let (scale, bias) = ([0.5, 2.0, -1.0], [3.0, -4.0, 0.25]);
        let changed = prepend_input_normalisation(&original, scale, bias).expect("prepend");
        let graph = ModelProto::decode(changed.as_slice())
            .expect("valid")
            .graph
            .expect("graph");
        assert_eq!(graph.node[0].op_type, "Mul");
        assert_eq!(graph.node[1].op_type, "Add");
        let input = &graph.input[0].name;
        let readers: Vec<_> = graph
            .node
            .iter()
            .filter(|n| n.input.contains(input))
            .collect();
        assert_eq!(readers.len(), 1, "only the new Mul reads the raw input");
        assert!(prepend_input_normalisation(&changed, scale, bias).is_err());

        let shape = [1, 3, 112, 112];
        let mut raw = Blob::zeros(shape);
        for (i, v) in raw.data.iter_mut().enumerate() {
            *v = ((i * 37) % 256) as f32;
        }
        let mut normalised = raw.clone();
        let plane = 112 * 112;
        for (i, v) in normalised.data.iter_mut().enumerate() {
            let c = i / plane;
            *v = *v * scale[c] + bias[c];
        }
        let mut a = TractNetwork::load("original", &original, shape).expect("original");
        let mut b = TractNetwork::load("prepended", &changed, shape).expect("prepended");
        let want = a
            .run(&normalised)
            .expect("run")
            .single("original")
            .unwrap()
            .to_vec();
        let got = b
            .run(&raw)
            .expect("run")
            .single("prepended")
            .unwrap()
            .to_vec();
        assert_eq!(want.len(), 128);
        let worst = want
            .iter()
            .zip(&got)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        let size = want.iter().map(|x| x.abs()).fold(0f32, f32::max);
        assert!(
            worst <= 1e-4 * size.max(1.0),
            "differs by {worst} (values up to {size})"
        );
    }
}
