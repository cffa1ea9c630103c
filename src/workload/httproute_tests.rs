use super::*;

fn service() -> ChittyService {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": "chittymcp", "namespace": "chitty", "uid": "u-1"},
        "spec": {"type": "worker", "version": "1.0.0", "environment": "staging",
                 "source": {"image": "registry.local/mcp:1"}, "port": 3000}
    }))
    .unwrap()
}

fn held(host: &str, path: &str) -> HeldRoute {
    HeldRoute {
        host: host.into(),
        path: path.into(),
        tls: false,
        tls_secret_name: None,
    }
}

fn gateway() -> GatewayRef {
    GatewayRef {
        namespace: "gw".into(),
        name: "public".into(),
    }
}

fn json(route: &HTTPRoute) -> serde_json::Value {
    serde_json::to_value(route).unwrap()
}

#[test]
fn no_held_route_means_no_httproute() {
    assert!(build(&service(), &[], &gateway(), Traffic::default()).is_empty());
}

#[test]
fn path_routes_match_their_prefix_and_have_it_stripped() {
    let routes = build(
        &service(),
        &[
            held("api.chitty.cc", "/mcp"),
            held("api.chitty.cc", "/admin"),
        ],
        &gateway(),
        Traffic::default(),
    );
    assert_eq!(routes.keys().collect::<Vec<_>>(), ["chittymcp"]);
    let value = json(&routes["chittymcp"]);
    let backend = serde_json::json!([
        {"group": "", "kind": "Service", "name": "chittymcp", "port": 3000, "weight": 100}
    ]);
    let rewrite = serde_json::json!([{"type": "URLRewrite", "urlRewrite":
        {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]);
    assert_eq!(
        value["spec"],
        serde_json::json!({
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                            "namespace": "gw", "name": "public"}],
            "hostnames": ["api.chitty.cc"],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
                 "filters": rewrite, "backendRefs": backend},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/mcp"}}],
                 "filters": rewrite, "backendRefs": backend},
            ]
        })
    );
    assert_eq!(value["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(value["kind"], "HTTPRoute");
    assert_eq!(value["metadata"]["ownerReferences"][0]["uid"], "u-1");
    assert_eq!(
        value["metadata"]["labels"]["chitty.cc/service"],
        "chittymcp"
    );
}

#[test]
fn a_host_of_its_own_is_not_rewritten() {
    let routes = build(
        &service(),
        &[held("mcp.chitty.cc", "/"), held("mcp.example.com", "/")],
        &gateway(),
        Traffic::default(),
    );
    let value = json(&routes["chittymcp"]);
    assert_eq!(
        value["spec"]["hostnames"],
        serde_json::json!(["mcp.chitty.cc", "mcp.example.com"])
    );
    assert!(value["spec"]["rules"][0].get("filters").is_none());
}

#[test]
fn hosts_holding_different_paths_get_routes_of_their_own() {
    let routes = build(
        &service(),
        &[held("mcp.chitty.cc", "/"), held("api.chitty.cc", "/mcp")],
        &gateway(),
        Traffic::default(),
    );
    assert_eq!(routes.len(), 2);
    let own = json(&routes["chittymcp"]);
    assert_eq!(
        own["spec"]["hostnames"],
        serde_json::json!(["mcp.chitty.cc"])
    );
    let (name, shared) = routes.iter().find(|(n, _)| *n != "chittymcp").unwrap();
    assert!(name.starts_with("chittymcp-") && name.len() == "chittymcp-".len() + 8);
    let shared = json(shared);
    assert_eq!(
        shared["spec"]["hostnames"],
        serde_json::json!(["api.chitty.cc"])
    );
    assert_eq!(shared["spec"]["rules"].as_array().unwrap().len(), 1);
    // The same routes give the same names.
    let again = build(
        &service(),
        &[held("api.chitty.cc", "/mcp"), held("mcp.chitty.cc", "/")],
        &gateway(),
        Traffic::default(),
    );
    let specs = |r: &BTreeMap<String, HTTPRoute>| -> Vec<(String, serde_json::Value)> {
        r.iter().map(|(n, r)| (n.clone(), json(r))).collect()
    };
    assert_eq!(specs(&again), specs(&routes));
}

#[test]
fn a_canary_takes_its_weight_from_the_stable_service() {
    let routes = build(
        &service(),
        &[held("api.chitty.cc", "/mcp")],
        &gateway(),
        Traffic {
            canary_weight: Some(30),
        },
    );
    let value = json(&routes["chittymcp"]);
    assert_eq!(
        value["spec"]["rules"][0]["backendRefs"],
        serde_json::json!([
            {"group": "", "kind": "Service", "name": "chittymcp", "port": 3000, "weight": 70},
            {"group": "", "kind": "Service", "name": "chittymcp-canary", "port": 3000, "weight": 30},
        ])
    );
}

#[test]
fn a_route_read_back_with_a_status_is_current_and_a_changed_one_is_not() {
    let desired = build(
        &service(),
        &[held("a.chitty.cc", "/")],
        &gateway(),
        Traffic::default(),
    )
    .remove("chittymcp")
    .unwrap();
    let mut existing: HTTPRoute =
        serde_json::from_value(serde_json::to_value(&desired).unwrap()).unwrap();
    existing.status = Some(Default::default());
    existing
        .labels_mut()
        .insert("added-by-someone".into(), "x".into());
    assert!(is_current(&existing, &desired));
    let weighted = build(
        &service(),
        &[held("a.chitty.cc", "/")],
        &gateway(),
        Traffic {
            canary_weight: Some(10),
        },
    )
    .remove("chittymcp")
    .unwrap();
    assert!(!is_current(&existing, &weighted));
}
