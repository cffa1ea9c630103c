//! Flux's source-controller and kustomize-controller as local processes against the test
//! cluster, watching only the test's namespace; their CRDs installed from the tool cache.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::common::{kubeconfig, kubectl, kubectl_try, tool};

/// The kinds the two controllers put finalizers on, as kubectl names them.
pub const FLUX_KINDS: [&str; 2] = [
    "kustomizations.kustomize.toolkit.fluxcd.io",
    "gitrepositories.source.toolkit.fluxcd.io",
];

/// Installs Flux's CRDs (once per test binary): hack/build-tools.sh extracted them from the
/// pinned modules into the tool cache beside the binaries.
pub fn install_crds() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let crds = share_dir().join("flux-crds.yaml");
        assert!(
            crds.is_file(),
            "{} is missing: run hack/build-tools.sh",
            crds.display()
        );
        let path = crds.display().to_string();
        kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &path]);
        kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            &path,
        ]);
    });
}

/// `<tool cache>/share`, beside the `bin` directory the tools are linked in.
fn share_dir() -> PathBuf {
    let bin = tool("source-controller");
    bin.parent()
        .and_then(Path::parent)
        .expect("the tool cache has a parent of bin/")
        .join("share")
}

/// Both controllers; on drop (also when the test panics) the Flux objects in the namespace lose
/// their finalizers, so that the namespace can go, and then the processes are killed.
pub struct FluxControllers {
    namespace: String,
    logs: PathBuf,
    children: Mutex<Vec<(String, Child)>>,
}

impl FluxControllers {
    /// Starts both for `namespace`, logging into `logs` (a directory).
    pub fn start(namespace: &str, logs: &Path) -> Self {
        install_crds();
        let storage = logs.join("artifacts");
        std::fs::create_dir_all(&storage).unwrap();
        let storage_addr = format!("127.0.0.1:{}", free_port());
        let mut this = Self {
            namespace: namespace.to_string(),
            logs: logs.to_path_buf(),
            children: Mutex::default(),
        };
        this.spawn(
            "source-controller",
            &[
                &format!("--storage-path={}", storage.display()),
                &format!("--storage-addr={storage_addr}"),
                &format!("--storage-adv-addr={storage_addr}"),
            ],
        );
        this.spawn("kustomize-controller", &[]);
        this
    }

    fn spawn(&mut self, name: &str, own_flags: &[&str]) {
        let log = File::create(self.logs.join(format!("{name}.log"))).unwrap();
        let child = Command::new(tool(name))
            // Only the test's namespace: Flux reads RUNTIME_NAMESPACE as the one to watch.
            .env("RUNTIME_NAMESPACE", &self.namespace)
            .env("KUBECONFIG", kubeconfig())
            .arg("--watch-all-namespaces=false")
            .arg("--enable-leader-election=false")
            .arg(format!("--metrics-addr=127.0.0.1:{}", free_port()))
            .arg(format!("--health-addr=127.0.0.1:{}", free_port()))
            // No notification-controller: events go nowhere.
            .arg("--events-addr=")
            .arg("--log-level=debug")
            .args(own_flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        self.children
            .lock()
            .unwrap()
            .push((name.to_string(), child));
    }

    /// Fails the test if a controller has exited.
    pub fn assert_running(&self) {
        for (name, child) in self.children.lock().unwrap().iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{name} exited ({status}):\n{}", tail(&self.logs, name));
            }
        }
    }
}

impl Drop for FluxControllers {
    fn drop(&mut self) {
        let children = self.children.get_mut().unwrap_or_else(|e| e.into_inner());
        if std::thread::panicking() {
            for (name, _) in children.iter() {
                eprintln!(
                    "--- {name} log (last lines) ---\n{}",
                    tail(&self.logs, name)
                );
            }
        }
        // Normally the test has deleted them already and this finds nothing.
        for kind in FLUX_KINDS {
            let (_, names) = kubectl_try(&["get", kind, "-n", &self.namespace, "-o", "name"]);
            for object in names.lines().filter(|l| l.contains('/')) {
                let _ = kubectl_try(&[
                    "patch",
                    object,
                    "-n",
                    &self.namespace,
                    "--type=merge",
                    "-p",
                    r#"{"metadata":{"finalizers":null}}"#,
                ]);
            }
        }
        for (_, child) in children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port free now on loopback (the controllers bind it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn tail(logs: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(logs.join(format!("{name}.log"))).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
