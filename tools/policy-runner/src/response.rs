//! From the guest's answer to the AdmissionResponse kwctl prints.
//!
//! Mirrors policy-evaluator's `admission_response.rs` (JSON layout, patch computation,
//! internal-error wording) and `admission_response_handler.rs` (the rejection of mutations
//! by policies that may not mutate).

use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a guest's `validate` returns (kubewarden-policy-sdk `ValidationResponse`).
#[derive(Deserialize, Serialize, Debug, Clone, Default, PartialEq)]
pub struct PolicyValidationResponse {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    pub mutated_object: Option<Value>,
    pub audit_annotations: Option<BTreeMap<String, String>>,
    pub warnings: Option<Vec<String>>,
}

/// What a guest's `validate_settings` returns (kubewarden-policy-sdk `SettingsValidationResponse`).
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
pub struct SettingsValidationResponse {
    pub valid: bool,
    pub message: Option<String>,
}

/// `admission/v1.AdmissionResponse`, serialised field for field as policy-evaluator does:
/// `auditAnnotations` and `warnings` are always present, `null` when unset.
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Base64 of the RFC 6902 JSON patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AdmissionResponseStatus>,
    pub audit_annotations: Option<BTreeMap<String, String>>,
    pub warnings: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
pub struct AdmissionResponseStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

const JSON_PATCH: &str = "JSONPatch";
const MUTATION_OF_DELETE: &str =
    "Incoming object is null, which happens only with DELETE operations, \
     but the policy is attempting a mutation. This is not allowed";

impl AdmissionResponse {
    pub fn reject(uid: &str, message: String, code: u16) -> Self {
        Self {
            uid: uid.to_owned(),
            allowed: false,
            status: Some(AdmissionResponseStatus {
                message: Some(message),
                code: Some(code),
            }),
            ..Default::default()
        }
    }

    /// How PolicyServer reports a guest that failed, trapped or timed out.
    pub fn reject_internal_server_error(uid: &str, message: impl std::fmt::Display) -> Self {
        Self::reject(uid, format!("internal server error: {message}"), 500)
    }

    /// Turns the guest's answer into a response; a mutation becomes a base64 JSON patch from
    /// `object` (the request's object) to the mutated object.
    pub fn from_policy_validation_response(
        uid: &str,
        object: Option<&Value>,
        answer: &PolicyValidationResponse,
    ) -> Result<Self, serde_json::Error> {
        let patch = match (&answer.mutated_object, object) {
            (Some(_), None) => {
                return Ok(Self {
                    uid: uid.to_owned(),
                    allowed: false,
                    status: Some(AdmissionResponseStatus {
                        message: Some(MUTATION_OF_DELETE.to_owned()),
                        code: None,
                    }),
                    ..Default::default()
                });
            }
            (Some(mutated), Some(original)) => {
                let diff = json_patch::diff(original, mutated);
                // A policy handing back an unchanged object has not mutated anything.
                if diff.0.is_empty() {
                    None
                } else {
                    Some(STANDARD.encode(serde_json::to_string(&diff)?))
                }
            }
            (None, _) => None,
        };
        let status =
            (answer.message.is_some() || answer.code.is_some()).then(|| AdmissionResponseStatus {
                message: answer.message.clone(),
                code: answer.code,
            });
        Ok(Self {
            uid: uid.to_owned(),
            allowed: answer.accepted,
            patch_type: patch.as_ref().map(|_| JSON_PATCH.to_owned()),
            patch,
            status,
            audit_annotations: answer.audit_annotations.clone(),
            warnings: answer.warnings.clone(),
        })
    }

    /// PolicyServer's protect-mode constraint: a patch from a policy that may not mutate
    /// turns the response into a rejection (the patch is dropped, a validating webhook
    /// could not carry it).
    pub fn forbid_mutation(self, policy_id: &str) -> Self {
        if self.patch.is_none() {
            return self;
        }
        Self {
            allowed: false,
            patch: None,
            patch_type: None,
            status: Some(AdmissionResponseStatus {
                message: Some(format!(
                    "Request rejected by policy {policy_id}. The policy attempted to mutate the request, \
                     but it is currently configured to not allow mutations."
                )),
                code: None,
            }),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decoded_patch(response: &AdmissionResponse) -> Value {
        let bytes = STANDARD
            .decode(response.patch.as_ref().expect("a patch"))
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn acceptance_serialises_like_kwctl() {
        let answer = PolicyValidationResponse {
            accepted: true,
            ..Default::default()
        };
        let response =
            AdmissionResponse::from_policy_validation_response("u", Some(&json!({})), &answer)
                .unwrap();
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"uid":"u","allowed":true,"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn rejection_keeps_message_code_warnings_and_annotations() {
        let answer = PolicyValidationResponse {
            accepted: false,
            message: Some("no".into()),
            code: Some(403),
            warnings: Some(vec!["w".into()]),
            audit_annotations: Some(BTreeMap::from([("k".into(), "v".into())])),
            ..Default::default()
        };
        let response =
            AdmissionResponse::from_policy_validation_response("u", Some(&json!({})), &answer)
                .unwrap();
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"uid":"u","allowed":false,"status":{"message":"no","code":403},"auditAnnotations":{"k":"v"},"warnings":["w"]}"#
        );
    }

    #[test]
    fn mutation_becomes_a_base64_json_patch() {
        let original = json!({"spec": {"containers": [{"image": "nginx"}]}});
        let mutated = json!({"spec": {"containers": [{"image": "nginx"}], "imagePullSecrets": [{"name": "reg"}]}});
        let answer = PolicyValidationResponse {
            accepted: true,
            mutated_object: Some(mutated),
            ..Default::default()
        };
        let response =
            AdmissionResponse::from_policy_validation_response("u", Some(&original), &answer)
                .unwrap();
        assert_eq!(response.patch_type.as_deref(), Some("JSONPatch"));
        assert_eq!(
            decoded_patch(&response),
            json!([{"op": "add", "path": "/spec/imagePullSecrets", "value": [{"name": "reg"}]}])
        );
    }

    #[test]
    fn unchanged_mutated_object_gives_no_patch() {
        let original = json!({"a": 1});
        let answer = PolicyValidationResponse {
            accepted: true,
            mutated_object: Some(original.clone()),
            ..Default::default()
        };
        let response =
            AdmissionResponse::from_policy_validation_response("u", Some(&original), &answer)
                .unwrap();
        assert_eq!((response.patch, response.patch_type), (None, None));
    }

    #[test]
    fn mutating_a_delete_request_is_rejected() {
        let answer = PolicyValidationResponse {
            accepted: true,
            mutated_object: Some(json!({})),
            ..Default::default()
        };
        let response =
            AdmissionResponse::from_policy_validation_response("u", None, &answer).unwrap();
        assert!(!response.allowed);
        assert_eq!(
            response.status.unwrap().message.as_deref(),
            Some(MUTATION_OF_DELETE)
        );
    }

    #[test]
    fn forbidden_mutation_turns_into_a_rejection_without_patch() {
        let answer = PolicyValidationResponse {
            accepted: true,
            mutated_object: Some(json!({"a": 2})),
            ..Default::default()
        };
        let response = AdmissionResponse::from_policy_validation_response(
            "u",
            Some(&json!({"a": 1})),
            &answer,
        )
        .unwrap()
        .forbid_mutation("my-policy");
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({
                "uid": "u",
                "allowed": false,
                "status": {"message": "Request rejected by policy my-policy. The policy attempted to mutate the request, but it is currently configured to not allow mutations."},
                "auditAnnotations": null,
                "warnings": null,
            })
        );
    }

    #[test]
    fn forbidding_mutation_leaves_plain_answers_alone() {
        let plain = AdmissionResponse::reject("u", "no".into(), 400);
        assert_eq!(plain.clone().forbid_mutation("p"), plain);
    }

    #[test]
    fn internal_errors_are_500_with_policy_server_prefix() {
        let response =
            AdmissionResponse::reject_internal_server_error("u", "Guest call failure: boom");
        let status = response.status.unwrap();
        assert_eq!(status.code, Some(500));
        assert_eq!(
            status.message.as_deref(),
            Some("internal server error: Guest call failure: boom")
        );
    }
}
