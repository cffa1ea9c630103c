//! Flux, for real: source-controller and kustomize-controller (built from the pinned modules by
//! hack/build-tools.sh) apply config/samples from a git repository served over HTTP on
//! loopback, and their `wait: true` health check, which is kstatus, is what this test reads.
//! It proves that the ChittyService conditions speak kstatus: the Kustomization is Ready only
//! once every sample service is, and not Ready, naming the service, when one's health fails.

mod common;
#[path = "flux_support/mod.rs"]
mod flux_support;

use std::cell::Cell;
use std::time::Duration;

use chitty_operator::api::ChittyService;
use chitty_operator::api::conditions::{self, reasons, types};
use chitty_operator::clients::SecretToken;
use chitty_operator::sim::{self, SimConfig};
use common::sim_admin::set_health;
use common::{TestEnv, wait};
use flux_support::controllers::FluxControllers;
use flux_support::git_http::GitHttpServer;
use flux_support::{objects, samples_tree};
use kube::api::ListParams;

/// The sample whose health the test makes fail: nothing depends on it and it is not critical,
/// so its failure is reported and nothing is rolled back.
const FAILING: &str = "chittyregistry";

#[tokio::test]
async fn flux_is_ready_only_with_every_sample_ready_and_names_a_failing_service() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let sim_url = sim.base_url();
    // Wired as the quick start wires it: identity and registry at the sim, and every probe at
    // the sim's own /health, since kwok's pods serve nothing.
    let env = TestEnv::with("flux", move |config, _| {
        config.health_url_override = Some(sim_url.clone());
        let eco = &mut config.ecosystem;
        eco.chitty_id_url = Some(sim_url.clone());
        eco.chitty_id_token = Some(SecretToken::new("sim-token"));
        eco.registry_url = Some(sim_url.clone());
        eco.registry_token = Some(SecretToken::new("sim-token"));
    })
    .await;
    let ns = env.ns().to_string();
    let scratch = tempfile::tempdir().unwrap();
    let (tree, served, logs) = (
        scratch.path().join("tree"),
        scratch.path().join("served"),
        scratch.path().join("logs"),
    );
    for dir in [&tree, &served, &logs] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let health_url = format!("{}/svc/{FAILING}", sim.base_url());
    let services = samples_tree::write(&tree, FAILING, &health_url);
    let git = GitHttpServer::start(&served);
    git.commit(&tree, "the sample services");
    let flux = FluxControllers::start(&ns, &logs);

    objects::apply(&env.client, &ns, &git.url(), samples_tree::SAMPLES_PATH).await;
    let kustomizations = objects::kustomizations(&env.client, &ns);

    // Flux says Ready=True only once every service is; the moment it does, each one is.
    let seen_waiting = Cell::new(false);
    let (verdict, all_ready) = wait::eventually_within(
        "the Kustomization Ready=True",
        Duration::from_secs(300),
        || async {
            flux.assert_running();
            let verdict = kustomizations
                .get(objects::NAME)
                .await
                .ok()
                .and_then(|k| objects::ready(&k));
            let all_ready = all_services_ready(&env, &services).await;
            // Rolling out: Flux is still waiting (Unknown, Progressing) or has not spoken.
            if !says_ready(&verdict) {
                seen_waiting.set(seen_waiting.get() || !all_ready);
            }
            (verdict, all_ready)
        },
        |(verdict, _)| says_ready(verdict),
    )
    .await;
    assert!(
        all_ready,
        "Flux said Ready while a sample service was not: {verdict:?}"
    );
    assert!(
        seen_waiting.get(),
        "Flux was never seen waiting while the services rolled out"
    );

    // One service goes down: the operator says so, and Flux's next health check names it.
    set_health(&sim, FAILING, "down").await;
    let down = env
        .service_where(FAILING, "Ready=False, its health check failing", |s| {
            s.status.as_ref().is_some_and(|st| {
                conditions::find(&st.conditions, types::READY).is_some_and(|c| {
                    c.status == "False" && c.reason == reasons::HEALTH_CHECK_FAILING
                })
            })
        })
        .await;
    assert!(wait::observed(&down));
    let token = objects::request_reconcile(&env.client, &ns).await;
    let failed = wait::wait_for_within(
        &kustomizations,
        objects::NAME,
        "the Kustomization not Ready after the reconcile asked for",
        Duration::from_secs(300),
        |k| {
            objects::handled(k, &token)
                && objects::ready(k).is_some_and(|(status, ..)| status == "False")
        },
    )
    .await;
    let (_, reason, message) = objects::ready(&failed).unwrap();
    // Failed, not InProgress: a down service is Stalled, so Flux stops waiting at once.
    let named = format!("ChittyService/{ns}/{FAILING} status: 'Failed'");
    assert!(
        message.contains(&named),
        "the message names {named}: {reason}: {message}"
    );
    for other in services.iter().filter(|s| *s != FAILING) {
        assert!(
            !message.contains(&format!("ChittyService/{ns}/{other} ")),
            "only the failing service is named: {message}"
        );
    }

    objects::delete(&env.client, &ns).await;
    drop(flux);
    drop(git);
    env.teardown().await;
}

/// Whether Flux's verdict is Ready=True.
fn says_ready(verdict: &Option<(String, String, String)>) -> bool {
    verdict
        .as_ref()
        .is_some_and(|(status, ..)| status == "True")
}

/// Whether every named sample service exists and is Ready for its current generation.
async fn all_services_ready(env: &TestEnv, names: &[String]) -> bool {
    let Ok(list) = env.services.list(&ListParams::default()).await else {
        return false;
    };
    names.iter().all(|name| {
        list.items
            .iter()
            .any(|s: &ChittyService| s.metadata.name.as_deref() == Some(name) && wait::ready(s))
    })
}
