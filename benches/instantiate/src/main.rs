//! `instantiate-bench ITERATIONS ROUNDS MODULE...`: for each module, `ITERATIONS` times a fresh
//! `Store` and instance (imports stubbed to answer zeros), its
//! `wapc_init`, and dropping the store; modules interleaved, the order rotated each round. Prints
//! per module the median over rounds of the mean time of each phase, and its share of the first
//! module's total (the unpadded floor when the script passes it first).
//!
//! PolicyServer does more per evaluation (a WASI context, the waPC host, the request itself), the
//! same for every module: what differs between the modules here is what their sizes cost.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wasmtime::{Config, Engine, ExternType, InstancePre, Linker, Module, Store, Val};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: instantiate-bench ITERATIONS ROUNDS MODULE...";
    let iterations: u32 = args.first().context(usage)?.parse().context(usage)?;
    let rounds: usize = args.get(1).context(usage)?.parse().context(usage)?;
    let paths = &args[2..];
    anyhow::ensure!(!paths.is_empty(), usage);
    // PolicyServer's engine: `wasmtime::Config::new()`, epoch interruption only with a timeout.
    // `EAGER_TABLES=1`: `table_lazy_init(false)`, every table element set at instantiation.
    let eager = std::env::var_os("EAGER_TABLES").is_some_and(|v| v == "1");
    let mut config = Config::new();
    if eager {
        config.table_lazy_init(false);
    }
    let engine = Engine::new(&config)?;
    let pres: Vec<InstancePre<()>> = paths
        .iter()
        .map(|path| {
            let module =
                Module::from_file(&engine, path).map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?;
            let mut linker = Linker::new(&engine);
            // Every import answers zeros (`random_get`, which `wapc_init` calls for its HashMap:
            // success, buffer untouched); the floors make no other host call before `validate`.
            for import in module.imports() {
                if let ExternType::Func(ty) = import.ty() {
                    linker.func_new(import.module(), import.name(), ty, |_, _, results| {
                        for result in results {
                            *result = match result {
                                Val::I64(_) => Val::I64(0),
                                _ => Val::I32(0),
                            };
                        }
                        Ok(())
                    })?;
                }
            }
            Ok(linker.instantiate_pre(&module)?)
        })
        .collect::<Result<_>>()?;
    // [module][round] = (instantiate, wapc_init, drop, minor page faults), mean per iteration.
    let mut times = vec![Vec::new(); pres.len()];
    for round in 0..rounds {
        for k in 0..pres.len() {
            let m = (k + round) % pres.len();
            let (mut instantiate, mut init, mut drop) =
                (Duration::ZERO, Duration::ZERO, Duration::ZERO);
            let faults_before = minor_faults();
            for _ in 0..iterations {
                let t0 = Instant::now();
                let mut store = Store::new(&engine, ());
                let instance = pres[m].instantiate(&mut store)?;
                let t1 = Instant::now();
                instance
                    .get_typed_func::<(), ()>(&mut store, "wapc_init")?
                    .call(&mut store, ())?;
                let t2 = Instant::now();
                std::mem::drop(store);
                let t3 = Instant::now();
                instantiate += t1 - t0;
                init += t2 - t1;
                drop += t3 - t2;
            }
            let n = f64::from(iterations);
            let us = |d: Duration| d.as_secs_f64() * 1e6 / n;
            let faults = (minor_faults() - faults_before) as f64 / n;
            times[m].push((us(instantiate), us(init), us(drop), faults));
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        }
    };
    let config = if eager {
        "table_lazy_init(false)"
    } else {
        "default Config"
    };
    println!("wasmtime 44.0.3, {config}, {iterations} fresh instances per module and round, {rounds} interleaved round(s), medians over rounds; µs per instance.\n");
    println!("| module | instantiate | wapc_init | drop | total | % of first | minor faults / instance | totals per round |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let total = |t: &(f64, f64, f64, f64)| t.0 + t.1 + t.2;
    let first = median(times[0].iter().map(total).collect());
    for (path, t) in paths.iter().zip(&times) {
        let name = std::path::Path::new(path)
            .file_stem()
            .unwrap()
            .to_string_lossy();
        let all = median(t.iter().map(total).collect());
        let rounds: Vec<String> = t.iter().map(|t| format!("{:.2}", total(t))).collect();
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {all:.2} | {:.1} % | {:.2} | {} |",
            median(t.iter().map(|t| t.0).collect()),
            median(t.iter().map(|t| t.1).collect()),
            median(t.iter().map(|t| t.2).collect()),
            100.0 * all / first,
            median(t.iter().map(|t| t.3).collect()),
            rounds.join(", ")
        );
    }
    Ok(())
}

/// This process's minor page faults so far (`/proc/self/stat`, field 10).
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7))
        .and_then(|field| field.parse().ok())
        .unwrap_or(0)
}
