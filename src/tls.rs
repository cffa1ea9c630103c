//! rustls needs one process-wide crypto provider; the operator uses ring everywhere.

pub fn install_default_provider() {
    // Errors only when a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
