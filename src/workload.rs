//! Where the pod specs live in each kind of object the policy handles: the built-in pod-bearing
//! kinds at fixed paths, and custom resources at their configured JSONPath.

use serde_json::Value;

use crate::settings::{CustomResource, Settings};

/// A built-in kind with a pod spec at a fixed JSON pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinKind {
    pub group: &'static str,
    pub kind: &'static str,
    pub pod_spec_pointer: &'static str,
}

const BUILTIN_KINDS: [BuiltinKind; 8] = [
    BuiltinKind {
        group: "",
        kind: "Pod",
        pod_spec_pointer: "/spec",
    },
    BuiltinKind {
        group: "apps",
        kind: "Deployment",
        pod_spec_pointer: "/spec/template/spec",
    },
    BuiltinKind {
        group: "apps",
        kind: "ReplicaSet",
        pod_spec_pointer: "/spec/template/spec",
    },
    BuiltinKind {
        group: "apps",
        kind: "StatefulSet",
        pod_spec_pointer: "/spec/template/spec",
    },
    BuiltinKind {
        group: "apps",
        kind: "DaemonSet",
        pod_spec_pointer: "/spec/template/spec",
    },
    BuiltinKind {
        group: "",
        kind: "ReplicationController",
        pod_spec_pointer: "/spec/template/spec",
    },
    BuiltinKind {
        group: "batch",
        kind: "Job",
        pod_spec_pointer: "/spec/template/spec",
    },
    BuiltinKind {
        group: "batch",
        kind: "CronJob",
        pod_spec_pointer: "/spec/jobTemplate/spec/template/spec",
    },
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
    /// Classifies a request's kind.
    pub fn of(group: &str, version: &str, kind: &str, settings: &'s Settings) -> Workload<'s> {
        match builtin_kind(group, kind) {
            Some(builtin) if builtin.kind == "Pod" => Workload::Pod,
            Some(builtin) => Workload::Template(builtin),
            None => settings
                .custom_resources
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

    /// Pod templates (not Pods) lose the ServiceAccount's pull secrets once they list their own.
    pub fn is_template(&self) -> bool {
        matches!(self, Workload::Template(_) | Workload::Custom(_))
    }
}

fn builtin_pointer(kind: &str, pointer: &str, object: &Value) -> Result<Vec<String>, String> {
    match object.pointer(pointer) {
        Some(Value::Object(_)) => Ok(vec![pointer.to_string()]),
        Some(_) => Err(format!("{kind} {} is not an object", dotted(pointer))),
        None => Err(format!("{kind} has no {}", dotted(pointer))),
    }
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

    fn settings() -> Settings {
        Settings::from_value(json!({
            "rules": [{"secret": "s", "registries": ["docker.io"]}],
            "customResources": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "$.spec.template.spec"},
                                {"apiVersion": "example.com/v1", "kind": "Multi", "podSpecPath": "$.spec.workers[*].template.spec"}]
        }))
        .unwrap()
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
        let settings = settings();
        let workload = Workload::of(group, version, kind, &settings);
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
        let settings = settings();
        assert_eq!(
            Workload::of(group, "v1", kind, &settings)
                .pod_spec_pointers(&object)
                .unwrap_err(),
            message
        );
    }

    #[test]
    fn templates_are_not_pods() {
        let settings = settings();
        assert!(!Workload::of("", "v1", "Pod", &settings).is_template());
        assert!(Workload::of("apps", "v1", "Deployment", &settings).is_template());
        assert!(Workload::of("argoproj.io", "v1alpha1", "Rollout", &settings).is_template());
    }
}
