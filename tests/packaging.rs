//! The Helm chart and the kustomize bases: rendered, linted, compared with each other and with
//! the operator's flags, and (kustomize) installed into the local cluster.

mod common;
#[path = "packaging/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory;
use serde_json::Value;
use support::*;

/// Operator flags the chart deliberately does not offer as values, with the reason.
const FLAGS_NOT_IN_THE_CHART: &[(&str, &str)] = &[
    (
        "CHITTY_API_TOKEN",
        "the chart mounts the token Secret as a file (CHITTY_API_TOKEN_FILE), which follows rotation",
    ),
    // Set per Deployment when `shards` is above 1 (tests/chart_shards.rs), never by hand.
    (
        "CHITTY_SHARD_COUNT",
        "set from `shards` on each shard's Deployment",
    ),
    (
        "CHITTY_SHARD_INDEX",
        "set from `shards` on each shard's Deployment",
    ),
    (
        "CHITTY_SHARD_TAKEOVER_AFTER",
        "set from `sharding.takeoverAfter` on each shard's Deployment",
    ),
];

fn every_option() -> String {
    common::repo()
        .join("tests/packaging/every-option.yaml")
        .to_string_lossy()
        .into_owned()
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn assert_copies_of_generated_crds(dir: &str) {
    let generated = common::repo().join("crds");
    let copy = common::repo().join(dir);
    assert_eq!(
        file_names(&copy),
        file_names(&generated),
        "{dir} must hold exactly the files of crds/; run hack/sync-crds.sh"
    );
    for name in file_names(&generated) {
        let a = std::fs::read(generated.join(&name)).unwrap();
        let b = std::fs::read(copy.join(&name)).unwrap();
        assert!(
            a == b,
            "{dir}/{name} differs from crds/{name}; run hack/sync-crds.sh"
        );
    }
}

#[test]
fn the_chart_ships_the_generated_crds_unchanged() {
    assert_copies_of_generated_crds("charts/chitty-operator/crds");
}

#[test]
fn the_kustomize_base_ships_the_generated_crds_unchanged() {
    assert_copies_of_generated_crds("config/crd/bases");
    let docs = documents(&kustomize("config/crd"));
    assert_eq!(of_kind(&docs, "CustomResourceDefinition").len(), 4);
}

#[test]
fn helm_lint_is_clean() {
    let chart = chart_dir();
    let (ok, stdout, stderr) = helm(&["lint", "--strict", chart.to_str().unwrap()]);
    assert!(ok, "helm lint failed:\n{stdout}\n{stderr}");
    assert!(
        !stdout.contains("[WARNING]") && !stdout.contains("[ERROR]"),
        "{stdout}"
    );
}

#[test]
fn default_values_run_two_hardened_replicas_with_leader_election() {
    let docs = documents(&helm_template("chitty", "chitty-system", &[]));
    let deployment = only(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(deployment["metadata"]["namespace"], "chitty-system");

    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                container["resources"][kind][resource].is_string(),
                "resources.{kind}.{resource} is set"
            );
        }
    }
    assert_eq!(container["args"], serde_json::json!(["run"]));
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "http");

    assert_eq!(
        env_value(deployment, "POD_NAME").as_deref(),
        Some("field:metadata.name")
    );
    assert_eq!(
        env_value(deployment, "POD_NAMESPACE").as_deref(),
        Some("field:metadata.namespace")
    );
    assert_eq!(
        env_value(deployment, "CHITTY_LEADER_ELECT").as_deref(),
        Some("true")
    );
    assert_eq!(
        env_value(deployment, "CHITTY_LOG_FORMAT").as_deref(),
        Some("json")
    );
    assert_eq!(
        env_value(deployment, "CHITTY_HTTP_ADDR").as_deref(),
        Some("0.0.0.0:8080")
    );
    assert_eq!(
        env_value(deployment, "CHITTY_NAMESPACE"),
        None,
        "every namespace is watched by default"
    );
    for name in ["CHITTY_ADVISOR_MODEL_URL", "CHITTY_ADVISOR_MODEL_TOKEN"] {
        assert_eq!(
            env_value(deployment, name),
            None,
            "no advisor model is asked by default"
        );
    }
    let lease = env_value(deployment, "CHITTY_LEASE_NAME").unwrap();
    assert_eq!(
        env_value(deployment, "CHITTY_LEASE_NAMESPACE").as_deref(),
        Some("chitty-system")
    );

    // Cluster-wide rules, and a Role for exactly the Lease named above in the release namespace
    // (and for the replicas' pods there, which standbys look up).
    assert!(of_kind(&docs, "ClusterRoleBinding").len() == 1);
    let cluster_role = only(&docs, "ClusterRole");
    assert!(permissions(cluster_role).contains("events.k8s.io/events: create"));
    let lease_role = only(&docs, "Role");
    assert_eq!(lease_role["metadata"]["namespace"], "chitty-system");
    assert_eq!(
        permissions(lease_role),
        BTreeSet::from([
            "coordination.k8s.io/leases: create".to_string(),
            format!("coordination.k8s.io/leases[{lease}]: get"),
            format!("coordination.k8s.io/leases[{lease}]: patch"),
            "core/pods: get".to_string(),
        ])
    );
    let binding = only(&docs, "RoleBinding");
    assert_eq!(
        binding["subjects"][0]["name"],
        only(&docs, "ServiceAccount")["metadata"]["name"]
    );

    let pdb = only(&docs, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    let service = only(&docs, "Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    assert!(of_kind(&docs, "ServiceMonitor").is_empty());
    assert!(of_kind(&docs, "NetworkPolicy").is_empty());
}

#[test]
fn every_option_maps_to_flags_secrets_and_a_namespaced_role() {
    let docs = documents(&helm_template("chitty", "ops", &["-f", &every_option()]));
    let deployment = only(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let env = |name: &str| env_value(deployment, name);
    assert_eq!(env("CHITTY_NAMESPACE").as_deref(), Some("apps"));
    assert_eq!(env("CHITTY_LEASE_NAME").as_deref(), Some("chitty-leader"));
    assert_eq!(env("CHITTY_LEASE_DURATION").as_deref(), Some("20s"));
    assert_eq!(env("CHITTY_LEASE_RENEW_MARGIN").as_deref(), Some("6s"));
    assert_eq!(env("CHITTY_LOG_FORMAT").as_deref(), Some("plain"));
    assert_eq!(
        env("RUST_LOG").as_deref(),
        Some("info,chitty_operator=debug")
    );
    assert_eq!(env("CHITTY_CONCURRENCY").as_deref(), Some("3"));
    assert_eq!(
        env("CHITTY_ID_URL").as_deref(),
        Some("https://id.chitty.cc")
    );
    assert_eq!(
        env("CHITTY_NOTIFY_WEBHOOKS").as_deref(),
        Some("context=https://context.chitty.cc/hooks/deploy,ops=https://ops.chitty.cc/hook")
    );
    assert_eq!(env("EXTRA_SETTING").as_deref(), Some("1"));
    assert_eq!(env("CHITTY_INGRESS_CLASS").as_deref(), Some("nginx"));
    assert_eq!(env("CHITTY_ROUTE_BACKEND").as_deref(), Some("gateway"));
    assert_eq!(
        env("CHITTY_GATEWAY").as_deref(),
        Some("gateway-system/public")
    );
    assert_eq!(
        env("CHITTY_INGRESS_CONTROLLER").as_deref(),
        Some("ingress-nginx")
    );
    assert_eq!(env("CHITTY_ROUTE_POLICY").as_deref(), Some("open"));
    assert_eq!(
        env("CHITTY_DEPLOY_WINDOWS").as_deref(),
        Some("Mon-Fri 09:00-17:00 America/Chicago;Sat 10:00-12:00")
    );
    assert_eq!(
        env("CHITTY_REQUIRE_APPROVAL_IN_PRODUCTION").as_deref(),
        Some("true")
    );
    assert_eq!(env("CHITTY_ADVISOR_CANARY_PERCENT").as_deref(), Some("20"));
    assert_eq!(
        env("CHITTY_CERT_MANAGER_ISSUER").as_deref(),
        Some("letsencrypt")
    );
    assert_eq!(
        env("CHITTY_ROUTE_RESERVATIONS").as_deref(),
        Some("api.chitty.cc=team-a,team-b;*.internal.chitty.cc=ops;closed.chitty.cc=")
    );
    assert_eq!(
        env("CHITTY_PUBLIC_URL").as_deref(),
        Some("https://deploy.chitty.cc")
    );
    assert_eq!(
        env("CHITTY_ADVISOR_MODEL_URL").as_deref(),
        Some("https://models.chitty.cc/v1")
    );
    assert_eq!(
        env("CHITTY_ADVISOR_MODEL").as_deref(),
        Some("advisor-large")
    );
    assert_eq!(env("CHITTY_ADVISOR_MODEL_TIMEOUT").as_deref(), Some("3s"));
    // The API token is a mounted Secret file the operator re-reads, never an env value.
    let token_file = env("CHITTY_API_TOKEN_FILE").unwrap();
    assert_eq!(env("CHITTY_API_TOKEN"), None);
    let pod = &deployment["spec"]["template"]["spec"];
    let mount = &pod["containers"][0]["volumeMounts"][0];
    assert_eq!(mount["readOnly"], true);
    assert!(token_file.starts_with(mount["mountPath"].as_str().unwrap()));
    assert_eq!(pod["volumes"][0]["secret"]["secretName"], "chitty-api");
    assert_eq!(pod["volumes"][0]["secret"]["items"][0]["key"], "bearer");
    // Tokens come from Secrets, never as literal values in the manifest.
    for (name, key) in [
        ("CHITTY_ID_TOKEN", "chittyid"),
        ("CHITTY_REGISTRY_TOKEN", "registry"),
        ("CHITTY_NOTIFY_TOKEN", "notify"),
        ("CHITTY_ADVISOR_MODEL_TOKEN", "advisor"),
    ] {
        assert_eq!(env(name), Some(format!("secret:chitty-tokens/{key}")));
    }

    // One namespace watched: a Role there, and cluster-wide only the ChittyDomains and namespace
    // labels (both cluster-scoped), which delegations are made of.
    let domains: BTreeSet<String> = [
        "chitty.cc/chittydomains: get",
        "chitty.cc/chittydomains: list",
        "chitty.cc/chittydomains: watch",
        "chitty.cc/chittydomains/status: patch",
        "core/namespaces: list",
        "core/namespaces: watch",
    ]
    .map(String::from)
    .into();
    assert_eq!(permissions(only(&docs, "ClusterRole")), domains);
    assert_eq!(of_kind(&docs, "ClusterRoleBinding").len(), 1);
    let roles = of_kind(&docs, "Role");
    let watched = roles
        .iter()
        .find(|r| r["metadata"]["namespace"] == "apps")
        .expect("a Role in the watched namespace");
    let cluster_wide = documents(&helm_template("chitty", "ops", &[]));
    let reviews: BTreeSet<String> = [
        "authentication.k8s.io/tokenreviews: create",
        "authorization.k8s.io/subjectaccessreviews: create",
    ]
    .map(String::from)
    .into();
    let cluster_role = permissions(only(&cluster_wide, "ClusterRole"));
    assert!(
        cluster_role.is_superset(&reviews),
        "by default the read API reviews Kubernetes callers"
    );
    assert_eq!(
        permissions(watched),
        &(&cluster_role - &reviews) - &domains,
        "the namespaced Role grants what the ClusterRole grants, but the cluster-scoped reviews \
         (which `auth: token` does not need) and domains"
    );
    let lease_role = roles
        .iter()
        .find(|r| r["metadata"]["namespace"] == "ops")
        .expect("the Lease Role in the release namespace");
    assert!(permissions(lease_role).contains("coordination.k8s.io/leases[chitty-leader]: patch"));

    let monitor = only(&docs, "ServiceMonitor");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "http-metrics");
    let policy = only(&docs, "NetworkPolicy");
    assert_eq!(
        policy["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    let selector = &policy["spec"]["podSelector"]["matchLabels"];
    let ingress = policy["spec"]["ingress"].as_array().unwrap();
    assert!(
        ingress
            .iter()
            .any(|rule| rule["from"][0]["podSelector"]["matchLabels"] == *selector),
        "the replicas may reach each other's HTTP port (a standby forwards reads): {ingress:?}"
    );
    assert_eq!(
        only(&docs, "PodDisruptionBudget")["spec"]["maxUnavailable"],
        1
    );
}

#[test]
fn a_misspelt_value_fails_with_its_name() {
    let chart = chart_dir();
    let (ok, _, stderr) = helm(&[
        "template",
        "t",
        chart.to_str().unwrap(),
        "--set",
        "operator.concurency=3",
    ]);
    assert!(!ok, "an unknown key must be refused");
    assert!(stderr.contains("concurency"), "{stderr}");

    let (ok, _, stderr) = helm(&[
        "template",
        "t",
        chart.to_str().unwrap(),
        "--set",
        "operator.logFormat=yaml",
    ]);
    assert!(!ok && stderr.contains("logFormat"), "{stderr}");
}

#[test]
fn replicas_without_leader_election_are_refused() {
    let chart = chart_dir();
    let (ok, _, stderr) = helm(&[
        "template",
        "t",
        chart.to_str().unwrap(),
        "--set",
        "leaderElection.enabled=false",
    ]);
    assert!(!ok && stderr.contains("leaderElection"), "{stderr}");
    let single = helm_template(
        "t",
        "default",
        &[
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "replicaCount=1",
        ],
    );
    let docs = documents(&single);
    assert!(of_kind(&docs, "PodDisruptionBudget").is_empty());
    assert_eq!(
        env_value(only(&docs, "Deployment"), "CHITTY_LEADER_ELECT").as_deref(),
        Some("false")
    );
}

/// The environment variable of every `chitty-operator run` flag.
fn operator_flag_envs() -> BTreeSet<String> {
    #[derive(clap::Parser)]
    struct Run {
        #[command(flatten)]
        config: chitty_operator::config::OperatorConfig,
    }
    Run::command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_variable_the_chart_sets_is_an_operator_flag() {
    let flags = operator_flag_envs();
    let docs = documents(&helm_template("chitty", "ops", &["-f", &every_option()]));
    for (name, _) in operator_env(only(&docs, "Deployment")) {
        if name.starts_with("CHITTY_") {
            assert!(
                flags.contains(&name),
                "the chart sets {name}, which no flag reads"
            );
        }
    }
}

#[test]
fn every_operator_flag_is_a_chart_value() {
    let docs = documents(&helm_template("chitty", "ops", &["-f", &every_option()]));
    let set: BTreeSet<String> = operator_env(only(&docs, "Deployment"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let missing: Vec<String> = operator_flag_envs()
        .into_iter()
        .filter(|f| !set.contains(f))
        .filter(|f| !FLAGS_NOT_IN_THE_CHART.iter().any(|(n, _)| n == f))
        .collect();
    assert!(
        missing.is_empty(),
        "operator flags the chart cannot set: {missing:?}; add them to values.yaml, \
         values.schema.json and templates/deployment.yaml (and tests/packaging/every-option.yaml), \
         or to FLAGS_NOT_IN_THE_CHART with a reason"
    );
}

/// The chart's leader-election Role and ClusterRole, with names as the kustomize bases use.
fn chart_roles() -> (Value, Value) {
    let docs = documents(&helm_template(
        "chitty",
        "chitty-system",
        &["--set", "fullnameOverride=chitty-operator"],
    ));
    (
        only(&docs, "ClusterRole").clone(),
        only(&docs, "Role").clone(),
    )
}

#[test]
fn the_chart_and_config_grant_the_same_permissions() {
    let docs = documents(&kustomize("config/default"));
    let (chart_cluster_role, chart_lease_role) = chart_roles();
    assert_eq!(
        permissions(only(&docs, "ClusterRole")),
        permissions(&chart_cluster_role),
        "config/rbac/role.yaml and charts/chitty-operator/templates/_rbac.tpl must grant the same"
    );
    assert_eq!(
        permissions(only(&docs, "Role")),
        permissions(&chart_lease_role),
        "config/rbac/leader_election_role.yaml and the chart's Lease Role must grant the same"
    );
}

#[test]
fn config_default_deploys_the_operator_like_the_chart() {
    let docs = documents(&kustomize("config/default"));
    for doc in &docs {
        let cluster_scoped = [
            "Namespace",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ];
        if !cluster_scoped.contains(&doc["kind"].as_str().unwrap()) {
            assert_eq!(
                doc["metadata"]["namespace"], "chitty-system",
                "{}",
                doc["kind"]
            );
        }
    }
    let deployment = only(&docs, "Deployment");
    let chart = documents(&helm_template("chitty", "chitty-system", &[]));
    let chart_deployment = only(&chart, "Deployment");
    let pod = |d: &Value| d["spec"]["template"]["spec"].clone();
    assert_eq!(
        deployment["spec"]["replicas"],
        chart_deployment["spec"]["replicas"]
    );
    assert_eq!(
        pod(deployment)["securityContext"],
        pod(chart_deployment)["securityContext"]
    );
    let container = |d: &Value| pod(d)["containers"][0].clone();
    for field in ["securityContext", "resources", "ports", "args"] {
        assert_eq!(
            container(deployment)[field],
            container(chart_deployment)[field],
            "container {field}"
        );
    }
    assert_eq!(
        env_value(deployment, "CHITTY_LEADER_ELECT").as_deref(),
        Some("true")
    );
    assert_eq!(
        env_value(deployment, "POD_NAMESPACE").as_deref(),
        Some("field:metadata.namespace")
    );
    // A standby forwards reads only to a leader pod carrying the peer selector's labels: the
    // chart's names its selector labels, kustomize relies on the flag's default.
    let template_labels = |d: &Value| d["spec"]["template"]["metadata"]["labels"].clone();
    let chart_selector = env_value(chart_deployment, "CHITTY_PEER_SELECTOR").unwrap();
    for pair in chart_selector.split(',') {
        let (key, value) = pair.split_once('=').unwrap();
        assert_eq!(template_labels(chart_deployment)[key], value, "{pair}");
    }
    assert_eq!(env_value(deployment, "CHITTY_PEER_SELECTOR"), None);
    assert_eq!(
        template_labels(deployment)["app.kubernetes.io/name"],
        "chitty-operator",
        "the default peer selector matches the kustomize pods"
    );
    let lease = env_value(deployment, "CHITTY_LEASE_NAME").unwrap();
    let lease_role = permissions(only(&docs, "Role"));
    assert!(lease_role.contains(&format!("coordination.k8s.io/leases[{lease}]: patch")));
    assert!(
        lease_role.contains("core/pods: get"),
        "a standby looks up the leader's pod in its own namespace"
    );
}

/// `kubectl apply -k config/default` into the local cluster: every object is accepted, and the
/// operator's pod passes the namespace's `restricted` Pod Security level (kwok runs no container,
/// so a running pod would prove nothing more about the binary).
#[test]
fn config_default_installs_into_a_cluster() {
    let docs = documents(&kustomize("config/default"));
    let (crds, rest): (Vec<&Value>, Vec<&Value>) = docs
        .iter()
        .partition(|d| d["kind"] == "CustomResourceDefinition");
    let stream = |objs: &[&Value]| -> String {
        objs.iter()
            .map(|o| format!("---\n{}", serde_yaml_ng::to_string(o).unwrap()))
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let crd_file = dir.path().join("crds.yaml");
    let rest_file = dir.path().join("rest.yaml");
    std::fs::write(&crd_file, stream(&crds)).unwrap();
    std::fs::write(&rest_file, stream(&rest)).unwrap();

    // A run that was cut short may have left the namespace behind.
    delete_installed_objects();
    let cleanup = Cleanup;
    // The CRDs are shared by every test on this cluster: accepted (dry run), never replaced.
    common::kubectl(&[
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=chitty-packaging-test",
        "-f",
        crd_file.to_str().unwrap(),
    ]);
    let out = common::kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=chitty-packaging-test",
        "-f",
        rest_file.to_str().unwrap(),
    ]);
    assert!(out.contains("deployment.apps/chitty-operator"), "{out}");
    assert_pod_template_admitted(only(&docs, "Deployment"), "chitty-system");
    drop(cleanup);
}

/// Removes what config_default_installs_into_a_cluster created (the CRDs stay).
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        delete_installed_objects();
    }
}

fn delete_installed_objects() {
    let _ = common::kubectl_try(&[
        "delete",
        "namespace",
        "chitty-system",
        "--ignore-not-found",
        "--timeout=90s",
    ]);
    let _ = common::kubectl_try(&[
        "delete",
        "clusterrole,clusterrolebinding",
        "chitty-operator",
        "--ignore-not-found",
    ]);
    let _ = common::kubectl_try(&[
        "delete",
        "validatingadmissionpolicy,validatingadmissionpolicybinding",
        "chitty-operator-pod-security",
        "--ignore-not-found",
    ]);
}

/// Every value path the schema defines, down to free-form objects and lists.
fn value_paths(schema: &Value, prefix: &str, out: &mut Vec<String>) {
    match schema["properties"].as_object() {
        Some(properties) if schema["type"] == "object" => {
            for (key, sub) in properties {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                value_paths(sub, &path, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

#[test]
fn the_readme_documents_every_chart_value() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(chart_dir().join("values.schema.json")).unwrap(),
    )
    .unwrap();
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let mut paths = Vec::new();
    value_paths(&schema, "", &mut paths);
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| p.as_str() != "global")
        .filter(|p| !readme.contains(&format!("`{p}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "README's configuration reference lacks {missing:?}"
    );
    assert!(paths.len() > 40, "the schema was read: {paths:?}");
}

/// One health script: the chart's file is what its ConfigMap ships and what the docs' argocd-cm
/// patch embeds, under the key of every kind.
#[test]
fn argo_cd_reads_every_kind_with_the_one_health_script() {
    let script = std::fs::read_to_string(chart_dir().join("files/argocd-health.lua")).unwrap();
    let docs_path = common::repo().join("docs/gitops/argocd-cm-health.yaml");
    let documented = documents(&std::fs::read_to_string(docs_path).unwrap());
    let shipped = documents(&helm_template(
        "chitty",
        "ops",
        &["--set", "argocdHealthChecks.enabled=true"],
    ));
    for config_map in [only(&documented, "ConfigMap"), only(&shipped, "ConfigMap")] {
        for kind in ["ChittyService", "ChittyDeployment", "RouteClaim"] {
            let key = format!("resource.customizations.health.chitty.cc_{kind}");
            let copy = config_map["data"][&key].as_str();
            assert_eq!(copy, Some(script.as_str()), "{key} in {config_map}");
        }
    }
    let by_default = documents(&helm_template("chitty", "ops", &[]));
    assert!(
        of_kind(&by_default, "ConfigMap").is_empty(),
        "off unless asked for"
    );
}

#[test]
fn the_gitops_examples_point_at_paths_that_exist() {
    let docs = common::repo().join("docs/gitops");
    let argo = documents(&std::fs::read_to_string(docs.join("argocd-application.yaml")).unwrap());
    let flux = documents(&std::fs::read_to_string(docs.join("flux-kustomization.yaml")).unwrap());
    let mut paths: Vec<String> = of_kind(&argo, "Application")
        .iter()
        .map(|a| a["spec"]["source"]["path"].as_str().unwrap().to_string())
        .collect();
    paths.extend(
        of_kind(&flux, "Kustomization")
            .iter()
            .filter(|k| k["spec"]["sourceRef"]["name"] == "chitty-operator")
            .map(|k| {
                k["spec"]["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("./")
                    .to_string()
            }),
    );
    assert_eq!(paths.len(), 3, "{paths:?}");
    for path in paths {
        assert!(common::repo().join(&path).is_dir(), "{path} does not exist");
    }
}

/// A shared cluster is the default: the chart and config/ both run the delegated route policy,
/// under which a namespace claims only hosts a ChittyDomain delegates to it.
#[test]
fn the_chart_and_config_default_to_the_delegated_route_policy() {
    use chitty_operator::config::RoutePolicyMode;
    use clap::ValueEnum;

    let docs = documents(&helm_template("chitty", "chitty-system", &[]));
    let chart = env_value(only(&docs, "Deployment"), "CHITTY_ROUTE_POLICY");
    let kustomized = documents(&kustomize("config/default"));
    let config = env_value(only(&kustomized, "Deployment"), "CHITTY_ROUTE_POLICY");
    for value in [chart, config] {
        let value = value.expect("CHITTY_ROUTE_POLICY is set");
        assert_eq!(
            RoutePolicyMode::from_str(&value, false),
            Ok(RoutePolicyMode::Delegated)
        );
    }
}

/// The operator configured as the chart's default values configure it refuses an anonymous read
/// of the API: the read API is closed unless an install opens it.
#[tokio::test]
async fn with_default_chart_values_the_read_api_answers_401_without_credentials() {
    use chitty_operator::web::config::ApiAuthMode;
    use clap::ValueEnum;

    let docs = documents(&helm_template("chitty", "chitty-system", &[]));
    let deployment = only(&docs, "Deployment");
    let mode = env_value(deployment, "CHITTY_API_AUTH").expect("the chart sets CHITTY_API_AUTH");
    let mode = ApiAuthMode::from_str(&mode, false).expect("a value the flag takes");
    assert_eq!(mode, ApiAuthMode::Kubernetes);
    assert_eq!(
        env_value(deployment, "CHITTY_API_TOKEN_FILE"),
        None,
        "no static token by default"
    );
    let kustomized = documents(&kustomize("config/default"));
    assert_eq!(
        env_value(only(&kustomized, "Deployment"), "CHITTY_API_AUTH"),
        env_value(deployment, "CHITTY_API_AUTH"),
        "config/ closes the API like the chart"
    );

    let env = common::TestEnv::without_operator("chart-auth").await;
    let operator = common::RunningOperator::start_with(env.ns(), |config| {
        config.web.api_auth = Some(mode);
    })
    .await;
    chitty_operator::tls::install_default_provider();
    let http = reqwest::Client::new();
    let anonymous = http
        .get(operator.url("/api/deploy/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let forged = http
        .get(operator.url("/api/deploy/status"))
        .bearer_auth("not-a-kubernetes-token")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status().as_u16(),
        401,
        "the API server rejects the token"
    );
    operator.stop().await;
    env.teardown().await;
}

#[test]
fn the_chart_and_config_ship_the_same_admission_policy() {
    let config = documents(&kustomize("config/default"));
    let chart = documents(&helm_template(
        "chitty",
        "chitty-system",
        &["--set", "fullnameOverride=chitty-operator"],
    ));
    for kind in [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ] {
        let (ours, theirs) = (only(&config, kind), only(&chart, kind));
        assert_eq!(
            ours["metadata"]["name"], theirs["metadata"]["name"],
            "{kind}"
        );
        assert_eq!(
            ours["spec"], theirs["spec"],
            "config/policy/ and the chart's _admissionpolicy.tpl must say the same ({kind})"
        );
    }
    let off = documents(&helm_template(
        "chitty",
        "chitty-system",
        &["--set", "admissionPolicy.enabled=false"],
    ));
    assert!(of_kind(&off, "ValidatingAdmissionPolicy").is_empty());
    assert!(of_kind(&off, "ValidatingAdmissionPolicyBinding").is_empty());
}
