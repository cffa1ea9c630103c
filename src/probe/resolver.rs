//! DNS for probes, filtered by the address guard: a tenant's host name that resolves to a
//! refused address (a name pointing at 169.254.169.254, or at 127.0.0.1) is refused as an
//! IP-literal URL would be. Refused answers are dropped; when none is left, the lookup fails
//! with the guard's reason, which the probe's detail then names.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::guard::AddressGuard;

pub struct GuardedResolver {
    pub guard: AddressGuard,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port on every address it is given.
            let answers: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused) = allowed_answers(&guard, answers);
            match (allowed.is_empty(), refused) {
                (true, Some(refusal)) => Err(refusal.into()),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// The answers the guard allows, and the first refusal among the others.
fn allowed_answers(
    guard: &AddressGuard,
    answers: Vec<SocketAddr>,
) -> (Vec<SocketAddr>, Option<super::guard::NotAllowed>) {
    let mut refused = None;
    let allowed = answers
        .into_iter()
        .filter(|a| match guard.check(a.ip()) {
            Ok(()) => true,
            Err(e) => {
                refused.get_or_insert(e);
                false
            }
        })
        .collect();
    (allowed, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_answers_are_dropped_and_the_first_reason_kept() {
        let guard = AddressGuard::default();
        let answers = vec![
            "169.254.169.254:0".parse().unwrap(),
            "10.0.0.7:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        ];
        let (allowed, refused) = allowed_answers(&guard, answers);
        assert_eq!(allowed, vec!["10.0.0.7:0".parse::<SocketAddr>().unwrap()]);
        assert_eq!(refused.unwrap().ip.to_string(), "169.254.169.254");
    }
}
