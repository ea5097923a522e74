//! Invariants every answer keeps, whatever the input. A violation panics: libFuzzer saves the input.

use image_pull_secrets::testing::{MemoryCluster, CANARY_B64};
use image_pull_secrets::{covers_any, key_covers, registry_keys, Settings};
use serde_json::Value;
use std::collections::BTreeMap;

/// Whether `text` holds the credentials `MemoryCluster` plants in docker-config secrets, or the
/// start of them, plain or in base64. (`str::contains`: std is not instrumented, so it stays fast.)
pub fn mentions_canary(text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(text);
    text.contains("CANARY") || text.contains(&CANARY_B64[8..16])
}

/// Checks the answer to `payload` given with `cluster`: it reads as an answer, it leaks no
/// secret, and a mutation touches nothing but `imagePullSecrets` lists, whose existing entries
/// stay first. `canary_in_input` says the fuzzer itself wrote the canary somewhere (then
/// it may legitimately be echoed back).
pub fn check_validate(payload: &[u8], cluster: &MemoryCluster, canary_in_input: bool) {
    let serialized = image_pull_secrets::respond(payload, &mut cluster.clone());
    let response: Value = serde_json::from_slice(&serialized).expect("the answer is JSON");
    if !canary_in_input && !mentions_canary(payload) {
        assert!(
            !mentions_canary(&serialized),
            "secret data leaked into the response: {}",
            String::from_utf8_lossy(&serialized)
        );
    }
    if response["accepted"] != Value::Bool(true) {
        assert!(
            response["message"].as_str().is_some_and(|m| !m.is_empty()),
            "a rejection says why"
        );
        assert!(
            response["mutated_object"].is_null(),
            "a rejection never mutates"
        );
    }
    let mutated = &response["mutated_object"];
    if mutated.is_null() {
        return;
    }
    let Ok(payload) = serde_json::from_slice::<Value>(payload) else {
        return; // out-of-range numbers, which the policy skips where it does not read
    };
    only_pull_secrets_changed(&payload["request"]["object"], mutated, "");
}

/// `mutated` is `original` but for `imagePullSecrets` lists, which keep the original entries
/// first, in order, and append distinct `{"name": ...}` entries.
fn only_pull_secrets_changed(original: &Value, mutated: &Value, at: &str) {
    match (original, mutated) {
        (Value::Object(before), Value::Object(after)) => {
            let keys = |map: &serde_json::Map<String, Value>| -> Vec<String> {
                map.keys().filter(|k| *k != "imagePullSecrets").cloned().collect()
            };
            assert_eq!(keys(before), keys(after), "fields changed at {at}");
            for (key, value) in after {
                let path = format!("{at}/{key}");
                match (key.as_str(), before.get(key)) {
                    ("imagePullSecrets", old) => check_pull_secrets(old, value, &path),
                    (_, Some(old)) => only_pull_secrets_changed(old, value, &path),
                    (_, None) => unreachable!(),
                }
            }
        }
        (Value::Array(before), Value::Array(after)) if before.len() == after.len() => {
            for (index, (old, new)) in before.iter().zip(after).enumerate() {
                only_pull_secrets_changed(old, new, &format!("{at}/{index}"));
            }
        }
        _ => assert_eq!(original, mutated, "the mutation changed {at}"),
    }
}

/// The list keeps the existing entries, in order, and appends distinct new names.
fn check_pull_secrets(original: Option<&Value>, mutated: &Value, at: &str) {
    let before = match original {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries.clone(),
        Some(other) => {
            assert_eq!(other, mutated, "{at}: a list that is not a list was replaced");
            return;
        }
    };
    let Value::Array(after) = mutated else {
        assert_eq!(original, Some(mutated), "{at} became {mutated}");
        return;
    };
    assert!(
        after.starts_with(&before),
        "existing entries at {at} moved or changed: {before:?} -> {after:?}"
    );
    let name = |entry: &Value| entry.get("name").and_then(Value::as_str).map(str::to_string);
    for added in &after[before.len()..] {
        let added_name = name(added).expect("added entries have a name");
        assert_eq!(added, &serde_json::json!({ "name": added_name }));
        let copies = after.iter().filter(|e| name(e).as_deref() == Some(&added_name));
        assert_eq!(copies.count(), 1, "{added_name} appears twice at {at}: {after:?}");
    }
}

/// Settings as `validate_settings` reads them: accepted, or refused with a message.
pub fn check_settings_value(value: &Value) {
    let bytes = serde_json::to_vec(value).expect("a JSON value serializes");
    if let Err(message) = Settings::from_slice(&bytes) {
        assert!(!message.is_empty(), "an invalid setting is named");
    }
}

/// `registry_keys`, `key_covers` and `covers_any` on one Secret and image.
pub fn check_dockerconfig(
    secret_type: &str,
    data: &BTreeMap<String, String>,
    key: &str,
    registry: &str,
    repository: &str,
    canary_in_input: bool,
) {
    let keys = registry_keys(secret_type, data);
    let shown = match &keys {
        Ok(keys) => {
            let mut sorted = keys.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(keys, &sorted, "registry keys are sorted and distinct");
            let any = keys.iter().any(|k| key_covers(k, registry, repository));
            assert_eq!(covers_any(keys, registry, repository), any);
            format!("{keys:?}")
        }
        Err(error) => format!("{error} {error:?}"),
    };
    if !canary_in_input {
        assert!(
            !mentions_canary(shown.as_bytes()),
            "credentials leaked: {shown}"
        );
    }
    key_covers(key, registry, repository);
}
