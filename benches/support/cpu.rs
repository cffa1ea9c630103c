//! Who used the CPU during a bench phase: the operator processes, the control plane's, the
//! bench's own. On two cores a latency figure means little without it: a slow phase with an idle
//! operator was waiting on the API server, a busy one on itself.

use std::time::Instant;

/// The control plane's processes, by their `/proc/<pid>/comm` (cut to 15 bytes by the kernel).
const CONTROL_PLANE: [&str; 5] = [
    "kube-apiserver",
    "etcd",
    "kwok-controller",
    "kube-controller",
    "kube-scheduler",
];

/// Kernel clock ticks a second, the unit of `/proc/<pid>/stat`'s times (100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time so far of each process named, to compare with a later reading.
pub struct CpuWatch {
    processes: Vec<(String, u32)>,
    ticks: Vec<u64>,
    started: Instant,
}

/// Cores each process used over a watched phase (CPU seconds / wall seconds).
pub type CoresUsed = Vec<(String, f64)>;

impl CpuWatch {
    /// Starts watching the operator processes `operators`, the control plane and this bench.
    pub fn start(operators: &[u32]) -> Self {
        let mut processes: Vec<(String, u32)> = operators
            .iter()
            .enumerate()
            .map(|(i, pid)| (format!("operator {i}"), *pid))
            .collect();
        processes.extend(control_plane());
        processes.push(("bench".into(), std::process::id()));
        let ticks = processes.iter().map(|(_, pid)| cpu_ticks(*pid)).collect();
        Self {
            processes,
            ticks,
            started: Instant::now(),
        }
    }

    /// Cores used by each process since `start`.
    pub fn stop(self) -> CoresUsed {
        let wall = self.started.elapsed().as_secs_f64().max(f64::EPSILON);
        (self.processes.into_iter().zip(self.ticks))
            .map(|((name, pid), before)| {
                let used = cpu_ticks(pid).saturating_sub(before) as f64 / TICKS_PER_SECOND;
                (name, used / wall)
            })
            .collect()
    }
}

/// One line: "operator 0 0.41, kube-apiserver 0.92, ...".
pub fn show(cores: &CoresUsed) -> String {
    let parts: Vec<String> = cores
        .iter()
        .map(|(name, used)| format!("{name} {used:.2}"))
        .collect();
    parts.join(", ")
}

fn control_plane() -> Vec<(String, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<(String, u32)> = entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            let comm = comm.trim();
            CONTROL_PLANE
                .contains(&comm)
                .then(|| (comm.to_string(), pid))
        })
        .collect();
    found.sort();
    found
}

/// User plus system time of `pid` in clock ticks; 0 once it is gone.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name, in parentheses, may hold spaces: count fields after its closing one.
    let Some((_, after)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3 of the whole line, utime 14 and stime 15.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}
