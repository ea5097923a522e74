//! The merge: which `imagePullSecrets` list a pod spec ends up with. Pure, and minimal by
//! construction: existing entries stay as they are and where they are; only new names are appended.

use serde_json::{json, Value};

use crate::splice::{Edit, PULL_SECRETS};

/// The edit that gives the pod spec (or ServiceAccount) at `pointer` its new `imagePullSecrets`,
/// or `None` when nothing would change.
///
/// `existing` is the current value of the field (absent, null or a list); `inherited` are the
/// ServiceAccount's secrets, placed first when the list starts empty (the API server only copies
/// them into pods whose list is empty); `wanted` are the rule secrets, appended in rule order when
/// no entry already carries the name.
pub(crate) fn merged_pull_secrets(
    pointer: &str,
    existing: Option<&Value>,
    inherited: &[String],
    wanted: &[&str],
) -> Option<Edit> {
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
    Some(Edit {
        pointer: pointer.to_string(),
        field: PULL_SECRETS,
        value: Value::Array(merged),
    })
}

/// Whether an `imagePullSecrets` value is absent, null or an empty list: the only case in which
/// the API server copies the ServiceAccount's secrets into a new pod.
pub(crate) fn is_empty_list(existing: Option<&Value>) -> bool {
    existing.is_none_or(|value| value.is_null() || value.as_array().is_some_and(Vec::is_empty))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    /// Names chosen from a small pool so that collisions between the lists are common.
    fn secret_name() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => select(vec!["a", "b", "corp", "hub", "sa", ""]).prop_map(str::to_string),
            1 => "[a-z]{1,3}",
        ]
    }

    /// An `imagePullSecrets` entry as a request may carry it, odd shapes included.
    fn pull_secret_entry() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => secret_name().prop_map(|name| json!({ "name": name })),
            1 => Just(json!({})),
            1 => Just(json!({"name": 3})),
            1 => Just(json!({"name": null})),
            1 => Just(json!("corp")),
            1 => Just(Value::Null),
            1 => secret_name().prop_map(|name| json!({"name": name, "extra": 1})),
        ]
    }

    /// The current value of `imagePullSecrets`: absent, null, a list, or (malformed) something else.
    fn existing_pull_secrets() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            1 => Just(None),
            1 => Just(Some(Value::Null)),
            6 => prop::collection::vec(pull_secret_entry(), 0..6).prop_map(|list| Some(Value::Array(list))),
            1 => Just(Some(json!({"name": "corp"}))),
        ]
    }

    fn entry_name(entry: &Value) -> Option<&str> {
        entry.get("name").and_then(Value::as_str)
    }

    proptest! {
        #[test]
        fn merging_is_idempotent_keeps_existing_entries_and_adds_each_name_once(
            existing in existing_pull_secrets(),
            inherited in prop::collection::vec(secret_name(), 0..4),
            wanted in prop::collection::vec(secret_name(), 0..5),
        ) {
            let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
            let entries: &[Value] = match &existing {
                Some(Value::Array(entries)) => entries,
                _ => &[],
            };
            let Some(Edit { value: Value::Array(merged), .. }) = merged_pull_secrets("", existing.as_ref(), &inherited, &wanted) else {
                for name in &wanted {
                    prop_assert!(entries.iter().any(|e| entry_name(e) == Some(name)), "{name} is missing but nothing was added");
                }
                return Ok(());
            };
            prop_assert_eq!(&merged[..entries.len()], entries, "existing entries are a prefix, in order");
            for added in &merged[entries.len()..] {
                let name = entry_name(added);
                prop_assert_eq!(added, &json!({ "name": name }), "added entries are {{\"name\": ...}}");
                let copies = merged.iter().filter(|e| entry_name(e) == name).count();
                prop_assert_eq!(copies, 1, "{:?} added more than once: {:?}", name, merged);
                let from_service_account = entries.is_empty() && inherited.iter().any(|i| Some(i.as_str()) == name);
                prop_assert!(from_service_account || wanted.iter().any(|w| Some(*w) == name));
            }
            for name in &wanted {
                prop_assert!(merged.iter().any(|e| entry_name(e) == Some(name)), "{name} was not added");
            }
            let again = merged_pull_secrets("", Some(&Value::Array(merged.clone())), &inherited, &wanted);
            prop_assert_eq!(again, None, "merging {:?} again changed it", merged);
        }
    }
}
