//! A Pod or pod template with odd shapes, settings, and a scripted cluster (some secrets present
//! with registry keys, some lookups failing), written as text with whitespace, escaped and
//! repeated keys and huge numbers: no panic, no leaked credentials, and a rejection that says why.
//! JSON seeds are payloads with a `"cluster"` script (see `seed`).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use image_pull_secrets_fuzz::model::RequestInput;
use image_pull_secrets_fuzz::oracle::check_validate;
use image_pull_secrets_fuzz::seed::RequestSeed;
use image_pull_secrets_fuzz::text::TextStyle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(seed) = RequestSeed::parse(data) {
        check_validate(data, &seed.cluster(), false);
        return;
    }
    let Ok((style, input)) = <(TextStyle, RequestInput)>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let payload = style.write(&input.payload());
    check_validate(payload.as_bytes(), &input.cluster.render(), input.holds_own_canary());
});
