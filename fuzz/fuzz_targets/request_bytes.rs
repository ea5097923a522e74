//! Any bytes as a `validate` payload: the policy answers, never panics, and a mutation it makes
//! touches only `imagePullSecrets`.
#![no_main]

use image_pull_secrets::testing::MemoryCluster;
use image_pull_secrets_fuzz::oracle::check_validate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let response = image_pull_secrets::respond(data, &mut MemoryCluster::default());
    check_validate(data, &response, false);
});
