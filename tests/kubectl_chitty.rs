//! `kubectl chitty`, the built plugin binary, against the local control plane: services Ready,
//! waiting on a dependency, suspended, rolled back, waiting for approval and conflicted, as the
//! text a person reads and the JSON a script reads; and bad input as one line and exit code 1.
//! The cases are in `tests/plugin_cases/`, one file a theme; the harness to run the plugin is here.

mod common;

/// The cases; they share this file's harness through `crate::`.
mod plugin_cases {
    mod bad_input;
    mod routes;
    mod states;
    mod steering;
}

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use chitty_operator::api::{ChittyDeployment, ChittyService, DeploymentPhase};
use common::wait::observed;
use serde_json::Value;

/// What one run of the plugin printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout of a run that must have succeeded.
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code,
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// The one line of a run that must have failed as bad input does.
    pub fn refused(&self) -> &str {
        assert_eq!(
            self.code,
            Some(1),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "one line: {:?}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self.stderr.trim_end()
    }
}

/// Runs `kubectl-chitty --kubeconfig <test cluster> -n <ns> <args>`, off the test's runtime so
/// the operator running in-process goes on meanwhile. Its stdout is a pipe: plain text.
pub async fn chitty(ns: &str, args: &[&str]) -> Run {
    let mut command = command(ns, args);
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("kubectl-chitty runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn phase(d: &ChittyDeployment) -> Option<DeploymentPhase> {
    d.status.as_ref().and_then(|s| s.phase)
}

pub fn phase_is(s: &ChittyService, phase: &str) -> bool {
    observed(s)
        && s.status
            .as_ref()
            .and_then(|st| st.phase)
            .map(|p| p.as_str())
            == Some(phase)
}

/// The plugin with the test cluster's kubeconfig and the test's namespace.
fn command(ns: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-chitty"));
    command
        .arg("--kubeconfig")
        .arg(common::kubeconfig())
        .args(["-n", ns])
        .args(args)
        .env("USER", "tester");
    command
}

/// A `status --watch` running in the background, its lines collected as it prints them; killed
/// when dropped.
pub struct Watching {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watching {
    pub fn start(ns: &str, args: &[&str]) -> Self {
        let mut child = command(ns, args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("kubectl-chitty starts");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    /// Waits until a line printed so far satisfies `check`.
    pub async fn until(&self, what: &str, check: impl Fn(&str) -> bool) {
        common::eventually(
            what,
            || async { self.lines.lock().unwrap().clone() },
            |lines: &Vec<String>| lines.iter().any(|l| check(l)),
        )
        .await;
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
