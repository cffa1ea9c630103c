//! Times the route rule: a full `resolve` from scratch at several sizes, and one change through the
//! index (upsert + re-deciding the affected key). Plain `main` (`harness = false`), no dependency.
//!
//! `cargo bench --bench route_resolution`

use std::hint::black_box;
use std::time::{Duration, Instant};

use chitty_operator::routing::{
    Claim, ClaimId, ClaimIndex, Delegations, DomainInput, Reservations, RoutePolicy, Sharing,
    resolve,
};
use jiff::Timestamp;

/// `n` claims of which a tenth land on a key another claim already has (the 10 % conflicts):
/// half on their own host, half as `api.chitty.cc/<service>` paths, a fifth already incumbent.
fn claims(n: usize) -> Vec<Claim> {
    (0..n)
        .map(|i| {
            let service = if i % 10 == 9 { i / 2 } else { i };
            let (host, path) = if service % 2 == 0 {
                (format!("svc-{service}.chitty.cc"), "/*".to_owned())
            } else {
                ("api.chitty.cc".to_owned(), format!("/svc-{service}/"))
            };
            Claim {
                id: ClaimId::new(format!("ns-{}", i % 97), format!("claim-{i}")),
                host,
                path,
                created: Timestamp::from_second(1_700_000_000 + (i % 1_000) as i64).unwrap(),
                incumbent: i % 5 == 0,
                service_found: i % 50 != 0,
                service: format!("svc-{service}"),
                service_namespace: None,
            }
        })
        .collect()
}

/// Median of `runs` timings, so one slow run (page faults, scheduling) does not decide.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// The delegated policy a platform would run: `api.chitty.cc` shared by every namespace, and each
/// service's own host delegated to the namespace of its first claim, so that the claims that come
/// in pairs from two namespaces (every tenth) are refused on hosts and allowed on shared paths.
fn policy(n: usize) -> RoutePolicy {
    let reservations = Reservations::from_pairs([("*.internal.chitty.cc", ["platform"])]).unwrap();
    let created = Timestamp::from_second(1_600_000_000).unwrap();
    let mut domains = vec![DomainInput {
        name: "api".into(),
        created,
        host: "api.chitty.cc".into(),
        sharing: Sharing::Shared,
        namespaces: (0..97).map(|ns| format!("ns-{ns}")).collect(),
    }];
    domains.extend((0..n).step_by(2).map(|service| DomainInput {
        name: format!("svc-{service}"),
        created,
        host: format!("svc-{service}.chitty.cc"),
        sharing: Sharing::Exclusive,
        namespaces: [format!("ns-{}", service % 97)].into(),
    }));
    RoutePolicy::delegated(reservations, Delegations::from_domains(&domains).0)
}

fn main() {
    for n in [1_000, 10_000, 100_000] {
        let input = claims(n);
        let policy = policy(n);
        let runs = if n >= 100_000 { 5 } else { 21 };
        let full = median(runs, || {
            black_box(resolve(black_box(&input), &policy));
        });
        let resolution = resolve(&input, &policy);

        let mut index = ClaimIndex::new(policy.clone());
        for claim in input.iter().cloned() {
            index.upsert(claim);
        }
        // One claim moves onto a contested key and back: the steady-state cost of a watch event.
        let mut moved = input[1].clone();
        let original = moved.clone();
        moved.path = input[3].path.clone();
        let one_change = median(101, || {
            let affected = index.upsert(moved.clone());
            black_box(index.decide(&affected));
            let affected = index.upsert(original.clone());
            black_box(index.decide(&affected));
        }) / 2;
        let index_full = median(runs, || {
            black_box(index.resolve());
        });

        println!(
            "{n:>7} claims ({} contested keys): resolve {:>9.2?}  index.resolve {:>9.2?}  one change {:>9.2?}",
            resolution.conflicts.len(),
            full,
            index_full,
            one_change,
        );
    }

    // What delegation costs: the same 100,000 claims under the open policy (reservations only).
    let input = claims(100_000);
    let open: RoutePolicy = policy(0).reservations().clone().into();
    let open_full = median(5, || {
        black_box(resolve(black_box(&input), &open));
    });
    println!(" 100000 claims, open policy: resolve {open_full:>9.2?}");

    // The worst shape for per-claim output: everyone on one key (`conflicts_with` is capped).
    let mut pile = claims(10_000);
    for claim in &mut pile {
        (claim.host, claim.path) = ("mcp.chitty.cc".to_owned(), "/*".to_owned());
    }
    let one_key = median(11, || {
        black_box(resolve(black_box(&pile), &RoutePolicy::default()));
    });
    println!(" 10000 claims on one key: resolve {one_key:>9.2?}");
}
