#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ImageError {
    #[error("OpenCV: {0}")]
    OpenCv(String),
    #[error("{0}")]
    BadInput(String),
    #[error("no page found: {0}")]
    NoPage(String),
    #[error("cannot fit the image into {max_bytes} bytes (smallest try was {smallest} bytes)")]
    TooLarge { max_bytes: usize, smallest: usize },
    #[error("PDF: {0}")]
    Pdf(String),
    #[error("font: {0}")]
    Font(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

impl From<opencv::Error> for ImageError {
    fn from(e: opencv::Error) -> Self {
        ImageError::OpenCv(e.to_string())
    }
}

impl From<lopdf::Error> for ImageError {
    fn from(e: lopdf::Error) -> Self {
        ImageError::Pdf(e.to_string())
    }
}
