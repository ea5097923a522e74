//! The first look at a `validate` payload: requests the policy never acts on (a kind it does not
//! handle, DELETE or CONNECT, a sub-resource other than `pods/ephemeralcontainers`) are answered
//! from a handful of borrowed fields, before the settings are compiled or the object is parsed.
//! PolicyServer gives every evaluation a fresh instance, so that work would be paid per request.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::kinds::builtin_kind;

/// The payload read in one pass: the request's few fields typed and borrowed, its objects and
/// the settings left as raw text.
#[derive(Deserialize)]
pub(crate) struct Payload<'a> {
    #[serde(borrow, default)]
    pub request: Option<RequestHead<'a>>,
    #[serde(borrow, default)]
    pub settings: Option<&'a RawValue>,
}

/// The payload's two parts, unparsed: the way in for requests whose fields have odd types,
/// which the lenient `AdmissionRequest::from_value` reads.
#[derive(Deserialize)]
pub(crate) struct RawPayload<'a> {
    #[serde(borrow, default)]
    pub request: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub settings: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct GroupVersionKind<'a> {
    #[serde(borrow)]
    pub group: Cow<'a, str>,
    #[serde(borrow)]
    pub version: Cow<'a, str>,
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
}

/// The fields of an AdmissionRequest the policy reads; the objects stay raw text until needed.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct RequestHead<'a> {
    #[serde(borrow)]
    pub kind: GroupVersionKind<'a>,
    #[serde(borrow)]
    pub operation: Cow<'a, str>,
    #[serde(borrow, alias = "sub_resource")]
    pub sub_resource: Cow<'a, str>,
    #[serde(borrow)]
    pub namespace: Cow<'a, str>,
    #[serde(borrow)]
    pub object: Option<&'a RawValue>,
    #[serde(borrow, alias = "old_object")]
    pub old_object: Option<&'a RawValue>,
}

/// The settings' custom resources, the only setting that widens the kinds the policy handles.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SettingsHead<'a> {
    #[serde(borrow)]
    custom_resources: Vec<CustomResourceHead<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CustomResourceHead<'a> {
    #[serde(borrow)]
    api_version: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(rename = "podSpecPath")]
    _pod_spec_path: IgnoredAny,
}

/// What the first look found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Triage {
    /// The policy certainly does nothing with this request.
    Ignored,
    /// A Pod, a built-in workload kind or a ServiceAccount: its containers are read by name and
    /// image only.
    BuiltIn,
    /// Anything else, including configured custom resources (whose JSONPath may select any part
    /// of the object) and requests that do not read cleanly.
    Other,
}

/// Whether the request certainly needs nothing from the policy. `false` means "look closer":
/// anything that does not read cleanly goes to the full evaluation, which answers it precisely.
#[cfg(test)]
fn is_ignored(request: &RawValue, settings: Option<&RawValue>) -> bool {
    triage_text(request, settings) == Triage::Ignored
}

#[cfg(test)]
fn triage_text(request: &RawValue, settings: Option<&RawValue>) -> Triage {
    match serde_json::from_str::<RequestHead>(request.get()) {
        Ok(head) => triage(&head, settings),
        Err(_) => Triage::Other,
    }
}

/// The first look at a request: see [`Triage`].
pub(crate) fn triage(head: &RequestHead, settings: Option<&RawValue>) -> Triage {
    match (head.operation.as_ref(), head.sub_resource.as_ref()) {
        ("CREATE" | "UPDATE", "") | ("UPDATE", "ephemeralcontainers") => {}
        // Other sub-resources (status, scale, exec, ...), DELETE and CONNECT are never acted on.
        ("CREATE" | "UPDATE" | "DELETE" | "CONNECT", _) => return Triage::Ignored,
        _ => return Triage::Other,
    }
    let GroupVersionKind {
        group,
        version,
        kind,
    } = &head.kind;
    if builtin_kind(group, kind).is_some()
        || (group.as_ref(), kind.as_ref()) == ("", "ServiceAccount")
    {
        return Triage::BuiltIn;
    }
    let custom_resources = match settings.map(|s| serde_json::from_str::<SettingsHead>(s.get())) {
        None => Vec::new(),
        Some(Ok(head)) => head.custom_resources,
        Some(Err(_)) => return Triage::Other,
    };
    let configured = custom_resources.iter().any(|custom| {
        let (custom_group, custom_version) = custom
            .api_version
            .split_once('/')
            .unwrap_or(("", custom.api_version.as_ref()));
        custom_group == group.as_ref()
            && custom_version == version.as_ref()
            && custom.kind == kind.as_ref()
    });
    if configured {
        Triage::Other
    } else {
        Triage::Ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    const ROLLOUT: &str = r#"{"rules": [], "customResources": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "$.spec.template.spec"}]}"#;

    #[rstest]
    #[case::config_map(
        r#"{"kind": {"group": "", "version": "v1", "kind": "ConfigMap"}, "operation": "CREATE"}"#,
        true
    )]
    #[case::escaped_kind(r#"{"kind": {"group": "", "version": "v1", "kind": "Config\u004dap"}, "operation": "CREATE"}"#, true)]
    #[case::pod_create(
        r#"{"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE"}"#,
        false
    )]
    #[case::pod_delete(
        r#"{"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "DELETE"}"#,
        true
    )]
    #[case::pod_connect(r#"{"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CONNECT", "subResource": "exec"}"#, true)]
    #[case::status(r#"{"kind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "operation": "UPDATE", "subResource": "status"}"#, true)]
    #[case::ephemeral(r#"{"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "UPDATE", "subResource": "ephemeralcontainers"}"#, false)]
    #[case::service_account(r#"{"kind": {"group": "", "version": "v1", "kind": "ServiceAccount"}, "operation": "CREATE"}"#, false)]
    #[case::rollout(r#"{"kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout"}, "operation": "CREATE"}"#, false)]
    #[case::rollout_other_version(r#"{"kind": {"group": "argoproj.io", "version": "v1", "kind": "Rollout"}, "operation": "CREATE"}"#, true)]
    #[case::kind_not_a_string(
        r#"{"kind": {"group": "", "version": "v1", "kind": 7}, "operation": "CREATE"}"#,
        false
    )]
    #[case::unknown_operation(
        r#"{"kind": {"group": "", "version": "v1", "kind": "ConfigMap"}, "operation": "PATCH"}"#,
        false
    )]
    #[case::not_an_object("[1]", false)]
    fn answers_only_what_it_is_sure_of(#[case] request: &str, #[case] ignored: bool) {
        assert_eq!(is_ignored(&raw(request), Some(&raw(ROLLOUT))), ignored);
    }

    #[rstest]
    #[case::pod(
        r#"{"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE"}"#,
        Triage::BuiltIn
    )]
    #[case::cron_job(r#"{"kind": {"group": "batch", "version": "v1", "kind": "CronJob"}, "operation": "UPDATE"}"#, Triage::BuiltIn)]
    #[case::service_account(r#"{"kind": {"group": "", "version": "v1", "kind": "ServiceAccount"}, "operation": "CREATE"}"#, Triage::BuiltIn)]
    #[case::rollout(r#"{"kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout"}, "operation": "CREATE"}"#, Triage::Other)]
    #[case::unreadable(r#"{"kind": 3}"#, Triage::Other)]
    fn tells_built_in_kinds_from_custom_ones(#[case] request: &str, #[case] expected: Triage) {
        assert_eq!(triage_text(&raw(request), Some(&raw(ROLLOUT))), expected);
    }

    #[test]
    fn unreadable_settings_are_looked_at_closely() {
        let request = raw(
            r#"{"kind": {"group": "", "version": "v1", "kind": "ConfigMap"}, "operation": "CREATE"}"#,
        );
        assert!(!is_ignored(
            &request,
            Some(&raw(r#"{"customResources": 3}"#))
        ));
        assert!(is_ignored(&request, None));
    }
}
