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
/// secret, and a rejection says why and mutates nothing (what a mutation writes is pinned where
/// it is made, in `merge` and `splice`). `canary_in_input` says the fuzzer itself wrote the
/// canary somewhere (then it may legitimately be echoed back).
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
