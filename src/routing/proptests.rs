//! Properties of the rule over arbitrary claim sets. Pools are small on purpose, so generated
//! claims collide on keys, timestamps and names and every step of the rule is exercised.

use std::collections::BTreeMap;

use jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::select;

use super::*;

const NAMESPACES: &[&str] = &["a", "a-b", "b", "c"];
const NAMES: &[&str] = &["x", "x-1", "y"];
// Spellings that normalise to the same key, a wildcard over them, and invalid ones.
const HOSTS: &[&str] = &["api.x.cc", "API.x.cc.", "*.x.cc", "b.x.cc", "a.*.cc"];
const PATHS: &[&str] = &["/", "/*", "/api", "/api/", "/api/*", "api"];
// `api` owns `/api` on a shared host; a foreign namespace for some.
const SERVICES: &[&str] = &["api", "web"];
const SERVICE_NAMESPACES: &[Option<&str>] = &[None, None, None, Some("a"), Some("c")];

fn arb_claim() -> impl Strategy<Value = Claim> {
    (
        select(NAMESPACES),
        select(NAMES),
        select(HOSTS),
        select(PATHS),
        0i64..4,
        any::<bool>(),
        prop::bool::weighted(0.85),
        (select(SERVICES), select(SERVICE_NAMESPACES)),
    )
        .prop_map(
            |(
                namespace,
                name,
                host,
                path,
                second,
                incumbent,
                service_found,
                (service, service_ns),
            )| Claim {
                id: ClaimId::new(namespace, name),
                host: host.into(),
                path: path.into(),
                created: Timestamp::from_second(1_750_000_000 + second).unwrap(),
                incumbent,
                service_found,
                service: service.into(),
                service_namespace: service_ns.map(Into::into),
            },
        )
}

/// Claims with distinct ids, as in a cluster.
fn arb_claims() -> impl Strategy<Value = Vec<Claim>> {
    prop::collection::vec(arb_claim(), 0..30).prop_map(|claims| {
        let unique: BTreeMap<ClaimId, Claim> =
            claims.into_iter().map(|c| (c.id.clone(), c)).collect();
        unique.into_values().collect()
    })
}

fn delegations(domains: &[(&str, Sharing, &[&str])]) -> Delegations {
    let inputs: Vec<DomainInput> = (domains.iter().enumerate())
        .map(|(n, (host, sharing, namespaces))| DomainInput {
            name: format!("d{n}"),
            created: Timestamp::from_second(1_750_000_000).unwrap(),
            host: (*host).into(),
            sharing: *sharing,
            namespaces: namespaces.iter().map(|ns| ns.to_string()).collect(),
        })
        .collect();
    Delegations::from_domains(&inputs).0
}

fn arb_policy() -> impl Strategy<Value = RoutePolicy> {
    let reserved = || Reservations::from_pairs([("*.x.cc", ["a", "b"])]).unwrap();
    prop_oneof![
        Just(RoutePolicy::default()),
        Just(reserved().into()),
        Just(
            Reservations::from_pairs([("*.x.cc", vec!["a"]), ("api.x.cc", vec!["b", "c"])])
                .unwrap()
                .into()
        ),
        Just(RoutePolicy::delegated(
            Reservations::new(),
            Delegations::default()
        )),
        Just(RoutePolicy::delegated(
            reserved(),
            delegations(&[
                ("*.x.cc", Sharing::Exclusive, &["a"]),
                ("api.x.cc", Sharing::Shared, &["a", "b", "c"]),
            ])
        )),
        Just(RoutePolicy::delegated(
            Reservations::new(),
            delegations(&[("*.x.cc", Sharing::Shared, &["a-b", "b"])])
        )),
    ]
}

/// The holder of every key that has one.
fn holders(resolution: &Resolution) -> BTreeMap<RouteKey, ClaimId> {
    resolution
        .decisions
        .values()
        .filter_map(|d| Some((d.key.clone()?, d.holder.clone()?)))
        .collect()
}

/// What the status writer does: a claim is incumbent exactly when it was accepted.
fn write_back(claims: &mut [Claim], resolution: &Resolution) {
    for claim in claims {
        claim.incumbent = resolution.decisions[&claim.id].accepted;
    }
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(Claim),
    Remove(ClaimId),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => arb_claim().prop_map(Op::Upsert),
        1 => (select(NAMESPACES), select(NAMES)).prop_map(|(ns, name)| Op::Remove(ClaimId::new(ns, name))),
    ]
}

proptest! {
    #[test]
    fn result_is_independent_of_input_order(
        (claims, shuffled) in arb_claims().prop_flat_map(|c| (Just(c.clone()), Just(c).prop_shuffle())),
        reservations in arb_policy(),
    ) {
        let first = resolve(&claims, &reservations);
        prop_assert_eq!(&first, &resolve(&shuffled, &reservations));
        prop_assert_eq!(&first, &resolve(&claims, &reservations));
        prop_assert_eq!(first.decisions.len(), claims.len());
    }

    #[test]
    fn exactly_one_holder_per_key_with_an_eligible_claim(claims in arb_claims(), reservations in arb_policy()) {
        let r = resolve(&claims, &reservations);
        let mut by_key: BTreeMap<RouteKey, Vec<(&ClaimId, &Decision)>> = BTreeMap::new();
        for (id, d) in &r.decisions {
            prop_assert_eq!(d.accepted, d.reason == Reason::Accepted);
            match &d.key {
                Some(key) => by_key.entry(key.clone()).or_default().push((id, d)),
                None => prop_assert_eq!(d.reason, Reason::Invalid),
            }
        }
        for on_key in by_key.values() {
            let eligible = on_key.iter().any(|(_, d)| matches!(d.reason, Reason::Accepted | Reason::Conflicted));
            let winners: Vec<&ClaimId> = on_key.iter().filter(|(_, d)| d.accepted).map(|(id, _)| *id).collect();
            prop_assert_eq!(winners.len(), usize::from(eligible));
            for (_, d) in on_key {
                prop_assert_eq!(d.holder.as_ref(), winners.first().copied());
            }
        }
    }

    #[test]
    fn every_loser_names_the_holder_and_everyone_else_on_its_key(
        claims in arb_claims(),
        reservations in arb_policy(),
    ) {
        let r = resolve(&claims, &reservations);
        for (id, d) in &r.decisions {
            let on_key: Vec<&ClaimId> =
                r.decisions.iter().filter(|(other, o)| *other != id && o.key.is_some() && o.key == d.key).map(|(o, _)| o).collect();
            prop_assert_eq!(d.conflicts_total, on_key.len());
            prop_assert_eq!(d.conflicts_with.iter().collect::<Vec<_>>(), on_key, "small keys list everyone, sorted");
            if let Some(holder) = d.holder.as_ref().filter(|h| *h != id) {
                prop_assert!(d.conflicts_with.contains(holder));
            }
        }
    }

    #[test]
    fn holder_is_stable_when_a_non_incumbent_claim_is_added(
        mut claims in arb_claims(),
        newcomer in arb_claim(),
        reservations in arb_policy(),
    ) {
        prop_assume!(claims.iter().all(|c| c.id != newcomer.id));
        let settled = resolve(&claims, &reservations);
        write_back(&mut claims, &settled);
        let before = holders(&resolve(&claims, &reservations));
        prop_assert_eq!(&before, &holders(&settled), "writing status back does not move any key");

        claims.push(Claim { incumbent: false, ..newcomer });
        let after = holders(&resolve(&claims, &reservations));
        for (key, holder) in &before {
            prop_assert_eq!(after.get(key), Some(holder));
        }
    }

    #[test]
    fn stable_when_nothing_changes(mut claims in arb_claims(), reservations in arb_policy()) {
        let first = resolve(&claims, &reservations);
        write_back(&mut claims, &first);
        let second = resolve(&claims, &reservations);
        write_back(&mut claims, &second);
        let third = resolve(&claims, &reservations);
        prop_assert_eq!(holders(&first), holders(&second));
        prop_assert_eq!(&second, &third, "once status is written back, nothing is left to patch");
    }

    #[test]
    fn index_per_key_decisions_track_a_full_resolve(
        ops in prop::collection::vec(arb_op(), 0..40),
        reservations in arb_policy(),
    ) {
        let mut index = ClaimIndex::new(reservations.clone());
        let mut model: BTreeMap<ClaimId, Claim> = BTreeMap::new();
        let mut statuses: BTreeMap<ClaimId, Decision> = BTreeMap::new();
        for op in ops {
            let affected = match op {
                Op::Upsert(claim) => {
                    model.insert(claim.id.clone(), claim.clone());
                    index.upsert(claim)
                }
                Op::Remove(id) => {
                    model.remove(&id);
                    index.remove(&id)
                }
            };
            statuses.retain(|id, _| model.contains_key(id));
            statuses.extend(index.decide(&affected));
            prop_assert_eq!(&statuses, &index.resolve());
            prop_assert!(index.changed_since(&statuses).is_empty());
        }
        prop_assert_eq!(index.resolution(), resolve(model.values(), &reservations));
    }
}
