//! The operator as a process: probes and metrics on its HTTP port, and a clean exit on SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test]
async fn serves_probes_and_metrics_and_exits_cleanly_on_sigterm() {
    let client = common::client().await;
    let ns = common::TestNamespace::create(&client, "process").await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_chitty-operator"))
        .args([
            "run",
            "--namespace",
            &ns.name,
            "--http-addr",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
            // The cluster is shared by the tests; none delegates this one's hosts.
            "--route-policy",
            "open",
        ])
        .env("KUBECONFIG", common::kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let ready = common::eventually(
        "the operator becomes ready",
        || async {
            http.get(format!("{base}/readyz"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        },
        |code| *code == 200,
    )
    .await;
    assert_eq!(ready, 200);
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let manifest = common::repo().join("config/samples/chittyid.yaml");
    common::kubectl(&["apply", "-n", &ns.name, "-f", &manifest.to_string_lossy()]);
    let metrics = common::eventually(
        "reconciles show in /metrics",
        || async {
            http.get(format!("{base}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        },
        |m| m.contains(r#"chitty_reconciliations_total{controller="chittydeployment"}"#),
    )
    .await;
    for family in [
        "chitty_reconciliations_total",
        "chitty_reconcile_duration_seconds_bucket",
        "chitty_kube_requests_total",
    ] {
        assert!(metrics.contains(family), "/metrics exports {family}");
    }

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some((status, child));
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    let (status, mut child) = status.expect("the operator exits after SIGTERM");
    let mut logs = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(status.success(), "exit status {status:?}; logs:\n{logs}");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(
        logs.lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.trim_start().starts_with('{')),
        "JSON logs:\n{logs}"
    );
}

/// `chitty-operator crd | head`: the reader goes away after a few lines; the generator ends
/// quietly with success, as any Unix filter would, not with a panic on the broken pipe.
#[test]
fn crd_printing_to_a_reader_that_goes_away_exits_quietly() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_chitty-operator"))
        .arg("crd")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then close the pipe: the ~100 KB of CRDs cannot fit in the pipe's buffer,
    // so the writer is still writing when its reader is gone.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}
