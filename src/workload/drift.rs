//! Which fields the operator set on an object no longer hold the values it set: the comparison
//! behind continuous convergence.
//!
//! The desired object is what the operator would apply; the live object is what the cache holds.
//! Only fields the operator sets are compared (a field present in the desired JSON): the API
//! server adds defaults (`imagePullPolicy`, `terminationMessagePath`, ...) and other managers add
//! fields of their own, and none of those is drift. Lists of objects are matched by their key
//! (`name`, `containerPort`, `port`), as server-side apply merges them, and resource quantities
//! are compared by value, because the server rewrites `0.5` as `500m`: a comparison that read
//! such a rewrite as drift would re-apply the object forever.

use serde_json::Value;

/// Paths (`spec.template.spec.containers[service].image`) of the fields whose live value differs
/// from the desired one, or that are missing; empty when the live object is converged.
pub fn differences(desired: &Value, live: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(desired, live, String::new(), &mut out);
    out
}

fn walk(desired: &Value, live: &Value, path: String, out: &mut Vec<String>) {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                let here = join(&path, key);
                match have.get(key) {
                    // A desired null means "not set by us" (an omitted optional field).
                    _ if value.is_null() => {}
                    Some(found) => walk(value, found, here, out),
                    None => out.push(here),
                }
            }
        }
        (Value::Array(want), Value::Array(have)) if want.iter().all(Value::is_object) => {
            for (i, item) in want.iter().enumerate() {
                let (label, found) = match list_key(item) {
                    Some((key, id)) => {
                        (id.to_string(), have.iter().find(|h| h.get(key) == Some(id)))
                    }
                    None => (i.to_string(), have.get(i)),
                };
                let here = format!("{path}[{}]", label.trim_matches('"'));
                match found {
                    Some(found) => walk(item, found, here, out),
                    None => out.push(here),
                }
            }
            if is_exclusive_list(&path) {
                for extra in have.iter().filter(|h| !has_entry(want, h)) {
                    let label = list_key(extra).map_or("?".to_string(), |(_, id)| id.to_string());
                    out.push(format!("{path}[{}] (added)", label.trim_matches('"')));
                }
            }
        }
        (Value::String(want), Value::String(have)) if is_quantity_path(&path) => {
            if quantity(want) != quantity(have) {
                out.push(path);
            }
        }
        (Value::Number(want), Value::String(have)) | (Value::String(have), Value::Number(want))
            if is_quantity_path(&path) =>
        {
            if want.as_f64() != quantity(have) {
                out.push(path);
            }
        }
        _ if desired == live => {}
        _ => out.push(path),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The merge key of an element of a list, as server-side apply uses it for the lists the
/// operator writes (container ports by number; containers, env and volumes by name; service
/// ports by port; volume mounts by path).
fn list_key(item: &Value) -> Option<(&'static str, &Value)> {
    ["containerPort", "name", "port", "mountPath"]
        .into_iter()
        .find_map(|key| item.get(key).map(|v| (key, v)))
}

fn has_entry(list: &[Value], item: &Value) -> bool {
    match list_key(item) {
        Some((key, id)) => list.iter().any(|w| w.get(key) == Some(id)),
        None => true,
    }
}

/// Lists inside the service's own container are the operator's alone: an entry someone added
/// (a port, an environment variable, a mount) is drift too. Elsewhere, entries others add (a
/// sidecar container, a label) are theirs and stay.
pub fn is_exclusive_list(path: &str) -> bool {
    path.contains("containers[service]")
        && [".ports", ".env", ".volumeMounts"]
            .iter()
            .any(|list| path.ends_with(list))
}

/// The lists of the service's own container that hold entries the desired object does not:
/// server-side apply leaves entries other managers added, so these are replaced outright. Each
/// is a JSON pointer into the live object and the list it should hold.
pub fn foreign_entries(desired: &Value, live: &Value) -> Vec<(String, Value)> {
    let container = |obj: &Value| -> Option<(usize, Value)> {
        let list = obj.pointer("/spec/template/spec/containers")?.as_array()?;
        list.iter()
            .position(|c| c.get("name") == Some(&Value::from("service")))
            .map(|i| (i, list[i].clone()))
    };
    let (Some((_, want)), Some((at, have))) = (container(desired), container(live)) else {
        return vec![];
    };
    ["ports", "env", "volumeMounts"]
        .into_iter()
        .filter_map(|list| {
            let wanted = want
                .get(list)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let present = have.get(list)?.as_array()?;
            present.iter().any(|h| !has_entry(&wanted, h)).then(|| {
                let pointer = format!("/spec/template/spec/containers/{at}/{list}");
                (pointer, Value::Array(wanted))
            })
        })
        .collect()
}

fn is_quantity_path(path: &str) -> bool {
    path.contains("resources.requests.") || path.contains("resources.limits.")
}

/// A Kubernetes quantity as a number (`500m` = 0.5, `1Gi` = 1073741824), `None` when it is not
/// one; enough precision to tell the values people write apart.
fn quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(image: &str, port: i64) -> Value {
        json!({"metadata": {"name": "web", "labels": {"chitty.cc/service": "web"}},
               "spec": {"replicas": 2, "template": {"spec": {"containers": [
                   {"name": "service", "image": image, "ports": [{"name": "http", "containerPort": port}],
                    "resources": {"requests": {"cpu": "0.5", "memory": "128Mi"}}}]}}}})
    }

    #[test]
    fn defaults_and_fields_of_other_managers_are_not_drift() {
        let desired = deployment("r/web:1", 8080);
        let mut live = desired.clone();
        live["metadata"]["labels"]["team"] = json!("payments");
        live["metadata"]["resourceVersion"] = json!("42");
        let container = &mut live["spec"]["template"]["spec"]["containers"][0];
        container["imagePullPolicy"] = json!("IfNotPresent");
        container["resources"]["requests"]["cpu"] = json!("500m");
        live["status"] = json!({"replicas": 2});
        assert!(
            differences(&desired, &live).is_empty(),
            "{:?}",
            differences(&desired, &live)
        );
    }

    #[test]
    fn a_hand_edited_image_and_port_are_named() {
        let desired = deployment("r/web:1", 8080);
        let live = deployment("r/web:evil", 9090);
        assert_eq!(
            differences(&desired, &live),
            [
                "spec.template.spec.containers[service].image",
                "spec.template.spec.containers[service].ports[8080]",
                "spec.template.spec.containers[service].ports[9090] (added)",
            ]
        );
    }

    #[test]
    fn containers_are_matched_by_name_not_position() {
        let desired = deployment("r/web:1", 8080);
        let mut live = desired.clone();
        let ours = live["spec"]["template"]["spec"]["containers"][0].clone();
        live["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "sidecar", "image": "x"}, ours]);
        assert!(differences(&desired, &live).is_empty());
    }

    #[test]
    fn a_missing_field_and_a_changed_replica_count_are_drift() {
        let desired = deployment("r/web:1", 8080);
        let mut live = desired.clone();
        live["spec"]["replicas"] = json!(7);
        live["metadata"]["labels"].as_object_mut().unwrap().clear();
        assert_eq!(
            differences(&desired, &live),
            ["metadata.labels.chitty.cc/service", "spec.replicas"]
        );
    }

    #[test]
    fn quantities_compare_by_value() {
        assert_eq!(quantity("500m"), quantity("0.5"));
        assert_eq!(quantity("1Gi"), Some(1073741824.0));
        assert_eq!(quantity("1e3"), quantity("1k"));
        assert_ne!(quantity("128Mi"), quantity("128M"));
        assert_eq!(quantity("lots"), None);
    }

    #[test]
    fn an_entry_added_to_the_services_own_lists_is_replaced_outright() {
        let desired = deployment("r/web:1", 8080);
        let mut live = desired.clone();
        let ports = &mut live["spec"]["template"]["spec"]["containers"][0]["ports"];
        ports
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "debug", "containerPort": 9999}));
        assert_eq!(
            differences(&desired, &live),
            ["spec.template.spec.containers[service].ports[9999] (added)"]
        );
        let fix = foreign_entries(&desired, &live);
        assert_eq!(fix.len(), 1);
        assert_eq!(fix[0].0, "/spec/template/spec/containers/0/ports");
        assert_eq!(
            fix[0].1,
            desired["spec"]["template"]["spec"]["containers"][0]["ports"]
        );
        assert!(foreign_entries(&desired, &desired).is_empty());
    }
}
