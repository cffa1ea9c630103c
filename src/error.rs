//! The crate's error type; each variant names itself as a metric label.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("serialization: {0}")]
    Serde(#[from] serde_json::Error),
    #[error("invalid object: {0}")]
    InvalidObject(String),
    #[error("configuration: {0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A write refused because the object changed since it was read.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Kube(kube::Error::Api(e)) if e.code == 409)
    }

    /// A short, bounded label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Serde(_) => "serde",
            Self::InvalidObject(_) => "invalid_object",
            Self::Config(_) => "config",
        }
    }
}
