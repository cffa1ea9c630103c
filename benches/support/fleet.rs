//! Several operator processes over one namespace, one per shard: started together, each with its
//! own HTTP port and log file, and measured per process (memory) and in sum (requests).

use std::fs::File;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Operator, memory_kib_of};

/// The operator processes of one run; `shards` of them, process `i` serving shard `i`.
pub struct Fleet {
    pub operators: Vec<Operator>,
    pub logs: Vec<std::path::PathBuf>,
}

impl Fleet {
    /// Starts `shards` processes on ports `port`, `port + 1`, ... With one shard no shard flag is
    /// passed, so the run is the plain single operator; with more, each process serves one shard
    /// and elects its shard's leader on a Lease in `namespace` (named after `lease`).
    pub fn start(
        kubeconfig: &str,
        namespace: &str,
        port: u16,
        shards: usize,
        lease: &str,
        extra: &[&str],
    ) -> Self {
        let mut operators = Vec::new();
        let mut logs = Vec::new();
        for index in 0..shards {
            let log = super::bench_dir().join(format!("{namespace}-shard-{index}.log"));
            let file = File::create(&log).expect("the bench directory is writable");
            let (count, index_text) = (shards.to_string(), index.to_string());
            // Shaped as a Deployment's pod (`<deployment>-<hash>-<suffix>`), one Deployment per
            // shard, as the chart runs them.
            let pod = format!("{lease}-shard-{index}-bench-0");
            let mut args: Vec<&str> = extra.to_vec();
            if shards > 1 {
                args.extend([
                    "--shard-count",
                    &count,
                    "--shard-index",
                    &index_text,
                    "--shard-takeover-after",
                    "30s",
                    "--leader-elect",
                    "true",
                    "--lease-namespace",
                    namespace,
                    "--lease-name",
                    lease,
                    // The Lease holder's identity starts with it; outside a pod it would be the
                    // host name, the same for every process here, as if one Deployment ran all.
                    "--pod-name",
                    &pod,
                ]);
            }
            operators.push(Operator::start_logging(
                kubeconfig,
                namespace,
                port + index as u16,
                &args,
                Stdio::from(file),
            ));
            logs.push(log);
        }
        Self { operators, logs }
    }

    /// Waits until every process leads its shard (when there are several) and its caches have
    /// synced; an error naming the process (and its log) that exited or did not get there within
    /// `timeout`.
    pub async fn ready(&mut self, http: &reqwest::Client, timeout: Duration) -> Result<(), String> {
        let started = Instant::now();
        let sharded = self.operators.len() > 1;
        for (index, operator) in self.operators.iter_mut().enumerate() {
            loop {
                if let Some(status) = operator.exited() {
                    return Err(format!(
                        "operator process {index} exited ({status}) before it was ready; its log: {}",
                        self.logs[index].display()
                    ));
                }
                // Sharded, a process is also ready while it stands by for its shard's Lease,
                // before its controllers have started: it must lead its shard, and be ready
                // after that (leading first: it turns unready for its caches' sync right after).
                let leading = !sharded || leads(http, &operator.base_url).await;
                let ready = leading
                    && http
                        .get(format!("{}/readyz", operator.base_url))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                if ready {
                    break;
                }
                if started.elapsed() > timeout {
                    return Err(format!(
                        "operator process {index} was not ready within {} s; its log: {}",
                        timeout.as_secs(),
                        self.logs[index].display()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// A `/proc/<pid>/status` memory field of each process, in KiB.
    pub fn memory_kib(&self, field: &str) -> Vec<u64> {
        self.operators.iter().map(|o| o.memory_kib(field)).collect()
    }

    /// Apiserver writes (everything but GETs) of all processes so far.
    pub async fn writes(&self, http: &reqwest::Client) -> u64 {
        let mut sum = 0;
        for operator in &self.operators {
            sum += operator.requests(http).await.1;
        }
        sum
    }

    /// The reconciles so far of all processes, per controller: (count, seconds in all, count
    /// that took over 100 ms).
    pub async fn reconciles(
        &self,
        http: &reqwest::Client,
    ) -> std::collections::BTreeMap<String, (f64, f64, f64)> {
        let mut sums = std::collections::BTreeMap::<String, (f64, f64, f64)>::new();
        for operator in &self.operators {
            for (key, value) in operator
                .samples(http, "chitty_reconcile_duration_seconds")
                .await
            {
                let Some(controller) = key
                    .split("controller=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                else {
                    continue;
                };
                let entry = sums.entry(controller.to_string()).or_default();
                if key.contains("_count") {
                    entry.0 += value;
                    entry.2 += value;
                } else if key.contains("_sum") {
                    entry.1 += value;
                } else if key.contains("le=\"0.1\"") {
                    entry.2 -= value;
                }
            }
        }
        sums
    }

    /// Samples each process's VmRSS every `every` until the sampler is stopped.
    pub fn sample_rss(&self, every: Duration) -> RssSampler {
        let pids: Vec<u32> = self.operators.iter().map(Operator::pid).collect();
        let peaks = Arc::new(Mutex::new(vec![0u64; pids.len()]));
        let task = tokio::spawn({
            let peaks = peaks.clone();
            async move {
                let mut ticks = tokio::time::interval(every);
                loop {
                    ticks.tick().await;
                    let mut peaks = peaks.lock().unwrap();
                    for (peak, pid) in peaks.iter_mut().zip(&pids) {
                        *peak = (*peak).max(memory_kib_of(*pid, "VmRSS:"));
                    }
                }
            }
        });
        RssSampler { peaks, task }
    }

    /// Apiserver writes per minute of all processes while nothing changes: `settle` for what
    /// is in flight to finish, then a count over `window`.
    pub async fn idle_writes_per_minute(
        &self,
        http: &reqwest::Client,
        settle: Duration,
        window: Duration,
    ) -> f64 {
        tokio::time::sleep(settle).await;
        let before = self.writes(http).await;
        tokio::time::sleep(window).await;
        let after = self.writes(http).await;
        after.saturating_sub(before) as f64 * 60.0 / window.as_secs_f64()
    }
}

/// Whether the process at `base_url` runs its controllers (its `chitty_leader` gauge is 1).
async fn leads(http: &reqwest::Client, base_url: &str) -> bool {
    let Ok(response) = http.get(format!("{base_url}/metrics")).send().await else {
        return false;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter_map(|line| line.strip_prefix("chitty_leader "))
        .any(|value| value.trim().parse::<f64>() == Ok(1.0))
}

/// The highest VmRSS seen per process, sampled in the background.
pub struct RssSampler {
    peaks: Arc<Mutex<Vec<u64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    /// Stops sampling; the peak of each process, in KiB.
    pub fn stop(self) -> Vec<u64> {
        self.task.abort();
        self.peaks.lock().unwrap().clone()
    }
}
