//! The timed loops: fresh instances of one pre-compiled policy, as PolicyServer runs them,
//! with the host's Kubernetes answers re-armed for every evaluation.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::engine::CompiledPolicy;
use crate::evaluate::{validation_payload, Settings};
use crate::host::{Cluster, Host};
use crate::metadata::ContextAwareResource;
use crate::request::ValidateRequest;
use crate::response::{AdmissionResponse, PolicyValidationResponse, SettingsValidationResponse};
use crate::session::{Exchange, Session};

use super::process;
use super::workloads::Workload;

/// A workload turned into the bytes the guest receives.
pub struct Prepared {
    pub workload: Workload,
    /// `{"request": ..., "settings": ...}`, as `run` sends it.
    pub payload: Vec<u8>,
    pub settings_payload: Vec<u8>,
    request: ValidateRequest,
}

impl Prepared {
    pub fn new(workload: Workload) -> Result<Self> {
        let request = ValidateRequest::from_document(workload.request.clone(), false)?;
        let Value::Object(settings) = workload.settings.clone() else {
            bail!("{}: settings must be a mapping", workload.name);
        };
        let settings: Settings = settings;
        Ok(Self {
            payload: validation_payload(&request, &settings)?,
            settings_payload: serde_json::to_vec(&settings)?,
            request,
            workload,
        })
    }

    /// The AdmissionResponse `run` would print for the guest's `answer`.
    pub fn response(&self, answer: &[u8]) -> Result<AdmissionResponse> {
        let answer: PolicyValidationResponse = serde_json::from_slice(answer)
            .context("the guest's answer is not a ValidationResponse")?;
        AdmissionResponse::from_policy_validation_response(
            self.request.uid(),
            self.request.object(),
            &answer,
        )
        .context("cannot compute the patch")
    }
}

/// Fewest recorded evaluations of a loop, whatever its time limit.
const MIN_SAMPLES: usize = 20;
/// A timed warm-up stops after this fraction of the loop's time limit.
const WARMUP_SHARE: u32 = 4;

/// How long a loop runs: `iterations` evaluations, or fewer if `time_limit` passes first
/// (never fewer than a handful).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub iterations: usize,
    pub time_limit: Option<Duration>,
}

impl Budget {
    fn wants_more(&self, done: usize, elapsed: Duration) -> bool {
        done < self.iterations
            && self
                .time_limit
                .is_none_or(|limit| elapsed < limit || done < MIN_SAMPLES.min(self.iterations))
    }

    /// The same budget with a fraction of the time and iterations.
    pub fn share(&self, divisor: u32) -> Self {
        Self {
            iterations: (self.iterations / divisor as usize).max(1),
            time_limit: self.time_limit.map(|t| t / divisor),
        }
    }
}

/// A throughput loop's count, wall time and CPU use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    pub threads: usize,
    pub evaluations: usize,
    pub wall: Duration,
    /// Process CPU time spent in the loop, when /proc tells it.
    pub cpu: Option<Duration>,
}

impl Throughput {
    fn new(
        threads: usize,
        evaluations: usize,
        wall: Duration,
        cpu_start: Option<Duration>,
    ) -> Self {
        let cpu = cpu_start.and_then(|start| Some(process::cpu_time()?.saturating_sub(start)));
        Self {
            threads,
            evaluations,
            wall,
            cpu,
        }
    }

    pub fn per_second(&self) -> f64 {
        self.evaluations as f64 / self.wall.as_secs_f64()
    }

    /// CPUs the process kept busy on average (2.0: two cores all the time).
    pub fn cpus_used(&self) -> Option<f64> {
        self.cpu
            .map(|cpu| cpu.as_secs_f64() / self.wall.as_secs_f64())
    }
}

/// One evaluation's timings.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Fresh store and instance, `_start` and `wapc_init`.
    pub instantiate: Duration,
    /// The `validate` call, host calls included.
    pub call: Duration,
    /// Dropping the instance (its memory goes back to the pool).
    pub teardown: Duration,
    pub host_calls: usize,
}

impl Sample {
    /// What a request waits for: instantiation plus the call.
    pub fn latency(&self) -> Duration {
        self.instantiate + self.call
    }
}

/// Runs workloads against one compiled policy.
pub struct Bench<'p> {
    policy: &'p CompiledPolicy,
    allowed: BTreeSet<ContextAwareResource>,
}

impl<'p> Bench<'p> {
    pub fn new(policy: &'p CompiledPolicy, allowed: BTreeSet<ContextAwareResource>) -> Self {
        Self { policy, allowed }
    }

    pub fn policy(&self) -> &CompiledPolicy {
        self.policy
    }

    /// A host whose replay answers `rounds` evaluations of the workload.
    pub fn host(&self, exchanges: &[Exchange], rounds: usize) -> Arc<Host> {
        let session = Session::new(std::iter::repeat_n(exchanges, rounds).flatten().cloned());
        Arc::new(Host::new(
            self.allowed.clone(),
            Cluster::Replay(session),
            false,
        ))
    }

    /// One evaluation on a fresh instance; the guest's answer, or its waPC error as text.
    pub fn evaluate(&self, prepared: &Prepared) -> Result<(Sample, Result<Vec<u8>, String>)> {
        let host = self.host(&prepared.workload.exchanges, 1);
        let start = Instant::now();
        let instance = self.policy.instantiate(&host)?;
        let instantiated = Instant::now();
        let answer = instance.call("validate", &prepared.payload);
        let called = Instant::now();
        drop(instance);
        let dropped = Instant::now();
        let sample = Sample {
            instantiate: instantiated - start,
            call: called - instantiated,
            teardown: dropped - called,
            host_calls: host.kubernetes_calls(),
        };
        Ok((sample, answer.map_err(|e| e.to_string())))
    }

    /// Unrecorded warm-up evaluations, then recorded ones on this thread, as the budget
    /// allows; also the loop's throughput.
    pub fn latency(
        &self,
        prepared: &Prepared,
        warmup: usize,
        budget: Budget,
    ) -> Result<(Vec<Sample>, Throughput)> {
        self.warm_up(prepared, warmup, budget)?;
        let mut samples = Vec::new();
        let cpu_start = process::cpu_time();
        let start = Instant::now();
        while budget.wants_more(samples.len(), start.elapsed()) {
            samples.push(self.evaluate(prepared)?.0);
        }
        let throughput = Throughput::new(1, samples.len(), start.elapsed(), cpu_start);
        Ok((samples, throughput))
    }

    /// Evaluations per second with `threads` threads, each its own loop of evaluations on
    /// fresh instances of the shared compiled module, as the budget allows.
    pub fn throughput(
        &self,
        prepared: &Prepared,
        threads: usize,
        warmup: usize,
        budget: Budget,
    ) -> Result<Throughput> {
        let ready = Barrier::new(threads + 1);
        let (elapsed, cpu_start, results) = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| -> Result<usize> {
                        let warmed = self.warm_up(prepared, warmup, budget);
                        ready.wait();
                        warmed?;
                        let start = Instant::now();
                        let mut done = 0;
                        while budget.wants_more(done, start.elapsed()) {
                            let _answer = self.evaluate(prepared)?;
                            done += 1;
                        }
                        Ok(done)
                    })
                })
                .collect();
            ready.wait();
            let cpu_start = process::cpu_time();
            let start = Instant::now();
            let results: Vec<Result<usize>> = workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|_| Err(anyhow!("a bench thread panicked")))
                })
                .collect();
            (start.elapsed(), cpu_start, results)
        });
        let evaluations = results.into_iter().sum::<Result<usize>>()?;
        Ok(Throughput::new(threads, evaluations, elapsed, cpu_start))
    }

    fn warm_up(&self, prepared: &Prepared, warmup: usize, budget: Budget) -> Result<()> {
        let start = Instant::now();
        for _ in 0..warmup {
            if budget
                .time_limit
                .is_some_and(|limit| start.elapsed() > limit / WARMUP_SHARE)
            {
                break;
            }
            let _answer = self.evaluate(prepared)?;
        }
        Ok(())
    }

    /// The second `validate` on one instance: what a call costs once the guest's one-time
    /// work (memory growth, lazily built statics) is done. PolicyServer never does this;
    /// it isolates that work.
    pub fn warm_call(&self, prepared: &Prepared, budget: Budget) -> Result<Vec<Duration>> {
        let mut samples = Vec::new();
        let start = Instant::now();
        while budget.wants_more(samples.len(), start.elapsed()) {
            let host = self.host(&prepared.workload.exchanges, 2);
            let instance = self.policy.instantiate(&host)?;
            instance
                .call("validate", &prepared.payload)
                .map_err(|e| anyhow!("first call: {e}"))?;
            let call_start = Instant::now();
            let answer = instance.call("validate", &prepared.payload);
            samples.push(call_start.elapsed());
            answer.map_err(|e| anyhow!("second call: {e}"))?;
        }
        Ok(samples)
    }

    /// `validate_settings` on fresh instances (instantiation included), `iterations` times.
    pub fn settings_validation(
        &self,
        prepared: &Prepared,
        iterations: usize,
    ) -> Result<Vec<Duration>> {
        let host = self.host(&[], 0);
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let start = Instant::now();
            let instance = self.policy.instantiate(&host)?;
            let answer = instance
                .call("validate_settings", &prepared.settings_payload)
                .map_err(|e| anyhow!("validate_settings: {e}"))?;
            samples.push(start.elapsed());
            let verdict: SettingsValidationResponse = serde_json::from_slice(&answer)?;
            if !verdict.valid {
                bail!(
                    "the guest refused the settings: {}",
                    verdict.message.unwrap_or_default()
                );
            }
        }
        Ok(samples)
    }
}

/// The floor: parsing the same payload natively into a `serde_json::Value`.
pub fn native_parse(payload: &[u8], iterations: usize) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let value = serde_json::from_slice::<Value>(black_box(payload))?;
        black_box(&value);
        samples.push(start.elapsed());
        drop(value);
    }
    Ok(samples)
}

/// Compiling the module as PolicyServer does at start-up, `times` times.
pub fn compile_times(
    module: &[u8],
    limits: crate::engine::Limits,
    times: usize,
) -> Result<Vec<Duration>> {
    (0..times)
        .map(|_| {
            let start = Instant::now();
            let compiled = CompiledPolicy::compile(module, limits, false)?;
            let elapsed = start.elapsed();
            drop(compiled);
            Ok(elapsed)
        })
        .collect()
}
