//! The Rancher form (`questions-ui.yml`) must produce settings the policy accepts. Each case
//! answers the form as an operator would in Rancher's Kubewarden UI; the settings are built the
//! way the UI builds them (tests/support/form.rs), then validated by the module's own
//! `validate_settings` through the real kwctl (`kwctl run --settings-json`).

mod support;

use image_pull_secrets::respond;
use image_pull_secrets::testing::MemoryCluster;
use serde_json::{json, Value};
use support::form::{cases, sequence_item, Form};
use support::{program, question_paths, validate_settings, yaml, Scratch, QUESTIONS};

/// The policy's answers under `settings`, and the lookups it made, to CREATEs in `team-a` of a
/// Pod and a Deployment pulling from the first case's registry (its secret there or not) and of
/// a ServiceAccount.
fn answers(settings: &Value) -> Vec<(String, Vec<String>)> {
    let spec =
        json!({"containers": [{"name": "app", "image": "registry.corp.example:5000/app:1"}]});
    let objects = [
        ("", "v1", "Pod", json!({"spec": spec})),
        (
            "apps",
            "v1",
            "Deployment",
            json!({"spec": {"template": {"spec": spec}}}),
        ),
        ("", "v1", "ServiceAccount", json!({})),
    ];
    let with_secret = MemoryCluster::default()
        .with_docker_secret("corp-registry", &["registry.corp.example:5000"]);
    let mut answers = Vec::new();
    for cluster in [MemoryCluster::default(), with_secret] {
        for (group, version, kind, object) in &objects {
            let request = json!({"kind": {"group": group, "version": version, "kind": kind},
                "operation": "CREATE", "namespace": "team-a", "object": object});
            let payload = json!({"request": request, "settings": settings}).to_string();
            let mut cluster = cluster.clone();
            let answer = respond(payload.as_bytes(), &mut cluster);
            answers.push((String::from_utf8(answer).unwrap(), cluster.calls));
        }
    }
    answers
}

/// Every path a value reaches (`rules[].namespaceSelector.matchLabels.team`, ...): a mapping's
/// own path too, list items under `path[]`.
fn field_paths(value: &Value, prefix: &str, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                into.push(format!("{prefix}{key}"));
                field_paths(inner, &format!("{prefix}{key}."), into);
            }
        }
        Value::Array(items) => {
            let path = prefix.trim_end_matches('.');
            for item in items {
                field_paths(item, &format!("{path}[]."), into);
            }
        }
        _ => {}
    }
}

#[test]
fn every_question_is_answered_by_some_case() {
    let mut asked = Vec::new();
    question_paths(&yaml(QUESTIONS)["questions"], "", &mut asked);
    let mut answered = Vec::new();
    for (_, answers) in cases() {
        field_paths(&answers, "", &mut answered);
    }
    let unanswered: Vec<_> = asked
        .iter()
        .filter(|path| !answered.contains(path))
        .collect();
    assert!(
        unanswered.is_empty(),
        "{QUESTIONS}: no case answers {unanswered:?}"
    );
}

/// What the form leaves alone is the policy's own default: the settings the form builds from a
/// rule (and a ServiceAccount entry) with only their required fields are those the policy reads
/// from the same fields alone, rule selectors, outcomes and switches included.
#[test]
fn the_form_defaults_are_the_policy_defaults() {
    let form = Form::load();
    let rules = &cases()[0].1["rules"];
    for answers in [
        json!({"rules": rules}),
        json!({"rules": rules, "serviceAccounts": [{"secret": "a"}]}),
    ] {
        assert_eq!(
            self::answers(&form.settings(&answers)),
            self::answers(&answers),
            "{QUESTIONS}: defaults for {answers}"
        );
    }
}

/// The emulation is faithful enough to catch the form's old mistake: a dotted variable inside a
/// list item is stored as one literal key, which the policy refuses.
#[test]
fn a_dotted_variable_inside_an_item_reaches_the_policy_as_a_literal_key() {
    let question = json!({"type": "sequence[", "variable": "rules", "sequence_questions": [
        {"type": "string", "variable": "secret", "default": ""},
        {"type": "map[", "variable": "namespaceSelector.matchLabels", "default": {}}]});
    let answers = json!({"secret": "corp", "namespaceSelector.matchLabels": {"team": "a"}});
    let item = sequence_item(&question, &answers);
    let refused = validate_settings(&json!({"rules": [item]})).expect_err("an unknown field");
    assert!(
        refused.contains("namespaceSelector.matchLabels"),
        "{refused}"
    );
}

/// A Pod CREATE whose image matches none of the cases' rules: `kwctl run` only has to load the
/// settings, and the policy makes no lookup.
const REQUEST: &str = r#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
  "uid": "form-settings", "kind": {"group": "", "version": "v1", "kind": "Pod"},
  "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "team-a",
  "operation": "CREATE", "userInfo": {"username": "operator"},
  "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "team-a"},
             "spec": {"containers": [{"name": "app", "image": "quay.io/unmatched/app:1"}]}}}}"#;

#[test]
fn the_settings_the_form_builds_pass_validate_settings_in_the_module() {
    let Some(kwctl) = program("KWCTL", "validate_settings on the settings the form builds") else {
        return;
    };
    let scratch = Scratch::new();
    let module = scratch.annotated_module(&kwctl);
    let request = scratch.path("request.json");
    std::fs::write(&request, REQUEST).unwrap();
    let form = Form::load();
    for (name, answers) in cases() {
        let settings = form.settings(&answers).to_string();
        let args = [
            "run",
            "--settings-json",
            &settings,
            "--request-path",
            &request,
            &module,
        ];
        let response: Value = serde_json::from_str(&scratch.ok(&kwctl, &args)).unwrap();
        assert_eq!(response["allowed"], true, "case {name:?}: {response}");
    }
}
