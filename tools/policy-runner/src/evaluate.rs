//! One policy ready to answer `validate_settings`, `validate` and `protocol_version`, each
//! call on a fresh instance, with PolicyServer's handling of failures.
//!
//! Mirrors policy-evaluator's `runtimes/wapc/runtime.rs`: a guest failure, trap or timeout
//! becomes a 500 rejection; a settings failure becomes an invalid-settings answer.

use std::sync::Arc;

use anyhow::{anyhow, Result};
use serde_json::{json, Map, Value};

use crate::engine::{CompiledPolicy, Limits};
use crate::host::Host;
use crate::metadata::{Metadata, ProtocolVersion};
use crate::request::ValidateRequest;
use crate::response::{AdmissionResponse, PolicyValidationResponse, SettingsValidationResponse};

/// Policy settings: always a JSON object (`{}` when none are given).
pub type Settings = Map<String, Value>;

pub struct Evaluator {
    policy: CompiledPolicy,
    host: Arc<Host>,
    /// Named in the rejection of a forbidden mutation, as PolicyServer names the policy.
    policy_id: String,
    /// `None` for an unannotated module, which kwctl runs without the mutation constraint.
    metadata: Option<Metadata>,
}

impl Evaluator {
    pub fn new(
        module: &[u8],
        limits: Limits,
        cache: bool,
        host: Arc<Host>,
        policy_id: String,
        metadata: Option<Metadata>,
    ) -> Result<Self> {
        Ok(Self {
            policy: CompiledPolicy::compile(module, limits, cache)?,
            host,
            policy_id,
            metadata,
        })
    }

    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// The guest's verdict on `settings`. Only a failure to instantiate the policy is an `Err`.
    pub fn validate_settings(&self, settings: &Settings) -> Result<SettingsValidationResponse> {
        let instance = self.policy.instantiate(&self.host)?;
        let payload = serde_json::to_vec(settings)?;
        Ok(match instance.call("validate_settings", &payload) {
            Ok(answer) => {
                serde_json::from_slice(&answer).unwrap_or_else(|e| SettingsValidationResponse {
                    valid: false,
                    message: Some(format!("error: InvalidResponseWithError({e:?})")),
                })
            }
            Err(e) => SettingsValidationResponse {
                valid: false,
                message: Some(format!(
                    "Error invoking settings validation callback: {e:?}"
                )),
            },
        })
    }

    /// The AdmissionResponse for `request`. Only a failure to instantiate the policy is an `Err`.
    pub fn validate(
        &self,
        request: &ValidateRequest,
        settings: &Settings,
    ) -> Result<AdmissionResponse> {
        let instance = self.policy.instantiate(&self.host)?;
        let uid = request.uid();
        let response = match instance.call("validate", &validation_payload(request, settings)?) {
            Ok(answer) => match serde_json::from_slice::<PolicyValidationResponse>(&answer) {
                Ok(answer) => AdmissionResponse::from_policy_validation_response(
                    uid,
                    request.object(),
                    &answer,
                )
                .unwrap_or_else(|e| {
                    AdmissionResponse::reject_internal_server_error(
                        uid,
                        format!("invalid response format: {e}"),
                    )
                }),
                Err(e) => AdmissionResponse::reject_internal_server_error(
                    uid,
                    format!("invalid response from policy: {e}"),
                ),
            },
            Err(e) => AdmissionResponse::reject_internal_server_error(uid, e),
        };
        Ok(match &self.metadata {
            Some(metadata) if !metadata.mutating => response.forbid_mutation(&self.policy_id),
            _ => response,
        })
    }

    /// The waPC protocol the guest speaks, as `kwctl annotate` records it.
    pub fn protocol_version(&self) -> Result<ProtocolVersion> {
        let instance = self.policy.instantiate(&self.host)?;
        let answer = instance
            .call("protocol_version", &[])
            .map_err(|e| anyhow!("cannot invoke 'protocol_version' waPC function : {e}"))?;
        serde_json::from_slice(&answer)
            .map_err(|e| anyhow!("cannot create ProtocolVersion object from {answer:?}: {e}"))
    }
}

/// What `validate` receives: `{"request": ..., "settings": ...}`.
pub fn validation_payload(request: &ValidateRequest, settings: &Settings) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(
        &json!({ "request": request, "settings": settings }),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_payload_wraps_request_and_settings() {
        let request = ValidateRequest::Raw(json!({"uid": "1"}));
        let settings = json!({"registries": ["a"]}).as_object().unwrap().clone();
        let payload: Value =
            serde_json::from_slice(&validation_payload(&request, &settings).unwrap()).unwrap();
        assert_eq!(
            payload,
            json!({"request": {"uid": "1"}, "settings": {"registries": ["a"]}})
        );
    }
}
