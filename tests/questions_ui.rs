//! The Rancher form (`questions-ui.yml`) must produce settings the policy accepts. Each case
//! answers the form as an operator would in Rancher's Kubewarden UI; the settings are built the
//! way the UI builds them, then validated by the module's own `validate_settings` through the
//! real kwctl (`kwctl run --settings-json`).

mod support;

use image_pull_secrets::{OnMissingSecret, Settings};
use serde_json::{json, Value};
use std::ffi::OsStr;
use support::form::{cases, sequence_item, Form};
use support::{field_paths, not_run, question_paths, real_kwctl, yaml, Scratch, QUESTIONS};

fn parse(name: &str, settings: &Value) -> Settings {
    Settings::from_slice(settings.to_string().as_bytes()).unwrap_or_else(|e| {
        panic!("{QUESTIONS}, case {name:?}: the policy refuses {settings}: {e}")
    })
}

#[test]
fn every_question_is_answered_by_some_case() {
    let mut asked = Vec::new();
    question_paths(&yaml(QUESTIONS)["questions"], "", &mut asked);
    let mut answered = Vec::new();
    for (_, answers) in cases() {
        field_paths(&answers, "", &mut answered);
    }
    let unanswered: Vec<&String> = asked
        .iter()
        .filter(|path| !answered.contains(path))
        .collect();
    assert!(
        unanswered.is_empty(),
        "{QUESTIONS}: no case answers {unanswered:?}"
    );
}

/// What the form leaves alone is the policy's own default: a rule made in the form without a
/// selector reads no Namespace, and the switches mean what they mean when left out.
#[test]
fn the_form_defaults_are_the_policy_defaults() {
    let form = Form::load();
    let (name, answers) = &cases()[0];
    let from_form = parse(name, &form.settings(answers));
    let minimal = parse(name, answers);
    assert_eq!(
        (
            from_form.inject,
            from_form.templates,
            from_form.verify_secrets,
            from_form.check_credentials
        ),
        (
            minimal.inject,
            minimal.templates,
            minimal.verify_secrets,
            minimal.check_credentials
        ),
        "{QUESTIONS}: inject, templates, verifySecrets, checkCredentials defaults"
    );
    assert_eq!(
        from_form.rules[0].on_missing_secret,
        OnMissingSecret::Reject
    );
    assert!(
        from_form.rules[0].namespace_selector.is_none(),
        "{QUESTIONS}: an untouched rule's namespaceSelector must be no selector (no Namespace read)"
    );
    assert!(from_form.service_accounts.is_empty() && from_form.custom_resources.is_empty());

    let with_accounts = parse(
        "ServiceAccount entry",
        &form.settings(
            &json!({"rules": answers["rules"], "serviceAccounts": [{"secret": "dockerhub"}]}),
        ),
    );
    let entry = &with_accounts.service_accounts[0];
    assert_eq!(entry.on_missing_secret, OnMissingSecret::Warn);
    assert!(entry.namespace_selector.is_none());
}

/// The emulation is faithful enough to catch the form's old mistake: a dotted variable inside a
/// list item is stored as one literal key, which the policy refuses.
#[test]
fn a_dotted_variable_inside_an_item_reaches_the_policy_as_a_literal_key() {
    let rules = json!({
        "type": "sequence[",
        "variable": "rules",
        "sequence_questions": [
            {"type": "string", "variable": "secret", "default": ""},
            {"type": "array[", "variable": "registries", "default": []},
            {"type": "map[", "variable": "namespaceSelector.matchLabels", "default": {}}
        ]
    });
    let item = sequence_item(
        &rules,
        &json!({"secret": "corp", "registries": ["reg.example"],
                "namespaceSelector.matchLabels": {"team": "a"}}),
    );
    assert!(item.get("namespaceSelector.matchLabels").is_some());
    let refused = Settings::from_slice(json!({"rules": [item]}).to_string().as_bytes())
        .expect_err("a literal dotted key is an unknown field");
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
    let Some(kwctl) = real_kwctl() else {
        not_run("validate_settings on the settings the Rancher form builds");
        return;
    };
    let scratch = Scratch::new("questions-ui");
    let module = scratch.annotated_module(&kwctl);
    let request = scratch.path("request.json");
    std::fs::write(&request, REQUEST).unwrap();
    let form = Form::load();
    for (name, answers) in cases() {
        let settings = form.settings(&answers).to_string();
        let output = scratch.run(
            &kwctl,
            [
                OsStr::new("run"),
                OsStr::new("--settings-json"),
                OsStr::new(&settings),
                OsStr::new("--request-path"),
                request.as_os_str(),
                module.as_os_str(),
            ],
        );
        assert!(
            output.status.success(),
            "{QUESTIONS}, case {name:?}: kwctl refuses {settings}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let response: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "case {name:?}: kwctl printed no response ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        });
        assert_eq!(response["allowed"], true, "case {name:?}: {response}");
    }
}
