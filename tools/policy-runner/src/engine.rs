//! Compiling a policy once and instantiating it afresh for every evaluation.
//!
//! Follows PolicyServer (`evaluation_environment.rs`, `workers/pool.rs`): one wasmtime
//! `Engine` and `Module`, one `WasmtimeEngineProviderPre`, and a new waPC host per call, so
//! no state leaks between evaluations. Time is bounded with epoch interruption: a ticker
//! thread advances the epoch once per tick and a call may run for `ticks` ticks.

use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use wasmtime_provider::{EpochDeadlines, WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

use crate::host::Host;

/// PolicyServer's default `--policy-timeout`, in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 2;
/// Largest linear memory a policy may grow to, by default (PolicyServer sets no limit).
pub const DEFAULT_MAX_MEMORY_MIB: usize = 512;
/// Instances alive at once under the memory limit (pooling allocator slots). Evaluations
/// here are sequential; a benchmark running more than this many concurrently must raise it.
pub const POOLED_INSTANCES: u32 = 16;
/// Rust policies carry function tables of a few thousand entries; leave ample headroom.
const POOLED_TABLE_ELEMENTS: usize = 100_000;

/// Resource limits applied to every guest call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `None` disables timeout protection.
    pub timeout: Option<Timeout>,
    /// `None` lets memories grow to the wasm32 maximum of 4 GiB.
    pub max_memory_bytes: Option<usize>,
}

/// A deadline of `ticks` epoch ticks, one tick every `tick`. Like PolicyServer's, the real
/// limit lies between `ticks - 1` and `ticks` tick lengths, depending on the ticker's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    pub tick: Duration,
    pub ticks: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Some(Timeout::seconds(DEFAULT_TIMEOUT_SECONDS)),
            max_memory_bytes: Some(DEFAULT_MAX_MEMORY_MIB << 20),
        }
    }
}

impl Timeout {
    /// PolicyServer's scheme: one tick per second.
    pub fn seconds(seconds: u64) -> Self {
        Self {
            tick: Duration::from_secs(1),
            ticks: seconds,
        }
    }
}

/// A policy compiled once, ready to be instantiated any number of times.
pub struct CompiledPolicy {
    pre: WasmtimeEngineProviderPre,
    deadlines: Option<EpochDeadlines>,
    _ticker: Option<EpochTicker>,
}

/// One fresh instance of the policy with its own waPC host.
pub struct PolicyInstance {
    wapc: wapc::WapcHost,
}

impl CompiledPolicy {
    /// Compiles `module` on an engine with `limits`. With `cache`, native code comes from and
    /// goes to wasmtime's own compilation cache (its default directory, honouring
    /// `XDG_CACHE_HOME`), which keys entries by module and engine configuration and checks
    /// them itself: PolicyServer, too, compiles a module once and not per request.
    pub fn compile(module: &[u8], limits: Limits, cache: bool) -> Result<Self> {
        let engine = build_engine(limits, cache)?;
        let compiled = wasmtime::Module::new(&engine, module)
            .map_err(|e| anyhow!("cannot compile the policy: {e:?}"))?;
        Self::from_module(engine, compiled, limits)
    }

    fn from_module(
        engine: wasmtime::Engine,
        module: wasmtime::Module,
        limits: Limits,
    ) -> Result<Self> {
        let deadlines = limits.timeout.map(|t| EpochDeadlines {
            wapc_init: t.ticks,
            wapc_func: t.ticks,
        });
        let mut builder = WasmtimeEngineProviderBuilder::new()
            .engine(engine.clone())
            .module(module);
        if let Some(deadlines) = deadlines {
            builder = builder.enable_epoch_interruptions(deadlines);
        }
        let pre = builder
            .build_pre()
            .context("cannot prepare the policy for instantiation")?;
        let ticker = limits.timeout.map(|t| EpochTicker::start(engine, t.tick));
        Ok(Self {
            pre,
            deadlines,
            _ticker: ticker,
        })
    }

    /// A new instance whose host calls go to `host`. Fails if the module cannot be
    /// instantiated (missing imports, memory over the limit) or its initialisation fails.
    pub fn instantiate(&self, host: &Arc<Host>) -> Result<PolicyInstance> {
        let provider = self
            .pre
            .rehydrate(self.deadlines)
            .context("cannot instantiate the policy")?;
        let wapc = wapc::WapcHost::new(Box::new(provider), Some(host.callback()))
            .context("cannot initialise the policy's waPC host")?;
        Ok(PolicyInstance { wapc })
    }
}

impl PolicyInstance {
    /// Calls the guest function `operation`; the error is waPC's, as PolicyServer sees it.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, wapc::errors::Error> {
        self.wapc.call(operation, payload)
    }
}

fn build_engine(limits: Limits, cache: bool) -> Result<wasmtime::Engine> {
    let mut config = wasmtime::Config::new();
    if cache {
        // A cache that cannot be set up (no home directory) only makes the run slower.
        config.cache(wasmtime::Cache::new(wasmtime::CacheConfig::new()).ok());
    }
    // A store with epoch interruption but no deadline would trap at once, so the feature
    // is on only together with the deadlines.
    config.epoch_interruption(limits.timeout.is_some());
    if let Some(max_memory_bytes) = limits.max_memory_bytes {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.max_memory_size(max_memory_bytes)
            .total_memories(POOLED_INSTANCES)
            .total_tables(POOLED_INSTANCES)
            .total_core_instances(POOLED_INSTANCES)
            .table_elements(POOLED_TABLE_ELEMENTS);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    wasmtime::Engine::new(&config).map_err(|e| anyhow!("cannot create the wasmtime engine: {e:?}"))
}

/// Advances the engine's epoch every `tick` until dropped.
struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine, tick: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // Waiting on the channel instead of sleeping lets Drop end the thread at once.
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                engine.increment_epoch();
            }
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
