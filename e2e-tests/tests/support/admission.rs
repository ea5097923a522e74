//! AdmissionRequests as kwctl takes them, and the object an AdmissionResponse's JSONPatch makes
//! (after checking that the patch touches nothing but `imagePullSecrets` and containers'
//! `imagePullPolicy`, set to `Always`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

/// The request as the API server sends it: what a case may leave out and kwctl insists on is
/// filled in (`uid`, `resource`, `requestKind`, `requestResource`, `userInfo`).
pub fn full_request(request: &Value, uid: &str) -> Value {
    let mut request = request.clone();
    let Some(fields) = request.as_object_mut() else {
        return request;
    };
    let kind = fields.get("kind").cloned().unwrap_or(Value::Null);
    let plural = kind["kind"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase()
        + "s";
    let resource = json!({"group": kind["group"], "version": kind["version"], "resource": plural});
    fields.entry("uid").or_insert(json!(uid));
    fields.entry("resource").or_insert(resource.clone());
    fields.entry("requestKind").or_insert(kind);
    fields.entry("requestResource").or_insert(resource);
    let admin = json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]});
    fields.entry("userInfo").or_insert(admin);
    request
}

/// `object` with the response's base64 JSONPatch applied.
pub fn patched(object: &Value, response: &Value, patch: &str) -> Result<Value, String> {
    if response["patchType"] != "JSONPatch" {
        return Err(format!("patchType is not JSONPatch: {response}"));
    }
    let bytes = STANDARD
        .decode(patch)
        .map_err(|e| format!("patch is not base64: {e}"))?;
    let operations: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("patch is not JSON: {e}"))?;
    for operation in operations.as_array().ok_or("patch is not a list")? {
        let path = operation["path"].as_str().unwrap_or_default();
        let pull_secrets =
            path.ends_with("/imagePullSecrets") || path.contains("/imagePullSecrets/");
        if !pull_secrets && !sets_pull_policy_always(path, operation) {
            return Err(format!(
                "patch touches more than imagePullSecrets and containers' imagePullPolicy: {operation}"
            ));
        }
    }
    let patch: json_patch::Patch =
        serde_json::from_value(operations.clone()).map_err(|e| e.to_string())?;
    let mut object = object.clone();
    json_patch::patch(&mut object, &patch)
        .map_err(|e| format!("patch {operations} does not apply: {e}"))?;
    Ok(object)
}

/// Whether a patch operation sets a container's `imagePullPolicy` to `Always`.
fn sets_pull_policy_always(path: &str, operation: &Value) -> bool {
    let mut steps = path.rsplit('/');
    let (Some(field), Some(index), Some(list)) = (steps.next(), steps.next(), steps.next()) else {
        return false;
    };
    field == "imagePullPolicy"
        && index.parse::<usize>().is_ok()
        && ["containers", "initContainers", "ephemeralContainers"].contains(&list)
        && matches!(operation["op"].as_str(), Some("add" | "replace"))
        && operation["value"] == "Always"
}
