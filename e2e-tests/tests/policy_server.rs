//! The policy as Kubewarden deploys it: `kwctl push` to a loopback OCI registry (Debian's
//! `docker-registry`), the real PolicyServer pulling it from there, reading Secrets,
//! ServiceAccounts and Namespaces from the loopback API stub, and AdmissionReviews posted to
//! `POST /validate/<policy-id>`. Each case checks the answer (allowed, the applied patch, messages,
//! warnings) and the exact object lookups the stub received for it.
//!
//! ```sh
//! make e2e-policy-server        # or:
//! KWCTL=/work/shared/kubewarden/kwctl POLICY_SERVER=/work/shared/kubewarden/policy-server \
//!   cargo test --release -p e2e-tests --test policy_server -- --nocapture
//! ```

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use support::kube_stub::{Answer, KubeStub};
use support::policy_server::{Launch, PolicyServer};
use support::process::binary_from_env;
use support::registry::Registry;

/// Planted in every secret the stub serves: no response and no log line may contain them.
const CANARY_PASSWORD: &str = "CANARY-ps-9d2f-registry-password";
const CANARY_TOKEN: &str = "CANARY-ps-9d2f-identity-token";
const CANARY_OPAQUE: &str = "CANARY-ps-9d2f-opaque-value";

const CORP_IMAGE: &str = "registry.corp.example:5000/finance/billing:2.4.1";
const CORP_REGISTRY: &str = "registry.corp.example:5000";

/// Host texts that must never reach a user: the raw host error and its backtrace.
const NEVER: [&str; 3] = [
    "Stack backtrace",
    "Callback evaluation failure",
    "Host error",
];

/// One AdmissionRequest, the policy id it is posted to, and what must come back.
struct Case {
    name: &'static str,
    policy: &'static str,
    request: Value,
    allowed: bool,
    /// The pod spec's `imagePullSecrets` after applying the patch; `None`: no patch at all.
    patched: Option<Value>,
    message: Vec<String>,
    warnings: Vec<String>,
    warning_count: usize,
    /// Object reads the stub must see for this request, in order ("GET secrets NS/NAME").
    lookups: Vec<String>,
    /// The first container's `imagePullPolicy` after the patch; `None`: not checked.
    pull_policy: Option<&'static str>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn policy_module() -> PathBuf {
    std::env::var("POLICY")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("annotated-policy.wasm"))
}

fn auth() -> String {
    STANDARD.encode(format!("robot:{CANARY_PASSWORD}"))
}

fn docker_config(registries: &[&str]) -> String {
    let auths: serde_json::Map<String, Value> = registries
        .iter()
        .map(|r| {
            (
                r.to_string(),
                json!({"username": "robot", "password": CANARY_PASSWORD, "auth": auth(), "identitytoken": CANARY_TOKEN}),
            )
        })
        .collect();
    STANDARD.encode(json!({ "auths": auths }).to_string())
}

fn pull_secret(namespace: &str, name: &str, registries: &[&str]) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": docker_config(registries)}
    })
}

fn opaque_secret(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"password": STANDARD.encode(CANARY_OPAQUE)}
    })
}

fn namespace_object(name: &str, labels: &[(&str, &str)]) -> Value {
    let mut labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    labels.insert("kubernetes.io/metadata.name".to_string(), json!(name));
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels},
           "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

fn service_account(namespace: &str, name: &str, pull_secrets: &[&str]) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
        "imagePullSecrets": pull_secrets.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()
    })
}

/// An AdmissionRequest as the API server sends it; kind, resource and namespace come from `object`.
fn admission_request(uid: &str, operation: &str, object: Value, old_object: Value) -> Value {
    let (group, version) = match object["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .split_once('/')
    {
        Some((group, version)) => (group.to_string(), version.to_string()),
        None => (String::new(), "v1".to_string()),
    };
    let kind = object["kind"].as_str().unwrap_or_default().to_string();
    let plural = format!("{}s", kind.to_ascii_lowercase());
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": plural});
    json!({
        "uid": uid,
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"],
        "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": object, "oldObject": old_object,
        "dryRun": false,
    })
}

fn pod(namespace: &str, name: &str, image: &str, pull_secrets: &[&str]) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "imagePullSecrets": pull_secrets.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
            "containers": [{"name": "app", "image": image}]
        }
    })
}

fn pod_create(namespace: &str, image: &str, pull_secrets: &[&str]) -> Value {
    admission_request(
        &format!("ps-{namespace}"),
        "CREATE",
        pod(namespace, "billing-7d9f", image, pull_secrets),
        Value::Null,
    )
}

fn names(list: &[&str]) -> Value {
    Value::Array(list.iter().map(|n| json!({ "name": n })).collect())
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

fn secret_read(namespace: &str, name: &str) -> String {
    format!("GET secrets {namespace}/{name}")
}

/// The line the policy writes for a missing secret, with its fix.
fn not_found_parts(namespace: &str, secret: &str) -> Vec<String> {
    vec![
        format!("imagePullSecret \"{secret}\" in namespace \"{namespace}\": secret not found"),
        format!("kubectl create secret docker-registry {secret} -n {namespace} --docker-server={CORP_REGISTRY}"),
    ]
}

/// The policies PolicyServer loads: the same pushed module with different settings.
fn policies_yaml(module_uri: &str) -> String {
    let rule = |on_missing: &str| json!({"rules": [{"secret": "corp-registry", "registries": [CORP_REGISTRY], "onMissingSecret": on_missing}]});
    let policies = [
        ("inject-reject", rule("reject"), true),
        ("inject-warn", rule("warn"), true),
        ("inject-skip", rule("skip"), true),
        (
            "pull-always",
            json!({"rules": [{"secret": "corp-registry", "registries": [CORP_REGISTRY], "imagePullPolicy": "Always"}]}),
            true,
        ),
        (
            "scoped",
            json!({"rules": [{"secret": "team-a-registry", "registries": [CORP_REGISTRY], "onMissingSecret": "warn",
                              "namespaceSelector": {"matchLabels": {"team": "a"}}}],
                   "serviceAccounts": [{"secret": "dockerhub"}]}),
            true,
        ),
        // Deployed as a validating policy by mistake: PolicyServer itself refuses its mutations.
        (
            "not-mutating",
            json!({"rules": [{"secret": "corp-registry", "registries": [CORP_REGISTRY]}], "verifySecrets": false}),
            false,
        ),
    ];
    policies
        .iter()
        .map(|(id, settings, mutating)| {
            format!(
                "{id}:
  module: {module_uri}
  allowedToMutate: {mutating}
  contextAwareResources:
    - apiVersion: v1
      kind: Secret
    - apiVersion: v1
      kind: ServiceAccount
    - apiVersion: v1
      kind: Namespace
  hostCapabilities: [\"kubernetes/get_resource\"]
  settings: {settings}
"
            )
        })
        .collect()
}

/// The cases, and the stub fixtures they need. PolicyServer caches `get_resource` answers for
/// a few seconds, keyed by kind, namespace and name: every case runs in its own namespace, so no
/// answer cached for one case can hide the lookup another case must make.
fn cases(stub: &KubeStub) -> Vec<Case> {
    let mut cases = Vec::new();

    // A Pod whose image needs corp-registry, which exists and covers the registry: injected after
    // the policy read it; the pod's own entry stays first.
    let ns = "ps-pod-verified";
    stub.add_object(pull_secret(ns, "corp-registry", &[CORP_REGISTRY]));
    cases.push(Case {
        name: "pod: verified secret is injected",
        policy: "inject-reject",
        request: pod_create(ns, CORP_IMAGE, &["team-mirror"]),
        allowed: true,
        patched: Some(names(&["team-mirror", "corp-registry"])),
        message: vec![],
        warnings: vec![],
        warning_count: 0,
        lookups: vec![secret_read(ns, "corp-registry")],
        pull_policy: None,
    });

    // A rule with imagePullPolicy Always: the Pod's container, IfNotPresent as the API server
    // defaults a tagged image, gets Always and the verified secret, in one patch.
    let ns = "ps-pull-always";
    stub.add_object(pull_secret(ns, "corp-registry", &[CORP_REGISTRY]));
    let mut request = pod_create(ns, CORP_IMAGE, &[]);
    request["object"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
    cases.push(Case {
        name: "pod: pull policy and secret patched",
        policy: "pull-always",
        request,
        allowed: true,
        patched: Some(names(&["corp-registry"])),
        message: vec![],
        warnings: vec![],
        warning_count: 0,
        lookups: vec![secret_read(ns, "corp-registry")],
        pull_policy: Some("Always"),
    });

    // A Deployment whose template lists `imagePullSecrets: []`: the ServiceAccount's secrets
    // would be dropped by adding one, so the policy reads the ServiceAccount and keeps them first.
    let ns = "ps-deployment-sa";
    stub.add_object(pull_secret(ns, "corp-registry", &[CORP_REGISTRY]));
    stub.add_object(service_account(ns, "builder", &["sa-mirror"]));
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": ns, "labels": {"app": "api"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}}, "template": {
            "metadata": {"labels": {"app": "api"}},
            "spec": {"serviceAccountName": "builder", "imagePullSecrets": [],
                     "containers": [{"name": "api", "image": "registry.corp.example:5000/acme/api:3"}]}
        }}
    });
    cases.push(Case {
        name: "deployment: empty template list inherits the ServiceAccount's secrets",
        policy: "inject-reject",
        request: admission_request("ps-deployment", "CREATE", deployment, Value::Null),
        allowed: true,
        patched: Some(names(&["sa-mirror", "corp-registry"])),
        message: vec![],
        warnings: vec![],
        warning_count: 0,
        // The companion rule verifies the secret first, then injection reads the ServiceAccount.
        lookups: vec![
            secret_read(ns, "corp-registry"),
            format!("GET serviceaccounts {ns}/builder"),
        ],
        pull_policy: None,
    });

    // The secret does not exist (the stub answers 404): each onMissingSecret outcome.
    let ns = "ps-missing-reject";
    cases.push(Case {
        name: "missing secret, onMissingSecret: reject",
        policy: "inject-reject",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: false,
        patched: None,
        message: not_found_parts(ns, "corp-registry"),
        warnings: vec![],
        warning_count: 0,
        lookups: vec![secret_read(ns, "corp-registry")],
        pull_policy: None,
    });
    let ns = "ps-missing-warn";
    cases.push(Case {
        name: "missing secret, onMissingSecret: warn",
        policy: "inject-warn",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: true,
        patched: Some(names(&["corp-registry"])),
        message: vec![],
        warnings: not_found_parts(ns, "corp-registry"),
        warning_count: 1,
        lookups: vec![secret_read(ns, "corp-registry")],
        pull_policy: None,
    });
    let ns = "ps-missing-skip";
    cases.push(Case {
        name: "missing secret, onMissingSecret: skip",
        policy: "inject-skip",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: true,
        patched: None,
        message: vec![],
        warnings: not_found_parts(ns, "corp-registry"),
        warning_count: 1,
        lookups: vec![secret_read(ns, "corp-registry")],
        pull_policy: None,
    });

    // An Opaque secret holds no registry credentials (its data is a canary too).
    let ns = "ps-opaque";
    stub.add_object(opaque_secret(ns, "corp-registry"));
    cases.push(Case {
        name: "wrong-type (Opaque) secret",
        policy: "inject-reject",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: false,
        patched: None,
        message: strings(&[
            "imagePullSecret \"corp-registry\" in namespace \"ps-opaque\": secret type \"Opaque\" holds no registry credentials",
            "kubectl create secret docker-registry corp-registry -n ps-opaque",
        ]),
        warnings: vec![],
        warning_count: 0,
        lookups: vec![secret_read(ns, "corp-registry")],
        pull_policy: None,
    });

    // RBAC refuses the read (403): the message says so and how to grant it.
    let ns = "ps-forbidden";
    stub.set("secrets", ns, "corp-registry", Answer::Forbidden);
    cases.push(Case {
        name: "forbidden lookup (403)",
        policy: "inject-reject",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: false,
        patched: None,
        message: strings(&[
            "imagePullSecret \"corp-registry\" in namespace \"ps-forbidden\": the PolicyServer is forbidden to read it (403 Forbidden)",
            "let the PolicyServer's ServiceAccount get secrets in \"ps-forbidden\"",
        ]),
        warnings: vec![],
        warning_count: 0,
        lookups: vec![secret_read(ns, "corp-registry")],
        pull_policy: None,
    });

    // The API server refuses the PolicyServer's token (401).
    let ns = "ps-unauthorized";
    stub.set("secrets", ns, "corp-registry", Answer::Unauthorized);
    cases.push(Case {
        name: "unauthorized lookup (401)",
        policy: "inject-reject",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: false,
        patched: None,
        message: strings(&[
            "imagePullSecret \"corp-registry\" in namespace \"ps-unauthorized\"",
            "401 Unauthorized",
        ]),
        warnings: vec![],
        warning_count: 0,
        lookups: vec![secret_read(ns, "corp-registry")],
        pull_policy: None,
    });

    // A Job's pod template is immutable: an UPDATE is never mutated (and so needs no lookup).
    let ns = "ps-job-update";
    let job = |image: &str| {
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "nightly-report", "namespace": ns},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "report", "image": image}]}}}
        })
    };
    let mut updated = job(CORP_IMAGE);
    updated["metadata"]["labels"] = json!({"reviewed": "yes"});
    cases.push(Case {
        name: "job UPDATE is never mutated",
        policy: "inject-reject",
        request: admission_request("ps-job-update", "UPDATE", updated, job(CORP_IMAGE)),
        allowed: true,
        patched: None,
        message: vec![],
        warnings: vec![],
        warning_count: 0,
        lookups: vec![],
        pull_policy: None,
    });

    // A running pod's image changes to one that needs corp-registry, which the pod does not list:
    // its imagePullSecrets cannot change, so the rule's outcome (reject) applies and nothing is
    // patched. The secret exists, so the only failure is the missing reference; an unreferenced
    // secret is not read.
    let ns = "ps-pod-update";
    stub.add_object(pull_secret(ns, "corp-registry", &[CORP_REGISTRY]));
    cases.push(Case {
        name: "pod image UPDATE to an uncovered registry is rejected, never patched",
        policy: "inject-reject",
        request: admission_request(
            "ps-pod-update",
            "UPDATE",
            pod(ns, "billing-7d9f", CORP_IMAGE, &["team-mirror"]),
            pod(
                ns,
                "billing-7d9f",
                "quay.io/acme/billing:2.4.0",
                &["team-mirror"],
            ),
        ),
        allowed: false,
        patched: None,
        message: strings(&[
            "imagePullSecret \"corp-registry\" in namespace \"ps-pod-update\"",
            "it is not listed in imagePullSecrets",
        ]),
        warnings: vec![],
        warning_count: 0,
        lookups: vec![],
        pull_policy: None,
    });

    // namespaceSelector: the Namespace is read (once, labels only) before the rule's secret; a
    // namespace the selector picks gets the secret.
    let ns = "ps-ns-team-a";
    stub.add_object(namespace_object(ns, &[("team", "a")]));
    stub.add_object(pull_secret(ns, "team-a-registry", &[CORP_REGISTRY]));
    cases.push(Case {
        name: "namespaceSelector: a selected namespace gets the rule's secret",
        policy: "scoped",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: true,
        patched: Some(names(&["team-a-registry"])),
        message: vec![],
        warnings: vec![],
        warning_count: 0,
        lookups: vec![
            format!("GET namespaces {ns}"),
            secret_read(ns, "team-a-registry"),
        ],
        pull_policy: None,
    });
    let ns = "ps-ns-team-c";
    stub.add_object(namespace_object(ns, &[("team", "c")]));
    cases.push(Case {
        name: "namespaceSelector: an unselected namespace is left alone, no secret read",
        policy: "scoped",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: true,
        patched: None,
        message: vec![],
        warnings: vec![],
        warning_count: 0,
        lookups: vec![format!("GET namespaces {ns}")],
        pull_policy: None,
    });
    // RBAC refuses the Namespace read: the rule's onMissingSecret (warn) decides.
    let ns = "ps-ns-forbidden";
    stub.set("namespaces", "", ns, Answer::Forbidden);
    cases.push(Case {
        name: "namespaceSelector: a forbidden Namespace read falls to onMissingSecret (warn)",
        policy: "scoped",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: true,
        patched: Some(names(&["team-a-registry"])),
        message: vec![],
        warnings: strings(&[
            "imagePullSecret \"team-a-registry\" in namespace \"ps-ns-forbidden\": the namespace could not be read for the namespaceSelector: the PolicyServer is forbidden to read it (403 Forbidden)",
            "let the PolicyServer's ServiceAccount get namespaces",
            "(onMissingSecret: warn, added anyway)",
        ]),
        warning_count: 1,
        lookups: vec![format!("GET namespaces {ns}")],
        pull_policy: None,
    });
    // serviceAccounts: a new namespace's default ServiceAccount gets the verified secret appended.
    let ns = "ps-sa-create";
    stub.add_object(pull_secret(
        ns,
        "dockerhub",
        &["https://index.docker.io/v1/"],
    ));
    let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": ns}, "imagePullSecrets": [{"name": "team-mirror"}]});
    cases.push(Case {
        name: "serviceAccounts: a ServiceAccount CREATE gets the secret appended",
        policy: "scoped",
        request: admission_request("ps-sa-create", "CREATE", account, Value::Null),
        allowed: true,
        patched: Some(names(&["team-mirror", "dockerhub"])),
        message: vec![],
        warnings: vec![],
        warning_count: 0,
        lookups: vec![secret_read(ns, "dockerhub")],
        pull_policy: None,
    });

    // The policy wants to add a secret, but the policy is deployed with allowedToMutate: false:
    // PolicyServer turns the mutation into a rejection.
    let ns = "ps-not-mutating";
    cases.push(Case {
        name: "allowedToMutate: false turns the mutation into a rejection",
        policy: "not-mutating",
        request: pod_create(ns, CORP_IMAGE, &[]),
        allowed: false,
        patched: None,
        message: vec![
            "The policy attempted to mutate the request, but it is currently configured to not allow mutations".to_string(),
        ],
        warnings: vec![],
        warning_count: 0,
        lookups: vec![],
        pull_policy: None,
    });

    // No image matches a rule: accepted as is, no lookup.
    let ns = "ps-no-match";
    cases.push(Case {
        name: "non-matching pod is left alone",
        policy: "inject-reject",
        request: pod_create(ns, "nginx:1.27", &[]),
        allowed: true,
        patched: None,
        message: vec![],
        warnings: vec![],
        warning_count: 0,
        lookups: vec![],
        pull_policy: None,
    });
    cases
}

/// The pod spec's place in the request's object.
fn pod_spec_pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "ServiceAccount" => "",
        _ => "/spec/template/spec",
    }
}

/// Checks one answer; returns every problem found.
fn check(case: &Case, status: u16, body: &Value, lookups: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let response = &body["response"];
    if status != 200 {
        problems.push(format!("HTTP {status}"));
    }
    if response["uid"] != case.request["uid"] {
        problems.push(format!(
            "response uid {} is not the request's",
            response["uid"]
        ));
    }
    if response["allowed"].as_bool() != Some(case.allowed) {
        problems.push(format!(
            "allowed is {}, expected {}",
            response["allowed"], case.allowed
        ));
    }
    let message = response["status"]["message"].as_str().unwrap_or_default();
    for part in &case.message {
        if !message.contains(part.as_str()) {
            problems.push(format!("message lacks {part:?}"));
        }
    }
    if case.allowed && !message.is_empty() {
        problems.push("an allowed answer carries a message".to_string());
    }
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for part in &case.warnings {
        if !warnings.iter().any(|w| w.contains(part.as_str())) {
            problems.push(format!("no warning contains {part:?}"));
        }
    }
    if warnings.len() != case.warning_count {
        problems.push(format!(
            "{} warnings, expected {}",
            warnings.len(),
            case.warning_count
        ));
    }
    let everything = body.to_string();
    for never in NEVER {
        if everything.contains(never) {
            problems.push(format!("the answer contains {never:?}"));
        }
    }
    let patch = response.get("patch").and_then(Value::as_str);
    match (&case.patched, patch) {
        (None, Some(_)) => problems.push("a patch was returned; expected none".to_string()),
        (Some(_), None) => problems.push("no patch; expected one".to_string()),
        (Some(wanted), Some(patch)) => {
            if let Err(problem) = check_patch(case, response, patch, wanted) {
                problems.push(problem);
            }
        }
        (None, None) => {}
    }
    if lookups != case.lookups {
        problems.push(format!(
            "the stub saw lookups {lookups:?}, expected {:?}",
            case.lookups
        ));
    }
    if !problems.is_empty() {
        problems.push(format!("answer: {body}"));
    }
    problems
}

/// Decodes the base64 JSONPatch, checks it edits only `imagePullSecrets` (and containers'
/// `imagePullPolicy`), applies it and compares.
fn check_patch(case: &Case, response: &Value, patch: &str, wanted: &Value) -> Result<(), String> {
    let object = support::patch::patched(&case.request["object"], response, patch)?;
    let kind = case.request["kind"]["kind"].as_str().unwrap_or_default();
    let at = format!("{}/imagePullSecrets", pod_spec_pointer(kind));
    let got = object.pointer(&at).cloned().unwrap_or(Value::Null);
    if &got != wanted {
        return Err(format!("{at} is {got} after the patch, expected {wanted}"));
    }
    if let Some(policy) = case.pull_policy {
        let at = format!("{}/containers/0/imagePullPolicy", pod_spec_pointer(kind));
        let got = object.pointer(&at).cloned().unwrap_or(Value::Null);
        if got != policy {
            return Err(format!("{at} is {got} after the patch, expected {policy}"));
        }
    }
    Ok(())
}

/// Every planted credential, plain and as the base64 forms a secret carries them in.
fn canaries() -> Vec<String> {
    vec![
        CANARY_PASSWORD.to_string(),
        CANARY_TOKEN.to_string(),
        CANARY_OPAQUE.to_string(),
        auth(),
        STANDARD.encode(CANARY_OPAQUE),
        docker_config(&[CORP_REGISTRY]),
    ]
}

#[test]
fn policy_server_end_to_end() {
    let started = Instant::now();
    let kwctl = binary_from_env("KWCTL", "kwctl");
    let policy_server_binary = binary_from_env("POLICY_SERVER", "policy-server");
    let module = policy_module();
    assert!(
        module.exists(),
        "{} is missing: build it with `make annotated-policy.wasm` (or set POLICY)",
        module.display()
    );
    // Dropped last (declared first): the guards below stop their processes before it is removed.
    let scratch = tempfile::tempdir().expect("scratch dir");
    let scratch = scratch.path();
    let xdg = scratch.join("xdg");
    let mut timings = Vec::new();
    let mut lap = Instant::now();
    let mut time = |what: &str| {
        timings.push(format!("{what}: {:.2} s", lap.elapsed().as_secs_f64()));
        lap = Instant::now();
    };

    let registry = Registry::start(&scratch.join("registry"));
    time("docker-registry ready");
    let uri = registry.uri("kubewarden/policies/image-pull-secrets:e2e");
    registry.push(&kwctl, &module, &uri, &xdg);
    time("kwctl push");

    let stub = KubeStub::start(&scratch.join("kube")).expect("API stub");
    let cases = cases(&stub);
    let mut server = PolicyServer::start(
        &Launch {
            binary: &policy_server_binary,
            dir: &scratch.join("policy-server"),
            policies: &policies_yaml(&uri),
            kubeconfig: stub.kubeconfig(),
            sources: Some(registry.sources()),
            // The worst case for the policy: host error texts carry a backtrace.
            rust_backtrace: true,
        },
        Duration::from_secs(90),
    );
    time("policy-server pulled the policy and is ready");
    eprintln!(
        "registry on 127.0.0.1:{}, API stub on {}, policy-server pid {}",
        registry.port(),
        stub.url(),
        server.pid()
    );

    let mut failures = Vec::new();
    let mut failed_cases = 0;
    let mut bodies = String::new();
    for case in &cases {
        let mark = stub.mark();
        let case_started = Instant::now();
        let (status, body) = server.validate(case.policy, &case.request);
        let lookups = stub.object_reads_since(mark);
        let problems = check(case, status, &body, &lookups);
        eprintln!(
            "{} {} ({:.0} ms)",
            if problems.is_empty() {
                "ok    "
            } else {
                "FAILED"
            },
            case.name,
            case_started.elapsed().as_secs_f64() * 1000.0
        );
        if !problems.is_empty() {
            failed_cases += 1;
            failures.push(format!("{}:\n  {}", case.name, problems.join("\n  ")));
        }
        bodies.push_str(&body.to_string());
    }
    time("admission reviews");

    // No credential the stub served may appear in any answer or anything PolicyServer logged.
    server.stop();
    let log = server.log();
    for canary in canaries() {
        if bodies.contains(&canary) {
            failures.push(format!("a planted credential ({canary}) is in an answer"));
        }
        if log.contains(&canary) {
            failures.push(format!(
                "a planted credential ({canary}) is in PolicyServer's log"
            ));
        }
    }
    time("policy-server stopped");
    drop(stub);
    drop(registry);
    eprintln!(
        "timings: {}; total {:.2} s",
        timings.join(", "),
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "policy-server cases: {} ok, {failed_cases} failing; other problems: {}",
        cases.len() - failed_cases,
        failures.len() - failed_cases
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The stub's own contract: discovery, objects, and `Status` errors shaped like the API server's,
/// every request recorded with its query, and a clean stop.
#[test]
fn kube_stub_answers_like_the_api_server() {
    let scratch = tempfile::tempdir().expect("scratch dir");
    let stub = KubeStub::start(scratch.path()).expect("API stub");
    stub.add_object(pull_secret("team-a", "corp", &[CORP_REGISTRY]));
    stub.set("secrets", "team-a", "denied", Answer::Forbidden);
    stub.set("serviceaccounts", "team-a", "revoked", Answer::Unauthorized);
    let agent = support::policy_server::http_agent();
    let get = |path: &str| {
        let mut response = agent.get(&format!("{}{path}", stub.url())).call().unwrap();
        let status = response.status().as_u16();
        let body: Value = response.body_mut().read_json().unwrap();
        (status, body)
    };
    let (status, list) = get("/api/v1");
    assert_eq!(status, 200);
    assert_eq!(list["kind"], "APIResourceList");
    let kinds: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["Secret", "ServiceAccount", "Namespace"]);
    assert_eq!(get("/version").1["major"], "1");
    assert_eq!(get("/api").1["versions"], json!(["v1"]));
    assert_eq!(
        get("/api/v1/namespaces/team-a/secrets/corp").1["type"],
        "kubernetes.io/dockerconfigjson"
    );
    assert_eq!(
        get("/api/v1/namespaces/team-a/secrets/missing?timeout=5s"),
        (
            404,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "secrets \"missing\" not found", "reason": "NotFound",
                   "details": {"name": "missing", "kind": "secrets"}, "code": 404})
        )
    );
    assert_eq!(
        get("/api/v1/namespaces/team-a/secrets/denied"),
        (
            403,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "secrets \"denied\" is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot get resource \"secrets\" in API group \"\" in the namespace \"team-a\"",
                   "reason": "Forbidden", "details": {"name": "denied", "kind": "secrets"}, "code": 403})
        )
    );
    assert_eq!(
        get("/api/v1/namespaces/team-a/serviceaccounts/revoked"),
        (
            401,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        )
    );
    let recorded = stub.requests();
    assert_eq!(recorded.len(), 7);
    assert_eq!(
        recorded[4].to_string(),
        "GET /api/v1/namespaces/team-a/secrets/missing?timeout=5s"
    );
    assert_eq!(
        stub.object_reads_since(3),
        [
            "GET secrets team-a/corp",
            "GET secrets team-a/missing",
            "GET secrets team-a/denied",
            "GET serviceaccounts team-a/revoked"
        ]
    );
    let kubeconfig = std::fs::read_to_string(stub.kubeconfig()).unwrap();
    assert!(kubeconfig.contains(&format!("server: http://127.0.0.1:{}", stub.port())));
    let url = stub.url();
    drop(stub);
    // A fresh client: a pooled keep-alive connection would reach a connection thread of the
    // dropped server that no longer hands requests to anyone.
    assert!(
        support::policy_server::http_agent()
            .get(&format!("{url}/version"))
            .call()
            .is_err(),
        "the stub still answers after it was dropped"
    );
}
