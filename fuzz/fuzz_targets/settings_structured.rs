//! Settings built from a model (rules with valid and invalid patterns, flags of the wrong type,
//! unknown keys, custom resources): an answer that names what is wrong, never a panic.
//! JSON seeds are settings documents.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use image_pull_secrets_fuzz::model::SettingsModel;
use image_pull_secrets_fuzz::oracle::check_settings_value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        check_settings_value(&value);
        return;
    }
    if let Ok(settings) = SettingsModel::arbitrary_take_rest(Unstructured::new(data)) {
        check_settings_value(&settings.render());
    }
});
