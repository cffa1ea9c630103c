//! Server-side apply and deletion of the workload objects the pipeline owns.
//!
//! Server-side apply with `force` would take over any object of the same name, and the owner
//! reference it sets would then have garbage collection delete that object with the service. So
//! an object that exists and is not controlled by the desired object's owner is never applied
//! to: the write fails with `Error::NameInUse`, which the controllers report as `Stalled`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::labels::FIELD_MANAGER;

/// Applies the whole desired object; the same call twice is a no-op on the server. An object
/// that already exists under someone else's control (or no one's) is left untouched.
pub async fn apply<K>(api: &Api<K>, obj: &K) -> crate::Result<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    if let Some(owner) = controller_of(obj.owner_references())
        && let Some(existing) = api.get_opt(&obj.name_any()).await?
        && let Some(whose) = foreign(existing.owner_references(), &owner.uid)
    {
        return Err(crate::Error::NameInUse {
            kind: K::kind(&()).to_string(),
            name: obj.name_any(),
            owner: whose,
        });
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api
        .patch(&obj.name_any(), &params, &Patch::Apply(obj))
        .await?)
}

fn controller_of(owners: &[OwnerReference]) -> Option<&OwnerReference> {
    owners.iter().find(|o| o.controller == Some(true))
}

/// Whose an existing object is, in words, when it is not controlled by `uid`.
pub fn foreign(owners: &[OwnerReference], uid: &str) -> Option<String> {
    match controller_of(owners) {
        Some(o) if o.uid == uid => None,
        Some(o) => Some(format!("owned by {} {}", o.kind, o.name)),
        None => Some("owned by no one (not made by this service)".to_string()),
    }
}

/// Deletes if present; absence is success.
pub async fn delete_if_present<K>(api: &Api<K>, name: &str) -> crate::Result<()>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Reads an object, `None` when it does not exist.
pub async fn get_opt<K>(api: &Api<K>, name: &str) -> crate::Result<Option<K>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    Ok(api.get_opt(name).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(kind: &str, name: &str, uid: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: "chitty.cc/v1alpha1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            controller: Some(controller),
            block_owner_deletion: None,
        }
    }

    #[test]
    fn only_an_object_this_owner_controls_is_ours() {
        assert_eq!(
            foreign(&[owner("ChittyService", "web", "u-1", true)], "u-1"),
            None
        );
        assert_eq!(
            foreign(&[owner("ChittyService", "web", "u-0", true)], "u-1").as_deref(),
            Some("owned by ChittyService web"),
            "a service of the same name before this one"
        );
        assert_eq!(
            foreign(&[], "u-1").as_deref(),
            Some("owned by no one (not made by this service)")
        );
        assert!(
            foreign(&[owner("ChittyService", "web", "u-1", false)], "u-1").is_some(),
            "a mere reference is not control"
        );
    }
}
