//! A test's world: its own namespace, a client, and the operator running in-process on it, torn
//! down in the order that leaves nothing behind.

use std::sync::Arc;
use std::time::Duration;

use chitty_operator::api::{ChittyDeployment, ChittyService, RouteClaim};
use chitty_operator::config::OperatorConfig;
use chitty_operator::metrics::Metrics;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client, Config, Resource, ResourceExt};
use prometheus_client::registry::Registry;

use super::manifest::{self, ServiceManifest};
use super::wait;
use super::{client, kube_config, kubectl_try};

type Configure = Arc<dyn Fn(&mut OperatorConfig, &str) + Send + Sync>;

/// A namespace with the operator watching it, and the APIs a test reads and writes there.
pub struct TestEnv {
    pub client: Client,
    pub ns: TestNamespace,
    operator: Option<RunningOperator>,
    configure: Configure,
    pub services: Api<ChittyService>,
    pub rollouts: Api<ChittyDeployment>,
    pub claims: Api<RouteClaim>,
    pub deployments: Api<Deployment>,
    pub ingresses: Api<Ingress>,
}

impl TestEnv {
    /// A fresh namespace named after `prefix`, with the operator at its test defaults.
    pub async fn new(prefix: &str) -> Self {
        Self::with(prefix, |_, _| {}).await
    }

    /// With the test's changes to the operator's configuration; `configure` also gets the
    /// namespace, and is applied again on every restart.
    pub async fn with(
        prefix: &str,
        configure: impl Fn(&mut OperatorConfig, &str) + Send + Sync + 'static,
    ) -> Self {
        let mut env = Self::without_operator(prefix).await;
        env.configure(configure);
        env.start_operator().await;
        env
    }

    /// How the operator is configured from its next start on.
    pub fn configure(
        &mut self,
        configure: impl Fn(&mut OperatorConfig, &str) + Send + Sync + 'static,
    ) {
        self.configure = Arc::new(configure);
    }

    /// The namespace and APIs only: for tests that run the operator their own way.
    pub async fn without_operator(prefix: &str) -> Self {
        let client = client().await;
        let ns = TestNamespace::create(&client, prefix).await;
        Self {
            services: Api::namespaced(client.clone(), &ns.name),
            rollouts: Api::namespaced(client.clone(), &ns.name),
            claims: Api::namespaced(client.clone(), &ns.name),
            deployments: Api::namespaced(client.clone(), &ns.name),
            ingresses: Api::namespaced(client.clone(), &ns.name),
            client,
            ns,
            operator: None,
            configure: Arc::new(|_, _| {}),
        }
    }

    pub fn ns(&self) -> &str {
        &self.ns.name
    }

    /// An API for any namespaced kind in the test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), self.ns())
    }

    /// The running operator; a test that stopped it has no business asking.
    pub fn operator(&self) -> &RunningOperator {
        self.operator.as_ref().expect("the operator is running")
    }

    /// (Re)starts the operator with the environment's configuration.
    pub async fn start_operator(&mut self) {
        assert!(self.operator.is_none(), "the operator is already running");
        let (configure, ns) = (self.configure.clone(), self.ns.name.clone());
        let operator =
            RunningOperator::start_with(&self.ns.name, move |config| configure(config, &ns)).await;
        self.operator = Some(operator);
    }

    /// Stops the operator gracefully, as a shutdown signal would.
    pub async fn stop_operator(&mut self) {
        if let Some(operator) = self.operator.take() {
            operator.stop().await;
        }
    }

    /// Ends the operator at once, mid-call, as a crash would: nothing in flight is finished.
    pub fn kill_operator(&mut self) {
        self.operator = None;
    }

    pub async fn apply(&self, manifest: &ServiceManifest) {
        manifest.apply(&self.services).await;
    }

    /// A RouteClaim made by hand: `host` at every path for `service`.
    pub async fn apply_claim(&self, name: &str, host: &str, service: &str) {
        manifest::apply_claim(&self.claims, &manifest::route_claim(name, host, service)).await;
    }

    /// The service once `check` holds for it.
    pub async fn service_where(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&ChittyService) -> bool,
    ) -> ChittyService {
        wait::wait_for(&self.services, name, what, check).await
    }

    /// The service once it is Ready for its current generation.
    pub async fn wait_ready(&self, name: &str) -> ChittyService {
        self.service_where(name, "Ready=True for the current generation", wait::ready)
            .await
    }

    /// The service once it is Ready for its current generation, at `version`.
    pub async fn wait_ready_at(&self, name: &str, version: &str) -> ChittyService {
        self.service_where(name, &format!("Ready at {version}"), |s| {
            wait::ready_at(s, version)
        })
        .await
    }

    /// The service once it reports Stalled for its current generation.
    pub async fn wait_stalled(&self, name: &str) -> ChittyService {
        self.service_where(
            name,
            "Stalled=True for the current generation",
            wait::stalled,
        )
        .await
    }

    /// The rollout the service's status names for its current generation, once `done` holds
    /// for it.
    pub async fn current_rollout(
        &self,
        name: &str,
        what: &str,
        done: impl Fn(&ChittyDeployment) -> bool,
    ) -> ChittyDeployment {
        wait::eventually(
            what,
            || async {
                let svc = self.services.get(name).await.ok()?;
                if !wait::observed(&svc) {
                    return None;
                }
                let current = svc.status?.current_deployment?;
                self.rollouts.get(&current).await.ok()
            },
            |d: &Option<ChittyDeployment>| d.as_ref().is_some_and(&done),
        )
        .await
        .unwrap()
    }

    /// The rollout of the service version `version` (there is one per version in these tests),
    /// once `check` holds for it.
    pub async fn rollout_of_version(
        &self,
        version: &str,
        what: &str,
        check: impl Fn(&ChittyDeployment) -> bool,
    ) -> ChittyDeployment {
        wait::eventually_within(
            what,
            std::time::Duration::from_secs(120),
            || async {
                let all = self.rollouts.list(&Default::default()).await.ok()?;
                all.items
                    .into_iter()
                    .find(|d| d.spec.snapshot.version == version)
            },
            |d: &Option<ChittyDeployment>| d.as_ref().is_some_and(&check),
        )
        .await
        .unwrap()
    }

    /// The name of the rollout the service's status records, once it records one.
    pub async fn recorded_rollout(&self, service: &str) -> String {
        let svc = self
            .service_where(service, "rollout recorded", |s| {
                s.status
                    .as_ref()
                    .is_some_and(|st| st.current_deployment.is_some())
            })
            .await;
        svc.status.unwrap().current_deployment.unwrap()
    }

    /// The first container of a Job's pod: the one a single-step Job (`wrangler`) runs.
    pub async fn job_container(&self, job: &str) -> Container {
        let jobs: Api<Job> = self.api();
        let job = jobs
            .get(job)
            .await
            .unwrap_or_else(|e| panic!("reading Job {job}: {e}"));
        let pod = job.spec.and_then(|s| s.template.spec).expect("a pod spec");
        pod.containers.into_iter().next().expect("a container")
    }

    /// The image of the first container of a Deployment, if it exists.
    pub async fn image_of(&self, deployment: &str) -> Option<String> {
        let d = self.deployments.get_opt(deployment).await.unwrap()?;
        d.spec?.template.spec?.containers.first()?.image.clone()
    }

    /// Tears the world down in the order that leaves nothing behind: the services are deleted
    /// while the operator still runs, so it releases their finalizers (a registry record to
    /// retire); then the operator stops; then the namespace goes, and the test waits until it
    /// has.
    pub async fn teardown(mut self) {
        if std::env::var_os("CHITTY_KEEP_NAMESPACES").is_some() {
            self.stop_operator().await;
            return;
        }
        if self.operator.is_some() {
            let all = ListParams::default();
            let _ = self
                .services
                .delete_collection(&DeleteParams::default(), &all)
                .await;
            let _ = wait::eventually_within(
                "every ChittyService deleted, its finalizers released",
                Duration::from_secs(60),
                || self.services.list(&all),
                |l| l.as_ref().is_ok_and(|l| l.items.is_empty()),
            )
            .await;
        }
        self.stop_operator().await;
        self.ns.delete_and_wait(&self.client).await;
    }
}

/// A namespace of the test's own, deleted when the test ends.
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    pub async fn create(client: &Client, prefix: &str) -> Self {
        let suffix: u32 = std::process::id()
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos());
        let name = format!("{prefix}-{:x}", suffix % 0xffffff);
        let api: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(
            serde_json::json!({"metadata": {"name": name, "labels": {"chitty.cc/test": "true"}}}),
        )
        .unwrap();
        api.create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
        Self { name }
    }

    /// Deletes the namespace and waits until the cluster has removed it and all it held.
    pub async fn delete_and_wait(&self, client: &Client) {
        let api: Api<Namespace> = Api::all(client.clone());
        let _ = api.delete(&self.name, &DeleteParams::default()).await;
        let _ = wait::eventually_within(
            &format!("namespace {} gone", self.name),
            Duration::from_secs(120),
            || async {
                api.get_opt(&self.name)
                    .await
                    .map(|ns| ns.map(|ns| (ns.name_any(), ns.status)))
            },
            |ns| matches!(ns, Ok(None)),
        )
        .await;
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::env::var_os("CHITTY_KEEP_NAMESPACES").is_none() {
            let _ = kubectl_try(&["delete", "namespace", &self.name, "--wait=false"]);
        }
    }
}

/// The operator running in-process for one namespace.
pub struct RunningOperator {
    pub metrics: Arc<Metrics>,
    /// Where its HTTP port (probes, metrics, read API, dashboard) listens.
    pub http: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RunningOperator {
    pub async fn start(namespace: &str) -> Self {
        Self::start_with(namespace, |_| {}).await
    }

    /// Starts with the test's own changes to the default configuration.
    pub async fn start_with(namespace: &str, adjust: impl FnOnce(&mut OperatorConfig)) -> Self {
        Self::start_with_config(namespace, kube_config().await, adjust).await
    }

    /// Starts with a kube config of the test's own (e.g. one that impersonates a ServiceAccount).
    pub async fn start_with_config(
        namespace: &str,
        kube_config: Config,
        adjust: impl FnOnce(&mut OperatorConfig),
    ) -> Self {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let client =
            chitty_operator::kube_client::from_config(kube_config, &metrics).expect("client");
        let mut config = OperatorConfig::defaults();
        config.namespace = Some(namespace.to_string());
        config.http_addr = "127.0.0.1:0".parse().unwrap();
        config.concurrency = 4;
        // The tests' health endpoints listen on loopback, which probes refuse by default.
        config.probes.probe_allow_cidrs = vec!["127.0.0.1/32".parse().unwrap()];
        // Tests share one cluster, and a ChittyDomain is cluster-wide: each test that is about
        // delegation sets the delegated policy and makes its own domains on hosts of its own.
        config.routing.policy = chitty_operator::config::RoutePolicyMode::Open;
        adjust(&mut config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        // Bound here, so the test knows the port before the operator starts serving on it.
        let listener = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .expect("the HTTP port binds");
        let http = listener.local_addr().unwrap();
        let handle = tokio::spawn(chitty_operator::operator::serve_on(
            listener,
            client,
            config,
            metrics.clone(),
            registry,
            shutdown,
        ));
        Self {
            metrics,
            http,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// `http://127.0.0.1:<port><path>` on the operator's HTTP port.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Stops the operator gracefully and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
        }
    }
}

impl Drop for RunningOperator {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.abort();
        }
    }
}
