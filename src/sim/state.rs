//! The sim's memory: what survives a restart (persisted to the state file) and what does not
//! (counters, faults and the advisor model's script, which belong to the test that set them).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SimConfig;
use super::advisor::Script;
use super::faults::FaultTable;

/// Everything a restart must not lose.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Persisted {
    /// The last sequence number handed out.
    #[serde(default)]
    pub last_sequence: u16,
    /// Idempotency key -> the exact mint reply, replayed for the same key.
    #[serde(default)]
    pub mints: BTreeMap<String, Value>,
    /// Every ID minted, so `/api/validate` and stats can tell real ones apart.
    #[serde(default)]
    pub minted_ids: Vec<String>,
    /// Registry records by ChittyID.
    #[serde(default)]
    pub tools: BTreeMap<String, Value>,
    /// Channel -> received notifications.
    #[serde(default)]
    pub notifications: BTreeMap<String, Vec<Received>>,
    /// Simulated service name -> health it reports.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceHealth>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    pub idempotency_key: Option<String>,
    pub received_at: String,
    /// How many times this event arrived (duplicates by key included).
    pub deliveries: u64,
    pub event: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceHealth {
    pub status: String,
    pub code: u16,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdStats {
    pub mint_calls: u64,
    pub ids_minted: u64,
    pub idempotent_replays: u64,
    pub validate_calls: u64,
    pub unauthorized: u64,
    pub faults_injected: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStats {
    /// Accepted writes (creates + updates + deletes).
    pub writes: u64,
    pub creates: u64,
    pub updates: u64,
    pub deletes: u64,
    pub reads: u64,
    /// Writes refused with READ_ONLY.
    pub read_only_rejections: u64,
    pub faults_injected: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyStats {
    /// Every accepted POST, duplicates included.
    pub received: u64,
    /// Distinct events stored.
    pub events: u64,
    /// POSTs whose idempotency key had been seen on that channel.
    pub duplicates: u64,
    pub faults_injected: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvisorStats {
    /// Every chat completions request, faulted and refused ones included.
    pub calls: u64,
    /// Requests answered with the scripted content.
    pub answered: u64,
    pub unauthorized: u64,
    pub faults_injected: u64,
}

/// Counters since start (or the last reset), for `GET /_sim/stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub id: IdStats,
    pub registry: RegistryStats,
    pub notify: NotifyStats,
    pub advisor: AdvisorStats,
    /// `"METHOD /route"` -> requests, faulted ones included.
    pub requests: BTreeMap<String, u64>,
}

#[derive(Debug)]
pub struct Sim {
    pub config: SimConfig,
    data: Mutex<Persisted>,
    stats: Mutex<Stats>,
    faults: Mutex<FaultTable>,
    advisor: Mutex<Script>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sim {
    pub fn load(config: SimConfig) -> std::io::Result<Self> {
        let data = match &config.state_file {
            Some(path) if path.exists() => {
                let bytes = std::fs::read(path)?;
                serde_json::from_slice(&bytes).map_err(std::io::Error::other)?
            }
            _ => Persisted::default(),
        };
        Ok(Self {
            config,
            data: Mutex::new(data),
            stats: Mutex::default(),
            faults: Mutex::default(),
            advisor: Mutex::default(),
        })
    }

    /// Reads or changes the persisted state; `f` returns whether it changed anything, and a
    /// change is written to the state file before the lock is released (so the file never
    /// lags behind an answer the sim already gave).
    pub fn with_data<T>(&self, f: impl FnOnce(&mut Persisted) -> (T, bool)) -> T {
        let mut data = lock(&self.data);
        let (out, changed) = f(&mut data);
        if changed
            && let Some(path) = &self.config.state_file
            && let Err(e) = save(path, &data)
        {
            tracing::error!(path = %path.display(), error = %e, "cannot save sim state");
        }
        out
    }

    pub fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultTable> {
        lock(&self.faults)
    }

    /// The advisor model's scripted answer and the last question it was asked.
    pub fn advisor(&self) -> MutexGuard<'_, Script> {
        lock(&self.advisor)
    }

    /// Forgets everything: data, counters, faults and the advisor's script.
    pub fn reset(&self) {
        self.with_data(|d| {
            *d = Persisted::default();
            ((), true)
        });
        *self.stats() = Stats::default();
        *self.faults() = FaultTable::default();
        *self.advisor() = Script::default();
    }
}

/// Writes atomically (temp file + rename) so a crash mid-write leaves the old state intact.
fn save(path: &Path, data: &Persisted) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(data).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_restart_through_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = SimConfig {
            state_file: Some(dir.path().join("sim.json")),
            ..SimConfig::default()
        };
        let sim = Sim::load(config.clone()).unwrap();
        sim.with_data(|d| {
            d.last_sequence = 7;
            d.mints
                .insert("k".into(), serde_json::json!({"chittyId": "x"}));
            ((), true)
        });
        drop(sim);
        let again = Sim::load(config).unwrap();
        let (seq, has_key) =
            again.with_data(|d| ((d.last_sequence, d.mints.contains_key("k")), false));
        assert_eq!((seq, has_key), (7, true));
    }
}
