//! One HTTP health probe, per the ChittyOS convention: `GET <base><path>`, healthy on 2xx within
//! the timeout.

use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    pub healthy: bool,
    /// What a person reads when it failed: status code, timeout or connection error.
    pub detail: String,
    pub latency: Duration,
}

pub fn url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

pub async fn probe(client: &reqwest::Client, url: &str, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let result = client.get(url).timeout(timeout).send().await;
    let latency = started.elapsed();
    match result {
        Ok(response) if response.status().is_success() => ProbeResult {
            healthy: true,
            detail: format!("GET {url} returned {}", response.status().as_u16()),
            latency,
        },
        Ok(response) => ProbeResult {
            healthy: false,
            detail: format!("GET {url} returned {}", response.status().as_u16()),
            latency,
        },
        Err(e) if e.is_timeout() => ProbeResult {
            healthy: false,
            detail: format!("GET {url} timed out after {}", humanize(timeout)),
            latency,
        },
        Err(e) if e.is_connect() => ProbeResult {
            healthy: false,
            detail: format!("GET {url}: connection failed"),
            latency,
        },
        Err(e) => ProbeResult {
            healthy: false,
            detail: format!("GET {url}: {e}"),
            latency,
        },
    }
}

fn humanize(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The client probes share: no retries (a retry would hide a flapping service), no redirects to
/// other hosts, and rustls with the platform's roots.
pub fn client() -> reqwest::Client {
    crate::tls::install_default_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
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
}
