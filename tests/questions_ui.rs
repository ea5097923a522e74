//! The Rancher form (`questions-ui.yml`) must produce settings the policy accepts. Each case
//! answers the form as an operator would in Rancher's Kubewarden UI; the settings are built the
//! way the UI builds them, then parsed by `Settings::from_value` and, with a real kwctl, by the
//! module's own `validate_settings` (`kwctl run --settings-json`).

mod support;

use image_pull_secrets::{OnMissingSecret, Settings};
use serde_json::{json, Map, Value};
use std::ffi::OsStr;
use support::{not_run, question_paths, real_kwctl, yaml, Scratch, QUESTIONS};

/// How Rancher's Kubewarden UI turns answers into settings, as read in `rancher/kubewarden-ui`,
/// `pkg/kubewarden/components/Questions/`:
///
/// - `index.vue`, `update(variable, value)`: a top-level question's answer (and, listed after
///   it by `shownQuestions`/`addQuestion`, each of its sub-questions') is written with `set`
///   from `@shell/utils/object`, which splits a dotted variable into nested objects.
/// - `index.vue`, `addSequence`: a new list item holds every `sequence_questions` default under
///   its `variable`, as written.
/// - `SequenceTree.vue`, `update`, then `index.vue`, `updateSequence`: an answer to a plain
///   question of an item is stored as `item[variable]`, the variable as written (a dotted one
///   is a single literal key).
/// - `SequenceTree.vue`: a `sequence[`, or a `map[` with `subquestions`, inside an item is
///   edited as YAML. `parseSequenceSubquestion` starts the editor at `{variable: {last segment
///   of each sub-question's variable: its default}}`; `index.vue`, `updateSequenceDeep`, stores
///   the edited document's value under `item[variable]`.
///
/// Unanswered top-level questions contribute their defaults: the stricter case, every default
/// must be a setting the policy accepts.
struct Form {
    questions: Vec<Value>,
}

impl Form {
    fn load() -> Self {
        let form: Value = serde_yaml::from_value(yaml(QUESTIONS)["questions"].clone())
            .unwrap_or_else(|e| panic!("{QUESTIONS}: {e}"));
        let questions = form.as_array().expect("a list of questions").clone();
        Form { questions }
    }

    /// The settings the UI sends when the operator gives `answers`: top-level variables map to
    /// their answers; a list answer holds one object per item, keyed by the item's variables; a
    /// `map[` with sub-questions inside an item is answered with the fields typed into its YAML.
    fn settings(&self, answers: &Value) -> Value {
        let mut settings = json!({});
        for question in self.questions.iter().flat_map(with_subquestions) {
            let variable = variable(question);
            let value = match answers.get(variable) {
                None => question["default"].clone(),
                Some(items) if is_sequence(question) => Value::Array(
                    items
                        .as_array()
                        .unwrap_or_else(|| panic!("the answer to {variable} must be a list"))
                        .iter()
                        .map(|item| sequence_item(question, item))
                        .collect(),
                ),
                Some(answer) => answer.clone(),
            };
            set(&mut settings, variable, value);
        }
        settings
    }
}

fn variable(question: &Value) -> &str {
    question["variable"]
        .as_str()
        .unwrap_or_else(|| panic!("{QUESTIONS}: a question without a variable: {question}"))
}

fn is_sequence(question: &Value) -> bool {
    question["type"]
        .as_str()
        .is_some_and(|kind| kind.starts_with("sequence["))
}

fn is_map_with_subquestions(question: &Value) -> bool {
    question["type"]
        .as_str()
        .is_some_and(|kind| kind.starts_with("map["))
        && question["subquestions"].is_array()
}

fn listed<'q>(question: &'q Value, key: &str) -> impl Iterator<Item = &'q Value> {
    question[key].as_array().into_iter().flatten()
}

/// A question followed by its sub-questions, as `index.vue` lists them.
fn with_subquestions(question: &Value) -> Vec<&Value> {
    let mut all = vec![question];
    for sub in listed(question, "subquestions") {
        all.extend(with_subquestions(sub));
    }
    all
}

/// `@shell/utils/object`'s `set`: a dotted path, intermediate objects created.
fn set(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let object = node.as_object_mut().expect("set walks objects");
        if parts.peek().is_none() {
            object.insert(part.to_string(), value);
            return;
        }
        node = object.entry(part).or_insert_with(|| json!({}));
    }
}

/// One list item: `addSequence`'s defaults, then each answer stored as the UI stores it.
fn sequence_item(question: &Value, answers: &Value) -> Value {
    let mut item = Map::new();
    for sub in listed(question, "sequence_questions") {
        item.insert(variable(sub).to_string(), sub["default"].clone());
    }
    let answers = answers
        .as_object()
        .expect("an item's answers are an object");
    for (answered, answer) in answers {
        let sub = listed(question, "sequence_questions")
            .find(|sub| variable(sub) == answered)
            .unwrap_or_else(|| {
                panic!(
                    "{QUESTIONS}: {}[] has no question {answered}",
                    variable(question)
                )
            });
        let value = if is_map_with_subquestions(sub) {
            // The YAML editor's starting document, with the fields the operator filled in.
            let mut shown = Map::new();
            for field in listed(sub, "subquestions") {
                let key = variable(field).rsplit('.').next().unwrap_or_default();
                shown.insert(key.to_string(), field["default"].clone());
            }
            for (key, typed) in answer
                .as_object()
                .expect("a map is answered with its fields")
            {
                shown.insert(key.clone(), typed.clone());
            }
            Value::Object(shown)
        } else {
            answer.clone()
        };
        item.insert(answered.clone(), value);
    }
    Value::Object(item)
}

/// Every setting path an answer reaches (`rules[].namespaceSelector.matchLabels.team`, ...).
fn answered_paths(value: &Value, prefix: &str, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = format!("{prefix}{key}");
                into.push(path.clone());
                answered_paths(inner, &format!("{path}."), into);
            }
        }
        Value::Array(items) => {
            let path = prefix.trim_end_matches('.');
            for item in items {
                answered_paths(item, &format!("{path}[]."), into);
            }
        }
        _ => {}
    }
}

/// What an operator fills in, question by question. Together the cases answer every question of
/// the form, both `namespaceSelector` fields included, in rules and in ServiceAccount entries.
fn cases() -> Vec<(&'static str, Value)> {
    vec![
        (
            "one rule, everything else left at its default",
            json!({"rules": [{"secret": "corp-registry", "registries": ["registry.corp.example:5000"]}]}),
        ),
        (
            "every rule field, both namespaceSelector forms",
            json!({"rules": [
                {"secret": "corp-registry", "registries": ["registry.corp.example:5000", "*.corp.example"],
                 "images": ["docker.io/acme/**"], "onMissingSecret": "warn", "imagePullPolicy": "Always"},
                {"secret": "team-a-registry", "registries": ["registry.corp.example"],
                 "namespaceSelector": {"matchLabels": {"team": "a"}}},
                {"secret": "team-b-registry", "images": ["registry.corp.example/team-b/*"], "onMissingSecret": "skip",
                 "namespaceSelector": {"matchExpressions": [
                     {"key": "team", "operator": "In", "values": ["b", "b-staging"]},
                     {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}},
                {"secret": "shared-registry", "registries": ["registry.corp.example"],
                 "namespaceSelector": {"matchLabels": {"tier": "apps"},
                                       "matchExpressions": [{"key": "legacy", "operator": "DoesNotExist"}]}}
            ]}),
        ),
        (
            "ServiceAccount entries, both namespaceSelector forms; switches and custom resources",
            json!({
                "rules": [{"secret": "dockerhub", "registries": ["docker.io"]}],
                "serviceAccounts": [
                    {"secret": "dockerhub"},
                    {"secret": "team-a-registry", "onMissingSecret": "skip",
                     "namespaceSelector": {"matchLabels": {"team": "a"}}},
                    {"secret": "audit-registry", "onMissingSecret": "warn",
                     "namespaceSelector": {"matchExpressions": [{"key": "audited", "operator": "In", "values": ["yes"]}]}}
                ],
                "inject": false,
                "templates": "inject",
                "verifySecrets": true,
                "checkCredentials": false,
                "customResources": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                                     "podSpecPath": "$.spec.template.spec"}]
            }),
        ),
    ]
}

fn parse(name: &str, settings: &Value) -> Settings {
    Settings::from_value(settings.clone()).unwrap_or_else(|e| {
        panic!("{QUESTIONS}, case {name:?}: the policy refuses {settings}: {e}")
    })
}

#[test]
fn every_question_is_answered_by_some_case() {
    let mut asked = Vec::new();
    question_paths(&yaml(QUESTIONS)["questions"], "", &mut asked);
    let mut answered = Vec::new();
    for (_, answers) in cases() {
        answered_paths(&answers, "", &mut answered);
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

#[test]
fn the_settings_the_form_builds_are_accepted_by_the_policy() {
    let form = Form::load();
    for (name, answers) in cases() {
        parse(name, &form.settings(&answers));
    }
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
    let refused = Settings::from_value(json!({"rules": [item]}))
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
        let output = scratch.kwctl(
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
