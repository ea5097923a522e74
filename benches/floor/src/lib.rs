//! A floor module for the benchmarks: what the host costs for one answer, with no policy work.
//!
//! `validate` returns the bytes of the file named by `FLOOR_ANSWER` when this crate was built
//! (for instance this policy's exact answer to a bench request, mutated object included), so the
//! host's handling of that answer (reading it, diffing a mutated object into a patch) is all that
//! is measured. With the `lookup` feature it first asks the host for the Secret
//! `team-a/corp-registry`, as this policy's verification does, and ignores what comes back.

use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};

const ANSWER: &[u8] = include_bytes!(env!("FLOOR_ANSWER"));

#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

fn validate(_payload: &[u8]) -> CallResult {
    #[cfg(feature = "lookup")]
    {
        use kubewarden_policy_sdk::host_capabilities::kubernetes::{
            get_resource, GetResourceRequest,
        };
        let request = GetResourceRequest {
            api_version: "v1".to_string(),
            kind: "Secret".to_string(),
            name: "corp-registry".to_string(),
            namespace: Some("team-a".to_string()),
            disable_cache: false,
            field_masks: None,
        };
        get_resource::<serde::de::IgnoredAny>(&request)?;
    }
    Ok(ANSWER.to_vec())
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(br#"{"valid":true}"#.to_vec())
}
