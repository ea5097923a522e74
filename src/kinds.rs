//! What a request is to the policy (the one place that decides it), the kinds of object it
//! handles, where their pod specs live (built-in kinds at fixed paths, configured custom
//! resources at their JSONPath), which parts of them it reads, and when it may change them.
//! Settings compile custom resources into this module's types; nothing here reads the settings.

use serde_json::Value;
use serde_json_path::JsonPath;

use crate::json_pointer::value_at;
use crate::object::Keep;
use crate::pod_spec::POD_SPEC;

/// A configured custom resource: its API group, version and kind, and where its pod specs live.
#[derive(Debug, Clone)]
pub struct CustomResource {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub pod_spec_path: JsonPath,
}

/// A built-in kind with a pod spec at a fixed JSON pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinKind {
    pub group: &'static str,
    pub kind: &'static str,
    pub pod_spec_pointer: &'static str,
    /// What of the object the policy reads: `METADATA` and the way down to the pod spec.
    pub shape: &'static Keep,
}

const fn kind(
    group: &'static str,
    kind: &'static str,
    pod_spec_pointer: &'static str,
    shape: &'static Keep,
) -> BuiltinKind {
    BuiltinKind {
        group,
        kind,
        pod_spec_pointer,
        shape,
    }
}

/// What of an object's metadata the policy reads: the name (ServiceAccounts), the namespace
/// (when the request names none), annotations (mirror pods) and owners' `controller`.
pub(crate) const METADATA: Keep = Keep::Fields(&[
    ("name", Keep::Whole),
    ("namespace", Keep::Whole),
    ("annotations", Keep::Whole),
    (
        "ownerReferences",
        Keep::Items(&Keep::Fields(&[("controller", Keep::Whole)])),
    ),
]);
const TEMPLATE: &str = "/spec/template/spec";
/// A pod template is kept whole: an UPDATE that changes any of it (`kubectl rollout restart`
/// sets an annotation there) starts new pods, one that changes none of it does not.
const TEMPLATE_SPEC: Keep = Keep::Fields(&[("template", Keep::Whole)]);
const POD: Keep = Keep::Fields(&[("metadata", METADATA), ("spec", POD_SPEC)]);
const WITH_TEMPLATE: Keep = Keep::Fields(&[("metadata", METADATA), ("spec", TEMPLATE_SPEC)]);
const CRON_JOB: Keep = Keep::Fields(&[
    ("metadata", METADATA),
    (
        "spec",
        Keep::Fields(&[("jobTemplate", Keep::Fields(&[("spec", TEMPLATE_SPEC)]))]),
    ),
]);

/// Pods, and every built-in kind with a pod template. Jobs owned by a CronJob and pods owned by
/// any controller are still mutated on CREATE: their owners create them and never compare them
/// with their own template (`pkg/controller/cronjob`, `pkg/controller/replicaset`), and a
/// StatefulSet's or DaemonSet's revisions are told apart by hash labels, not by comparing specs.
const BUILTIN_KINDS: [BuiltinKind; 8] = [
    kind("", "Pod", "/spec", &POD),
    kind("apps", "Deployment", TEMPLATE, &WITH_TEMPLATE),
    kind("apps", "ReplicaSet", TEMPLATE, &WITH_TEMPLATE),
    kind("apps", "StatefulSet", TEMPLATE, &WITH_TEMPLATE),
    kind("apps", "DaemonSet", TEMPLATE, &WITH_TEMPLATE),
    kind("", "ReplicationController", TEMPLATE, &WITH_TEMPLATE),
    kind("batch", "Job", TEMPLATE, &WITH_TEMPLATE),
    kind(
        "batch",
        "CronJob",
        "/spec/jobTemplate/spec/template/spec",
        &CRON_JOB,
    ),
];

/// The annotation the kubelet puts on mirror pods; NodeRestriction rejects them if they name secrets.
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// What a request is to the policy: decided once, by [`target`], and handed to the step that
/// decides it.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A Pod, a built-in kind with a pod template, or a configured custom resource, on CREATE or
    /// UPDATE.
    PodSpecs(Workload),
    /// `pods/ephemeralcontainers`: ephemeral containers added to a running pod.
    EphemeralContainers,
    /// A ServiceAccount CREATE or UPDATE.
    ServiceAccount,
}

/// What a request is; `None`: nothing to do (a kind the policy does not handle, DELETE or
/// CONNECT, another sub-resource). `custom` finds the configured custom resource of a kind the
/// policy does not know, and is asked only for those; its error is a 400's message.
pub(crate) fn target(
    (group, kind): (&str, &str),
    operation: &str,
    sub_resource: &str,
    custom: impl FnOnce() -> Result<Option<CustomResource>, String>,
) -> Result<Option<Target>, String> {
    let target = match (operation, sub_resource, group, kind) {
        ("UPDATE", "ephemeralcontainers", "", "Pod") => Target::EphemeralContainers,
        ("CREATE" | "UPDATE", "", "", "ServiceAccount") => Target::ServiceAccount,
        ("CREATE" | "UPDATE", "", _, _) => Target::PodSpecs(match builtin_kind(group, kind) {
            Some(builtin) if builtin.kind == "Pod" => Workload::Pod,
            Some(builtin) => Workload::Template(builtin),
            None => match custom()? {
                Some(custom) => Workload::Custom(custom),
                None => return Ok(None),
            },
        }),
        _ => return Ok(None),
    };
    Ok(Some(target))
}

/// The built-in kind for an API group and kind, if the policy handles it natively.
pub fn builtin_kind(group: &str, kind: &str) -> Option<BuiltinKind> {
    let named = |builtin: &BuiltinKind| builtin.group == group && builtin.kind == kind;
    BUILTIN_KINDS.into_iter().find(named)
}

/// What kind of object a request carries, as far as pull secrets are concerned.
#[derive(Debug, Clone)]
pub enum Workload {
    /// A Pod: its own spec.
    Pod,
    /// A built-in controller: its pod template.
    Template(BuiltinKind),
    /// A configured custom resource.
    Custom(CustomResource),
}

impl Workload {
    /// What of the object the policy reads; `None`: all of it (a custom resource's JSONPath may
    /// select any part).
    pub fn shape(&self) -> Option<&'static Keep> {
        match self {
            Workload::Pod => Some(&POD),
            Workload::Template(builtin) => Some(builtin.shape),
            Workload::Custom(_) => None,
        }
    }

    /// JSON pointers to every pod spec in `object`: where the kind keeps it, or where a custom
    /// resource's path selects an object (it may select nothing, or something else).
    pub fn pod_spec_pointers(&self, object: &Value) -> Vec<String> {
        let builtin = |pointer: &str| match value_at(object, pointer) {
            Some(spec) if spec.is_object() => vec![pointer.to_string()],
            _ => Vec::new(),
        };
        match self {
            Workload::Pod => builtin("/spec"),
            Workload::Template(kind) => builtin(kind.pod_spec_pointer),
            Workload::Custom(custom) => custom
                .pod_spec_path
                .query_located(object)
                .into_iter()
                .filter(|node| node.node().is_object())
                .map(|node| node.location().to_json_pointer())
                .collect(),
        }
    }

    /// Whether the policy must leave this object's pod specs alone in a CREATE or UPDATE: a Job's
    /// template on UPDATE, a ReplicaSet built by its controlling owner (any workload's, when
    /// templates are `checked`), or a mirror pod.
    pub fn is_hands_off(&self, operation: &str, object: &Value, checked: bool) -> bool {
        match self {
            // Its owner was checked when its template was written, and its pods are checked
            // when they are created.
            Workload::Template(_) | Workload::Custom(_) if checked && has_controller(object) => {
                true
            }
            // The API server refuses any change to a Job's pod template after CREATE
            // (`pkg/apis/batch/validation`: `ValidateJobSpecUpdate` → `validatePodTemplateUpdate`),
            // so Jobs are mutated on CREATE only.
            Workload::Template(builtin) if builtin.kind == "Job" => operation == "UPDATE",
            // A controlling owner builds this object from its own template and finds it again by
            // comparing templates: the Deployment controller's `EqualIgnoreHash`
            // (`pkg/controller/deployment/util`), Argo Rollouts likewise. A secret added here and
            // not in the owner makes the owner miss it and create another one, again and again.
            // Such ReplicaSets are left alone while an `ownerReferences` entry has `controller:
            // true`; the owner's own template is where the secret belongs, and the pods they
            // create get it at Pod CREATE.
            Workload::Template(builtin) if builtin.kind == "ReplicaSet" => has_controller(object),
            Workload::Template(_) | Workload::Custom(_) => false,
            Workload::Pod => value_at(object, "/metadata/annotations")
                .and_then(|annotations| annotations.get(MIRROR_POD_ANNOTATION))
                .is_some(),
        }
    }

    /// Pod templates (not Pods) lose the ServiceAccount's pull secrets once they list their own.
    pub fn is_template(&self) -> bool {
        matches!(self, Workload::Template(_) | Workload::Custom(_))
    }

    /// Whether an UPDATE leaves the pod templates as they were (replicas, labels, status), so it
    /// starts no pod: the whole template of a built-in kind, the pod specs of a custom resource.
    pub fn templates_unchanged(&self, object: &Value, old_object: &Value) -> bool {
        match self {
            Workload::Pod => false,
            Workload::Template(builtin) => {
                let pointer = builtin.pod_spec_pointer;
                let template = pointer.strip_suffix("/spec").unwrap_or(pointer);
                value_at(object, template) == value_at(old_object, template)
            }
            Workload::Custom(custom) => {
                let path = &custom.pod_spec_path;
                path.query(object).all() == path.query(old_object).all()
            }
        }
    }
}

/// Whether an `ownerReferences` entry has `controller: true` (at most one may, by API validation).
fn has_controller(object: &Value) -> bool {
    let owners = value_at(object, "/metadata/ownerReferences").and_then(Value::as_array);
    let is_controller = |owner: &Value| owner.get("controller") == Some(&Value::Bool(true));
    owners.is_some_and(|owners| owners.iter().any(is_controller))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_pointer::pointer_tokens;
    use rstest::rstest;
    use serde_json::json;

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
    #[case::rollout_spec_not_an_object("argoproj.io", "v1alpha1", "Rollout", json!({"spec": {"template": {"spec": [1]}}}), vec![])]
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
        let pointers = workload_at((group, version, kind))
            .map_or(Vec::new(), |workload| workload.pod_spec_pointers(&object));
        assert_eq!(pointers, expected);
    }

    /// The workload a CREATE of `(group, version, kind)` is about, with `custom_resources()`.
    fn workload_at((group, version, kind): (&str, &str, &str)) -> Option<Workload> {
        let custom = || {
            let mut configured = custom_resources().into_iter();
            Ok(configured.find(|c| {
                (c.group.as_str(), c.version.as_str(), c.kind.as_str()) == (group, version, kind)
            }))
        };
        match target((group, kind), "CREATE", "", custom) {
            Ok(Some(Target::PodSpecs(workload))) => Some(workload),
            _ => None,
        }
    }

    /// The workload of a built-in kind (`v1`) or of the configured Rollout (`v1alpha1`).
    fn workload_of(group: &str, kind: &str) -> Workload {
        let version = if group == "argoproj.io" {
            "v1alpha1"
        } else {
            "v1"
        };
        workload_at((group, version, kind)).unwrap()
    }

    fn owned_by(controller: Value) -> Value {
        json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u", "controller": controller}]}})
    }

    // batch validation: ValidateJobSpecUpdate → validatePodTemplateUpdate (template immutable).
    // deployment util: EqualIgnoreHash finds a Deployment's ReplicaSet by its template.
    // Checked templates: any workload with a controlling owner (its owner was checked).
    #[rstest]
    #[case::job_create("batch", "Job", "CREATE", json!({}), false, false)]
    #[case::job_update("batch", "Job", "UPDATE", json!({}), false, true)]
    #[case::cron_job_update("batch", "CronJob", "UPDATE", json!({}), false, false)]
    #[case::controlled_replica_set("apps", "ReplicaSet", "CREATE", owned_by(json!(true)), false, true)]
    #[case::controlled_replica_set_update("apps", "ReplicaSet", "UPDATE", owned_by(json!(true)), false, true)]
    #[case::owned_not_controlling("apps", "ReplicaSet", "CREATE", owned_by(json!(false)), false, false)]
    #[case::controller_not_a_bool("apps", "ReplicaSet", "CREATE", owned_by(json!("true")), false, false)]
    #[case::standalone_replica_set("apps", "ReplicaSet", "CREATE", json!({}), false, false)]
    #[case::controlled_deployment_injected("apps", "Deployment", "CREATE", owned_by(json!(true)), false, false)]
    #[case::controlled_job_injected("batch", "Job", "CREATE", owned_by(json!(true)), false, false)]
    #[case::controlled_job_checked("batch", "Job", "CREATE", owned_by(json!(true)), true, true)]
    #[case::controlled_deployment_checked("apps", "Deployment", "CREATE", owned_by(json!(true)), true, true)]
    #[case::controlled_custom_resource_checked("argoproj.io", "Rollout", "CREATE", owned_by(json!(true)), true, true)]
    #[case::owned_not_controlling_checked("batch", "Job", "CREATE", owned_by(json!(false)), true, false)]
    #[case::standalone_job_checked("batch", "Job", "CREATE", json!({}), true, false)]
    #[case::mirror_pod("", "Pod", "CREATE", json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "abc"}}}), false, true)]
    #[case::pod("", "Pod", "CREATE", json!({"metadata": {"annotations": {"other": "abc"}}}), false, false)]
    fn hands_off(
        #[case] group: &str,
        #[case] kind: &str,
        #[case] operation: &str,
        #[case] object: Value,
        #[case] checked: bool,
        #[case] expected: bool,
    ) {
        let workload = workload_of(group, kind);
        assert_eq!(workload.is_hands_off(operation, &object, checked), expected);
    }

    fn with_template(template: Value) -> Value {
        json!({"metadata": {"name": "web", "labels": {"v": "1"}}, "spec": {"replicas": 1, "template": template}})
    }

    /// An UPDATE starts pods only when it changes a pod template: anything in it (a rollout
    /// restart's annotation, an image), nothing outside it (replicas, labels, status).
    #[rstest]
    #[case::replicas_only("apps", "Deployment", with_template(json!({"spec": {"containers": [{"image": "a"}]}})), json!({"metadata": {"name": "web", "labels": {"v": "2"}}, "spec": {"replicas": 5, "template": {"spec": {"containers": [{"image": "a"}]}}}, "status": {"ready": 1}}), true)]
    #[case::rollout_restart("apps", "Deployment", with_template(json!({"spec": {"containers": [{"image": "a"}]}})), with_template(json!({"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-04T14:00:00Z"}}, "spec": {"containers": [{"image": "a"}]}})), false)]
    #[case::new_image("apps", "StatefulSet", with_template(json!({"spec": {"containers": [{"image": "a"}]}})), with_template(json!({"spec": {"containers": [{"image": "b"}]}})), false)]
    #[case::env_change("apps", "DaemonSet", with_template(json!({"spec": {"containers": [{"image": "a"}]}})), with_template(json!({"spec": {"containers": [{"image": "a", "env": [{"name": "E"}]}]}})), false)]
    #[case::cron_job_schedule("batch", "CronJob", json!({"spec": {"schedule": "1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}), json!({"spec": {"schedule": "2 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}), true)]
    #[case::cron_job_template("batch", "CronJob", json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}), json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}}}), false)]
    #[case::custom_pod_spec_same("argoproj.io", "Rollout", json!({"spec": {"replicas": 1, "template": {"spec": {"containers": []}}}}), json!({"spec": {"replicas": 4, "template": {"spec": {"containers": []}}}}), true)]
    #[case::custom_pod_spec_changed("argoproj.io", "Rollout", json!({"spec": {"template": {"spec": {"containers": []}}}}), json!({"spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}), false)]
    #[case::pods_are_not_templates("", "Pod", json!({"spec": {}}), json!({"spec": {}}), false)]
    fn templates_unchanged_by_an_update(
        #[case] group: &str,
        #[case] kind: &str,
        #[case] old: Value,
        #[case] new: Value,
        #[case] expected: bool,
    ) {
        let workload = workload_of(group, kind);
        assert_eq!(workload.templates_unchanged(&new, &old), expected);
    }

    #[test]
    fn templates_are_not_pods() {
        let is_template = |gvk| workload_at(gvk).unwrap().is_template();
        assert!(!is_template(("", "v1", "Pod")));
        assert!(is_template(("apps", "v1", "Deployment")));
        assert!(is_template(("argoproj.io", "v1alpha1", "Rollout")));
    }

    #[rstest]
    #[case::config_map("", "ConfigMap", "CREATE", "", "ignored")]
    #[case::pod_create("", "Pod", "CREATE", "", "Pod")]
    #[case::pod_update("", "Pod", "UPDATE", "", "Pod")]
    #[case::pod_delete("", "Pod", "DELETE", "", "ignored")]
    #[case::pod_connect("", "Pod", "CONNECT", "exec", "ignored")]
    #[case::unknown_operation("", "Pod", "PATCH", "", "ignored")]
    #[case::status("apps", "Deployment", "UPDATE", "status", "ignored")]
    #[case::ephemeral("", "Pod", "UPDATE", "ephemeralcontainers", "ephemeral containers")]
    #[case::ephemeral_create("", "Pod", "CREATE", "ephemeralcontainers", "ignored")]
    #[case::ephemeral_of_other_kind(
        "apps",
        "Deployment",
        "UPDATE",
        "ephemeralcontainers",
        "ignored"
    )]
    #[case::cron_job("batch", "CronJob", "UPDATE", "", "CronJob")]
    #[case::service_account("", "ServiceAccount", "CREATE", "", "ServiceAccount")]
    #[case::service_account_delete("", "ServiceAccount", "DELETE", "", "ignored")]
    #[case::service_account_token("", "ServiceAccount", "CREATE", "token", "ignored")]
    #[case::custom("argoproj.io", "Rollout", "CREATE", "", "Rollout")]
    #[case::unconfigured("example.com", "Widget", "CREATE", "", "ignored")]
    #[case::empty_kind("", "", "CREATE", "", "ignored")]
    fn tells_what_a_request_is(
        #[case] group: &str,
        #[case] kind: &str,
        #[case] operation: &str,
        #[case] sub_resource: &str,
        #[case] expected: &str,
    ) {
        let custom = || Ok(custom_resources().into_iter().find(|c| c.kind == kind));
        let told = match target((group, kind), operation, sub_resource, custom).unwrap() {
            None => "ignored".to_string(),
            Some(Target::EphemeralContainers) => "ephemeral containers".to_string(),
            Some(Target::ServiceAccount) => "ServiceAccount".to_string(),
            Some(Target::PodSpecs(Workload::Pod)) => "Pod".to_string(),
            Some(Target::PodSpecs(Workload::Template(builtin))) => builtin.kind.to_string(),
            Some(Target::PodSpecs(Workload::Custom(custom))) => custom.kind,
        };
        assert_eq!(told, expected);
    }

    /// Each built-in kind's shape keeps the way down its pod spec pointer to `POD_SPEC`, or its
    /// pod template whole (templates), and its metadata.
    #[test]
    fn shapes_lead_to_the_pod_spec() {
        for builtin in BUILTIN_KINDS {
            let mut keep = builtin.shape;
            for token in pointer_tokens(builtin.pod_spec_pointer).unwrap() {
                let Keep::Fields(fields) = keep else {
                    panic!("{}: no fields at {token}", builtin.kind)
                };
                keep = &fields.iter().find(|(name, _)| *name == token).unwrap().1;
                if *keep == Keep::Whole {
                    assert_eq!(token, "template", "{}", builtin.kind);
                    break;
                }
            }
            assert!(
                *keep == Keep::Whole || format!("{keep:?}") == format!("{POD_SPEC:?}"),
                "{}",
                builtin.kind
            );
            let Keep::Fields(fields) = builtin.shape else {
                unreachable!()
            };
            assert!(
                fields.iter().any(|(name, _)| *name == "metadata"),
                "{}",
                builtin.kind
            );
        }
    }
}
