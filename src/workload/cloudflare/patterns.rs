//! The Worker route patterns for the routes a service holds. A held route is a host and a path
//! prefix; Cloudflare matches `host/path*` patterns, where `*` is a plain string wildcard. A
//! prefix `/api` must match `/api` and `/api/...` but not `/apis`, so it becomes two patterns.

/// The patterns for one held route (`host` may be `*.example.com`).
pub fn for_route(host: &str, path: &str) -> Vec<String> {
    let trimmed = path.trim_end_matches('*').trim_end_matches('/');
    if trimmed.is_empty() {
        return vec![format!("{host}/*")];
    }
    vec![format!("{host}{trimmed}"), format!("{host}{trimmed}/*")]
}

/// The patterns for all held routes (`host/path` pairs), sorted and without repeats, so two
/// equal sets always compare and hash alike.
pub fn for_routes<'a>(held: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut all: Vec<String> = held
        .into_iter()
        .flat_map(|(host, path)| for_route(host, path))
        .collect();
    all.sort();
    all.dedup();
    all
}

/// A short, stable name part for a set of patterns: a routes-only update Job is named by what it
/// binds, so the same set never gets a second Job and a new set always gets a new one.
pub fn fingerprint(patterns: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(patterns.join("\n").as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The patterns of the routes `service` holds now, from its status (the RouteClaim controller's
/// decisions, as the ChittyService controller reports them).
pub fn held(service: &crate::api::ChittyService) -> Vec<String> {
    let routes = service
        .status
        .as_ref()
        .map(|s| s.routes.as_slice())
        .unwrap_or_default();
    for_routes(
        routes
            .iter()
            .filter(|r| r.accepted)
            .map(|r| (r.host.as_str(), r.path.as_str())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_host_is_one_pattern() {
        assert_eq!(for_route("mcp.chitty.cc", "/"), ["mcp.chitty.cc/*"]);
        assert_eq!(for_route("mcp.chitty.cc", "/*"), ["mcp.chitty.cc/*"]);
        assert_eq!(for_route("*.chitty.cc", "/"), ["*.chitty.cc/*"]);
    }

    #[test]
    fn a_prefix_matches_itself_and_below_but_not_a_longer_name() {
        let p = for_route("api.chitty.cc", "/chittycharge");
        assert_eq!(
            p,
            ["api.chitty.cc/chittycharge", "api.chitty.cc/chittycharge/*"]
        );
        assert_eq!(for_route("api.chitty.cc", "/chittycharge/*"), p);
        assert_eq!(for_route("api.chitty.cc", "/chittycharge/"), p);
    }

    #[test]
    fn sets_are_sorted_and_fingerprinted_by_content() {
        let a = for_routes([
            ("b.chitty.cc", "/"),
            ("a.chitty.cc", "/x"),
            ("b.chitty.cc", "/*"),
        ]);
        assert_eq!(a, ["a.chitty.cc/x", "a.chitty.cc/x/*", "b.chitty.cc/*"]);
        let b = for_routes([("a.chitty.cc", "/x/"), ("b.chitty.cc", "/")]);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&[]));
        assert_eq!(fingerprint(&a).len(), 8);
    }
}
