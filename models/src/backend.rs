//! Inference backends. The face pipeline prepares its input blobs and decodes outputs itself, so
//! the same pipeline runs on tract (the product path) and on OpenCV's DNN module (the yardstick
//! the benchmark compares against). Outputs are looked up by their ONNX names, never by position:
//! the two runtimes do not list them in the same order.

use std::collections::HashMap;

use tract_onnx::prelude::*;

use crate::FaceError;

/// An NCHW float tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    pub shape: [usize; 4],
    pub data: Vec<f32>,
}

impl Blob {
    pub fn zeros(shape: [usize; 4]) -> Blob {
        Blob {
            shape,
            data: vec![0.0; shape.iter().product()],
        }
    }
}

/// Named float outputs of one run.
#[derive(Debug, Default)]
pub struct Outputs {
    tensors: HashMap<String, Vec<f32>>,
}

impl Outputs {
    pub fn insert(&mut self, name: impl Into<String>, values: Vec<f32>) {
        self.tensors.insert(name.into(), values);
    }

    pub fn get(&self, model: &str, name: &str) -> Result<&[f32], FaceError> {
        self.tensors.get(name).map(Vec::as_slice).ok_or_else(|| {
            FaceError::inference(
                model,
                format!(
                    "output {name:?} missing (have {:?})",
                    self.tensors.keys().collect::<Vec<_>>()
                ),
            )
        })
    }

    /// The only output of a single-output model.
    pub fn single(&self, model: &str) -> Result<&[f32], FaceError> {
        let mut it = self.tensors.values();
        match (it.next(), it.next()) {
            (Some(v), None) => Ok(v),
            _ => Err(FaceError::inference(
                model,
                format!("expected one output, got {}", self.tensors.len()),
            )),
        }
    }
}

/// Which runtime executes the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    Tract,
    OpencvDnn,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Tract => "tract",
            BackendKind::OpencvDnn => "opencv-dnn",
        }
    }

    pub fn load(
        self,
        name: &str,
        onnx: &[u8],
        input: [usize; 4],
    ) -> Result<Box<dyn Network>, FaceError> {
        Ok(match self {
            BackendKind::Tract => Box::new(TractNetwork::load(name, onnx, input)?),
            BackendKind::OpencvDnn => Box::new(OpenCvNetwork::load(name, onnx)?),
        })
    }
}

/// One loaded model.
pub trait Network: Send {
    fn run(&mut self, input: &Blob) -> Result<Outputs, FaceError>;
}

type TractPlan = std::sync::Arc<TypedRunnableModel>;

pub struct TractNetwork {
    name: String,
    input: [usize; 4],
    plan: TractPlan,
    output_names: Vec<String>,
}

impl TractNetwork {
    /// Loads a model with the exact rewrites that speed it up on tract
    /// ([`crate::tract_rewrite`]).
    pub fn load(name: &str, onnx: &[u8], input: [usize; 4]) -> Result<TractNetwork, FaceError> {
        let (faster, _) = crate::tract_rewrite::prelu_as_two_ops(onnx)
            .map_err(|message| FaceError::inference(name, message))?;
        TractNetwork::load_as_shipped(name, &faster, input)
    }

    /// Loads the file exactly as given.
    pub fn load_as_shipped(
        name: &str,
        onnx: &[u8],
        input: [usize; 4],
    ) -> Result<TractNetwork, FaceError> {
        let fail = |e: TractError| FaceError::inference(name, format!("{e:#}"));
        // The file's own shape annotations may use symbols (the dynamic YuNet's `batch`)
        // that clash with the concrete input; tract infers every shape from the input.
        let model = tract_onnx::onnx()
            .with_ignore_output_shapes(true)
            .with_ignore_value_info(true)
            .model_for_read(&mut std::io::Cursor::new(onnx))
            .map_err(fail)?
            .with_input_fact(0, f32::fact(input).into())
            .map_err(fail)?
            .into_optimized()
            .map_err(fail)?;
        let output_names = model
            .output_outlets()
            .map_err(fail)?
            .iter()
            .enumerate()
            .map(|(i, o)| {
                model
                    .outlet_label(*o)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("output{i}"))
            })
            .collect();
        let plan = model.into_runnable().map_err(fail)?;
        Ok(TractNetwork {
            name: name.to_string(),
            input,
            plan,
            output_names,
        })
    }
}

impl Network for TractNetwork {
    fn run(&mut self, input: &Blob) -> Result<Outputs, FaceError> {
        let fail = |message: String| FaceError::inference(&self.name, message);
        if input.shape != self.input {
            return Err(fail(format!(
                "input shape {:?}, model takes {:?}",
                input.shape, self.input
            )));
        }
        let tensor =
            Tensor::from_shape(&input.shape, &input.data).map_err(|e| fail(format!("{e:#}")))?;
        let result = self
            .plan
            .run(tvec!(tensor.into()))
            .map_err(|e| fail(format!("{e:#}")))?;
        let mut out = Outputs::default();
        for (value, name) in result.iter().zip(&self.output_names) {
            let view = value
                .to_plain_array_view::<f32>()
                .map_err(|e| fail(format!("{e:#}")))?;
            out.insert(name.clone(), view.iter().copied().collect());
        }
        Ok(out)
    }
}

pub struct OpenCvNetwork {
    name: String,
    net: opencv::dnn::Net,
    output_names: opencv::core::Vector<String>,
}

// The OpenCV network is used from one thread at a time; the handle itself holds no thread state.
unsafe impl Send for OpenCvNetwork {}

impl OpenCvNetwork {
    pub fn load(name: &str, onnx: &[u8]) -> Result<OpenCvNetwork, FaceError> {
        use opencv::prelude::*;
        let fail = |e: opencv::Error| FaceError::inference(name, e.to_string());
        let (compatible, _) = crate::onnx_compat::clip_bounds_to_attributes(onnx)
            .map_err(|message| FaceError::inference(name, message))?;
        let buffer = opencv::core::Vector::<u8>::from_slice(&compatible);
        let mut net = opencv::dnn::read_net_from_onnx_buffer(&buffer).map_err(fail)?;
        net.set_preferable_backend(opencv::dnn::DNN_BACKEND_OPENCV)
            .map_err(fail)?;
        net.set_preferable_target(opencv::dnn::DNN_TARGET_CPU)
            .map_err(fail)?;
        let output_names = net.get_unconnected_out_layers_names().map_err(fail)?;
        Ok(OpenCvNetwork {
            name: name.to_string(),
            net,
            output_names,
        })
    }
}

impl Network for OpenCvNetwork {
    fn run(&mut self, input: &Blob) -> Result<Outputs, FaceError> {
        use opencv::core::{Mat, Vector};
        use opencv::prelude::*;
        let fail = |e: opencv::Error| FaceError::inference(&self.name, e.to_string());
        let dims: Vec<i32> = input.shape.iter().map(|&d| d as i32).collect();
        let flat = Mat::from_slice(&input.data).map_err(fail)?;
        let blob = flat.reshape_nd(1, &dims).map_err(fail)?;
        self.net
            .set_input(&blob, "", 1.0, opencv::core::Scalar::default())
            .map_err(fail)?;
        let mut outs: Vector<Mat> = Vector::new();
        self.net
            .forward(&mut outs, &self.output_names)
            .map_err(fail)?;
        let mut out = Outputs::default();
        for (mat, name) in outs.iter().zip(self.output_names.iter()) {
            let mat = if mat.is_continuous() {
                mat
            } else {
                mat.try_clone().map_err(fail)?
            };
            let values = mat.data_typed::<f32>().map_err(fail)?.to_vec();
            out.insert(name, values);
        }
        Ok(out)
    }
}
