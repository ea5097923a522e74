//! A Secret's type and data, a registry key and an image: `registry_keys`, `key_covers` and
//! `covers_any` never panic, keys come back sorted and distinct, and no credential is echoed.
//! JSON seeds name the arguments (see `seed`).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use image_pull_secrets_fuzz::model::DockerConfigInput;
use image_pull_secrets_fuzz::oracle::{check_dockerconfig, mentions_canary};
use image_pull_secrets_fuzz::seed::DockerConfigSeed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(seed) = DockerConfigSeed::parse(data) {
        check_dockerconfig(
            &seed.secret_type,
            &seed.data,
            &seed.key,
            &seed.registry,
            &seed.repository,
            mentions_canary(data),
        );
        return;
    }
    if let Ok(input) = DockerConfigInput::arbitrary_take_rest(Unstructured::new(data)) {
        let (key, registry, repository) = input.image();
        check_dockerconfig(
            &input.secret_type(),
            &input.data(),
            &key,
            &registry,
            &repository,
            input.holds_own_canary(),
        );
    }
});
