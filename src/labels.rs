//! Label and annotation keys the operator puts on the objects it makes.

/// The ChittyService an object belongs to.
pub const SERVICE: &str = "chitty.cc/service";
/// The revision hash an object was made for.
pub const REVISION: &str = "chitty.cc/revision";
/// Marks objects this operator manages, for selectors and `kubectl get -l`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGER: &str = "chitty-operator";
/// Field manager name for server-side apply.
pub const FIELD_MANAGER: &str = "chitty-operator";
