//! A client whose every request ends within a bound. The Lease is renewed through it: a renewal
//! that hangs would otherwise keep a replica believing it leads after its Lease ran out.

use std::time::Duration;

use kube::Client;
use kube::client::Body;

/// Wraps `client` (keeping its user agent, credentials and write counting) so that a request
/// without response headers after `timeout` fails.
pub fn with_request_timeout(client: Client, timeout: Duration) -> Client {
    let namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let client = client.clone();
        async move {
            match tokio::time::timeout(timeout, client.send(request)).await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(error)) => Err(tower::BoxError::from(error)),
                Err(_) => Err(tower::BoxError::from(format!(
                    "the API server did not answer within {timeout:?}"
                ))),
            }
        }
    });
    Client::new(service, namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::Api;

    /// An "API server" that accepts connections and never answers.
    async fn silent_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn a_request_the_server_never_answers_fails_after_the_timeout() {
        let (addr, server) = silent_server().await;
        let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
        let client = with_request_timeout(
            Client::try_from(config).unwrap(),
            Duration::from_millis(200),
        );
        let leases: Api<Lease> = Api::namespaced(client, "default");
        let outcome = tokio::time::timeout(Duration::from_secs(30), leases.get("x")).await;
        let error = outcome
            .expect("the bounded client gave up on its own")
            .expect_err("no answer is an error");
        assert!(error.to_string().contains("did not answer"), "{error}");
        server.abort();
    }
}
