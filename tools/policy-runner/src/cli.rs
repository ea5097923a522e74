//! The command line, declared with clap: kwctl's names, short forms and meanings for `annotate`
//! and `run`, PolicyServer's limit flags, and this policy's `explain` and `bench`. Only argument
//! definitions live here; the commands take these structs and do the work.

use clap::{Args, Parser, Subcommand};

use crate::engine::{Limits, Timeout, DEFAULT_MAX_MEMORY_MIB, DEFAULT_TIMEOUT_SECONDS};

#[derive(Parser, Debug)]
#[command(
    name = "policy-runner",
    about = "Run Kubewarden waPC policies the way kwctl and PolicyServer do"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Embed policy metadata in a module, as `kwctl annotate`
    #[command(
        after_help = "The guest's protocol_version is recorded, the metadata is validated as \
        policy-evaluator does, and the compact JSON goes into the io.kubewarden.metadata custom \
        section: the section kwctl annotate writes, without its io.kubewarden.kwctl version \
        stamp. As with kwctl, there is no --questions-path: the Rancher form goes into \
        artifacthub-pkg.yml (kwctl scaffold artifacthub --questions-path)."
    )]
    Annotate(AnnotateArgs),
    /// Evaluate one request, as `kwctl run`
    #[command(
        after_help = "Stdout gets exactly one line: the AdmissionResponse JSON (exit 0, \
        allowed or not). Invalid settings or input: a message on stderr, exit 1. Compiled code \
        goes to wasmtime's own cache (see --disable-wasmtime-cache), as PolicyServer compiles a \
        module once, not per request."
    )]
    Run(RunArgs),
    /// Tell an AdmissionResponse in words (this policy's imagePullSecrets before and after)
    #[command(
        after_help = "For example:\n  policy-runner run -r pod.yaml ... policy.wasm | \
        policy-runner explain -r pod.yaml"
    )]
    Explain(ExplainArgs),
    /// Latency of this policy's workloads on fresh instances, against a native parse
    Bench(BenchArgs),
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct AnnotateArgs {
    /// File containing the metadata
    #[arg(short = 'm', long, value_name = "PATH")]
    pub metadata_path: String,
    /// File containing the usage information of the policy
    #[arg(short = 'u', long, value_name = "PATH")]
    pub usage_path: Option<String>,
    /// Output file
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output_path: String,
    /// Path to WebAssembly module to be annotated
    #[arg(value_name = "WASM_PATH")]
    pub module_path: String,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct RunArgs {
    /// File containing the Kubernetes admission request object, JSON or YAML (`-`: stdin)
    #[arg(short = 'r', long, value_name = "PATH")]
    pub request_path: String,
    /// File containing the settings for this policy
    #[arg(
        short = 's',
        long,
        value_name = "PATH",
        conflicts_with = "settings_json"
    )]
    pub settings_path: Option<String>,
    /// JSON string containing the settings for this policy
    #[arg(long, value_name = "VALUE")]
    pub settings_json: Option<String>,
    /// Grant access to the Kubernetes resources in the policy's `contextAwareResources`
    #[arg(long)]
    pub allow_context_aware: bool,
    /// Answer the policy's host calls from this kwctl session file
    #[arg(long, value_name = "FILE")]
    pub replay_host_capabilities_interactions: Option<String>,
    /// Name used in PolicyServer messages (default: the module's file stem)
    #[arg(long, value_name = "ID")]
    pub policy_id: Option<String>,
    /// Turn off usage of wasmtime cache
    #[arg(long)]
    pub disable_wasmtime_cache: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Echo the policy's log events and host calls on stderr
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Path to the annotated WebAssembly module
    #[arg(value_name = "WASM_PATH")]
    pub module_path: String,
}

/// PolicyServer's limits on every guest call.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitArgs {
    /// Per-call deadline in seconds, PolicyServer style: the epoch ticks once a second
    #[arg(long, alias = "timeout-seconds", value_name = "SECONDS",
          default_value_t = DEFAULT_TIMEOUT_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub policy_timeout: u64,
    /// No deadline at all
    #[arg(long)]
    pub disable_timeout_protection: bool,
    /// Largest linear memory of the policy; 0: wasm32's 4 GiB
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_MEMORY_MIB as u64,
          value_parser = clap::value_parser!(u64).range(0..=4096))]
    pub max_memory_mib: u64,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: (!self.disable_timeout_protection)
                .then(|| Timeout::seconds(self.policy_timeout)),
            max_memory_bytes: (self.max_memory_mib > 0)
                .then_some((self.max_memory_mib as usize) << 20),
        }
    }
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ExplainArgs {
    /// The request the response answers, as for `run -r`
    #[arg(short = 'r', long, value_name = "PATH")]
    pub request_path: String,
    /// The AdmissionResponse line `run` printed (`-`: stdin)
    #[arg(
        long,
        alias = "response-path",
        value_name = "PATH",
        default_value = "-"
    )]
    pub response: String,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct BenchArgs {
    /// Measured evaluations (and native parses) per workload
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: u64,
    /// The repository's benches/ folder: requests, settings and replay session
    #[arg(long, value_name = "DIR", default_value = "benches")]
    pub benches: String,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Path to the annotated WebAssembly module
    #[arg(value_name = "WASM_PATH")]
    pub module_path: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("policy-runner").chain(line.split_whitespace()))
            .map(|cli| cli.command)
    }

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn annotate_takes_kwctl_flags() {
        let Command::Annotate(args) =
            parse("annotate -m meta.yaml -u README.md -o out.wasm in.wasm").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                args.metadata_path,
                args.usage_path,
                args.output_path,
                args.module_path
            ),
            (
                "meta.yaml".into(),
                Some("README.md".into()),
                "out.wasm".into(),
                "in.wasm".into()
            )
        );
        assert!(
            parse("annotate -m meta.yaml in.wasm").is_err(),
            "-o is required"
        );
    }

    #[test]
    fn run_defaults_are_policy_servers_and_every_flag_parses() {
        let Command::Run(args) = parse("run -r req.json policy.wasm").unwrap() else {
            panic!()
        };
        assert_eq!(args.limits.limits(), Limits::default());
        let Command::Run(args) = parse(
            "run --request-path=- --settings-json {} --allow-context-aware \
             --replay-host-capabilities-interactions s.yml --policy-id p --timeout-seconds=5 \
             --max-memory-mib 0 -v policy.wasm",
        )
        .unwrap() else {
            panic!()
        };
        assert!(args.allow_context_aware && args.verbose);
        assert_eq!(
            args.limits.limits(),
            Limits {
                timeout: Some(Timeout::seconds(5)),
                max_memory_bytes: None
            }
        );
        for bad in [
            "run -r r -s s.yaml --settings-json {} m",
            "run -r r --frobnicate m",
            "run -r r a.wasm b.wasm",
            "run -r r --policy-timeout 0 m",
            "run -r r --max-memory-mib 4097 m",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn explain_reads_the_response_from_stdin_by_default() {
        let Command::Explain(args) = parse("explain -r pod.yaml").unwrap() else {
            panic!()
        };
        assert_eq!(args.response, "-");
    }
}
