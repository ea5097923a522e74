//! Invariants every answer keeps, whatever the input. A violation panics: libFuzzer saves the input.

use image_pull_secrets::testing::CANARY_B64;
use image_pull_secrets::{
    covers_any, key_covers, registry_keys, AdmissionRequest, Settings, Workload,
};
use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;
use std::collections::BTreeMap;

/// Where the built-in kinds keep their pod spec, written down here independently of the policy.
fn builtin_pointer(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        ("", "Pod") => Some("/spec"),
        ("batch", "CronJob") => Some("/spec/jobTemplate/spec/template/spec"),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("", "ReplicationController")
        | ("batch", "Job") => Some("/spec/template/spec"),
        _ => None,
    }
}

/// Whether `text` holds the credentials `MemoryCluster` plants in docker-config secrets, or the
/// start of them, plain or in base64. (`str::contains`: std is not instrumented, so it stays fast.)
pub fn mentions_canary(text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(text);
    text.contains("CANARY") || text.contains(&CANARY_B64[8..16])
}

/// Checks the answer to `payload`. `canary_in_input` says the fuzzer itself wrote the canary
/// somewhere (then it may legitimately be echoed back).
pub fn check_validate(payload: &[u8], response: &ValidationResponse, canary_in_input: bool) {
    let serialized = serde_json::to_vec(response).expect("the response serializes");
    if !canary_in_input && !mentions_canary(payload) {
        assert!(
            !mentions_canary(&serialized),
            "secret data leaked into the response: {}",
            String::from_utf8_lossy(&serialized)
        );
    }
    if !response.accepted {
        assert!(
            response.message.as_deref().is_some_and(|m| !m.is_empty()),
            "a rejection says why"
        );
        assert!(
            response.mutated_object.is_none(),
            "a rejection never mutates"
        );
    }
    let Some(mutated) = &response.mutated_object else {
        return;
    };
    let payload: Value = serde_json::from_slice(payload).expect("a mutated payload was JSON");
    let settings = Settings::from_value(payload["settings"].clone()).expect("settings were valid");
    let request = AdmissionRequest::from_value(&payload["request"]).expect("request was an object");
    let workload = Workload::of(
        request.group,
        request.version,
        request.kind,
        &settings.custom_resources,
    );
    let mut pointers = workload
        .pod_spec_pointers(request.object)
        .expect("a mutated object has pod specs");
    if let Some(pointer) = builtin_pointer(request.group, request.kind) {
        assert_eq!(pointers, [pointer], "pod spec of {}", request.kind);
    }
    // Innermost first, so that a spec nested in another (a JSONPath like `$..spec`) is settled
    // before the outer spec's list is compared.
    pointers.sort_by_key(|pointer| std::cmp::Reverse(pointer.len()));
    let mut original = request.object.clone();
    let mut mutated = mutated.clone();
    for pointer in &pointers {
        check_pull_secrets(&original, &mutated, pointer);
        for object in [&mut original, &mut mutated] {
            if let Some(spec) = object.pointer_mut(pointer).and_then(Value::as_object_mut) {
                spec.remove("imagePullSecrets");
            }
        }
    }
    assert!(
        original == mutated,
        "the mutation changed more than imagePullSecrets:\nbefore: {original}\nafter:  {mutated}"
    );
}

/// The list at `pointer` keeps the existing entries, in order, and appends distinct new names.
fn check_pull_secrets(original: &Value, mutated: &Value, pointer: &str) {
    let list = |object: &Value| object.pointer(pointer)?.get("imagePullSecrets").cloned();
    let before = match list(original) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(other) => panic!("a spec whose imagePullSecrets is {other} was mutated"),
    };
    let after = match list(mutated) {
        Some(Value::Array(entries)) => entries,
        None if before.is_empty() => return,
        other => panic!("imagePullSecrets at {pointer} became {other:?}"),
    };
    assert!(
        after.starts_with(&before),
        "existing entries at {pointer} moved or changed: {before:?} -> {after:?}"
    );
    let name = |entry: &Value| {
        entry
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    for (index, added) in after[before.len()..].iter().enumerate() {
        let added_name = name(added).expect("added entries have a name");
        assert_eq!(added, &serde_json::json!({ "name": added_name }));
        let copies = after
            .iter()
            .filter(|e| name(e).as_deref() == Some(&added_name));
        assert_eq!(
            copies.count(),
            1,
            "{added_name} (added entry {index}) appears twice at {pointer}: {after:?}"
        );
    }
}

/// Parsing settings from bytes and from an already parsed value agree.
pub fn check_settings_value(value: &Value) {
    let bytes = serde_json::to_vec(value).expect("a JSON value serializes");
    let from_value = Settings::from_value(value.clone());
    let from_slice = Settings::from_slice(&bytes);
    if !value.is_null() {
        assert_eq!(
            from_value.is_ok(),
            from_slice.is_ok(),
            "from_value: {from_value:?}\nfrom_slice: {from_slice:?}"
        );
    }
    if let (Ok(a), Ok(b)) = (&from_value, &from_slice) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    for message in [from_value.err(), from_slice.err()].into_iter().flatten() {
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
