//! Throughput of the real PolicyServer with three policies in one process: the no-op module (the
//! runtime's own cost), this policy (verification on, lookups answered by the loopback API stub and
//! cached by PolicyServer) and Kubewarden's trusted-repos-policy, or, with `BASELINE_POLICY`,
//! another build of this policy with the same settings (to compare two versions in one run). Debian's `wrk` posts the committed
//! AdmissionReviews of `benches/requests/` over 8 keep-alive connections for `BENCH_SECONDS` per
//! run, interleaved over the modules; the markdown table goes to stdout. Nothing is asserted about
//! timing: the test fails only when an answer is wrong or a request errors.
//!
//! ```sh
//! make bench-policy-server BENCH_SECONDS=8        # or:
//! POLICY_SERVER=/work/shared/kubewarden/policy-server \
//!   cargo test --release -p e2e-tests --test bench_policy_server
//! ```

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::kube_stub::KubeStub;
use support::policy_server::{Launch, PolicyServer};
use support::process::binary_from_env;
use support::wrk::{parse_wrk, Load};

/// (file stem under `benches/requests/`, label, whether this policy answers with a patch)
const REQUESTS: [(&str, &str, bool); 8] = [
    ("configmap", "ConfigMap (not handled)", false),
    ("pod-1-accept", "Pod, 1 container, accept", false),
    ("pod-10-accept", "Pod, 10 containers, accept", false),
    ("pod-100-accept", "Pod, 100 containers, accept", false),
    ("pod-1-inject", "Pod, 1 container, inject", true),
    ("pod-10-inject", "Pod, 10 containers, inject", true),
    ("pod-100-inject", "Pod, 100 containers, inject", true),
    // Issue 28: the template of pod-1-inject in a Deployment, checked as its Pods, never patched.
    (
        "deployment-1-check",
        "Deployment, 1 container, check",
        false,
    ),
];

/// The table's columns, in order: the no-op module, the floor module for the request
/// (benches/floor: this policy's exact answer, given without reading the request, after the same
/// Secret lookup when verification is on), this policy, trusted-repos-policy.
const POLICIES: [&str; 4] = ["noop", "floor", "image-pull-secrets", "trusted-repos"];

/// The floor modules benches/floor/build.sh writes, one per answer.
const FLOORS: [&str; 4] = ["accept", "inject-1", "inject-10", "inject-100"];

/// The policy id that stands for a column on a request: the floor's depends on the answer.
fn policy_id(column: &str, stem: &str) -> String {
    let injects = stem
        .strip_prefix("pod-")
        .and_then(|s| s.strip_suffix("-inject"));
    match (column, injects) {
        // A kind the policy does not handle: accepted without a lookup.
        ("floor", _) if stem == "configmap" => "floor-unhandled".to_string(),
        ("floor", Some(containers)) => format!("floor-inject-{containers}"),
        ("floor", None) => "floor-accept".to_string(),
        (other, _) => other.to_string(),
    }
}

/// The keep-alive connections wrk holds open; the issue's figures use 8.
const CONNECTIONS: u32 = 8;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn env_or<T: std::str::FromStr>(var: &str, default: T) -> T {
    match std::env::var(var) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{var}={value:?} is not a valid value")),
        Err(_) => default,
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// The floor modules, copied into the scratch folder: for Pods with a lookup when this policy
/// verifies; `floor-unhandled`, for kinds the policy does not handle, never looks anything up.
fn floor_modules(scratch: &Path, lookup: bool) -> Vec<(String, PathBuf)> {
    let dir =
        std::env::var("FLOOR_DIR").map_or_else(|_| repo_root().join("target/floor"), PathBuf::from);
    let suffix = if lookup { "-lookup" } else { "" };
    let sources = FLOORS
        .iter()
        .map(|floor| {
            (
                format!("floor-{floor}"),
                format!("floor-{floor}{suffix}.wasm"),
            )
        })
        .chain([(
            "floor-unhandled".to_string(),
            "floor-accept.wasm".to_string(),
        )]);
    sources
        .map(|(id, file)| {
            let source = dir.join(file);
            assert!(
                source.is_file(),
                "{} is missing (make floor-modules builds it)",
                source.display()
            );
            let copy = scratch.join(format!("{id}.wasm"));
            std::fs::copy(&source, &copy).unwrap();
            (id, copy)
        })
        .collect()
}

/// The last column: another build of this policy (`BASELINE_POLICY`), or trusted-repos-policy.
fn baseline() -> Option<PathBuf> {
    std::env::var("BASELINE_POLICY").ok().map(PathBuf::from)
}

/// The three modules, copied into the scratch folder so a rebuild during the run changes nothing.
fn modules(scratch: &Path) -> [PathBuf; 3] {
    let shared = binary_from_env("POLICY_SERVER", "policy-server")
        .parent()
        .expect("the folder of policy-server")
        .to_path_buf();
    let sources = [
        std::env::var("NOOP_POLICY")
            .map_or_else(|_| shared.join("noop-policy.wasm"), PathBuf::from),
        std::env::var("POLICY")
            .map_or_else(|_| repo_root().join("annotated-policy.wasm"), PathBuf::from),
        baseline().unwrap_or_else(|| {
            std::env::var("TRUSTED_REPOS_POLICY")
                .map_or_else(|_| shared.join("trusted-repos-policy.wasm"), PathBuf::from)
        }),
    ];
    let mut copies = sources.clone();
    let ids = ["noop", "image-pull-secrets", "trusted-repos"];
    for ((source, copy), id) in sources.iter().zip(copies.iter_mut()).zip(ids) {
        assert!(
            source.is_file(),
            "{} is missing (make annotated-policy.wasm builds this policy)",
            source.display()
        );
        *copy = scratch.join(format!("{id}.wasm"));
        std::fs::copy(source, &*copy).unwrap();
        eprintln!(
            "{id}: {} ({} bytes)",
            source.display(),
            copy.metadata().unwrap().len()
        );
    }
    copies
}

/// `policies.yml`: this policy as a ClusterAdmissionPolicy gets it (mutating, Secret and
/// ServiceAccount reads granted), the floors likewise, the other two with their bench settings.
fn policies_yaml(modules: &[PathBuf; 3], floors: &[(String, PathBuf)]) -> String {
    let settings = |name: &str| read_json(&repo_root().join("benches/settings").join(name));
    let floors: String = floors
        .iter()
        .map(|(id, module)| {
            format!(
                "{id}:
  module: file://{}
  allowedToMutate: true
  contextAwareResources:
    - apiVersion: v1
      kind: Secret
  hostCapabilities: [\"kubernetes/get_resource\"]
  settings: {{}}
",
                module.display()
            )
        })
        .collect();
    floors
        + &format!(
            "noop:
  module: file://{noop}
  settings: {{}}
image-pull-secrets:
  module: file://{ours}
  allowedToMutate: true
  contextAwareResources:
    - apiVersion: v1
      kind: Secret
    - apiVersion: v1
      kind: ServiceAccount
  hostCapabilities: [\"kubernetes/get_resource\"]
  settings: {ours_settings}
trusted-repos:
  module: file://{theirs}
{theirs_grants}  settings: {theirs_settings}
",
            noop = modules[0].display(),
            ours = modules[1].display(),
            theirs = modules[2].display(),
            ours_settings = settings(&our_settings_file()),
            theirs_grants = match baseline() {
                Some(_) => "  allowedToMutate: true\n  contextAwareResources:\n    - apiVersion: v1\n      kind: Secret\n    - apiVersion: v1\n      kind: ServiceAccount\n  hostCapabilities: [\"kubernetes/get_resource\"]\n",
                None => "",
            },
            theirs_settings = match baseline() {
                Some(_) => settings(&our_settings_file()),
                None => settings("trusted-repos.json"),
            },
        )
}

/// The settings of this policy under `benches/settings/`: `BENCH_SETTINGS`, by default the ones that
/// verify secrets.
fn our_settings_file() -> String {
    std::env::var("BENCH_SETTINGS").unwrap_or_else(|_| "image-pull-secrets-verify.json".to_owned())
}

/// What the kernel counted for a process (`/proc/PID/stat`): CPU time and minor page faults.
struct ProcessCost {
    user_seconds: f64,
    system_seconds: f64,
    minor_faults: f64,
}

impl ProcessCost {
    fn of(pid: u32) -> ProcessCost {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<f64> = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .map(|f| f.parse().unwrap_or(0.0))
                    .collect()
            })
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).copied().unwrap_or(0.0);
        let ticks = 100.0; // USER_HZ on Linux
        ProcessCost {
            minor_faults: field(10),
            user_seconds: field(14) / ticks,
            system_seconds: field(15) / ticks,
        }
    }

    fn since(&self, earlier: &ProcessCost) -> ProcessCost {
        ProcessCost {
            user_seconds: self.user_seconds - earlier.user_seconds,
            system_seconds: self.system_seconds - earlier.system_seconds,
            minor_faults: self.minor_faults - earlier.minor_faults,
        }
    }
}

/// A wrk child killed by its PID if the test unwinds while it runs.
struct WrkChild(Option<Child>);

impl Drop for WrkChild {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The Lua script that makes wrk POST `body` (wrk reads it once per thread at start).
fn post_script(scratch: &Path, body: &Path) -> PathBuf {
    let script = scratch.join(format!(
        "post-{}.lua",
        body.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::write(
        &script,
        format!(
            "local file = assert(io.open([[{}]], \"rb\"))\n\
             wrk.method = \"POST\"\n\
             wrk.body = file:read(\"*a\")\n\
             file:close()\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n",
            body.display()
        ),
    )
    .unwrap();
    script
}

fn run_wrk(wrk: &Path, script: &Path, url: &str, seconds: u64, threads: u32) -> Load {
    let log = script.with_extension("out");
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(wrk)
        .arg(format!("--threads={threads}"))
        .arg(format!("--connections={CONNECTIONS}"))
        .arg(format!("--duration={seconds}s"))
        .arg("--timeout=10s")
        .arg("--latency")
        .arg(format!("--script={}", script.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start wrk: {e}"));
    // wrk stops by itself after `seconds`; past a generous deadline the guard kills it.
    let mut guard = WrkChild(Some(child));
    let deadline = Instant::now() + Duration::from_secs(seconds + 30);
    let status = loop {
        if let Some(status) = guard.0.as_mut().unwrap().try_wait().expect("wrk status") {
            break status;
        }
        assert!(Instant::now() < deadline, "wrk on {url} did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "wrk failed on {url} ({status}):\n{text}");
    parse_wrk(&text).unwrap_or_else(|problem| panic!("wrk on {url}: {problem}\n{text}"))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(value: f64) -> String {
    if value < 1.0 {
        format!("{:.0} µs", value * 1000.0)
    } else if value < 10.0 {
        format!("{value:.2} ms")
    } else if value < 100.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.0} ms")
    }
}

/// Checks the answer of every policy to `review` once, before it is loaded: allowed, and a patch
/// exactly when this policy injects. A baseline build from before issue 28 patches a
/// Deployment's template; either answer is taken from it there.
fn check_answers(server: &PolicyServer, review: &Value, stem: &str, injects: bool) {
    for column in POLICIES {
        let id = policy_id(column, stem);
        let (status, body) = server.validate(&id, &review["request"]);
        let response = &body["response"];
        let patched = response.get("patch").is_some_and(|p| !p.is_null());
        let baseline = column == "trusted-repos" && baseline().is_some();
        let either = baseline && stem.starts_with("deployment-");
        assert!(
            status == 200
                && response["allowed"] == true
                && (either
                    || patched
                        == (injects
                            && (matches!(column, "image-pull-secrets" | "floor") || baseline))),
            "{id} on {stem}: HTTP {status}, answer {body}"
        );
    }
}

fn policy_server_throughput() {
    let policy_server = binary_from_env("POLICY_SERVER", "policy-server");
    let wrk = which("wrk").expect("wrk is not installed: apt-get install -y wrk");
    let seconds: u64 = env_or("BENCH_SECONDS", 8);
    let rounds: usize = env_or("BENCH_ROUNDS", 1);
    let threads: u32 = env_or("WRK_THREADS", 1);
    // Kept after the run: policy-server's log and the exact policies.yml are worth a look.
    let scratch = std::path::absolute(repo_root().join("target/bench-policy-server")).unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();

    let modules = modules(&scratch);
    let verifies = read_json(
        &repo_root()
            .join("benches/settings")
            .join(our_settings_file()),
    )["verifySecrets"]
        == true;
    let floors = floor_modules(&scratch, verifies);
    let stub = KubeStub::start(&scratch.join("kube")).expect("API stub");
    stub.add_object(read_json(
        &repo_root().join("benches/corp-registry-secret.json"),
    ));
    let started = Instant::now();
    let server = start_server(
        &policy_server,
        &scratch,
        &policies_yaml(&modules, &floors),
        &stub,
    );
    eprintln!(
        "policy-server pid {} ready on 127.0.0.1:{} in {:.1} s; wrk {threads} thread(s), \
         {CONNECTIONS} connections, {seconds} s per run, {rounds} round(s)",
        server.pid(),
        server.port(),
        started.elapsed().as_secs_f64()
    );

    // BENCH_ONLY=stem,stem runs only those requests (default: all of REQUESTS).
    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|list| list.split(',').map(str::to_owned).collect());
    let chosen: Vec<(&str, &str, bool)> = REQUESTS
        .into_iter()
        .filter(|(stem, _, _)| {
            only.as_ref()
                .is_none_or(|only| only.iter().any(|o| o == stem))
        })
        .collect();
    assert!(
        !chosen.is_empty(),
        "BENCH_ONLY names no request of {REQUESTS:?}"
    );
    let requests: Vec<(Value, PathBuf)> = chosen
        .iter()
        .map(|(stem, _, injects)| {
            let path = repo_root().join(format!("benches/requests/{stem}.json"));
            let review = read_json(&path);
            check_answers(&server, &review, stem, *injects);
            (review, post_script(&scratch, &path))
        })
        .collect();
    let reads = stub.object_reads_since(0);
    assert!(
        reads.is_empty() != verifies
            && reads
                .iter()
                .all(|r| r == "GET secrets team-a/corp-registry"),
        "verification must read the secret, and nothing else; no verification, no read: {reads:?}"
    );

    // One short unmeasured run per policy: the first connections and instances.
    let url = |id: &str| format!("http://127.0.0.1:{}/validate/{id}", server.port());
    let (last_stem, _, _) = chosen[chosen.len() - 1];
    for column in POLICIES {
        let id = policy_id(column, last_stem);
        run_wrk(&wrk, &requests[requests.len() - 1].1, &url(&id), 1, threads);
    }
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut loads = vec![vec![Vec::new(); POLICIES.len()]; chosen.len()];
    for round in 0..rounds {
        for (r, (stem, _, _)) in chosen.iter().enumerate() {
            for k in 0..POLICIES.len() {
                // Rotate the order each round, so no policy always runs first.
                let p = (k + round) % POLICIES.len();
                let before = ProcessCost::of(server.pid());
                let id = policy_id(POLICIES[p], stem);
                let load = run_wrk(&wrk, &requests[r].1, &url(&id), seconds, threads);
                let cost = ProcessCost::of(server.pid()).since(&before);
                let served = load.requests_per_second * seconds as f64;
                eprintln!(
                    "round {}/{rounds} {stem} {}: {:.0} req/s, p50 {}, p99 {}; policy-server per \
                     request: {:.0} µs user, {:.0} µs system, {:.1} minor page faults",
                    round + 1,
                    id,
                    load.requests_per_second,
                    ms(load.p50_ms),
                    ms(load.p99_ms),
                    cost.user_seconds * 1e6 / served,
                    cost.system_seconds * 1e6 / served,
                    cost.minor_faults / served,
                );
                loads[r][p].push(load);
            }
        }
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let lookups = stub.object_reads_since(0).len();

    let figure = |r: usize, p: usize| {
        let pick = |f: fn(&Load) -> f64| median(&mut loads[r][p].iter().map(f).collect::<Vec<_>>());
        Load {
            requests_per_second: pick(|l| l.requests_per_second),
            p50_ms: pick(|l| l.p50_ms),
            p99_ms: pick(|l| l.p99_ms),
        }
    };
    let mut table = String::new();
    table.push_str(&format!(
        "Real policy-server ({}), one process, no-op, floors, this policy and {}; wrk, {CONNECTIONS} keep-alive \
         connections ({threads} thread), {seconds} s per run, {rounds} interleaved round(s)\
         {}; verification {} for this policy and the floors ({lookups} secret reads reached the API \
         stub in all); settings {}.\n\n",
        version(&policy_server),
        if baseline().is_some() { "a baseline build of this policy" } else { "trusted-repos" },
        if rounds > 1 { ", medians over rounds" } else { "" },
        if verifies { "on" } else { "off" },
        our_settings_file(),
    ));
    let last = match baseline() {
        Some(path) => format!("baseline ({})", path.display()),
        None => "trusted-repos".to_string(),
    };
    table.push_str(&format!(
        "| request | no-op req/s | no-op p50 / p99 | floor req/s (% of no-op) | floor p50 / p99 | this policy req/s (% of no-op) | this policy p50 / p99 | {last} req/s (% of no-op) | {last} p50 / p99 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    ));
    for (r, (_, label, _)) in chosen.iter().enumerate() {
        let [noop, floor, ours, theirs] = [0, 1, 2, 3].map(|p| figure(r, p));
        table.push_str(&format!(
            "| {label} | {} | {} / {} | {} ({:.0} %) | {} / {} | {} ({:.0} %) | {} / {} | {} ({:.0} %) | {} / {} |\n",
            thousands(noop.requests_per_second),
            ms(noop.p50_ms),
            ms(noop.p99_ms),
            thousands(floor.requests_per_second),
            100.0 * floor.requests_per_second / noop.requests_per_second,
            ms(floor.p50_ms),
            ms(floor.p99_ms),
            thousands(ours.requests_per_second),
            100.0 * ours.requests_per_second / noop.requests_per_second,
            ms(ours.p50_ms),
            ms(ours.p99_ms),
            thousands(theirs.requests_per_second),
            100.0 * theirs.requests_per_second / noop.requests_per_second,
            ms(theirs.p50_ms),
            ms(theirs.p99_ms),
        ));
    }
    table.push_str(&format!(
        "\nLoad average before: {}; after: {}",
        load_before.trim(),
        load_after.trim()
    ));
    println!("\n{table}");
    std::fs::write(scratch.join("table.md"), &table).unwrap();
    drop(server);
    drop(stub);
}

fn version(binary: &Path) -> String {
    Command::new(binary)
        .arg("--version")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout);
            text.lines().next().unwrap_or_default().trim().to_string()
        })
        .unwrap_or_default()
}

/// The settings-scale bench (`BENCH_RULES=3,30,100`): this policy served with the settings of
/// `benches/settings/image-pull-secrets-verify{,-N-rules}.json`, and the no-op module given the
/// same settings (what the host itself pays to send them), on the 1-container requests,
/// interleaved. Each rule count's throughput is set against the first count's, and against its
/// ceiling: the first count's time per request plus what the host's sending of the larger
/// settings adds to the no-op's, the most any policy could reach with those settings.
fn settings_scale(counts: &[usize]) {
    let policy_server = binary_from_env("POLICY_SERVER", "policy-server");
    let wrk = which("wrk").expect("wrk is not installed: apt-get install -y wrk");
    let seconds: u64 = env_or("BENCH_SECONDS", 8);
    let rounds: usize = env_or("BENCH_ROUNDS", 1);
    let scratch = std::path::absolute(repo_root().join("target/bench-settings-scale")).unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let [noop, ours, _] = modules(&scratch);
    let settings = |count: usize| {
        let file = match count {
            3 => "image-pull-secrets-verify.json".to_string(),
            count => format!("image-pull-secrets-verify-{count}-rules.json"),
        };
        read_json(&repo_root().join("benches/settings").join(file))
    };
    let mut policies = String::new();
    for count in counts {
        policies.push_str(&format!(
            "noop-{count}:\n  module: file://{}\n  settings: {}\n\
             rules-{count}:\n  module: file://{}\n  allowedToMutate: true\n  contextAwareResources:\n    - apiVersion: v1\n      kind: Secret\n\
             \x20   - apiVersion: v1\n      kind: ServiceAccount\n  hostCapabilities: [\"kubernetes/get_resource\"]\n  settings: {}\n",
            noop.display(),
            settings(*count),
            ours.display(),
            settings(*count),
        ));
    }
    let stub = KubeStub::start(&scratch.join("kube")).expect("API stub");
    stub.add_object(read_json(
        &repo_root().join("benches/corp-registry-secret.json"),
    ));
    let server = start_server(&policy_server, &scratch, &policies, &stub);
    let url = |id: &str| format!("http://127.0.0.1:{}/validate/{id}", server.port());
    // Per count: the no-op's column, then the policy's.
    let columns: Vec<String> = counts
        .iter()
        .flat_map(|count| [format!("noop-{count}"), format!("rules-{count}")])
        .collect();
    let requests = [
        ("pod-1-accept", "Pod, 1 container, accept", false),
        ("pod-1-inject", "Pod, 1 container, inject", true),
    ];
    let mut loads = vec![vec![Vec::new(); columns.len()]; requests.len()];
    for (r, (stem, _, injects)) in requests.iter().enumerate() {
        let path = repo_root().join(format!("benches/requests/{stem}.json"));
        let review = read_json(&path);
        for count in counts {
            let (status, body) = server.validate(&format!("rules-{count}"), &review["request"]);
            let patched = body["response"].get("patch").is_some_and(|p| !p.is_null());
            assert!(
                status == 200 && body["response"]["allowed"] == true && patched == *injects,
                "rules-{count} on {stem}: {body}"
            );
        }
        let script = post_script(&scratch, &path);
        for column in &columns {
            run_wrk(&wrk, &script, &url(column), 1, 1);
        }
        for round in 0..rounds {
            for k in 0..columns.len() {
                let c = (k + round) % columns.len();
                let load = run_wrk(&wrk, &script, &url(&columns[c]), seconds, 1);
                eprintln!(
                    "round {}/{rounds} {stem} {}: {:.0} req/s",
                    round + 1,
                    columns[c],
                    load.requests_per_second
                );
                loads[r][c].push(load.requests_per_second);
            }
        }
    }
    let first = counts[0];
    let mut table = format!(
        "Real policy-server ({}), this policy with {first} to {} rules, each beside the no-op given the same settings; wrk, \
         {CONNECTIONS} keep-alive connections, {seconds} s per run, {rounds} interleaved round(s), medians; verification on. \
         Ceiling: the {first}-rule time per request plus what sending the larger settings adds to the no-op's.\n\n| request | rules | \
         no-op req/s | this policy req/s | % of {first} rules | ceiling req/s (% of {first} rules) | % of ceiling |\n|---|---:|---:|---:|---:|---:|---:|\n",
        version(&policy_server),
        counts[counts.len() - 1],
    );
    for (r, (_, label, _)) in requests.iter().enumerate() {
        let figures: Vec<f64> = (0..columns.len())
            .map(|c| median(&mut loads[r][c]))
            .collect();
        let (noop_first, ours_first) = (figures[0], figures[1]);
        for (k, count) in counts.iter().enumerate() {
            let (noop, ours) = (figures[2 * k], figures[2 * k + 1]);
            let ceiling = 1.0 / (1.0 / ours_first + 1.0 / noop - 1.0 / noop_first);
            table.push_str(&format!(
                "| {label} | {count} | {} | {} | {:.0} % | {} ({:.0} %) | {:.0} % |\n",
                thousands(noop),
                thousands(ours),
                100.0 * ours / ours_first,
                thousands(ceiling),
                100.0 * ceiling / ours_first,
                100.0 * ours / ceiling,
            ));
        }
    }
    println!("\n{table}");
    std::fs::write(scratch.join("table.md"), &table).unwrap();
    drop(server);
    drop(stub);
}

/// What of a module's size a wasm runtime may pay for: total bytes, the Code and Data sections'
/// bytes, the initial memory in 64 KiB pages and the funcref table's initial entries.
struct Shape {
    bytes: usize,
    code: usize,
    data: usize,
    pages: u64,
    table: u64,
}

/// Reads `Shape` from a module's sections (the binary format's own layout: id, LEB128 size).
fn shape(module: &Path) -> Shape {
    let bytes = std::fs::read(module).unwrap_or_else(|e| panic!("{}: {e}", module.display()));
    fn leb(bytes: &[u8], at: &mut usize) -> u64 {
        let (mut value, mut shift) = (0u64, 0);
        loop {
            let byte = bytes[*at];
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }
    // A limits' minimum: the flags byte, then the minimum.
    let minimum = |body: &[u8], mut at: usize| {
        at += 1;
        leb(body, &mut at)
    };
    let mut found = Shape {
        bytes: bytes.len(),
        code: 0,
        data: 0,
        pages: 0,
        table: 0,
    };
    assert_eq!(
        &bytes[..4],
        b"\0asm",
        "{} is not a wasm module",
        module.display()
    );
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        at += 1;
        let size = leb(&bytes, &mut at) as usize;
        let body = &bytes[at..at + size];
        match id {
            // Table: count, then the first table's reference type and limits.
            4 => found.table = minimum(body, 2),
            // Memory: count, then the first memory's limits.
            5 => found.pages = minimum(body, 1),
            10 => found.code = size,
            11 => found.data = size,
            _ => {}
        }
        at += size;
    }
    found
}

/// The size experiment's modules (`BENCH_SIZE=1`): built by benches/floor/build-size-variants.sh,
/// each `floor-size-NAME.wasm` under `FLOOR_DIR` (default target/floor). (name, what it differs in)
const SIZE_VARIANTS: [(&str, &str); 15] = [
    ("base", "floor-accept, no padding"),
    ("code-500k", "+500 KiB Code"),
    ("code-2m", "+2 MiB Code"),
    ("data-500k", "+500 KiB Data (memory grows with it)"),
    ("data-2m", "+2 MiB Data (memory grows with it)"),
    ("memory-data-500k", "memory as data-500k, nothing else"),
    ("memory-data-2m", "memory as data-2m, nothing else"),
    ("memory-16m", "+16 MiB initial memory"),
    (
        "table-2000",
        "+2,000 table entries (+38 KB Code, +8 KB Data)",
    ),
    ("table-control", "table-2000's functions, not in the table"),
    ("table-500", "+500 table entries"),
    ("table-1000", "+1,000 table entries"),
    ("table-1500", "+1,500 table entries"),
    (
        "table-8000",
        "+8,000 table entries (+150 KB Code, +32 KB Data)",
    ),
    ("policy-twin", "padded to this policy's Code, Data, table"),
];

/// The size experiment (`BENCH_SIZE=1`, or `BENCH_SIZE=name,name` for some variants of
/// `SIZE_VARIANTS`): what of a module's size a fresh PolicyServer instance pays for. The no-op module, floor-accept and its padded variants (one part of the module grown each;
/// benches/floor/build-size-variants.sh) in one policy-server, on `pod-1-accept` (every module
/// answers `{"accepted":true}` without reading it), interleaved, medians over `BENCH_ROUNDS`. The
/// unpadded floor is served under a second id too (`base-again`, the same compiled module): the
/// spread between the two is the run's own noise. `policy-twin` is skipped when it was not built.
fn size_experiment() {
    let policy_server = binary_from_env("POLICY_SERVER", "policy-server");
    let wrk = which("wrk").expect("wrk is not installed: apt-get install -y wrk");
    let seconds: u64 = env_or("BENCH_SECONDS", 8);
    let rounds: usize = env_or("BENCH_ROUNDS", 1);
    let scratch = std::path::absolute(repo_root().join("target/bench-size")).unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let dir =
        std::env::var("FLOOR_DIR").map_or_else(|_| repo_root().join("target/floor"), PathBuf::from);
    let noop = std::env::var("NOOP_POLICY").map_or_else(
        |_| {
            policy_server
                .parent()
                .expect("the folder of policy-server")
                .join("noop-policy.wasm")
        },
        PathBuf::from,
    );
    // (policy id, label, module copied into the scratch folder)
    let mut columns: Vec<(String, String, PathBuf)> = Vec::new();
    let mut add = |id: &str, label: &str, source: &Path| {
        let copy = scratch.join(format!("{id}.wasm"));
        std::fs::copy(source, &copy).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        columns.push((id.to_string(), label.to_string(), copy));
    };
    add("noop", "noop-policy.wasm", &noop);
    // BENCH_SIZE=1: every variant; BENCH_SIZE=name,name: those (the unpadded `base` always).
    let only: Option<Vec<String>> = std::env::var("BENCH_SIZE")
        .ok()
        .filter(|list| list != "1")
        .map(|list| list.split(',').map(str::to_owned).collect());
    if let Some(only) = &only {
        let unknown: Vec<&String> = only
            .iter()
            .filter(|name| SIZE_VARIANTS.iter().all(|(known, _)| known != name))
            .collect();
        assert!(
            unknown.is_empty(),
            "BENCH_SIZE names no variant: {unknown:?}"
        );
    }
    for (name, what) in SIZE_VARIANTS {
        if name != "base"
            && only
                .as_ref()
                .is_some_and(|only| !only.iter().any(|o| o == name))
        {
            continue;
        }
        let source = dir.join(format!("floor-size-{name}.wasm"));
        if name == "policy-twin" && only.is_none() && !source.is_file() {
            eprintln!("no {}: no size twin of this policy", source.display());
            continue;
        }
        assert!(
            source.is_file(),
            "{} is missing (KWCTL=/path/to/kwctl sh benches/floor/build-size-variants.sh builds it)",
            source.display()
        );
        add(name, what, &source);
        if name == "base" {
            add("base-again", "the same module again (noise)", &source);
        }
    }
    let policies: String = columns
        .iter()
        .map(|(id, _, module)| match id.as_str() {
            "noop" => format!("noop:\n  module: file://{}\n  settings: {{}}\n", module.display()),
            _ => format!(
                "{id}:\n  module: file://{}\n  allowedToMutate: true\n  contextAwareResources:\n    - apiVersion: v1\n      kind: Secret\n  \
                 hostCapabilities: [\"kubernetes/get_resource\"]\n  settings: {{}}\n",
                module.display()
            ),
        })
        .collect();
    let stub = KubeStub::start(&scratch.join("kube")).expect("API stub");
    let started = Instant::now();
    let server = start_server(&policy_server, &scratch, &policies, &stub);
    eprintln!(
        "policy-server pid {} ready on 127.0.0.1:{} in {:.1} s; {} modules, {seconds} s per run, {rounds} round(s)",
        server.pid(),
        server.port(),
        started.elapsed().as_secs_f64(),
        columns.len()
    );
    let stem = "pod-1-accept";
    let path = repo_root().join(format!("benches/requests/{stem}.json"));
    let review = read_json(&path);
    for (id, _, _) in &columns {
        let (status, body) = server.validate(id, &review["request"]);
        let response = &body["response"];
        assert!(
            status == 200
                && response["allowed"] == true
                && response.get("patch").is_none_or(Value::is_null),
            "{id} on {stem}: HTTP {status}, answer {body}"
        );
    }
    let url = |id: &str| format!("http://127.0.0.1:{}/validate/{id}", server.port());
    let script = post_script(&scratch, &path);
    for (id, _, _) in &columns {
        run_wrk(&wrk, &script, &url(id), 1, 1);
    }
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // Per column and round: req/s, and policy-server's user and system CPU µs and minor page
    // faults per request.
    let mut figures = vec![Vec::new(); columns.len()];
    for round in 0..rounds {
        for k in 0..columns.len() {
            // Rotate the order each round, so no module always runs first.
            let c = (k + round) % columns.len();
            let id = &columns[c].0;
            let before = ProcessCost::of(server.pid());
            let load = run_wrk(&wrk, &script, &url(id), seconds, 1);
            let cost = ProcessCost::of(server.pid()).since(&before);
            let served = load.requests_per_second * seconds as f64;
            let user = cost.user_seconds * 1e6 / served;
            let system = cost.system_seconds * 1e6 / served;
            let faults = cost.minor_faults / served;
            eprintln!(
                "round {}/{rounds} {id}: {:.0} req/s, p50 {}, p99 {}; policy-server per request: \
                 {user:.0} µs user, {system:.0} µs system, {faults:.1} minor page faults",
                round + 1,
                load.requests_per_second,
                ms(load.p50_ms),
                ms(load.p99_ms),
            );
            figures[c].push([load.requests_per_second, user, system, faults]);
        }
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let pick =
        |c: usize, i: usize| median(&mut figures[c].iter().map(|f| f[i]).collect::<Vec<_>>());
    let floor = columns
        .iter()
        .position(|(id, _, _)| id == "base")
        .expect("the base column");
    let floor_rps = pick(floor, 0);
    let mut table = format!(
        "Real policy-server ({}), one process, the no-op module, floor-accept and its padded variants \
         (benches/floor/build-size-variants.sh) on {stem}; wrk, {CONNECTIONS} keep-alive connections (1 thread), \
         {seconds} s per run, {rounds} interleaved round(s){}{}. CPU and page faults: policy-server's, per request.\n\n\
         | module | differs in | bytes | Code | Data | memory pages | table entries | req/s | % of floor-accept | CPU µs / request (user + system) | minor faults / request | req/s per round |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        version(&policy_server),
        if rounds > 1 { ", medians over rounds" } else { "" },
        // policy-server allocates with jemalloc, which reads it (the size experiment's diagnosis).
        std::env::var("MALLOC_CONF").map_or_else(|_| String::new(), |conf| format!("; MALLOC_CONF={conf}")),
    );
    for (c, (id, label, module)) in columns.iter().enumerate() {
        let s = shape(module);
        let rps = pick(c, 0);
        let per_round: Vec<String> = figures[c].iter().map(|f| thousands(f[0])).collect();
        table.push_str(&format!(
            "| {id} | {label} | {} | {} | {} | {} | {} | {} | {:.1} % | {:.0} + {:.0} | {:.1} | {} |\n",
            thousands(s.bytes as f64),
            thousands(s.code as f64),
            thousands(s.data as f64),
            s.pages,
            thousands(s.table as f64),
            thousands(rps),
            100.0 * rps / floor_rps,
            pick(c, 1),
            pick(c, 2),
            pick(c, 3),
            per_round.join(", "),
        ));
    }
    table.push_str(&format!(
        "\nLoad average before: {}; after: {}",
        load_before.trim(),
        load_after.trim()
    ));
    println!("\n{table}");
    std::fs::write(scratch.join("table.md"), &table).unwrap();
    drop(server);
    drop(stub);
}

/// One policy-server in `scratch/policy-server` serving `policies`, its cluster the API stub.
fn start_server(binary: &Path, scratch: &Path, policies: &str, stub: &KubeStub) -> PolicyServer {
    let launch = Launch {
        binary,
        dir: &scratch.join("policy-server"),
        policies,
        kubeconfig: stub.kubeconfig(),
        sources: None,
        rust_backtrace: false,
        tls: None,
    };
    PolicyServer::start(&launch, Duration::from_secs(300))
}

/// A program, not a test (`harness = false`, `test = false` in Cargo.toml): `make bench-policy-server`,
/// with `BENCH_RULES=3,30,100` the settings-scale bench, or with `BENCH_SIZE=1` the size experiment.
fn main() {
    if std::env::var_os("BENCH_SIZE").is_some() {
        return size_experiment();
    }
    match std::env::var("BENCH_RULES") {
        Ok(counts) => settings_scale(
            &counts
                .split(',')
                .map(|count| count.trim().parse().expect("BENCH_RULES: numbers"))
                .collect::<Vec<_>>(),
        ),
        Err(_) => policy_server_throughput(),
    }
}
