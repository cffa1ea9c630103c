//! Manifests as a user writes them: only what they set, defaults left to the apiserver.

use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Map, Value, json};

use chitty_operator::api::{ChittyService, RouteClaim};

/// A ChittyService manifest: a staging worker at 1.0.0 from the image
/// `registry.local/<name>:<version>`, and whatever the test adds.
#[derive(Clone, Debug)]
pub struct ServiceManifest {
    name: String,
    version: String,
    environment: String,
    source: Source,
    spec: Map<String, Value>,
    patches: Vec<Value>,
}

#[derive(Clone, Debug)]
enum Source {
    /// `registry.local/<name>:<version>`, following the version.
    VersionedImage,
    Image(String),
    /// `https://git.chitty.local/<name>.git` at `v<version>`, following the version.
    VersionedGit,
}

pub fn service(name: &str) -> ServiceManifest {
    ServiceManifest {
        name: name.to_string(),
        version: "1.0.0".into(),
        environment: "staging".into(),
        source: Source::VersionedImage,
        spec: Map::new(),
        patches: Vec::new(),
    }
}

impl ServiceManifest {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version the manifest asks for.
    pub fn spec_version(&self) -> &str {
        &self.version
    }

    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_string();
        self
    }

    pub fn environment(mut self, environment: &str) -> Self {
        self.environment = environment.to_string();
        self
    }

    pub fn image(mut self, image: &str) -> Self {
        self.source = Source::Image(image.to_string());
        self
    }

    /// Built from the service's own repository at the tag of its version.
    pub fn git(mut self) -> Self {
        self.source = Source::VersionedGit;
        self
    }

    pub fn replicas(self, replicas: i32) -> Self {
        self.set("replicas", replicas.into())
    }

    pub fn routes(self, routes: Value) -> Self {
        self.set("routes", routes)
    }

    pub fn depends_on(self, names: &[&str]) -> Self {
        let deps: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
        self.set("dependsOn", deps.into())
    }

    pub fn strategy(self, strategy: Value) -> Self {
        self.set("strategy", strategy)
    }

    pub fn suspend(self, suspend: bool) -> Self {
        self.set("suspend", suspend.into())
    }

    /// Probed at `url` quickly enough for a test: every second (the shortest interval allowed), down after two failures, and a
    /// rollout that is not healthy within a minute fails.
    pub fn health(self, url: &str) -> Self {
        self.set(
            "health",
            json!({"url": url, "interval": "1s", "timeout": "1s", "failureThreshold": 2,
                   "progressDeadline": "60s"}),
        )
    }

    /// The whole `spec.health`, as given.
    pub fn health_spec(self, health: Value) -> Self {
        self.set("health", health)
    }

    /// A field of `spec` as given, replacing what was there.
    pub fn set(mut self, field: &str, value: Value) -> Self {
        self.spec.insert(field.to_string(), value);
        self
    }

    /// JSON merged into the manifest last, as a JSON merge patch (RFC 7386): objects merge
    /// key by key and `null` removes a key.
    pub fn merge(mut self, patch: Value) -> Self {
        self.patches.push(patch);
        self
    }

    pub fn to_json(&self) -> Value {
        let (name, version) = (&self.name, &self.version);
        let source = match &self.source {
            Source::VersionedImage => json!({"image": format!("registry.local/{name}:{version}")}),
            Source::Image(image) => json!({"image": image}),
            Source::VersionedGit => json!({"git": {
                "url": format!("https://git.chitty.local/{name}.git"),
                "revision": format!("v{version}"),
            }}),
        };
        let mut spec = Map::new();
        spec.insert("type".into(), "worker".into());
        spec.insert("version".into(), version.as_str().into());
        spec.insert("environment".into(), self.environment.as_str().into());
        spec.insert("source".into(), source);
        spec.extend(self.spec.clone());
        let mut manifest = json!({
            "apiVersion": "chitty.cc/v1alpha1", "kind": "ChittyService",
            "metadata": {"name": name},
            "spec": spec,
        });
        for patch in &self.patches {
            merge_patch(&mut manifest, patch.clone());
        }
        manifest
    }

    /// Server-side applies the manifest as the test's field manager, taking over any field
    /// another manager (a `kubectl patch`, a merge patch) set since.
    pub async fn apply(&self, services: &Api<ChittyService>) {
        services
            .patch(
                &self.name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&self.to_json()),
            )
            .await
            .unwrap_or_else(|e| panic!("applying ChittyService {}: {e}", self.name));
    }
}

/// A RouteClaim made by hand: `host` at every path (`/*`) for `service`.
pub fn route_claim(name: &str, host: &str, service: &str) -> Value {
    json!({
        "apiVersion": "chitty.cc/v1alpha1", "kind": "RouteClaim",
        "metadata": {"name": name},
        "spec": {"host": host, "path": "/*", "serviceRef": {"name": service}},
    })
}

/// Server-side applies a RouteClaim manifest as the test's field manager.
pub async fn apply_claim(claims: &Api<RouteClaim>, manifest: &Value) {
    let name = manifest["metadata"]["name"]
        .as_str()
        .expect("a named claim");
    claims
        .patch(name, &PatchParams::apply("test"), &Patch::Apply(manifest))
        .await
        .unwrap_or_else(|e| panic!("applying RouteClaim {name}: {e}"));
}

fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let fields = target.as_object_mut().unwrap();
    for (key, value) in patch {
        if value.is_null() {
            fields.remove(&key);
        } else {
            merge_patch(fields.entry(key).or_insert(Value::Null), value);
        }
    }
}
