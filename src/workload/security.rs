//! Security contexts for the pods the operator makes, shaped after the `restricted` Pod Security
//! Standard so they are admitted in namespaces that enforce it, and the scratch volumes a
//! read-only root filesystem needs.

use k8s_openapi::api::core::v1::{
    Capabilities, EmptyDirVolumeSource, PodSecurityContext, SeccompProfile, SecurityContext,
    Volume, VolumeMount,
};

/// Pod-level settings every pod gets: the container runtime's default seccomp filter, and
/// optionally the user and volume group. `run_as_non_root` is left to the containers, because a
/// build pod mixes stages that can and cannot run as non-root.
pub fn pod_context(run_as_user: Option<i64>, fs_group: Option<i64>) -> PodSecurityContext {
    PodSecurityContext {
        seccomp_profile: Some(runtime_default_seccomp()),
        run_as_user,
        fs_group,
        ..Default::default()
    }
}

/// A container that runs as a non-root user with no privileges at all.
pub fn restricted_container(read_only_root: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        read_only_root_filesystem: Some(read_only_root),
        run_as_non_root: Some(true),
        ..Default::default()
    }
}

/// A tool step (git, npm, wrangler) run from the builder image as the given non-root user, with a
/// read-only root: it writes only to the workspace and to the scratch volumes of
/// [`tool_scratch`].
pub fn tool_container(run_as_user: i64) -> SecurityContext {
    SecurityContext {
        run_as_user: Some(run_as_user),
        ..restricted_container(true)
    }
}

/// Where a tool step's home directory is: npm and wrangler keep caches and settings under
/// `$HOME`, and the image's own home is not writable by an arbitrary user on a read-only root.
pub const TOOL_HOME: &str = "/home/chitty";
const HOME_VOLUME: &str = "home";

/// The volumes a tool step writes to besides the workspace: `/tmp` and its home directory.
pub fn tool_scratch() -> (Vec<Volume>, Vec<VolumeMount>) {
    (
        vec![scratch_volume(TMP_VOLUME), scratch_volume(HOME_VOLUME)],
        vec![mount(TMP_VOLUME, "/tmp"), mount(HOME_VOLUME, TOOL_HOME)],
    )
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}

/// Name of the scratch volume mounted at `/tmp` when the root filesystem is read-only.
pub const TMP_VOLUME: &str = "tmp";

/// An empty, pod-lifetime directory volume.
pub fn scratch_volume(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

pub fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_containers_drop_everything_and_never_escalate() {
        let c = restricted_container(true);
        assert_eq!(c.allow_privilege_escalation, Some(false));
        assert_eq!(c.run_as_non_root, Some(true));
        assert_eq!(c.read_only_root_filesystem, Some(true));
        assert_eq!(
            c.capabilities.unwrap().drop.unwrap(),
            vec!["ALL".to_string()]
        );
    }

    #[test]
    fn pods_use_the_runtime_default_seccomp_filter() {
        let p = pod_context(Some(1000), None);
        assert_eq!(p.seccomp_profile.unwrap().type_, "RuntimeDefault");
        assert_eq!(p.run_as_user, Some(1000));
        assert_eq!(p.fs_group, None);
    }
}
