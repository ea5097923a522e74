//! The end-to-end suite: every case file under `e2e-tests/cases/` runs through the real
//! `kwctl run` (`KWCTL`; `make e2e-tests` finds it) on the annotated policy module, the way a user
//! runs kwctl. See `e2e-tests/cases/README.md`.

#[path = "support/patch.rs"]
mod patch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

/// Credentials planted in every replayed secret; no output may ever contain them.
const CANARY: &str = "CANARY-7c1e-pull-secret-password";
const CANARY_TOKEN: &str = "CANARY-7c1e-identity-token";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Case {
    #[allow(dead_code)]
    description: String,
    settings: Value,
    request: Value,
    #[serde(default)]
    host: Vec<HostCall>,
    #[serde(default = "yes")]
    allow_context_aware: bool,
    expect: Expect,
}

fn yes() -> bool {
    true
}

/// One host call the policy must make, in order, and the answer replayed to it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HostCall {
    secret: Option<String>,
    service_account: Option<String>,
    /// A Namespace read by name (cluster-scoped: the session's `namespace` is null).
    namespace_lookup: Option<String>,
    namespace: Option<String>,
    field_masks: Option<Vec<String>>,
    answer: Option<Answer>,
    /// A failure as the real host reports it (`e2e-tests/recorded/`).
    host_error: Option<HostError>,
}

/// Lookup failures whose exact text was recorded from the real kwctl and policy-server.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
enum HostError {
    /// The API server answered 404; policy-evaluator's `get_resource` reports `Cannot find ...`.
    NotFound,
    /// 403: RBAC refuses the PolicyServer's ServiceAccount.
    Forbidden,
    /// 401: the API server does not accept the PolicyServer's credentials.
    Unauthorized,
    /// Nothing listens at the API server's address.
    Unreachable,
}

/// The PolicyServer's ServiceAccount in the recordings.
const POLICY_SERVER_USER: &str = "system:serviceaccount:kubewarden:policy-server";

/// The text kwctl records (and replays) for a failed lookup, exactly as in `e2e-tests/recorded/`.
/// `namespace` is `None` for cluster-scoped kinds (Namespace: `namespace-not-found.yml`; its 403
/// follows the API server's cluster-scope wording, as the stub sends it).
fn host_error_text(error: HostError, kind: &str, name: &str, namespace: Option<&str>) -> String {
    let plural = format!("{}s", kind.to_ascii_lowercase());
    let list_meta = "metadata: Some(ListMeta { continue_: None, remaining_item_count: None, resource_version: None, self_link: None })";
    match error {
        HostError::NotFound => {
            let scope = namespace.map_or("None".to_string(), |ns| format!("Some(\"{ns}\")"));
            format!("Cannot find v1/{kind} named '{name}' inside of namespace '{scope}'")
        }
        HostError::Forbidden => {
            let scope = namespace.map_or("at the cluster scope".to_string(), |ns| {
                format!("in the namespace \"{ns}\"")
            });
            let message = format!(
                "{plural} \"{name}\" is forbidden: User \"{POLICY_SERVER_USER}\" cannot get resource \"{plural}\" in API group \"\" {scope}"
            );
            format!(
                "ApiError: {message}: Forbidden (Status {{ status: Some(Failure), code: 403, message: {message:?}, {list_meta}, reason: \"Forbidden\", details: Some(StatusDetails {{ name: \"{name}\", group: \"\", kind: \"{plural}\", uid: \"\", causes: [], retry_after_seconds: 0 }}) }})"
            )
        }
        HostError::Unreachable => "ServiceError: client error (Connect)".to_string(),
        HostError::Unauthorized => format!(
            "ApiError: Unauthorized: Unauthorized (Status {{ status: Some(Failure), code: 401, message: \"Unauthorized\", {list_meta}, reason: \"Unauthorized\", details: None }})"
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Answer {
    #[serde(rename = "type")]
    secret_type: Option<String>,
    /// Registry keys of a `.dockerconfigjson` secret; each gets canary credentials.
    registries: Option<Vec<String>>,
    /// Raw `data` (already base64), for secrets that must not decode.
    data: Option<BTreeMap<String, String>>,
    image_pull_secrets: Option<Vec<String>>,
    /// For a Namespace: its labels.
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expect {
    allowed: Option<bool>,
    code: Option<u16>,
    /// The pod spec's `imagePullSecrets` after applying the returned patch.
    image_pull_secrets: Option<Value>,
    /// Containers' `imagePullPolicy` after applying the returned patch (or unpatched, when there
    /// is none), by their pointer below the pod spec (`containers/0`); `""`: absent.
    image_pull_policies: Option<BTreeMap<String, String>>,
    /// Where the pod spec is, when not the kind's usual place.
    at: Option<String>,
    /// No patch at all.
    unchanged: Option<bool>,
    #[serde(default)]
    message: Vec<String>,
    #[serde(default)]
    warnings: Vec<String>,
    warning_count: Option<usize>,
    /// Invalid settings: the run fails and stderr says this.
    settings_error: Option<String>,
    /// Messages that must not appear anywhere in the output.
    #[serde(default)]
    never: Vec<String>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The real kwctl the cases run through (`make e2e-tests` finds it and says how to install it).
fn kwctl() -> String {
    std::env::var("KWCTL").unwrap_or_else(|_| {
        panic!("set KWCTL to the real kwctl 1.36 (make e2e-tests finds it on PATH or in ../shared/kubewarden/)")
    })
}

/// The annotated module (`POLICY`, default `annotated-policy.wasm` at the repository root).
fn policy_module() -> PathBuf {
    let module = std::env::var("POLICY")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("annotated-policy.wasm"));
    assert!(
        module.exists(),
        "{} is missing: build it with `make annotated-policy.wasm`",
        module.display()
    );
    module
}

/// The kwctl session file for the expected host calls (all of them, or the first `take`).
fn session_yaml(case: &Case, namespace: &str, take: usize) -> String {
    let mut out = String::from("---\n");
    for call in case.host.iter().take(take) {
        let (kind, name) = match (&call.secret, &call.service_account, &call.namespace_lookup) {
            (Some(name), None, None) => ("Secret", name),
            (None, Some(name), None) => ("ServiceAccount", name),
            (None, None, Some(name)) => ("Namespace", name),
            _ => {
                panic!("a host call names exactly one of secret, serviceAccount or namespaceLookup")
            }
        };
        let namespace = match kind {
            "Namespace" => None,
            _ => Some(call.namespace.as_deref().unwrap_or(namespace)),
        };
        let shown_namespace = namespace.unwrap_or("null");
        let masks = match &call.field_masks {
            Some(masks) => format!(
                "field_masks:\n{}",
                masks.iter().map(|m| format!("- {m}\n")).collect::<String>()
            ),
            None => "field_masks: null\n".to_string(),
        };
        let request = format!(
            "!KubernetesGetResource\napi_version: v1\nkind: {kind}\nname: {name}\nnamespace: {shown_namespace}\ndisable_cache: false\n{masks}"
        );
        let response = match (&call.answer, call.host_error) {
            (Some(answer), None) => {
                let payload =
                    answer_object(kind, name, namespace, answer, call.field_masks.as_deref());
                json!({"type": "Success", "payload": payload.to_string()})
            }
            (None, Some(error)) => {
                json!({"type": "Error", "message": host_error_text(error, kind, name, namespace)})
            }
            _ => panic!("a host call has exactly one of answer or hostError"),
        };
        let entry = json!({"type": "Exchange", "request": request, "response": response});
        out.push_str(&serde_yaml::to_string(&vec![entry]).expect("yaml"));
    }
    if take == 0 {
        out.push_str("[]\n");
    }
    out
}

/// The object the API server would return, honouring field masks like the host does.
fn answer_object(
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    answer: &Answer,
    masks: Option<&[String]>,
) -> Value {
    let mut object = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
    if let Some(namespace) = namespace {
        object["metadata"]["namespace"] = json!(namespace);
    }
    if let Some(labels) = &answer.labels {
        object["metadata"]["labels"] = json!(labels);
    }
    if let Some(secret_type) = &answer.secret_type {
        object["type"] = json!(secret_type);
    }
    let mut data = answer.data.clone().unwrap_or_default();
    if let Some(registries) = &answer.registries {
        let auth = STANDARD.encode(format!("robot:{CANARY}"));
        let auths: serde_json::Map<String, Value> = registries
            .iter()
            .map(|r| (r.clone(), json!({"auth": auth, "username": "robot", "password": CANARY, "identitytoken": CANARY_TOKEN})))
            .collect();
        let config = json!({ "auths": auths });
        data.insert(
            ".dockerconfigjson".to_string(),
            STANDARD.encode(config.to_string()),
        );
    }
    if !data.is_empty() {
        object["data"] = json!(data);
    }
    if let Some(secrets) = &answer.image_pull_secrets {
        object["imagePullSecrets"] =
            Value::Array(secrets.iter().map(|n| json!({ "name": n })).collect());
    }
    if let Some(masks) = masks {
        let keep: Vec<&str> = masks
            .iter()
            .map(String::as_str)
            .chain(["apiVersion", "kind", "metadata"])
            .collect();
        object
            .as_object_mut()
            .expect("object")
            .retain(|k, _| keep.contains(&k.as_str()));
    }
    object
}

/// The usual place of the pod spec for a request's kind.
fn default_pod_spec_pointer(kind: &str) -> &'static str {
    match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    }
}

struct Outcome {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// The request as the API server sends it: the boilerplate a case may leave out is filled in
/// (`uid`, `resource`, `requestKind`, `userInfo`), since kwctl insists on it.
fn full_request(request: &Value, name: &str) -> Value {
    let mut request = request.clone();
    let Some(fields) = request.as_object_mut() else {
        return request;
    };
    let kind = fields.get("kind").cloned().unwrap_or(Value::Null);
    let plural = format!(
        "{}s",
        kind["kind"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
    );
    let resource = json!({"group": kind["group"], "version": kind["version"], "resource": plural});
    fields.entry("uid").or_insert(json!(format!("e2e-{name}")));
    fields.entry("resource").or_insert(resource.clone());
    fields.entry("requestKind").or_insert(kind);
    fields.entry("requestResource").or_insert(resource);
    fields.entry("userInfo").or_insert(json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}));
    request
}

fn run_policy(case: &Case, dir: &Path, session_entries: usize) -> Outcome {
    let request_path = dir.join("request.json");
    let name = dir.file_name().unwrap().to_string_lossy();
    std::fs::write(
        &request_path,
        serde_json::to_vec(&full_request(&case.request, &name)).unwrap(),
    )
    .unwrap();
    let settings_path = dir.join("settings.json");
    std::fs::write(&settings_path, serde_json::to_vec(&case.settings).unwrap()).unwrap();
    let namespace = case.request["namespace"].as_str().unwrap_or_default();
    let session_path = dir.join(format!("session-{session_entries}.yml"));
    std::fs::write(
        &session_path,
        session_yaml(case, namespace, session_entries),
    )
    .unwrap();
    let mut command = Command::new(kwctl());
    command
        .arg("run")
        .arg("-r")
        .arg(&request_path)
        .arg("--settings-path")
        .arg(&settings_path);
    command
        .arg("--replay-host-capabilities-interactions")
        .arg(&session_path);
    if case.allow_context_aware {
        command.arg("--allow-context-aware");
    }
    command.arg(policy_module());
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", kwctl()));
    Outcome {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs one case; returns what went wrong, if anything.
fn check_case(path: &Path, scratch: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case =
        serde_yaml::from_str(&text).map_err(|e| format!("case file does not parse: {e}"))?;
    check_parsed_case(&case, &scratch.join(path.file_stem().unwrap()))
}

/// Runs a case already in memory (the hostile cases build theirs in code).
fn check_parsed_case(case: &Case, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).unwrap();
    let dir = dir.to_path_buf();
    let outcome = run_policy(case, &dir, case.host.len());
    let everything = format!("{}\n{}", outcome.stdout, outcome.stderr);
    for canary in [
        CANARY,
        CANARY_TOKEN,
        &STANDARD.encode(format!("robot:{CANARY}")),
    ] {
        if everything.contains(canary) {
            return Err(format!(
                "a replayed credential leaked into the output:\n{everything}"
            ));
        }
    }
    if everything.contains("Replay error") {
        return Err(format!(
            "the policy made a host call the case does not expect:\n{everything}"
        ));
    }
    for never in &case.expect.never {
        if everything.contains(never.as_str()) {
            return Err(format!("output contains {never:?}:\n{everything}"));
        }
    }
    if let Some(error) = &case.expect.settings_error {
        if outcome.status.success() {
            return Err(format!(
                "expected invalid settings, but the run succeeded: {}",
                outcome.stdout
            ));
        }
        if !outcome.stderr.contains("Provided settings are not valid")
            || !outcome.stderr.contains(error.as_str())
        {
            return Err(format!("stderr lacks {error:?}:\n{}", outcome.stderr));
        }
        return Ok(());
    }
    if !outcome.status.success() {
        return Err(format!("run failed ({}):\n{everything}", outcome.status));
    }
    let lines: Vec<&str> = outcome
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let [line] = lines[..] else {
        return Err(format!(
            "expected one line of output, got:\n{}",
            outcome.stdout
        ));
    };
    std::fs::write(dir.join("last-response.json"), line).unwrap();
    let response: Value =
        serde_json::from_str(line).map_err(|e| format!("output is not JSON ({e}): {line}"))?;
    check_response(case, &response)?;
    if !case.host.is_empty() {
        // With the last expected interaction missing, the answer must change: the policy really
        // made every call the case lists (and no call is left unused).
        let shorter = run_policy(case, &dir, case.host.len() - 1);
        if shorter.stdout == outcome.stdout {
            return Err(format!(
                "the answer does not depend on the last host call listed; the policy made fewer calls than expected:\n{line}"
            ));
        }
    }
    Ok(())
}

fn check_response(case: &Case, response: &Value) -> Result<(), String> {
    let expect = &case.expect;
    let allowed = response["allowed"]
        .as_bool()
        .ok_or(format!("no allowed field: {response}"))?;
    if let Some(wanted) = expect.allowed {
        if allowed != wanted {
            return Err(format!(
                "allowed is {allowed}, expected {wanted}: {response}"
            ));
        }
    }
    if let Some(code) = expect.code {
        if response["status"]["code"].as_u64() != Some(code.into()) {
            return Err(format!("status.code is not {code}: {response}"));
        }
    }
    let message = response["status"]["message"].as_str().unwrap_or_default();
    for part in &expect.message {
        if !message.contains(part.as_str()) {
            return Err(format!("status.message lacks {part:?}: {message:?}"));
        }
    }
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for part in &expect.warnings {
        if !warnings.iter().any(|w| w.contains(part.as_str())) {
            return Err(format!("no warning contains {part:?}: {warnings:?}"));
        }
    }
    if let Some(count) = expect.warning_count {
        if warnings.len() != count {
            return Err(format!(
                "{} warnings, expected {count}: {warnings:?}",
                warnings.len()
            ));
        }
    }
    let patch = response.get("patch").and_then(Value::as_str);
    if expect.unchanged == Some(true) && patch.is_some() {
        return Err(format!("expected no patch, got one: {response}"));
    }
    let kind = case.request["kind"]["kind"].as_str().unwrap_or_default();
    let at = expect
        .at
        .as_deref()
        .unwrap_or(default_pod_spec_pointer(kind));
    if let Some(wanted) = &expect.image_pull_policies {
        let object = match patch {
            Some(patch) => patch::patched(&case.request["object"], response, patch)?,
            None => case.request["object"].clone(),
        };
        for (container, policy) in wanted {
            let got = object.pointer(&format!("{at}/{container}/imagePullPolicy"));
            if got.and_then(Value::as_str).unwrap_or_default() != policy {
                return Err(format!(
                    "imagePullPolicy of {at}/{container} is {got:?}, expected {policy}"
                ));
            }
        }
    }
    if let Some(wanted) = &expect.image_pull_secrets {
        let patch = patch.ok_or(format!("expected a patch: {response}"))?;
        let object = patch::patched(&case.request["object"], response, patch)?;
        let got = object
            .pointer(&format!("{at}/imagePullSecrets"))
            .cloned()
            .unwrap_or(Value::Null);
        if &got != wanted {
            return Err(format!(
                "imagePullSecrets at {at} is {got}, expected {wanted}"
            ));
        }
    }
    Ok(())
}

#[test]
fn end_to_end_cases() {
    policy_module();
    let filter = std::env::var("E2E_FILTER").unwrap_or_default();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(repo_root().join("e2e-tests/cases"))
        .expect("e2e-tests/cases")
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| p.to_string_lossy().contains(&filter))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no case matched {filter:?}");
    let scratch = std::env::temp_dir().join(format!("e2e-{}", std::process::id()));
    let queue = Mutex::new(cases.clone());
    let failures = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let Some(case) = queue.lock().unwrap().pop() else {
                    break;
                };
                let name = case.file_name().unwrap().to_string_lossy().into_owned();
                match check_case(&case, &scratch) {
                    Ok(()) => eprintln!("ok     {name}"),
                    Err(problem) => {
                        eprintln!("FAILED {name}");
                        failures.lock().unwrap().push(format!("{name}: {problem}"));
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "{} cases, {} failed, with {}",
        cases.len(),
        failures.len(),
        kwctl()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// A Pod CREATE in `team-a` with these containers.
fn hostile_pod(containers: Value) -> Value {
    json!({
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE",
        "namespace": "team-a",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hostile", "namespace": "team-a"},
                   "spec": {"containers": containers}}
    })
}

fn corp_rules(count: usize) -> Value {
    let mut rules: Vec<Value> = (0..count.saturating_sub(1))
        .map(|i| json!({"secret": format!("unused-{i}"), "registries": [format!("r{i}.unused.example")]}))
        .collect();
    rules.push(json!({"secret": "corp-registry", "registries": ["registry.corp.example"]}));
    json!({"rules": rules, "verifySecrets": false})
}

fn hostile_case(settings: Value, request: Value, expect: Value) -> Case {
    serde_json::from_value(json!({
        "description": "hostile input", "settings": settings, "request": request, "expect": expect
    }))
    .expect("hostile case")
}

/// Large inputs a client can send through the API server. Each must be answered (allowed or denied
/// with a message; the time each takes is printed) and get the same answer as a small one.
#[test]
fn hostile_inputs() {
    policy_module();
    let injected = json!({"allowed": true, "imagePullSecrets": [{"name": "corp-registry"}]});
    let same_image: Vec<Value> = (0..10_000)
        .map(|i| json!({"name": format!("c{i}"), "image": "registry.corp.example/app:1"}))
        .collect();
    let distinct_images: Vec<Value> = (0..10_000)
        .map(|i| json!({"name": format!("c{i}"), "image": format!("registry.corp.example/team-{i}/app:{i}")}))
        .collect();
    let huge_image = format!("registry.corp.example/{}", "a".repeat(1 << 20));
    let huge_name = "n".repeat(1 << 20);
    let mut nested = json!("bottom");
    for _ in 0..100 {
        nested = json!({ "n": nested });
    }
    let cases: Vec<(&str, Case, usize)> = vec![
        (
            "10 000 containers with one image",
            hostile_case(
                corp_rules(1),
                hostile_pod(Value::Array(same_image)),
                injected.clone(),
            ),
            0,
        ),
        (
            "10 000 containers with distinct images",
            hostile_case(
                corp_rules(1),
                hostile_pod(Value::Array(distinct_images)),
                injected.clone(),
            ),
            0,
        ),
        (
            "settings with 10 000 rules",
            hostile_case(
                corp_rules(10_000),
                hostile_pod(json!([{"name": "app", "image": "registry.corp.example/app:1"}])),
                injected.clone(),
            ),
            0,
        ),
        (
            "a 1 MB image string matches nothing",
            hostile_case(
                corp_rules(1),
                hostile_pod(json!([{"name": "app", "image": huge_image}])),
                json!({"allowed": true, "unchanged": true}),
            ),
            0,
        ),
        (
            "a 1 MB container name keeps the message short",
            hostile_case(
                json!({"rules": [{"secret": "corp-registry", "registries": ["registry.corp.example"]}], "inject": false, "verifySecrets": false}),
                hostile_pod(json!([{"name": huge_name, "image": "registry.corp.example/app:1"}])),
                json!({"allowed": false, "message": ["it is not listed in imagePullSecrets"]}),
            ),
            4096,
        ),
        (
            "100 levels of nesting inside the object",
            hostile_case(
                corp_rules(1),
                {
                    let mut r =
                        hostile_pod(json!([{"name": "app", "image": "registry.corp.example/app"}]));
                    r["object"]["spec"]["x-nested"] = nested;
                    r
                },
                injected.clone(),
            ),
            0,
        ),
    ];
    let scratch = std::env::temp_dir().join(format!("e2e-hostile-{}", std::process::id()));
    let mut failures = Vec::new();
    for (index, (name, case, max_message)) in cases.iter().enumerate() {
        let started = std::time::Instant::now();
        let dir = scratch.join(format!("hostile-{index}"));
        let mut result = check_parsed_case(case, &dir);
        if result.is_ok() && *max_message > 0 {
            let response =
                std::fs::read_to_string(dir.join("last-response.json")).unwrap_or_default();
            if response.len() > *max_message {
                result = Err(format!(
                    "response is {} bytes, expected at most {max_message}",
                    response.len()
                ));
            }
        }
        eprintln!(
            "{} {name} ({:.2} s)",
            if result.is_ok() { "ok    " } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
        if let Err(problem) = result {
            failures.push(format!(
                "{name}: {}",
                problem.chars().take(2000).collect::<String>()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The texts `hostError` replays are the ones recorded from the real kwctl, byte for byte.
#[test]
fn host_errors_replay_what_the_real_kwctl_recorded() {
    let recorded = repo_root().join("e2e-tests/recorded");
    for (file, error, kind, name) in [
        (
            "secret-not-found.yml",
            HostError::NotFound,
            "Secret",
            "corp-registry",
        ),
        (
            "namespace-not-found.yml",
            HostError::NotFound,
            "Namespace",
            "team-a",
        ),
        (
            "serviceaccount-not-found.yml",
            HostError::NotFound,
            "ServiceAccount",
            "builder",
        ),
        (
            "secret-forbidden.yml",
            HostError::Forbidden,
            "Secret",
            "corp-registry",
        ),
        (
            "secret-unauthorized.yml",
            HostError::Unauthorized,
            "Secret",
            "corp-registry",
        ),
        (
            "api-server-unreachable.yml",
            HostError::Unreachable,
            "Secret",
            "corp-registry",
        ),
    ] {
        let text = std::fs::read_to_string(recorded.join(file)).expect(file);
        let session: Vec<Value> = serde_yaml::from_str(&text).expect(file);
        let message = session
            .iter()
            .find_map(|exchange| exchange["response"]["message"].as_str())
            .expect(file);
        let namespace = (kind != "Namespace").then_some("team-a");
        assert_eq!(
            host_error_text(error, kind, name, namespace),
            message,
            "{file}"
        );
    }
}
