//! The chart's `shards`: one Deployment per shard, each told its share and selecting only its own
//! pods, the Leases they elect on granted, and settings that would split the fleet wrongly
//! refused at render time.

mod common;
#[path = "packaging/support.rs"]
mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::*;

#[test]
fn each_shard_is_a_deployment_told_its_share() {
    let docs = documents(&helm_template(
        "t",
        "ops",
        &["--set", "shards=3", "--set", "sharding.takeoverAfter=45s"],
    ));
    let deployments = of_kind(&docs, "Deployment");
    let names: Vec<&str> = (deployments.iter())
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "t-chitty-operator-shard-0",
            "t-chitty-operator-shard-1",
            "t-chitty-operator-shard-2"
        ]
    );
    for (i, deployment) in deployments.iter().enumerate() {
        let shard = i.to_string();
        assert_eq!(
            env_value(deployment, "CHITTY_SHARD_COUNT").as_deref(),
            Some("3")
        );
        assert_eq!(
            env_value(deployment, "CHITTY_SHARD_INDEX").as_deref(),
            Some(shard.as_str())
        );
        assert_eq!(
            env_value(deployment, "CHITTY_SHARD_TAKEOVER_AFTER").as_deref(),
            Some("45s")
        );
        assert_eq!(
            env_value(deployment, "CHITTY_LEADER_ELECT").as_deref(),
            Some("true")
        );
        // Selectors are immutable and must not overlap: each shard's selects its own pods only.
        let selector = &deployment["spec"]["selector"]["matchLabels"];
        assert_eq!(selector["chitty.cc/shard"], Value::String(shard.clone()));
        assert_eq!(
            deployment["spec"]["template"]["metadata"]["labels"]["chitty.cc/shard"],
            Value::String(shard)
        );
    }
    // The shards' Leases and the route rule's, besides the unsharded one.
    let leases: BTreeSet<String> = of_kind(&docs, "Role")
        .iter()
        .flat_map(|role| role["rules"].as_array().unwrap().iter())
        .filter(|rule| rule["resources"][0] == "leases")
        .flat_map(|rule| {
            rule["resourceNames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|name| name.as_str().unwrap().to_string())
        .collect();
    for lease in [
        "t-chitty-operator-shard-0",
        "t-chitty-operator-shard-1",
        "t-chitty-operator-shard-2",
        "t-chitty-operator-routes",
    ] {
        assert!(leases.contains(lease), "{lease} granted: {leases:?}");
    }
}

#[test]
fn one_shard_renders_as_before() {
    let docs = documents(&helm_template("t", "ops", &[]));
    let deployment = only(&docs, "Deployment");
    assert_eq!(deployment["metadata"]["name"], "t-chitty-operator");
    assert!(deployment["spec"]["selector"]["matchLabels"]["chitty.cc/shard"].is_null());
    assert_eq!(env_value(deployment, "CHITTY_SHARD_COUNT"), None);
}

#[test]
fn shard_settings_that_split_the_fleet_wrongly_are_refused() {
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    let (ok, _, stderr) = helm(&["template", "t", chart, "--set", "shards=0"]);
    assert!(!ok && stderr.contains("shards"), "{stderr}");
    let (ok, _, stderr) = helm(&["template", "t", chart, "--set", "shards=65"]);
    assert!(!ok && stderr.contains("shards"), "{stderr}");
    let (ok, _, stderr) = helm(&[
        "template",
        "t",
        chart,
        "--set",
        "shards=2",
        "--set",
        "leaderElection.enabled=false",
        "--set",
        "replicaCount=1",
    ]);
    assert!(
        !ok && stderr.contains("shards > 1 needs leaderElection"),
        "{stderr}"
    );
}
