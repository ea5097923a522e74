//! The `policy-runner` binary: kwctl's flags, one line on stdout, errors on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use policy_runner::metadata::{Metadata, ANNOTATION_USAGE};
use serde_json::{json, Value};

use crate::guest::{Behaviour, Guest};

const METADATA: &str = r#"
rules:
- apiGroups: [""]
  apiVersions: ["v1"]
  resources: ["pods"]
  operations: ["CREATE"]
mutating: false
contextAwareResources:
- apiVersion: v1
  kind: Secret
annotations:
  io.kubewarden.policy.title: test
"#;

/// A pod AdmissionReview, as `kwctl run -r` takes it.
fn admission_review() -> String {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "req-1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "namespace": "team-a",
            "userInfo": {"username": "alice"},
            "object": {"metadata": {"name": "web"}},
        },
    })
    .to_string()
}

/// A scratch directory per test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("policy-runner-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runner(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_policy-runner"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.unwrap_or_default().to_owned();
    let mut pipe = child.stdin.take().unwrap();
    std::thread::spawn(move || std::io::Write::write_all(&mut pipe, input.as_bytes()));
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Annotates `guest` with `METADATA`; returns the annotated module path.
fn annotated(scratch: &Scratch, guest: &Guest) -> String {
    let module = scratch.file("policy.wasm", guest.wasm());
    let metadata = scratch.file("metadata.yaml", METADATA);
    let out = scratch.path("annotated.wasm");
    let output = runner(&["annotate", "-m", &metadata, "-o", &out, &module], None);
    assert!(
        output.status.success(),
        "annotate failed: {}",
        stderr(&output)
    );
    out
}

/// Runs and expects exit 0 with exactly one line on stdout; returns it parsed.
fn run_ok(args: &[&str], stdin: Option<&str>) -> Value {
    let output = runner(args, stdin);
    assert!(output.status.success(), "run failed: {}", stderr(&output));
    let out = stdout(&output);
    assert_eq!(
        out.matches('\n').count(),
        1,
        "exactly one line expected on stdout: {out:?}"
    );
    serde_json::from_str(out.trim_end()).unwrap()
}

fn mutating_guest() -> Guest {
    let mutated = json!({"accepted": true, "mutated_object": {"metadata": {"name": "web", "labels": {"a": "b"}}}});
    Guest::new().on("validate", Behaviour::Respond(mutated.to_string()))
}

#[test]
fn annotate_writes_the_section_kwctl_reads() {
    let scratch = Scratch::new("annotate");
    let readme = scratch.file("README.md", "# Usage\n");
    let module = scratch.file("policy.wasm", Guest::new().wasm());
    let metadata = scratch.file("metadata.yaml", METADATA);
    let out = scratch.path("annotated.wasm");
    let output = runner(
        &[
            "annotate", "-m", &metadata, "-u", &readme, "-o", &out, &module,
        ],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).is_empty());

    let written = Metadata::from_module(&std::fs::read(&out).unwrap())
        .unwrap()
        .expect("annotated");
    let json = serde_json::to_value(&written).unwrap();
    assert_eq!(json["protocolVersion"], "v1", "asked of the guest");
    assert_eq!(json["annotations"][ANNOTATION_USAGE], "# Usage\n");
    assert_eq!(
        json["contextAwareResources"],
        json!([{"apiVersion": "v1", "kind": "Secret"}])
    );
    assert_eq!(json["mutating"], false);
}

#[test]
fn run_reads_back_the_annotation() {
    let scratch = Scratch::new("readback");
    let request = scratch.file("request.json", admission_review());
    // `mutating: false` in the section turns the guest's mutation into a rejection...
    let annotated = annotated(&scratch, &mutating_guest());
    let response = run_ok(
        &[
            "run",
            "-r",
            &request,
            "--policy-id",
            "pull-secrets",
            &annotated,
        ],
        None,
    );
    assert_eq!(response["allowed"], false);
    assert!(response["status"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Request rejected by policy pull-secrets."));
    // ...while the same module unannotated gets its patch, as kwctl gives it.
    let plain = scratch.file("plain.wasm", mutating_guest().wasm());
    let response = run_ok(&["run", "-r", &request, &plain], None);
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
}

#[test]
fn request_from_stdin_and_settings_reach_the_guest() {
    let scratch = Scratch::new("stdin");
    let guest = Guest::new().on(
        "validate",
        Behaviour::Respond(r#"{"accepted":true,"warnings":["ok"]}"#.into()),
    );
    let module = annotated(&scratch, &guest);
    let response = run_ok(
        &["run", "-r", "-", "--settings-json", r#"{"a":1}"#, &module],
        Some(&admission_review()),
    );
    assert_eq!(
        response,
        json!({"uid": "req-1", "allowed": true, "auditAnnotations": null, "warnings": ["ok"]})
    );
}

#[test]
fn invalid_settings_exit_1_with_kwctl_message() {
    let scratch = Scratch::new("settings");
    let guest = Guest::new().on(
        "validate_settings",
        Behaviour::Respond(r#"{"valid":false,"message":"registries: missing"}"#.into()),
    );
    let module = annotated(&scratch, &guest);
    let request = scratch.file("request.json", admission_review());
    let settings = scratch.file("settings.yaml", "registries: []\n");
    let output = runner(&["run", "-r", &request, "-s", &settings, &module], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).is_empty(),
        "nothing on stdout: {}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("Provided settings are not valid: registries: missing"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn context_aware_run_replays_a_kwctl_session() {
    let scratch = Scratch::new("replay");
    let guest = Guest::new().on(
        "validate",
        Behaviour::HostCall {
            namespace: "kubernetes".into(),
            operation: "get_resource".into(),
            payload: r#"{"api_version":"v1","kind":"Secret","name":"regcred","namespace":"team-a","disable_cache":false}"#.into(),
        },
    );
    let module = annotated(&scratch, &guest);
    let request = scratch.file("request.json", admission_review());
    let session = scratch.file(
        "session.yml",
        "- type: Exchange\n  request: |\n    !KubernetesGetResource\n    api_version: v1\n    kind: Secret\n    name: regcred\n    namespace: team-a\n    disable_cache: false\n  response:\n    type: Success\n    payload: '{\"accepted\":false,\"message\":\"from the session\"}'\n",
    );
    let replay = ["--replay-host-capabilities-interactions", session.as_str()];
    let granted = run_ok(
        &[
            &["run", "-r", &request, "--allow-context-aware"][..],
            &replay,
            &[&module],
        ]
        .concat(),
        None,
    );
    assert_eq!(granted["status"]["message"], "from the session");

    let denied = run_ok(
        &[&["run", "-r", &request][..], &replay, &[&module]].concat(),
        None,
    );
    assert!(
        denied["status"]["message"].as_str().unwrap().ends_with("Policy has not been granted access to Kubernetes v1/Secret resources. The violation has been reported."),
        "{denied}"
    );
}

#[test]
fn bad_inputs_exit_1_naming_the_input() {
    let scratch = Scratch::new("bad-inputs");
    let module = annotated(&scratch, &Guest::new());
    let missing = runner(&["run", "-r", "/nonexistent/request.json", &module], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("/nonexistent/request.json"),
        "{}",
        stderr(&missing)
    );

    let metadata = scratch.file("bad.yaml", "rules:\n- apiGroups: []\n  apiVersions: [v1]\n  resources: [pods]\n  operations: [CREATE]\nmutating: false\n");
    let out = scratch.path("never.wasm");
    let invalid = runner(&["annotate", "-m", &metadata, "-o", &out, &module], None);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(
        stderr(&invalid).contains("rules[0].apiGroups: must not be empty"),
        "{}",
        stderr(&invalid)
    );
    assert!(!Path::new(&out).exists());
}

#[test]
fn help_goes_to_stdout() {
    let output = runner(&["run", "--help"], None);
    assert!(output.status.success());
    assert!(stdout(&output).contains("--replay-host-capabilities-interactions"));
}
