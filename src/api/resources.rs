//! The schema of `spec.resources`: Kubernetes' own `ResourceRequirements`, with what the
//! apiserver would refuse only later, in the service's Deployment, refused at admission instead:
//! every value must be a quantity. The maps and values are bounded like every other list in the
//! spec.

use schemars::{Schema, SchemaGenerator, json_schema};

/// Resource names a pod asks for are few (cpu, memory, ephemeral-storage, a device or two).
const MAX_RESOURCES: u32 = 16;
/// `<sign><number><suffix>`: a decimal number, then a binary (Ki..Ei), decimal (n, u, m, k, M..E)
/// or exponent (e3, E-2) suffix.
const QUANTITY: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";
/// The longest quantity anyone writes is far shorter.
const MAX_QUANTITY_LENGTH: u32 = 64;

fn quantities(what: &str, example: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "description": format!("{what}, by resource name (for example {example})."),
        "maxProperties": MAX_RESOURCES,
        "additionalProperties": {
            "x-kubernetes-int-or-string": true,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "maxLength": MAX_QUANTITY_LENGTH,
            // Kubernetes' quantity grammar (a pattern applies to the string form only). A CEL
            // `isQuantity` rule would say the same, but its estimated cost on a value that may
            // be an integer or an unbounded string is over the apiserver's budget.
            "pattern": QUANTITY,
        }
    })
}

pub fn schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "description": "Compute resources for each pod of the service.",
        "properties": {
            "requests": quantities("The least each pod is given", "cpu: 500m, memory: 256Mi"),
            "limits": quantities("The most each pod may use", "cpu: 1, memory: 1Gi"),
        }
    })
}
