//! Command-line parsing: kwctl's flag names and meanings for `annotate` and `run`, plus
//! PolicyServer's limit flags, and the runner's own `explain`. Hand-rolled to keep the
//! build small.

use anyhow::{anyhow, bail, Result};

use crate::annotate::AnnotateOptions;
use crate::bench::{self, BenchOptions};
use crate::engine::{Limits, Timeout};
use crate::explain::ExplainOptions;
use crate::run::{RunOptions, SettingsSource};

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Annotate(AnnotateOptions),
    Run(RunOptions),
    Explain(ExplainOptions),
    Bench(BenchOptions),
    /// Print this text on stdout and exit 0.
    Help(String),
}

/// A 32-bit linear memory cannot exceed 4 GiB.
const WASM32_MAX_MEMORY_MIB: u64 = 4096;

pub const USAGE: &str = "\
policy-runner: run Kubewarden waPC policies the way kwctl and PolicyServer do

Usage:
  policy-runner annotate -m <METADATA.yaml> [-u <README.md>] -o <OUT.wasm> <IN.wasm>
  policy-runner run -r <REQUEST|-> [options] <ANNOTATED.wasm>
  policy-runner explain -r <REQUEST> [--response <RESPONSE|->]
  policy-runner bench [options] <ANNOTATED.wasm>
  policy-runner <annotate|run|explain|bench> --help
";

pub const ANNOTATE_HELP: &str = "\
policy-runner annotate: embed policy metadata in a module, as `kwctl annotate`

Usage: policy-runner annotate [options] <IN.wasm>

  -m, --metadata-path <FILE>  Kubewarden metadata YAML (required)
  -u, --usage-path <FILE>     Text stored in the io.kubewarden.policy.usage annotation
  -o, --output-path <FILE>    Where the annotated module is written (required)

The guest's protocol_version is recorded, the metadata is validated as policy-evaluator
does, and the compact JSON goes into the io.kubewarden.metadata custom section: the section
kwctl annotate writes, without its io.kubewarden.kwctl version stamp. As with kwctl, there is
no --questions-path: the Rancher form goes into artifacthub-pkg.yml
(kwctl scaffold artifacthub --questions-path).
";

pub const RUN_HELP: &str = "\
policy-runner run: evaluate one request, as `kwctl run`

Usage: policy-runner run [options] <ANNOTATED.wasm>

  -r, --request-path <FILE|->  AdmissionReview or AdmissionRequest, JSON or YAML (required)
  -s, --settings-path <FILE>   Policy settings, YAML or JSON
      --settings-json <JSON>   Policy settings as a JSON string (default {})
      --allow-context-aware    Grant access to the contextAwareResources in the metadata
      --replay-host-capabilities-interactions <FILE>
                               Answer Kubernetes reads from a kwctl session file
      --policy-id <ID>         Name used in PolicyServer messages (default: file stem)
      --policy-timeout <SECONDS>
                               Per-call deadline, PolicyServer style: the epoch ticks once
                               a second and a call may last SECONDS ticks (default 2;
                               alias --timeout-seconds)
      --disable-timeout-protection
                               No deadline at all
      --max-memory-mib <MIB>   Largest linear memory of the policy (default 512; 0 = no
                               limit beyond wasm32's 4 GiB)
  -v, --verbose                Echo the policy's log events and runner notes on stderr

Compiled code is cached in $POLICY_RUNNER_CACHE_DIR (default ~/.cache/policy-runner; empty:
no cache), as PolicyServer compiles a module once, not per request.

Stdout gets exactly one line: the AdmissionResponse JSON (exit 0, allowed or not).
Invalid settings or input: a message on stderr, exit 1.
";

pub const EXPLAIN_HELP: &str = "\
policy-runner explain: tell an AdmissionResponse in words

Usage: policy-runner explain -r <REQUEST> [--response <RESPONSE|->]

  -r, --request-path <FILE|->  The request the response answers, as for `run -r`
      --response <FILE|->      The AdmissionResponse line `run` printed (default -, stdin)

Prints the decision (allowed, or rejected with code and message), each warning, the
patch's operations one per line, and the imagePullSecrets of every pod spec before and
after the patch. For example:
  policy-runner run -r pod.yaml ... policy.wasm | policy-runner explain -r pod.yaml
";

pub const BENCH_HELP: &str = "\
policy-runner bench: latency, throughput, memory and host calls of a policy

Usage: policy-runner bench [options] <ANNOTATED.wasm>

      --iterations <N>       Measured evaluations per loop (workload and thread count);
                             default: as many as fit in 2 s, at most 10000
      --warmup <N>           Unmeasured evaluations before each loop (default 20)
      --threads-list <LIST>  Thread counts for throughput, comma-separated (default 1,2)
      --workload <NAME>      Only workloads whose name contains NAME (repeatable)
      --max-memory-mib <MIB> As for run (default 512, a pooled allocator); 0 = no limit,
                             instances allocated on demand
      --keep-resident-kib <KIB>
                             Pooled memory and tables keep this much mapped between
                             instances, reset by memset (default 0: wasmtime's default)

The module is compiled once, as PolicyServer does; every evaluation gets a fresh instance,
with Kubernetes reads answered from an in-memory replay re-armed each time. The report
(markdown, on stdout) gives per workload the median and p99 latency, evaluations per
second per thread count, guest memory, peak RSS and host calls, against the floor of
parsing the same payload natively, and marks each performance target met or missed.
Progress goes to stderr.
";

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        None | Some("-h" | "--help" | "help") => Ok(Command::Help(USAGE.to_owned())),
        Some("annotate") => parse_annotate(Args::new(args)),
        Some("run") => parse_run(Args::new(args)),
        Some("explain") => parse_explain(Args::new(args)),
        Some("bench") => parse_bench(Args::new(args)),
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

fn parse_annotate(mut args: Args) -> Result<Command> {
    let (mut metadata_path, mut usage_path, mut output_path, mut module_path) =
        (None, None, None, None);
    while let Some(arg) = args.next_arg() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(ANNOTATE_HELP.to_owned())),
            "-m" | "--metadata-path" => metadata_path = Some(args.value(&arg)?),
            "-u" | "--usage-path" => usage_path = Some(args.value(&arg)?),
            "-o" | "--output-path" => output_path = Some(args.value(&arg)?),
            _ => set_positional(&mut module_path, arg, "annotate")?,
        }
    }
    Ok(Command::Annotate(AnnotateOptions {
        module_path: required(module_path, "<IN.wasm>", "annotate")?,
        metadata_path: required(metadata_path, "--metadata-path", "annotate")?,
        usage_path,
        output_path: required(output_path, "--output-path", "annotate")?,
    }))
}

fn parse_run(mut args: Args) -> Result<Command> {
    let (mut request_path, mut module_path, mut replay_path, mut policy_id) =
        (None, None, None, None);
    let (mut settings_path, mut settings_json) = (None, None);
    let mut limits = Limits::default();
    let (mut allow_context_aware, mut verbose) = (false, false);
    while let Some(arg) = args.next_arg() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(RUN_HELP.to_owned())),
            "-r" | "--request-path" => request_path = Some(args.value(&arg)?),
            "-s" | "--settings-path" => settings_path = Some(args.value(&arg)?),
            "--settings-json" => settings_json = Some(args.value(&arg)?),
            "--allow-context-aware" => allow_context_aware = true,
            "--replay-host-capabilities-interactions" => replay_path = Some(args.value(&arg)?),
            "--policy-id" => policy_id = Some(args.value(&arg)?),
            "--policy-timeout" | "--timeout-seconds" => {
                let seconds = number(&arg, &args.value(&arg)?)?;
                if seconds == 0 {
                    bail!("{arg} must be at least 1 second; use --disable-timeout-protection for no deadline");
                }
                limits.timeout = Some(Timeout::seconds(seconds));
            }
            "--disable-timeout-protection" => limits.timeout = None,
            "--max-memory-mib" => limits.max_memory_bytes = max_memory(&arg, &args.value(&arg)?)?,
            "-v" | "--verbose" => verbose = true,
            _ => set_positional(&mut module_path, arg, "run")?,
        }
    }
    let settings = match (settings_path, settings_json) {
        (Some(_), Some(_)) => bail!("--settings-path and --settings-json cannot be used together"),
        (Some(path), None) => SettingsSource::Path(path),
        (None, Some(json)) => SettingsSource::Json(json),
        (None, None) => SettingsSource::Empty,
    };
    Ok(Command::Run(RunOptions {
        module_path: required(module_path, "<ANNOTATED.wasm>", "run")?,
        request_path: required(request_path, "--request-path", "run")?,
        settings,
        allow_context_aware,
        replay_path,
        policy_id,
        limits,
        verbose,
    }))
}

fn parse_explain(mut args: Args) -> Result<Command> {
    let (mut request_path, mut response_path) = (None, None);
    while let Some(arg) = args.next_arg() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(EXPLAIN_HELP.to_owned())),
            "-r" | "--request-path" => request_path = Some(args.value(&arg)?),
            "--response" | "--response-path" => response_path = Some(args.value(&arg)?),
            _ => bail!("unknown argument {arg} for explain; see policy-runner explain --help"),
        }
    }
    Ok(Command::Explain(ExplainOptions {
        request_path: required(request_path, "--request-path", "explain")?,
        response_path: response_path.unwrap_or_else(|| "-".to_owned()),
    }))
}

fn parse_bench(mut args: Args) -> Result<Command> {
    let mut options = BenchOptions::default();
    let mut module_path = None;
    while let Some(arg) = args.next_arg() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(BENCH_HELP.to_owned())),
            "--iterations" => {
                let iterations = number(&arg, &args.value(&arg)?)? as usize;
                if iterations == 0 {
                    bail!("--iterations must be at least 1");
                }
                options.iterations = Some(iterations);
            }
            "--warmup" => options.warmup = number(&arg, &args.value(&arg)?)? as usize,
            "--threads-list" => {
                let list = args.value(&arg)?;
                options.threads = list
                    .split(',')
                    .map(|t| number(&arg, t.trim()).map(|t| t as usize))
                    .collect::<Result<_>>()?;
                let most = bench::max_threads();
                if options.threads.iter().any(|&t| t == 0 || t > most) {
                    bail!("--threads-list: each count must be between 1 and {most} (the runner's instance pool), got {list:?}");
                }
            }
            "--workload" => options.workloads.push(args.value(&arg)?),
            "--max-memory-mib" => {
                options.limits.max_memory_bytes = max_memory(&arg, &args.value(&arg)?)?
            }
            "--keep-resident-kib" => {
                let kib = number(&arg, &args.value(&arg)?)?;
                if kib > WASM32_MAX_MEMORY_MIB << 10 {
                    bail!(
                        "{arg} must be at most {} (4 GiB)",
                        WASM32_MAX_MEMORY_MIB << 10
                    );
                }
                options.keep_resident_bytes = (kib as usize) << 10;
            }
            _ => set_positional(&mut module_path, arg, "bench")?,
        }
    }
    options.module_path = required(module_path, "<ANNOTATED.wasm>", "bench")?;
    Ok(Command::Bench(options))
}

/// Arguments with `--flag=value` split into flag and value.
struct Args {
    pending: std::collections::VecDeque<String>,
    inline_value: Option<String>,
}

impl Args {
    fn new(args: impl Iterator<Item = String>) -> Self {
        Self {
            pending: args.collect(),
            inline_value: None,
        }
    }

    fn next_arg(&mut self) -> Option<String> {
        let arg = self.pending.pop_front()?;
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                self.inline_value = Some(value.to_owned());
                Some(flag.to_owned())
            }
            _ => Some(arg),
        }
    }

    fn value(&mut self, flag: &str) -> Result<String> {
        self.inline_value
            .take()
            .or_else(|| self.pending.pop_front())
            .ok_or_else(|| anyhow!("{flag} needs a value"))
    }
}

fn set_positional(slot: &mut Option<String>, arg: String, command: &str) -> Result<()> {
    if arg.starts_with('-') && arg != "-" {
        bail!("unknown option {arg} for {command}; see policy-runner {command} --help");
    }
    if let Some(first) = slot {
        bail!("{command} takes one module, got {first:?} and {arg:?}");
    }
    *slot = Some(arg);
    Ok(())
}

fn required(value: Option<String>, name: &str, command: &str) -> Result<String> {
    value
        .ok_or_else(|| anyhow!("{command}: {name} is required; see policy-runner {command} --help"))
}

/// `--max-memory-mib`: `None` for 0 (no limit beyond wasm32's).
fn max_memory(flag: &str, value: &str) -> Result<Option<usize>> {
    let mib = number(flag, value)?;
    if mib > WASM32_MAX_MEMORY_MIB {
        bail!("{flag} must be at most {WASM32_MAX_MEMORY_MIB} (4 GiB, the wasm32 maximum); 0 means no limit");
    }
    Ok((mib > 0).then_some((mib as usize) << 20))
}

fn number(flag: &str, value: &str) -> Result<u64> {
    value
        .parse()
        .map_err(|_| anyhow!("{flag}: {value:?} is not a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    fn run_options(line: &str) -> RunOptions {
        match parse_str(line).unwrap() {
            Command::Run(options) => options,
            other => panic!("expected run, got {other:?}"),
        }
    }

    #[test]
    fn annotate_takes_kwctl_flags() {
        let Command::Annotate(options) =
            parse_str("annotate -m meta.yaml -u README.md -o out.wasm in.wasm").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            options,
            AnnotateOptions {
                module_path: "in.wasm".into(),
                metadata_path: "meta.yaml".into(),
                usage_path: Some("README.md".into()),
                output_path: "out.wasm".into(),
            }
        );
        let err = parse_str("annotate -m meta.yaml in.wasm")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--output-path is required"), "{err}");
    }

    #[test]
    fn run_defaults_match_policy_server() {
        let options = run_options("run -r req.json policy.wasm");
        assert_eq!(options.settings, SettingsSource::Empty);
        assert_eq!(options.limits, Limits::default());
        assert_eq!(options.limits.timeout, Some(Timeout::seconds(2)));
        assert!(!options.allow_context_aware && options.replay_path.is_none());
    }

    #[test]
    fn run_accepts_every_flag_in_both_spellings() {
        let options = run_options(
            "run --request-path=- --settings-json {\"a\":1} --allow-context-aware \
             --replay-host-capabilities-interactions s.yml --policy-id p --timeout-seconds=5 \
             --max-memory-mib 0 -v policy.wasm",
        );
        assert_eq!(options.request_path, "-");
        assert_eq!(options.settings, SettingsSource::Json("{\"a\":1}".into()));
        assert!(options.allow_context_aware && options.verbose);
        assert_eq!(options.replay_path.as_deref(), Some("s.yml"));
        assert_eq!(options.policy_id.as_deref(), Some("p"));
        assert_eq!(
            options.limits,
            Limits {
                timeout: Some(Timeout::seconds(5)),
                max_memory_bytes: None
            }
        );
        assert_eq!(
            run_options("run -r r --disable-timeout-protection m")
                .limits
                .timeout,
            None
        );
    }

    #[test]
    fn run_rejects_conflicts_and_unknown_flags() {
        assert!(parse_str("run -r r -s s.yaml --settings-json {} m").is_err());
        assert!(parse_str("run -r r --frobnicate m")
            .unwrap_err()
            .to_string()
            .contains("unknown option --frobnicate"));
        assert!(parse_str("run -r r a.wasm b.wasm")
            .unwrap_err()
            .to_string()
            .contains("takes one module"));
        assert!(parse_str("run -r r --policy-timeout 0 m").is_err());
        assert!(parse_str("run -r r --max-memory-mib 4097 m").is_err());
        assert!(parse_str("run -r")
            .unwrap_err()
            .to_string()
            .contains("-r needs a value"));
    }

    #[test]
    fn explain_reads_the_response_from_stdin_by_default() {
        let expected = |response: &str| {
            Command::Explain(ExplainOptions {
                request_path: "pod.yaml".into(),
                response_path: response.into(),
            })
        };
        assert_eq!(parse_str("explain -r pod.yaml").unwrap(), expected("-"));
        assert_eq!(
            parse_str("explain --response=out.json --request-path pod.yaml").unwrap(),
            expected("out.json")
        );
        assert!(parse_str("explain --response x")
            .unwrap_err()
            .to_string()
            .contains("--request-path is required"));
        assert!(parse_str("explain -r a b").is_err());
        assert!(
            matches!(parse_str("explain -h").unwrap(), Command::Help(text) if text == EXPLAIN_HELP)
        );
    }

    #[test]
    fn bench_takes_counts_threads_and_workloads() {
        let Command::Bench(options) = parse_str("bench policy.wasm").unwrap() else {
            panic!()
        };
        assert_eq!(
            options,
            BenchOptions {
                module_path: "policy.wasm".into(),
                ..Default::default()
            }
        );
        let Command::Bench(options) = parse_str(
            "bench --iterations 50 --warmup=0 --threads-list 1,2,4 --workload pod-1 --workload verify p.wasm",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (
                options.iterations,
                options.warmup,
                options.threads,
                options.workloads
            ),
            (
                Some(50),
                0,
                vec![1, 2, 4],
                vec!["pod-1".to_owned(), "verify".to_owned()]
            )
        );
        let Command::Bench(options) =
            parse_str("bench --keep-resident-kib 4096 --max-memory-mib 0 p.wasm").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (options.keep_resident_bytes, options.limits.max_memory_bytes),
            (4 << 20, None)
        );
        assert!(parse_str("bench --iterations 0 p.wasm").is_err());
        assert!(parse_str("bench --threads-list 1,0 p.wasm").is_err());
        assert!(parse_str("bench --threads-list 1,99 p.wasm").is_err());
        assert!(parse_str("bench --threads-list 1,x p.wasm").is_err());
        assert!(parse_str("bench")
            .unwrap_err()
            .to_string()
            .contains("<ANNOTATED.wasm> is required"));
        assert!(
            matches!(parse_str("bench --help").unwrap(), Command::Help(text) if text == BENCH_HELP)
        );
        assert!(BENCH_HELP.contains(&format!(
            "fit in {} s, at most {}",
            bench::DEFAULT_LOOP_TIME.as_secs(),
            bench::DEFAULT_MAX_ITERATIONS
        )));
        assert!(BENCH_HELP.contains(&format!("(default {})", bench::DEFAULT_WARMUP)));
    }

    #[test]
    fn help_states_the_default_limits() {
        use crate::engine::{DEFAULT_MAX_MEMORY_MIB, DEFAULT_TIMEOUT_SECONDS};
        assert!(
            RUN_HELP.contains(&format!("(default {DEFAULT_TIMEOUT_SECONDS};")),
            "{RUN_HELP}"
        );
        assert!(
            RUN_HELP.contains(&format!("(default {DEFAULT_MAX_MEMORY_MIB};")),
            "{RUN_HELP}"
        );
    }

    #[test]
    fn help_is_available_everywhere() {
        assert!(matches!(parse_str("").unwrap(), Command::Help(text) if text == USAGE));
        assert!(
            matches!(parse_str("run --help").unwrap(), Command::Help(text) if text == RUN_HELP)
        );
        assert!(
            matches!(parse_str("annotate -h").unwrap(), Command::Help(text) if text == ANNOTATE_HELP)
        );
    }
}
