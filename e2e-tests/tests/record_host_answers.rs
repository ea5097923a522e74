//! Records what the REAL kwctl answers the policy's `kubernetes/get_resource` calls with, against
//! the loopback API stub: a found secret, 404, 403, 401, a missing ServiceAccount, and runs where
//! the capability is not granted. The session files and kwctl's output land in `RECORD_DIR`
//! (default: a scratch folder); `e2e-tests/recorded/README.md` says how the committed ones were made.
//!
//! A second test asks the real PolicyServer the same questions and writes the texts its host
//! hands the policy to `RECORD_DIR/policy-server-texts.txt`.
//!
//! ```sh
//! KWCTL=/work/shared/kubewarden/kwctl POLICY_SERVER=/work/shared/kubewarden/policy-server \
//!   RECORD_DIR=$PWD/e2e-tests/recorded \
//!   cargo test -p e2e-tests --test record_host_answers
//! ```

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use support::kube_stub::{Answer, KubeStub};
use support::policy_server::{Launch, PolicyServer};
use support::process::binary_from_env;

/// Planted in the found secret: it must appear in the session file (kwctl records the payload)
/// but never in the policy's response.
const CANARY: &str = "CANARY-recorded-pull-secret-password";

struct Scenario {
    name: &'static str,
    /// Whether kwctl runs with RUST_BACKTRACE=1 (which adds a backtrace to host error texts).
    backtrace: bool,
    settings: Value,
    request: Value,
    /// Prepares the stub's answers.
    setup: fn(&KubeStub),
    args: Vec<&'static str>,
}

/// A CREATE of `object` (a `group`/v1 `kind`, resource `plural`) as the API server sends it.
fn create_request(group: &str, kind: &str, plural: &str, object: Value) -> Value {
    let gvk = json!({"group": group, "version": "v1", "kind": kind});
    let gvr = json!({"group": group, "version": "v1", "resource": plural});
    json!({
        "uid": format!("recorded-{}", kind.to_ascii_lowercase()),
        "kind": gvk, "requestKind": gvk, "resource": gvr, "requestResource": gvr,
        "name": object["metadata"]["name"],
        "namespace": object["metadata"]["namespace"],
        "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": object
    })
}

fn pod_request(namespace: &str) -> Value {
    create_request(
        "",
        "Pod",
        "pods",
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "billing-7d9f", "namespace": namespace},
            "spec": {"containers": [{"name": "billing", "image": "registry.corp.example:5000/finance/billing:2.4.1"}]}
        }),
    )
}

fn deployment_request(namespace: &str) -> Value {
    create_request(
        "apps",
        "Deployment",
        "deployments",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": namespace},
            "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"serviceAccountName": "builder", "imagePullSecrets": [],
                         "containers": [{"name": "api", "image": "registry.corp.example:5000/acme/api:3"}]}
            }}
        }),
    )
}

fn corp_settings() -> Value {
    json!({"rules": [{"secret": "corp-registry", "registries": ["registry.corp.example:5000"]}]})
}

fn docker_config_secret(namespace: &str, name: &str) -> Value {
    let auth = STANDARD.encode(format!("robot:{CANARY}"));
    let config = json!({"auths": {"registry.corp.example:5000": {"username": "robot", "password": CANARY, "auth": auth}}});
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": STANDARD.encode(config.to_string())}
    })
}

/// A rule for namespaces labelled `team: a`, with no secret lookup: only the Namespace is read.
fn team_a_settings() -> Value {
    json!({"rules": [{"secret": "corp-registry", "registries": ["registry.corp.example:5000"],
                      "namespaceSelector": {"matchLabels": {"team": "a"}}}], "verifySecrets": false})
}

impl Scenario {
    /// A Pod CREATE in `team-a` with the corporate rule, run with `--allow-context-aware`.
    fn corp(name: &'static str, setup: fn(&KubeStub)) -> Self {
        Scenario {
            name,
            backtrace: false,
            settings: corp_settings(),
            request: pod_request("team-a"),
            setup,
            args: vec!["--allow-context-aware"],
        }
    }
}

fn scenarios() -> Vec<Scenario> {
    let found = |stub: &KubeStub| stub.add_object(docker_config_secret("team-a", "corp-registry"));
    vec![
        Scenario::corp("secret-found", found),
        Scenario::corp("secret-not-found", |_| {}),
        Scenario::corp("secret-forbidden", |stub| {
            stub.set("secrets", "team-a", "corp-registry", Answer::Forbidden)
        }),
        Scenario::corp("secret-unauthorized", |stub| {
            stub.set("secrets", "team-a", "corp-registry", Answer::Unauthorized)
        }),
        Scenario::corp("unauthorized-everything", |stub| {
            stub.reject_all_unauthorized(true)
        }),
        Scenario {
            settings: json!({"rules": [{"secret": "corp-registry", "registries": ["registry.corp.example:5000"]}], "verifySecrets": false}),
            request: deployment_request("team-a"),
            ..Scenario::corp("serviceaccount-not-found", |_| {})
        },
        Scenario {
            settings: team_a_settings(),
            ..Scenario::corp("namespace-found", |stub| {
                stub.add_object(json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "team-a", "labels": {"team": "a", "kubernetes.io/metadata.name": "team-a"},
                                 "annotations": {"owner": "team-a@corp.example"}},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}))
            })
        },
        Scenario {
            settings: team_a_settings(),
            ..Scenario::corp("namespace-not-found", |_| {})
        },
        Scenario {
            args: vec![],
            ..Scenario::corp("not-granted-without-allow-context-aware", found)
        },
        Scenario {
            args: vec!["--allow-context-aware", "--allowed-host-capabilities=oci/*"],
            ..Scenario::corp("not-granted-kubernetes-capability-excluded", found)
        },
        Scenario {
            backtrace: true,
            ..Scenario::corp("secret-not-found-with-rust-backtrace", |_| {})
        },
    ]
}

/// Removes terminal colour codes from kwctl's log lines.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The annotated module (`POLICY`, default `annotated-policy.wasm` at the repository root).
fn policy_module() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let module = std::env::var("POLICY")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("annotated-policy.wasm"));
    assert!(
        module.exists(),
        "{} is missing: build it with `make annotated-policy.wasm` or set POLICY",
        module.display()
    );
    module
}

/// Where the recordings go: `RECORD_DIR`, or a folder in `scratch`.
fn out_dir(scratch: &Path) -> PathBuf {
    let out_dir = std::env::var("RECORD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| scratch.join("recorded"));
    std::fs::create_dir_all(&out_dir).unwrap();
    out_dir
}

fn record_real_kwctl_host_answers() {
    let kwctl = binary_from_env("KWCTL", "kwctl");
    let module = policy_module();
    let scratch = tempfile::tempdir().expect("scratch dir");
    let out_dir = out_dir(scratch.path());
    // RECORD_FILTER: record only the scenarios whose name contains it.
    let filter = std::env::var("RECORD_FILTER").unwrap_or_default();
    for scenario in scenarios() {
        if !scenario.name.contains(&filter) {
            continue;
        }
        let dir = scratch.path().join(scenario.name);
        std::fs::create_dir_all(&dir).unwrap();
        let stub = KubeStub::start(&dir).expect("stub API server");
        (scenario.setup)(&stub);
        let request = dir.join("request.json");
        std::fs::write(&request, scenario.request.to_string()).unwrap();
        let session = out_dir.join(format!("{}.yml", scenario.name));
        let _ = std::fs::remove_file(&session);
        let xdg = scratch.path().join("xdg");
        let xdg_env = vec![
            ("XDG_CACHE_HOME".to_string(), xdg.join("cache")),
            ("XDG_CONFIG_HOME".to_string(), xdg.join("config")),
            ("XDG_DATA_HOME".to_string(), xdg.join("data")),
        ];
        let mut command = Command::new(&kwctl);
        command
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
        if scenario.backtrace {
            command.env("RUST_BACKTRACE", "1");
        }
        let output = command
            .arg("run")
            .arg("--request-path")
            .arg(&request)
            .arg("--settings-json")
            .arg(scenario.settings.to_string())
            .arg("--record-host-capabilities-interactions")
            .arg(&session)
            .args(&scenario.args)
            .arg(&module)
            .env("KUBECONFIG", stub.kubeconfig())
            .envs(xdg_env.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .output()
            .expect("run kwctl");
        let requests: Vec<String> = stub.requests().iter().map(ToString::to_string).collect();
        let text = format!(
            "$ {}kwctl run --request-path request.json --settings-json '{}' --record-host-capabilities-interactions {}.yml {} annotated-policy.wasm\n{}\n--- stdout\n{}--- stderr\n{}--- requests the stub received\n{}\n",
            if scenario.backtrace { "RUST_BACKTRACE=1 " } else { "" },
            scenario.settings,
            scenario.name,
            scenario.args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            requests.join("\n"),
        )
        .replace(&scratch.path().display().to_string(), "$SCRATCH")
        .replace(&module.display().to_string(), "$MODULE");
        let text = strip_ansi(&text);
        std::fs::write(out_dir.join(format!("{}.output.txt", scenario.name)), &text).unwrap();
        eprintln!("===== {}\n{text}", scenario.name);
        let response = String::from_utf8_lossy(&output.stdout);
        assert!(
            !response.contains(CANARY),
            "{}: a credential reached the policy's response",
            scenario.name
        );
    }
    eprintln!("recordings in {}", out_dir.display());
}

/// One PolicyServer policy for the texts test: (policy id, module, lookups granted, settings).
struct Served {
    id: &'static str,
    module: PathBuf,
    granted: bool,
    settings: Value,
}

fn record_policy_server_host_error_texts() {
    let policy_server = binary_from_env("POLICY_SERVER", "policy-server");
    let policy = policy_module();
    let scratch = tempfile::tempdir().expect("scratch dir");
    let out_dir = out_dir(scratch.path());
    let stub = KubeStub::start(scratch.path()).expect("stub API server");
    // Each policy id reads its own object, so PolicyServer's cache of get_resource
    // answers cannot answer one lookup with another's result.
    stub.set("secrets", "team-a", "policy-forbidden", Answer::Forbidden);
    let rule = |secret: &str| json!({"rules": [{"secret": secret, "registries": ["registry.corp.example:5000"]}]});
    let served = vec![
        Served {
            id: "policy-secret-not-found",
            module: policy.clone(),
            granted: true,
            settings: rule("policy-missing"),
        },
        Served {
            id: "policy-secret-forbidden",
            module: policy.clone(),
            granted: true,
            settings: rule("policy-forbidden"),
        },
        Served {
            id: "policy-not-granted",
            module: policy.clone(),
            granted: false,
            settings: rule("policy-not-granted"),
        },
    ];
    let policies: String = served
        .iter()
        .map(|p| {
            let grant = if p.granted {
                "  hostCapabilities: [\"kubernetes/get_resource\"]\n"
            } else {
                ""
            };
            format!(
                "{}:\n  module: file://{}\n  allowedToMutate: true\n  contextAwareResources:\n    - apiVersion: v1\n      kind: Secret\n    - apiVersion: v1\n      kind: ServiceAccount\n{grant}  settings: {}\n",
                p.id,
                p.module.display(),
                p.settings
            )
        })
        .collect();
    let server = PolicyServer::start(
        &Launch {
            binary: &policy_server,
            dir: &scratch.path().join("policy-server"),
            policies: &policies,
            kubeconfig: stub.kubeconfig(),
            sources: None,
            rust_backtrace: false,
        },
        std::time::Duration::from_secs(90),
    );
    let mut report = String::from(
        "# What the real policy-server (KUBECONFIG at the loopback stub) answered for each policy id.\n",
    );
    let startup: Vec<String> = stub.requests().iter().map(ToString::to_string).collect();
    report.push_str(&format!(
        "\nRequests the stub received while policy-server started: {startup:?}\n"
    ));
    for p in &served {
        let mark = stub.mark();
        let (status, body) = server.validate(p.id, &pod_request("team-a"));
        let reads = stub.object_reads_since(mark);
        report.push_str(&format!(
            "\n## {}\nHTTP {status}; lookups: {reads:?}\nresponse.status.message (JSON string):\n{}\nresponse.warnings: {}\n",
            p.id, body["response"]["status"]["message"], body["response"]["warnings"]
        ));
    }
    let log = strip_ansi(&server.log());
    report.push_str("\n## policy-server log lines about callbacks\n");
    for line in log
        .lines()
        .filter(|l| l.contains("callback") || l.contains("doesn't have access"))
    {
        report.push_str(
            line.replace(&scratch.path().display().to_string(), "$SCRATCH")
                .as_str(),
        );
        report.push('\n');
    }
    let report = report.replace(&scratch.path().display().to_string(), "$SCRATCH");
    std::fs::write(out_dir.join("policy-server-texts.txt"), &report).unwrap();
    eprintln!("{report}");
}

/// A program, not a test (`harness = false`, `test = false` in Cargo.toml): `make record-host-answers`.
fn main() {
    record_real_kwctl_host_answers();
    record_policy_server_host_error_texts();
}
