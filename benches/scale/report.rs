//! The scale benchmark's report: a table per shard count, each target marked met or missed, and
//! the same figures as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::measure::{IDLE_PACE, IDLE_WINDOW, PACE, Run, SAMPLE_TIMEOUT};
use crate::support::cpu;
use crate::support::timing::Latencies;

const TARGET_RATIO: f64 = 1.5;
const TARGET_BYTES_PER_OBJECT: f64 = 4096.0;
const TARGET_PEAK_OVER_STEADY: f64 = 1.5;
const TARGET_P99: Duration = Duration::from_millis(200);
const TARGET_IDLE_WRITES: f64 = 0.0;

struct Figures {
    ready_s: Option<f64>,
    ratio: Option<f64>,
    bytes_per_object: f64,
    rss_per_object: f64,
    peak_over_steady: f64,
}

fn sum(kib: &[u64]) -> u64 {
    kib.iter().sum()
}

fn figures(run: &Run) -> Figures {
    let objects = run.objects_total().max(1) as f64;
    let steady = sum(&run.steady_kib) as f64 * 1024.0;
    let baseline = sum(&run.baseline_kib) as f64 * 1024.0;
    let ready_s = run.ready.as_ref().ok().map(Duration::as_secs_f64);
    let floor_complete = run.floor.unavailable.is_none();
    Figures {
        ready_s,
        ratio: ready_s
            .filter(|_| floor_complete)
            .map(|ready| ready / run.floor.available.as_secs_f64()),
        bytes_per_object: (steady - baseline) / objects,
        rss_per_object: steady / objects,
        peak_over_steady: sum(&run.peak_kib) as f64 / sum(&run.steady_kib).max(1) as f64,
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

/// The sum, and each process's figure when there are several.
fn per_process(kib: &[u64]) -> String {
    if kib.len() == 1 {
        return mib(kib[0]);
    }
    let each: Vec<String> = kib.iter().map(|k| mib(*k)).collect();
    format!("{} ({})", mib(sum(kib)), each.join(", "))
}

fn ready_text(run: &Run) -> String {
    match run.ready {
        Ok(took) => format!("{:.1} s", took.as_secs_f64()),
        Err(count) => format!("timeout ({count}/{} Ready)", run.n),
    }
}

fn floor_text(run: &Run) -> String {
    let available = format!("{:.1} s", run.floor.available.as_secs_f64());
    match run.floor.unavailable {
        None => available,
        Some(count) => format!("timeout at {available} ({count}/{} available)", run.n),
    }
}

/// One line for the console after a run.
pub fn summary(run: &Run) -> String {
    let f = figures(run);
    format!(
        "scale: {} shard(s): Ready {} vs floor {} ({}); steady {} for {} objects, {:.0} B/object; \
         peak/steady {:.2}; spec change p99 {} at idle, {} under load; idle writes/min {:.1}",
        run.shards,
        ready_text(run),
        floor_text(run),
        f.ratio.map_or("no ratio".into(), |r| format!("{r:.2}x")),
        mib(sum(&run.steady_kib)),
        run.objects_total(),
        f.bytes_per_object,
        f.peak_over_steady,
        run.spec_change_at_idle.show(0.99),
        run.spec_change.show(0.99),
        run.idle_writes_per_minute,
    )
}

fn table(run: &Run) -> String {
    let f = figures(run);
    let objects: Vec<String> = run
        .objects
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    let ratio = f.ratio.map_or("-".into(), |r| format!("{r:.2}x"));
    let (l, i) = (&run.spec_change, &run.spec_change_at_idle);
    let mut out = format!(
        "## {} shard(s)\n\n| | measured | target | |\n|---|---|---|---|\n\
         | services | {} | | |\n\
         | cached objects | {} ({}) | | |\n\
         | time to all Ready | {} | | |\n\
         | floor: bare client writes | {:.1} s | | |\n\
         | floor until Deployments available | {} | | |\n\
         | time to Ready / floor until available | {ratio} | <= {TARGET_RATIO}x | {} |\n\
         | RSS after start on the empty namespace (baseline) | {} | | |\n\
         | peak RSS (VmRSS every 500 ms until all Ready) | {} | | |\n\
         | VmHWM at the end | {} | | |\n\
         | steady RSS (30 s after all Ready) | {} | | |\n\
         | bytes per cached object ((steady - baseline) / objects) | {:.0} B | <= 4 KiB | {} |\n\
         | steady RSS / objects | {:.0} B | | |\n\
         | peak / steady | {:.2} | <= {TARGET_PEAK_OVER_STEADY} | {} |\n\
         {}{}\
         | idle writes/min (all processes, {} s) | {:.1} | 0 | {} |\n",
        run.shards,
        run.n,
        run.objects_total(),
        objects.join(", "),
        ready_text(run),
        run.floor.writes.as_secs_f64(),
        floor_text(run),
        verdict(f.ratio.is_some_and(|r| r <= TARGET_RATIO)),
        per_process(&run.baseline_kib),
        per_process(&run.peak_kib),
        per_process(&run.hwm_kib),
        per_process(&run.steady_kib),
        f.bytes_per_object,
        verdict(f.bytes_per_object <= TARGET_BYTES_PER_OBJECT),
        f.rss_per_object,
        f.peak_over_steady,
        verdict(f.peak_over_steady <= TARGET_PEAK_OVER_STEADY),
        latency_rows(
            &format!("at idle (one every {} s)", IDLE_PACE.as_secs()),
            i,
            true
        ),
        latency_rows(
            &format!(
                "under load (one every {} ms, rollouts overlapping)",
                PACE.as_millis()
            ),
            l,
            false
        ),
        IDLE_WINDOW.as_secs(),
        run.idle_writes_per_minute,
        verdict(run.idle_writes_per_minute <= TARGET_IDLE_WRITES),
    );
    out.push_str(&format!(
        "\nCores used (CPU seconds / wall seconds) while idle: {}.\n\
         During the spec changes: {}; reconciles then: {}; the operator's API writes then: {}.\n",
        cpu::show(&run.idle_cores),
        cpu::show(&run.spec_change_cores),
        reconciles(&run.spec_change_reconciles),
        run.spec_change_writes,
    ));
    for why in i.failed.iter().chain(&l.failed) {
        out.push_str(&format!("\nAction failed: {why}\n"));
    }
    out
}

/// The p50 and p99 rows of one spec-change measurement; `targeted` when the target
/// (p99 under 200 ms, at idle) applies to it, else the p99 is shown for information only.
fn latency_rows(when: &str, l: &Latencies, targeted: bool) -> String {
    let (target, judged) = if targeted {
        (
            format!("< {} ms", TARGET_P99.as_millis()),
            verdict(l.meets(0.99, TARGET_P99)).to_string(),
        )
    } else {
        ("(the target is at idle)".to_string(), String::new())
    };
    format!(
        "| spec change to new ChittyDeployment {when}, p50 | {} | | |\n\
         | spec change {when}, p99 ({} samples, {} timeouts, {} failed) | {} | {target} | {judged} |\n",
        l.show(0.50),
        l.samples.len(),
        l.timeouts(),
        l.failed.len(),
        l.show(0.99),
    )
}

/// Per controller: "service 312 (mean 4.1 ms, 2 over 100 ms)".
pub fn reconciles(by_controller: &BTreeMap<String, (f64, f64, f64)>) -> String {
    let parts: Vec<String> = by_controller
        .iter()
        .filter(|(_, (count, _, _))| *count > 0.0)
        .map(|(controller, (count, seconds, slow))| {
            format!(
                "{controller} {count:.0} (mean {:.1} ms, {slow:.0} over 100 ms)",
                seconds * 1000.0 / count
            )
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn cores_json(cores: &cpu::CoresUsed) -> serde_json::Value {
    cores
        .iter()
        .map(|(name, used)| (name.clone(), json!(used)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The report of the runs done; `failed` says why the next one stopped the bench, if one did.
pub fn markdown(n: usize, runs: &[Run], failed: Option<&str>) -> String {
    let mut out = format!(
        "# Scale benchmark\n\n{n} ChittyServices with one route each; spec changes one every {} ms, \
         a timeout after {} s. RSS figures are sums over the processes, each process's in brackets.\n\n",
        PACE.as_millis(),
        SAMPLE_TIMEOUT.as_secs(),
    );
    for run in runs {
        out.push_str(&table(run));
        out.push('\n');
    }
    if let Some(why) = failed {
        out.push_str(&format!("Stopped: {why}\n"));
    }
    out
}

/// One spec-change measurement; the target only on the one it applies to (at idle).
fn latency_json(l: &Latencies, targeted: bool) -> serde_json::Value {
    let mut out = json!({"samples": l.samples.len(), "timeouts": l.timeouts(),
                         "failed_actions": l.failed,
                         "p50_s": l.seconds(0.50), "p99_s": l.seconds(0.99)});
    if targeted {
        out["target_p99_s"] = json!(TARGET_P99.as_secs_f64());
        out["met"] = json!(l.meets(0.99, TARGET_P99));
    }
    out
}

pub fn json(n: usize, runs: &[Run], failed: Option<&str>) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|run| {
            let f = figures(run);
            let objects: serde_json::Map<String, serde_json::Value> = run
                .objects
                .iter()
                .map(|(kind, count)| (kind.to_string(), (*count).into()))
                .collect();
            json!({
                "shards": run.shards, "services": run.n,
                "objects": run.objects_total(), "objects_by_kind": objects,
                "ready_s": f.ready_s, "ready_by_timeout": run.ready.as_ref().err(),
                "floor_writes_s": run.floor.writes.as_secs_f64(),
                "floor_available_s": run.floor.available.as_secs_f64(),
                "floor_available_by_timeout": run.floor.unavailable,
                "ratio": f.ratio, "target_ratio": TARGET_RATIO,
                "ratio_met": f.ratio.is_some_and(|r| r <= TARGET_RATIO),
                "baseline_rss_kib": run.baseline_kib, "peak_rss_kib": run.peak_kib,
                "hwm_kib": run.hwm_kib, "steady_rss_kib": run.steady_kib,
                "bytes_per_object": f.bytes_per_object, "rss_per_object": f.rss_per_object,
                "target_bytes_per_object": TARGET_BYTES_PER_OBJECT,
                "bytes_per_object_met": f.bytes_per_object <= TARGET_BYTES_PER_OBJECT,
                "peak_over_steady": f.peak_over_steady,
                "target_peak_over_steady": TARGET_PEAK_OVER_STEADY,
                "peak_over_steady_met": f.peak_over_steady <= TARGET_PEAK_OVER_STEADY,
                "spec_change": latency_json(&run.spec_change, false),
                "spec_change_at_idle": latency_json(&run.spec_change_at_idle, true),
                "idle_pace_s": IDLE_PACE.as_secs(),
                "idle_writes_per_minute": run.idle_writes_per_minute,
                "idle_cores": cores_json(&run.idle_cores),
                "spec_change_cores": cores_json(&run.spec_change_cores),
                "spec_change_writes": run.spec_change_writes,
                "spec_change_reconciles": run.spec_change_reconciles.iter().map(|(c, (n, s, slow))| {
                    (c.clone(), json!({"count": n, "seconds": s, "over_100ms": slow}))
                }).collect::<serde_json::Map<_, _>>(),
                "idle_window_s": IDLE_WINDOW.as_secs(),
            })
        })
        .collect();
    json!({"services": n, "pace_ms": PACE.as_millis() as u64,
           "sample_timeout_s": SAMPLE_TIMEOUT.as_secs(), "runs": runs, "stopped": failed})
}
