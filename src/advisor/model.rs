//! The optional advisor model, never in charge: the chat-completions request that asks a model
//! for a plan from the same facts the rules read, the strict reading of its answer, and the one
//! way its answer may change the rules' plan (towards caution). Pure, with no I/O: the client in
//! `crate::clients::advisor_model` carries the request, the rollout controller decides when.
//!
//! A model can be wrong, slow or talked into things by what it reads, so its answer counts only
//! when it asks for more caution than the rules (immediate < canary < wait < abort). Anything it
//! says that does not parse exactly is an error, and the caller keeps the rules' plan.

use serde_json::{Map, Value, json};

use super::plan::{Advice, Decision, Plan};
use super::rules::{Thresholds, recheck_time};

/// The canary share a model may ask for: a small first step, as the rules' own canaries.
const PERCENT_RANGE: std::ops::RangeInclusive<i64> = 1..=50;

/// The model's text echoed in an error is cut here, so a rambling model cannot flood a status.
const ECHO_LIMIT: usize = 200;

/// A model's reason is kept to this many characters in plans and status.
const REASON_LIMIT: usize = 300;

const SYSTEM_PROMPT: &str = "You review the plan for one rollout of a service on Kubernetes. \
Written rules have already planned it; you see the facts they read, their plan and their reasons. \
Decide how the rollout should go: \"immediate\" (all at once), \"canary\" (a share of the traffic \
first, then the rest), \"wait\" (not now; look again soon) or \"abort\" (not at all). Your answer \
counts only when it is more cautious than the rules' plan (immediate < canary < wait < abort); \
repeat the rules' decision when you agree with it. Answer with exactly one JSON object and nothing \
else, no prose and no markdown: \
{\"decision\": \"immediate|canary|wait|abort\", \"percent\": <1-50, canary only>, \
\"reason\": \"<one sentence>\"}. Leave out percent unless the decision is canary.";

/// An OpenAI chat-completions request asking the model for a plan from `facts` (the advisor's
/// input as JSON) and the rules' advice. Temperature 0 and a JSON response format, so that the
/// same facts tend to give the same answer and the answer is an object.
pub fn request_body(model: &str, facts: &Value, rules: &Advice) -> Value {
    let user = json!({
        "facts": facts,
        "rules": describe(rules),
    });
    json!({
        "model": model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": format!("The facts and the rules' plan, as JSON:\n{user}"),
            },
        ],
    })
}

/// The rules' advice as the model reads it, in the answer's own words (`canary`, not `Canary`).
fn describe(rules: &Advice) -> Value {
    let mut plan = Map::new();
    plan.insert("decision".into(), json!(lower(rules.plan.decision())));
    match &rules.plan {
        Plan::Immediate => {}
        Plan::Canary { percent, monitor } => {
            plan.insert("percent".into(), json!(percent));
            plan.insert(
                "monitor".into(),
                json!(crate::pipeline::duration::written(*monitor)),
            );
        }
        Plan::Wait { until, reason } => {
            plan.insert("until".into(), json!(until.to_string()));
            plan.insert("reason".into(), json!(reason));
        }
        Plan::Abort { reason } => {
            plan.insert("reason".into(), json!(reason));
        }
    }
    plan.insert("confidence".into(), json!(rules.confidence));
    plan.insert("reasons".into(), json!(rules.reasons));
    Value::Object(plan)
}

/// What the model answered, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelAnswer {
    pub decision: Decision,
    /// The canary share it asked for; only with a canary.
    pub percent: Option<i32>,
    /// One sentence, without control characters, at most 300 characters.
    pub reason: String,
}

/// Reads `choices[0].message.content` of a chat-completions response as the answer's strict
/// JSON. Every way it can be wrong is an error sentence naming what was wrong.
pub fn parse_answer(response_body: &str) -> Result<ModelAnswer, String> {
    let response: Value = serde_json::from_str(response_body).map_err(|e| {
        format!(
            "the advisor model's reply is not JSON ({e}): {}",
            excerpt(response_body)
        )
    })?;
    let content = response
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!(
                "the advisor model's reply has no text at choices[0].message.content: {}",
                excerpt(response_body)
            )
        })?;
    // Whitespace around the object is no prose; anything else is.
    let answer: Value = serde_json::from_str(content.trim()).map_err(|_| {
        format!(
            "the advisor model did not answer with one JSON object and nothing else: {}",
            excerpt(content)
        )
    })?;
    let Value::Object(fields) = answer else {
        return Err(format!(
            "the advisor model's answer is JSON but not an object: {}",
            excerpt(content)
        ));
    };
    if let Some(key) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "decision" | "percent" | "reason"))
    {
        return Err(format!(
            "the advisor model's answer has the unknown key {}; only decision, percent and reason are allowed",
            excerpt(&json!(key).to_string())
        ));
    }
    let decision = match fields.get("decision") {
        None | Some(Value::Null) => {
            return Err("the advisor model's answer has no decision".to_owned());
        }
        Some(value) => value.as_str().and_then(Decision::parse).ok_or_else(|| {
            format!(
                "the advisor model's decision {} is not one of immediate, canary, wait, abort",
                excerpt(&value.to_string())
            )
        })?,
    };
    let percent = match fields.get("percent") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let percent = value
                .as_i64()
                .filter(|p| PERCENT_RANGE.contains(p))
                .ok_or_else(|| {
                    format!(
                        "the advisor model's percent {} is not a whole number from 1 to 50",
                        excerpt(&value.to_string())
                    )
                })?;
            if decision != Decision::Canary {
                return Err(format!(
                    "the advisor model gave a percent with the decision {}; a percent belongs to a canary only",
                    lower(decision)
                ));
            }
            // Within 1..=50, so it fits.
            Some(percent as i32)
        }
    };
    let reason = match fields.get("reason") {
        None | Some(Value::Null) => {
            return Err("the advisor model's answer has no reason".to_owned());
        }
        Some(Value::String(text)) => one_line(text, REASON_LIMIT),
        Some(other) => {
            return Err(format!(
                "the advisor model's reason is not text: {}",
                excerpt(&other.to_string())
            ));
        }
    };
    if reason.is_empty() {
        return Err("the advisor model's reason is empty".to_owned());
    }
    Ok(ModelAnswer {
        decision,
        percent,
        reason,
    })
}

/// The rules' advice made as cautious as the model asked, or `None` when the model asked for no
/// more caution than the rules (the model never makes a plan less careful). The rules' reasons
/// stay, followed by the model's; the confidence stays the rules', which the model cannot know.
pub fn more_cautious(
    rules: &Advice,
    answer: &ModelAnswer,
    t: &Thresholds,
    now: jiff::Timestamp,
) -> Option<Advice> {
    if answer.decision <= rules.plan.decision() {
        return None;
    }
    // The plan's own reason says whose it is: a person reading a wait must not take the model's
    // sentence for one of the written rules.
    let attributed = format!("the advisor model: {}", answer.reason);
    let plan = match answer.decision {
        // Nothing is less cautious than immediate, so the check above has returned already.
        Decision::Immediate => return None,
        Decision::Canary => Plan::Canary {
            percent: answer.percent.unwrap_or(t.canary_percent),
            monitor: t.canary_monitor,
        },
        Decision::Wait => Plan::Wait {
            until: recheck_time(now + t.recheck),
            reason: attributed,
        },
        Decision::Abort => Plan::Abort { reason: attributed },
    };
    let mut reasons = rules.reasons.clone();
    reasons.push(format!(
        "the advisor model asked for a more cautious plan ({}): {}",
        lower(answer.decision),
        answer.reason
    ));
    Some(Advice {
        plan,
        confidence: rules.confidence,
        reasons,
    })
}

/// `canary`, as the answer writes it.
fn lower(decision: Decision) -> String {
    decision.as_str().to_ascii_lowercase()
}

/// The model's text for an error message: one line, at most [`ECHO_LIMIT`] characters.
fn excerpt(text: &str) -> String {
    let line = one_line(text, ECHO_LIMIT);
    if text.trim().chars().count() > ECHO_LIMIT {
        format!("{line}…")
    } else {
        line
    }
}

/// Control characters (newlines included) become spaces, the ends are trimmed, and the text is cut
/// at `limit` characters.
fn one_line(text: &str, limit: usize) -> String {
    text.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(limit)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
