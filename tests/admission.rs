//! Every manifest under tests/invalid/ is rejected by the apiserver at admission, with the
//! message its `# expect:` line gives, and samples are accepted.

mod common;

use std::path::PathBuf;

fn invalid_manifests() -> Vec<(PathBuf, String)> {
    let dir = common::repo().join("tests/invalid");
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let expect = text
                .lines()
                .find_map(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{} has no '# expect: ' line", p.display()))
                .to_string();
            (p, expect)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn at_least_twenty_invalid_examples_exist() {
    assert!(invalid_manifests().len() >= 20);
}

#[tokio::test]
async fn invalid_manifests_are_rejected_with_their_expected_message() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "admission").await;
    let mut failures = Vec::new();
    for (path, expect) in invalid_manifests() {
        let (ok, output) =
            common::kubectl_try(&["apply", "-n", &ns.name, "-f", &path.to_string_lossy()]);
        if ok {
            failures.push(format!("{}: was accepted", path.display()));
        } else if !output.contains(&expect) {
            failures.push(format!(
                "{}:\n  expected: {expect}\n  got:      {}",
                path.display(),
                output.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn samples_are_accepted() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "samples").await;
    let dir = common::repo().join("config/samples");
    common::kubectl(&[
        "apply",
        "-n",
        &ns.name,
        "--dry-run=server",
        "-k",
        &dir.to_string_lossy(),
    ]);
    // The delegations the samples need are cluster-scoped; checked, never created, here.
    common::kubectl(&[
        "apply",
        "--dry-run=server",
        "-k",
        &dir.join("delegation").to_string_lossy(),
    ]);
}
