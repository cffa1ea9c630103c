//! HTTP health probes, per the ChittyOS convention: `GET <base><path>`, healthy on 2xx within the
//! timeout. Reconciles never wait on one: they ask the `pool`, which runs probes off the
//! reconcile path, a bounded number at a time, and wakes the owning object when one is done.
//!
//! - `bounds`: the interval and timeout limits every probe keeps.
//! - `guard` and `resolver`: which addresses a probe may reach.
//! - `redirect`: which redirects it follows.
//! - `book` (pure) and `pool`: scheduling, deduplication, lanes and wake-ups.
//! - `history`: each service's last probes, for the dashboard.

pub mod book;
pub mod bounds;
pub mod guard;
pub mod history;
pub mod pool;
pub mod redirect;
pub mod resolver;

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use guard::{AddressGuard, NotAllowed};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    pub healthy: bool,
    /// What a person reads when it failed: status code, timeout or connection error.
    pub detail: String,
    pub latency: Duration,
    /// The endpoint did not answer: the probe timed out or could not connect. The pool's next
    /// probe of the same object then goes to the slow lane (see `pool`).
    pub unresponsive: bool,
}

impl ProbeResult {
    fn unhealthy(detail: String, latency: Duration, unresponsive: bool) -> Self {
        Self {
            healthy: false,
            detail,
            latency,
            unresponsive,
        }
    }

    /// The probe ran out of time (reqwest's timeout, or the pool's hard deadline).
    pub fn timed_out(url: &str, timeout: Duration, latency: Duration) -> Self {
        let detail = format!(
            "GET {url} timed out after {}",
            crate::pipeline::duration::written(timeout)
        );
        Self::unhealthy(detail, latency, true)
    }
}

pub fn url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// One probe. An IP-literal host is checked against the guard here; a host name is checked as
/// it resolves (the client's resolver), so both end in the same refusal.
pub async fn probe(
    client: &reqwest::Client,
    guard: &AddressGuard,
    url: &str,
    timeout: Duration,
) -> ProbeResult {
    let started = Instant::now();
    if let Some(refused) = literal_refusal(guard, url) {
        return ProbeResult::unhealthy(format!("GET {url}: {refused}"), started.elapsed(), false);
    }
    let result = client.get(url).timeout(timeout).send().await;
    let latency = started.elapsed();
    match result {
        Ok(response) => ProbeResult {
            healthy: response.status().is_success(),
            detail: format!("GET {url} returned {}", response.status().as_u16()),
            latency,
            unresponsive: false,
        },
        Err(e) if e.is_timeout() => ProbeResult::timed_out(url, timeout, latency),
        Err(e) => match cause::<NotAllowed>(&e) {
            Some(refused) => {
                ProbeResult::unhealthy(format!("GET {url}: {refused}"), latency, false)
            }
            None if e.is_connect() => {
                ProbeResult::unhealthy(format!("GET {url}: connection failed"), latency, true)
            }
            None => ProbeResult::unhealthy(format!("GET {url}: {}", innermost(&e)), latency, false),
        },
    }
}

/// The guard's refusal of a URL whose host is an IP address.
fn literal_refusal(guard: &AddressGuard, url: &str) -> Option<NotAllowed> {
    let parsed = reqwest::Url::parse(url).ok()?;
    // IPv6 hosts come bracketed (`[::1]`); a host name does not parse as an address.
    let host = parsed.host_str()?;
    let ip: std::net::IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    guard.check(ip).err()
}

/// The first error of type `T` in the chain of sources.
fn cause<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(e);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        next = current.source();
    }
    None
}

/// The deepest cause's message: reqwest's own says only "error sending request".
fn innermost(e: &(dyn StdError + 'static)) -> String {
    let mut current = e;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The client probes share: no retries (a retry would hide a flapping service), redirects on
/// the same host only, DNS answers filtered by the guard, and rustls with the platform's roots.
pub fn client(guard: &AddressGuard) -> reqwest::Client {
    crate::tls::install_default_provider();
    reqwest::Client::builder()
        .redirect(redirect::policy())
        .dns_resolver(Arc::new(resolver::GuardedResolver {
            guard: guard.clone(),
        }))
        .user_agent(concat!(
            "chitty-operator/",
            env!("CARGO_PKG_VERSION"),
            " health-probe"
        ))
        .build()
        .expect("probe client builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_base_and_path_with_one_slash() {
        assert_eq!(url("http://a:8080/", "/health"), "http://a:8080/health");
        assert_eq!(url("http://a:8080", "health"), "http://a:8080/health");
    }

    #[tokio::test]
    async fn a_refused_address_is_an_unhealthy_result_that_says_why() {
        let guard = AddressGuard::default();
        let result = probe(
            &client(&guard),
            &guard,
            "http://169.254.169.254/latest/meta-data/",
            Duration::from_secs(1),
        )
        .await;
        assert!(!result.healthy && !result.unresponsive);
        assert_eq!(
            result.detail,
            "GET http://169.254.169.254/latest/meta-data/: address 169.254.169.254 is not allowed \
             for health probes (link-local); see --probe-allow-cidr"
        );
        let result = probe(
            &client(&guard),
            &guard,
            "http://localhost:1/health",
            Duration::from_secs(1),
        )
        .await;
        assert!(
            result
                .detail
                .contains("is not allowed for health probes (loopback)"),
            "a name resolving to loopback is refused too: {}",
            result.detail
        );
    }

    /// A loopback server whose `/elsewhere` redirects to another host (`localhost` instead of
    /// `127.0.0.1`: another host name, though the same machine) and `/here` to its own `/ok`.
    async fn redirecting_server() -> String {
        use axum::response::Redirect;
        use axum::routing::get;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app =
            axum::Router::new()
                .route("/ok", get(|| async { "ok" }))
                .route("/here", get(|| async { Redirect::temporary("/ok") }))
                .route(
                    "/elsewhere",
                    get(move || async move {
                        Redirect::temporary(&format!("http://localhost:{port}/ok"))
                    }),
                );
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://127.0.0.1:{port}")
    }

    #[tokio::test]
    async fn redirects_are_followed_on_the_same_host_only() {
        let guard = AddressGuard::new(vec![
            "127.0.0.1/32".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        let (client, base) = (client(&guard), redirecting_server().await);
        let timeout = Duration::from_secs(5);
        let here = probe(&client, &guard, &format!("{base}/here"), timeout).await;
        assert!(here.healthy, "{}", here.detail);
        let elsewhere = probe(&client, &guard, &format!("{base}/elsewhere"), timeout).await;
        assert!(!elsewhere.healthy);
        assert!(
            elsewhere
                .detail
                .contains("health probes follow redirects on the same host only"),
            "{}",
            elsewhere.detail
        );
    }
}
