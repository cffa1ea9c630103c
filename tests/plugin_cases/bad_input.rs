//! Bad input: one line on stderr and exit code 1, never a panic.

use crate::chitty;
use crate::common::TestEnv;

#[tokio::test]
async fn bad_input_is_one_line_and_exit_code_1() {
    let env = TestEnv::without_operator("plugin-bad").await;
    let ns = env.ns().to_string();
    for command in [
        &["explain", "ghost"][..],
        &["status", "ghost"],
        &["history", "ghost"],
        &["suspend", "ghost"],
    ] {
        assert_eq!(
            chitty(&ns, command).await.refused(),
            format!("error: ChittyService ghost not found in namespace {ns}"),
            "{command:?}"
        );
    }
    let missing = format!("{ns}-gone");
    for command in [&["status"][..], &["routes"], &["explain", "x"]] {
        assert_eq!(
            chitty(&missing, command).await.refused(),
            format!("error: namespace {missing} does not exist"),
            "{command:?}"
        );
    }
    let manifest = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        manifest.path(),
        "kind: RouteClaim\napiVersion: chitty.cc/v1alpha1\nmetadata: {name: x}\nspec: {host: [1]\n",
    )
    .unwrap();
    let path = manifest.path().to_str().unwrap().to_string();
    let broken = chitty(&ns, &["routes", "--what-if", &path]).await;
    assert!(
        broken.refused().starts_with(&format!(
            "error: {path} is not a usable manifest: document 1 is not valid YAML"
        )),
        "{}",
        broken.stderr
    );
    let absent = chitty(&ns, &["routes", "--what-if", "/nonexistent/manifest.yaml"]).await;
    assert!(
        absent
            .refused()
            .starts_with("error: reading /nonexistent/manifest.yaml"),
        "{}",
        absent.stderr
    );
    let context = chitty(&ns, &["status", "--context", "nope"]).await;
    assert_eq!(
        context.refused(),
        "error: loading kubeconfig: failed to load current context: nope"
    );
    let all = chitty(&ns, &["explain", "x", "-A"]).await;
    assert_eq!(
        all.refused(),
        "error: a service is named in one namespace; drop -A and use -n"
    );
    env.teardown().await;
}
