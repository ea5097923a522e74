//! `bench`: this policy's workloads timed as PolicyServer runs them (compiled once, a fresh
//! instance per evaluation) against the floor of parsing the same payload natively. It prints
//! figures, one markdown table; BENCHMARKS.md judges them against the targets.

use std::collections::BTreeSet;
use std::fmt;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::cli::BenchArgs;
use crate::engine::{CompiledPolicy, Limits};
use crate::evaluate::validation_payload;
use crate::host::{Cluster, Host};
use crate::metadata::{ContextAwareResource, Metadata};
use crate::request::{parse_document, read_input, ValidateRequest};
use crate::session::Session;

/// `(request, settings, replay session)` in `benches/`: the inputs of issue 12's `kwctl bench`
/// and policy-server runs, so the figures line up. The last one verifies its secret.
const WORKLOADS: [(&str, &str, Option<&str>); 8] = [
    ("configmap", "image-pull-secrets", None),
    ("pod-1-accept", "image-pull-secrets", None),
    ("pod-10-accept", "image-pull-secrets", None),
    ("pod-100-accept", "image-pull-secrets", None),
    ("pod-1-inject", "image-pull-secrets", None),
    ("pod-10-inject", "image-pull-secrets", None),
    ("pod-100-inject", "image-pull-secrets", None),
    (
        "pod-1-inject",
        "image-pull-secrets-verify",
        Some("replay-corp-registry.yml"),
    ),
];
/// Unmeasured evaluations before each workload's loop.
const WARMUP: usize = 20;

/// A request ready for the guest, and the host answers one evaluation of it needs.
pub struct Workload {
    pub name: String,
    /// `{"request": ..., "settings": ...}`, as `run` sends it.
    pub payload: Vec<u8>,
    /// Re-armed for every evaluation.
    pub session: Session,
}

/// Median and 99th percentile (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub median: Duration,
    pub p99: Duration,
}

/// One workload's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub payload_bytes: usize,
    /// Host calls in one evaluation.
    pub host_calls: usize,
    /// Instantiation and the `validate` call: what an admission request waits for.
    pub validate: Stats,
    /// `serde_json::from_slice::<Value>` of the same payload, in the runner.
    pub native_parse: Stats,
}

/// What `make bench` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub module_path: String,
    pub module_bytes: usize,
    pub iterations: usize,
    pub rows: Vec<Row>,
}

/// The command: the workloads of `args.benches`, measured and rendered.
pub fn bench(args: &BenchArgs, progress: impl FnMut(&str)) -> Result<String> {
    let module = std::fs::read(&args.module_path)
        .with_context(|| format!("cannot read {}", args.module_path))?;
    let metadata = Metadata::from_module(&module)
        .with_context(|| format!("cannot read the metadata of {}", args.module_path))?;
    let allowed = Host::allowed_resources(metadata.as_ref(), true);
    let iterations = args.iterations as usize;
    let workloads = workloads(Path::new(&args.benches))?;
    let rows = measure(
        &module,
        args.limits.limits(),
        allowed,
        &workloads,
        iterations,
        progress,
    )?;
    let report = Report {
        module_path: args.module_path.clone(),
        module_bytes: module.len(),
        iterations,
        rows,
    };
    Ok(report.to_string())
}

/// This policy's workloads, read from `benches` (the repository's `benches/` folder).
pub fn workloads(benches: &Path) -> Result<Vec<Workload>> {
    let read = |relative: String| -> Result<Value> {
        let path = benches.join(relative).to_string_lossy().into_owned();
        parse_document(&read_input(&path)?, &path)
    };
    let mut workloads = Vec::new();
    for (request, settings, session) in WORKLOADS {
        let document = read(format!("requests/{request}.json"))?;
        let Value::Object(settings_map) = read(format!("settings/{settings}.json"))? else {
            bail!("settings/{settings}.json: settings must be a mapping");
        };
        workloads.push(Workload {
            name: match session {
                Some(_) => format!("{request}, {settings}"),
                None => request.to_owned(),
            },
            payload: validation_payload(
                &ValidateRequest::from_document(document, false)?,
                &settings_map,
            )?,
            session: match session {
                Some(file) => Session::load(&benches.join(file).to_string_lossy())?,
                None => Session::default(),
            },
        });
    }
    Ok(workloads)
}

/// Times `iterations` evaluations of each workload, each on a fresh instance of `module`
/// compiled once, and as many native parses of its payload. A guest error fails the run.
pub fn measure(
    module: &[u8],
    limits: Limits,
    allowed: BTreeSet<ContextAwareResource>,
    workloads: &[Workload],
    iterations: usize,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Row>> {
    let policy = CompiledPolicy::compile(module, limits, false)?;
    let mut rows = Vec::new();
    for workload in workloads {
        progress(&workload.name);
        let evaluate = || -> Result<(Duration, usize)> {
            let cluster = Cluster::Replay(workload.session.clone());
            let host = Arc::new(Host::new(allowed.clone(), cluster, false));
            let start = Instant::now();
            let instance = policy.instantiate(&host)?;
            instance
                .call("validate", &workload.payload)
                .map_err(|e| anyhow!("{}: the guest failed: {e}", workload.name))?;
            Ok((start.elapsed(), host.kubernetes_calls()))
        };
        for _ in 0..WARMUP {
            evaluate()?;
        }
        let (times, calls): (Vec<Duration>, Vec<usize>) = (0..iterations)
            .map(|_| evaluate())
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let native = (0..iterations)
            .map(|_| {
                let start = Instant::now();
                black_box(serde_json::from_slice::<Value>(black_box(
                    &workload.payload,
                ))?);
                Ok(start.elapsed())
            })
            .collect::<Result<Vec<_>>>()?;
        rows.push(Row {
            name: workload.name.clone(),
            payload_bytes: workload.payload.len(),
            host_calls: calls.into_iter().max().unwrap_or(0),
            validate: Stats::of(times),
            native_parse: Stats::of(native),
        });
    }
    Ok(rows)
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |rank: usize| samples.get(rank.max(1) - 1).copied().unwrap_or_default();
        Self {
            median: at(samples.len().div_ceil(2)),
            p99: at((samples.len() * 99).div_ceil(100)),
        }
    }
}

impl Row {
    /// The validate median over the native parse's median.
    pub fn ratio(&self) -> f64 {
        self.validate.median.as_secs_f64() / self.native_parse.median.as_secs_f64()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} bytes ({:.1} KiB). {} evaluations per workload, each on a fresh instance.\n",
            self.module_path,
            self.module_bytes,
            self.module_bytes as f64 / 1024.0,
            self.iterations
        )?;
        writeln!(f, "| workload | payload | host calls | validate median | validate p99 | native parse | ÷ native |")?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|---:|")?;
        for row in &self.rows {
            writeln!(
                f,
                "| {} | {:.1} KiB | {} | {} | {} | {} | {:.1}× |",
                row.name,
                row.payload_bytes as f64 / 1024.0,
                row.host_calls,
                micros(row.validate.median),
                micros(row.validate.p99),
                micros(row.native_parse.median),
                row.ratio()
            )?;
        }
        Ok(())
    }
}

fn micros(duration: Duration) -> String {
    format!("{:.1} µs", duration.as_secs_f64() * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn benches() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches")
    }

    #[test]
    fn workloads_come_from_benches_and_grow_with_the_pod() {
        let workloads = workloads(&benches()).unwrap();
        assert_eq!(workloads.len(), WORKLOADS.len());
        let size = |name: &str| {
            workloads
                .iter()
                .find(|w| w.name == name)
                .unwrap()
                .payload
                .len()
        };
        for family in ["accept", "inject"] {
            let sizes = [1, 10, 100].map(|n| size(&format!("pod-{n}-{family}")));
            assert!(
                sizes[0] < sizes[1] && sizes[1] < sizes[2],
                "{family}: {sizes:?}"
            );
        }
        let replayed: Vec<(&str, usize)> = workloads
            .iter()
            .filter(|w| w.session.remaining() > 0)
            .map(|w| (w.name.as_str(), w.session.remaining()))
            .collect();
        assert_eq!(replayed, [("pod-1-inject, image-pull-secrets-verify", 1)]);
    }

    #[test]
    fn stats_take_the_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let stats = Stats::of((1..=200).rev().map(ms).collect());
        assert_eq!((stats.median, stats.p99), (ms(100), ms(198)));
        let one = Stats::of(vec![ms(7)]);
        assert_eq!((one.median, one.p99), (ms(7), ms(7)));
    }
}
