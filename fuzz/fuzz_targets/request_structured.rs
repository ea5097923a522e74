//! A Pod or pod template with odd shapes, settings, and a scripted cluster (some secrets present
//! with registry keys, some lookups failing): no panic, no leaked credentials, and a mutation that
//! touches only `imagePullSecrets`. JSON seeds are payloads with a `"cluster"` script (see `seed`).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use image_pull_secrets_fuzz::model::RequestInput;
use image_pull_secrets_fuzz::oracle::check_validate;
use image_pull_secrets_fuzz::seed::RequestSeed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(seed) = RequestSeed::parse(data) {
        let response = image_pull_secrets::respond(data, &mut seed.cluster());
        check_validate(data, &response, false);
        return;
    }
    let Ok(input) = RequestInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let payload = serde_json::to_vec(&input.payload()).expect("a JSON value serializes");
    let response = image_pull_secrets::respond(&payload, &mut input.cluster.render());
    check_validate(&payload, &response, input.holds_own_canary());
});
