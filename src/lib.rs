//! Kubewarden policy that adds `imagePullSecrets` to pod specs whose images match configured
//! rules, and checks that those secrets exist and hold credentials for the images' registries.
//!
//! Here: the waPC entry points and the dispatch of a request to its decision. Every module is
//! private; the items re-exported below are what the tests and fuzz targets drive.

mod cluster;
mod dockerconfig;
mod evaluate;
mod image_ref;
mod json_pointer;
mod kinds;
mod lookup_error;
mod matcher;
mod merge;
mod namespace_scope;
mod object;
mod outcome;
mod pod_spec;
mod reference;
mod registry_host;
mod request;
mod response;
mod selector;
mod service_accounts;
mod settings;
mod splice;
mod verify;

/// Read access to the cluster, as `validate` gets it from the host, and a Secret as read.
pub use crate::cluster::{Cluster, Secret};
/// What the kubelet reads from docker-config Secrets: the registry keys, and whether a key
/// covers an image (`credentialprovider.URLsMatch`, Docker Hub's legacy key).
pub use crate::dockerconfig::{covers_any, key_covers, registry_keys, DockerConfigError};
/// An image reference normalised as rules compare it, and as the kubelet looks credentials up.
pub use crate::image_ref::ImageRef;
/// Why a cluster lookup gave no object, and how to read that from the host's error text.
pub use crate::lookup_error::{classify as classify_lookup_error, Denial, LookupError};
/// Registry patterns from the settings, and why one does not compile.
pub use crate::matcher::{PatternError, PatternErrorKind, RegistryPattern};
/// The merge: the `imagePullSecrets` list a pod spec ends up with.
pub use crate::merge::merged_pull_secrets;
/// The distribution reference grammar (`name[:tag][@digest]`), equal to oci-spec's for ASCII.
pub use crate::reference::{parse as parse_reference, Reference, ReferenceError};
/// Docker Hub's canonical name, and a registry host normalised as the rules compare it.
pub use crate::registry_host::{canonical_registry, DOCKER_HUB};
/// The settings, compiled; a [`Rule`] tells which images need its secret.
pub use crate::settings::{OnMissingSecret, Rule, Settings, Templates};

/// For the fuzz targets (the `testing` feature): an in-memory cluster, the canary credentials
/// planted in its Secrets, and the plain evaluation the policy's answers are held to.
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::cluster::HostCluster;
use crate::kinds::{Target, Workload};
use crate::outcome::Decision;
use crate::request::{Request, Shape};

#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// waPC `validate`: always answers with a response, never an error, whatever the payload holds.
fn validate(payload: &[u8]) -> CallResult {
    Ok(respond_json(payload, &mut HostCluster))
}

/// waPC `validate_settings`: a parse or compile failure is an invalid-settings answer naming the field.
fn validate_settings(payload: &[u8]) -> CallResult {
    let message = Settings::from_slice(payload).err();
    let response = SettingsValidationResponse {
        valid: message.is_none(),
        message,
    };
    Ok(serde_json::to_vec(&response)?)
}

/// The answer to a `validate` payload (`{"request": ..., "settings": ...}`), parsed.
pub fn respond<C: Cluster>(payload: &[u8], cluster: &mut C) -> ValidationResponse {
    serde_json::from_slice(&respond_json(payload, cluster)).unwrap_or_else(|error| {
        response::response_of(Decision::Reject {
            message: format!("internal error: the answer does not read back: {error}"),
            code: Some(500),
            warnings: Vec::new(),
        })
    })
}

/// The answer to a `validate` payload as the JSON the host reads.
pub fn respond_json<C: Cluster>(payload: &[u8], cluster: &mut C) -> Vec<u8> {
    let (decision, object) = decide(payload, cluster, object::read);
    response::write(decision, object)
}

/// The decision for a payload, and the request's object text that a mutation is spliced into.
fn decide<'p, C: Cluster>(
    payload: &'p [u8],
    cluster: &mut C,
    read_object: object::Reader,
) -> (Decision, Option<&'p RawValue>) {
    decide_readable(payload, cluster, read_object)
        .unwrap_or_else(|message| (Decision::bad_request(message), None))
}

/// The same; the error is the message of a 400, for a payload, settings or object that does not
/// read.
fn decide_readable<'p, C: Cluster>(
    payload: &'p [u8],
    cluster: &mut C,
    read_object: object::Reader,
) -> Result<(Decision, Option<&'p RawValue>), String> {
    let (sent, settings) = request::read(payload)?;
    let Shape::Object(sent) = sent else {
        return Err(settings
            .err()
            .unwrap_or_else(|| "the admission request is not a JSON object".to_string()));
    };
    let (group, version, kind) = sent.gvk();
    let custom = || match &settings {
        Ok(settings) => settings.custom_resource_of((group, version, kind)),
        Err(message) => Err(message.clone()),
    };
    let operation = &sent.operation.0;
    let Some(target) = kinds::target((group, kind), operation, sent.sub_resource(), custom)? else {
        return Ok((Decision::accept(), None));
    };
    let settings = settings?;
    let shape = match &target {
        Target::PodSpecs(workload) => workload.shape(),
        Target::EphemeralContainers => Workload::Pod.shape(),
        Target::ServiceAccount => Some(&service_accounts::SERVICE_ACCOUNT),
    };
    let read = |raw: Option<&RawValue>| {
        raw.map_or(Ok(Value::Null), |raw| read_object(raw, shape))
            .map_err(|error| format!("the admission request does not parse: {error}"))
    };
    let (object, old_object) = (read(sent.object)?, read(sent.old_object())?);
    let namespace = match sent.namespace.0.as_ref() {
        "" => json_pointer::value_at(&object, "/metadata/namespace").and_then(Value::as_str),
        namespace => Some(namespace),
    };
    let request = Request {
        kind,
        operation: &sent.operation.0,
        namespace: namespace.unwrap_or_default(),
        object: &object,
        old_object: &old_object,
    };
    let decision = match target {
        Target::PodSpecs(workload) => evaluate::pod_specs(&request, workload, &settings, cluster),
        Target::EphemeralContainers => evaluate::ephemeral_containers(&request, &settings, cluster),
        Target::ServiceAccount => service_accounts::evaluate(&request, &settings, cluster),
    };
    Ok((decision, sent.object))
}

/// The decision for `request` with `settings`, through the production reader.
#[cfg(test)]
pub(crate) fn decide_request<C: Cluster>(
    request: &Value,
    settings: &Value,
    cluster: &mut C,
) -> Decision {
    let payload = serde_json::json!({"request": request, "settings": settings});
    decide(
        &serde_json::to_vec(&payload).unwrap(),
        cluster,
        object::read,
    )
    .0
}

/// `settings`, checked to be valid.
#[cfg(test)]
pub(crate) fn valid(settings: Value) -> Value {
    Settings::from_value(settings.clone()).expect("valid test settings");
    settings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{respond_plainly, MemoryCluster};
    use serde_json::json;

    /// The answer of `respond` (read pruned, spliced) beside the plain evaluation's, as JSON.
    fn answered_and_full(request: &Value, settings: &Value) -> (Value, Value) {
        let payload =
            serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
        let answered = respond(&payload, &mut MemoryCluster::default());
        let plain = respond_plainly(&payload, &mut MemoryCluster::default());
        (
            serde_json::to_value(answered).unwrap(),
            serde_json::to_value(plain).unwrap(),
        )
    }

    /// Every kind, operation and sub-resource: the dispatch answers as the plain evaluation.
    #[test]
    fn every_kind_and_operation_answers_as_the_plain_evaluation() {
        let settings = json!({"rules": [{"secret": "corp", "registries": ["reg.example"]}], "verifySecrets": false,
            "serviceAccounts": [{"secret": "hub"}],
            "customResources": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "$.spec.template.spec"}]});
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a", "image": "reg.example/a"}],
                     "ephemeralContainers": [{"name": "d", "image": "reg.example/d"}]}});
        let kinds = [
            ("", "v1", "Pod"),
            ("", "v1", "ConfigMap"),
            ("apps", "v1", "Deployment"),
            ("argoproj.io", "v1alpha1", "Rollout"),
            ("argoproj.io", "v1", "Rollout"),
            ("", "v1", "ServiceAccount"),
        ];
        for (group, version, kind) in kinds {
            for operation in ["CREATE", "UPDATE", "DELETE", "CONNECT"] {
                for sub_resource in ["", "status", "ephemeralcontainers"] {
                    let request = json!({"uid": "u", "kind": {"group": group, "version": version, "kind": kind},
                        "operation": operation, "subResource": sub_resource, "namespace": "team-a",
                        "object": pod, "oldObject": {"spec": {"containers": []}}});
                    let (answered, full) = answered_and_full(&request, &settings);
                    assert_eq!(answered, full, "{kind} {operation} {sub_resource:?}");
                }
            }
        }
    }

    /// Odd spellings and shapes of the request's fields read as the plain evaluation reads them.
    #[test]
    fn odd_requests_answer_as_the_plain_evaluation() {
        let settings = json!({"rules": [{"secret": "corp", "registries": ["reg.example"]}], "verifySecrets": false});
        let pod = |image: &str| {
            json!({"metadata": {"name": "p", "namespace": "team-b"},
            "spec": {"containers": [{"name": "a", "image": image, "env": [{"name": "E"}]}]}})
        };
        let requests = [
            json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "object": pod("reg.example/a")}),
            json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "UPDATE", "sub_resource": "ephemeralcontainers",
                   "namespace": "team-a", "object": pod("reg.example/a"), "old_object": pod("nginx")}),
            json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "UPDATE", "namespace": "team-a",
                   "object": pod("reg.example/b"), "oldObject": pod("reg.example/a")}),
            json!({"kind": null, "operation": "CREATE", "object": pod("reg.example/a")}),
            json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": 7, "namespace": 3, "object": pod("reg.example/a")}),
            json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": ["x"], "object": pod("reg.example/a")}),
            json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "object": 5}),
            json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "object": {"spec": []}}),
        ];
        for request in requests {
            let (answered, full) = answered_and_full(&request, &settings);
            assert_eq!(answered, full, "{request}");
        }
    }

    /// A number out of f64's range where the policy reads is a 400; where it skips, the number
    /// is not read at all (the hosts parse every request into serde_json's `Value` before the
    /// policy sees it, so they never send one).
    #[test]
    fn out_of_range_numbers_are_read_only_where_the_policy_reads() {
        let payload = |spec: &str| {
            format!(
                r#"{{"request": {{"kind": {{"kind": "Pod"}}, "operation": "CREATE", "object": {{"spec": {spec}}}}},
            "settings": {{"rules": [{{"secret": "corp", "registries": ["reg.example"]}}], "verifySecrets": false}}}}"#
            )
        };
        let read = respond(
            payload(r#"{"containers": [{"image": 1e999}]}"#).as_bytes(),
            &mut MemoryCluster::default(),
        );
        assert_eq!(read.code, Some(400));
        let skipped = respond_json(
            payload(r#"{"containers": [{"image": "reg.example/a"}], "x": 1e999}"#).as_bytes(),
            &mut MemoryCluster::default(),
        );
        assert!(String::from_utf8(skipped)
            .unwrap()
            .contains(r#""x": 1e999,"imagePullSecrets":[{"name":"corp"}]"#));
    }

    #[rstest::rstest]
    #[case::not_json(b"{".as_slice(), "the validation payload is not valid JSON: EOF while parsing an object at line 1 column 1")]
    #[case::not_an_object(b"[1]".as_slice(), "the validation payload is not a JSON object")]
    #[case::no_request(br#"{"settings": {"rules": [{"secret": "a", "images": ["x"]}]}}"#.as_slice(), "the admission request is not a JSON object")]
    #[case::request_not_an_object(br#"{"request": 3}"#.as_slice(), "invalid settings: rules: is required; add at least one rule with a secret and registries or images")]
    #[case::object_does_not_parse(br#"{"request": {"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {"spec": 1e999}}, "settings": {"rules": [{"secret": "a", "images": ["x"]}]}}"#.as_slice(), "the admission request does not parse: number out of range at line 1 column 14")]
    #[case::settings_do_not_parse(br#"{"request": {"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {}}, "settings": {"rules": [{"secret": "a", "images": "x"}]}}"#.as_slice(), "invalid settings: rules[0].images: invalid type: string \"x\", expected a sequence")]
    #[case::settings_do_not_parse_before_the_request(br#"{"settings": {"rules": [], "inject": 1}, "request": {"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {}}}"#.as_slice(), "invalid settings: inject: invalid type: integer `1`, expected a boolean")]
    #[case::not_utf8(b"{\"request\": \"\xff\"}".as_slice(), "the validation payload is not valid JSON: invalid UTF-8 at byte 13")]
    fn unreadable_payloads_are_bad_requests(#[case] payload: &[u8], #[case] message: &str) {
        let answer = respond(payload, &mut MemoryCluster::default());
        assert_eq!(
            (answer.accepted, answer.code, answer.message.as_deref()),
            (false, Some(400), Some(message))
        );
    }

    /// The policy's answer to `payload` is the plain evaluation's.
    fn assert_answered_as_plainly(payload: &str) {
        let answered =
            serde_json::to_value(respond(payload.as_bytes(), &mut MemoryCluster::default()));
        let plain = serde_json::to_value(respond_plainly(
            payload.as_bytes(),
            &mut MemoryCluster::default(),
        ));
        assert_eq!(answered.unwrap(), plain.unwrap(), "{payload}");
    }

    /// Settings that do not parse with the payload are read again from their text; the last of
    /// two `settings` counts, as in the plain evaluation, whichever of them does not parse.
    #[test]
    fn settings_that_do_not_parse_with_the_payload_are_read_as_the_plain_evaluation() {
        let request = r#"{"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {"spec": {"containers": [{"image": "reg.example/a"}]}}}"#;
        let good = r#"{"rules": [{"secret": "corp", "registries": ["reg.example"]}], "verifySecrets": false}"#;
        let bad = r#"{"rules": [{"secret": "corp", "registries": "reg.example"}]}"#;
        for (first, last) in [(bad, good), (good, bad), (bad, bad), (good, good)] {
            let payload =
                format!(r#"{{"settings": {first}, "request": {request}, "settings": {last}}}"#);
            assert_answered_as_plainly(&payload);
        }
    }

    /// Duplicate keys in the request: the last one counts, as in the plain evaluation.
    #[test]
    fn duplicate_and_escaped_keys_read_as_the_plain_evaluation() {
        let settings = r#"{"rules": [{"secret": "corp", "registries": ["reg.example"]}], "verifySecrets": false}"#;
        for request in [
            r#"{"kind": {"kind": "ConfigMap"}, "kind": {"kind": "Pod"}, "operation": "CREATE", "object": {"spec": {"containers": [{"image": "reg.example/a"}]}}}"#,
            r#"{"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {"spec": {"containers": [{"image": "reg.example/a"}]}, "spec": {"containers": []}}}"#,
            r#"{"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {"sp\u0065c": {"containers": [{"image": "reg.example/a"}], "imagePullSecrets": [], "imagePull\u0053ecrets": [{"name": "own"}]}}}"#,
        ] {
            let payload = format!(r#"{{"request": {request}, "settings": {settings}}}"#);
            assert_answered_as_plainly(&payload);
        }
    }

    fn container() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let image = prop_oneof![
            Just(json!("reg.example/app:1")),
            Just(json!("nginx:1.27")),
            Just(json!(42)),
            Just(json!(null)),
        ];
        let extra = prop_oneof![
            Just(
                json!({"env": [{"name": "E", "value": "1"}], "resources": {"limits": {"cpu": "1"}}})
            ),
            Just(json!({"imagePullPolicy": "Always", "ports": [{"containerPort": 80}]})),
            Just(json!({"imagePullPolicy": "IfNotPresent"})),
            Just(json!({"imagePullPolicy": "Never", "z": 1})),
            Just(json!({"containers": [{"name": "nested", "image": "reg.example/x"}]})),
            Just(json!({})),
        ];
        (prop_oneof![Just(json!("c")), Just(json!(7))], image, extra).prop_map(
            |(name, image, extra)| {
                let mut container = extra;
                container["name"] = name;
                container["image"] = image;
                container
            },
        )
    }

    proptest::proptest! {
        /// Reading objects with only the fields the policy reads, and writing mutations by
        /// splicing, answer exactly what the plain evaluation (whole objects, clone-and-insert) does.
        #[test]
        fn pruned_reading_and_splicing_change_no_answer(
            containers in proptest::collection::vec(container(), 0..4),
            init in proptest::collection::vec(container(), 0..2),
            old_image in proptest::sample::select(vec!["reg.example/app:1", "reg.example/app:2", "nginx:1.27"]),
            listed in proptest::option::of(proptest::sample::select(vec![json!([]), json!([{"name": "own"}]), json!([{"name": "own", "extra": {"a": 1}}, 3]), json!(null)])),
            account in proptest::option::of(proptest::sample::select(vec![json!("builder"), json!(3)])),
            annotations in proptest::sample::select(vec![json!(null), json!({"a": "b"}), json!({"kubernetes.io/config.mirror": "x"})]),
            owners in proptest::sample::select(vec![json!(null), json!([{"kind": "Deployment", "name": "d", "controller": true}]), json!([{"kind": "X", "controller": false}])]),
            operation in proptest::sample::select(vec!["CREATE", "UPDATE"]),
            pull_policy in proptest::sample::select(vec![None, Some("Always")]),
            kind in proptest::sample::select(vec![("", "Pod", "/spec"), ("apps", "Deployment", "/spec/template/spec"), ("apps", "ReplicaSet", "/spec/template/spec"), ("batch", "Job", "/spec/template/spec"), ("batch", "CronJob", "/spec/jobTemplate/spec/template/spec")]),
        ) {
            let (group, kind, pointer) = kind;
            let mut spec = json!({"containers": containers, "initContainers": init, "volumes": [{"name": "v"}],
                "affinity": {"nodeAffinity": {}}, "tolerations": [{"key": "k"}]});
            if let Some(listed) = listed {
                spec["imagePullSecrets"] = listed;
            }
            if let Some(account) = account {
                spec["serviceAccountName"] = account;
            }
            let metadata = json!({"name": "w", "labels": {"app": "w"}, "annotations": annotations,
                "ownerReferences": owners, "managedFields": [{"manager": "m"}]});
            let with_spec = |spec: serde_json::Value| {
                let mut object = json!({"apiVersion": "v1", "kind": kind, "metadata": metadata,
                    "status": {"phase": "Running", "containerStatuses": [{"image": "reg.example/other"}]}});
                let mut cursor = &mut object;
                for key in pointer.trim_start_matches('/').split('/') {
                    cursor = &mut cursor[key];
                }
                *cursor = spec;
                object
            };
            let object = with_spec(spec.clone());
            let mut old_spec = spec;
            old_spec["containers"] = json!([{"name": "c", "image": old_image}]);
            let mut request = json!({"uid": "u", "kind": {"group": group, "version": "v1", "kind": kind},
                "operation": operation, "namespace": "team-a", "object": object});
            if operation == "UPDATE" {
                request["oldObject"] = with_spec(old_spec);
            }
            let settings = json!({"rules": [{"secret": "corp", "registries": ["reg.example"], "imagePullPolicy": pull_policy}], "verifySecrets": false});
            let (answered, full) = answered_and_full(&request, &settings);
            proptest::prop_assert_eq!(answered, full);
        }

        /// The same for ServiceAccounts, whose own `imagePullSecrets` the policy reads.
        #[test]
        fn pruned_reading_of_service_accounts_changes_no_answer(
            listed in proptest::option::of(proptest::sample::select(vec![json!([]), json!([{"name": "own", "x": [1]}]), json!([{"name": "hub"}]), json!(7)])),
            operation in proptest::sample::select(vec!["CREATE", "UPDATE"]),
        ) {
            let mut object = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "builder", "namespace": "team-a", "labels": {"a": "b"}},
                "secrets": [{"name": "token"}], "automountServiceAccountToken": false});
            if let Some(listed) = listed {
                object["imagePullSecrets"] = listed;
            }
            let request = json!({"uid": "u", "kind": {"group": "", "version": "v1", "kind": "ServiceAccount"},
                "operation": operation, "namespace": "team-a", "object": object, "oldObject": object});
            let settings = json!({"rules": [{"secret": "corp", "registries": ["reg.example"]}],
                "serviceAccounts": [{"secret": "hub"}], "verifySecrets": false});
            let (answered, full) = answered_and_full(&request, &settings);
            proptest::prop_assert_eq!(answered, full);
        }
    }
}
