//! Records what the REAL kwctl answers the policy's `kubernetes/get_resource` calls with, against a
//! real API server (the cluster suite's control plane, support/cluster.rs): a found secret, 404,
//! the README's RBAC withdrawn (403), a token the API server no longer accepts (401), an address
//! nothing listens on, a missing ServiceAccount, a found and a missing Namespace, and runs where the
//! capability is not granted. kwctl reads the cluster as ServiceAccount `kubewarden/policy-server`
//! with a token the API server issued. The session files and kwctl's output land in `RECORD_DIR`
//! (default: a scratch folder); `e2e-tests/recorded/README.md` says how the committed ones were made.
//!
//! ```sh
//! make record-host-answers      # or, with KUBEBUILDER_ASSETS and KWCTL set:
//! RECORD_DIR=$PWD/e2e-tests/recorded cargo test --release -p e2e-tests --test record_host_answers
//! ```

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::cluster::{assets, kubeconfig, Cluster, Kubectl};
use support::kubewarden;
use support::process::{binary_from_env, free_port, scratch};

/// Planted in the found secret: it must appear in the session file (kwctl records the payload)
/// but never in the policy's response.
const CANARY: &str = "CANARY-recorded-pull-secret-password";

/// The kubeconfig a scenario's kwctl reads the cluster with.
#[derive(Clone, Copy)]
enum Identity {
    /// A token for `kubewarden/policy-server`, bound by the README's RBAC.
    PolicyServer,
    /// A token whose ServiceAccount was deleted: every request is 401.
    Revoked,
    /// The API server's address with nothing listening.
    Unreachable,
}

struct Scenario {
    name: &'static str,
    /// Whether kwctl runs with RUST_BACKTRACE=1 (which adds a backtrace to host error texts).
    backtrace: bool,
    settings: Value,
    request: Value,
    identity: Identity,
    /// Brings the cluster into the scenario's state and back (admin kubectl, `true` = set up).
    state: fn(&Kubectl, bool),
    args: Vec<&'static str>,
}

/// A CREATE in `namespace` of `object`, as the API server sends it.
fn create_request(namespace: &str, object: Value) -> Value {
    let (kind, name) = (&object["kind"], &object["metadata"]["name"]);
    let (group, version) = match object["apiVersion"].as_str().unwrap().split_once('/') {
        Some((group, version)) => (group.to_string(), version.to_string()),
        None => (
            String::new(),
            object["apiVersion"].as_str().unwrap().to_string(),
        ),
    };
    let resource = format!("{}s", kind.as_str().unwrap().to_lowercase());
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": resource});
    json!({
        "uid": format!("recorded-{}", kind.as_str().unwrap().to_lowercase()),
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": name, "namespace": namespace, "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": object,
    })
}

fn pod_request(namespace: &str) -> Value {
    create_request(
        namespace,
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "billing-7d9f", "namespace": namespace},
            "spec": {"containers": [{"name": "billing", "image": "registry.corp.example:5000/finance/billing:2.4.1"}]}
        }),
    )
}

fn deployment_request(namespace: &str) -> Value {
    create_request(
        namespace,
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

/// A rule for namespaces labelled `team: a`, with no secret lookup: only the Namespace is read.
fn team_a_settings() -> Value {
    json!({"rules": [{"secret": "corp-registry", "registries": ["registry.corp.example:5000"],
                      "namespaceSelector": {"matchLabels": {"team": "a"}}}], "verifySecrets": false})
}

fn nothing(_: &Kubectl, _: bool) {}

/// `team-a/corp-registry`, a docker-config secret for the corporate registry.
fn secret(kubectl: &Kubectl, up: bool) {
    let ran = match up {
        true => kubectl.run(&[
            "create",
            "secret",
            "docker-registry",
            "corp-registry",
            "-n",
            "team-a",
            "--docker-server=registry.corp.example:5000",
            "--docker-username=robot",
            &format!("--docker-password={CANARY}"),
        ]),
        false => kubectl.run(&["delete", "secret", "corp-registry", "-n", "team-a"]),
    };
    assert!(ran.ok, "{}", ran.all());
}

/// The README's ClusterRoleBinding withdrawn (and given back).
fn no_binding(kubectl: &Kubectl, up: bool) {
    match up {
        true => assert!(
            kubectl
                .run(&["delete", "clusterrolebinding", "image-pull-secrets-policy"])
                .ok
        ),
        false => kubewarden::install_namespace_and_rbac(kubectl),
    }
}

impl Scenario {
    /// A Pod CREATE in `team-a` with the corporate rule, run with `--allow-context-aware`.
    fn corp(name: &'static str, state: fn(&Kubectl, bool)) -> Self {
        Scenario {
            name,
            backtrace: false,
            settings: corp_settings(),
            request: pod_request("team-a"),
            identity: Identity::PolicyServer,
            state,
            args: vec!["--allow-context-aware"],
        }
    }
}

/// In this order: `namespace-not-found` runs before `team-a` exists.
fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            settings: team_a_settings(),
            ..Scenario::corp("namespace-not-found", nothing)
        },
        Scenario {
            settings: team_a_settings(),
            ..Scenario::corp("namespace-found", nothing)
        },
        Scenario::corp("secret-found", secret),
        Scenario::corp("secret-not-found", nothing),
        Scenario::corp("secret-forbidden", no_binding),
        Scenario {
            identity: Identity::Revoked,
            ..Scenario::corp("secret-unauthorized", secret)
        },
        Scenario {
            identity: Identity::Unreachable,
            ..Scenario::corp("api-server-unreachable", nothing)
        },
        Scenario {
            settings: json!({"rules": [{"secret": "corp-registry", "registries": ["registry.corp.example:5000"]}],
                              "verifySecrets": false, "templates": "inject"}),
            // Injecting into a template that lists `imagePullSecrets: []` reads its ServiceAccount.
            request: deployment_request("team-a"),
            ..Scenario::corp("serviceaccount-not-found", nothing)
        },
        Scenario {
            args: vec![],
            ..Scenario::corp("not-granted-without-allow-context-aware", secret)
        },
        Scenario {
            args: vec!["--allow-context-aware", "--allowed-host-capabilities=oci/*"],
            ..Scenario::corp("not-granted-kubernetes-capability-excluded", secret)
        },
        Scenario {
            backtrace: true,
            ..Scenario::corp("secret-not-found-with-rust-backtrace", nothing)
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

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The annotated module (`POLICY`, default `annotated-policy.wasm` at the repository root).
fn policy_module() -> PathBuf {
    let module = std::env::var("POLICY")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("annotated-policy.wasm"));
    assert!(
        module.exists(),
        "{} is missing: build it with `make annotated-policy.wasm` or set POLICY",
        module.display()
    );
    module
}

/// A program, not a test (`harness = false`, `test = false` in Cargo.toml): `make record-host-answers`.
fn main() {
    let assets = assets().unwrap_or_else(|why| panic!("the recordings need a cluster: {why}"));
    let kwctl = binary_from_env("KWCTL", "kwctl");
    let module = policy_module();
    let scratch = scratch("ips-record-");
    let dir = scratch.path().to_path_buf();
    let out_dir = std::env::var("RECORD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.join("recorded"));
    std::fs::create_dir_all(&out_dir).unwrap();

    let cluster = Cluster::start(&assets, &dir.join("cluster"));
    let kubectl = &cluster.kubectl;
    kubewarden::install_namespace_and_rbac(kubectl);
    let identities = dir.join("identities");
    std::fs::create_dir_all(&identities).unwrap();
    let policy_server = identities.join("policy-server");
    cluster.service_account_kubeconfig(
        kubectl,
        kubewarden::NAMESPACE,
        "policy-server",
        &policy_server,
    );
    let revoked = identities.join("revoked");
    cluster.service_account_kubeconfig(kubectl, kubewarden::NAMESPACE, "revoked", &revoked);
    assert!(
        kubectl
            .run(&[
                "delete",
                "serviceaccount",
                "revoked",
                "-n",
                kubewarden::NAMESPACE
            ])
            .ok
    );
    let unreachable = identities.join("unreachable");
    let nobody = format!("https://127.0.0.1:{}", free_port());
    kubeconfig(
        &unreachable,
        &nobody,
        &cluster.pki.path("ca.crt"),
        "    token: unused\n",
    );

    // RECORD_FILTER: record only the scenarios whose name contains it.
    let filter = std::env::var("RECORD_FILTER").unwrap_or_default();
    for scenario in scenarios() {
        // Every scenario after the first reads namespace `team-a`, labelled for `team_a_settings`.
        if scenario.name != "namespace-not-found"
            && kubectl.get("namespace", "", "team-a").is_none()
        {
            kubectl.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels: {team: a}\n  annotations: {owner: team-a@corp.example}\n");
        }
        if !scenario.name.contains(&filter) {
            continue;
        }
        (scenario.state)(kubectl, true);
        let request = dir.join("request.json");
        std::fs::write(&request, scenario.request.to_string()).unwrap();
        let session = out_dir.join(format!("{}.yml", scenario.name));
        let _ = std::fs::remove_file(&session);
        let xdg = dir.join("xdg");
        let mut command = Command::new(&kwctl);
        command
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
        if scenario.backtrace {
            command.env("RUST_BACKTRACE", "1");
        }
        let identity = match scenario.identity {
            Identity::PolicyServer => &policy_server,
            Identity::Revoked => &revoked,
            Identity::Unreachable => &unreachable,
        };
        let mark = cluster.lookup_mark();
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
            .env("KUBECONFIG", identity)
            .env("XDG_CACHE_HOME", xdg.join("cache"))
            .env("XDG_CONFIG_HOME", xdg.join("config"))
            .env("XDG_DATA_HOME", xdg.join("data"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("NO_COLOR", "1")
            .output()
            .expect("run kwctl");
        let reads = cluster.lookups_since(mark);
        (scenario.state)(kubectl, false);
        let text = format!(
            "$ {}kwctl run --request-path request.json --settings-json '{}' --record-host-capabilities-interactions {}.yml {} annotated-policy.wasm\n{}\n--- stdout\n{}--- stderr\n{}--- reads in the API server's audit log\n{}\n",
            if scenario.backtrace { "RUST_BACKTRACE=1 " } else { "" },
            scenario.settings,
            scenario.name,
            scenario.args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            reads.join("\n"),
        )
        .replace(&dir.display().to_string(), "$SCRATCH")
        .replace(&module.display().to_string(), "$MODULE")
        .replace(&out_dir.display().to_string(), "$RECORD_DIR");
        let text = strip_ansi(&text);
        std::fs::write(out_dir.join(format!("{}.output.txt", scenario.name)), &text).unwrap();
        eprintln!("===== {}\n{text}", scenario.name);
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains(CANARY),
            "{}: a credential reached the policy's response",
            scenario.name
        );
    }
    eprintln!("recordings in {}", out_dir.display());
}
