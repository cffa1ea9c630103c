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
    /// A status write held back by the object's write budget (see `controller::write_budget`);
    /// not a failure: the reconcile runs again once the budget allows.
    #[error("status writes for this object are rate-limited; next in {0:?}")]
    Throttled(std::time::Duration),
    /// An object the operator would write exists and is not this service's: it is left as it
    /// is, never adopted.
    #[error("{kind} {name} already exists and is {owner}")]
    NameInUse {
        kind: String,
        name: String,
        /// Who it belongs to, in words ("owned by ReplicaSet web-1", "owned by no one").
        owner: String,
    },
}

/// Why a reconcile cannot succeed until a person acts, for a `Stalled` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The condition reason (`ObjectRefused`, `NameInUse`).
    pub reason: &'static str,
    /// What happened and what to do, in words.
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A write refused because the object changed since it was read.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Kube(kube::Error::Api(e)) if e.code == 409)
    }

    /// What a person must fix when retrying alone cannot succeed: the apiserver refused an
    /// object the operator sent as invalid (400, 422) or forbidden (403: an admission policy, a
    /// quota), or the operator found the object unusable. `None` for errors that pass by
    /// themselves (conflicts, timeouts, an apiserver restarting).
    pub fn refusal(&self) -> Option<Refusal> {
        use crate::api::conditions::reasons;
        let (reason, text) = match self {
            Self::Kube(kube::Error::Api(e)) if matches!(e.code, 400 | 403 | 422) => (
                reasons::OBJECT_REFUSED,
                format!("the apiserver refused it: {}", e.message),
            ),
            Self::InvalidObject(what) => (reasons::OBJECT_REFUSED, what.clone()),
            Self::NameInUse { .. } => (
                reasons::NAME_IN_USE,
                format!(
                    "{self}; the operator leaves it untouched: delete or rename it, or rename the service"
                ),
            ),
            _ => return None,
        };
        Some(Refusal {
            reason,
            message: bounded(&text),
        })
    }

    /// A short, bounded label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Serde(_) => "serde",
            Self::InvalidObject(_) => "invalid_object",
            Self::Config(_) => "config",
            Self::Throttled(_) => "throttled",
            Self::NameInUse { .. } => "name_in_use",
        }
    }
}

/// The apiserver's messages can list every invalid field; a status message stays readable and
/// far from etcd's object size limit.
const REFUSAL_MESSAGE_LIMIT: usize = 1024;

fn bounded(text: &str) -> String {
    if text.len() <= REFUSAL_MESSAGE_LIMIT {
        return text.to_string();
    }
    let mut end = REFUSAL_MESSAGE_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, message: &str) -> Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "message": message, "reason": "Invalid", "code": code
        }))
        .unwrap();
        Error::Kube(kube::Error::Api(Box::new(status)))
    }

    #[test]
    fn invalid_and_forbidden_writes_are_refusals_a_person_must_fix() {
        let invalid = api(
            422,
            r#"Deployment.apps "web" is invalid: spec.replicas: Invalid value"#,
        );
        let refusal = invalid.refusal().unwrap();
        assert_eq!(refusal.reason, "ObjectRefused");
        assert_eq!(
            refusal.message,
            r#"the apiserver refused it: Deployment.apps "web" is invalid: spec.replicas: Invalid value"#
        );
        assert!(api(403, "exceeded quota").refusal().is_some());
        assert!(api(409, "conflict").refusal().is_none());
        assert!(api(500, "etcd leader changed").refusal().is_none());
    }

    #[test]
    fn a_name_in_use_says_whose_it_is_and_what_to_do() {
        let error = Error::NameInUse {
            kind: "Deployment".into(),
            name: "web".into(),
            owner: "owned by no one".into(),
        };
        let refusal = error.refusal().unwrap();
        assert_eq!(refusal.reason, "NameInUse");
        assert!(
            refusal
                .message
                .starts_with("Deployment web already exists and is owned by no one; the operator leaves it untouched"),
            "{}",
            refusal.message
        );
    }

    #[test]
    fn a_long_refusal_is_cut_on_a_character_boundary() {
        let long = "é".repeat(2000);
        let text = api(422, &long).refusal().unwrap().message;
        assert!(text.len() <= REFUSAL_MESSAGE_LIMIT + "…".len());
        assert!(text.ends_with('…'));
    }
}
