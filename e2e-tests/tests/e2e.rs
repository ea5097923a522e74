//! The end-to-end suite: every case file under `e2e-tests/cases/` runs through the real
//! `kwctl run` (`KWCTL`; `make e2e-tests` finds it) on the annotated policy module, the way a user
//! runs kwctl. See `e2e-tests/cases/README.md`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use support::{admission, policy_module, repo_root};

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
    /// A failure, replayed as the real kwctl recorded it (`e2e-tests/recorded/`).
    host_error: Option<String>,
}

/// The message the real kwctl recorded for this failure of a lookup of this kind
/// (`e2e-tests/recorded/<kind>-<error>.yml`: a Pod's lookups of `corp-registry` and `builder` in
/// `team-a`, checked against the live kwctl by the cluster suite), with the call's names.
fn recorded_error(error: &str, kind: &str, name: &str, namespace: Option<&str>) -> String {
    let file = format!("{}-{error}.yml", kind.to_ascii_lowercase());
    let path = repo_root().join("e2e-tests/recorded").join(&file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("hostError {error:?} of a {kind} lookup: {file}: {e}"));
    let session: Value = serde_yaml::from_str(&text).expect(&file);
    let message = session[0]["response"]["message"].as_str().expect(&file);
    let message = message.replace("team-a", namespace.unwrap_or(name));
    match kind {
        "Secret" => message.replace("corp-registry", name),
        "ServiceAccount" => message.replace("builder", name),
        _ => message,
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

/// The real kwctl the cases run through (`make e2e-tests` finds it and says how to install it).
fn kwctl() -> String {
    std::env::var("KWCTL").unwrap_or_else(|_| {
        panic!("set KWCTL to the real kwctl 1.36 (make e2e-tests finds it on PATH or in ../shared/kubewarden/)")
    })
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
        let response = match (&call.answer, &call.host_error) {
            (Some(answer), None) => {
                let payload =
                    answer_object(kind, name, namespace, answer, call.field_masks.as_deref());
                json!({"type": "Success", "payload": payload.to_string()})
            }
            (None, Some(error)) => {
                json!({"type": "Error", "message": recorded_error(error, kind, name, namespace)})
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

/// `kwctl run` of the case in `dir`, replaying the first `session_entries` host calls.
fn run_policy(case: &Case, dir: &Path, session_entries: usize) -> std::process::Output {
    let name = dir.file_name().unwrap().to_string_lossy();
    let request = admission::full_request(&case.request, &format!("e2e-{name}"));
    let namespace = case.request["namespace"].as_str().unwrap_or_default();
    let session = format!("session-{session_entries}.yml");
    for (file, text) in [
        ("request.json", request.to_string()),
        ("settings.json", case.settings.to_string()),
        (&session, session_yaml(case, namespace, session_entries)),
    ] {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let mut command = Command::new(kwctl());
    command
        .current_dir(dir)
        .args(["run", "-r", "request.json", "--settings-path"]);
    command.args([
        "settings.json",
        "--replay-host-capabilities-interactions",
        &session,
    ]);
    if case.allow_context_aware {
        command.arg("--allow-context-aware");
    }
    command.arg(policy_module());
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", kwctl()))
}

/// Runs one case; returns what went wrong, if anything.
fn check_case(path: &Path, scratch: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case =
        serde_yaml::from_str(&text).map_err(|e| format!("case file does not parse: {e}"))?;
    check_parsed_case(&case, &scratch.join(path.file_stem().unwrap()))
}

/// `Err(problem)` unless the check `holds`.
fn ensure(holds: bool, problem: String) -> Result<(), String> {
    match holds {
        true => Ok(()),
        false => Err(problem),
    }
}

/// Runs a case already in memory (the hostile cases build theirs in code).
fn check_parsed_case(case: &Case, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).unwrap();
    let outcome = run_policy(case, dir, case.host.len());
    let stdout = &*String::from_utf8_lossy(&outcome.stdout);
    let stderr = &*String::from_utf8_lossy(&outcome.stderr);
    let everything = format!("{stdout}\n{stderr}");
    let leaked = [
        CANARY,
        CANARY_TOKEN,
        &STANDARD.encode(format!("robot:{CANARY}")),
    ];
    let leaked = leaked.iter().any(|canary| everything.contains(canary));
    ensure(
        !leaked,
        format!("a replayed credential leaked into the output:\n{everything}"),
    )?;
    ensure(
        !everything.contains("Replay error"),
        format!("the policy made a host call the case does not expect:\n{everything}"),
    )?;
    for never in &case.expect.never {
        let found = everything.contains(never.as_str());
        ensure(!found, format!("output contains {never:?}:\n{everything}"))?;
    }
    if let Some(error) = &case.expect.settings_error {
        let refused =
            stderr.contains("Provided settings are not valid") && stderr.contains(error.as_str());
        ensure(
            !outcome.status.success(),
            format!("expected invalid settings, but the run succeeded: {stdout}"),
        )?;
        return ensure(refused, format!("stderr lacks {error:?}:\n{stderr}"));
    }
    ensure(
        outcome.status.success(),
        format!("run failed ({}):\n{everything}", outcome.status),
    )?;
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let [line] = lines[..] else {
        return Err(format!("expected one line of output, got:\n{stdout}"));
    };
    std::fs::write(dir.join("last-response.json"), line).unwrap();
    let response: Value =
        serde_json::from_str(line).map_err(|e| format!("output is not JSON ({e}): {line}"))?;
    check_response(case, &response)?;
    // With the last expected interaction missing, the answer must change: the policy really made
    // every call the case lists (and no call is left unused).
    let depends =
        case.host.is_empty() || run_policy(case, dir, case.host.len() - 1).stdout != outcome.stdout;
    ensure(depends, format!("the answer does not depend on the last host call listed; the policy made fewer calls than expected:\n{line}"))
}

fn check_response(case: &Case, response: &Value) -> Result<(), String> {
    let expect = &case.expect;
    let allowed = response["allowed"].as_bool();
    ensure(allowed.is_some(), format!("no allowed field: {response}"))?;
    ensure(
        expect.allowed.is_none_or(|wanted| allowed == Some(wanted)),
        format!("allowed is not {:?}: {response}", expect.allowed),
    )?;
    let code = response["status"]["code"].as_u64();
    ensure(
        expect.code.is_none_or(|wanted| code == Some(wanted.into())),
        format!("status.code is not {:?}: {response}", expect.code),
    )?;
    let message = response["status"]["message"].as_str().unwrap_or_default();
    for part in &expect.message {
        let found = message.contains(part.as_str());
        ensure(found, format!("status.message lacks {part:?}: {message:?}"))?;
    }
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for part in &expect.warnings {
        let found = warnings.iter().any(|w| w.contains(part.as_str()));
        ensure(found, format!("no warning contains {part:?}: {warnings:?}"))?;
    }
    let count = expect.warning_count;
    let counted = count.is_none_or(|count| warnings.len() == count);
    let shown = format!(
        "{} warnings, expected {count:?}: {warnings:?}",
        warnings.len()
    );
    ensure(counted, shown)?;
    let patch = response.get("patch").and_then(Value::as_str);
    let unchanged = expect.unchanged != Some(true) || patch.is_none();
    ensure(unchanged, format!("expected no patch, got one: {response}"))?;
    let kind = case.request["kind"]["kind"].as_str().unwrap_or_default();
    let at = expect
        .at
        .as_deref()
        .unwrap_or(default_pod_spec_pointer(kind));
    if let Some(wanted) = &expect.image_pull_policies {
        let object = match patch {
            Some(patch) => admission::patched(&case.request["object"], response, patch)?,
            None => case.request["object"].clone(),
        };
        for (container, policy) in wanted {
            let got = object.pointer(&format!("{at}/{container}/imagePullPolicy"));
            ensure(
                got.and_then(Value::as_str).unwrap_or_default() == policy,
                format!("imagePullPolicy of {at}/{container} is {got:?}, expected {policy}"),
            )?;
        }
    }
    if let Some(wanted) = &expect.image_pull_secrets {
        let patch = patch.ok_or(format!("expected a patch: {response}"))?;
        let object = admission::patched(&case.request["object"], response, patch)?;
        let got = object.pointer(&format!("{at}/imagePullSecrets"));
        ensure(
            got == Some(wanted),
            format!("imagePullSecrets at {at} is {got:?}, expected {wanted}"),
        )?;
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

/// A case for a Pod CREATE in `team-a` with these containers.
fn hostile_case(settings: Value, containers: Value, expect: &Value) -> Case {
    let request = json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": "team-a", "object": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "hostile", "namespace": "team-a"}, "spec": {"containers": containers}}});
    let case =
        json!({"description": "", "settings": settings, "request": request, "expect": expect});
    serde_json::from_value(case).expect("hostile case")
}

/// `count` rules, the last of them for `corp-registry`; no lookups.
fn corp_rules(count: usize) -> Value {
    let mut rules: Vec<Value> = (1..count)
        .map(|i| json!({"secret": format!("unused-{i}"), "registries": [format!("r{i}.unused.example")]}))
        .collect();
    rules.push(json!({"secret": "corp-registry", "registries": ["registry.corp.example"]}));
    json!({"rules": rules, "verifySecrets": false})
}

/// Large inputs a client can send through the API server. Each must be answered like a small one
/// (the time each takes is printed), in a response of at most 4 KiB.
#[test]
fn hostile_inputs() {
    policy_module();
    let injected = json!({"allowed": true, "imagePullSecrets": [{"name": "corp-registry"}]});
    let many = |image: &dyn Fn(usize) -> String| -> Value {
        (0..10_000)
            .map(|i| json!({"name": format!("c{i}"), "image": image(i)}))
            .collect()
    };
    let app = |name: String, image: String| json!([{"name": name, "image": image}]);
    let corp = || "registry.corp.example/app:1".to_string();
    let mut nested = json!("bottom");
    for _ in 0..100 {
        nested = json!({ "n": nested });
    }
    let mut deep = app("app".into(), corp());
    deep[0]["x-nested"] = nested;
    let audit = json!({"rules": [{"secret": "corp-registry", "registries": ["registry.corp.example"]}],
                       "inject": false, "verifySecrets": false});
    let refused = json!({"allowed": false, "message": ["it is not listed in imagePullSecrets"]});
    let huge_image = format!("registry.corp.example/{}", "a".repeat(1 << 20));
    let cases = [
        (
            "10 000 containers with one image",
            corp_rules(1),
            many(&|_| corp()),
            &injected,
        ),
        (
            "10 000 distinct images",
            corp_rules(1),
            many(&|i| format!("registry.corp.example/t{i}/app:{i}")),
            &injected,
        ),
        (
            "settings with 10 000 rules",
            corp_rules(10_000),
            app("app".into(), corp()),
            &injected,
        ),
        (
            "a 1 MB image matches nothing",
            corp_rules(1),
            app("app".into(), huge_image),
            &json!({"allowed": true, "unchanged": true}),
        ),
        (
            "a 1 MB container name, a short message",
            audit,
            app("n".repeat(1 << 20), corp()),
            &refused,
        ),
        (
            "100 levels of nesting in a container",
            corp_rules(1),
            deep,
            &injected,
        ),
    ];
    let scratch = std::env::temp_dir().join(format!("e2e-hostile-{}", std::process::id()));
    let mut failures = Vec::new();
    for (index, (name, settings, containers, expect)) in cases.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let dir = scratch.join(format!("hostile-{index}"));
        let result =
            check_parsed_case(&hostile_case(settings, containers, expect), &dir).and_then(|()| {
                let size = std::fs::metadata(dir.join("last-response.json")).map_or(0, |m| m.len());
                match size <= 4096 {
                    true => Ok(()),
                    false => Err(format!("the response is {size} bytes")),
                }
            });
        let shown = if result.is_ok() { "ok    " } else { "FAILED" };
        eprintln!("{shown} {name} ({:.2} s)", started.elapsed().as_secs_f64());
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
