//! Counts requests the API server refuses with 403 Forbidden, by Kubernetes verb and resource: a
//! missing RBAC rule shows up here (and can be alerted on) even where a controller only retries,
//! as a watch does.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Method, Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tower::{Layer, Service};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// `get`, `list`, `watch`, `create`, `update`, `patch` or `delete`.
    pub verb: String,
    /// `group/resource[/subresource]`, `core` for the core group.
    pub resource: String,
}

/// The layer that counts refusals into `family`.
#[derive(Clone)]
pub struct CountRefusals {
    pub family: Family<RefusalLabels, Counter>,
}

impl<S> Layer<S> for CountRefusals {
    type Service = CountRefusalsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountRefusalsService {
            inner,
            family: self.family.clone(),
        }
    }
}

#[derive(Clone)]
pub struct CountRefusalsService<S> {
    inner: S,
    family: Family<RefusalLabels, Counter>,
}

impl<S, B, R> Service<Request<B>> for CountRefusalsService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let labels = labels_of(request.method(), request.uri());
        let family = self.family.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            if response.status() == StatusCode::FORBIDDEN {
                family.get_or_create(&labels).inc();
            }
            Ok(response)
        })
    }
}

/// The Kubernetes verb and resource of an API request, read from its method and path.
pub fn labels_of(method: &Method, uri: &http::Uri) -> RefusalLabels {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    // `/api/v1/...` (core) or `/apis/<group>/<version>/...`.
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("core", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => ("", &segments[..0]),
    };
    let rest = match rest {
        ["namespaces", _ns, resource, tail @ ..] => {
            let mut v = vec![*resource];
            v.extend_from_slice(tail);
            v
        }
        other => other.to_vec(),
    };
    let (resource, named, subresource) = match rest.as_slice() {
        [] => (uri.path().to_string(), false, None),
        [resource] => (format!("{group}/{resource}"), false, None),
        [resource, _name] => (format!("{group}/{resource}"), true, None),
        [resource, _name, sub, ..] => (format!("{group}/{resource}"), true, Some(*sub)),
    };
    let resource = match subresource {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource,
    };
    let watching = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match *method {
        Method::GET if watching => "watch",
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => "other",
    };
    RefusalLabels {
        verb: verb.to_string(),
        resource,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(method: Method, uri: &str) -> (String, String) {
        let l = labels_of(&method, &uri.parse().unwrap());
        (l.verb, l.resource)
    }

    #[test]
    fn requests_are_named_as_rbac_names_them() {
        let cases = [
            (
                Method::GET,
                "/apis/networking.k8s.io/v1/namespaces/a/ingresses?watch=true&resourceVersion=1",
                "watch",
                "networking.k8s.io/ingresses",
            ),
            (
                Method::GET,
                "/apis/chitty.cc/v1alpha1/chittyservices",
                "list",
                "chitty.cc/chittyservices",
            ),
            (
                Method::PATCH,
                "/apis/chitty.cc/v1alpha1/namespaces/a/chittyservices/x/status",
                "patch",
                "chitty.cc/chittyservices/status",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a/pods?labelSelector=job-name%3Dx",
                "list",
                "core/pods",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a/secrets/token",
                "get",
                "core/secrets",
            ),
            (
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/a/events",
                "create",
                "events.k8s.io/events",
            ),
            (
                Method::DELETE,
                "/apis/batch/v1/namespaces/a/jobs/j",
                "delete",
                "batch/jobs",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a",
                "get",
                "core/namespaces",
            ),
        ];
        for (method, uri, verb, resource) in cases {
            assert_eq!(
                labels(method, uri),
                (verb.to_string(), resource.to_string()),
                "{uri}"
            );
        }
    }
}
