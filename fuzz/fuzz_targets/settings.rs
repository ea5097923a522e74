//! Any bytes as `validate_settings` reads them: an answer, never a panic; a refusal names what is
//! wrong, and the same bytes always get the same answer (no hash-order in messages).
#![no_main]

use image_pull_secrets::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let message = Settings::from_slice(data).err();
    assert!(
        message.as_ref().is_none_or(|m| !m.is_empty()),
        "a refusal says why"
    );
    assert_eq!(
        message,
        Settings::from_slice(data).err(),
        "the answer is deterministic"
    );
});
