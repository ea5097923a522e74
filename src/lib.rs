//! Kubewarden policy that adds `imagePullSecrets` to pod specs whose images match configured
//! rules, and checks that those secrets exist and hold credentials for the images' registries.
//!
//! Here: the waPC entry points and the dispatch of a request to its decision. Every module is
//! private; the items re-exported below are what the fuzz targets drive.

mod cluster;
mod dockerconfig;
mod evaluate;
mod image_ref;
mod json_pointer;
mod kinds;
mod lookup_error;
mod matcher;
mod merge;
mod namespace_scope;
mod object;
mod outcome;
mod pod_spec;
mod reference;
mod registry_host;
mod request;
mod response;
mod selector;
mod service_accounts;
mod settings;
mod splice;
mod verify;

/// Read access to the cluster, as `validate` gets it from the host, and a Secret as read.
pub use crate::cluster::{Cluster, Secret};
/// Why a cluster lookup gave no object, and how to read that from the host's error text.
pub use crate::lookup_error::{classify as classify_lookup_error, Denial, LookupError};

/// For tests/, fuzz/ and benches/profile (the `testing` feature): an in-memory cluster and the
/// canary credentials planted in its Secrets.
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::cluster::HostCluster;
use crate::kinds::{Target, Workload};
use crate::outcome::Decision;
use crate::request::Request;

#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// waPC `validate`: always answers with a response, never an error, whatever the payload holds.
fn validate(payload: &[u8]) -> CallResult {
    Ok(respond(payload, &mut HostCluster))
}

/// waPC `validate_settings`: a parse or compile failure is an invalid-settings answer naming the field.
pub fn validate_settings(payload: &[u8]) -> CallResult {
    let message = settings::validate(payload).err();
    let response = SettingsValidationResponse {
        valid: message.is_none(),
        message,
    };
    Ok(serde_json::to_vec(&response)?)
}

/// The answer to a `validate` payload (`{"request": ..., "settings": ...}`), as the JSON the
/// host reads.
pub fn respond<C: Cluster>(payload: &[u8], cluster: &mut C) -> Vec<u8> {
    let (decision, object) =
        decide(payload, cluster).unwrap_or_else(|message| (Decision::bad_request(message), None));
    response::write(decision, object)
}

/// The decision for a payload, and the request's object text that a mutation is spliced into;
/// the error is the message of a 400, for a payload, settings or object that does not read.
fn decide<'p, C: Cluster>(
    payload: &'p [u8],
    cluster: &mut C,
) -> Result<(Decision, Option<&'p RawValue>), String> {
    let (sent, settings) = request::read(payload)?;
    let (group, version, kind) = sent.gvk();
    let custom = || match &settings {
        Ok(settings) => settings.custom_resource_of((group, version, kind)),
        Err(message) => Err(message.clone()),
    };
    let operation = sent.operation();
    let Some(target) = kinds::target((group, kind), operation, sent.sub_resource(), custom)? else {
        return Ok((Decision::accept(), None));
    };
    let settings = settings?;
    let shape = match &target {
        Target::PodSpecs(workload) => workload.shape(),
        Target::EphemeralContainers => Workload::Pod.shape(),
        Target::ServiceAccount => Some(&service_accounts::SERVICE_ACCOUNT),
    };
    let read = |raw: Option<&RawValue>| {
        raw.map_or(Ok(Value::Null), |raw| object::read(raw, shape))
            .map_err(|error| format!("the admission request does not parse: {error}"))
    };
    let (object, old_object) = (read(sent.object)?, read(sent.old_object)?);
    let namespace = match sent.namespace() {
        "" => json_pointer::value_at(&object, "/metadata/namespace").and_then(Value::as_str),
        namespace => Some(namespace),
    };
    let request = Request {
        kind,
        operation,
        namespace: namespace.unwrap_or_default(),
        object: &object,
        old_object: &old_object,
    };
    let decision = match target {
        Target::PodSpecs(workload) => evaluate::pod_specs(&request, workload, &settings, cluster),
        Target::EphemeralContainers => evaluate::ephemeral_containers(&request, &settings, cluster),
        Target::ServiceAccount => service_accounts::evaluate(&request, &settings, cluster),
    };
    Ok((decision, sent.object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryCluster;
    use kubewarden_policy_sdk::response::ValidationResponse;

    /// The answer to `payload`, read as the host reads it.
    fn answer(payload: &[u8]) -> ValidationResponse {
        let answer = respond(payload, &mut MemoryCluster::default());
        serde_json::from_slice(&answer).expect("the answer reads as a ValidationResponse")
    }

    #[rstest::rstest]
    #[case::not_json(b"{".as_slice(), "the validation payload is not valid JSON: EOF while parsing an object at line 1 column 1")]
    #[case::not_an_object(b"3".as_slice(), "the validation payload does not read: invalid type: integer `3`, expected struct Payload at line 1 column 1")]
    #[case::no_request(br#"{"settings": {"rules": [{"secret": "a", "images": ["x"]}]}}"#.as_slice(), "the validation payload has no request")]
    #[case::object_does_not_parse(br#"{"request": {"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {"spec": 1e999}}, "settings": {"rules": [{"secret": "a", "images": ["x"]}]}}"#.as_slice(), "the admission request does not parse: number out of range at line 1 column 14")]
    #[case::settings_do_not_parse(br#"{"request": {"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {}}, "settings": {"rules": [{"secret": "a", "images": "x"}]}}"#.as_slice(), "invalid settings: rules[0].images: invalid type: string \"x\", expected a sequence")]
    #[case::settings_do_not_parse_before_the_request(br#"{"settings": {"rules": [], "inject": 1}, "request": {"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {}}}"#.as_slice(), "invalid settings: inject: invalid type: integer `1`, expected a boolean")]
    #[case::not_utf8(b"{\"request\": \"\xff\"}".as_slice(), "the validation payload is not valid JSON: invalid UTF-8 at byte 13")]
    fn unreadable_payloads_are_bad_requests(#[case] payload: &[u8], #[case] message: &str) {
        let answer = answer(payload);
        assert_eq!(
            (answer.accepted, answer.code, answer.message.as_deref()),
            (false, Some(400), Some(message))
        );
    }
}
