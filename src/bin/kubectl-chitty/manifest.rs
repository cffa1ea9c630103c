//! Reading a `--what-if` manifest: YAML (or JSON), one or more documents, of which the
//! ChittyServices and RouteClaims count; anything else is noted and left out.

use anyhow::{Context as _, bail};
use chitty_operator::api::{ChittyService, RouteClaim};
use serde::Deserialize;

/// What a manifest would add.
#[derive(Debug, Clone, Default)]
pub struct Proposed {
    pub services: Vec<ChittyService>,
    pub claims: Vec<RouteClaim>,
    /// `Kind/name` of the documents left out.
    pub ignored: Vec<String>,
}

/// Parses `text`; objects without a namespace go into `namespace`.
pub fn parse(text: &str, namespace: &str) -> anyhow::Result<Proposed> {
    let mut proposed = Proposed::default();
    for (n, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let at = n + 1;
        let value = serde_json::Value::deserialize(document)
            .with_context(|| format!("document {at} is not valid YAML"))?;
        if value.is_null() {
            continue;
        }
        let Some(kind) = value
            .get("kind")
            .and_then(|k| k.as_str())
            .map(str::to_string)
        else {
            bail!("document {at} has no kind; expected a ChittyService or a RouteClaim");
        };
        let name = value["metadata"]["name"].as_str().unwrap_or("").to_string();
        let api_version = value
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let ours = api_version.starts_with("chitty.cc/");
        if ours && name.is_empty() {
            bail!("document {at} ({kind}) has no metadata.name");
        }
        match kind.as_str() {
            "ChittyService" if ours => {
                let mut service: ChittyService =
                    serde_json::from_value(value).with_context(|| {
                        format!("document {at} (ChittyService {name}) is not valid")
                    })?;
                service
                    .metadata
                    .namespace
                    .get_or_insert_with(|| namespace.to_string());
                proposed.services.push(service);
            }
            "RouteClaim" if ours => {
                let mut claim: RouteClaim = serde_json::from_value(value)
                    .with_context(|| format!("document {at} (RouteClaim {name}) is not valid"))?;
                claim
                    .metadata
                    .namespace
                    .get_or_insert_with(|| namespace.to_string());
                // What the cluster says about it is read from the cluster, never the file.
                claim.status = None;
                proposed.claims.push(claim);
            }
            _ => proposed.ignored.push(format!("{kind}/{name}")),
        }
    }
    Ok(proposed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_and_claims_are_read_from_several_documents() {
        let text = "\
apiVersion: chitty.cc/v1alpha1
kind: ChittyService
metadata: {name: mcp}
spec: {type: worker, version: 1.0.0, environment: staging, source: {image: x},
       routes: [{host: mcp.chitty.cc, path: /*}]}
---
apiVersion: chitty.cc/v1alpha1
kind: RouteClaim
metadata: {name: extra, namespace: other}
spec: {host: api.chitty.cc, serviceRef: {name: mcp}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
";
        let p = parse(text, "team-a").unwrap();
        assert_eq!(p.services[0].metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(p.claims[0].metadata.namespace.as_deref(), Some("other"));
        assert_eq!(
            p.claims[0].spec.path, "/",
            "defaults apply as the apiserver's would"
        );
        assert_eq!(p.ignored, ["Secret/creds"]);
    }

    #[test]
    fn a_malformed_manifest_is_one_sentence() {
        let errors = [
            ("kind: [unclosed", "document 1 is not valid YAML"),
            ("metadata: {name: x}", "document 1 has no kind"),
            (
                "apiVersion: chitty.cc/v1alpha1\nkind: RouteClaim\nmetadata: {name: x}\nspec: {host: 3}",
                "document 1 (RouteClaim x) is not valid",
            ),
            (
                "apiVersion: chitty.cc/v1alpha1\nkind: RouteClaim\nspec: {host: a.b, serviceRef: {name: s}}",
                "document 1 (RouteClaim) has no metadata.name",
            ),
        ];
        for (text, expected) in errors {
            let error = format!("{:#}", parse(text, "ns").unwrap_err());
            assert!(error.starts_with(expected), "{text:?}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }
}
