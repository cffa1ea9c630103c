//! A service's own page in a real browser (headless Chromium through chromedriver, as in
//! `dashboard_browser`): reached from the fleet table, it draws the service's rollouts as a
//! timeline of step durations, shows the advisor's plan with its reasons, draws probe latency
//! over time and the dependency graph around the service with a cycle marked. A screenshot is
//! saved to `target/artifacts/service-page.png`.

mod common;
#[path = "web/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::time::Duration;

use common::health_server::HealthServer;
use common::{TestEnv, service};
use serde_json::{Value, json};
use webdriver::Browser;

fn artifacts() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo().join("target"))
        .join("artifacts")
}

/// Runs `script` in the page until its result satisfies `check`; on timeout, fails with what
/// the page showed.
async fn until(
    browser: &Browser,
    what: &str,
    script: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let value = browser.run(script).await;
        if check(&value) {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            let page = browser.run("return document.body.innerText").await;
            panic!(
                "timed out waiting for {what} (last: {value}); the page showed:\n{}",
                page.as_str().unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The text of every element matching `css` inside the page, as a JSON list.
fn texts(css: &str) -> String {
    format!(
        "return [...document.querySelectorAll({})].map(e => e.textContent)",
        json!(css)
    )
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_person_reads_a_service_from_its_pictures() {
    assert!(
        std::path::Path::new(webdriver::CHROMIUM).exists(),
        "Debian's chromium is needed: apt-get install chromium chromium-driver (scripts/test.sh does)"
    );
    let env = TestEnv::new("svcpage").await;
    let n = env.ns().to_string();
    let healthy = HealthServer::start().await;
    // Two rollouts of the service the page is about, so the timeline has rows to compare.
    env.apply(&service("chittyauth").health(&healthy.url)).await;
    env.wait_ready("chittyauth").await;
    // Three healthy probes in a row, a second apart: the health step takes a while.
    let second = service("chittyauth")
        .version("1.1.0")
        .health(&healthy.url)
        .merge(json!({"spec": {"health": {"successThreshold": 3}}}));
    env.apply(&second).await;
    env.wait_ready_at("chittyauth", "1.1.0").await;
    // Two services that wait on each other (and on chittyauth): neither can ever roll out.
    env.apply(&service("chittycart").depends_on(&["chittyauth", "chittypay"]))
        .await;
    env.apply(&service("chittypay").depends_on(&["chittycart"]))
        .await;

    let browser = Browser::launch().await;
    // From the fleet table, as a person gets there: the service's name links to its page.
    browser.goto(&env.operator().url("/")).await;
    let link = format!("tr[data-service='{n}/chittyauth'] a.service-link");
    until(
        &browser,
        "the link to chittyauth's page",
        &texts(&link),
        |v| !strings(v).is_empty(),
    )
    .await;
    browser.find(&link).await.unwrap().click().await;
    until(
        &browser,
        "the service page",
        "return location.pathname",
        |v| v.as_str() == Some(&format!("/services/{n}/chittyauth")),
    )
    .await;

    let heading = until(
        &browser,
        "the page's heading",
        &texts("#service-where"),
        |v| {
            strings(v)
                .first()
                .is_some_and(|t| t.contains("version 1.1.0"))
        },
    )
    .await;
    assert!(strings(&heading)[0].starts_with(&n), "{heading}");
    let name = browser.text("#service-name").await;
    assert_eq!(name.as_deref(), Some("chittyauth"));

    // The timeline: both rollouts, newest first, each step a bar with its duration.
    let rows = until(
        &browser,
        "two rollouts in the timeline",
        &texts("svg[data-chart='timeline'] .rollout-row"),
        |v| strings(v).len() == 2,
    )
    .await;
    let rows = strings(&rows);
    assert!(
        rows[0].starts_with("1.1.0") && rows[1].starts_with("1.0.0"),
        "{rows:?}"
    );
    let steps = browser
        .run(
            "return [...document.querySelectorAll(\"svg[data-chart='timeline'] .rollout-row:first-of-type .step\")]
               .map(g => [g.dataset.step, g.dataset.phase, Number(g.querySelector('rect').getAttribute('width'))])",
        )
        .await;
    let steps = steps.as_array().unwrap();
    let names: Vec<&str> = steps.iter().filter_map(|s| s[0].as_str()).collect();
    for expected in ["deploy", "health"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    assert!(
        steps.iter().all(|s| s[2].as_f64().unwrap() > 0.0),
        "every step has a bar: {steps:?}"
    );

    // The plan, its decision and the reasons for it.
    let plan = until(
        &browser,
        "the advisor's plan",
        &texts("#plan .panel-body"),
        |v| {
            strings(v)
                .first()
                .is_some_and(|t| t.contains("Why") && t.contains("Confidence"))
        },
    )
    .await;
    let reasons = browser.run(&texts("#plan .reasons li")).await;
    assert!(!strings(&reasons).is_empty(), "reasons listed: {plan}");
    let decision = browser
        .run("return document.querySelector('#plan [data-plan]').dataset.plan")
        .await;
    assert!(
        ["Immediate", "Canary", "Wait", "Abort"].contains(&decision.as_str().unwrap_or("")),
        "{decision}"
    );

    // Health and latency over time: a dot a probe (every second), all healthy.
    let summary = until(
        &browser,
        "at least three probes drawn",
        "return [document.querySelectorAll(\"svg[data-chart='latency'] circle\").length,
                 document.querySelectorAll(\"svg[data-chart='latency'] circle[data-ok='false']\").length,
                 document.querySelector(\"svg[data-chart='latency'] [data-summary]\")?.textContent]",
        |v| v[0].as_u64().is_some_and(|n| n >= 3),
    )
    .await;
    assert_eq!(summary[1], 0, "no failed probe: {summary}");
    assert!(
        summary[2].as_str().unwrap().contains("probes healthy"),
        "{summary}"
    );

    // The dependency graph: the two that wait on each other are a marked cycle; chittyauth,
    // which they wait on, is not in it.
    let cycle_mark = |css: String| format!("document.querySelector({})?.dataset.cycle", json!(css));
    let node = |name: &str| cycle_mark(format!("svg[data-chart='graph'] [data-node='{n}/{name}']"));
    let edge = cycle_mark(format!(
        "svg[data-chart='graph'] [data-edge='{n}/chittycart->{n}/chittypay']"
    ));
    let script = format!(
        "return [{}, {}, {}, {edge}]",
        node("chittycart"),
        node("chittypay"),
        node("chittyauth")
    );
    let cycle = until(&browser, "the cycle in the graph", &script, |v| {
        v[0] == "true"
    })
    .await;
    assert_eq!(cycle, json!(["true", "true", "false", "true"]));
    let labels = browser.run(&texts("svg[data-chart='graph'] .node")).await;
    let labels = strings(&labels).join(" | ");
    assert!(
        labels.contains("chittyauth") && labels.contains("↻ cycle"),
        "{labels}"
    );
    let legend = browser
        .run(&texts("svg[data-chart='graph'] [data-legend]"))
        .await;
    assert!(strings(&legend)[0].contains("dependency cycle"), "{legend}");

    browser
        .screenshot(&artifacts().join("service-page.png"))
        .await;
    browser.quit().await;
    env.teardown().await;
}
