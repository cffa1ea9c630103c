//! The deterministic name of the RouteClaim a ChittyService makes for one of its spec routes.

use sha2::{Digest, Sha256};

use super::RouteKey;
use crate::api::Route;

/// Name of the claim for a spec route: the service's name and a short hash of the normalised
/// route, so that spellings of one route (`/` and `/*`) share a claim and a restart finds it again.
pub fn claim_name(service: &str, route: &Route) -> String {
    let text = match RouteKey::parse(&route.host, &route.path) {
        Ok(key) => key.to_string(),
        // Admission rejects such routes; hashing the raw text keeps the name deterministic anyway.
        Err(_) => format!("{} {}", route.host, route.path),
    };
    let digest = Sha256::digest(text.as_bytes());
    let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{service}-{short}")
}
