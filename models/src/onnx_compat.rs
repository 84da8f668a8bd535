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
    attribute_proto::AttributeType, tensor_proto, type_proto, AttributeProto, GraphProto,
    ModelProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
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

const NORMALISED: &str = "hallkit_input_normalised";

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
    let existing = graph.node.len();
    let mut edit = GraphEdit { graph, counter: 0 };
    let scale = edit.floats(vec![1, 3, 1, 1], scale.to_vec());
    let bias = edit.floats(vec![1, 3, 1, 1], bias.to_vec());
    let scaled = edit.op("Mul", vec![input, scale], None, None);
    edit.op("Add", vec![scaled, bias], None, Some(NORMALISED));
    // The graph's nodes are in topological order, so the new ones go first.
    let graph = edit.graph;
    let added = graph.node.len() - existing;
    graph.node.rotate_right(added);
    drop_zero_default_ints(graph);
    Ok(model.encode_to_vec())
}

/// Builds nodes and constants appended to a graph, under names no model uses.
struct GraphEdit<'a> {
    graph: &'a mut GraphProto,
    counter: usize,
}

impl GraphEdit<'_> {
    fn fresh(&mut self, stem: &str) -> String {
        self.counter += 1;
        format!("hallkit_{stem}_{}", self.counter)
    }

    fn floats(&mut self, dims: Vec<i64>, values: Vec<f32>) -> String {
        let name = self.fresh("const");
        self.graph.initializer.push(TensorProto {
            name: name.clone(),
            dims,
            data_type: tensor_proto::DataType::Float as i32,
            float_data: values,
            ..TensorProto::default()
        });
        name
    }

    fn ints(&mut self, values: Vec<i64>) -> String {
        let name = self.fresh("const");
        self.graph.initializer.push(TensorProto {
            name: name.clone(),
            dims: vec![values.len() as i64],
            data_type: tensor_proto::DataType::Int64 as i32,
            int64_data: values,
            ..TensorProto::default()
        });
        name
    }

    fn op(
        &mut self,
        op: &str,
        inputs: Vec<String>,
        axis: Option<i64>,
        output: Option<&str>,
    ) -> String {
        let output = output.map_or_else(|| self.fresh(&op.to_lowercase()), str::to_string);
        self.graph.node.push(NodeProto {
            name: output.clone(),
            op_type: op.to_string(),
            input: inputs,
            output: vec![output.clone()],
            attribute: axis
                .map(|i| AttributeProto {
                    name: "axis".into(),
                    r#type: AttributeType::Int as i32,
                    i,
                    ..AttributeProto::default()
                })
                .into_iter()
                .collect(),
            ..NodeProto::default()
        });
        output
    }

    /// `x * a + b` with scalar a and b.
    fn affine(&mut self, x: &str, a: f32, b: f32) -> String {
        let a = self.floats(vec![1], vec![a]);
        let b = self.floats(vec![1], vec![b]);
        let scaled = self.op("Mul", vec![x.to_string(), a], None, None);
        self.op("Add", vec![scaled, b], None, None)
    }

    /// Columns `from..to` of the last axis of a `[1, N, C]` tensor.
    fn columns(&mut self, x: &str, from: i64, to: i64) -> String {
        let starts = self.ints(vec![from]);
        let ends = self.ints(vec![to]);
        let axes = self.ints(vec![2]);
        self.op("Slice", vec![x.to_string(), starts, ends, axes], None, None)
    }

    /// `[1, N, width]` rows spread to `[1, N * per_cell, width]`: each row followed by
    /// `per_cell - 1` rows of zeros.
    fn spread(&mut self, x: &str, n: usize, width: usize, per_cell: usize) -> String {
        if per_cell == 1 {
            return x.to_string();
        }
        let (n, width, per_cell) = (n as i64, width as i64, per_cell as i64);
        let cell_shape = self.ints(vec![1, n, 1, width]);
        let cells = self.op("Reshape", vec![x.to_string(), cell_shape], None, None);
        let zeros = self.floats(
            vec![1, n, per_cell - 1, width],
            vec![0.0; (n * (per_cell - 1) * width) as usize],
        );
        let filled = self.op("Concat", vec![cells, zeros], Some(2), None);
        let flat_shape = self.ints(vec![1, n * per_cell, width]);
        self.op("Reshape", vec![filled, flat_shape], None, None)
    }
}

fn float_output(name: &str, dims: &[i64]) -> ValueInfoProto {
    use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: tensor_proto::DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(dimension::Value::DimValue(d)),
                            ..Dimension::default()
                        })
                        .collect(),
                }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

/// YuNet 2023mar (anchor-free, twelve outputs `cls_s`, `obj_s`, `bbox_s`, `kps_s`) with three
/// outputs `loc [1,P,14]`, `conf [1,P,2]` and `iou [1,P,1]` added in the prior-box layout the
/// YuNet 2022 generation had, which is the only one OpenCV 4.5.4 to 4.7's `FaceDetectorYN`
/// decodes. Its priors are, per cell of strides 8, 16, 32 and 64, boxes of 10/16/24, 32/48,
/// 64/96 and 128/192/256 px centred on the cell, decoded as
/// `centre = prior + loc * 0.1 * prior_size`, `w = prior_w * exp(loc_w * 0.1)`,
/// `h = prior_h * exp(loc_h * 0.2)` and `score = sqrt(conf[1] * clamp(iou))`.
/// Each 2023 anchor becomes its cell's first prior with the inverse of that decoding, which
/// is linear in the 2023 outputs; the other priors, and the whole stride-64 level the 2023
/// model lacks, get score 0. The convolution weights and what they compute are unchanged.
/// `side` is the square input the file takes (640).
pub fn yunet_in_2022_layout(onnx: &[u8], side: usize) -> Result<Vec<u8>, String> {
    const LEVELS: [(usize, f32, usize); 3] = [(8, 10.0, 3), (16, 32.0, 2), (32, 64.0, 2)];
    const LAST: (usize, usize) = (64, 3);
    if side == 0 || !side.is_multiple_of(LAST.0) {
        return Err(format!("input side {side} is not a multiple of 64"));
    }
    let mut model = ModelProto::decode(onnx).map_err(|e| format!("not an ONNX model: {e}"))?;
    let Some(graph) = model.graph.as_mut() else {
        return Err("ONNX model without a graph".into());
    };
    for (s, _, _) in LEVELS {
        for head in ["cls", "obj", "bbox", "kps"] {
            let name = format!("{head}_{s}");
            if !graph.output.iter().any(|o| o.name == name) {
                return Err(format!("no output {name:?}: not a YuNet 2023 model"));
            }
        }
    }
    let mut edit = GraphEdit { graph, counter: 0 };
    let (mut loc, mut conf, mut iou) = (Vec::new(), Vec::new(), Vec::new());
    for (s, min_size, per_cell) in LEVELS {
        let n = (side / s) * (side / s);
        let ratio = s as f32 / min_size;
        let (a, b) = (10.0 * ratio, -5.0 * ratio);
        let bbox = format!("bbox_{s}");
        let centre = edit.columns(&bbox, 0, 2);
        let centre = edit.affine(&centre, a, b);
        let w = edit.columns(&bbox, 2, 3);
        let w = edit.affine(&w, 10.0, 10.0 * ratio.ln());
        let h = edit.columns(&bbox, 3, 4);
        let h = edit.affine(&h, 5.0, 5.0 * ratio.ln());
        let kps = edit.affine(&format!("kps_{s}"), a, b);
        let l = edit.op("Concat", vec![centre, w, h, kps], Some(2), None);
        loc.push(edit.spread(&l, n, 14, per_cell));
        let cls = format!("cls_{s}");
        let c = edit.op("Concat", vec![cls.clone(), cls], Some(2), None);
        conf.push(edit.spread(&c, n, 2, per_cell));
        iou.push(edit.spread(&format!("obj_{s}"), n, 1, per_cell));
    }
    let last = (side / LAST.0) * (side / LAST.0) * LAST.1;
    for (parts, width, name) in [
        (&mut loc, 14, "loc"),
        (&mut conf, 2, "conf"),
        (&mut iou, 1, "iou"),
    ] {
        parts.push(edit.floats(
            vec![1, last as i64, width],
            vec![0.0; last * width as usize],
        ));
        edit.op("Concat", std::mem::take(parts), Some(1), Some(name));
    }
    let graph = edit.graph;
    let priors: usize = LEVELS
        .iter()
        .map(|&(s, _, per_cell)| (side / s) * (side / s) * per_cell)
        .sum::<usize>()
        + last;
    graph.output = [("loc", 14), ("conf", 2), ("iou", 1)]
        .iter()
        .map(|&(name, width)| float_output(name, &[1, priors as i64, width]))
        .collect();
    drop_zero_default_ints(graph);
    Ok(model.encode_to_vec())
}

/// A rewritten model written where OpenCV can read it by path (its wrappers take no bytes);
/// removed when dropped. It holds weights only, never face data.
pub struct TempModel(std::path::PathBuf);

impl TempModel {
    pub fn write(onnx: &[u8]) -> Result<TempModel, String> {
        use std::io::Write;
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let model = TempModel(std::env::temp_dir().join(format!(
            "hallkit-model-{}-{}.onnx",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )));
        let failed = |e: std::io::Error| format!("{}: {e}", model.0.display());
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&model.0)
            .and_then(|mut f| f.write_all(onnx))
            .map_err(failed)?;
        Ok(model)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempModel {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
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

    #[test]
    fn only_a_yunet_2023_model_is_put_in_the_2022_layout() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models");
        let yunet = std::fs::read(dir.join("face_detection_yunet_2023mar.onnx")).expect("yunet");
        assert!(yunet_in_2022_layout(b"\x01\x02 nonsense", 640).is_err());
        assert!(yunet_in_2022_layout(&yunet, 600)
            .unwrap_err()
            .contains("multiple of 64"));
        let other = std::fs::read(dir.join("mobilefacenet.onnx")).expect("model");
        assert!(yunet_in_2022_layout(&other, 640)
            .unwrap_err()
            .contains("not a YuNet"));
        let changed = yunet_in_2022_layout(&yunet, 640).expect("rewrite");
        let graph = ModelProto::decode(changed.as_slice())
            .expect("valid")
            .graph
            .expect("graph");
        let outputs: Vec<_> = graph.output.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(outputs, ["loc", "conf", "iou"]);
        // 80×80×3 + 40×40×2 + 20×20×2 + 10×10×3 priors, as OpenCV 4.6 generates for 640×640.
        let Some(type_proto::Value::TensorType(t)) = graph.output[0]
            .r#type
            .as_ref()
            .and_then(|t| t.value.as_ref())
        else {
            panic!("loc has no tensor type");
        };
        let dims: Vec<_> = t
            .shape
            .as_ref()
            .expect("shape")
            .dim
            .iter()
            .map(|d| d.value.clone())
            .collect();
        use tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue;
        assert_eq!(
            dims,
            [Some(DimValue(1)), Some(DimValue(23500)), Some(DimValue(14))]
        );
    }
}
