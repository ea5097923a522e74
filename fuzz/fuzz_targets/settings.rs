//! Any bytes through `validate_settings`, as the host calls it: an answer, never a panic; a
//! refusal names what is wrong, and the same bytes always get the same answer (no hash-order in
//! messages).
#![no_main]

use image_pull_secrets::validate_settings;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let answer = validate_settings(data).expect("an answer");
    let read: Value = serde_json::from_slice(&answer).expect("a JSON answer");
    if read["valid"] == false {
        let message = read["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "a refusal says why");
    }
    let again = validate_settings(data).expect("an answer");
    assert_eq!(answer, again, "the answer is deterministic");
});
