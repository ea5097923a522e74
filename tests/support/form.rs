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
        let form = serde_yaml::from_value(yaml(QUESTIONS)["questions"].clone());
        Form {
            questions: form.unwrap_or_else(|e| panic!("{QUESTIONS}: {e}")),
        }
    }

    /// The settings the UI sends when the operator gives `answers`: top-level variables map to
    /// their answers; a list answer holds one object per item, keyed by the item's variables; a
    /// `map[` with sub-questions inside an item is answered with the fields typed into its YAML.
    pub fn settings(&self, answers: &Value) -> Value {
        let mut settings = json!({});
        for question in self.questions.iter().flat_map(with_subquestions) {
            let value = match answers.get(variable(question)) {
                None => question["default"].clone(),
                Some(items) if is(question, "sequence[") => {
                    let items = items.as_array().expect("a list answers a sequence");
                    items
                        .iter()
                        .map(|item| sequence_item(question, item))
                        .collect()
                }
                Some(answer) => answer.clone(),
            };
            // `@shell/utils/object`'s `set`: a dotted path, intermediate objects created.
            let mut node = &mut settings;
            for part in variable(question).split('.') {
                node = node
                    .as_object_mut()
                    .unwrap()
                    .entry(part)
                    .or_insert(json!({}));
            }
            *node = value;
        }
        settings
    }
}

fn variable(question: &Value) -> &str {
    let variable = question["variable"].as_str();
    variable.unwrap_or_else(|| panic!("{QUESTIONS}: a question without a variable: {question}"))
}

/// Whether a question's type is `kind` (`sequence[`, `map[`), with or without an item type.
fn is(question: &Value, kind: &str) -> bool {
    question["type"]
        .as_str()
        .is_some_and(|t| t.starts_with(kind))
}

fn listed<'q>(question: &'q Value, key: &str) -> impl Iterator<Item = &'q Value> {
    question[key].as_array().into_iter().flatten()
}

/// A question followed by its sub-questions, as `index.vue` lists them.
fn with_subquestions(question: &Value) -> Vec<&Value> {
    let subquestions = listed(question, "subquestions").flat_map(with_subquestions);
    std::iter::once(question).chain(subquestions).collect()
}

/// One list item: `addSequence`'s defaults, then each answer stored as the UI stores it.
pub fn sequence_item(question: &Value, answers: &Value) -> Value {
    let mut item = Map::new();
    for sub in listed(question, "sequence_questions") {
        item.insert(variable(sub).to_string(), sub["default"].clone());
    }
    for (answered, answer) in answers
        .as_object()
        .expect("an item's answers are an object")
    {
        let sub = listed(question, "sequence_questions").find(|sub| variable(sub) == answered);
        let sub = sub.unwrap_or_else(|| panic!("{QUESTIONS}: no question {answered} in an item"));
        let mut value = answer.clone();
        if is(sub, "map[") && sub["subquestions"].is_array() {
            // The YAML editor's starting document, with the fields the operator filled in.
            let mut shown = Map::new();
            for field in listed(sub, "subquestions") {
                let key = variable(field).rsplit('.').next().unwrap_or_default();
                shown.insert(key.to_string(), field["default"].clone());
            }
            shown.extend(
                answer
                    .as_object()
                    .expect("a map is answered with its fields")
                    .clone(),
            );
            value = Value::Object(shown);
        }
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
