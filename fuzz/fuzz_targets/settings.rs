//! Any bytes as `validate_settings` input: an answer, never a panic. Settings accepted from bytes
//! are accepted, identically, from the parsed value (the path `validate` takes).
#![no_main]

use image_pull_secrets::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(from_slice) = Settings::from_slice(data) {
        let value: serde_json::Value =
            serde_json::from_slice(data).expect("accepted bytes are JSON");
        let from_value =
            Settings::from_value(value).expect("accepted as bytes, accepted as a value");
        assert_eq!(format!("{from_slice:?}"), format!("{from_value:?}"));
    }
});
