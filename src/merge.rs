//! The merge: which `imagePullSecrets` list a pod spec ends up with. Pure, and minimal by
//! construction: existing entries stay as they are and where they are; only new names are appended.

use serde_json::{json, Value};

/// The pod spec's new `imagePullSecrets`, or `None` when nothing would change.
///
/// `existing` is the current value of the field (absent, null or a list); `inherited` are the
/// ServiceAccount's secrets, placed first when the list starts empty (the API server only copies
/// them into pods whose list is empty); `wanted` are the rule secrets, appended in rule order when
/// no entry already carries the name.
///
/// ```
/// use image_pull_secrets::merged_pull_secrets;
/// use serde_json::json;
/// let existing = json!([{"name": "team"}]);
/// let merged = merged_pull_secrets(Some(&existing), &[], &["corp", "team"]).unwrap();
/// assert_eq!(merged, vec![json!({"name": "team"}), json!({"name": "corp"})]);
/// ```
pub fn merged_pull_secrets(
    existing: Option<&Value>,
    inherited: &[String],
    wanted: &[&str],
) -> Option<Vec<Value>> {
    let mut merged: Vec<Value> = match existing {
        Some(Value::Array(entries)) => entries.clone(),
        _ => Vec::new(),
    };
    let has = |list: &[Value], name: &str| {
        list.iter()
            .any(|entry| entry.get("name").and_then(Value::as_str) == Some(name))
    };
    if wanted.iter().all(|name| has(&merged, name)) {
        return None;
    }
    let inherited = if merged.is_empty() { inherited } else { &[] };
    for name in inherited
        .iter()
        .map(String::as_str)
        .chain(wanted.iter().copied())
    {
        if !has(&merged, name) {
            merged.push(json!({ "name": name }));
        }
    }
    Some(merged)
}

/// Whether an `imagePullSecrets` value is absent, null or an empty list: the only case in which
/// the API server copies the ServiceAccount's secrets into a new pod.
pub fn is_empty_list(existing: Option<&Value>) -> bool {
    existing.is_none_or(|value| value.is_null() || value.as_array().is_some_and(Vec::is_empty))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn names(list: &[Value]) -> Vec<String> {
        list.iter().map(|entry| entry.to_string()).collect()
    }

    #[rstest]
    #[case::absent_list(None, &[], &["corp"], Some(vec![r#"{"name":"corp"}"#]))]
    #[case::null_list(Some(json!(null)), &[], &["corp"], Some(vec![r#"{"name":"corp"}"#]))]
    #[case::appends_after_existing(Some(json!([{"name": "a"}])), &[], &["corp"], Some(vec![r#"{"name":"a"}"#, r#"{"name":"corp"}"#]))]
    #[case::rule_order(Some(json!([])), &[], &["z", "a"], Some(vec![r#"{"name":"z"}"#, r#"{"name":"a"}"#]))]
    #[case::already_present(Some(json!([{"name": "corp"}])), &[], &["corp"], None)]
    #[case::nothing_wanted(Some(json!([{"name": "a"}])), &[], &[], None)]
    #[case::duplicate_wanted(None, &[], &["corp", "corp"], Some(vec![r#"{"name":"corp"}"#]))]
    #[case::odd_entries_kept_in_place(Some(json!([{}, {"name": ""}, {"name": "a", "extra": 1}])), &[], &["corp"], Some(vec![r#"{}"#, r#"{"name":""}"#, r#"{"extra":1,"name":"a"}"#, r#"{"name":"corp"}"#]))]
    #[case::inherited_first_when_empty(None, &["sa-1", "sa-2"], &["corp"], Some(vec![r#"{"name":"sa-1"}"#, r#"{"name":"sa-2"}"#, r#"{"name":"corp"}"#]))]
    #[case::inherited_already_has_wanted(None, &["corp"], &["corp"], Some(vec![r#"{"name":"corp"}"#]))]
    #[case::inherited_ignored_when_not_empty(Some(json!([{"name": "a"}])), &["sa"], &["corp"], Some(vec![r#"{"name":"a"}"#, r#"{"name":"corp"}"#]))]
    #[case::inherited_alone_is_no_change(None, &["sa"], &[], None)]
    fn merges(
        #[case] existing: Option<Value>,
        #[case] inherited: &[&str],
        #[case] wanted: &[&str],
        #[case] expected: Option<Vec<&str>>,
    ) {
        let inherited: Vec<String> = inherited.iter().map(|s| s.to_string()).collect();
        let merged = merged_pull_secrets(existing.as_ref(), &inherited, wanted);
        assert_eq!(
            merged.as_deref().map(names),
            expected.map(|e| e.iter().map(|s| s.to_string()).collect())
        );
    }
}
