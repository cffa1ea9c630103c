//! Whether a pod is one of this install's replicas, and where its HTTP port is.
//!
//! A standby forwards reads only to an address it derives from the API server's own record of a
//! pod: one carrying the replicas' labels, Ready, not being deleted, at its `podIP` with the
//! replicas' HTTP port. Nothing a Lease writer can type (a host, a port, a scheme) ends up in
//! the address.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::Pod;

/// The labels every replica's pod carries (`k=v,k=v`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSelector(BTreeMap<String, String>);

impl PeerSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut labels = BTreeMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("'{pair}' in the peer selector is not key=value"))?;
            labels.insert(key.trim().to_string(), value.trim().to_string());
        }
        if labels.is_empty() {
            return Err("the peer selector names no label; any pod would pass".into());
        }
        Ok(Self(labels))
    }

    fn matches(&self, pod: &Pod) -> bool {
        let labels = pod.metadata.labels.as_ref();
        self.0
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    }
}

/// Why a pod is not forwarded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPeer {
    /// It lacks one of the replicas' labels.
    Foreign,
    /// It is being deleted.
    Terminating,
    /// Its Ready condition is not True.
    NotReady,
    /// It has no parseable `podIP` yet.
    NoAddress,
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// Where to reach `pod`'s read API, if it is a Ready replica of this install.
pub fn peer_address(pod: &Pod, selector: &PeerSelector, port: u16) -> Result<SocketAddr, NotPeer> {
    if !selector.matches(pod) {
        return Err(NotPeer::Foreign);
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Err(NotPeer::Terminating);
    }
    if !ready(pod) {
        return Err(NotPeer::NotReady);
    }
    let ip: IpAddr = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .and_then(|ip| ip.parse().ok())
        .ok_or(NotPeer::NoAddress)?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(labels: &[(&str, &str)], ready: &str, ip: Option<&str>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "chitty-operator-abc",
                "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            },
            "status": {
                "podIP": ip,
                "conditions": [{"type": "Ready", "status": ready}],
            }
        }))
        .unwrap()
    }

    fn selector() -> PeerSelector {
        PeerSelector::parse("app.kubernetes.io/name=chitty-operator, app.kubernetes.io/instance=x")
            .unwrap()
    }

    const OURS: &[(&str, &str)] = &[
        ("app.kubernetes.io/name", "chitty-operator"),
        ("app.kubernetes.io/instance", "x"),
        ("pod-template-hash", "7d9f"),
    ];

    #[test]
    fn a_ready_replica_is_reached_at_its_pod_ip_and_the_replicas_port() {
        let address = peer_address(&pod(OURS, "True", Some("10.1.2.3")), &selector(), 8080);
        assert_eq!(address, Ok("10.1.2.3:8080".parse().unwrap()));
        let v6 = peer_address(&pod(OURS, "True", Some("fd00::7")), &selector(), 8080);
        assert_eq!(v6, Ok("[fd00::7]:8080".parse().unwrap()));
    }

    #[test]
    fn a_pod_without_every_label_is_foreign() {
        let other_install = &[
            ("app.kubernetes.io/name", "chitty-operator"),
            ("app.kubernetes.io/instance", "y"),
        ];
        assert_eq!(
            peer_address(
                &pod(other_install, "True", Some("10.0.0.1")),
                &selector(),
                80
            ),
            Err(NotPeer::Foreign)
        );
        assert_eq!(
            peer_address(&pod(&[], "True", Some("10.0.0.1")), &selector(), 80),
            Err(NotPeer::Foreign)
        );
    }

    #[test]
    fn an_unready_terminating_or_addressless_pod_is_not_forwarded_to() {
        assert_eq!(
            peer_address(&pod(OURS, "False", Some("10.0.0.1")), &selector(), 80),
            Err(NotPeer::NotReady)
        );
        assert_eq!(
            peer_address(&pod(OURS, "True", None), &selector(), 80),
            Err(NotPeer::NoAddress)
        );
        assert_eq!(
            peer_address(&pod(OURS, "True", Some("evil.example:1")), &selector(), 80),
            Err(NotPeer::NoAddress)
        );
        let mut leaving = pod(OURS, "True", Some("10.0.0.1"));
        leaving.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
        );
        assert_eq!(
            peer_address(&leaving, &selector(), 80),
            Err(NotPeer::Terminating)
        );
    }

    #[test]
    fn a_selector_must_name_labels() {
        assert!(PeerSelector::parse("").is_err());
        assert!(PeerSelector::parse("app").is_err());
        assert_eq!(
            PeerSelector::parse("a=b").unwrap(),
            PeerSelector([("a".into(), "b".into())].into())
        );
    }
}
