//! The evaluator against scripted guests: responses, patches, failures, limits, host calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use policy_runner::engine::{Limits, Timeout};
use policy_runner::evaluate::{Evaluator, Settings};
use policy_runner::host::{Cluster, Host};
use policy_runner::metadata::{ContextAwareResource, Metadata};
use policy_runner::request::ValidateRequest;
use policy_runner::response::AdmissionResponse;
use policy_runner::session::Session;
use serde_json::{json, Value};

use crate::guest::{Behaviour, Guest};

/// Fast ticks so timeouts cost milliseconds; a small memory cap.
const TEST_LIMITS: Limits = Limits {
    timeout: Some(Timeout {
        tick: Duration::from_millis(10),
        ticks: 5,
    }),
    max_memory_bytes: Some(4 << 20),
};

const GET_SECRET_PAYLOAD: &str = r#"{"api_version":"v1","kind":"Secret","name":"regcred","namespace":"team-a","disable_cache":false,"field_masks":null}"#;

fn pod_request() -> ValidateRequest {
    ValidateRequest::from_document(
        json!({
            "uid": "abc-123",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "namespace": "team-a",
            "userInfo": {"username": "alice"},
            "object": {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "reg.example/app"}]}},
        }),
        false,
    )
    .unwrap()
}

fn metadata(mutating: bool) -> Metadata {
    serde_yaml::from_str(&format!(
        "rules: []\nmutating: {mutating}\ncontextAwareResources: [{{apiVersion: v1, kind: Secret}}]\n"
    ))
    .unwrap()
}

fn secrets() -> std::collections::BTreeSet<ContextAwareResource> {
    Host::allowed_resources(Some(&metadata(false)), true)
}

fn evaluator(guest: &Guest, metadata: Option<Metadata>, host: Host) -> Evaluator {
    Evaluator::new(
        &guest.wasm(),
        TEST_LIMITS,
        false,
        Arc::new(host),
        "test-policy".into(),
        metadata,
    )
    .unwrap()
}

fn validate(guest: Guest, metadata: Option<Metadata>) -> AdmissionResponse {
    evaluator(&guest, metadata, Host::isolated())
        .validate(&pod_request(), &Settings::new())
        .unwrap()
}

fn status_message(response: &AdmissionResponse) -> String {
    response
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default()
}

fn session(yaml: &str) -> Cluster {
    Cluster::Replay(Session::from_yaml(yaml).unwrap())
}

fn replayed_get_secret(answer: &str) -> String {
    format!(
        "- type: Exchange\n  request: |\n    !KubernetesGetResource\n    api_version: v1\n    kind: Secret\n    name: regcred\n    namespace: team-a\n    disable_cache: false\n  response:\n{answer}"
    )
}

fn host_call_guest() -> Guest {
    Guest::new().on(
        "validate",
        Behaviour::HostCall {
            namespace: "kubernetes".into(),
            operation: "get_resource".into(),
            payload: GET_SECRET_PAYLOAD.into(),
        },
    )
}

#[test]
fn accepted_request_prints_like_kwctl() {
    let response = validate(
        Guest::new().on(
            "validate",
            Behaviour::Respond(r#"{"accepted":true}"#.into()),
        ),
        None,
    );
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"uid":"abc-123","allowed":true,"auditAnnotations":null,"warnings":null}"#
    );
}

#[test]
fn rejection_carries_the_policy_message_and_code() {
    let answer = r#"{"accepted":false,"message":"image not allowed","code":403,"warnings":["w1"]}"#;
    let response = validate(
        Guest::new().on("validate", Behaviour::Respond(answer.into())),
        None,
    );
    assert!(!response.allowed);
    assert_eq!(
        serde_json::to_value(&response.status).unwrap(),
        json!({"message": "image not allowed", "code": 403})
    );
    assert_eq!(response.warnings, Some(vec!["w1".to_owned()]));
}

#[test]
fn mutation_by_a_mutating_policy_is_a_json_patch() {
    let mutated = json!({
        "accepted": true,
        "mutated_object": {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "reg.example/app"}], "imagePullSecrets": [{"name": "regcred"}]}},
    });
    let response = validate(
        Guest::new().on("validate", Behaviour::Respond(mutated.to_string())),
        Some(metadata(true)),
    );
    assert!(response.allowed);
    assert_eq!(response.patch_type.as_deref(), Some("JSONPatch"));
    let patch: Value =
        serde_json::from_slice(&STANDARD.decode(response.patch.unwrap()).unwrap()).unwrap();
    assert_eq!(
        patch,
        json!([{"op": "add", "path": "/spec/imagePullSecrets", "value": [{"name": "regcred"}]}])
    );
}

#[test]
fn mutation_by_a_non_mutating_policy_is_rejected() {
    let mutated = json!({"accepted": true, "mutated_object": {"metadata": {"name": "changed"}}});
    let response = validate(
        Guest::new().on("validate", Behaviour::Respond(mutated.to_string())),
        Some(metadata(false)),
    );
    assert!(!response.allowed);
    assert_eq!((&response.patch, &response.patch_type), (&None, &None));
    assert_eq!(
        status_message(&response),
        "Request rejected by policy test-policy. The policy attempted to mutate the request, but it is currently configured to not allow mutations."
    );
}

#[test]
fn guest_error_is_an_internal_server_error() {
    let response = validate(
        Guest::new().on("validate", Behaviour::Fail("boom".into())),
        None,
    );
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({
            "uid": "abc-123",
            "allowed": false,
            "status": {"message": "internal server error: Guest call failure: boom", "code": 500},
            "auditAnnotations": null,
            "warnings": null,
        })
    );
}

#[test]
fn trap_is_an_internal_server_error() {
    let response = validate(Guest::new().on("validate", Behaviour::Trap), None);
    assert!(!response.allowed);
    assert_eq!(response.status.as_ref().unwrap().code, Some(500));
    let message = status_message(&response);
    assert!(
        // wasmtime's top-level error text, as PolicyServer forwards it.
        message.starts_with(
            "internal server error: Guest call failure: error while executing at wasm backtrace:"
        ),
        "{message}"
    );
    assert!(
        !message.contains("deadline"),
        "a trap is not a timeout: {message}"
    );
}

#[test]
fn unparsable_answer_is_an_internal_server_error() {
    let response = validate(
        Guest::new().on("validate", Behaviour::Respond("not json".into())),
        None,
    );
    let message = status_message(&response);
    assert!(
        message.starts_with("internal server error: invalid response from policy: expected ident"),
        "{message}"
    );
}

#[test]
fn endless_guest_is_interrupted_like_policy_server() {
    // Evaluate on another thread so that a missing deadline fails the test, not hangs it.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let started = Instant::now();
        let response = validate(Guest::new().on("validate", Behaviour::Spin), None);
        let _ = done.send((response, started.elapsed()));
    });
    let (response, elapsed) = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the endless guest was not interrupted");
    assert_eq!(
        status_message(&response),
        "internal server error: Guest call failure: guest code interrupted, execution deadline exceeded"
    );
    assert_eq!(response.status.unwrap().code, Some(500));
    // 5 ticks of 10 ms: well under a second even on a loaded machine.
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn memory_growth_is_capped() {
    let guest = Guest::new().on(
        "validate",
        Behaviour::GrowMemory {
            pages: 256, // 16 MiB, over the 4 MiB test cap
            then: r#"{"accepted":true}"#.into(),
            otherwise: r#"{"accepted":false,"message":"memory.grow refused"}"#.into(),
        },
    );
    let capped = evaluator(&guest, None, Host::isolated())
        .validate(&pod_request(), &Settings::new())
        .unwrap();
    assert_eq!(status_message(&capped), "memory.grow refused");
    let uncapped = Evaluator::new(
        &guest.wasm(),
        Limits {
            max_memory_bytes: None,
            ..TEST_LIMITS
        },
        false,
        Arc::new(Host::isolated()),
        "p".into(),
        None,
    )
    .unwrap();
    assert!(
        uncapped
            .validate(&pod_request(), &Settings::new())
            .unwrap()
            .allowed
    );
}

#[test]
fn settings_verdicts_and_failures() {
    let settings = json!({"registries": ["reg.example"]})
        .as_object()
        .unwrap()
        .clone();
    let invalid = Guest::new().on(
        "validate_settings",
        Behaviour::Respond(r#"{"valid":false,"message":"bad"}"#.into()),
    );
    let verdict = evaluator(&invalid, None, Host::isolated())
        .validate_settings(&settings)
        .unwrap();
    assert_eq!(
        (verdict.valid, verdict.message.as_deref()),
        (false, Some("bad"))
    );

    let failing = Guest::new().on("validate_settings", Behaviour::Fail("boom".into()));
    let verdict = evaluator(&failing, None, Host::isolated())
        .validate_settings(&settings)
        .unwrap();
    assert_eq!(
        (verdict.valid, verdict.message.as_deref()),
        (
            false,
            Some(r#"Error invoking settings validation callback: GuestCallFailure("boom")"#)
        )
    );

    let valid = evaluator(&Guest::new(), None, Host::isolated())
        .validate_settings(&settings)
        .unwrap();
    assert!(valid.valid);
}

#[test]
fn protocol_version_is_asked_of_the_guest() {
    let version = evaluator(&Guest::new(), None, Host::isolated())
        .protocol_version()
        .unwrap();
    assert_eq!(serde_json::to_string(&version).unwrap(), r#""v1""#);
    let bad = Guest::new().on("protocol_version", Behaviour::Respond(r#""v9""#.into()));
    assert!(evaluator(&bad, None, Host::isolated())
        .protocol_version()
        .is_err());
}

#[test]
fn permitted_host_call_is_answered_from_the_replay() {
    let cluster = session(&replayed_get_secret(
        "    type: Success\n    payload: '{\"accepted\":false,\"message\":\"answered by replay\"}'\n",
    ));
    let runner = evaluator(
        &host_call_guest(),
        Some(metadata(false)),
        Host::new(secrets(), cluster, false),
    );
    let response = runner.validate(&pod_request(), &Settings::new()).unwrap();
    assert_eq!(status_message(&response), "answered by replay");
    assert_eq!(runner.host().unreplayed_exchanges(), 0);
}

#[test]
fn host_call_without_grant_is_denied() {
    let cluster = session(&replayed_get_secret(
        "    type: Success\n    payload: '{\"accepted\":true}'\n",
    ));
    let not_granted = Host::allowed_resources(Some(&metadata(false)), false);
    let runner = evaluator(
        &host_call_guest(),
        Some(metadata(false)),
        Host::new(not_granted, cluster, false),
    );
    let response = runner.validate(&pod_request(), &Settings::new()).unwrap();
    assert_eq!(
        status_message(&response),
        "internal server error: Guest call failure: Policy has not been granted access to Kubernetes v1/Secret resources. The violation has been reported."
    );
    assert_eq!(runner.host().unreplayed_exchanges(), 1);
}

#[test]
fn replay_mismatch_and_exhaustion_reach_the_guest() {
    let other_name = "- request: |\n    !KubernetesGetResource\n    api_version: v1\n    kind: Secret\n    name: other\n    namespace: team-a\n    disable_cache: false\n  response: {type: Success, payload: '{}'}\n";
    let runner = evaluator(
        &host_call_guest(),
        None,
        Host::new(secrets(), session(other_name), false),
    );
    let mismatch = status_message(&runner.validate(&pod_request(), &Settings::new()).unwrap());
    assert!(
        mismatch.starts_with("internal server error: Guest call failure: Callback evaluation failure: Replay error: unexpected request. Was expecting KubernetesGetResource { api_version: \"v1\", kind: \"Secret\", name: \"other\""),
        "{mismatch}"
    );
    // The queue is shared by every evaluation of the run: the next call finds it empty.
    let exhausted = status_message(&runner.validate(&pod_request(), &Settings::new()).unwrap());
    assert!(
        exhausted.ends_with("Replay error: the list of recorded responses is empty"),
        "{exhausted}"
    );
}

#[test]
fn recorded_host_error_reaches_the_guest() {
    let cluster = session(&replayed_get_secret(
        "    type: Error\n    message: secrets \"regcred\" not found\n",
    ));
    let runner = evaluator(
        &host_call_guest(),
        None,
        Host::new(secrets(), cluster, false),
    );
    let message = status_message(&runner.validate(&pod_request(), &Settings::new()).unwrap());
    assert_eq!(
        message,
        "internal server error: Guest call failure: Callback evaluation failure: secrets \"regcred\" not found"
    );
}

#[test]
fn each_evaluation_gets_a_fresh_instance() {
    // The guest grows memory by 16 pages per call; with a 4 MiB cap (64 pages) a shared
    // instance would be refused by the fourth call, fresh instances never are.
    let guest = Guest::new().on(
        "validate",
        Behaviour::GrowMemory {
            pages: 16,
            then: r#"{"accepted":true}"#.into(),
            otherwise: r#"{"accepted":false,"message":"refused"}"#.into(),
        },
    );
    let runner = evaluator(&guest, None, Host::isolated());
    for call in 0..6 {
        assert!(
            runner
                .validate(&pod_request(), &Settings::new())
                .unwrap()
                .allowed,
            "call {call}"
        );
    }
}
