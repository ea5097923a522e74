//! Any bytes as a `validate` payload: the policy answers, never panics, leaks no credentials, and
//! a rejection says why.
#![no_main]

use image_pull_secrets::testing::MemoryCluster;
use image_pull_secrets_fuzz::oracle::check_validate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_validate(data, &MemoryCluster::default(), false);
});
