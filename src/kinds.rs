//! The kinds of object the policy handles and where their pod specs live: the built-in
//! pod-bearing kinds at fixed paths, and configured custom resources at their JSONPath.
//! Settings compile custom resources into this module's types; nothing here reads the settings.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A configured custom resource: its API group, version and kind, and where its pod specs live.
#[derive(Debug, Clone)]
pub struct CustomResource {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub pod_spec_path: JsonPath,
}

/// A built-in kind with a pod spec at a fixed JSON pointer, and the Kubernetes rules that limit
/// when the policy may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinKind {
    pub group: &'static str,
    pub kind: &'static str,
    pub pod_spec_pointer: &'static str,
    /// The API server refuses any change to the pod template after CREATE: a Job's
    /// `spec.template` (`pkg/apis/batch/validation`: `ValidateJobSpecUpdate` →
    /// `validatePodTemplateUpdate`). Such objects are mutated on CREATE only.
    pub template_immutable: bool,
    /// A controlling owner builds this object from its own template and finds it again by
    /// comparing templates: the Deployment controller's `EqualIgnoreHash`
    /// (`pkg/controller/deployment/util`), Argo Rollouts likewise. A secret added here and not in
    /// the owner makes the owner miss it and create another one, again and again. Such objects
    /// are left alone while an `ownerReferences` entry has `controller: true`; the owner's own
    /// template is where the secret belongs, and the pods they create get it at Pod CREATE.
    pub owner_compares_template: bool,
}

const fn kind(
    group: &'static str,
    kind: &'static str,
    pod_spec_pointer: &'static str,
) -> BuiltinKind {
    BuiltinKind {
        group,
        kind,
        pod_spec_pointer,
        template_immutable: false,
        owner_compares_template: false,
    }
}

const TEMPLATE: &str = "/spec/template/spec";

/// Pods, and every built-in kind with a pod template. Jobs owned by a CronJob and pods owned by
/// any controller are still mutated on CREATE: their owners create them and never compare them
/// with their own template (`pkg/controller/cronjob`, `pkg/controller/replicaset`), and a
/// StatefulSet's or DaemonSet's revisions are told apart by hash labels, not by comparing specs.
const BUILTIN_KINDS: [BuiltinKind; 8] = [
    kind("", "Pod", "/spec"),
    kind("apps", "Deployment", TEMPLATE),
    BuiltinKind {
        owner_compares_template: true,
        ..kind("apps", "ReplicaSet", TEMPLATE)
    },
    kind("apps", "StatefulSet", TEMPLATE),
    kind("apps", "DaemonSet", TEMPLATE),
    kind("", "ReplicationController", TEMPLATE),
    BuiltinKind {
        template_immutable: true,
        ..kind("batch", "Job", TEMPLATE)
    },
    kind("batch", "CronJob", "/spec/jobTemplate/spec/template/spec"),
];

/// The built-in kind for an API group and kind, if the policy handles it natively.
pub fn builtin_kind(group: &str, kind: &str) -> Option<BuiltinKind> {
    BUILTIN_KINDS
        .iter()
        .copied()
        .find(|b| b.group == group && b.kind == kind)
}

/// What kind of object a request carries, as far as pull secrets are concerned.
#[derive(Debug, Clone, Copy)]
pub enum Workload<'s> {
    /// A Pod: its own spec.
    Pod,
    /// A built-in controller: its pod template.
    Template(BuiltinKind),
    /// A configured custom resource.
    Custom(&'s CustomResource),
    /// Anything else: accepted unchanged.
    Unhandled,
}

impl<'s> Workload<'s> {
    /// Classifies a request's kind: a built-in kind, one of `custom_resources`, or unhandled.
    pub fn of(
        group: &str,
        version: &str,
        kind: &str,
        custom_resources: &'s [CustomResource],
    ) -> Workload<'s> {
        match builtin_kind(group, kind) {
            Some(builtin) if builtin.kind == "Pod" => Workload::Pod,
            Some(builtin) => Workload::Template(builtin),
            None => custom_resources
                .iter()
                .find(|c| c.group == group && c.version == version && c.kind == kind)
                .map_or(Workload::Unhandled, Workload::Custom),
        }
    }

    /// JSON pointers to every pod spec in `object`. A built-in kind without its spec is malformed;
    /// a custom resource whose path selects nothing simply has no pod spec.
    pub fn pod_spec_pointers(&self, object: &Value) -> Result<Vec<String>, String> {
        match self {
            Workload::Pod => builtin_pointer("Pod", "/spec", object),
            Workload::Template(builtin) => {
                builtin_pointer(builtin.kind, builtin.pod_spec_pointer, object)
            }
            Workload::Custom(custom) => Ok(custom
                .pod_spec_path
                .query_located(object)
                .into_iter()
                .filter(|node| node.node().is_object())
                .map(|node| node.location().to_json_pointer())
                .collect()),
            Workload::Unhandled => Ok(Vec::new()),
        }
    }

    /// Whether the policy must leave this object's pod specs alone in a CREATE or UPDATE: a Job's
    /// template on UPDATE, or a ReplicaSet built by its controlling owner.
    pub fn is_hands_off(&self, operation: &str, object: &Value) -> bool {
        match self {
            Workload::Template(builtin) => {
                (builtin.template_immutable && operation == "UPDATE")
                    || (builtin.owner_compares_template && has_controller(object))
            }
            _ => false,
        }
    }

    /// Pod templates (not Pods) lose the ServiceAccount's pull secrets once they list their own.
    pub fn is_template(&self) -> bool {
        matches!(self, Workload::Template(_) | Workload::Custom(_))
    }
}

fn builtin_pointer(kind: &str, pointer: &str, object: &Value) -> Result<Vec<String>, String> {
    match value_at(object, pointer) {
        Some(Value::Object(_)) => Ok(vec![pointer.to_string()]),
        Some(_) => Err(format!("{kind} {} is not an object", dotted(pointer))),
        None => Err(format!("{kind} has no {}", dotted(pointer))),
    }
}

/// Whether an `ownerReferences` entry has `controller: true` (at most one may, by API validation).
fn has_controller(object: &Value) -> bool {
    value_at(object, "/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|owner| owner.get("controller") == Some(&Value::Bool(true)))
        })
}

/// The value at a JSON pointer (RFC 6901), as `serde_json::Value::pointer` finds it, without
/// allocating for tokens that need no unescaping (every built-in kind's pointer).
pub(crate) fn value_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(value);
    }
    pointer
        .strip_prefix('/')?
        .split('/')
        .try_fold(value, |target, token| {
            let token = match token.contains('~') {
                true => std::borrow::Cow::Owned(token.replace("~1", "/").replace("~0", "~")),
                false => std::borrow::Cow::Borrowed(token),
            };
            match target {
                Value::Object(fields) => fields.get(token.as_ref()),
                Value::Array(items) => array_index(&token).and_then(|index| items.get(index)),
                _ => None,
            }
        })
}

/// An array index token: digits without a leading zero (or `+`), as serde_json reads them.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// `/spec/template/spec` as `spec.template.spec`, the way users read it.
pub fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    proptest::proptest! {
        /// `value_at` finds exactly what serde_json's `Value::pointer` finds.
        #[test]
        fn value_at_is_serde_jsons_pointer(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec!["spec", "a/b", "a~b", "~01", "0", "1", "01", "+1", "", "x"]),
                0..4,
            ),
            root in proptest::sample::select(vec![0usize, 1, 2]),
        ) {
            let documents = [
                json!({"spec": {"a/b": [{"x": 1}, {"0": 2}], "a~b": {"~01": 3, "": 4}, "0": [5]}, "": {"x": 6}}),
                json!([{"spec": 1}, [{"a/b": 2}], {"01": 3, "+1": 4}]),
                json!({"spec": {"spec": {"spec": {"x": [1, 2]}}}}),
            ];
            let escaped: Vec<String> = tokens.iter().map(|t| t.replace('~', "~0").replace('/', "~1")).collect();
            let pointer: String = escaped.iter().map(|t| format!("/{t}")).collect();
            for pointer in [pointer.clone(), pointer.trim_start_matches('/').to_string()] {
                proptest::prop_assert_eq!(value_at(&documents[root], &pointer), documents[root].pointer(&pointer), "{}", pointer);
            }
        }
    }

    fn custom(group: &str, version: &str, kind: &str, path: &str) -> CustomResource {
        CustomResource {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            pod_spec_path: JsonPath::parse(path).unwrap(),
        }
    }

    fn custom_resources() -> Vec<CustomResource> {
        vec![
            custom("argoproj.io", "v1alpha1", "Rollout", "$.spec.template.spec"),
            custom(
                "example.com",
                "v1",
                "Multi",
                "$.spec.workers[*].template.spec",
            ),
        ]
    }

    #[rstest]
    #[case::pod("", "v1", "Pod", json!({"spec": {}}), vec!["/spec"])]
    #[case::deployment("apps", "v1", "Deployment", json!({"spec": {"template": {"spec": {}}}}), vec!["/spec/template/spec"])]
    #[case::replica_set("apps", "v1", "ReplicaSet", json!({"spec": {"template": {"spec": {}}}}), vec!["/spec/template/spec"])]
    #[case::stateful_set("apps", "v1", "StatefulSet", json!({"spec": {"template": {"spec": {}}}}), vec!["/spec/template/spec"])]
    #[case::daemon_set("apps", "v1", "DaemonSet", json!({"spec": {"template": {"spec": {}}}}), vec!["/spec/template/spec"])]
    #[case::replication_controller("", "v1", "ReplicationController", json!({"spec": {"template": {"spec": {}}}}), vec!["/spec/template/spec"])]
    #[case::job("batch", "v1", "Job", json!({"spec": {"template": {"spec": {}}}}), vec!["/spec/template/spec"])]
    #[case::cron_job("batch", "v1", "CronJob", json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {}}}}}}), vec!["/spec/jobTemplate/spec/template/spec"])]
    #[case::rollout("argoproj.io", "v1alpha1", "Rollout", json!({"spec": {"template": {"spec": {}}}}), vec!["/spec/template/spec"])]
    #[case::rollout_without_template("argoproj.io", "v1alpha1", "Rollout", json!({"spec": {"workloadRef": {}}}), vec![])]
    #[case::several_specs("example.com", "v1", "Multi", json!({"spec": {"workers": [{"template": {"spec": {}}}, {"template": {"spec": {}}}]}}), vec!["/spec/workers/0/template/spec", "/spec/workers/1/template/spec"])]
    #[case::unhandled("", "v1", "ConfigMap", json!({"data": {}}), vec![])]
    #[case::other_version_of_custom("argoproj.io", "v1", "Rollout", json!({"spec": {"template": {"spec": {}}}}), vec![])]
    fn finds_pod_specs(
        #[case] group: &str,
        #[case] version: &str,
        #[case] kind: &str,
        #[case] object: Value,
        #[case] expected: Vec<&str>,
    ) {
        let custom_resources = custom_resources();
        let workload = Workload::of(group, version, kind, &custom_resources);
        assert_eq!(workload.pod_spec_pointers(&object).unwrap(), expected);
    }

    #[rstest]
    #[case::pod_without_spec("", "Pod", json!({"metadata": {}}), "Pod has no spec")]
    #[case::spec_not_object("", "Pod", json!({"spec": []}), "Pod spec is not an object")]
    #[case::deployment_without_template("apps", "Deployment", json!({"spec": {}}), "Deployment has no spec.template.spec")]
    #[case::cron_job_without_job_template("batch", "CronJob", json!({"spec": {}}), "CronJob has no spec.jobTemplate.spec.template.spec")]
    fn malformed_builtins(
        #[case] group: &str,
        #[case] kind: &str,
        #[case] object: Value,
        #[case] message: &str,
    ) {
        let custom_resources = custom_resources();
        assert_eq!(
            Workload::of(group, "v1", kind, &custom_resources)
                .pod_spec_pointers(&object)
                .unwrap_err(),
            message
        );
    }

    fn owned_by(controller: Value) -> Value {
        json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u", "controller": controller}]}})
    }

    // batch validation: ValidateJobSpecUpdate → validatePodTemplateUpdate (template immutable).
    // deployment util: EqualIgnoreHash finds a Deployment's ReplicaSet by its template.
    #[rstest]
    #[case::job_create("batch", "Job", "CREATE", json!({}), false)]
    #[case::job_update("batch", "Job", "UPDATE", json!({}), true)]
    #[case::cron_job_update("batch", "CronJob", "UPDATE", json!({}), false)]
    #[case::controlled_replica_set("apps", "ReplicaSet", "CREATE", owned_by(json!(true)), true)]
    #[case::controlled_replica_set_update("apps", "ReplicaSet", "UPDATE", owned_by(json!(true)), true)]
    #[case::owned_not_controlling("apps", "ReplicaSet", "CREATE", owned_by(json!(false)), false)]
    #[case::controller_not_a_bool("apps", "ReplicaSet", "CREATE", owned_by(json!("true")), false)]
    #[case::standalone_replica_set("apps", "ReplicaSet", "CREATE", json!({}), false)]
    #[case::controlled_deployment("apps", "Deployment", "CREATE", owned_by(json!(true)), false)]
    #[case::controlled_job("batch", "Job", "CREATE", owned_by(json!(true)), false)]
    fn hands_off(
        #[case] group: &str,
        #[case] kind: &str,
        #[case] operation: &str,
        #[case] object: Value,
        #[case] expected: bool,
    ) {
        let custom_resources = custom_resources();
        assert_eq!(
            Workload::of(group, "v1", kind, &custom_resources).is_hands_off(operation, &object),
            expected
        );
    }

    #[test]
    fn templates_are_not_pods() {
        let custom_resources = custom_resources();
        assert!(!Workload::of("", "v1", "Pod", &custom_resources).is_template());
        assert!(Workload::of("apps", "v1", "Deployment", &custom_resources).is_template());
        assert!(
            Workload::of("argoproj.io", "v1alpha1", "Rollout", &custom_resources).is_template()
        );
    }
}
