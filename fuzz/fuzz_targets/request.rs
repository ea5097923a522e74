//! Any bytes as a `validate` payload, answered by `respond` (what the host's `validate` calls) with
//! the cluster the payload's own `"cluster"` member scripts (the policy ignores that member), each
//! lookup's answer `{"Ok": OBJECT}` or `{"Err": HOST_ERROR_TEXT}`, any other lookup NotFound:
//!
//!   {"secrets": {NAME: {"Ok": {"type": T, "data": {KEY: TEXT}}}},
//!    "serviceAccounts": {NAME: {"Ok": [SECRET, ...]}}, "namespaces": {NAME: {"Ok": {LABEL: VALUE}}}}
//!
//! Secret data is written decoded and encoded here. Invariants, none needing a second
//! implementation: no panic; a JSON payload gets a JSON answer, the same each time; no credential
//! (`CANARY` in the seeds, or a whole data value) shows unless the request holds it; a refusal says
//! why and mutates nothing; a mutation changes something, and nothing but `imagePullSecrets`
//! (entries kept in order, each name added once, only where missing) and `imagePullPolicy`
//! (set to `Always`).
#![no_main]

use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use image_pull_secrets::testing::MemoryCluster;
use image_pull_secrets::{classify_lookup_error, respond, LookupError, Secret};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::{json, Value};

/// Each object's scripted answer, by name: `Ok` the object, `Err` the host's error text.
type Answers<T> = BTreeMap<String, Result<T, String>>;

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Script {
    secrets: Answers<Secret>,
    service_accounts: Answers<Vec<String>>,
    namespaces: Answers<BTreeMap<String, String>>,
}

impl Script {
    /// The policy's in-memory cluster with these answers, host error texts classified as the
    /// host's would be.
    fn into_cluster(self) -> MemoryCluster {
        fn classified<T>(answers: Answers<T>) -> BTreeMap<String, Result<T, LookupError>> {
            let classify = |(name, answer): (String, Result<T, String>)| {
                (name, answer.map_err(|text| classify_lookup_error(&text)))
            };
            answers.into_iter().map(classify).collect()
        }
        MemoryCluster {
            secrets: classified(self.secrets),
            service_accounts: classified(self.service_accounts),
            namespaces: classified(self.namespaces),
            calls: Vec::new(),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut payload) = serde_json::from_slice::<Value>(data) else {
        // Bytes no host sends: an answer without a panic is all that is asked.
        respond(data, &mut MemoryCluster::default());
        return;
    };
    let input = payload.to_string();
    let script = payload.as_object_mut().and_then(|p| p.remove("cluster"));
    let mut script: Script = script
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    let mut credentials = vec!["CANARY".to_string(), STANDARD.encode("CANARY")];
    let mut secret_data = String::new();
    let secrets = script
        .secrets
        .values_mut()
        .filter_map(|s| s.as_mut().ok()?.data.as_mut());
    for value in secrets.flat_map(BTreeMap::values_mut) {
        secret_data += &format!("{value}\n");
        *value = STANDARD.encode(&*value);
        credentials.extend((value.len() >= 8).then(|| value.clone()));
    }
    let mut cluster = script.into_cluster();
    let answer = respond(data, &mut cluster);
    assert!(
        answer == respond(data, &mut cluster),
        "the answer is deterministic"
    );
    // A credential is text that the input holds only inside secret data.
    let text = String::from_utf8_lossy(&answer);
    let only_in_data = |c: &str| input.matches(c).count() <= secret_data.matches(c).count();
    let shown = credentials
        .iter()
        .find(|c| only_in_data(c) && text.contains(c.as_str()));
    assert_eq!(shown, None, "a credential shows in: {text}");
    let answer: Value = serde_json::from_slice(&answer).expect("a JSON payload gets a JSON answer");
    let mutated = &answer["mutated_object"];
    if answer["accepted"] != true {
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && mutated.is_null(),
            "a refusal says why, mutates nothing"
        );
    } else if !mutated.is_null() {
        let object = &payload["request"]["object"];
        assert_ne!(object, mutated, "a mutation changes something");
        only_pull_fields_differ(object, mutated);
    }
});

/// `after` is `before` but for `imagePullSecrets` and `imagePullPolicy` fields.
fn only_pull_fields_differ(before: &Value, after: &Value) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            assert!(
                old.keys().all(|key| new.contains_key(key)),
                "a mutation removes no field"
            );
            for (key, value) in new {
                match (key.as_str(), old.get(key)) {
                    (_, Some(old)) if old == value => {}
                    ("imagePullPolicy", _) => {
                        assert_eq!(value, "Always", "imagePullPolicy is set to Always")
                    }
                    ("imagePullSecrets", old) => names_added_once(old, value),
                    (_, old) => only_pull_fields_differ(old.unwrap_or(&Value::Null), value),
                }
            }
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() => {
            old.iter()
                .zip(new)
                .for_each(|(old, new)| only_pull_fields_differ(old, new));
        }
        _ => assert_eq!(
            before, after,
            "only imagePullSecrets and imagePullPolicy change"
        ),
    }
}

/// A new `imagePullSecrets` list: the old entries first, in order, then `{"name": ...}` entries
/// whose names the list did not hold.
fn names_added_once(old: Option<&Value>, new: &Value) {
    let kept = old.and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let list = new
        .as_array()
        .expect("imagePullSecrets is written as a list");
    assert_eq!(
        list.get(..kept.len()),
        Some(kept),
        "existing entries stay, in order"
    );
    for (index, entry) in list.iter().enumerate().skip(kept.len()) {
        let name = &entry["name"];
        assert!(
            name.is_string() && entry == &json!({ "name": name }),
            "an added entry is a name"
        );
        assert!(
            !list[..index].iter().any(|e| &e["name"] == name),
            "{name} is added once, where missing"
        );
    }
}
