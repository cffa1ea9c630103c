//! The operator's read API against a real control plane: a fleet in several states (Ready,
//! rolling out, rolled back, conflicted on a route), answered in the documented shapes, checked
//! against the live /openapi.json; 400s for bad input; the bearer token.

mod common;
#[path = "web/slow_health.rs"]
mod slow_health;
use std::time::Duration;

use chitty_operator::clients::SecretToken;
use chitty_operator::config::OperatorConfig;
use chitty_operator::sim::{self, SimConfig, SimHandle};
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::{TestEnv, service};
use reqwest::StatusCode;
use serde_json::{Value, json};
use slow_health::SlowHealth;

const TOKEN: &str = "web-api-test-token";

fn http() -> reqwest::Client {
    chitty_operator::tls::install_default_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The operator's HTTP port, as a client holding (or not) the token sees it.
struct Port {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Port {
    fn new(operator: &common::RunningOperator, token: Option<&str>) -> Self {
        Self {
            http: http(),
            base: operator.url(""),
            token: token.map(str::to_string),
        }
    }

    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("GET {path} ({status}) is not JSON ({e}): {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Status, content type and body of a response that is not JSON.
    async fn get_text(&self, path: &str) -> (StatusCode, String, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, content_type, response.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[]).await
    }

    /// Polls `path` until it answers 200 with a body `check` accepts.
    async fn until(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        common::eventually(
            what,
            || async { self.get(path).await },
            |r: &Reply| r.status == StatusCode::OK && check(&r.body),
        )
        .await
        .body
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// Checks live responses against the OpenAPI document the operator serves.
struct Contract {
    doc: Value,
}

impl Contract {
    async fn fetch(port: &Port) -> Self {
        let reply = port.get("/openapi.json").await;
        assert_eq!(reply.status, StatusCode::OK);
        Self { doc: reply.body }
    }

    /// The schema the document gives for `status` of `GET template`, `$ref`s to shared
    /// responses followed.
    fn schema(&self, template: &str, status: StatusCode) -> Value {
        let operation = &self.doc["paths"][template]["get"];
        assert!(operation.is_object(), "{template} is not documented");
        let mut response = &operation["responses"][status.as_str()];
        assert!(
            response.is_object(),
            "{template} does not document status {status}"
        );
        if let Some(r) = response["$ref"].as_str() {
            response = self.doc.pointer(r.trim_start_matches('#')).unwrap();
        }
        response["content"]["application/json"]["schema"].clone()
    }

    /// Fails the test with every violation when `reply` does not match its documented schema.
    fn check(&self, template: &str, reply: &Reply) {
        let schema = self.schema(template, reply.status);
        // The response schema, with the document's components beside it so `#/components/...`
        // references resolve as they do in the document.
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema for {template} compiles: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&reply.body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "GET {template} ({}) does not match /openapi.json:\n{}\nbody: {:#}",
            reply.status,
            errors.join("\n"),
            reply.body
        );
    }
}

/// A service with an identity, probed at `health`; its rollout has five minutes to be healthy.
fn manifest(name: &str, version: &str, environment: &str, health: &str) -> ServiceManifest {
    service(name)
        .version(version)
        .environment(environment)
        .set("capabilities", json!(["deploy-status-test"]))
        .set("identity", json!({"jurisdiction": "USA", "region": 1}))
        .health(health)
        .merge(json!({"spec": {"health": {"progressDeadline": "5m"}}}))
}

fn entry<'a>(summary: &'a Value, service: &str) -> &'a Value {
    summary["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["service"] == service)
        .unwrap_or_else(|| panic!("{service} is not in {summary:#}"))
}

fn status_of(summary: &Value, service: &str) -> Option<String> {
    summary["deployments"]
        .as_array()?
        .iter()
        .find(|d| d["service"] == service)
        .and_then(|d| d["status"].as_str())
        .map(str::to_string)
}

/// An operator that mints identities at the stand-in and wants the token on its API.
fn with_identity(sim: &SimHandle) -> impl Fn(&mut OperatorConfig, &str) + Send + Sync + 'static {
    let url = sim.base_url();
    move |config, _| {
        config.ecosystem.chitty_id_url = Some(url.clone());
        config.ecosystem.chitty_id_token = Some(SecretToken::new("sim-token"));
        config.ecosystem.timeout = Duration::from_secs(2);
        config.web.api_token = Some(SecretToken::new(TOKEN));
    }
}

#[tokio::test]
async fn a_fleet_in_several_states_is_served_in_the_documented_shapes() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let env = TestEnv::with("web-fleet", with_identity(&sim)).await;
    let port = Port::new(env.operator(), Some(TOKEN));
    let n = env.ns();

    let (ok, flaky) = (HealthServer::start().await, HealthServer::start().await);
    let slow = SlowHealth::start(Duration::from_secs(2)).await;
    env.apply(&manifest("chittyid", "2.1.0", "production", &ok.url))
        .await;
    // Healthy, but slow to say so, and it takes 100 checks in a row to pass: the rollout stays
    // at its health step.
    let rolling = manifest("chittyrental", "1.0.0", "staging", &slow.url)
        .merge(json!({"spec": {"health": {"successThreshold": 100, "timeout": "5s"}}}));
    env.apply(&rolling).await;
    env.apply(&manifest("chittycharge", "1.0.0", "staging", &flaky.url))
        .await;
    let summary = format!("/api/deploy/status?namespace={n}");
    port.until(&summary, "chittycharge 1.0.0 completed", |s| {
        status_of(s, "chittycharge").as_deref() == Some("completed")
    })
    .await;
    flaky.set_status(503);
    env.apply(&manifest("chittycharge", "1.1.0", "staging", &flaky.url))
        .await;
    // Claims on services whose phase the test does not pin: a claim holds its service's Ready
    // until it is decided.
    env.apply_claim("charge-on-mcp", "mcp.chitty.cc", "chittycharge")
        .await;
    env.apply_claim("rental-on-mcp", "mcp.chitty.cc", "chittyrental")
        .await;

    let body = port
        .until(&summary, "ready, rolling out and rolled back", |s| {
            status_of(s, "chittyid").as_deref() == Some("completed")
                && status_of(s, "chittycharge").as_deref() == Some("rolled_back")
                && s["deployments"].as_array().unwrap().iter().any(|d| {
                    d["service"] == "chittyrental"
                        && d["status"] == "in_progress"
                        && d["currentStep"] == "health"
                })
        })
        .await;

    // GET /api/deploy/status
    let contract = Contract::fetch(&port).await;
    let reply = port.get(&summary).await;
    contract.check("/api/deploy/status", &reply);
    let ready = entry(&body, "chittyid");
    assert_eq!(ready["progress"], 1.0);
    assert_eq!(ready["namespace"], n);
    assert_eq!(ready["environment"], "production");
    assert!(
        ready["chittyId"].as_str().unwrap().starts_with("03-"),
        "{ready}"
    );
    assert!(ready["deployedAt"].is_string() && ready["duration"].is_i64());
    let rolling = entry(&body, "chittyrental");
    let progress = rolling["progress"].as_f64().unwrap();
    assert!(progress > 0.0 && progress < 1.0, "{rolling}");
    assert!(rolling["deployedAt"].is_null());
    let step = |name: &str| {
        rolling["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["phase"].as_str().unwrap().to_string())
    };
    assert_eq!(step("deploy").as_deref(), Some("Succeeded"));
    assert_eq!(step("health").as_deref(), Some("Running"));
    let rolled = entry(&body, "chittycharge");
    assert_eq!(rolled["version"], "1.1.0");
    assert!(
        rolled["error"].as_str().unwrap().contains("503"),
        "{rolled}"
    );
    assert!(rolled["rolledBackTo"].is_string());
    assert_eq!(
        body["overall"],
        json!({"total": 3, "completed": 1, "in_progress": 1, "pending": 0, "failed": 1,
               "rolled_back": 1, "successRate": 0.33})
    );

    // Filters and paging.
    let only = port
        .get(&format!(
            "/api/deploy/status?namespace={n}&status=rolled_back"
        ))
        .await;
    contract.check("/api/deploy/status", &only);
    assert_eq!(only.body["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(only.body["deployments"][0]["service"], "chittycharge");
    let attention = port
        .get(&format!(
            "/api/deploy/status?namespace={n}&status=in_progress,rolled_back"
        ))
        .await;
    contract.check("/api/deploy/status", &attention);
    assert_eq!(attention.body["overall"]["total"], 2, "{attention:?}");
    let prod = port
        .get(&format!(
            "/api/deploy/status?namespace={n}&environment=production"
        ))
        .await;
    assert_eq!(prod.body["overall"]["total"], 1);
    let first = port.get(&format!("{summary}&limit=2")).await;
    contract.check("/api/deploy/status", &first);
    let token = first.body["continue"]
        .as_str()
        .expect("a second page")
        .to_string();
    let second = port
        .get(&format!("{summary}&limit=2&continue={token}"))
        .await;
    assert!(second.body["continue"].is_null());
    let names = |r: &Reply| -> Vec<String> {
        r.body["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["service"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        [names(&first), names(&second)].concat(),
        ["chittycharge", "chittyid", "chittyrental"],
        "two pages, sorted, nothing twice"
    );
    let page2 = port.get(&format!("{summary}&page=2&pageSize=2")).await;
    assert_eq!(names(&page2), ["chittyrental"]);
    assert_eq!(
        page2.body["overall"]["total"], 3,
        "overall counts every page"
    );

    // GET /api/deploy/status/{namespace}/{service}
    let history = port
        .get(&format!("/api/deploy/status/{n}/chittycharge"))
        .await;
    contract.check("/api/deploy/status/{namespace}/{service}", &history);
    let rollouts = history.body["deployments"].as_array().unwrap();
    assert_eq!(rollouts.len(), 2, "{:#}", history.body);
    assert_eq!(rollouts[0]["version"], "1.1.0", "newest first");
    assert_eq!(rollouts[0]["status"], "rolled_back");
    assert_eq!(rollouts[1]["status"], "completed");
    assert_eq!(rollouts[0]["rolledBackTo"], rollouts[1]["deploymentId"]);
    assert_eq!(history.body["phase"], "Degraded");
    let health_step = rollouts[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "health")
        .unwrap();
    assert_eq!(health_step["phase"], "Failed");
    assert!(health_step["message"].as_str().unwrap().contains("503"));
    let missing = port
        .get(&format!("/api/deploy/status/{n}/nothing-here"))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    contract.check("/api/deploy/status/{namespace}/{service}", &missing);

    // GET /api/services/{namespace}/{service}/health: the serving revision's recent probes.
    let health_path = "/api/services/{namespace}/{service}/health";
    port.until(
        &format!("/api/services/{n}/chittycharge/health"),
        "chittycharge's probes",
        |r| r["samples"].as_array().is_some_and(|s| !s.is_empty()),
    )
    .await;
    let probes = port
        .get(&format!("/api/services/{n}/chittycharge/health"))
        .await;
    contract.check(health_path, &probes);
    assert_eq!(probes.body["service"], "chittycharge");
    let nothing = port
        .get(&format!("/api/services/{n}/nothing-here/health"))
        .await;
    assert_eq!(nothing.status, StatusCode::NOT_FOUND);
    contract.check(health_path, &nothing);

    // GET /api/services, once chittyid's route claim is decided (a pending route holds Ready).
    let phase_of = |body: &Value, name: &str| {
        body["services"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name))
            .map(|s| s["phase"].clone())
    };
    let services_path = format!("/api/services?namespace={n}");
    port.until(&services_path, "chittyid Ready", |b| {
        phase_of(b, "chittyid") == Some(json!("Ready"))
    })
    .await;
    let listing = port.get(&services_path).await;
    contract.check("/api/services", &listing);
    assert_eq!(listing.body["success"], true);
    assert_eq!(listing.body["count"], 3);
    let record = listing.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "chittyid")
        .unwrap();
    assert_eq!(record["entity_type"], "T");
    assert_eq!(record["phase"], "Ready");
    assert_eq!(record["status"], "ready");
    let url = record["url"].as_str().unwrap();
    assert_eq!(record["endpoints"], json!([url, format!("{url}/health")]));
    let degraded = listing.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "chittycharge")
        .unwrap();
    assert!(
        degraded["metadata"]["last_failure"]
            .as_str()
            .unwrap()
            .contains("503")
    );

    // GET /.well-known/chitty.json: only services with both an identity and a URL.
    let discovery = port
        .until("/.well-known/chitty.json", "chittyid listed", |d| {
            d["services"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|s| s["name"] == "chittyid" && s["namespace"] == n)
            })
        })
        .await;
    let reply = port.get("/.well-known/chitty.json").await;
    contract.check("/.well-known/chitty.json", &reply);
    let mine: Vec<&Value> = discovery["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["namespace"] == n)
        .collect();
    let listed: Vec<&str> = mine.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(listed.contains(&"chittyid"), "{listed:?}");
    assert!(
        !listed.contains(&"chittyrental"),
        "minted but never served, so it has no URL: {listed:?}"
    );
    assert_eq!(discovery["ecosystem"], "ChittyOS");
    assert_eq!(
        discovery["capabilities"]["api"]["authentication"],
        json!(["bearer_token"])
    );

    // GET /api/admin/routes, served by the RouteClaim controller.
    let routes = port
        .until("/api/admin/routes", "the mcp.chitty.cc conflict", |r| {
            r["conflicts"].as_array().is_some_and(|c| {
                c.iter().any(|c| {
                    c["host"] == "mcp.chitty.cc"
                        && c["losers"].as_array().is_some_and(|l| !l.is_empty())
                })
            })
        })
        .await;
    let reply = port.get("/api/admin/routes").await;
    contract.check("/api/admin/routes", &reply);
    let conflict = routes["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["host"] == "mcp.chitty.cc")
        .unwrap();
    assert_eq!(
        conflict["holder"],
        format!("{n}/charge-on-mcp"),
        "the older claim holds"
    );
    assert_eq!(conflict["losers"], json!([format!("{n}/rental-on-mcp")]));

    // GET /openapi.json describes exactly what is served: every documented path answers, a
    // chart path once for each documented chart, with an SVG picture.
    for (template, item) in contract.doc["paths"].as_object().unwrap() {
        let path = template
            .replace("{namespace}", n)
            .replace("{service}", "chittyid");
        let charts = item["get"]["parameters"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "chart"))
            .map(|p| p["schema"]["enum"].clone());
        let Some(charts) = charts else {
            let reply = port.get(&path).await;
            assert_eq!(reply.status, StatusCode::OK, "GET {path}");
            continue;
        };
        for chart in charts.as_array().unwrap() {
            let path = path.replace("{chart}", chart.as_str().unwrap());
            let (status, content_type, body) = port.get_text(&path).await;
            assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
            assert!(content_type.starts_with("image/svg+xml"), "{content_type}");
            assert!(
                body.starts_with("<svg") && body.ends_with("</svg>"),
                "{body}"
            );
        }
    }

    env.teardown().await;
}

#[tokio::test]
async fn the_discovery_document_revalidates_with_its_etag() {
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let env = TestEnv::with("web-etag", with_identity(&sim)).await;
    let port = Port::new(env.operator(), None);
    let health = HealthServer::start().await;

    let first = common::eventually(
        "the discovery document is served",
        || async { port.get("/.well-known/chitty.json").await },
        |r| r.status == StatusCode::OK,
    )
    .await;
    let etag = first.headers["etag"].to_str().unwrap().to_string();
    let cache = first.headers["cache-control"].to_str().unwrap();
    assert!(cache.contains("max-age"), "{cache}");
    let again = port
        .get_with("/.well-known/chitty.json", &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_null(), "a 304 has no body");

    env.apply(&manifest("chittyauth", "1.0.0", "production", &health.url))
        .await;
    let n = env.ns().to_string();
    let changed = common::eventually(
        "the new service changes the document and its ETag",
        || async {
            port.get_with("/.well-known/chitty.json", &[("if-none-match", &etag)])
                .await
        },
        |r| {
            r.status == StatusCode::OK
                && r.body["services"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["name"] == "chittyauth" && s["namespace"] == n)
        },
    )
    .await;
    assert_ne!(changed.headers["etag"].to_str().unwrap(), etag);
    env.teardown().await;
}

#[tokio::test]
async fn bad_parameters_are_answered_with_a_json_400() {
    let env = TestEnv::new("web-bad").await;
    let port = Port::new(env.operator(), None);
    port.until("/api/services", "the API is serving", |_| true)
        .await;
    let contract = Contract::fetch(&port).await;

    let bad = [
        ("/api/deploy/status?status=done", "status"),
        ("/api/deploy/status?namespace=Not_A_Name", "namespace"),
        ("/api/deploy/status?service=", "service"),
        ("/api/deploy/status?environment=dev", "environment"),
        ("/api/deploy/status?limit=0", "limit"),
        ("/api/deploy/status?limit=100000", "limit"),
        ("/api/deploy/status?limit=abc", "limit"),
        ("/api/deploy/status?continue=not-a-token", "continue"),
        ("/api/deploy/status?page=0", "page"),
        ("/api/deploy/status?pageSize=-1", "pageSize"),
        ("/api/deploy/status?nmespace=a", "nmespace"),
        ("/api/deploy/status?namespace=a&namespace=b", "namespace"),
        ("/api/services?status=ready", "status"),
        ("/api/deploy/status?status=failed,nope", "status"),
        ("/api/services?page=%ff", "page"),
    ];
    for (path, parameter) in bad {
        let reply = port.get(path).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "GET {path}: {reply:?}"
        );
        assert_eq!(reply.body["code"], "BAD_REQUEST", "GET {path}");
        assert_eq!(reply.body["parameter"], parameter, "GET {path}: {reply:?}");
        let template = path.split('?').next().unwrap();
        contract.check(template, &reply);
    }
    let mixed = port.get("/api/deploy/status?limit=5&page=2").await;
    assert_eq!(mixed.status, StatusCode::BAD_REQUEST);
    assert!(mixed.body["error"].as_str().unwrap().contains("not both"));

    let bad_path = port.get("/api/deploy/status/Bad_Namespace/chittyid").await;
    assert_eq!(bad_path.status, StatusCode::BAD_REQUEST);
    contract.check("/api/deploy/status/{namespace}/{service}", &bad_path);
    env.teardown().await;
}

#[tokio::test]
async fn the_api_needs_the_token_from_the_secret_file_and_discovery_stays_public() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let token_file = file.clone();
    let env = TestEnv::with("web-token", move |config, _| {
        config.web.api_token_file = Some(token_file.clone());
    })
    .await;
    let anonymous = Port::new(env.operator(), None);
    let wrong = Port::new(env.operator(), Some("web-api-test-tokem"));
    let right = Port::new(env.operator(), Some(TOKEN));
    right
        .until("/api/services", "the API is serving", |_| true)
        .await;
    let contract = Contract::fetch(&anonymous).await;

    for (path, template) in [
        ("/api/services", "/api/services"),
        ("/api/deploy/status", "/api/deploy/status"),
        (
            "/api/deploy/status/a/b",
            "/api/deploy/status/{namespace}/{service}",
        ),
        ("/api/admin/routes", "/api/admin/routes"),
        ("/api/anything", ""),
    ] {
        for port in [&anonymous, &wrong] {
            let reply = port.get(path).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "GET {path}");
            assert_eq!(reply.body["code"], "UNAUTHORIZED");
            assert!(
                reply.headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer")
            );
            assert!(
                !reply.body.to_string().contains(TOKEN),
                "the token is never echoed"
            );
            if !template.is_empty() {
                contract.check(template, &reply);
            }
        }
    }
    assert_eq!(right.get("/api/services").await.status, StatusCode::OK);
    assert_eq!(right.get("/api/admin/routes").await.status, StatusCode::OK);
    for public in ["/.well-known/chitty.json", "/openapi.json", "/", "/healthz"] {
        let status = anonymous
            .http
            .get(format!("{}{public}", anonymous.base))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK, "GET {public} without a token");
    }
    env.teardown().await;
}
