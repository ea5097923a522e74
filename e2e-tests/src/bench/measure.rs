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

    /// `warmup` unrecorded evaluations, then `iterations` recorded ones on this thread;
    /// also the wall time of the recorded loop.
    pub fn latency(
        &self,
        prepared: &Prepared,
        warmup: usize,
        iterations: usize,
    ) -> Result<(Vec<Sample>, Duration)> {
        for _ in 0..warmup {
            let _answer = self.evaluate(prepared)?;
        }
        let mut samples = Vec::with_capacity(iterations);
        let start = Instant::now();
        for _ in 0..iterations {
            samples.push(self.evaluate(prepared)?.0);
        }
        Ok((samples, start.elapsed()))
    }

    /// Evaluations per second with `threads` threads, each its own loop of `iterations`
    /// evaluations on fresh instances of the shared compiled module.
    pub fn throughput(
        &self,
        prepared: &Prepared,
        threads: usize,
        warmup: usize,
        iterations: usize,
    ) -> Result<f64> {
        let ready = Barrier::new(threads + 1);
        let (elapsed, results) = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| -> Result<()> {
                        let warmed =
                            (0..warmup).try_for_each(|_| self.evaluate(prepared).map(drop));
                        ready.wait();
                        warmed?;
                        (0..iterations).try_for_each(|_| self.evaluate(prepared).map(drop))
                    })
                })
                .collect();
            ready.wait();
            let start = Instant::now();
            let results: Vec<Result<()>> = workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|_| Err(anyhow!("a bench thread panicked")))
                })
                .collect();
            (start.elapsed(), results)
        });
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok((threads * iterations) as f64 / elapsed.as_secs_f64())
    }

    /// The second `validate` on one instance: what a call costs once the guest's one-time
    /// work (lazily built statics such as oci-spec's reference regex) is done. PolicyServer
    /// never does this; it isolates that work.
    pub fn warm_call(&self, prepared: &Prepared, iterations: usize) -> Result<Vec<Duration>> {
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let host = self.host(&prepared.workload.exchanges, 2);
            let instance = self.policy.instantiate(&host)?;
            instance
                .call("validate", &prepared.payload)
                .map_err(|e| anyhow!("first call: {e}"))?;
            let start = Instant::now();
            let answer = instance.call("validate", &prepared.payload);
            samples.push(start.elapsed());
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
            let compiled = CompiledPolicy::compile(module, limits)?;
            let elapsed = start.elapsed();
            drop(compiled);
            Ok(elapsed)
        })
        .collect()
}
