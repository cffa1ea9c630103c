//! The model's request, the strict reading of its answer, and the rule that it may only add
//! caution.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;

use super::*;

fn now() -> Timestamp {
    "2026-11-30T10:12:07Z".parse().unwrap()
}

/// A chat-completions response whose one choice says `content`.
fn reply(content: &str) -> String {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }],
    })
    .to_string()
}

fn canary_rules() -> Advice {
    Advice {
        plan: Plan::Canary {
            percent: 10,
            monitor: Duration::from_secs(600),
        },
        confidence: 0.85,
        reasons: vec!["a critical service in production".into()],
    }
}

fn immediate_rules() -> Advice {
    Advice {
        plan: Plan::Immediate,
        confidence: 0.95,
        reasons: vec!["a patch change with a steady history and healthy dependencies".into()],
    }
}

fn answer(decision: Decision, percent: Option<i32>, reason: &str) -> ModelAnswer {
    ModelAnswer {
        decision,
        percent,
        reason: reason.into(),
    }
}

fn error_of(content: &str) -> String {
    parse_answer(&reply(content)).expect_err(content)
}

#[test]
fn the_request_asks_for_strict_json_with_the_facts_and_the_rules_plan() {
    let facts = json!({"service": "chittycharge", "environment": "production"});
    let body = request_body("gpt-test", &facts, &canary_rules());
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap();
    assert!(
        system.contains(r#"{"decision": "immediate|canary|wait|abort", "percent": <1-50, canary only>, "reason": "<one sentence>"}"#),
        "{system}"
    );
    assert_eq!(messages[1]["role"], "user");
    let user = messages[1]["content"].as_str().unwrap();
    let document: serde_json::Value = serde_json::from_str(&user[user.find('{').unwrap()..])
        .expect("the user message carries one JSON document");
    assert_eq!(document["facts"], facts);
    assert_eq!(document["rules"]["decision"], "canary");
    assert_eq!(document["rules"]["percent"], 10);
    assert_eq!(document["rules"]["monitor"], "10m");
    assert_eq!(document["rules"]["confidence"], 0.85);
    assert_eq!(
        document["rules"]["reasons"],
        json!(["a critical service in production"])
    );
}

#[test]
fn a_wait_plan_is_described_with_its_time_and_reason() {
    let rules = Advice {
        plan: Plan::Wait {
            until: "2026-11-30T10:13:00Z".parse().unwrap(),
            reason: "dependency chittyid is down".into(),
        },
        confidence: 0.9,
        reasons: vec!["dependency chittyid is down".into()],
    };
    let body = request_body("m", &json!({}), &rules);
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains(r#""decision":"wait""#), "{user}");
    assert!(user.contains("2026-11-30T10:13:00Z"), "{user}");
}

#[test]
fn a_well_formed_answer_parses() {
    let parsed = parse_answer(&reply(
        r#"  {"decision": "canary", "percent": 5, "reason": "Friday evening traffic."}
"#,
    ));
    assert_eq!(
        parsed,
        Ok(answer(Decision::Canary, Some(5), "Friday evening traffic."))
    );
    let without_percent = parse_answer(&reply(r#"{"decision":"Wait","reason":"r"}"#));
    assert_eq!(without_percent, Ok(answer(Decision::Wait, None, "r")));
    let null_percent = parse_answer(&reply(
        r#"{"decision":"abort","percent":null,"reason":"r"}"#,
    ));
    assert_eq!(null_percent, Ok(answer(Decision::Abort, None, "r")));
}

#[test]
fn the_reason_is_kept_to_one_bounded_line() {
    let long = format!("line one\nline two {}", "x".repeat(1000));
    let content = json!({"decision": "abort", "reason": long}).to_string();
    let parsed = parse_answer(&reply(&content)).unwrap();
    assert!(parsed.reason.starts_with("line one line two x"));
    assert_eq!(parsed.reason.chars().count(), 300);
}

#[test]
fn a_reply_that_is_not_a_chat_completion_is_an_error() {
    let not_json = parse_answer("<html>bad gateway</html>").unwrap_err();
    assert!(
        not_json.starts_with("the advisor model's reply is not JSON"),
        "{not_json}"
    );
    let no_choices = parse_answer(r#"{"error": "overloaded"}"#).unwrap_err();
    assert!(
        no_choices.contains("no text at choices[0].message.content"),
        "{no_choices}"
    );
    let refused = json!({"choices": [{"message": {"content": null, "refusal": "no"}}]});
    assert!(
        parse_answer(&refused.to_string())
            .unwrap_err()
            .contains("choices[0].message.content")
    );
}

#[test]
fn prose_or_markdown_around_the_json_is_an_error() {
    for content in [
        r#"Sure! {"decision":"wait","reason":"r"}"#,
        r#"{"decision":"wait","reason":"r"} Hope this helps."#,
        "```json\n{\"decision\":\"wait\",\"reason\":\"r\"}\n```",
        "wait",
    ] {
        let e = error_of(content);
        assert!(
            e.starts_with("the advisor model did not answer with one JSON object"),
            "{content}: {e}"
        );
    }
    let e = error_of(r#"["wait"]"#);
    assert!(e.contains("JSON but not an object"), "{e}");
}

#[test]
fn an_unknown_key_is_an_error() {
    let e = error_of(r#"{"decision":"wait","reason":"r","confidence":0.9}"#);
    assert_eq!(
        e,
        r#"the advisor model's answer has the unknown key "confidence"; only decision, percent and reason are allowed"#
    );
}

#[test]
fn a_missing_or_unknown_decision_is_an_error() {
    assert_eq!(
        error_of(r#"{"reason":"r"}"#),
        "the advisor model's answer has no decision"
    );
    assert_eq!(
        error_of(r#"{"decision":"yolo","reason":"r"}"#),
        r#"the advisor model's decision "yolo" is not one of immediate, canary, wait, abort"#
    );
    assert!(error_of(r#"{"decision":3,"reason":"r"}"#).contains("decision 3 is not one of"));
}

#[test]
fn a_missing_or_empty_reason_is_an_error() {
    assert_eq!(
        error_of(r#"{"decision":"wait"}"#),
        "the advisor model's answer has no reason"
    );
    assert_eq!(
        error_of(r#"{"decision":"wait","reason":"  \n "}"#),
        "the advisor model's reason is empty"
    );
    assert_eq!(
        error_of(r#"{"decision":"wait","reason":["a"]}"#),
        r#"the advisor model's reason is not text: ["a"]"#
    );
}

#[test]
fn a_percent_outside_1_to_50_or_without_a_canary_is_an_error() {
    for percent in ["0", "51", "-5", "12.5", r#""10""#] {
        let content = format!(r#"{{"decision":"canary","percent":{percent},"reason":"r"}}"#);
        assert_eq!(
            error_of(&content),
            format!("the advisor model's percent {percent} is not a whole number from 1 to 50")
        );
    }
    assert_eq!(
        error_of(r#"{"decision":"abort","percent":10,"reason":"r"}"#),
        "the advisor model gave a percent with the decision abort; a percent belongs to a canary only"
    );
    assert!(parse_answer(&reply(r#"{"decision":"canary","percent":50,"reason":"r"}"#)).is_ok());
    assert!(parse_answer(&reply(r#"{"decision":"canary","percent":1,"reason":"r"}"#)).is_ok());
}

#[test]
fn echoed_model_text_is_cut_to_one_short_line() {
    let rambling = format!("Let me think.\n{}", "blah ".repeat(500));
    let e = error_of(&rambling);
    let echoed = e.split_once(": ").unwrap().1;
    assert!(echoed.ends_with('…'), "{e}");
    assert_eq!(echoed.chars().count(), 201, "{e}");
    assert!(!e.contains('\n'));
    let body = "x".repeat(10_000);
    assert!(parse_answer(&body).unwrap_err().chars().count() < 300);
}

#[test]
fn an_immediate_answer_leaves_a_canary_plan_alone() {
    let t = Thresholds::default();
    let rules = canary_rules();
    let answered = answer(Decision::Immediate, None, "looks safe");
    assert_eq!(more_cautious(&rules, &answered, &t, now()), None);
    let agreed = answer(Decision::Canary, Some(40), "agreed");
    assert_eq!(
        more_cautious(&rules, &agreed, &t, now()),
        None,
        "the same decision changes nothing, not even the percent"
    );
}

#[test]
fn a_wait_answer_turns_a_canary_into_a_wait_until_the_next_whole_minute_after_the_recheck() {
    let t = Thresholds::default();
    let rules = canary_rules();
    let advice = more_cautious(
        &rules,
        &answer(Decision::Wait, None, "an incident is open upstream"),
        &t,
        now(),
    )
    .expect("wait is more cautious than canary");
    // 10:12:07 + 60 s = 10:13:07, rounded up to 10:14.
    assert_eq!(
        advice.plan,
        Plan::Wait {
            until: "2026-11-30T10:14:00Z".parse().unwrap(),
            reason: "the advisor model: an incident is open upstream".into(),
        }
    );
    assert_eq!(advice.confidence, rules.confidence);
    assert_eq!(
        advice.reasons,
        [
            "a critical service in production",
            "the advisor model asked for a more cautious plan (wait): an incident is open upstream",
        ]
    );
}

#[test]
fn an_abort_answer_aborts_any_less_cautious_plan() {
    let t = Thresholds::default();
    let abort = answer(
        Decision::Abort,
        None,
        "the change deletes the payments table",
    );
    for rules in [immediate_rules(), canary_rules()] {
        let advice = more_cautious(&rules, &abort, &t, now()).unwrap();
        assert_eq!(
            advice.plan,
            Plan::Abort {
                reason: "the advisor model: the change deletes the payments table".into()
            }
        );
        assert_eq!(advice.reasons.len(), 2);
        assert!(advice.reasons[1].contains("(abort)"));
    }
    let already = Advice {
        plan: Plan::Abort {
            reason: "three failures".into(),
        },
        confidence: 0.8,
        reasons: vec!["three failures".into()],
    };
    assert_eq!(more_cautious(&already, &abort, &t, now()), None);
}

#[test]
fn a_canary_answer_takes_its_percent_or_the_thresholds() {
    let t = Thresholds {
        canary_percent: 15,
        canary_monitor: Duration::from_secs(300),
        ..Thresholds::default()
    };
    let rules = immediate_rules();
    let defaulted = more_cautious(&rules, &answer(Decision::Canary, None, "r"), &t, now());
    assert_eq!(
        defaulted.map(|a| a.plan),
        Some(Plan::Canary {
            percent: 15,
            monitor: Duration::from_secs(300)
        })
    );
    let asked = more_cautious(&rules, &answer(Decision::Canary, Some(5), "r"), &t, now()).unwrap();
    assert_eq!(
        asked.plan,
        Plan::Canary {
            percent: 5,
            monitor: Duration::from_secs(300)
        }
    );
    assert_eq!(asked.confidence, 0.95);
}
