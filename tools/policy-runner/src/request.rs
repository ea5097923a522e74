//! The request a policy validates: a Kubernetes AdmissionRequest, or any JSON document for
//! `policyType: raw` policies.
//!
//! The typed AdmissionRequest mirrors policy-evaluator's `admission_request.rs`: the runner
//! re-serialises it before handing it to the guest, so unknown fields are dropped and
//! `object: null` disappears exactly as in PolicyServer.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    pub uid: String,
    pub kind: GroupVersionKind,
    pub resource: GroupVersionResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_kind: Option<GroupVersionKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_resource: Option<GroupVersionResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub operation: String,
    pub user_info: UserInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GroupVersionKind {
    pub group: String,
    pub version: String,
    pub kind: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GroupVersionResource {
    pub group: String,
    pub version: String,
    pub resource: String,
}

/// `authentication/v1.UserInfo`, serialised like k8s-openapi does (absent fields omitted).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// What the guest's `validate` receives as `request`.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ValidateRequest {
    AdmissionRequest(Box<AdmissionRequest>),
    Raw(Value),
}

impl ValidateRequest {
    /// Builds the request the way kwctl does: an AdmissionReview is unwrapped, anything else
    /// is taken as the AdmissionRequest itself; `raw` policies get the document untouched.
    pub fn from_document(document: Value, raw: bool) -> Result<Self> {
        if raw {
            return Ok(Self::Raw(document));
        }
        let object = document
            .as_object()
            .ok_or_else(|| anyhow!("Invalid request object"))?;
        let request = if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
            object
                .get("request")
                .cloned()
                .ok_or_else(|| anyhow!("invalid AdmissionReview object"))?
        } else {
            document
        };
        let request: AdmissionRequest = serde_json::from_value(request)
            .map_err(|e| anyhow!("cannot build AdmissionRequest object from given input: {e}"))?;
        Ok(Self::AdmissionRequest(Box::new(request)))
    }

    /// The uid copied into the response; a raw request may carry one at its top level.
    pub fn uid(&self) -> &str {
        match self {
            Self::AdmissionRequest(request) => &request.uid,
            Self::Raw(raw) => raw.get("uid").and_then(Value::as_str).unwrap_or_default(),
        }
    }

    /// The object a mutation is diffed against; `None` for DELETE (no object).
    pub fn object(&self) -> Option<&Value> {
        match self {
            Self::AdmissionRequest(request) => request.object.as_ref(),
            Self::Raw(raw) => Some(raw),
        }
    }
}

/// Parses a request file: JSON as kwctl reads it, or YAML for hand-written fixtures.
pub fn parse_document(text: &str, origin: &str) -> Result<Value> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(json_error) => {
            let value: Value = serde_yaml::from_str(text).map_err(|yaml_error| {
                anyhow!(
                    "cannot parse {origin}: neither JSON ({json_error}) nor YAML ({yaml_error})"
                )
            })?;
            if value.is_null() {
                bail!("cannot parse {origin}: the document is empty");
            }
            Ok(value)
        }
    }
}

/// Reads `path`, or standard input when `path` is `-`.
pub fn read_input(path: &str) -> Result<String> {
    if path == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("cannot read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_request() -> Value {
        json!({
            "uid": "req-1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "namespace": "team-a",
            "userInfo": {"username": "alice"},
            "object": {"metadata": {"name": "p"}},
            "oldObject": null,
            "somethingElse": 42,
        })
    }

    #[test]
    fn admission_review_and_bare_request_give_the_same_request() {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": pod_request()});
        let from_review = ValidateRequest::from_document(review, false).unwrap();
        let from_bare = ValidateRequest::from_document(pod_request(), false).unwrap();
        assert_eq!(from_review, from_bare);
        assert_eq!(from_review.uid(), "req-1");
    }

    #[test]
    fn reserialised_request_drops_unknown_fields_and_null_objects() {
        let request = ValidateRequest::from_document(pod_request(), false).unwrap();
        let sent = serde_json::to_value(&request).unwrap();
        assert_eq!(
            sent,
            json!({
                "uid": "req-1",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "namespace": "team-a",
                "operation": "CREATE",
                "userInfo": {"username": "alice"},
                "object": {"metadata": {"name": "p"}},
            })
        );
    }

    #[test]
    fn kwctl_error_messages_for_bad_input() {
        let not_object = ValidateRequest::from_document(json!([1]), false).unwrap_err();
        assert_eq!(not_object.to_string(), "Invalid request object");
        let review = json!({"kind": "AdmissionReview"});
        assert_eq!(
            ValidateRequest::from_document(review, false)
                .unwrap_err()
                .to_string(),
            "invalid AdmissionReview object"
        );
        let mut missing = pod_request();
        missing.as_object_mut().unwrap().remove("operation");
        let err = ValidateRequest::from_document(missing, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "cannot build AdmissionRequest object from given input: missing field `operation`"
            ),
            "{err}"
        );
    }

    #[test]
    fn delete_requests_have_no_object() {
        let mut delete = pod_request();
        delete["operation"] = json!("DELETE");
        delete["object"] = Value::Null;
        let request = ValidateRequest::from_document(delete, false).unwrap();
        assert_eq!(request.object(), None);
    }

    #[test]
    fn raw_requests_pass_through_and_may_carry_a_uid() {
        let raw = ValidateRequest::from_document(json!({"uid": "r", "user": "x"}), true).unwrap();
        assert_eq!(raw.uid(), "r");
        assert_eq!(raw.object(), Some(&json!({"uid": "r", "user": "x"})));
        assert_eq!(ValidateRequest::Raw(json!({"a": 1})).uid(), "");
    }

    #[test]
    fn yaml_fixtures_are_accepted_and_errors_name_the_file() {
        let value = parse_document("uid: x\nobject:\n  a: 1\n", "req.yaml").unwrap();
        assert_eq!(value, json!({"uid": "x", "object": {"a": 1}}));
        let err = parse_document("{", "req.json").unwrap_err().to_string();
        assert!(err.starts_with("cannot parse req.json"), "{err}");
    }
}
