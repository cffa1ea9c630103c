//! Behaviour of the rule, one situation a test, written the way the issue states it.

use jiff::Timestamp;

use super::*;

/// `id` is `namespace/name`; `route` is `host/path` as users write it (`mcp.chitty.cc/*`).
fn claim(id: &str, route: &str, created: i64) -> Claim {
    let (namespace, name) = id.split_once('/').unwrap();
    let (host, path) = route
        .split_once('/')
        .map_or((route, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    Claim {
        id: ClaimId::new(namespace, name),
        host: host.to_owned(),
        path,
        created: at(created),
        incumbent: false,
        service_found: true,
        service: "svc".to_owned(),
        service_namespace: None,
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + second).unwrap()
}

fn incumbent(mut claim: Claim) -> Claim {
    claim.incumbent = true;
    claim
}

fn id(text: &str) -> ClaimId {
    let (namespace, name) = text.split_once('/').unwrap();
    ClaimId::new(namespace, name)
}

fn decide(claims: &[Claim]) -> Resolution {
    resolve(claims, &RoutePolicy::default())
}

fn decision<'a>(resolution: &'a Resolution, claim: &str) -> &'a Decision {
    &resolution.decisions[&id(claim)]
}

fn accepted(resolution: &Resolution) -> Vec<String> {
    resolution
        .decisions
        .iter()
        .filter(|(_, d)| d.accepted)
        .map(|(id, _)| id.to_string())
        .collect()
}

#[test]
fn incumbent_keeps_route_against_older_newcomer() {
    let r = decide(&[
        incumbent(claim("team-b/api-v2", "api.chitty.cc/*", 100)),
        claim("team-a/api-v1", "api.chitty.cc/", 5),
    ]);
    assert_eq!(accepted(&r), ["team-b/api-v2"]);
    let lost = decision(&r, "team-a/api-v1");
    assert_eq!(lost.reason, Reason::Conflicted);
    assert_eq!(lost.holder, Some(id("team-b/api-v2")));
    assert_eq!(
        lost.message,
        "api.chitty.cc/* is held by team-b/api-v2, which already held it (incumbent); \
         it keeps it although this claim is older; this claim is next in line"
    );
}

#[test]
fn exact_host_does_not_conflict_with_wildcard() {
    let r = decide(&[
        claim("a/wild", "*.chitty.cc/*", 1),
        claim("b/exact", "api.chitty.cc/*", 2),
    ]);
    assert_eq!(accepted(&r), ["a/wild", "b/exact"]);
    assert!(r.conflicts.is_empty());
    assert!(decision(&r, "a/wild").conflicts_with.is_empty());
    assert_eq!(
        r.overlaps,
        [Overlap {
            wildcard: "*.chitty.cc".into(),
            exact: "api.chitty.cc".into()
        }]
    );
    assert!(
        decision(&r, "a/wild")
            .message
            .contains("an exact host under it is claimed separately")
    );
}

#[test]
fn an_exact_host_held_on_several_paths_overlaps_its_wildcard_once() {
    let r = decide(&[
        claim("a/wild", "*.chitty.cc/*", 1),
        claim("b/root", "api.chitty.cc/*", 2),
        claim("b/v1", "api.chitty.cc/v1/*", 3),
        claim("c/other", "api.example.com/*", 4),
    ]);
    assert_eq!(
        r.overlaps,
        [Overlap {
            wildcard: "*.chitty.cc".into(),
            exact: "api.chitty.cc".into()
        }]
    );
}

#[test]
fn oldest_wins_when_no_incumbent() {
    let r = decide(&[
        claim("z/new", "api.chitty.cc/*", 20),
        claim("y/old", "api.chitty.cc/*", 10),
    ]);
    assert_eq!(accepted(&r), ["y/old"]);
    assert_eq!(
        decision(&r, "z/new").message,
        format!(
            "api.chitty.cc/* is held by y/old, which was created earlier ({}; this claim {}); this claim is next in line",
            at(10),
            at(20)
        )
    );
    assert!(
        decision(&r, "y/old")
            .message
            .contains("this is the oldest claim on it")
    );
}

#[test]
fn name_breaks_timestamp_ties() {
    let r = decide(&[
        claim("b/svc", "api.chitty.cc/*", 7),
        claim("a/svc", "api.chitty.cc/*", 7),
    ]);
    assert_eq!(accepted(&r), ["a/svc"]);
    assert!(
        decision(&r, "b/svc")
            .message
            .contains("sorts before this claim by namespace/name")
    );
    // Alphabetical by the `namespace/name` text: `-` sorts before `/`, so `a-b/x` precedes `a/y`.
    let r = decide(&[
        claim("a/y", "api.chitty.cc/*", 7),
        claim("a-b/x", "api.chitty.cc/*", 7),
    ]);
    assert_eq!(accepted(&r), ["a-b/x"]);
}

#[test]
fn holder_removal_hands_over_to_next_in_order() {
    let mut index = ClaimIndex::default();
    for c in [
        incumbent(claim("ns/holder", "api.chitty.cc/*", 30)),
        claim("ns/second", "api.chitty.cc/*", 10),
        claim("ns/third", "api.chitty.cc/*", 20),
    ] {
        index.upsert(c);
    }
    assert_eq!(
        index.resolve()[&id("ns/second")].message.split("; ").last(),
        Some("this claim is next in line")
    );
    assert_eq!(
        index.resolve()[&id("ns/third")].message.split("; ").last(),
        Some("this claim is number 3 in line")
    );

    let affected = index.remove(&id("ns/holder"));
    let decisions = index.decide(&affected);
    assert!(decisions[&id("ns/second")].accepted);
    assert_eq!(decisions[&id("ns/third")].holder, Some(id("ns/second")));
    assert!(!decisions.contains_key(&id("ns/holder")));
}

#[test]
fn seed_case_older_wins_and_recreated_loser_does_not_steal_back() {
    // chittyconnect and chittymcp both claim mcp.chitty.cc/*; the older wins.
    let mut index = ClaimIndex::default();
    index.upsert(claim("chitty/chittyconnect", "mcp.chitty.cc/*", 1));
    index.upsert(claim("chitty/chittymcp", "mcp.chitty.cc/*", 2));
    let d = index.resolve();
    assert!(d[&id("chitty/chittyconnect")].accepted);
    assert_eq!(d[&id("chitty/chittymcp")].reason, Reason::Conflicted);
    assert!(
        d[&id("chitty/chittymcp")]
            .message
            .contains("held by chitty/chittyconnect")
    );

    // The status writer records the winner; delete it and the other takes over.
    index.upsert(incumbent(claim(
        "chitty/chittyconnect",
        "mcp.chitty.cc/*",
        1,
    )));
    index.remove(&id("chitty/chittyconnect"));
    assert!(index.resolve()[&id("chitty/chittymcp")].accepted);

    // Status written back; the re-created first claim (newer object) does not steal back.
    index.upsert(incumbent(claim("chitty/chittymcp", "mcp.chitty.cc/*", 2)));
    index.upsert(claim("chitty/chittyconnect", "mcp.chitty.cc/*", 3));
    assert!(index.resolve()[&id("chitty/chittymcp")].accepted);
    // Nor would an older object appearing later.
    index.upsert(claim("chitty/chittyconnect", "mcp.chitty.cc/*", 0));
    assert!(index.resolve()[&id("chitty/chittymcp")].accepted);
}

#[test]
fn different_paths_on_one_host_do_not_conflict_but_equal_prefixes_do() {
    let r = decide(&[
        claim("a/one", "api.chitty.cc/one/*", 1),
        claim("b/two", "api.chitty.cc/two", 2),
        claim("c/two-again", "API.chitty.cc./two/", 3),
    ]);
    assert_eq!(accepted(&r), ["a/one", "b/two"]);
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(r.conflicts[0].key.to_string(), "api.chitty.cc/two/*");
}

#[test]
fn split_brain_incumbents_are_ordered_by_age_then_name() {
    let r = decide(&[
        incumbent(claim("b/x", "api.chitty.cc/*", 5)),
        incumbent(claim("a/x", "api.chitty.cc/*", 5)),
        incumbent(claim("c/x", "api.chitty.cc/*", 9)),
        claim("d/oldest", "api.chitty.cc/*", 0),
    ]);
    assert_eq!(accepted(&r), ["a/x"]);
    assert!(
        decision(&r, "b/x")
            .message
            .contains("like this claim, was marked as holding it (stale status)")
    );
    assert!(
        decision(&r, "a/x")
            .message
            .contains("several claims' status said they held it")
    );
    assert!(
        decision(&r, "d/oldest")
            .message
            .contains("number 4 in line")
    );
}

#[test]
fn claim_without_service_does_not_compete() {
    let mut dangling = incumbent(claim("old/dangling", "api.chitty.cc/*", 0));
    dangling.service_found = false;
    let r = decide(&[dangling, claim("new/real", "api.chitty.cc/*", 50)]);
    assert_eq!(accepted(&r), ["new/real"]);
    let d = decision(&r, "old/dangling");
    assert_eq!(
        (d.reason, d.holder.clone()),
        (Reason::ServiceNotFound, Some(id("new/real")))
    );
    assert_eq!(
        decision(&r, "new/real").conflicts_with,
        [id("old/dangling")]
    );
}

#[test]
fn reservation_refuses_other_namespaces_and_keeps_them_out_of_the_contest() {
    let reservations = Reservations::from_pairs([("*.chitty.cc", ["platform"])]).unwrap();
    let r = resolve(
        &[
            claim("intruder/early", "api.chitty.cc/*", 0),
            claim("platform/api", "api.chitty.cc/*", 10),
        ],
        &reservations.into(),
    );
    assert_eq!(accepted(&r), ["platform/api"]);
    let refused = decision(&r, "intruder/early");
    assert_eq!(refused.reason, Reason::NotAllowed);
    assert_eq!(
        refused.message,
        "hosts matching *.chitty.cc are reserved by operator configuration for platform; this claim's namespace \
         intruder is not allowed, so it does not compete for api.chitty.cc/*; api.chitty.cc/* is held by platform/api"
    );
}

#[test]
fn invalid_claims_are_reported_and_hold_nothing() {
    let r = decide(&[
        claim("a/bad", "a.*.chitty.cc/*", 0),
        claim("a/bad-path", "api.chitty.cc/v1*", 0),
    ]);
    let bad = decision(&r, "a/bad");
    assert_eq!(
        (bad.reason, bad.key.clone(), bad.holder.clone()),
        (Reason::Invalid, None, None)
    );
    assert_eq!(
        bad.message,
        "invalid route: host `a.*.chitty.cc`: `*` is allowed only as the whole leftmost label, e.g. `*.chitty.cc`"
    );
    assert_eq!(decision(&r, "a/bad-path").reason, Reason::Invalid);
    assert!(r.conflicts.is_empty());
}

#[test]
fn fleet_view_lists_every_contested_key_with_its_holder() {
    let r = decide(&[
        claim("a/x", "mcp.chitty.cc/*", 1),
        claim("b/x", "mcp.chitty.cc/*", 2),
        claim("c/x", "mcp.chitty.cc/", 3),
        claim("d/x", "solo.chitty.cc/*", 1),
    ]);
    let json = serde_json::to_value(&r.conflicts).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"host": "mcp.chitty.cc", "path": "/", "holder": "a/x", "losers": ["b/x", "c/x"]}])
    );
    let d = serde_json::to_value(decision(&r, "b/x")).unwrap();
    assert_eq!(d["conflictsWith"], serde_json::json!(["a/x", "c/x"]));
    assert_eq!(d["reason"], "Conflicted");
}

#[test]
fn conflicts_with_is_capped_but_always_names_the_holder() {
    let mut claims: Vec<Claim> = (0..100)
        .map(|i| claim(&format!("ns/c{i:03}"), "api.chitty.cc/*", 10))
        .collect();
    claims.push(claim("zz/holder", "api.chitty.cc/*", 0));
    let r = decide(&claims);
    let loser = decision(&r, "ns/c050");
    assert_eq!(loser.conflicts_with.len(), CONFLICTS_LISTED);
    assert_eq!(loser.conflicts_total, 100);
    assert_eq!(loser.conflicts_with.last(), Some(&id("zz/holder")));
    assert!(loser.conflicts_with.is_sorted());
    assert_eq!(r.conflicts[0].losers.len(), 100);
}

#[test]
fn changed_since_reports_only_differences() {
    let mut index = ClaimIndex::default();
    index.upsert(claim("a/x", "one.chitty.cc/*", 1));
    index.upsert(claim("b/x", "two.chitty.cc/*", 1));
    let before = index.resolve();
    assert!(
        index.changed_since(&before).is_empty(),
        "nothing changed, nothing to patch"
    );

    assert!(
        index.upsert(claim("b/x", "two.chitty.cc/*", 1)).is_empty(),
        "a replayed event affects nothing"
    );
    index.upsert(claim("c/x", "two.chitty.cc/*", 2));
    let changed: Vec<String> = index
        .changed_since(&before)
        .keys()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        changed,
        ["b/x", "c/x"],
        "b/x gained a conflict, c/x is new; a/x is untouched"
    );
}

#[test]
fn moving_a_claim_to_another_key_frees_the_old_one() {
    let mut index = ClaimIndex::default();
    index.upsert(claim("a/x", "api.chitty.cc/*", 1));
    index.upsert(claim("b/x", "api.chitty.cc/*", 2));
    let mut previous = index.resolve();
    let affected = index.upsert(claim("a/x", "other.chitty.cc/*", 1));
    assert_eq!(affected.keys.len(), 2);
    previous.extend(index.decide(&affected));
    assert_eq!(previous, index.resolve());
    assert!(previous[&id("b/x")].accepted);
}

#[test]
fn reloading_reservations_affects_every_key() {
    let mut index = ClaimIndex::default();
    index.upsert(claim("team/x", "api.chitty.cc/*", 1));
    let affected =
        index.set_policy(Reservations::from_pairs([("api.chitty.cc", ["platform"])]).unwrap());
    assert_eq!(
        index.decide(&affected)[&id("team/x")].reason,
        Reason::NotAllowed
    );
}
