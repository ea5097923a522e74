//! From measurements to the markdown report: statistics, the table, the growth from 1 to 100
//! containers, the cost split, and each target met or missed. Pure: no clocks, no I/O.

use std::fmt::Write as _;
use std::time::Duration;

use super::guest_memory::GuestMemory;
use super::measure::{Budget, Throughput};
use super::process::Machine;
use super::workloads::{Expected, Family, POD_SIZES};

/// The targets, as the issue states them.
pub const NATIVE_FACTOR_TARGET: f64 = 3.0;
pub const MODULE_SIZE_TARGET_BYTES: u64 = 250 * 1024;
pub const SCALING_TARGET: f64 = 1.6;
/// Growth allowance: an added container may cost this much more between 10 and 100
/// containers than between 1 and 10 before the growth counts as superlinear.
pub const MARGINAL_GROWTH_ALLOWANCE: f64 = 1.5;

/// Median and 99th percentile (nearest rank) of some samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub median: Duration,
    pub p99: Duration,
}

impl Stats {
    pub fn of(samples: &[Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        };
        let rank = (n * 99).div_ceil(100).max(1);
        Self {
            median,
            p99: sorted[rank - 1],
        }
    }
}

/// A module file and its size.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleFile {
    pub role: &'static str,
    pub path: String,
    pub bytes: Option<u64>,
}

/// Everything measured for one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadResult {
    pub name: String,
    pub description: String,
    pub family: Option<Family>,
    pub containers: usize,
    pub diagnostic: bool,
    pub expected: Expected,
    pub payload_bytes: usize,
    /// Evaluations in the single-thread loop the latency figures come from.
    pub samples: usize,
    /// `patch (2 ops)`, `accept`, `reject 403`, `guest error: ...`.
    pub outcome: String,
    pub outcome_as_expected: bool,
    pub host_calls: usize,
    pub instantiate: Stats,
    pub call: Stats,
    pub latency: Stats,
    pub teardown: Stats,
    pub warm_call: Option<Stats>,
    pub native_parse: Stats,
    pub settings_validation: Stats,
    /// One loop per thread count, in the order measured.
    pub throughput: Vec<Throughput>,
    pub guest_memory: Result<GuestMemory, String>,
    pub peak_rss_kib: Option<u64>,
}

impl WorkloadResult {
    pub fn native_factor(&self) -> f64 {
        ratio(self.latency.median, self.native_parse.median)
    }

    fn throughput_at(&self, threads: usize) -> Option<&Throughput> {
        self.throughput.iter().find(|t| t.threads == threads)
    }

    /// The loops at one thread and at the most threads.
    fn scaling_loops(&self) -> Option<(&Throughput, &Throughput)> {
        let one = self.throughput_at(1)?;
        let most = self
            .throughput
            .iter()
            .filter(|t| t.threads > 1)
            .max_by_key(|t| t.threads)?;
        Some((one, most))
    }

    /// Evaluations per second at the most threads over at one thread.
    pub fn scaling(&self) -> Option<(usize, f64)> {
        let (one, most) = self.scaling_loops()?;
        Some((most.threads, most.per_second() / one.per_second()))
    }

    /// The same ratio per CPU-second the process got: near 1 when the threads do not slow
    /// each other down, whatever else runs on the machine.
    pub fn per_cpu_scaling(&self) -> Option<f64> {
        let (one, most) = self.scaling_loops()?;
        let per_cpu = |t: &Throughput| Some(t.evaluations as f64 / t.cpu?.as_secs_f64());
        Some(per_cpu(most)? / per_cpu(one)?)
    }

    fn host_calls_within_budget(&self) -> bool {
        if self.expected.nothing_matches {
            self.host_calls == 0
        } else {
            self.host_calls <= self.expected.host_call_budget
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub machine: Machine,
    pub command: String,
    pub budget: Budget,
    pub warmup: usize,
    pub threads: Vec<usize>,
    pub modules: Vec<ModuleFile>,
    /// The module whose size the target applies to (the optimized one when found).
    pub optimized_module: Option<ModuleFile>,
    pub compile: Stats,
    pub compiles: usize,
    pub workloads: Vec<WorkloadResult>,
    /// 1-minute load average before and after the run.
    pub load: (Option<f64>, Option<f64>),
    pub notes: Vec<String>,
}

/// The 1 → 10 → 100 figures of one pod family.
#[derive(Debug, Clone, PartialEq)]
pub struct Growth {
    pub family: Family,
    pub medians: [Duration; 3],
}

impl Growth {
    /// latency(10)/latency(1) and latency(100)/latency(10).
    pub fn ratios(&self) -> (f64, f64) {
        (
            ratio(self.medians[1], self.medians[0]),
            ratio(self.medians[2], self.medians[1]),
        )
    }

    /// What each added container costs, 1 → 10 and 10 → 100, in microseconds.
    pub fn per_added_container_us(&self) -> (f64, f64) {
        let [one, ten, hundred] = self.medians.map(|d| d.as_secs_f64() * 1e6);
        let sizes = POD_SIZES.map(|s| s as f64);
        (
            (ten - one) / (sizes[1] - sizes[0]),
            (hundred - ten) / (sizes[2] - sizes[1]),
        )
    }

    /// No worse than linear: neither step grows faster than the container count, and an
    /// added container costs no more at 100 than at 10 (within the allowance).
    pub fn at_most_linear(&self) -> bool {
        let (step_one, step_two) = self.ratios();
        let (marginal_low, marginal_high) = self.per_added_container_us();
        let size_step = POD_SIZES[1] as f64 / POD_SIZES[0] as f64;
        let marginal_ok =
            marginal_low <= 0.0 || marginal_high <= marginal_low * MARGINAL_GROWTH_ALLOWANCE;
        step_one <= size_step && step_two <= size_step && marginal_ok
    }
}

pub fn growth(workloads: &[WorkloadResult]) -> Vec<Growth> {
    Family::ALL
        .iter()
        .filter_map(|&family| {
            let median_at = |size: usize| {
                workloads
                    .iter()
                    .find(|w| w.family == Some(family) && w.containers == size)
                    .map(|w| w.latency.median)
            };
            Some(Growth {
                family,
                medians: [
                    median_at(POD_SIZES[0])?,
                    median_at(POD_SIZES[1])?,
                    median_at(POD_SIZES[2])?,
                ],
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    NotMeasured,
}

impl Verdict {
    fn of(met: bool) -> Self {
        if met {
            Verdict::Met
        } else {
            Verdict::Missed
        }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
            Verdict::NotMeasured => "not measured",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetCheck {
    pub target: String,
    pub verdict: Verdict,
    pub detail: String,
}

/// Each target, met or missed, with the figures that decide it.
pub fn targets(report: &BenchReport) -> Vec<TargetCheck> {
    let measured: Vec<&WorkloadResult> =
        report.workloads.iter().filter(|w| !w.diagnostic).collect();
    let mut checks = Vec::new();

    let factors: Vec<(&str, f64)> = measured
        .iter()
        .map(|w| (w.name.as_str(), w.native_factor()))
        .collect();
    checks.push(per_workload_check(
        format!("validate median ≤ {NATIVE_FACTOR_TARGET}× native parse, per workload"),
        &factors,
        |factor| factor <= NATIVE_FACTOR_TARGET,
        |factor| format!("{factor:.1}×"),
    ));

    let growths = growth(&report.workloads);
    checks.push(if growths.is_empty() {
        not_measured("growth 1 → 10 → 100 containers no worse than linear")
    } else {
        let missed: Vec<String> = growths
            .iter()
            .filter(|g| !g.at_most_linear())
            .map(|g| g.family.slug().to_owned())
            .collect();
        let detail = growths
            .iter()
            .map(|g| {
                let (a, b) = g.ratios();
                let (m1, m2) = g.per_added_container_us();
                format!(
                    "{}: ×{a:.2}, ×{b:.2} (per added container {m1:.1} µs, then {m2:.1} µs)",
                    g.family.slug()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        TargetCheck {
            target: "growth 1 → 10 → 100 containers no worse than linear".to_owned(),
            verdict: Verdict::of(missed.is_empty()),
            detail,
        }
    });

    checks.push(match &report.optimized_module {
        Some(ModuleFile {
            path,
            bytes: Some(bytes),
            ..
        }) => TargetCheck {
            target: format!("optimized module ≤ {} KB", MODULE_SIZE_TARGET_BYTES / 1024),
            verdict: Verdict::of(*bytes <= MODULE_SIZE_TARGET_BYTES),
            detail: format!(
                "{path}: {} ({:.1}× the target)",
                kib(*bytes),
                *bytes as f64 / MODULE_SIZE_TARGET_BYTES as f64
            ),
        },
        _ => not_measured("optimized module ≤ 250 KB"),
    });

    let scalings: Vec<(&str, f64)> = measured
        .iter()
        .filter_map(|w| w.scaling().map(|(_, s)| (w.name.as_str(), s)))
        .collect();
    let mut scaling = per_workload_check(
        format!("1 → 2 thread scaling ≥ {SCALING_TARGET}×"),
        &scalings,
        |s| s >= SCALING_TARGET,
        |s| format!("{s:.2}×"),
    );
    let per_cpu: Vec<f64> = measured
        .iter()
        .filter_map(|w| w.per_cpu_scaling())
        .collect();
    let busiest = measured
        .iter()
        .filter_map(|w| w.scaling_loops().and_then(|(_, most)| most.cpus_used()))
        .fold(None, |max: Option<f64>, b| {
            Some(max.map_or(b, |m| m.max(b)))
        });
    if let (false, Some(busiest)) = (per_cpu.is_empty(), busiest) {
        let (lo, hi) = per_cpu
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let _ = write!(
            scaling.detail,
            "; per CPU-second ×{lo:.2} to ×{hi:.2}, with at most {busiest:.2} CPUs busy"
        );
    }
    checks.push(scaling);

    let over: Vec<String> = measured
        .iter()
        .filter(|w| !w.host_calls_within_budget())
        .map(|w| {
            format!(
                "{}: {} calls, budget {}",
                w.name, w.host_calls, w.expected.host_call_budget
            )
        })
        .collect();
    checks.push(if measured.is_empty() {
        not_measured("host calls ≤ 1 per distinct secret, 0 when nothing matches")
    } else {
        TargetCheck {
            target: "host calls ≤ 1 per distinct secret, 0 when nothing matches".to_owned(),
            verdict: Verdict::of(over.is_empty()),
            detail: if over.is_empty() {
                let calls: Vec<String> = measured
                    .iter()
                    .filter(|w| w.host_calls > 0)
                    .map(|w| format!("{} {}", w.name, w.host_calls))
                    .collect();
                format!(
                    "every workload within budget; calls made: {} (the Deployment's is its ServiceAccount read)",
                    if calls.is_empty() { "none".to_owned() } else { calls.join(", ") }
                )
            } else {
                over.join("; ")
            },
        }
    });
    checks
}

fn per_workload_check(
    target: String,
    values: &[(&str, f64)],
    meets: impl Fn(f64) -> bool,
    show: impl Fn(f64) -> String,
) -> TargetCheck {
    if values.is_empty() {
        return not_measured(&target);
    }
    let missed: Vec<&(&str, f64)> = values.iter().filter(|(_, v)| !meets(*v)).collect();
    let (lowest, highest) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let detail = if missed.is_empty() {
        format!(
            "all {} workloads, from {} to {}",
            values.len(),
            show(lowest),
            show(highest)
        )
    } else if missed.len() == values.len() {
        format!(
            "missed by all {} workloads, from {} to {}",
            values.len(),
            show(lowest),
            show(highest)
        )
    } else {
        let names: Vec<String> = missed
            .iter()
            .map(|(name, v)| format!("{name} {}", show(*v)))
            .collect();
        format!(
            "missed by {} of {}: {}",
            missed.len(),
            values.len(),
            names.join(", ")
        )
    };
    TargetCheck {
        target,
        verdict: Verdict::of(missed.is_empty()),
        detail,
    }
}

fn not_measured(target: &str) -> TargetCheck {
    TargetCheck {
        target: target.to_owned(),
        verdict: Verdict::NotMeasured,
        detail: "no workload measured it in this run".to_owned(),
    }
}

/// The markdown report.
pub fn render(report: &BenchReport) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(out, "# policy-runner bench\n");
    let _ = writeln!(
        out,
        "Machine: {} CPUs, {}, {} memory; load average {} before the run, {} after. Command: `{}`. Each loop: {}, after {} warm-up evaluations.\n",
        m.cpus,
        m.cpu_model,
        m.memory_kib.map_or("unknown".to_owned(), |k| format!("{:.1} GiB", k as f64 / 1024.0 / 1024.0)),
        load(report.load.0),
        load(report.load.1),
        report.command,
        match report.budget.time_limit {
            Some(limit) => format!(
                "as many evaluations as fit in {} (at most {})",
                duration(limit),
                report.budget.iterations
            ),
            None => format!("{} evaluations", report.budget.iterations),
        },
        report.warmup
    );

    let _ = writeln!(out, "## Module\n");
    let _ = writeln!(out, "| file | role | size |\n|---|---|---:|");
    for module in &report.modules {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            module.path,
            module.role,
            module.bytes.map_or("not found".to_owned(), kib)
        );
    }
    let _ = writeln!(
        out,
        "\nCompile (wasmtime, as PolicyServer at start-up): median {} of {} compiles.\n",
        duration(report.compile.median),
        report.compiles
    );

    let _ = writeln!(out, "## Workloads\n");
    let threads_header: String = report
        .threads
        .iter()
        .map(|t| format!(" eval/s {t}T |"))
        .collect();
    let threads_rule: String = report.threads.iter().map(|_| "---:|").collect();
    let _ = writeln!(
        out,
        "| workload | containers | payload | outcome | host calls | n | instantiate | validate call | median | p99 | native parse | ÷ native |{threads_header} scaling | guest memory | peak RSS | settings |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|{threads_rule}---:|---:|---:|---:|"
    );
    for w in &report.workloads {
        let eps: String = report
            .threads
            .iter()
            .map(|t| {
                format!(
                    " {} |",
                    w.throughput_at(*t)
                        .map_or("–".to_owned(), |t| format!("{:.0}", t.per_second()))
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {:.1}× |{eps} {} | {} | {} | {} |",
            w.name,
            if w.diagnostic { " (diagnostic)" } else { "" },
            w.containers,
            kib(w.payload_bytes as u64),
            w.outcome,
            if w.outcome_as_expected { "" } else { " (unexpected)" },
            w.host_calls,
            w.samples,
            duration(w.instantiate.median),
            duration(w.call.median),
            duration(w.latency.median),
            duration(w.latency.p99),
            duration(w.native_parse.median),
            w.native_factor(),
            w.scaling().map_or("–".to_owned(), |(_, s)| format!("{s:.2}×")),
            match &w.guest_memory {
                Ok(memory) => mib(memory.after_call as u64),
                Err(_) => "–".to_owned(),
            },
            w.peak_rss_kib.map_or("–".to_owned(), |k| mib(k * 1024)),
            duration(w.settings_validation.median),
        );
    }
    let _ = writeln!(
        out,
        "\n*instantiate*: fresh store and instance, `wapc_init`; *validate call*: the guest's `validate`, host calls included; *median*, *p99*: the two together, what a request waits for, over the *n* evaluations of the single-thread loop. *native parse*: `serde_json::from_slice::<Value>` of the same payload in the runner. *scaling*: eval/s at the most threads over eval/s on one. *guest memory*: linear memory after one evaluation. *peak RSS*: the process's VmHWM while the workload ran. *settings*: `validate_settings` on a fresh instance, median of a few.\n"
    );
    for w in &report.workloads {
        let _ = writeln!(out, "- `{}`: {}", w.name, w.description);
    }

    let growths = growth(&report.workloads);
    if !growths.is_empty() {
        let _ = writeln!(out, "\n## Growth with the container count\n");
        let _ = writeln!(
            out,
            "| family | 1 | 10 | 100 | ×(1→10) | ×(10→100) | per added container, 1→10 | per added container, 10→100 |\n|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        for g in &growths {
            let (a, b) = g.ratios();
            let (m1, m2) = g.per_added_container_us();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {a:.2} | {b:.2} | {m1:.1} µs | {m2:.1} µs |",
                g.family.slug(),
                duration(g.medians[0]),
                duration(g.medians[1]),
                duration(g.medians[2]),
            );
        }
    }

    if report.threads.iter().any(|&t| t > 1) {
        let _ = writeln!(out, "\n## Threads\n");
        let _ = writeln!(
            out,
            "Each thread runs its own loop of fresh instances of the one compiled module. *CPUs busy*: the process's CPU time over wall time in the loop; below the thread count, the threads waited (for a CPU taken by other processes, or for each other). *per CPU-second*: eval/s divided by CPUs busy; its ratio stays near 1.0 when the threads do not slow each other down.\n"
        );
        let _ = writeln!(
            out,
            "| workload | threads | eval/s | CPUs busy | eval per CPU-second |\n|---|---:|---:|---:|---:|"
        );
        for w in &report.workloads {
            for t in &w.throughput {
                let busy = t.cpus_used();
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.0} | {} | {} |",
                    w.name,
                    t.threads,
                    t.per_second(),
                    busy.map_or("–".to_owned(), |b| format!("{b:.2}")),
                    busy.map_or("–".to_owned(), |b| format!("{:.0}", t.per_second() / b)),
                );
            }
            if let (Some((most, wall)), Some(per_cpu)) = (w.scaling(), w.per_cpu_scaling()) {
                let _ = writeln!(
                    out,
                    "| {} | 1 → {most} | ×{wall:.2} | | ×{per_cpu:.2} |",
                    w.name
                );
            }
        }
    }

    let _ = writeln!(out, "\n## Where the time goes\n");
    let _ = writeln!(
        out,
        "| workload | instantiate | validate call | second call on the same instance | one-time work in the first call | teardown |\n|---|---:|---:|---:|---:|---:|"
    );
    for w in &report.workloads {
        let (warm, one_time) = match &w.warm_call {
            Some(warm) => (
                duration(warm.median),
                duration(w.call.median.saturating_sub(warm.median)),
            ),
            None => ("–".to_owned(), "–".to_owned()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {warm} | {one_time} | {} |",
            w.name,
            duration(w.instantiate.median),
            duration(w.call.median),
            duration(w.teardown.median),
        );
    }
    if let (Some(with_image), Some(without)) = (
        report.workloads.iter().find(|w| w.name == "pod-1-nomatch"),
        report
            .workloads
            .iter()
            .find(|w| w.name == "diag-pod-no-image"),
    ) {
        let _ = writeln!(
            out,
            "\nWhat parsing the first image reference adds to the call (one-time work such as building a regex lands here): `pod-1-nomatch` − `diag-pod-no-image` = {}.",
            duration(with_image.call.median.saturating_sub(without.call.median))
        );
    }

    let _ = writeln!(out, "\n## Targets\n");
    let _ = writeln!(out, "| target | result | figures |\n|---|---|---|");
    for check in targets(report) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            check.target,
            check.verdict.label(),
            check.detail
        );
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for note in &report.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

fn load(average: Option<f64>) -> String {
    average.map_or("unknown".to_owned(), |a| format!("{a:.2}"))
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        f64::INFINITY
    } else {
        a.as_secs_f64() / b.as_secs_f64()
    }
}

/// Three significant figures in the unit that fits.
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$} {unit}")
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1024.0 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy_specific::bench::workloads::Outcome;

    fn us(micros: u64) -> Duration {
        Duration::from_micros(micros)
    }

    fn result(
        name: &str,
        family: Option<Family>,
        containers: usize,
        latency_us: u64,
    ) -> WorkloadResult {
        WorkloadResult {
            name: name.to_owned(),
            description: "d".to_owned(),
            family,
            containers,
            diagnostic: false,
            expected: Expected {
                outcome: Outcome::Accept,
                host_call_budget: 0,
                nothing_matches: true,
            },
            payload_bytes: 2048,
            samples: 100,
            outcome: "accept".to_owned(),
            outcome_as_expected: true,
            host_calls: 0,
            instantiate: Stats {
                median: us(40),
                p99: us(60),
            },
            call: Stats {
                median: us(latency_us - 40),
                p99: us(latency_us),
            },
            latency: Stats {
                median: us(latency_us),
                p99: us(latency_us + 20),
            },
            teardown: Stats {
                median: us(5),
                p99: us(9),
            },
            warm_call: Some(Stats {
                median: us(20),
                p99: us(30),
            }),
            native_parse: Stats {
                median: us(10),
                p99: us(12),
            },
            settings_validation: Stats {
                median: us(90),
                p99: us(90),
            },
            throughput: vec![loop_of(1, 1000, 1000), loop_of(2, 1900, 1950)],
            guest_memory: Ok(GuestMemory {
                initial: 1 << 20,
                after_call: 2 << 20,
            }),
            peak_rss_kib: Some(40_000),
        }
    }

    /// One second of `evaluations` on `threads` threads, with `cpu_ms` of CPU time.
    fn loop_of(threads: usize, evaluations: usize, cpu_ms: u64) -> Throughput {
        Throughput {
            threads,
            evaluations,
            wall: Duration::from_secs(1),
            cpu: Some(Duration::from_millis(cpu_ms)),
        }
    }

    fn report(workloads: Vec<WorkloadResult>, module_bytes: u64) -> BenchReport {
        let module = ModuleFile {
            role: "after wasm-opt",
            path: "policy.wasm".to_owned(),
            bytes: Some(module_bytes),
        };
        BenchReport {
            machine: Machine {
                cpus: 2,
                cpu_model: "CPU".to_owned(),
                memory_kib: Some(1 << 20),
            },
            command: "policy-runner bench x.wasm".to_owned(),
            budget: Budget {
                iterations: 100,
                time_limit: None,
            },
            warmup: 10,
            threads: vec![1, 2],
            modules: vec![module.clone()],
            optimized_module: Some(module),
            compile: Stats {
                median: Duration::from_millis(900),
                p99: Duration::from_millis(950),
            },
            compiles: 3,
            workloads,
            load: (Some(0.5), Some(0.7)),
            notes: Vec::new(),
        }
    }

    fn verdict_of(report: &BenchReport, prefix: &str) -> Verdict {
        targets(report)
            .into_iter()
            .find(|c| c.target.starts_with(prefix))
            .unwrap()
            .verdict
    }

    #[test]
    fn median_and_nearest_rank_p99() {
        let samples: Vec<Duration> = (1..=200).rev().map(us).collect();
        assert_eq!(
            Stats::of(&samples),
            Stats {
                median: Duration::from_nanos(100_500),
                p99: us(198)
            }
        );
        assert_eq!(
            Stats::of(&[us(7)]),
            Stats {
                median: us(7),
                p99: us(7)
            }
        );
        assert_eq!(Stats::of(&[]), Stats::default());
    }

    #[test]
    fn durations_keep_three_significant_figures() {
        assert_eq!(duration(Duration::from_nanos(850)), "850 ns");
        assert_eq!(duration(Duration::from_nanos(1_234)), "1.23 µs");
        assert_eq!(duration(us(45_600)), "45.6 ms");
        assert_eq!(duration(Duration::from_millis(2_500)), "2.50 s");
    }

    #[test]
    fn linear_growth_is_met_and_superlinear_is_missed() {
        let linear = Growth {
            family: Family::Inject,
            medians: [us(100), us(190), us(1090)],
        };
        assert_eq!(linear.ratios().0, 1.9);
        assert_eq!(linear.per_added_container_us(), (10.0, 10.0));
        assert!(linear.at_most_linear());
        let quadratic = Growth {
            family: Family::Inject,
            medians: [us(100), us(200), us(3000)],
        };
        assert!(
            !quadratic.at_most_linear(),
            "an added container got 2.8× dearer"
        );
        let steep = Growth {
            family: Family::Inject,
            medians: [us(10), us(200), us(300)],
        };
        assert!(!steep.at_most_linear(), "×20 for ×10 containers");
    }

    #[test]
    fn targets_are_judged_per_workload() {
        let workloads = vec![
            result("pod-1-nomatch", Some(Family::NoMatch), 1, 100),
            result("pod-10-nomatch", Some(Family::NoMatch), 10, 190),
            result("pod-100-nomatch", Some(Family::NoMatch), 100, 1090),
        ];
        let mut report = report(workloads, 200 * 1024);
        assert_eq!(verdict_of(&report, "validate median"), Verdict::Missed);
        assert_eq!(verdict_of(&report, "growth"), Verdict::Met);
        assert_eq!(verdict_of(&report, "optimized module"), Verdict::Met);
        assert_eq!(verdict_of(&report, "1 → 2 thread"), Verdict::Met);
        assert_eq!(verdict_of(&report, "host calls"), Verdict::Met);

        report.workloads[0].host_calls = 1;
        report.workloads[1].throughput = vec![loop_of(1, 1000, 1000), loop_of(2, 1200, 1250)];
        report.optimized_module.as_mut().unwrap().bytes = Some(1_300_000);
        assert_eq!(verdict_of(&report, "host calls"), Verdict::Missed);
        assert_eq!(verdict_of(&report, "optimized module"), Verdict::Missed);
        let scaling = targets(&report)
            .into_iter()
            .find(|c| c.target.starts_with("1 → 2"))
            .unwrap();
        assert_eq!(scaling.verdict, Verdict::Missed);
        assert_eq!(
            scaling.detail,
            "missed by 1 of 3: pod-10-nomatch 1.20×; per CPU-second ×0.96 to ×0.97, with at most 1.95 CPUs busy"
        );
    }

    #[test]
    fn diagnostics_and_missing_data_do_not_decide_targets() {
        let mut diag = result("diag-pod-no-image", None, 1, 20);
        diag.diagnostic = true;
        diag.host_calls = 3;
        let mut report = report(vec![diag], 1);
        report.optimized_module = None;
        for check in targets(&report) {
            assert_eq!(check.verdict, Verdict::NotMeasured, "{}", check.target);
        }
    }

    #[test]
    fn render_has_one_row_per_workload_and_every_section() {
        let workloads = vec![
            result("pod-1-nomatch", Some(Family::NoMatch), 1, 100),
            result("diag-pod-no-image", None, 1, 60),
        ];
        let text = render(&report(workloads, 1_300_000));
        assert!(text.contains("| pod-1-nomatch | 1 | 2.0 KiB | accept | 0 | 100 | 40.0 µs | 60.0 µs | 100 µs | 120 µs | 10.0 µs | 10.0× | 1000 | 1900 | 1.90× | 2.0 MiB | 39.1 MiB | 90.0 µs |"), "{text}");
        assert!(
            text.contains("`pod-1-nomatch` − `diag-pod-no-image` = 40.0 µs."),
            "{text}"
        );
        assert!(text.contains("| pod-1-nomatch | 2 | 1900 | 1.95 | 974 |\n| pod-1-nomatch | 1 → 2 | ×1.90 | | ×0.97 |"), "{text}");
        assert!(text.contains("| optimized module ≤ 250 KB | **missed** | policy.wasm: 1269.5 KiB (5.1× the target) |"), "{text}");
        for section in [
            "## Module",
            "## Workloads",
            "## Where the time goes",
            "## Targets",
        ] {
            assert!(text.contains(section), "{section}");
        }
    }
}
