//! Rancher's Kubewarden UI, emulated: the settings its form builds from `questions-ui.yml` for
//! an operator's answers, and the answers the packaging tests give (tests/questions_ui.rs runs
//! them through the policy, tests/chart.rs through the chart).

use serde_json::{json, Map, Value};

use super::{yaml, QUESTIONS};

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
pub struct Form {
    questions: Vec<Value>,
}

impl Form {
    pub fn load() -> Self {
        let form: Value = serde_yaml::from_value(yaml(QUESTIONS)["questions"].clone())
            .unwrap_or_else(|e| panic!("{QUESTIONS}: {e}"));
        let questions = form.as_array().expect("a list of questions").clone();
        Form { questions }
    }

    /// The settings the UI sends when the operator gives `answers`: top-level variables map to
    /// their answers; a list answer holds one object per item, keyed by the item's variables; a
    /// `map[` with sub-questions inside an item is answered with the fields typed into its YAML.
    pub fn settings(&self, answers: &Value) -> Value {
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
pub fn sequence_item(question: &Value, answers: &Value) -> Value {
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

/// What an operator fills in, question by question. Together the cases answer every question of
/// the form, both `namespaceSelector` fields included, in rules and in ServiceAccount entries.
pub fn cases() -> Vec<(&'static str, Value)> {
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
