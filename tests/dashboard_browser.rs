//! The dashboard in a real browser: headless Chromium (Debian's package, through chromedriver)
//! loads `GET /` from an operator running in-process against the local control plane, and the
//! test reads what a person would: the services with their phase, a rollout's health step
//! counting on and another rollout going from Ready to rolled back, all on one page load;
//! failures with their reasons, a route conflict, the environment filter. A screenshot is saved
//! to `target/artifacts/dashboard.png`.

mod common;
#[path = "web/slow_health.rs"]
mod slow_health;
#[path = "web/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::time::Duration;

use chitty_operator::clients::SecretToken;
use chitty_operator::sim::{self, SimConfig};
use common::health_server::HealthServer;
use common::manifest::ServiceManifest;
use common::{TestEnv, service};
use serde_json::json;
use slow_health::SlowHealth;
use webdriver::Browser;

/// A service with an identity, probed at `health`; its rollout has five minutes to be healthy.
fn manifest(name: &str, version: &str, environment: &str, health: &str) -> ServiceManifest {
    service(name)
        .version(version)
        .environment(environment)
        .set("identity", json!({"jurisdiction": "USA", "region": 1}))
        .health(health)
        .merge(json!({"spec": {"health": {"progressDeadline": "5m"}}}))
}

/// Waits until the rendered text of `css` satisfies `check`; on timeout, fails with what the
/// whole page showed.
async fn until_text(
    browser: &Browser,
    css: &str,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    until_text_within(browser, css, what, Duration::from_secs(90), check).await
}

async fn until_text_within(
    browser: &Browser,
    css: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(text) = browser.text(css).await
            && check(&text)
        {
            return text;
        }
        if tokio::time::Instant::now() > deadline {
            let page = browser.run("return document.body.innerText").await;
            panic!(
                "timed out waiting for {what} ({css}); the page showed:\n{}",
                page.as_str().unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `k` from the health step's "k/100 checks passed".
fn checks_passed(text: &str) -> Option<u32> {
    let end = text.find("/100 checks passed")?;
    let digits: String = text[..end]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

/// How many of the 100 checks the rollout card still waits for (all of them if it cannot tell).
async fn card_checks_left(browser: &Browser, card: &str) -> u32 {
    let passed = browser
        .text(card)
        .await
        .as_deref()
        .and_then(checks_passed)
        .unwrap_or(0);
    100u32.saturating_sub(passed)
}

fn artifacts() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo().join("target"))
        .join("artifacts")
}

#[tokio::test]
async fn a_person_sees_the_fleet_live_in_the_dashboard() {
    assert!(
        std::path::Path::new(webdriver::CHROMIUM).exists(),
        "Debian's chromium is needed: apt-get install chromium chromium-driver (scripts/test.sh does)"
    );
    let sim = sim::spawn_local(SimConfig::default()).await.unwrap();
    let sim_url = sim.base_url();
    let env = TestEnv::with("dashboard", move |config, _| {
        config.ecosystem.chitty_id_url = Some(sim_url.clone());
        config.ecosystem.chitty_id_token = Some(SecretToken::new("sim-token"));
        config.ecosystem.timeout = Duration::from_secs(2);
    })
    .await;
    let n = env.ns().to_string();

    let (ok, broken, flaky) = (
        HealthServer::start().await,
        HealthServer::start().await,
        HealthServer::start().await,
    );
    let slow = SlowHealth::start(Duration::from_secs(2)).await;
    broken.set_status(500);
    env.apply(&manifest("chittyid", "2.1.0", "production", &ok.url))
        .await;
    // Healthy, but 2 s to say so, and it takes 100 checks in a row to pass: the rollout stays at
    // its health step, counting up, while the test looks.
    let rolling = manifest("chittyrental", "1.3.0", "staging", &slow.url)
        .merge(json!({"spec": {"health": {"successThreshold": 100, "timeout": "5s"}}}));
    env.apply(&rolling).await;
    env.apply(&manifest("chittyledger", "0.1.0", "staging", &broken.url))
        .await;
    env.apply(&manifest("chittycharge", "1.0.0", "staging", &flaky.url))
        .await;

    let browser = Browser::launch().await;
    browser.goto(&env.operator().url("/")).await;
    let row = |name: &str| format!("tr[data-service='{n}/{name}']");
    // Everything below is seen on this one page load: it updates itself.
    browser.run("window.__sameDocument = 'yes'").await;

    until_text(&browser, &row("chittycharge"), "chittycharge Ready", |t| {
        t.contains("Ready")
    })
    .await;
    flaky.set_status(503);
    env.apply(&manifest("chittycharge", "1.1.0", "staging", &flaky.url))
        .await;
    env.apply_claim("charge-on-mcp", "mcp.chitty.cc", "chittycharge")
        .await;
    env.apply_claim("ledger-on-mcp", "mcp.chitty.cc", "chittyledger")
        .await;

    // Every service, its phase in words (and colour), version, environment, ChittyID and URL.
    let id_row = until_text(
        &browser,
        &row("chittyid"),
        "chittyid Ready with an ID",
        |t| t.contains("✓ Ready") && t.contains("03-1-USA-"),
    )
    .await;
    for expected in ["2.1.0", "production", "healthy", "http://chittyid."] {
        assert!(id_row.contains(expected), "{expected} in: {id_row}");
    }
    until_text(&browser, &row("chittyledger"), "chittyledger Failed", |t| {
        t.contains("✗ Failed")
    })
    .await;
    until_text(
        &browser,
        &row("chittycharge"),
        "chittycharge Degraded",
        |t| t.contains("▲ Degraded") && t.contains("keeps serving"),
    )
    .await;
    let rental_row = until_text(
        &browser,
        &row("chittyrental"),
        "chittyrental rolling",
        |t| t.contains("↻ Progressing"),
    )
    .await;
    assert!(rental_row.contains("no URL yet"), "{rental_row}");

    // Failures and rollbacks with their reasons.
    let failed = until_text(
        &browser,
        &format!("[data-failure='{n}/chittyledger']"),
        "the ledger failure",
        |t| t.contains("Failed"),
    )
    .await;
    assert!(failed.contains("500"), "{failed}");
    let rolled = until_text(
        &browser,
        &format!("[data-failure='{n}/chittycharge']"),
        "the charge rollback",
        |t| t.contains("Rolled back"),
    )
    .await;
    assert!(
        rolled.contains("503") && rolled.contains("back to"),
        "{rolled}"
    );

    // The route conflict, with holder and loser.
    let conflict = until_text(
        &browser,
        "[data-conflict='mcp.chitty.cc/']",
        "the mcp.chitty.cc conflict",
        |t| t.contains("lost:"),
    )
    .await;
    assert!(
        conflict.contains(&format!("held by {n}/charge-on-mcp"))
            && conflict.contains(&format!("lost: {n}/ledger-on-mcp")),
        "{conflict}"
    );

    // The rollout in progress at its health step, counting checks as the page watches.
    let card = format!("[data-rollout='{n}/chittyrental']");
    let rollout = until_text(&browser, &card, "the chittyrental rollout at health", |t| {
        t.contains("Step health") && checks_passed(t).is_some()
    })
    .await;
    assert!(
        rollout.contains("In progress") && rollout.contains("1.3.0"),
        "{rollout}"
    );
    assert!(
        rollout.contains("✓ deploy") && rollout.contains("● health") && rollout.contains("%"),
        "{rollout}"
    );
    let before = checks_passed(&rollout).unwrap();
    let later = until_text(&browser, &card, "the health step counting on", |t| {
        checks_passed(t).is_some_and(|n| n > before)
    })
    .await;
    assert!(later.contains("Step health"), "{later}");

    browser.screenshot(&artifacts().join("dashboard.png")).await;

    // Filter by environment, as a person picks it from the list.
    browser
        .find("#filter-environment option[value='production']")
        .await
        .unwrap()
        .click()
        .await;
    let table = until_text(&browser, "#services", "only production services", |t| {
        !t.contains("chittyrental")
    })
    .await;
    assert!(table.contains("chittyid"), "{table}");
    browser
        .find("#filter-environment option[value='']")
        .await
        .unwrap()
        .click()
        .await;
    until_text(&browser, "#services", "all services again", |t| {
        t.contains("chittyrental")
    })
    .await;

    // Health answers at once now: the step finishes its checks and the rollout completes. The
    // checks still left keep to the 1 s interval, and a busy machine stretches each one, so
    // the wait is sized by what is left rather than a fixed minute and a half.
    slow.set_delay(Duration::ZERO);
    let left = card_checks_left(&browser, &card).await;
    until_text_within(
        &browser,
        &row("chittyrental"),
        "chittyrental Ready",
        Duration::from_secs(60) + Duration::from_secs(2) * left,
        |t| t.contains("✓ Ready") && t.contains("http://chittyrental."),
    )
    .await;
    let panel = until_text(&browser, "#rollouts", "the rollout left the panel", |t| {
        !t.contains("chittyrental")
    })
    .await;
    assert!(panel.contains("No rollouts in progress"), "{panel}");
    assert_eq!(
        browser.run("return window.__sameDocument").await,
        json!("yes"),
        "the page updated itself; it was not reloaded"
    );

    browser.quit().await;
    env.teardown().await;
}
