//! Redirects a probe follows: at most three, and only on the host it started on (same scheme,
//! host and port). A health endpoint that redirects elsewhere would otherwise have the operator
//! fetch any URL the tenant names, from inside the cluster, past the address guard's IP-literal
//! check; and a probe answers for the service, not for whatever it points at.

use reqwest::redirect::{Attempt, Policy};

/// The most redirects a probe follows.
pub const MAX_REDIRECTS: usize = 3;

pub fn policy() -> Policy {
    Policy::custom(|attempt: Attempt| {
        let first = attempt.previous().first().cloned();
        match decide(first.as_ref(), attempt.url(), attempt.previous().len()) {
            Ok(()) => attempt.follow(),
            Err(why) => attempt.error(why),
        }
    })
}

/// Whether the next hop may be followed, given where the probe started and how many hops it
/// has made.
fn decide(first: Option<&reqwest::Url>, next: &reqwest::Url, hops: usize) -> Result<(), String> {
    if hops > MAX_REDIRECTS {
        return Err(format!("more than {MAX_REDIRECTS} redirects"));
    }
    match first {
        Some(first) if same_origin(first, next) => Ok(()),
        Some(_) => Err(format!(
            "redirect to {next} refused: health probes follow redirects on the same host only"
        )),
        None => Ok(()),
    }
}

fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> reqwest::Url {
        text.parse().unwrap()
    }

    #[test]
    fn only_same_host_redirects_are_followed() {
        let start = url("http://svc.team.svc:8080/health");
        assert!(decide(Some(&start), &url("http://svc.team.svc:8080/healthz"), 1).is_ok());
        for elsewhere in [
            "http://169.254.169.254/latest/meta-data/",
            "https://svc.team.svc:8080/health",
            "http://svc.team.svc:9090/health",
            "http://other.team.svc:8080/health",
        ] {
            assert!(
                decide(Some(&start), &url(elsewhere), 1).is_err(),
                "{elsewhere}"
            );
        }
        let http = url("http://a.example/health");
        assert!(decide(Some(&http), &url("http://a.example:80/x"), 1).is_ok());
    }

    #[test]
    fn at_most_three_redirects() {
        let start = url("http://a.example/health");
        assert!(decide(Some(&start), &url("http://a.example/4"), 3).is_ok());
        assert!(decide(Some(&start), &url("http://a.example/5"), 4).is_err());
    }
}
