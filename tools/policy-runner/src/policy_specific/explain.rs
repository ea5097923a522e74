//! `explain`: an AdmissionResponse line, as `run` prints it, told in words next to the request
//! it answers. The decision, the warnings, the JSON patch decoded one operation per line, and
//! each pod spec's `imagePullSecrets` before and after the patch.
//!
//! [`explanation`] is a pure function of request and response; `explain` only reads files.

use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::Value;

use crate::cli::ExplainArgs;
use crate::request::{parse_document, read_input, AdmissionRequest, ValidateRequest};
use crate::response::AdmissionResponse;

/// Reads both inputs and returns the explanation text.
pub fn explain(options: &ExplainArgs) -> Result<String> {
    if options.request_path == "-" && options.response == "-" {
        bail!("the request and the response cannot both come from standard input; pass --response <FILE>");
    }
    let document = parse_document(&read_input(&options.request_path)?, &options.request_path)?;
    let ValidateRequest::AdmissionRequest(request) =
        ValidateRequest::from_document(document, false)?
    else {
        unreachable!("from_document builds an AdmissionRequest unless asked for raw")
    };
    let response = parse_response(&read_input(&options.response)?)
        .with_context(|| format!("cannot read the response from {}", options.response))?;
    Ok(explanation(&request, &response))
}

/// The response as `run` prints it; an AdmissionReview carrying a `response` is unwrapped.
/// Surrounding lines that are not JSON (a shell's echo, notes) are skipped: the last JSON
/// line wins.
pub fn parse_response(text: &str) -> Result<AdmissionResponse> {
    let parsed = serde_json::from_str::<Value>(text.trim()).or_else(|whole| {
        text.lines()
            .rev()
            .find_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
            .ok_or(whole)
    });
    let mut value = match parsed {
        Ok(value) => value,
        Err(error) if text.trim().is_empty() => bail!("it is empty ({error})"),
        Err(error) => bail!("it is not an AdmissionResponse JSON line: {error}"),
    };
    if value.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        value = value
            .get_mut("response")
            .map(Value::take)
            .context("the AdmissionReview has no response")?;
    }
    serde_json::from_value(value).context("it is not an AdmissionResponse")
}

/// The human-readable summary of `response` as the answer to `request`.
pub fn explanation(request: &AdmissionRequest, response: &AdmissionResponse) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", subject(request));
    if response.uid != request.uid {
        let _ = writeln!(
            out,
            "note: the response's uid {:?} is not the request's {:?}",
            response.uid, request.uid
        );
    }
    out.push_str(&decision(response));
    out.push_str(&warnings(response.warnings.as_deref().unwrap_or_default()));
    let patch = decode_patch(response);
    out.push_str(&patch_summary(&patch));
    out.push_str(&pull_secrets_summary(request, &patch));
    out
}

/// `Pod team-a/billing (CREATE, uid ...)`.
fn subject(request: &AdmissionRequest) -> String {
    let object = request.object.as_ref().or(request.old_object.as_ref());
    let name = object
        .and_then(|o| o.pointer("/metadata/name"))
        .and_then(Value::as_str)
        .or(request.name.as_deref())
        .map(str::to_owned)
        .or_else(|| {
            object
                .and_then(|o| o.pointer("/metadata/generateName"))
                .and_then(Value::as_str)
                .map(|prefix| format!("{prefix}<generated>"))
        })
        .unwrap_or_else(|| "<unnamed>".to_owned());
    let namespaced = match request.namespace.as_deref() {
        Some(namespace) if !namespace.is_empty() => format!("{namespace}/{name}"),
        _ => name,
    };
    let sub_resource = request
        .sub_resource
        .as_deref()
        .map(|s| format!(" on sub-resource {s}"))
        .unwrap_or_default();
    format!(
        "{} {namespaced}: {}{sub_resource} (uid {})",
        request.kind.kind, request.operation, request.uid
    )
}

fn decision(response: &AdmissionResponse) -> String {
    let status = response.status.as_ref();
    let message = status.and_then(|s| s.message.as_deref());
    let code = status.and_then(|s| s.code);
    let mut out = if response.allowed {
        "decision: allowed\n".to_owned()
    } else {
        match code {
            Some(code) => format!("decision: rejected, code {code}\n"),
            None => "decision: rejected, no code given\n".to_owned(),
        }
    };
    if let Some(message) = message {
        out.push_str(&indented_block("message", message));
    }
    if response.allowed {
        if let Some(code) = code {
            let _ = writeln!(out, "status code: {code}");
        }
    }
    out
}

fn warnings(warnings: &[String]) -> String {
    match warnings {
        [] => "warnings: none\n".to_owned(),
        _ => {
            let mut out = format!("warnings: {}\n", warnings.len());
            for warning in warnings {
                out.push_str(&bullet(warning));
            }
            out
        }
    }
}

/// The patch as the API server would apply it, or why it cannot be read.
enum Patch {
    None,
    Operations(Vec<Value>),
    Unreadable(String),
}

fn decode_patch(response: &AdmissionResponse) -> Patch {
    let Some(encoded) = &response.patch else {
        return Patch::None;
    };
    let bytes = match STANDARD.decode(encoded) {
        Ok(bytes) => bytes,
        Err(error) => return Patch::Unreadable(format!("not base64: {error}")),
    };
    match serde_json::from_slice::<Vec<Value>>(&bytes) {
        Ok(operations) => Patch::Operations(operations),
        Err(error) => Patch::Unreadable(format!("not a JSON patch: {error}")),
    }
}

fn patch_summary(patch: &Patch) -> String {
    match patch {
        Patch::None => "patch: none\n".to_owned(),
        Patch::Unreadable(reason) => format!("patch: cannot be decoded ({reason})\n"),
        Patch::Operations(operations) => {
            let mut out = format!(
                "patch: {} operation{}\n",
                operations.len(),
                plural(operations.len())
            );
            for operation in operations {
                out.push_str(&bullet(&describe_operation(operation)));
            }
            out
        }
    }
}

/// `add /spec/imagePullSecrets/1 {"name":"corp-registry"}`, `move /a -> /b`, ...
fn describe_operation(operation: &Value) -> String {
    let field = |name: &str| operation.get(name).and_then(Value::as_str).unwrap_or("?");
    let op = field("op");
    match op {
        "move" | "copy" => format!("{op} {} -> {}", field("from"), field("path")),
        "remove" => format!("remove {}", field("path")),
        _ => match operation.get("value") {
            Some(value) => format!("{op} {} {value}", field("path")),
            None => format!("{op} {}", field("path")),
        },
    }
}

fn pull_secrets_summary(request: &AdmissionRequest, patch: &Patch) -> String {
    let Some(before) = &request.object else {
        return "imagePullSecrets: the request carries no object\n".to_owned();
    };
    let after = match patch {
        Patch::Operations(operations) => apply(before, operations),
        Patch::None => Ok(before.clone()),
        Patch::Unreadable(_) => Err("the patch cannot be decoded".to_owned()),
    };
    let mut out = String::new();
    for location in pod_spec_locations(&request.kind.kind, before, patch) {
        let listed_before = pull_secrets_at(before, &location);
        let _ = writeln!(out, "imagePullSecrets at {location}:");
        let _ = writeln!(out, "  before: {}", listed_before.describe());
        match &after {
            Err(reason) => {
                let _ = writeln!(out, "  after:  unknown, {reason}");
            }
            Ok(after) => {
                let listed_after = pull_secrets_at(after, &location);
                if listed_after == listed_before {
                    let _ = writeln!(out, "  after:  unchanged");
                } else {
                    let _ = writeln!(out, "  after:  {}", listed_after.describe());
                    let added = listed_after.names_not_in(&listed_before);
                    if !added.is_empty() {
                        let _ = writeln!(out, "  added:  {}", added.join(", "));
                    }
                    let removed = listed_before.names_not_in(&listed_after);
                    if !removed.is_empty() {
                        let _ = writeln!(out, "  removed: {}", removed.join(", "));
                    }
                }
            }
        }
    }
    if out.is_empty() {
        out.push_str("imagePullSecrets: the object has no pod spec\n");
    }
    out
}

fn apply(object: &Value, operations: &[Value]) -> Result<Value, String> {
    let patch: json_patch::Patch = serde_json::from_value(Value::Array(operations.to_vec()))
        .map_err(|e| format!("the patch is not valid RFC 6902: {e}"))?;
    let mut patched = object.clone();
    json_patch::patch(&mut patched, &patch)
        .map_err(|e| format!("the patch does not apply to the object: {e}"))?;
    Ok(patched)
}

/// Where the pod specs are: the kind's own location (Pod: `/spec`; CronJob: its job
/// template's pod template; other workloads: `/spec/template/spec`) if the object has it,
/// plus any spec the patch edits `imagePullSecrets` of (custom resources).
fn pod_spec_locations(kind: &str, object: &Value, patch: &Patch) -> Vec<String> {
    let builtin = match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    };
    let mut locations = Vec::new();
    if object.pointer(builtin).is_some() {
        locations.push(builtin.to_owned());
    }
    if let Patch::Operations(operations) = patch {
        for operation in operations {
            let path = operation.get("path").and_then(Value::as_str).unwrap_or("");
            if let Some((spec, _)) = path.split_once("/imagePullSecrets") {
                if !locations.iter().any(|l| l == spec) {
                    locations.push(spec.to_owned());
                }
            }
        }
    }
    locations
}

/// A pod spec's `imagePullSecrets`, as far as a reader cares.
#[derive(Debug, PartialEq)]
enum PullSecrets {
    NotSet,
    Listed(Vec<Option<String>>),
    NotAList(Value),
}

fn pull_secrets_at(object: &Value, location: &str) -> PullSecrets {
    match object
        .pointer(location)
        .and_then(|spec| spec.get("imagePullSecrets"))
    {
        None | Some(Value::Null) => PullSecrets::NotSet,
        Some(Value::Array(entries)) => PullSecrets::Listed(
            entries
                .iter()
                .map(|entry| entry.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect(),
        ),
        Some(other) => PullSecrets::NotAList(other.clone()),
    }
}

impl PullSecrets {
    fn describe(&self) -> String {
        match self {
            PullSecrets::NotSet => "(not set)".to_owned(),
            PullSecrets::Listed(names) if names.is_empty() => "(empty list)".to_owned(),
            PullSecrets::Listed(names) => names
                .iter()
                .map(|name| match name.as_deref() {
                    Some("") => "(empty name)".to_owned(),
                    Some(name) => name.to_owned(),
                    None => "(entry without a name)".to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            PullSecrets::NotAList(value) => format!("not a list: {value}"),
        }
    }

    fn names(&self) -> Vec<&str> {
        match self {
            PullSecrets::Listed(names) => names.iter().flatten().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    fn names_not_in(&self, other: &PullSecrets) -> Vec<String> {
        let theirs = other.names();
        self.names()
            .into_iter()
            .filter(|name| !theirs.contains(name))
            .map(str::to_owned)
            .collect()
    }
}

/// `label: text`, continuation lines indented under the text.
fn indented_block(label: &str, text: &str) -> String {
    hanging(&format!("{label}: "), text)
}

/// `  - text`, continuation lines indented under the text.
fn bullet(text: &str) -> String {
    hanging("  - ", text)
}

fn hanging(lead: &str, text: &str) -> String {
    let mut lines = text.lines();
    let mut out = format!("{lead}{}\n", lines.next().unwrap_or_default());
    for line in lines {
        let _ = writeln!(out, "{:width$}{line}", "", width = lead.len());
    }
    out
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::AdmissionResponseStatus;
    use serde_json::json;

    fn request(kind: &str, object: Value) -> AdmissionRequest {
        serde_json::from_value(json!({
            "uid": "u-1",
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": "x"},
            "operation": "CREATE",
            "namespace": "team-a",
            "userInfo": {},
            "object": object,
        }))
        .unwrap()
    }

    fn patched(operations: Value) -> AdmissionResponse {
        AdmissionResponse {
            uid: "u-1".into(),
            allowed: true,
            patch_type: Some("JSONPatch".into()),
            patch: Some(STANDARD.encode(operations.to_string())),
            ..Default::default()
        }
    }

    fn pod() -> Value {
        json!({
            "metadata": {"name": "billing"},
            "spec": {
                "imagePullSecrets": [{"name": "team-a-mirror"}],
                "containers": [{"name": "billing", "image": "registry.corp.example:5000/billing:2"}],
            },
        })
    }

    #[test]
    fn pod_mutation_lists_operations_and_the_secrets_before_and_after() {
        let response = patched(json!([
            {"op": "add", "path": "/spec/imagePullSecrets/1", "value": {"name": "corp-registry"}},
            {"op": "add", "path": "/spec/imagePullSecrets/2", "value": {"name": "dockerhub"}},
        ]));
        assert_eq!(
            explanation(&request("Pod", pod()), &response),
            "\
Pod team-a/billing: CREATE (uid u-1)
decision: allowed
warnings: none
patch: 2 operations
  - add /spec/imagePullSecrets/1 {\"name\":\"corp-registry\"}
  - add /spec/imagePullSecrets/2 {\"name\":\"dockerhub\"}
imagePullSecrets at /spec:
  before: team-a-mirror
  after:  team-a-mirror, corp-registry, dockerhub
  added:  corp-registry, dockerhub
"
        );
    }

    #[test]
    fn rejection_shows_code_and_every_message_line_and_warning() {
        let response = AdmissionResponse {
            uid: "u-1".into(),
            allowed: false,
            status: Some(AdmissionResponseStatus {
                message: Some("first line\nsecond line".into()),
                code: Some(403),
            }),
            warnings: Some(vec!["w one".into(), "w two".into()]),
            ..Default::default()
        };
        assert_eq!(
            explanation(&request("Pod", pod()), &response),
            "\
Pod team-a/billing: CREATE (uid u-1)
decision: rejected, code 403
message: first line
         second line
warnings: 2
  - w one
  - w two
patch: none
imagePullSecrets at /spec:
  before: team-a-mirror
  after:  unchanged
"
        );
    }

    #[test]
    fn rejection_without_code_says_so() {
        let response = AdmissionResponse {
            uid: "u-1".into(),
            allowed: false,
            status: Some(AdmissionResponseStatus {
                message: Some("no".into()),
                code: None,
            }),
            ..Default::default()
        };
        let text = explanation(&request("Pod", pod()), &response);
        assert!(
            text.contains("decision: rejected, no code given\nmessage: no\n"),
            "{text}"
        );
    }

    #[test]
    fn each_kind_has_its_pod_spec_location() {
        let template = json!({"template": {"spec": {"imagePullSecrets": [], "containers": []}}});
        let cases = [
            (
                "Deployment",
                json!({"spec": template}),
                "/spec/template/spec",
            ),
            (
                "CronJob",
                json!({"spec": {"jobTemplate": {"spec": template}}}),
                "/spec/jobTemplate/spec/template/spec",
            ),
            ("Job", json!({"spec": template}), "/spec/template/spec"),
        ];
        for (kind, object, location) in cases {
            let response = patched(json!([
                {"op": "add", "path": format!("{location}/imagePullSecrets/0"), "value": {"name": "sa-mirror"}},
                {"op": "add", "path": format!("{location}/imagePullSecrets/1"), "value": {"name": "corp-registry"}},
            ]));
            let text = explanation(&request(kind, object), &response);
            assert!(
                text.contains(&format!(
                    "imagePullSecrets at {location}:\n  before: (empty list)\n  after:  sa-mirror, corp-registry\n  added:  sa-mirror, corp-registry\n"
                )),
                "{kind}: {text}"
            );
        }
    }

    #[test]
    fn custom_resource_specs_are_found_through_the_patch() {
        let object = json!({"spec": {"workers": {"pod": {"containers": []}}}});
        let response = patched(json!([
            {"op": "add", "path": "/spec/workers/pod/imagePullSecrets", "value": [{"name": "corp"}]},
        ]));
        let text = explanation(&request("Rollout", object), &response);
        assert!(
            text.contains(
                "imagePullSecrets at /spec/workers/pod:\n  before: (not set)\n  after:  corp\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn unusual_entries_and_operations_are_shown_readably() {
        let mut object = pod();
        object["spec"]["imagePullSecrets"] = json!([{"name": ""}, {}]);
        let response = patched(json!([
            {"op": "remove", "path": "/spec/imagePullSecrets/1"},
            {"op": "move", "from": "/a", "path": "/b"},
        ]));
        let text = explanation(&request("Pod", object), &response);
        assert!(
            text.contains("  - remove /spec/imagePullSecrets/1\n  - move /a -> /b\n"),
            "{text}"
        );
        assert!(
            text.contains("  before: (empty name), (entry without a name)\n  after:  unknown, the patch does not apply to the object"),
            "{text}"
        );
    }

    #[test]
    fn undecodable_patch_and_uid_mismatch_are_reported() {
        let mut response = patched(json!([]));
        response.patch = Some("%%%".into());
        response.uid = "other".into();
        let text = explanation(&request("Pod", pod()), &response);
        assert!(
            text.contains("note: the response's uid \"other\" is not the request's \"u-1\""),
            "{text}"
        );
        assert!(
            text.contains("patch: cannot be decoded (not base64"),
            "{text}"
        );
        assert!(
            text.contains("after:  unknown, the patch cannot be decoded"),
            "{text}"
        );
    }

    #[test]
    fn delete_requests_have_no_object_to_show() {
        let mut req = request("Pod", Value::Null);
        req.object = None;
        req.old_object = Some(pod());
        req.operation = "DELETE".into();
        let response = AdmissionResponse {
            uid: "u-1".into(),
            allowed: true,
            ..Default::default()
        };
        assert_eq!(
            explanation(&req, &response),
            "Pod team-a/billing: DELETE (uid u-1)\ndecision: allowed\nwarnings: none\npatch: none\nimagePullSecrets: the request carries no object\n"
        );
    }

    #[test]
    fn response_lines_are_read_as_run_prints_them() {
        let line = r#"{"uid":"u","allowed":true,"auditAnnotations":null,"warnings":null}"#;
        assert!(parse_response(line).unwrap().allowed);
        let with_noise = format!("note: something\n{line}\n");
        assert_eq!(parse_response(&with_noise).unwrap().uid, "u");
        let review = format!(r#"{{"kind":"AdmissionReview","response":{line}}}"#);
        assert_eq!(parse_response(&review).unwrap().uid, "u");
        assert!(parse_response("")
            .unwrap_err()
            .to_string()
            .starts_with("it is empty"));
        assert!(parse_response("Error: boom")
            .unwrap_err()
            .to_string()
            .starts_with("it is not an AdmissionResponse JSON line"));
    }
}
