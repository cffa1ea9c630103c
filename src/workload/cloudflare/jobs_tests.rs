use super::*;
use k8s_openapi::api::core::v1::Container;

fn service(kind: &str) -> ChittyService {
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
        "metadata": {"name": "x", "namespace": "ns", "uid": "u-1"}, "spec": spec(kind)}))
    .unwrap()
}

fn spec(kind: &str) -> Value {
    json!({"type": kind, "version": "1.0.0", "environment": "staging", "target": "cloudflare",
        "source": {"git": {"url": "https://github.com/chittyos/x", "revision": "main"}},
        "cloudflare": {"credentialsSecret": "cf", "url": "https://x.chitty.cc", "outputDir": "web/dist"}})
}

fn rollout(kind: &str) -> ChittyDeployment {
    serde_json::from_value(json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyDeployment",
        "metadata": {"name": "x-r1", "namespace": "ns", "uid": "u-2"},
        "spec": {"serviceRef": {"name": "x"}, "revision": "abc123", "snapshot": spec(kind),
                 "trigger": "Initial", "strategy": "immediate"}}))
    .unwrap()
}

fn containers(job: &Job) -> Vec<Container> {
    let pod = job.spec.clone().unwrap().template.spec.unwrap();
    let mut all = pod.init_containers.unwrap_or_default();
    all.extend(pod.containers);
    all
}

fn env_of<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .map(|e| e.value.as_deref().unwrap_or("<ref>"))
}

fn deploy(kind: &str, routes: &[String]) -> Job {
    let defaults = crate::config::OperatorConfig::defaults().build;
    let (s, r) = (service(kind), rollout(kind));
    deploy_job(&defaults, &s, &r, "x-r1-wrangler", &r.spec.snapshot, routes)
}

#[test]
fn a_worker_is_cloned_installed_built_then_deployed_with_only_the_held_routes() {
    let routes = vec!["a.chitty.cc/*".to_owned()];
    let all = containers(&deploy("worker", &routes));
    let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["clone", "install", "build", "deploy"]);
    assert_eq!(
        env_of(&all[0], "GIT_REVISION"),
        Some("main"),
        "the snapshot's git revision"
    );
    let deploy = &all[3];
    assert_eq!(
        env_of(deploy, "CHITTY_ROUTES"),
        Some(r#"["a.chitty.cc/*"]"#)
    );
    assert_eq!(env_of(deploy, "WRANGLER_VERSION"), Some("4.86.0"));
    let script = deploy.command.as_ref().unwrap()[2].clone();
    assert!(
        script.contains("wrangler.chitty.json") || script.contains("experimental_readRawConfig")
    );
}

#[test]
fn only_the_wrangler_container_sees_the_credentials() {
    for job in [deploy("worker", &[]), deploy("frontend", &[])] {
        for c in containers(&job) {
            let sees = env_of(&c, "CLOUDFLARE_API_TOKEN").is_some();
            assert_eq!(sees, c.name == "deploy", "{}", c.name);
            if sees {
                assert_eq!(
                    env_of(&c, "CLOUDFLARE_API_TOKEN"),
                    Some("<ref>"),
                    "a reference, never a value"
                );
            }
        }
    }
}

#[test]
fn a_frontend_deploys_its_build_output_to_pages() {
    let all = containers(&deploy("frontend", &[]));
    let deploy = all.last().unwrap();
    assert_eq!(env_of(deploy, "CHITTY_OUTPUT_DIR"), Some("web/dist"));
    assert_eq!(env_of(deploy, "CHITTY_PAGES_PROJECT"), Some("x"));
    assert!(deploy.command.as_ref().unwrap()[2].contains("pages deploy"));
    assert_eq!(env_of(&all[2], "CHITTY_ENVIRONMENT"), Some("staging"));
}

#[test]
fn rollback_and_routes_jobs_carry_what_they_need() {
    let defaults = crate::config::OperatorConfig::defaults().build;
    let (s, r) = (service("worker"), rollout("worker"));
    let back = roll_back_job(&defaults, &s, &r, "v-9", "x-staging", "health failed");
    let c = containers(&back);
    assert_eq!(c.len(), 1);
    assert_eq!(env_of(&c[0], "CHITTY_VERSION_ID"), Some("v-9"));
    assert_eq!(
        back.metadata.name.as_deref(),
        Some("x-r1-wrangler-rollback")
    );
    let routes = vec!["a.chitty.cc/*".to_owned()];
    let update = routes_job(&defaults, &s, &r, &routes);
    let names: Vec<String> = containers(&update).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["clone", "routes"]);
    assert!(update.metadata.name.unwrap().starts_with("x-r1-routes-"));
}

#[test]
fn every_container_runs_non_root_with_bounded_resources() {
    let job = deploy("worker", &[]);
    let pod = job.spec.clone().unwrap().template.spec.unwrap();
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    for c in containers(&job) {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert!(c.resources.as_ref().unwrap().limits.is_some());
        let mounts: Vec<&str> = c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| m.mount_path.as_str())
            .collect();
        assert!(
            mounts.contains(&"/tmp") && mounts.contains(&security::TOOL_HOME),
            "{mounts:?}"
        );
    }
}
