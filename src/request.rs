//! The admission request fields the policy reads, taken leniently from raw JSON: a field that is
//! missing, null or of the wrong type reads as empty instead of failing the whole request.

use serde_json::Value;

static NULL: Value = Value::Null;

/// Borrowed view of a Kubernetes `AdmissionRequest`.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionRequest<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub operation: &'a str,
    pub sub_resource: &'a str,
    pub namespace: &'a str,
    pub object: &'a Value,
    pub old_object: &'a Value,
}

impl<'a> AdmissionRequest<'a> {
    /// Reads the request; only a non-object request is an error.
    pub fn from_value(request: &'a Value) -> Result<AdmissionRequest<'a>, String> {
        if !request.is_object() {
            return Err("the admission request is not a JSON object".to_string());
        }
        let text = |value: &'a Value| value.as_str().unwrap_or_default();
        let first = |keys: [&str; 2]| {
            keys.iter()
                .map(|k| text(&request[*k]))
                .find(|s| !s.is_empty())
                .unwrap_or_default()
        };
        let namespace = match text(&request["namespace"]) {
            "" => text(&request["object"]["metadata"]["namespace"]),
            namespace => namespace,
        };
        Ok(AdmissionRequest {
            group: text(&request["kind"]["group"]),
            version: text(&request["kind"]["version"]),
            kind: text(&request["kind"]["kind"]),
            operation: text(&request["operation"]),
            sub_resource: first(["subResource", "sub_resource"]),
            namespace,
            object: request.get("object").unwrap_or(&NULL),
            old_object: request
                .get("oldObject")
                .or_else(|| request.get("old_object"))
                .unwrap_or(&NULL),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_fields() {
        let raw = json!({"kind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "operation": "UPDATE",
                         "subResource": "", "namespace": "team-a", "object": {"a": 1}, "oldObject": {"b": 2}});
        let request = AdmissionRequest::from_value(&raw).unwrap();
        assert_eq!(
            (request.group, request.version, request.kind),
            ("apps", "v1", "Deployment")
        );
        assert_eq!((request.operation, request.namespace), ("UPDATE", "team-a"));
        assert_eq!(request.object, &json!({"a": 1}));
        assert_eq!(request.old_object, &json!({"b": 2}));
    }

    #[test]
    fn nulls_and_wrong_types_read_as_empty() {
        let raw = json!({"kind": null, "operation": 7, "namespace": null, "object": null, "subResource": ["x"]});
        let request = AdmissionRequest::from_value(&raw).unwrap();
        assert_eq!(
            (
                request.kind,
                request.operation,
                request.namespace,
                request.sub_resource
            ),
            ("", "", "", "")
        );
        assert!(request.object.is_null() && request.old_object.is_null());
    }

    #[test]
    fn namespace_falls_back_to_the_object() {
        let raw = json!({"object": {"metadata": {"namespace": "team-b"}}});
        assert_eq!(
            AdmissionRequest::from_value(&raw).unwrap().namespace,
            "team-b"
        );
    }

    #[test]
    fn non_object_is_an_error() {
        assert!(AdmissionRequest::from_value(&json!("x")).is_err());
    }
}
