//! Kubernetes label selectors (`metav1.LabelSelector`), as rules and ServiceAccount entries scope
//! themselves to namespaces. Checked when the settings are compiled, as
//! `metav1validation.ValidateLabelSelector` checks them, and matched as
//! `metav1.LabelSelectorAsSelector(selector).Matches(labels)` matches. Pure: no I/O.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::registry_host::check_dns_subdomain;

/// A `namespaceSelector` as written in the settings; unknown keys are errors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawLabelSelector {
    match_labels: Option<BTreeMap<String, String>>,
    match_expressions: Option<Vec<RawRequirement>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    key: Option<String>,
    operator: Option<String>,
    values: Option<Vec<String>>,
}

/// `metav1.LabelSelectorOperator`: the four operators a `LabelSelector` may use, spelt exactly so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One requirement; `matchLabels` entries become `In` with one value (Kubernetes makes them
/// `Equals`, which matches the same label sets).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// `labels.Requirement.Matches`: `NotIn` and `DoesNotExist` hold when the key is absent.
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// A compiled, valid label selector. Every requirement must hold; with none (`{}`) it selects
/// every namespace, as `LabelSelectorAsSelector` turns an empty selector into `Everything()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Validates a selector written at `field` (e.g. `rules[0].namespaceSelector`), pushing one
    /// message per problem onto `errors`; `None` if it has any.
    pub fn compile(
        raw: RawLabelSelector,
        field: &str,
        errors: &mut Vec<String>,
    ) -> Option<LabelSelector> {
        let before = errors.len();
        let mut requirements = Vec::new();
        for (key, value) in raw.match_labels.unwrap_or_default() {
            let at = format!("{field}.matchLabels");
            if let Err(problem) = check_label_key(&key) {
                errors.push(format!(
                    "{at}: \"{key}\" is not a valid label key: {problem}"
                ));
            }
            if let Err(problem) = check_label_value(&value) {
                errors.push(format!(
                    "{at}.{key}: \"{value}\" is not a valid label value: {problem}"
                ));
            }
            requirements.push(Requirement {
                key,
                operator: Operator::In,
                values: vec![value],
            });
        }
        let expressions = raw.match_expressions.unwrap_or_default();
        for (index, raw) in expressions.into_iter().enumerate() {
            let at = format!("{field}.matchExpressions[{index}]");
            requirements.extend(compile_requirement(raw, &at, errors));
        }
        (errors.len() == before).then_some(LabelSelector { requirements })
    }

    /// Whether a namespace with these labels is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

fn compile_requirement(
    raw: RawRequirement,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<Requirement> {
    let before = errors.len();
    let key = raw.key.unwrap_or_default();
    if key.is_empty() {
        errors.push(format!(
            "{at}.key: is required; name a label, e.g. \"team\" or \"kubernetes.io/metadata.name\""
        ));
    } else if let Err(problem) = check_label_key(&key) {
        errors.push(format!(
            "{at}.key: \"{key}\" is not a valid label key: {problem}"
        ));
    }
    let operator = match raw.operator.as_deref() {
        None | Some("") => {
            errors.push(format!(
                "{at}.operator: is required; one of In, NotIn, Exists, DoesNotExist"
            ));
            None
        }
        Some("In") => Some(Operator::In),
        Some("NotIn") => Some(Operator::NotIn),
        Some("Exists") => Some(Operator::Exists),
        Some("DoesNotExist") => Some(Operator::DoesNotExist),
        Some(text) => {
            errors.push(format!(
                "{at}.operator: \"{text}\" is not one of In, NotIn, Exists, DoesNotExist (case matters)"
            ));
            None
        }
    };
    let values = raw.values.unwrap_or_default();
    match operator {
        Some(Operator::In | Operator::NotIn) if values.is_empty() => errors.push(format!(
            "{at}.values: must list at least one value when the operator is In or NotIn"
        )),
        Some(Operator::Exists | Operator::DoesNotExist) if !values.is_empty() => {
            errors.push(format!(
                "{at}.values: must be empty when the operator is Exists or DoesNotExist; remove it"
            ))
        }
        _ => {}
    }
    for (index, value) in values.iter().enumerate() {
        if let Err(problem) = check_label_value(value) {
            errors.push(format!(
                "{at}.values[{index}]: \"{value}\" is not a valid label value: {problem}"
            ));
        }
    }
    let operator = operator.filter(|_| errors.len() == before)?;
    Some(Requirement {
        key,
        operator,
        values,
    })
}

/// Longest label name (the part after any `prefix/`) and label value.
const MAX_LABEL_NAME: usize = 63;

/// `validation.IsQualifiedName`: `[prefix/]name`, the prefix a DNS-1123 subdomain, the name up
/// to 63 characters of `[A-Za-z0-9_.-]` that starts and ends alphanumeric.
fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if name.contains('/') {
            return Err("it has more than one '/'; write prefix/name".to_string());
        }
        check_dns_subdomain(prefix).map_err(|problem| {
            format!("its prefix \"{prefix}\" is not a DNS subdomain: {problem}")
        })?;
    }
    if name.is_empty() {
        return Err("its name part is empty".to_string());
    }
    check_label_value(name).map_err(|problem| format!("its name part {problem}"))
}

/// `validation.IsValidLabelValue`: empty, or what a label name may be.
fn check_label_value(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    if text.len() > MAX_LABEL_NAME {
        return Err(format!("is longer than {MAX_LABEL_NAME} characters"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let edges_alphanumeric = text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric());
    if text.chars().all(allowed) && edges_alphanumeric {
        Ok(())
    } else {
        Err("must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit"
            .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn compile(selector: serde_json::Value) -> Result<LabelSelector, String> {
        let raw: RawLabelSelector = serde_json::from_value(selector).map_err(|e| e.to_string())?;
        let mut errors = Vec::new();
        LabelSelector::compile(raw, "rules[0].namespaceSelector", &mut errors)
            .ok_or_else(|| errors.join("; "))
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> serde_json::Value {
        json!({"matchExpressions": [{"key": key, "operator": operator, "values": values}]})
    }

    // Kubernetes' own examples, from k8s.io/apimachinery/pkg/labels/selector_test.go
    // (TestSelectorMatches, TestSetMatches, TestRequirementSelectorMatching), written as the
    // metav1.LabelSelector that LabelSelectorAsSelector turns into the same labels.Selector.
    #[rstest]
    #[case::empty_selects_everything(json!({}), &[("x", "y")], true)]
    #[case::x_eq_y(json!({"matchLabels": {"x": "y"}}), &[("x", "y")], true)]
    #[case::x_eq_y_z_eq_w(json!({"matchLabels": {"x": "y", "z": "w"}}), &[("x", "y"), ("z", "w")], true)]
    #[case::x_eq_z_on_empty(json!({"matchLabels": {"x": "z"}}), &[], false)]
    #[case::x_eq_y_on_x_z(json!({"matchLabels": {"x": "y"}}), &[("x", "z")], false)]
    #[case::x_eq_y_z_eq_w_on_other(json!({"matchLabels": {"x": "y", "z": "w"}}), &[("x", "w"), ("z", "w")], false)]
    #[case::notin_is_a_plain_key(json!({"matchLabels": {"notin": "in"}}), &[("notin", "in")], true)]
    #[case::exists(expression("x", "Exists", &[]), &[("x", "z")], true)]
    #[case::exists_absent(expression("x", "Exists", &[]), &[("y", "z")], false)]
    #[case::does_not_exist(expression("x", "DoesNotExist", &[]), &[("y", "z")], true)]
    #[case::does_not_exist_present(expression("x", "DoesNotExist", &[]), &[("x", "z")], false)]
    #[case::extra_key_missing(json!({"matchLabels": {"foo": "bar", "foobar": "bar", "baz": "blah"}}), &[("foo", "bar"), ("baz", "blah")], false)]
    #[case::in_and_not_in(json!({"matchExpressions": [{"key": "x", "operator": "In", "values": ["foo"]}, {"key": "y", "operator": "NotIn", "values": ["alpha"]}]}), &[("x", "foo"), ("y", "baz")], true)]
    #[case::in_and_in(json!({"matchExpressions": [{"key": "x", "operator": "In", "values": ["foo"]}, {"key": "y", "operator": "In", "values": ["alpha"]}]}), &[("x", "foo"), ("y", "baz")], false)]
    #[case::not_in_absent_key(json!({"matchExpressions": [{"key": "x", "operator": "NotIn", "values": [""]}, {"key": "y", "operator": "Exists"}]}), &[("y", "")], true)]
    #[case::does_not_exist_and_exists(json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}, {"key": "y", "operator": "Exists"}]}), &[("y", "")], true)]
    #[case::not_in_and_does_not_exist(json!({"matchExpressions": [{"key": "x", "operator": "NotIn", "values": [""]}, {"key": "y", "operator": "DoesNotExist"}]}), &[("y", "")], false)]
    #[case::in_empty_value(expression("x", "In", &[""]), &[("y", "baz")], false)]
    #[case::in_several_values(expression("x", "In", &["abc", "def"]), &[("x", "def")], true)]
    #[case::not_in_listed_value(expression("x", "NotIn", &["abc", "def"]), &[("x", "abc")], false)]
    #[case::labels_and_expressions_anded(json!({"matchLabels": {"team": "a"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}), &[("team", "a"), ("env", "prod")], false)]
    #[case::by_name(json!({"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}), &[("kubernetes.io/metadata.name", "team-a")], true)]
    #[case::not_in_by_name(expression("kubernetes.io/metadata.name", "NotIn", &["team-a", "team-b"]), &[("kubernetes.io/metadata.name", "payments")], true)]
    #[case::not_in_by_name_listed(expression("kubernetes.io/metadata.name", "NotIn", &["team-a", "team-b"]), &[("kubernetes.io/metadata.name", "team-b")], false)]
    fn matches_as_kubernetes_does(
        #[case] selector: serde_json::Value,
        #[case] namespace_labels: &[(&str, &str)],
        #[case] expected: bool,
    ) {
        let selector = compile(selector).unwrap();
        assert_eq!(selector.matches(&labels(namespace_labels)), expected);
    }

    // metav1validation.ValidateLabelSelector and labels.NewRequirement
    // (TestRequirementConstructor): what LabelSelectorAsSelector refuses, we refuse too.
    #[rstest]
    #[case::in_without_values(expression("x", "In", &[]), "rules[0].namespaceSelector.matchExpressions[0].values: must list at least one value when the operator is In or NotIn")]
    #[case::not_in_without_values(json!({"matchExpressions": [{"key": "x", "operator": "NotIn"}]}), "rules[0].namespaceSelector.matchExpressions[0].values: must list at least one value when the operator is In or NotIn")]
    #[case::exists_with_values(expression("x", "Exists", &["a"]), "rules[0].namespaceSelector.matchExpressions[0].values: must be empty when the operator is Exists or DoesNotExist; remove it")]
    #[case::unknown_operator(expression("x", "Equals", &["a"]), "rules[0].namespaceSelector.matchExpressions[0].operator: \"Equals\" is not one of In, NotIn, Exists, DoesNotExist (case matters)")]
    #[case::lower_case_operator(expression("x", "in", &["a"]), "rules[0].namespaceSelector.matchExpressions[0].operator: \"in\" is not one of In, NotIn, Exists, DoesNotExist (case matters)")]
    #[case::missing_operator(json!({"matchExpressions": [{"key": "x"}]}), "rules[0].namespaceSelector.matchExpressions[0].operator: is required; one of In, NotIn, Exists, DoesNotExist")]
    #[case::missing_key(json!({"matchExpressions": [{"operator": "Exists"}]}), "rules[0].namespaceSelector.matchExpressions[0].key: is required")]
    #[case::key_too_long(expression(&"a".repeat(254), "Exists", &[]), "is not a valid label key: its name part is longer than 63 characters")]
    #[case::key_with_space(json!({"matchLabels": {"team a": "x"}}), "rules[0].namespaceSelector.matchLabels: \"team a\" is not a valid label key: its name part must consist of letters, digits")]
    #[case::key_upper_case_prefix(json!({"matchLabels": {"Example.com/team": "x"}}), "its prefix \"Example.com\" is not a DNS subdomain")]
    #[case::key_two_slashes(json!({"matchLabels": {"a/b/c": "x"}}), "it has more than one '/'")]
    #[case::bad_value(json!({"matchLabels": {"team": "a b"}}), "rules[0].namespaceSelector.matchLabels.team: \"a b\" is not a valid label value: must consist of")]
    #[case::bad_expression_value(expression("team", "In", &["ok", "-bad"]), "rules[0].namespaceSelector.matchExpressions[0].values[1]: \"-bad\" is not a valid label value")]
    #[case::unknown_key(json!({"matchLabel": {"team": "a"}}), "unknown field `matchLabel`, expected `matchLabels` or `matchExpressions`")]
    fn refuses_what_kubernetes_refuses(
        #[case] selector: serde_json::Value,
        #[case] expected: &str,
    ) {
        let error = compile(selector).unwrap_err();
        assert!(error.contains(expected), "got: {error}\nwanted: {expected}");
    }

    #[rstest]
    #[case::upper_case_name("Team")]
    #[case::digits_only("1234")]
    #[case::dots_and_underscores("a_b.c-d")]
    fn accepts_qualified_names(#[case] key: &str) {
        assert_eq!(check_label_key(key), Ok(()));
    }

    #[test]
    fn every_problem_is_reported() {
        let error = compile(json!({"matchLabels": {"a b": "c d"}, "matchExpressions": [{"key": "x", "operator": "In"}]}))
            .unwrap_err();
        assert_eq!(
            error.matches("rules[0].namespaceSelector").count(),
            3,
            "{error}"
        );
    }
}
