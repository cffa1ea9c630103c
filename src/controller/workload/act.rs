//! Applying the difference: each object is compared with its cached copy and applied only when a
//! field the operator sets differs or the object is gone, with one Event naming what was put back.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::memo::CATCH_UP;
use crate::api::ChittyService;
use crate::api::conditions::events as reasons;
use crate::controller::Context;
use crate::controller::apply::{apply, delete_if_present};
use crate::controller::events::publish_about;
use crate::controller::packed::Packed;
use crate::workload::drift::{differences, foreign_entries};
use crate::workload::{Track, deployment_name};

/// Field manager that holds `spec.replicas` while an autoscaler is handed the field: server-side
/// apply resets a field its only manager stops setting, so the operator's main manager lets go of
/// it only once this one shares it (the autoscaler then takes it over with its own writes).
const REPLICAS_HANDOVER: &str = "chitty-operator-replicas";
/// At most this many field paths are named in one Event.
const FIELDS_NAMED: usize = 6;

pub fn owned_by(obj: &impl Resource, service: &ChittyService) -> bool {
    obj.meta()
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && Some(&o.uid) == service.metadata.uid.as_ref())
}

pub struct Act<'a> {
    ctx: &'a Context,
    service: &'a ChittyService,
    namespace: String,
    /// Some object's cache had not caught up with our last apply to it.
    lagging: std::sync::atomic::AtomicBool,
}

impl<'a> Act<'a> {
    pub fn new(ctx: &'a Context, service: &'a ChittyService) -> Self {
        let namespace = service.namespace().unwrap_or_default();
        Self {
            ctx,
            service,
            namespace,
            lagging: Default::default(),
        }
    }

    /// When to look again: soon if a cache was behind our own apply, else on the next change.
    pub fn next(&self) -> Option<Duration> {
        self.lagging
            .load(std::sync::atomic::Ordering::Relaxed)
            .then_some(CATCH_UP)
    }

    pub async fn deployment(
        &mut self,
        desired: &Deployment,
        live: Option<&Deployment>,
    ) -> crate::Result<()> {
        let api: Api<Deployment> = self.ctx.api_for(self.service);
        let Some((fields, related)) = self.converge(&api, desired, live).await? else {
            return Ok(());
        };
        let name = desired.name_any();
        let scaled = fields == ["spec.replicas"];
        let note = match (live, scaled) {
            (None, _) => format!("Deployment {name} was missing; recreated"),
            (Some(before), true) => format!(
                "Deployment {name} scaled from {} to {} replicas",
                replicas_of(before),
                replicas_of(desired)
            ),
            (Some(_), false) => changed(&format!("Deployment {name}"), &fields),
        };
        let reason = if scaled {
            reasons::SCALED
        } else {
            reasons::DRIFT_REPAIRED
        };
        self.report(&related, reason, note).await;
        Ok(())
    }

    pub async fn service(&mut self, desired: &Service) -> crate::Result<()> {
        let api: Api<Service> = self.ctx.api_for(self.service);
        let live = self.cached(&self.ctx.caches.service_objects, &desired.name_any())?;
        let Some((fields, related)) = self.converge(&api, desired, live.as_ref()).await? else {
            return Ok(());
        };
        let name = desired.name_any();
        let note = match live {
            None => format!("Service {name} was missing; recreated"),
            Some(_) => changed(&format!("Service {name}"), &fields),
        };
        self.report(&related, reasons::DRIFT_REPAIRED, note).await;
        Ok(())
    }

    pub async fn autoscaler(
        &mut self,
        desired: &HorizontalPodAutoscaler,
        stable: Option<&Deployment>,
    ) -> crate::Result<()> {
        let api: Api<HorizontalPodAutoscaler> = self.ctx.api_for(self.service);
        let live = self.cached(&self.ctx.caches.autoscalers, &desired.name_any())?;
        if live.is_none()
            && let Some(stable) = stable
        {
            self.hand_over_replicas(stable).await?;
        }
        let Some((fields, related)) = self.converge(&api, desired, live.as_ref()).await? else {
            return Ok(());
        };
        let name = desired.name_any();
        let (reason, note) = match live {
            None => (
                reasons::SCALED,
                format!("HorizontalPodAutoscaler {name} now sets the replicas"),
            ),
            Some(_) => (
                reasons::DRIFT_REPAIRED,
                changed(&format!("HorizontalPodAutoscaler {name}"), &fields),
            ),
        };
        self.report(&related, reason, note).await;
        Ok(())
    }

    pub async fn remove_autoscaler(&mut self) -> crate::Result<()> {
        let name = deployment_name(&self.service.name_any(), Track::Stable);
        let Some(live) = self.cached(&self.ctx.caches.autoscalers, &name)? else {
            return Ok(());
        };
        if !owned_by(&live, self.service) {
            return Ok(());
        }
        let api: Api<HorizontalPodAutoscaler> = self.ctx.api_for(self.service);
        delete_if_present(&api, &name).await?;
        self.ctx.applied.forget(&format!(
            "HorizontalPodAutoscaler/{}/{name}",
            self.namespace
        ));
        let note = format!(
            "autoscaling is off: HorizontalPodAutoscaler {name} removed; spec.replicas ({}) applies again",
            self.service.spec.replicas
        );
        self.report(&live, reasons::SCALED, note).await;
        Ok(())
    }

    pub async fn remove_canary(&mut self, canary: &Deployment) -> crate::Result<()> {
        let api: Api<Deployment> = self.ctx.api_for(self.service);
        delete_if_present(&api, &canary.name_any()).await?;
        // Its Service too, which a canary rollout made beside it.
        let services: Api<k8s_openapi::api::core::v1::Service> = self.ctx.api_for(self.service);
        let name = crate::workload::traffic::canary_service_name(&self.service.name_any());
        delete_if_present(&services, &name).await?;
        let note = format!(
            "Deployment {} belonged to a finished canary; removed",
            canary.name_any()
        );
        self.report(canary, reasons::DRIFT_REPAIRED, note).await;
        Ok(())
    }

    /// One Event on the service about what was done to `related`.
    async fn report<R: Resource<DynamicType = ()>>(&self, related: &R, reason: &str, note: String) {
        publish_about(
            self.ctx,
            self.service,
            related,
            EventType::Normal,
            reason,
            note,
        )
        .await;
    }

    /// Applies `desired` when the live object lacks it; `Some(fields that differed)` when it
    /// applied (empty for a missing object).
    async fn converge<K>(
        &self,
        api: &Api<K>,
        desired: &K,
        live: Option<&K>,
    ) -> crate::Result<Option<(Vec<String>, K)>>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    {
        let want = serde_json::to_value(desired)?;
        let key = format!("{}/{}/{}", K::kind(&()), self.namespace, desired.name_any());
        let fingerprint = fingerprint(&want);
        let live_version = live.and_then(|l| l.meta().resource_version.clone());
        if self.ctx.applied.behind(&key, live_version.as_deref()) {
            // Our own apply has not come back through the watch yet; its event brings the next
            // look, and the reconcile looks again after CATCH_UP should it never come.
            self.lagging
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Ok(None);
        }
        let fields = match live {
            Some(live) => {
                let fields = differences(&want, &serde_json::to_value(live)?);
                if fields.is_empty() {
                    // Converged, and the cache shows it: the memo of the apply has served (it
                    // answers only for objects that differ), and a fleet keeps none at rest.
                    self.ctx.applied.forget(&key);
                    return Ok(None);
                }
                if self
                    .ctx
                    .applied
                    .holds(&key, live_version.as_deref(), fingerprint)
                {
                    return Ok(None);
                }
                fields
            }
            None => vec![],
        };
        // Entries another manager added to the container's own lists would survive an apply (and
        // may make it invalid: two ports named `http`); they are replaced first, with a patch
        // guarded by the version the cache shows.
        if let Some(live) = live {
            let leftovers = foreign_entries(&want, &serde_json::to_value(live)?);
            if !leftovers.is_empty() {
                replace_lists(api, live, leftovers).await?;
            }
        }
        let applied = apply(api, desired).await?;
        self.ctx
            .applied
            .record(key, applied.meta().resource_version.clone(), fingerprint);
        tracing::info!(service = %self.service.name_any(), kind = K::kind(&()).as_ref(), object = %desired.name_any(), ?fields, "converged");
        Ok(Some((fields, applied)))
    }

    /// Makes a second manager share `spec.replicas` at its current value before the operator's
    /// own applies stop setting it (see `REPLICAS_HANDOVER`).
    async fn hand_over_replicas(&self, stable: &Deployment) -> crate::Result<()> {
        let Some(replicas) = stable.spec.as_ref().and_then(|s| s.replicas) else {
            return Ok(());
        };
        let api: Api<Deployment> = self.ctx.api_for(self.service);
        let patch = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": stable.name_any()},
            "spec": {"replicas": replicas},
        });
        api.patch(
            &stable.name_any(),
            &PatchParams::apply(REPLICAS_HANDOVER).force(),
            &Patch::Apply(patch),
        )
        .await?;
        Ok(())
    }

    /// The service's own `name` from the cache, decoded.
    fn cached<K>(&self, store: &Store<Packed<K>>, name: &str) -> crate::Result<Option<K>>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + 'static,
    {
        store
            .get(&ObjectRef::new(name).within(&self.namespace))
            .filter(|o| owned_by(&**o, self.service))
            .map(|o| o.object())
            .transpose()
    }
}

/// A JSON patch that replaces whole lists, refused if the object changed since `live`.
async fn replace_lists<K>(
    api: &Api<K>,
    live: &K,
    lists: Vec<(String, serde_json::Value)>,
) -> crate::Result<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let mut ops = vec![serde_json::json!({
        "op": "test", "path": "/metadata/resourceVersion", "value": live.meta().resource_version,
    })];
    ops.extend(
        lists.into_iter().map(
            |(path, value)| serde_json::json!({"op": "replace", "path": path, "value": value}),
        ),
    );
    let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops))?;
    let params = PatchParams {
        field_manager: Some(crate::labels::FIELD_MANAGER.into()),
        ..Default::default()
    };
    Ok(api
        .patch(&live.name_any(), &params, &Patch::Json::<()>(patch))
        .await?)
}

fn replicas_of(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// "Deployment web: spec.…image, spec.…ports[http] differed from the spec; restored".
fn changed(object: &str, fields: &[String]) -> String {
    let mut named: Vec<&str> = fields
        .iter()
        .take(FIELDS_NAMED)
        .map(String::as_str)
        .collect();
    let more = fields.len().saturating_sub(FIELDS_NAMED);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    named.dedup();
    format!(
        "{object}: {}{more} differed from what the service specifies; restored",
        named.join(", ")
    )
}

fn fingerprint(value: &serde_json::Value) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repair_event_names_the_fields_and_stays_short() {
        let fields: Vec<String> = (0..9).map(|i| format!("spec.f{i}")).collect();
        let note = changed("Deployment web", &fields);
        assert!(
            note.starts_with("Deployment web: spec.f0, spec.f1"),
            "{note}"
        );
        assert!(note.contains("and 3 more"), "{note}");
        assert!(!note.contains("spec.f8"));
    }
}
