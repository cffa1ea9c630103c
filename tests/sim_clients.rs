//! The clients against the real stand-in over real HTTP, including its fault modes. Assertions
//! are on outcomes and counters, never on how long something took (except lower bounds that a
//! correct client cannot miss).

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use chitty_operator::clients::chitty_id::format::ChittyId;
use chitty_operator::clients::resilience::BreakerState;
use chitty_operator::clients::{
    BreakerConfig, CallError, ChittyIdClient, ChittyIdConfig, ClientMetrics, EventType,
    IdentityAuthority, IdentityError, MintRequest, NotificationEvent, NotificationSink, Notifier,
    NotifierConfig, RateLimitConfig, RegisterOutcome, RegistryClient, RegistryConfig,
    RegistryError, RegistryRecord, ResilienceConfig, RetireOutcome, RetryPolicy, SecretToken,
    ServiceRegistry,
};
use chitty_operator::sim::{self, SimConfig, SimHandle};
use serde_json::{Value, json};

use common::http;
use common::sim_admin::{get_json, set_fault, stats};

mod common;

const TOKEN: &str = "sim-token";

async fn start() -> SimHandle {
    sim::spawn_local(SimConfig::default()).await.unwrap()
}

/// Short timeouts and delays so failures resolve in milliseconds.
fn fast(max_retries: u32, failure_threshold: u32) -> ResilienceConfig {
    ResilienceConfig {
        timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            jitter: 0.25,
            max_retry_after: Duration::from_secs(5),
        },
        breaker: BreakerConfig {
            failure_threshold,
            window: Duration::from_secs(30),
            cool_down: Duration::from_secs(30),
        },
    }
}

fn roomy_rate_limit() -> RateLimitConfig {
    RateLimitConfig {
        per_minute: NonZeroU32::new(10_000).unwrap(),
        burst: NonZeroU32::new(1_000).unwrap(),
    }
}

fn id_client_with(sim: &SimHandle, token: &str, resilience: ResilienceConfig) -> ChittyIdClient {
    let mut cfg = ChittyIdConfig::new(sim.base_url(), SecretToken::new(token));
    cfg.resilience = resilience;
    cfg.rate_limit = roomy_rate_limit();
    ChittyIdClient::new(cfg, ClientMetrics::default()).unwrap()
}

fn id_client(sim: &SimHandle) -> ChittyIdClient {
    id_client_with(sim, TOKEN, fast(3, 3))
}

fn registry_client(
    sim: &SimHandle,
    token: Option<&str>,
    resilience: ResilienceConfig,
) -> RegistryClient {
    let mut cfg = RegistryConfig::new(sim.base_url(), token.map(SecretToken::new));
    cfg.resilience = resilience;
    RegistryClient::new(cfg, ClientMetrics::default()).unwrap()
}

fn notifier(sim: &SimHandle, channel: &str) -> Notifier {
    let mut cfg = NotifierConfig::new(
        channel,
        format!("{}/notify/{channel}", sim.base_url()),
        None,
    );
    cfg.resilience = fast(3, 5);
    Notifier::new(cfg, ClientMetrics::default()).unwrap()
}

fn record(id: &ChittyId, version: &str) -> RegistryRecord {
    let mut r = RegistryRecord::service(id, "billing", version);
    r.description = "Billing service".into();
    r.endpoints = vec![
        "https://billing.example".into(),
        "https://billing.example/health".into(),
    ];
    r.metadata.insert("environment".into(), json!("staging"));
    r
}

fn event(kind: EventType) -> NotificationEvent {
    NotificationEvent {
        event: kind,
        chitty_id: Some("03-1-USA-0955-T-2605-1-37".into()),
        name: "billing".into(),
        namespace: "prod".into(),
        version: "1.2.0".into(),
        environment: "production".into(),
        url: Some("https://billing.example".into()),
        duration_ms: Some(4200),
        deployment: "billing-7".into(),
        timestamp: None,
        plan: None,
    }
}

// ---- ChittyID ----

#[tokio::test]
async fn mint_is_idempotent_per_key() {
    let sim = start().await;
    let client = id_client(&sim);
    let req = MintRequest::service();
    let first = client.mint(&req, "uid-1").await.unwrap();
    let again = client.mint(&req, "uid-1").await.unwrap();
    assert_eq!(first.id, again.id);
    let s = stats(&sim).await;
    assert_eq!(s["id"]["mintCalls"], 2);
    assert_eq!(s["id"]["idsMinted"], 1);
    assert_eq!(s["id"]["idempotentReplays"], 1);
}

#[tokio::test]
async fn minted_ids_are_valid_services_with_increasing_sequences() {
    let sim = start().await;
    let client = id_client(&sim);
    let a = client.mint(&MintRequest::service(), "a").await.unwrap().id;
    let b = client.mint(&MintRequest::service(), "b").await.unwrap().id;
    assert!(b.sequence() > a.sequence());
    for id in [&a, &b] {
        assert_eq!(ChittyId::parse(&id.to_string()).as_ref(), Ok(id));
        assert_eq!(id.components().jurisdiction, "USA");
        assert_eq!(id.components().version, 3);
    }
}

#[tokio::test]
async fn fallback_id_is_rejected_and_not_recorded_under_the_key() {
    let sim = start().await;
    let client = id_client(&sim);
    set_fault(&sim, "id", json!({"mode": "fallback", "count": 1})).await;
    let err = client.mint(&MintRequest::service(), "k").await.unwrap_err();
    assert_eq!(
        err,
        IdentityError::Fallback {
            code: "MINT_UNAVAILABLE".into()
        }
    );
    assert_eq!(err.condition_reason(), "AuthorityUnavailable");
    // Once the authority recovers, the same key gets a real identity.
    let ok = client.mint(&MintRequest::service(), "k").await.unwrap();
    assert_eq!(ok.id.components().region, 1);
    assert_eq!(stats(&sim).await["id"]["idsMinted"], 1);
}

#[tokio::test]
async fn bad_check_digits_are_an_invalid_identity() {
    let sim = start().await;
    let client = id_client(&sim);
    set_fault(&sim, "id", json!({"mode": "invalid", "count": 1})).await;
    let err = client.mint(&MintRequest::service(), "k").await.unwrap_err();
    assert!(
        matches!(&err, IdentityError::InvalidIdentity { reason } if reason.contains("check digits")),
        "{err:?}"
    );
    assert_eq!(err.condition_reason(), "InvalidIdentity");
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let sim = start().await;
    let metrics = ClientMetrics::default();
    let mut cfg = ChittyIdConfig::new(sim.base_url(), SecretToken::new(TOKEN));
    cfg.resilience = fast(3, 10);
    cfg.rate_limit = roomy_rate_limit();
    let client = ChittyIdClient::new(cfg, metrics.clone()).unwrap();
    set_fault(
        &sim,
        "id",
        json!({"mode": "error", "status": 503, "count": 2}),
    )
    .await;
    let minted = client.mint(&MintRequest::service(), "k").await.unwrap();
    assert_eq!(minted.id.sequence(), 1);
    let s = stats(&sim).await;
    assert_eq!(s["id"]["mintCalls"], 3);
    assert_eq!(s["id"]["idsMinted"], 1);
    assert_eq!(metrics.retries("chittyid"), 2);
}

#[tokio::test]
async fn breaker_opens_after_three_failures_and_stops_calling() {
    let sim = start().await;
    let client = id_client_with(&sim, TOKEN, fast(10, 3));
    set_fault(&sim, "id", json!({"mode": "error", "status": 500})).await;
    let err = client.mint(&MintRequest::service(), "k").await.unwrap_err();
    assert!(
        matches!(
            err,
            IdentityError::Unavailable(CallError::CircuitOpen { .. })
        ),
        "{err:?}"
    );
    assert_eq!(client.breaker_state(), BreakerState::Open);
    let again = client.mint(&MintRequest::service(), "k").await.unwrap_err();
    assert!(matches!(
        again,
        IdentityError::Unavailable(CallError::CircuitOpen { .. })
    ));
    assert_eq!(again.condition_reason(), "AuthorityUnavailable");
    assert!(again.retry_after().is_some());
    assert_eq!(stats(&sim).await["id"]["mintCalls"], 3);
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured() {
    let sim = start().await;
    let client = id_client(&sim);
    set_fault(
        &sim,
        "id",
        json!({"mode": "ratelimit", "retryAfterSecs": 1, "count": 1}),
    )
    .await;
    let started = Instant::now();
    client.mint(&MintRequest::service(), "k").await.unwrap();
    // A lower bound only: the client must not have come back before the server allowed it.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(stats(&sim).await["id"]["mintCalls"], 2);
}

#[tokio::test]
async fn a_long_retry_after_is_reported_for_requeue() {
    let sim = start().await;
    let client = id_client(&sim);
    set_fault(
        &sim,
        "id",
        json!({"mode": "ratelimit", "retryAfterSecs": 120}),
    )
    .await;
    let err = client.mint(&MintRequest::service(), "k").await.unwrap_err();
    assert_eq!(
        err,
        IdentityError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(err.condition_reason(), "RateLimited");
    assert_eq!(stats(&sim).await["id"]["mintCalls"], 1);
}

#[tokio::test]
async fn outage_ends_in_a_timeout_error() {
    let sim = start().await;
    let mut resilience = fast(1, 10);
    resilience.timeout = Duration::from_millis(200);
    let client = id_client_with(&sim, TOKEN, resilience);
    set_fault(&sim, "id", json!({"mode": "outage"})).await;
    let err = client.mint(&MintRequest::service(), "k").await.unwrap_err();
    assert_eq!(
        err,
        IdentityError::Unavailable(CallError::Timeout(Duration::from_millis(200)))
    );
    assert_eq!(stats(&sim).await["id"]["mintCalls"], 2);
}

#[tokio::test]
async fn unreachable_authority_is_unavailable() {
    // Bind then drop a listener to get a port nobody answers on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = ChittyIdConfig::new(format!("http://127.0.0.1:{port}"), SecretToken::new(TOKEN));
    cfg.resilience = fast(1, 10);
    let client = ChittyIdClient::new(cfg, ClientMetrics::default()).unwrap();
    let err = client.mint(&MintRequest::service(), "k").await.unwrap_err();
    assert!(
        matches!(err, IdentityError::Unavailable(CallError::Network(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn wrong_token_is_unauthorized_and_never_shown() {
    let sim = start().await;
    let secret = "wrong-secret-token-value";
    let client = id_client_with(&sim, secret, fast(3, 3));
    let err = client.mint(&MintRequest::service(), "k").await.unwrap_err();
    assert_eq!(err, IdentityError::Unauthorized { status: 403 });
    assert!(!format!("{err} {err:?} {client:?}").contains(secret));
    assert_eq!(
        stats(&sim).await["id"]["mintCalls"],
        1,
        "auth failures are not retried"
    );
}

#[tokio::test]
async fn mint_without_a_usable_key_is_refused_before_sending() {
    let sim = start().await;
    let client = id_client(&sim);
    for key in ["", "two words"] {
        let err = client.mint(&MintRequest::service(), key).await.unwrap_err();
        assert_eq!(err, IdentityError::InvalidKey);
    }
    assert_eq!(stats(&sim).await["id"]["mintCalls"], 0);
}

#[tokio::test]
async fn unauthorized_fault_maps_to_unauthorized() {
    let sim = start().await;
    let client = id_client(&sim);
    set_fault(&sim, "id", json!({"mode": "unauthorized", "count": 1})).await;
    let err = client.mint(&MintRequest::service(), "k").await.unwrap_err();
    assert_eq!(err, IdentityError::Unauthorized { status: 401 });
}

#[tokio::test]
async fn client_side_mint_rate_limit_holds() {
    let sim = start().await;
    let mut cfg = ChittyIdConfig::new(sim.base_url(), SecretToken::new(TOKEN));
    cfg.resilience = fast(0, 10);
    cfg.rate_limit = RateLimitConfig {
        per_minute: NonZeroU32::new(10).unwrap(),
        burst: NonZeroU32::new(3).unwrap(),
    };
    let client = ChittyIdClient::new(cfg, ClientMetrics::default()).unwrap();
    let mut limited = 0;
    for i in 0..8 {
        match client.mint(&MintRequest::service(), &format!("k{i}")).await {
            Ok(_) => {}
            Err(IdentityError::RateLimited {
                retry_after: Some(_),
            }) => limited += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(limited, 5);
    assert_eq!(stats(&sim).await["id"]["mintCalls"], 3);
}

#[tokio::test]
async fn validate_endpoint_agrees_with_the_format() {
    let sim = start().await;
    let post = |id: &'static str| {
        let url = format!("{}/api/validate", sim.base_url());
        async move {
            http()
                .post(url)
                .json(&json!({"id": id}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let good = post("03-1-USA-0955-T-2605-1-37").await;
    assert_eq!(good["valid"], true);
    assert_eq!(good["components"]["checksum"], "37");
    assert_eq!(post("03-1-USA-0955-T-2605-1-38").await["valid"], false);
    let err = post("03-0-ERR-0001-T-2605-0-92").await;
    assert_eq!(
        (err["valid"].clone(), err["fallback"].clone()),
        (json!(false), json!(true))
    );
}

#[tokio::test]
async fn state_file_keeps_ids_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        state_file: Some(dir.path().join("state.json")),
        ..SimConfig::default()
    };
    let first_sim = sim::spawn_local(config.clone()).await.unwrap();
    let first = id_client(&first_sim)
        .mint(&MintRequest::service(), "uid-1")
        .await
        .unwrap();
    drop(first_sim);
    let second_sim = sim::spawn_local(config).await.unwrap();
    let client = id_client(&second_sim);
    let replay = client.mint(&MintRequest::service(), "uid-1").await.unwrap();
    assert_eq!(replay.id, first.id);
    let next = client.mint(&MintRequest::service(), "uid-2").await.unwrap();
    assert!(next.id.sequence() > first.id.sequence());
}

// ---- ChittyRegistry ----

#[tokio::test]
async fn registry_upserts_reads_and_retires_a_record() {
    let sim = start().await;
    let client = registry_client(&sim, Some(TOKEN), fast(3, 5));
    let id = id_client(&sim)
        .mint(&MintRequest::service(), "u")
        .await
        .unwrap()
        .id;
    let key = id.to_string();

    assert_eq!(
        client.register(&record(&id, "1.0.0")).await,
        Ok(RegisterOutcome::Created)
    );
    let stored = client.get(&key).await.unwrap().unwrap();
    assert_eq!(stored.record.status.as_deref(), Some("active"));
    assert_eq!(stored.record.health.as_deref(), Some("unknown"));
    assert!(stored.registered_at.is_some());

    let mut update = record(&id, "1.1.0");
    update.health = Some("healthy".into());
    assert_eq!(client.register(&update).await, Ok(RegisterOutcome::Updated));
    let stored = client.get(&key).await.unwrap().unwrap();
    assert_eq!(stored.record.version, "1.1.0");
    assert_eq!(stored.record.health.as_deref(), Some("healthy"));
    assert!(stored.last_health_check.is_some_and(|v| v.is_string()));

    let manifest = get_json(&sim, "/api/v1/manifest").await;
    assert_eq!(manifest["count"], 1);
    assert!(
        manifest["content_hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    assert_eq!(client.retire(&key).await, Ok(RetireOutcome::Retired));
    assert_eq!(client.retire(&key).await, Ok(RetireOutcome::AlreadyAbsent));
    assert_eq!(client.get(&key).await, Ok(None));
    let s = stats(&sim).await;
    assert_eq!(
        (
            s["registry"]["creates"].clone(),
            s["registry"]["updates"].clone(),
            s["registry"]["deletes"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
}

#[tokio::test]
async fn registry_write_without_token_is_read_only() {
    let sim = start().await;
    let id = ChittyId::parse("03-1-USA-0955-T-2605-1-37").unwrap();
    for token in [None, Some("not-the-token")] {
        let client = registry_client(&sim, token, fast(3, 5));
        let err = client.register(&record(&id, "1")).await.unwrap_err();
        assert_eq!(err, RegistryError::ReadOnly);
        assert_eq!(err.condition_reason(), "RegistryReadOnly");
        assert_eq!(
            client.retire(&id.to_string()).await,
            Err(RegistryError::ReadOnly)
        );
        // Reads stay public.
        assert_eq!(client.get(&id.to_string()).await, Ok(None));
    }
    assert_eq!(stats(&sim).await["registry"]["readOnlyRejections"], 4);
}

#[tokio::test]
async fn registry_forbidden_is_distinct_from_read_only() {
    let sim = start().await;
    let client = registry_client(&sim, Some(TOKEN), fast(3, 5));
    set_fault(
        &sim,
        "registry",
        json!({"mode": "unauthorized", "status": 403}),
    )
    .await;
    let id = ChittyId::parse("03-1-USA-0955-T-2605-1-37").unwrap();
    let err = client.register(&record(&id, "1")).await.unwrap_err();
    assert_eq!(err, RegistryError::Unauthorized { status: 403 });
    assert_eq!(err.condition_reason(), "RegistryUnauthorized");
}

#[tokio::test]
async fn registry_breaker_opens_after_five_failures() {
    let sim = start().await;
    let client = registry_client(&sim, Some(TOKEN), fast(10, 5));
    set_fault(&sim, "registry", json!({"mode": "error", "status": 502})).await;
    let id = ChittyId::parse("03-1-USA-0955-T-2605-1-37").unwrap();
    let err = client.register(&record(&id, "1")).await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unavailable(CallError::CircuitOpen { .. })
        ),
        "{err:?}"
    );
    let again = client.retire(&id.to_string()).await.unwrap_err();
    assert!(matches!(
        again,
        RegistryError::Unavailable(CallError::CircuitOpen { .. })
    ));
    assert_eq!(stats(&sim).await["requests"]["POST /api/v1/tools"], 5);
}

#[tokio::test]
async fn registry_recovers_from_transient_errors() {
    let sim = start().await;
    let client = registry_client(&sim, Some(TOKEN), fast(3, 5));
    set_fault(
        &sim,
        "registry",
        json!({"mode": "error", "status": 503, "count": 2}),
    )
    .await;
    let id = ChittyId::parse("03-1-USA-0955-T-2605-1-37").unwrap();
    assert_eq!(
        client.register(&record(&id, "1")).await,
        Ok(RegisterOutcome::Created)
    );
    assert_eq!(stats(&sim).await["registry"]["writes"], 1);
}

// ---- Notifications ----

#[tokio::test]
async fn notify_duplicate_key_is_deduped_but_counted() {
    let sim = start().await;
    let sink = notifier(&sim, "context");
    let deployed = event(EventType::ServiceDeployed);
    let key = deployed.idempotency_key();
    sink.send(&deployed, &key).await.unwrap();
    sink.send(&deployed, &key).await.unwrap();
    let rolled = event(EventType::ServiceRolledBack);
    sink.send(&rolled, &rolled.idempotency_key()).await.unwrap();

    let listed = get_json(&sim, "/notify/context").await;
    assert_eq!(listed["count"], 2);
    assert_eq!(listed["duplicates"], 1);
    assert_eq!(listed["events"][0]["deliveries"], 2);
    assert_eq!(listed["events"][0]["idempotencyKey"], key.as_str());
    assert_eq!(listed["events"][0]["event"]["event"], "service_deployed");
    assert_eq!(
        listed["events"][0]["event"]["chittyId"],
        "03-1-USA-0955-T-2605-1-37"
    );
    let s = stats(&sim).await;
    assert_eq!(
        (
            s["notify"]["received"].clone(),
            s["notify"]["duplicates"].clone()
        ),
        (json!(3), json!(1))
    );
}

#[tokio::test]
async fn notify_retries_through_a_failing_receiver() {
    let sim = start().await;
    let sink = notifier(&sim, "hooks");
    set_fault(
        &sim,
        "notify",
        json!({"mode": "error", "status": 500, "count": 1}),
    )
    .await;
    let e = event(EventType::ServiceDegraded);
    sink.send(&e, &e.idempotency_key()).await.unwrap();
    assert_eq!(get_json(&sim, "/notify/hooks").await["count"], 1);
}

#[tokio::test]
async fn notify_outage_fails_without_hanging() {
    let sim = start().await;
    let mut cfg = NotifierConfig::new("slow", format!("{}/notify/slow", sim.base_url()), None);
    cfg.resilience = fast(0, 5);
    cfg.resilience.timeout = Duration::from_millis(150);
    let sink = Notifier::new(cfg, ClientMetrics::default()).unwrap();
    set_fault(&sim, "notify", json!({"mode": "outage"})).await;
    let e = event(EventType::ServiceDeployed);
    let err = sink.send(&e, &e.idempotency_key()).await.unwrap_err();
    assert!(matches!(
        err,
        chitty_operator::clients::NotifyError::Unavailable(CallError::Timeout(_))
    ));
}

// ---- The sim itself ----

#[tokio::test]
async fn sim_health_and_simulated_service_health() {
    let sim = start().await;
    let h = get_json(&sim, "/health").await;
    assert_eq!(
        (h["status"].clone(), h["service"].clone()),
        (json!("ok"), json!("chitty-sim"))
    );
    let url = format!("{}/svc/billing/health", sim.base_url());
    assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    let set = http()
        .put(format!("{}/_sim/svc/billing", sim.base_url()))
        .json(&json!({"status": "degraded"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let resp = http().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "degraded");
}

#[tokio::test]
async fn sim_refuses_nonsense_faults() {
    let sim = start().await;
    let put = |service: &str, body: Value| {
        http()
            .put(format!("{}/_sim/faults/{service}", sim.base_url()))
            .json(&body)
            .send()
    };
    assert_eq!(
        put("dns", json!({"mode": "error"})).await.unwrap().status(),
        404
    );
    assert_eq!(
        put("registry", json!({"mode": "fallback"}))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        put("id", json!({"mode": "explode"}))
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn client_metrics_are_exported() {
    let sim = start().await;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = ClientMetrics::register(&mut registry);
    let mut cfg = ChittyIdConfig::new(sim.base_url(), SecretToken::new(TOKEN));
    cfg.resilience = fast(3, 10);
    let client = ChittyIdClient::new(cfg, metrics).unwrap();
    set_fault(&sim, "id", json!({"mode": "error", "count": 1})).await;
    client.mint(&MintRequest::service(), "k").await.unwrap();
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"chitty_client_retries_total{service="chittyid"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"chitty_client_breaker_state{service="chittyid"} 0"#));
    assert!(
        text.contains(
            r#"chitty_client_requests_total{service="chittyid",outcome="server_error"} 1"#
        )
    );
}
