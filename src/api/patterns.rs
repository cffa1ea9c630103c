//! Regular expressions shared by the CRD schemas (OpenAPI `pattern`, evaluated by the apiserver).

/// Semantic version 2.0.0, with an optional leading `v` as the seeds write versions.
pub const SEMVER: &str = r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$";

/// An RFC 1123 label, the shape of Kubernetes object names used as references here.
pub const DNS_LABEL: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// A DNS host name, optionally with one leading `*.` wildcard label and a trailing dot.
/// Upper case is accepted and normalised by the operator.
pub const ROUTE_HOST: &str = r"^(\*\.)?([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.?$";

/// A URL path prefix: starts with `/`, no whitespace; a trailing `*` is allowed (`/api/*`).
pub const ROUTE_PATH: &str = r"^/[^\s?#]*$";

/// A Go-style duration as written in Kubernetes manifests: `30s`, `5m`, `1h30m`, `500ms`.
pub const DURATION: &str = r"^([0-9]+(ms|s|m|h))+$";

/// An absolute http(s) URL.
pub const HTTP_URL: &str = r"^https?://[^\s/$.?#][^\s]*$";

/// A git remote: an http(s), ssh or git URL, or scp-like `user@host:path`.
pub const GIT_URL: &str = r"^((https?|ssh|git)://[^\s]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+)$";

/// A container image reference (registry/repository[:tag][@digest]); deliberately permissive.
pub const IMAGE: &str = r"^[a-z0-9]+([._/:@-]?[A-Za-z0-9]+)*$";

/// ISO 3166 alpha-3 jurisdiction code as ChittyID uses it.
pub const JURISDICTION: &str = r"^[A-Z]{3}$";

/// CEL rules that check the patterns above with a message a person understands. OpenAPI
/// `pattern` would only echo the regular expression back, so formats are checked here instead.
pub mod rules {
    use kube::core::Rule;

    fn matches(regex: &str, message: &str) -> Rule {
        Rule::new(format!("self.matches(r'{regex}')")).message(message)
    }

    pub fn semver() -> Rule {
        matches(
            super::SEMVER,
            "version must be a semantic version such as 1.4.2 or v2.0.0-rc.1",
        )
    }
    pub fn dns_label() -> Rule {
        matches(
            super::DNS_LABEL,
            "must be a Kubernetes object name: lower-case letters, digits and '-', starting and ending with a letter or digit",
        )
    }
    pub fn route_host() -> Rule {
        matches(
            super::ROUTE_HOST,
            "host must be a DNS name such as api.chitty.cc, optionally with one leading wildcard label such as *.chitty.cc",
        )
    }
    pub fn route_path() -> Rule {
        matches(
            super::ROUTE_PATH,
            "path must start with / (for example /, /api or /api/*) and contain no spaces, '?' or '#'",
        )
    }
    pub fn duration() -> Rule {
        matches(
            super::DURATION,
            "must be a duration such as 500ms, 30s, 5m or 1h30m",
        )
    }
    /// A duration from `min` to `max`. Checked only once the shape is right, so a malformed
    /// value gets the shape's message alone (and CEL's `duration()` never sees it).
    pub fn duration_within(min: &str, max: &str, message: &str) -> Rule {
        Rule::new(format!(
            "!self.matches(r'{}') || (duration(self) >= duration('{min}') && duration(self) <= duration('{max}'))",
            super::DURATION
        ))
        .message(message)
    }
    pub fn http_url() -> Rule {
        matches(
            super::HTTP_URL,
            "must be an absolute http:// or https:// URL",
        )
    }
    pub fn git_url() -> Rule {
        matches(
            super::GIT_URL,
            "git url must be an https://, ssh:// or git:// URL, or user@host:path",
        )
    }
    pub fn image() -> Rule {
        matches(
            super::IMAGE,
            "image must be a container image reference such as ghcr.io/chittyos/chittyid:2.1.0",
        )
    }
    pub fn jurisdiction() -> Rule {
        matches(
            super::JURISDICTION,
            "jurisdiction must be an ISO 3166 alpha-3 code in upper case, such as USA",
        )
    }
}
