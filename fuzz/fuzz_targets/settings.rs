//! Any bytes as `validate_settings` input: an answer, never a panic.
#![no_main]

use image_pull_secrets::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(message) = Settings::from_slice(data) {
        assert!(!message.is_empty(), "an invalid setting is named");
    }
});
