//! Throughput of the real PolicyServer serving four modules side by side in one process: the
//! no-op module (the runtime's own cost), the floor for each answer (benches/floor: this policy's
//! exact answer given without reading the request, after the same Secret lookup), this policy with
//! verification on, and Kubewarden's trusted-repos-policy or, with `BASELINE_POLICY=path`, another
//! build of this policy with the same settings. Lookups go to a real kube-apiserver and etcd
//! (support/cluster.rs) as the README's ServiceAccount and RBAC allow; PolicyServer caches them, so
//! the control plane idles during the runs (its CPU time is printed with the table). Debian's
//! `wrk` posts the AdmissionReviews of `benches/requests/` over 8 keep-alive connections for
//! `BENCH_SECONDS` per run, interleaved and rotated over `BENCH_ROUNDS` rounds; the markdown table
//! of medians goes to stdout. Nothing is asserted about timing: the bench fails only on a wrong
//! answer, a request error, or a lookup it should not make.
//!
//! ```sh
//! make bench-policy-server BENCH_SECONDS=5 BENCH_ROUNDS=3
//! BENCH_ONLY=pod-1-accept,pod-1-inject BASELINE_POLICY=old/annotated-policy.wasm make bench-policy-server
//! ```

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::cluster::{assets, Cluster};
use support::kubewarden::{install_namespace_and_rbac, NAMESPACE};
use support::policy_server::{Launch, PolicyServer};
use support::process::{binary_from_env, scratch};
use support::{policy_module, repo_root};

/// (file stem under `benches/requests/`, label, whether this policy answers with a patch)
const REQUESTS: [(&str, &str, bool); 8] = [
    ("configmap", "ConfigMap (not handled)", false),
    ("pod-1-accept", "Pod, 1 container, accept", false),
    ("pod-10-accept", "Pod, 10 containers, accept", false),
    ("pod-100-accept", "Pod, 100 containers, accept", false),
    ("pod-1-inject", "Pod, 1 container, inject", true),
    ("pod-10-inject", "Pod, 10 containers, inject", true),
    ("pod-100-inject", "Pod, 100 containers, inject", true),
    // pod-1-inject's Pod as a Deployment's template: checked as its Pods, never patched.
    (
        "deployment-1-check",
        "Deployment, 1 container, check",
        false,
    ),
];

/// The keep-alive connections wrk holds open.
const CONNECTIONS: u32 = 8;

fn env_or<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var).map_or(default, |value| {
        value
            .parse()
            .unwrap_or_else(|_| panic!("{var}={value:?} is not a number"))
    })
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The floor column's policy id for a request: the answer it gives, and whether it looks up.
fn floor_id(stem: &str) -> String {
    match stem
        .strip_prefix("pod-")
        .and_then(|s| s.strip_suffix("-inject"))
    {
        // A kind the policy does not handle: accepted without a lookup.
        _ if stem == "configmap" => "floor-accept".to_string(),
        Some(containers) => format!("floor-inject-{containers}-lookup"),
        None => "floor-accept-lookup".to_string(),
    }
}

/// `policies.yml` (as JSON, which YAML reads): every module with the grants this policy gets as a
/// ClusterAdmissionPolicy, so no column differs in host configuration.
fn policies(policy_server: &Path, baseline: Option<&Path>) -> String {
    let shared = policy_server.parent().unwrap();
    let settings = |name: &str| read_json(&repo_root().join("benches/settings").join(name));
    let ours = settings("image-pull-secrets-verify.json");
    let (last, last_settings) = match baseline {
        Some(path) => (path.to_path_buf(), ours.clone()),
        None => (
            shared.join("trusted-repos-policy.wasm"),
            settings("trusted-repos.json"),
        ),
    };
    let policy = policy_module();
    let floors = [
        "accept",
        "accept-lookup",
        "inject-1-lookup",
        "inject-10-lookup",
        "inject-100-lookup",
    ]
    .map(|floor| {
        let id = format!("floor-{floor}");
        (
            repo_root().join(format!("target/floor/{id}.wasm")),
            id,
            json!({}),
        )
    });
    let modules = [
        (
            shared.join("noop-policy.wasm"),
            "noop".to_string(),
            json!({}),
        ),
        (policy, "policy".to_string(), ours),
        (last, "last".to_string(), last_settings),
    ];
    let entries: serde_json::Map<String, Value> = modules
        .into_iter()
        .chain(floors)
        .map(|(path, id, settings)| {
            let built = "make annotated-policy.wasm floor-modules builds it";
            assert!(path.is_file(), "{} is missing ({built})", path.display());
            let entry = json!({
                "module": format!("file://{}", path.display()),
                "allowedToMutate": true,
                "contextAwareResources": [{"apiVersion": "v1", "kind": "Secret"}, {"apiVersion": "v1", "kind": "ServiceAccount"}],
                "hostCapabilities": ["kubernetes/get_resource"],
                "settings": settings,
            });
            (id, entry)
        })
        .collect();
    Value::Object(entries).to_string()
}

/// The CPU seconds (user + system) the kernel counted for a process (`/proc/PID/stat`).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses: utime and stime are 14 and 15.
    let fields: Vec<f64> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}

/// One wrk run of `seconds` posting `script`'s body to `url`: requests per second.
fn run_wrk(script: &Path, url: &str, seconds: u64) -> f64 {
    let output = Command::new("wrk")
        .args([
            "--threads=1",
            &format!("--connections={CONNECTIONS}"),
            &format!("--duration={seconds}s"),
        ])
        .args([
            "--timeout=10s",
            &format!("--script={}", script.display()),
            url,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run wrk (apt-get install -y wrk): {e}"));
    let text = String::from_utf8_lossy(&output.stdout);
    // wrk counts connection errors and answers other than 2xx/3xx; either voids the run.
    assert!(
        output.status.success() && !text.contains("Socket errors") && !text.contains("Non-2xx"),
        "wrk failed on {url}: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rate = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"));
    rate.and_then(|r| r.trim().parse().ok())
        .unwrap_or_else(|| panic!("wrk on {url}: no Requests/sec\n{text}"))
}

/// The Lua script that makes wrk POST the request file `body`.
fn post_script(dir: &Path, body: &Path) -> PathBuf {
    let script = dir.join(body.file_name().unwrap()).with_extension("lua");
    let lua = format!(
        "local file = assert(io.open([[{}]], \"rb\"))\nwrk.method = \"POST\"\nwrk.body = file:read(\"*a\")\n\
         file:close()\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
        body.display()
    );
    std::fs::write(&script, lua).unwrap();
    script
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() % 2 {
        1 => values[mid],
        _ => (values[mid - 1] + values[mid]) / 2.0,
    }
}

/// `1,234`: req/s as BENCHMARKS.md writes them.
fn thousands(value: f64) -> String {
    let digits = format!("{value:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks every column's answer to `review` once, before any load: allowed, and a patch exactly
/// when this policy injects. A baseline from before issue 28 patches a Deployment's template, so
/// either answer is taken from it there.
fn check_answers(
    server: &PolicyServer,
    columns: &[String],
    review: &Value,
    stem: &str,
    injects: bool,
    baseline: bool,
) {
    for id in columns {
        let (status, body) = server.validate(id, &review["request"]);
        let patched = body["response"].get("patch").is_some_and(|p| !p.is_null());
        let mutates = id == "policy" || id.starts_with("floor") || (baseline && id == "last");
        let either = baseline && id == "last" && stem.starts_with("deployment-");
        assert!(
            status == 200
                && body["response"]["allowed"] == true
                && (either || patched == (injects && mutates)),
            "{id} on {stem}: HTTP {status}, answer {body}"
        );
    }
}

/// A program run on purpose (`harness = false`, `test = false` in Cargo.toml): `make bench-policy-server`.
fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 8);
    let rounds: usize = env_or("BENCH_ROUNDS", 1);
    let baseline = std::env::var("BASELINE_POLICY").ok().map(PathBuf::from);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let chosen: Vec<_> = REQUESTS
        .iter()
        .filter(|(stem, _, _)| only.is_empty() || only.split(',').any(|o| o == *stem))
        .collect();
    assert!(
        !chosen.is_empty(),
        "BENCH_ONLY={only} names none of {REQUESTS:?}"
    );
    let policy_server = binary_from_env("POLICY_SERVER", "policy-server");
    let assets = assets().unwrap_or_else(|how| panic!("{how}"));
    let dir = scratch("bench-policy-server-");
    let dir = dir.path();

    let cluster = Cluster::start(&assets, &dir.join("cluster"));
    let kubectl = &cluster.kubectl;
    install_namespace_and_rbac(kubectl);
    let secret =
        std::fs::read_to_string(repo_root().join("benches/corp-registry-secret.json")).unwrap();
    kubectl.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: team-a}}\n---\n{secret}"
    ));
    let kubeconfig = dir.join("policy-server.kubeconfig");
    cluster.service_account_kubeconfig(kubectl, NAMESPACE, "policy-server", &kubeconfig);
    let launch = Launch {
        binary: &policy_server,
        dir: &dir.join("policy-server"),
        policies: &policies(&policy_server, baseline.as_deref()),
        kubeconfig: &kubeconfig,
        sources: None,
        rust_backtrace: false,
        tls: None,
    };
    let server = PolicyServer::start(&launch, Duration::from_secs(300));
    let mark = cluster.lookup_mark();

    let columns_of = |stem: &str| {
        [
            "noop".to_string(),
            floor_id(stem),
            "policy".into(),
            "last".into(),
        ]
    };
    let url = |id: &str| format!("http://127.0.0.1:{}/validate/{id}", server.port());
    let scripts: Vec<PathBuf> = chosen
        .iter()
        .map(|(stem, _, injects)| {
            let path = repo_root().join(format!("benches/requests/{stem}.json"));
            check_answers(
                &server,
                &columns_of(stem),
                &read_json(&path),
                stem,
                *injects,
                baseline.is_some(),
            );
            let script = post_script(dir, &path);
            // One unmeasured second per column: the first connections and instances.
            for id in columns_of(stem) {
                run_wrk(&script, &url(&id), 1);
            }
            script
        })
        .collect();
    // Every object read the runs cost: verification's Secret, cached by PolicyServer.
    let objects = |reads: Vec<String>| {
        reads
            .into_iter()
            .filter(|r| !r.starts_with("GET /"))
            .collect::<Vec<_>>()
    };
    let reads = objects(cluster.lookups_since(mark));
    assert!(
        !reads.is_empty()
            && reads
                .iter()
                .all(|r| r == "GET secrets team-a/corp-registry"),
        "verification must read the secret, and nothing else: {reads:?}"
    );

    let control_plane = || cluster.pids().into_iter().map(cpu_seconds).sum::<f64>();
    let (load_before, plane_before) = (
        std::fs::read_to_string("/proc/loadavg").unwrap(),
        control_plane(),
    );
    let started = std::time::Instant::now();
    // Per request and column: (req/s, policy-server's CPU µs per request) of each round.
    let mut figures = vec![vec![Vec::new(); 4]; chosen.len()];
    for round in 0..rounds {
        for (r, (stem, _, _)) in chosen.iter().enumerate() {
            let columns = columns_of(stem);
            for k in 0..4 {
                // Rotated each round, so no column always runs first.
                let c = (k + round) % 4;
                let cpu = cpu_seconds(server.pid());
                let rate = run_wrk(&scripts[r], &url(&columns[c]), seconds);
                let micros = (cpu_seconds(server.pid()) - cpu) * 1e6 / (rate * seconds as f64);
                eprintln!(
                    "round {}/{rounds} {stem} {}: {rate:.0} req/s, {micros:.0} µs CPU per request",
                    round + 1,
                    columns[c]
                );
                figures[r][c].push((rate, micros));
            }
        }
    }
    let plane = (control_plane() - plane_before) / started.elapsed().as_secs_f64();
    let lookups = objects(cluster.lookups_since(mark)).len();

    let (last, baseline_note) = match &baseline {
        Some(path) => ("baseline", format!(" Baseline: {}.", path.display())),
        None => ("trusted-repos", String::new()),
    };
    let version = Command::new(&policy_server)
        .arg("--version")
        .output()
        .unwrap()
        .stdout;
    let version = String::from_utf8_lossy(&version)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let mut table = format!(
        "Real {version}, one process; wrk, {CONNECTIONS} keep-alive connections, {seconds} s per run, \
         {rounds} interleaved round(s), medians; verification on ({lookups} Secret reads reached the API server).{baseline_note} \
         Control plane (etcd, kube-apiserver, kube-controller-manager) during the runs: {:.1} % of one core. \
         Load average before: {}; after: {}.\n\n\
         | request | no-op req/s | floor req/s (% of no-op) | this policy req/s (% of no-op) | {last} req/s (% of no-op) \
         | this ÷ {last} | CPU µs/request: this / {last} |\n|---|---:|---:|---:|---:|---:|---:|\n",
        100.0 * plane,
        load_before.trim(),
        std::fs::read_to_string("/proc/loadavg").unwrap().trim(),
    );
    for (r, (_, label, _)) in chosen.iter().enumerate() {
        let pick =
            |c: usize, f: fn(&(f64, f64)) -> f64| median(figures[r][c].iter().map(f).collect());
        let [noop, floor, ours, theirs] = [0, 1, 2, 3].map(|c| pick(c, |f| f.0));
        let share = |rate: f64| format!("{} ({:.0} %)", thousands(rate), 100.0 * rate / noop);
        table.push_str(&format!(
            "| {label} | {} | {} | {} | {} | {:.2} | {:.0} / {:.0} |\n",
            thousands(noop),
            share(floor),
            share(ours),
            share(theirs),
            ours / theirs,
            pick(2, |f| f.1),
            pick(3, |f| f.1),
        ));
    }
    println!("\n{table}");
}
