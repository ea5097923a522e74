//! `bench`: latency, throughput, memory and host calls of an annotated policy, measured as
//! PolicyServer runs it (compiled once, a fresh instance per evaluation), against the
//! floor of parsing the same payload natively. Reports; never asserts.

pub mod guest_memory;
pub mod measure;
pub mod process;
pub mod report;
pub mod workloads;

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::engine::{CompiledPolicy, Limits, POOLED_INSTANCES};
use crate::host::Host;
use crate::metadata::Metadata;
use measure::{Bench, Budget, Prepared};
use report::{BenchReport, ModuleFile, Stats, WorkloadResult};
use workloads::Outcome;

/// Without `--iterations`, each loop runs up to this many evaluations or for this long,
/// so a default run stays under two minutes on a 2-core machine whatever a call costs.
pub const DEFAULT_MAX_ITERATIONS: usize = 10_000;
pub const DEFAULT_LOOP_TIME: Duration = Duration::from_secs(2);
pub const DEFAULT_WARMUP: usize = 20;
const DEFAULT_THREADS: [usize; 2] = [1, 2];
/// Compiles timed for the compile figure; the last one is benchmarked.
const COMPILES: usize = 3;
const SETTINGS_RUNS: usize = 5;
/// Native parses are cheap and noisy: many more of them.
const NATIVE_PARSES: usize = 2000;
/// Where `make` leaves the module before and after wasm-opt, from the repository root.
const BUILT_MODULE: &str = "target/wasm32-wasip1/wasm/image_pull_secrets.wasm";
const OPTIMIZED_MODULE: &str = "policy.wasm";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchOptions {
    pub module_path: String,
    /// Exactly this many measured evaluations per loop; `None`: as many as fit in
    /// [`DEFAULT_LOOP_TIME`], up to [`DEFAULT_MAX_ITERATIONS`].
    pub iterations: Option<usize>,
    pub warmup: usize,
    /// Thread counts for the throughput figures; 1 comes from the latency loop.
    pub threads: Vec<usize>,
    /// Workloads whose name contains any of these; all when empty.
    pub workloads: Vec<String>,
    /// PolicyServer's limits by default, as `run` applies them.
    pub limits: Limits,
    /// Pooled memory kept resident between instances (0: wasmtime's default).
    pub keep_resident_bytes: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            module_path: String::new(),
            iterations: None,
            warmup: DEFAULT_WARMUP,
            threads: DEFAULT_THREADS.to_vec(),
            workloads: Vec::new(),
            limits: Limits::default(),
            keep_resident_bytes: 0,
        }
    }
}

impl BenchOptions {
    pub fn budget(&self) -> Budget {
        match self.iterations {
            Some(iterations) => Budget {
                iterations,
                time_limit: None,
            },
            None => Budget {
                iterations: DEFAULT_MAX_ITERATIONS,
                time_limit: Some(DEFAULT_LOOP_TIME),
            },
        }
    }
}

/// The most threads at once: each holds one pooled instance, and the probe one more.
pub fn max_threads() -> usize {
    POOLED_INSTANCES as usize - 1
}

/// The benchmark as the command line asks for it: the rendered markdown report.
pub fn bench(args: &crate::cli::BenchArgs, progress: impl FnMut(&str)) -> Result<String> {
    let options = BenchOptions {
        module_path: args.module_path.clone(),
        iterations: args.iterations.map(|n| n as usize),
        warmup: args.warmup,
        threads: vec![1, args.threads as usize],
        workloads: args.workload.clone(),
        limits: args.limits.limits(),
        keep_resident_bytes: 0,
    };
    Ok(report::render(&measure_all(&options, progress)?))
}

/// Runs the benchmark; `progress` gets one line per step (for stderr). Returns the report.
pub fn measure_all(options: &BenchOptions, mut progress: impl FnMut(&str)) -> Result<BenchReport> {
    let selected = select(&options.workloads)?;
    let load_before = process::load_average();
    let module = std::fs::read(&options.module_path)
        .with_context(|| format!("cannot read {}", options.module_path))?;
    let mut notes = Vec::new();
    let metadata = Metadata::from_module(&module)
        .with_context(|| format!("cannot read the metadata of {}", options.module_path))?;
    if metadata.is_none() {
        notes.push(format!(
            "{} is not annotated: the policy may not read Kubernetes resources, so the verify workloads are refused",
            options.module_path
        ));
    }
    let allowed = Host::allowed_resources(metadata.as_ref(), true);
    if !process::reset_peak_rss() {
        notes.push(
            "/proc/self/clear_refs refused the reset: peak RSS accumulates over the run".to_owned(),
        );
    }
    let (modules, optimized_module) = module_files(&options.module_path, module.len() as u64);

    progress(&format!("compiling {} ({COMPILES}×)", options.module_path));
    let limits = options.limits;
    let mut compile_samples = measure::compile_times(&module, limits, COMPILES - 1)?;
    let started = std::time::Instant::now();
    let policy = CompiledPolicy::compile(&module, limits, false)?;
    compile_samples.push(started.elapsed());

    let bench = Bench::new(&policy, allowed);
    let mut results = Vec::new();
    for workload in selected {
        let name = workload.name.clone();
        progress(&format!("{name}: {}", workload.description));
        match run_workload(&bench, Prepared::new(workload)?, options) {
            Ok(result) => {
                if !result.outcome_as_expected {
                    notes.push(format!(
                        "{name}: unexpected outcome {} (expected {:?})",
                        result.outcome, result.expected.outcome
                    ));
                }
                if let Err(error) = &result.guest_memory {
                    notes.push(format!("{name}: guest memory not measured: {error}"));
                }
                results.push(result);
            }
            Err(error) => notes.push(format!("{name}: not measured: {error:#}")),
        }
    }
    Ok(BenchReport {
        machine: process::Machine::current(),
        command: command_line(options),
        budget: options.budget(),
        warmup: options.warmup,
        threads: options.threads.clone(),
        modules,
        optimized_module,
        compile: Stats::of(&compile_samples),
        compiles: COMPILES,
        workloads: results,
        load: (load_before, process::load_average()),
        notes,
    })
}

fn select(filters: &[String]) -> Result<Vec<workloads::Workload>> {
    let all = workloads::all();
    if filters.is_empty() {
        return Ok(all);
    }
    let names: Vec<String> = all.iter().map(|w| w.name.clone()).collect();
    let selected: Vec<_> = all
        .into_iter()
        .filter(|w| filters.iter().any(|f| w.name.contains(f.as_str())))
        .collect();
    if selected.is_empty() {
        bail!(
            "no workload matches {}; workloads: {}",
            filters.join(", "),
            names.join(", ")
        );
    }
    Ok(selected)
}

fn run_workload(
    bench: &Bench,
    prepared: Prepared,
    options: &BenchOptions,
) -> Result<WorkloadResult> {
    let workload = &prepared.workload;
    process::reset_peak_rss();

    // One reference evaluation: what the guest decides, and how many host calls it makes.
    let (sample, answer) = bench.evaluate(&prepared)?;
    let (outcome, outcome_as_expected) = match answer {
        Ok(bytes) => {
            let response = prepared.response(&bytes)?;
            let patch_ops = response
                .patch
                .as_deref()
                .map(|_| count_patch_operations(&response));
            match (response.allowed, patch_ops) {
                (true, Some(ops)) => (
                    format!("patch ({ops} op{})", if ops == 1 { "" } else { "s" }),
                    workload.expected.outcome == Outcome::Patch,
                ),
                (true, None) => (
                    "accept".to_owned(),
                    workload.expected.outcome == Outcome::Accept,
                ),
                (false, _) => (
                    format!(
                        "reject {}",
                        response
                            .status
                            .and_then(|s| s.code)
                            .map_or("(no code)".to_owned(), |c| c.to_string())
                    ),
                    false,
                ),
            }
        }
        Err(error) => (format!("guest error: {error}"), false),
    };

    let settings = Stats::of(&bench.settings_validation(&prepared, SETTINGS_RUNS)?);
    let native = Stats::of(&measure::native_parse(&prepared.payload, NATIVE_PARSES)?);
    let budget = options.budget();
    let (samples, single) = bench.latency(&prepared, options.warmup, budget)?;
    let mut throughput = Vec::new();
    for &threads in &options.threads {
        throughput.push(if threads == 1 {
            single
        } else {
            bench.throughput(&prepared, threads, options.warmup, budget)?
        });
    }
    let warm_call = bench
        .warm_call(&prepared, budget.share(4))
        .ok()
        .map(|s| Stats::of(&s));
    let probe_host = bench.host(&workload.exchanges, 1);
    let guest_memory =
        guest_memory::measure(bench.policy(), &probe_host, "validate", &prepared.payload)
            .map_err(|e| format!("{e:#}"));
    let peak_rss_kib = process::peak_rss_kib();

    let pick = |f: fn(&measure::Sample) -> std::time::Duration| {
        Stats::of(&samples.iter().map(f).collect::<Vec<_>>())
    };
    Ok(WorkloadResult {
        name: workload.name.clone(),
        description: workload.description.clone(),
        family: workload.family,
        containers: workload.containers,
        diagnostic: workload.diagnostic,
        expected: workload.expected,
        payload_bytes: prepared.payload.len(),
        samples: samples.len(),
        outcome,
        outcome_as_expected,
        host_calls: samples
            .iter()
            .map(|s| s.host_calls)
            .max()
            .unwrap_or(sample.host_calls),
        instantiate: pick(|s| s.instantiate),
        call: pick(|s| s.call),
        latency: pick(|s| s.latency()),
        teardown: pick(|s| s.teardown),
        warm_call,
        native_parse: native,
        settings_validation: settings,
        throughput,
        guest_memory,
        peak_rss_kib,
    })
}

fn count_patch_operations(response: &crate::response::AdmissionResponse) -> usize {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    response
        .patch
        .as_deref()
        .and_then(|p| STANDARD.decode(p).ok())
        .and_then(|bytes| serde_json::from_slice::<Vec<serde_json::Value>>(&bytes).ok())
        .map_or(0, |ops| ops.len())
}

/// The given module, and the build's module before and after wasm-opt when present (looked
/// for next to the given one, which `make` writes at the repository root). The size target
/// applies to the optimized module, or to the given one if that is not found.
fn module_files(module_path: &str, given_bytes: u64) -> (Vec<ModuleFile>, Option<ModuleFile>) {
    let root = Path::new(module_path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = |role: &'static str, relative: &str| {
        let path = root.join(relative);
        ModuleFile {
            role,
            bytes: std::fs::metadata(&path).ok().map(|m| m.len()),
            path: path
                .strip_prefix(".")
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned(),
        }
    };
    let given = ModuleFile {
        role: "benchmarked (annotated)",
        path: module_path.to_owned(),
        bytes: Some(given_bytes),
    };
    let built = file("cargo build --profile wasm, before wasm-opt", BUILT_MODULE);
    let optimized = file("after wasm-opt", OPTIMIZED_MODULE);
    let target = if optimized.bytes.is_some() {
        optimized.clone()
    } else {
        given.clone()
    };
    (vec![given, built, optimized], Some(target))
}

fn command_line(options: &BenchOptions) -> String {
    let mut line = "policy-runner bench".to_owned();
    if let Some(iterations) = options.iterations {
        line.push_str(&format!(" --iterations {iterations}"));
    }
    if options.warmup != DEFAULT_WARMUP {
        line.push_str(&format!(" --warmup {}", options.warmup));
    }
    if options.threads != DEFAULT_THREADS {
        let list: Vec<String> = options.threads.iter().map(usize::to_string).collect();
        line.push_str(&format!(" --threads-list {}", list.join(",")));
    }
    for workload in &options.workloads {
        line.push_str(&format!(" --workload {workload}"));
    }
    if options.keep_resident_bytes > 0 {
        line.push_str(&format!(
            " --keep-resident-kib {}",
            options.keep_resident_bytes >> 10
        ));
    }
    if options.limits.max_memory_bytes != Limits::default().max_memory_bytes {
        let mib = options
            .limits
            .max_memory_bytes
            .map_or(0, |bytes| bytes >> 20);
        line.push_str(&format!(" --max-memory-mib {mib}"));
    }
    line.push(' ');
    line.push_str(&options.module_path);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_filters_match_substrings_and_name_the_choices() {
        let pods = select(&["pod-100".to_owned()]).unwrap();
        let names: Vec<&str> = pods.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            ["pod-100-inject", "pod-100-present", "pod-100-nomatch"]
        );
        let err = select(&["nope".to_owned()]).unwrap_err().to_string();
        assert!(
            err.contains("no workload matches nope; workloads: pod-1-inject"),
            "{err}"
        );
    }

    #[test]
    fn command_line_shows_only_what_differs_from_the_defaults() {
        let mut options = BenchOptions {
            module_path: "annotated-policy.wasm".to_owned(),
            ..Default::default()
        };
        assert_eq!(
            command_line(&options),
            "policy-runner bench annotated-policy.wasm"
        );
        options.iterations = Some(20);
        options.threads = vec![1, 2, 4];
        assert_eq!(
            command_line(&options),
            "policy-runner bench --iterations 20 --threads-list 1,2,4 annotated-policy.wasm"
        );
    }

    #[test]
    fn module_files_are_found_next_to_the_given_module() {
        let (files, target) = module_files("/nonexistent/annotated.wasm", 10);
        assert_eq!(files[1].path, format!("/nonexistent/{BUILT_MODULE}"));
        assert_eq!(files[2].bytes, None);
        assert_eq!(
            target.unwrap().path,
            "/nonexistent/annotated.wasm",
            "no optimized module: the given one"
        );
    }
}
