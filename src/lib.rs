//! Kubewarden policy that adds `imagePullSecrets` to pod specs whose images match configured
//! rules, and checks that those secrets exist and hold credentials for the images' registries.
//!
//! The waPC entry points live here; the decision is in [`evaluate`], the host calls in [`cluster`].

pub mod cluster;
pub mod dockerconfig;
pub mod evaluate;
pub mod host;
pub mod host_error;
pub mod image_ref;
pub mod inject;
pub mod kinds;
pub mod matcher;
pub mod pod_spec;
pub mod reference;
pub mod request;
pub mod settings;
pub mod verify;

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};

use crate::cluster::{Cluster, HostCluster};
use crate::evaluate::{evaluate, Decision};
use crate::request::AdmissionRequest;
use crate::settings::Settings;

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
    Ok(serde_json::to_vec(&respond(payload, &mut HostCluster))?)
}

/// waPC `validate_settings`: a parse or compile failure is an invalid-settings answer naming the field.
fn validate_settings(payload: &[u8]) -> CallResult {
    let response = match Settings::from_slice(payload) {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => SettingsValidationResponse {
            valid: false,
            message: Some(message),
        },
    };
    Ok(serde_json::to_vec(&response)?)
}

/// The full answer to a `validate` payload (`{"request": ..., "settings": ...}`).
pub fn respond<C: Cluster>(payload: &[u8], cluster: &mut C) -> ValidationResponse {
    let mut payload = match serde_json::from_slice(payload) {
        Ok(serde_json::Value::Object(payload)) => payload,
        Ok(_) => {
            return rejection(
                "the validation payload is not a JSON object".to_string(),
                Some(400),
            )
        }
        Err(error) => {
            return rejection(
                format!("the validation payload is not valid JSON: {error}"),
                Some(400),
            )
        }
    };
    let settings = match Settings::from_value(payload.remove("settings").unwrap_or_default()) {
        Ok(settings) => settings,
        Err(message) => return rejection(format!("invalid settings: {message}"), Some(400)),
    };
    let request = payload.remove("request").unwrap_or_default();
    let request = match AdmissionRequest::from_value(&request) {
        Ok(request) => request,
        Err(message) => return rejection(message, Some(400)),
    };
    to_response(evaluate(&request, &settings, cluster))
}

fn to_response(decision: Decision) -> ValidationResponse {
    let (accepted, message, code, mutated_object, warnings) = match decision {
        Decision::Accept { warnings } => (true, None, None, None, warnings),
        Decision::Mutate { object, warnings } => (true, None, None, Some(object), warnings),
        Decision::Reject {
            message,
            code,
            warnings,
        } => (false, Some(message), code, None, warnings),
    };
    ValidationResponse {
        accepted,
        message,
        code,
        mutated_object,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

fn rejection(message: String, code: Option<u16>) -> ValidationResponse {
    to_response(Decision::Reject {
        message,
        code,
        warnings: Vec::new(),
    })
}
