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

fn held(host: &str, path: &str, tls: bool) -> HeldRoute {
    HeldRoute {
        host: host.into(),
        path: path.into(),
        tls,
        tls_secret_name: None,
    }
}

fn routes() -> Vec<HeldRoute> {
    vec![
        held("mcp.chitty.cc", "/", true),
        held("api.chitty.cc", "/mcp", true),
        held("api.chitty.cc", "/v1.0/", false),
    ]
}

fn json(ingress: &Ingress) -> serde_json::Value {
    serde_json::to_value(ingress).unwrap()
}

fn backend(name: &str) -> serde_json::Value {
    serde_json::json!({"service": {"name": name, "port": {"number": 3000}}})
}

#[test]
fn other_classes_get_one_ingress_without_rewrite_or_weights() {
    let all = build_all(
        &service(),
        &routes(),
        &IngressSettings::default(),
        false,
        Traffic {
            canary_weight: Some(30),
        },
    );
    assert_eq!(all.keys().collect::<Vec<_>>(), ["chittymcp"]);
    assert_eq!(
        json(&all["chittymcp"])["spec"]["rules"][0]["http"]["paths"][0]["path"],
        "/mcp"
    );
}

#[test]
fn ingress_nginx_strips_path_prefixes_in_an_ingress_of_their_own() {
    let settings = IngressSettings {
        class: Some("nginx"),
        cert_manager_issuer: Some("letsencrypt"),
    };
    let all = build_all(&service(), &routes(), &settings, true, Traffic::default());
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        ["chittymcp", "chittymcp-rewrite"]
    );
    let main = json(&all["chittymcp"]);
    assert_eq!(
        main["spec"]["rules"],
        serde_json::json!([{"host": "mcp.chitty.cc", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": backend("chittymcp")}]}}])
    );
    // Every TLS host is declared once, on the main Ingress.
    assert_eq!(
        main["spec"]["tls"],
        serde_json::json!([
            {"hosts": ["api.chitty.cc"], "secretName": "api-chitty-cc-tls"},
            {"hosts": ["mcp.chitty.cc"], "secretName": "mcp-chitty-cc-tls"},
        ])
    );
    let rewrite = json(&all["chittymcp-rewrite"]);
    assert_eq!(
        rewrite["spec"]["rules"],
        serde_json::json!([{"host": "api.chitty.cc", "http": {"paths": [
            {"path": "/mcp(/|$)(.*)", "pathType": "ImplementationSpecific", "backend": backend("chittymcp")},
            {"path": "/v1\\.0(/|$)(.*)", "pathType": "ImplementationSpecific", "backend": backend("chittymcp")},
        ]}}])
    );
    assert_eq!(
        rewrite["metadata"]["annotations"],
        serde_json::json!({REWRITE_TARGET: "/$2", USE_REGEX: "true"})
    );
    assert!(rewrite["spec"].get("tls").is_none());
    assert_eq!(rewrite["spec"]["ingressClassName"], "nginx");
    assert_eq!(rewrite["metadata"]["ownerReferences"][0]["uid"], "u-1");
}

#[test]
fn path_routes_alone_declare_their_tls_on_the_rewrite_ingress() {
    let all = build_all(
        &service(),
        &[held("api.chitty.cc", "/mcp", true)],
        &IngressSettings::default(),
        true,
        Traffic::default(),
    );
    assert_eq!(all.keys().collect::<Vec<_>>(), ["chittymcp-rewrite"]);
    assert_eq!(
        json(&all["chittymcp-rewrite"])["spec"]["tls"][0]["hosts"],
        serde_json::json!(["api.chitty.cc"])
    );
}

#[test]
fn a_canary_ingress_carries_the_weight_on_every_path() {
    let all = build_all(
        &service(),
        &routes(),
        &IngressSettings {
            class: None,
            cert_manager_issuer: Some("letsencrypt"),
        },
        true,
        Traffic {
            canary_weight: Some(30),
        },
    );
    let canary = json(&all["chittymcp-canary"]);
    assert_eq!(
        canary["metadata"]["annotations"],
        serde_json::json!({CANARY: "true", CANARY_WEIGHT: "30"})
    );
    assert_eq!(
        canary["spec"]["rules"],
        serde_json::json!([
            {"host": "mcp.chitty.cc", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": backend("chittymcp-canary")}]}},
            {"host": "api.chitty.cc", "http": {"paths": [
                {"path": "/mcp(/|$)(.*)", "pathType": "ImplementationSpecific", "backend": backend("chittymcp-canary")},
                {"path": "/v1\\.0(/|$)(.*)", "pathType": "ImplementationSpecific", "backend": backend("chittymcp-canary")},
            ]}},
        ])
    );
    assert!(
        canary["spec"].get("tls").is_none(),
        "cert-manager must not see it"
    );
    // The main Ingresses are unchanged by the canary.
    let without = build_all(
        &service(),
        &routes(),
        &IngressSettings {
            class: None,
            cert_manager_issuer: Some("letsencrypt"),
        },
        true,
        Traffic::default(),
    );
    assert_eq!(json(&all["chittymcp"]), json(&without["chittymcp"]));
    assert!(!without.contains_key("chittymcp-canary"));
}

#[test]
fn weights_outside_zero_to_a_hundred_are_clamped() {
    let all = build_all(
        &service(),
        &[held("a.chitty.cc", "/", false)],
        &IngressSettings::default(),
        true,
        Traffic {
            canary_weight: Some(140),
        },
    );
    assert_eq!(
        json(&all["chittymcp-canary"])["metadata"]["annotations"][CANARY_WEIGHT],
        "100"
    );
}

#[test]
fn an_ingress_whose_nginx_annotations_changed_is_not_current() {
    let all = build_all(
        &service(),
        &routes(),
        &IngressSettings::default(),
        true,
        Traffic {
            canary_weight: Some(10),
        },
    );
    let mut edited = all["chittymcp-canary"].clone();
    edited
        .annotations_mut()
        .insert(CANARY_WEIGHT.into(), "50".into());
    assert!(!ingress::is_current(&edited, &all["chittymcp-canary"]));
    edited
        .annotations_mut()
        .insert(CANARY_WEIGHT.into(), "10".into());
    edited
        .annotations_mut()
        .insert("someone.else/note".into(), "x".into());
    assert!(ingress::is_current(&edited, &all["chittymcp-canary"]));
}
