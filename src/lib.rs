//! Kubewarden policy that adds `imagePullSecrets` to pod specs whose images match configured
//! rules, and checks that those secrets exist and hold credentials for the images' registries.
//!
//! The waPC entry points live here; the decision is in `evaluate`, the host calls in `cluster`.
//! Every module is private to the crate. The items re-exported below are the public API: what the
//! integration tests (`tests/`) and the fuzz targets (`fuzz/`) drive the policy through.

mod cluster;
mod dockerconfig;
mod evaluate;
mod host;
mod host_error;
mod image_ref;
mod inject;
mod kinds;
mod matcher;
mod namespace_scope;
mod pod_spec;
mod pruned;
mod reference;
mod request;
mod selector;
mod service_accounts;
mod settings;
mod splice;
mod triage;
mod verify;

/// Read access to the cluster ([`Cluster`]), as `validate` gets it from the host, and the
/// Secret as the policy reads it.
pub use crate::cluster::{Cluster, Secret};
/// What the kubelet reads from docker-config Secrets: the registry keys, and whether a key
/// covers an image (`credentialprovider.URLsMatch`, Docker Hub's legacy key).
pub use crate::dockerconfig::{covers_any, key_covers, registry_keys, DockerConfigError};
/// Docker Hub's canonical name, and a registry host normalised as the rules compare it.
pub use crate::host::{canonical_registry, DOCKER_HUB};
/// Why a cluster lookup gave no object, and how to read that from the host's error text.
pub use crate::host_error::{classify as classify_host_error, Denial, LookupError};
/// An image reference normalised as rules compare it, and as the kubelet looks credentials up.
pub use crate::image_ref::ImageRef;
/// The merge: the `imagePullSecrets` list a pod spec ends up with.
pub use crate::inject::merged_pull_secrets;
/// Where the pod specs of a request's object live.
pub use crate::kinds::Workload;
/// Registry patterns from the settings, and why one does not compile.
pub use crate::matcher::{PatternError, PatternErrorKind, RegistryPattern};
/// The distribution reference grammar (`name[:tag][@digest]`), equal to oci-spec's for ASCII.
pub use crate::reference::{parse as parse_reference, Reference, ReferenceError};
/// The admission request fields the policy reads.
pub use crate::request::AdmissionRequest;
/// A compiled `namespaceSelector`, matched as Kubernetes matches a `metav1.LabelSelector`.
pub use crate::selector::LabelSelector;
/// A compiled `serviceAccounts` entry.
pub use crate::service_accounts::ServiceAccountSecret;
/// The settings, compiled once; a [`Rule`] tells which images need its secret.
pub use crate::settings::{OnMissingSecret, Rule, Settings};

/// An in-memory cluster with scripted answers and a record of every lookup, and the canary
/// credentials planted in its Secrets, for the fuzz targets: behind the `testing` feature.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    pub use crate::cluster::memory::{MemoryCluster, CANARY, CANARY_B64};
}

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::value::RawValue;

use crate::cluster::HostCluster;
use crate::evaluate::{evaluate, Decision};

#[no_mangle]
pub extern "C" fn wapc_init() {
    #[cfg(not(floor_answer))]
    guest::register_function("validate", validate);
    #[cfg(floor_answer)]
    {
        guest::register_function("validate", sized_floor::validate);
        guest::register_function("policy_validate", validate);
    }
    guest::register_function("validate_settings", validate_settings);
    guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// Benchmarks only, never in a release build: compiled with `RUSTFLAGS="--cfg floor_answer"`
/// (benches/floor/build.sh), `validate` answers the bytes of the file `FLOOR_ANSWER` names without
/// reading the request, while the policy's own `validate` stays in the module under another name.
/// The module is then this policy's size with the floor's behaviour: what the module's size,
/// data and initial memory cost a fresh instance, apart from the policy's work.
#[cfg(floor_answer)]
mod sized_floor {
    pub(crate) fn validate(_payload: &[u8]) -> super::CallResult {
        Ok(include_bytes!(env!("FLOOR_ANSWER")).to_vec())
    }
}

/// waPC `validate`: always answers with a response, never an error, whatever the payload holds.
fn validate(payload: &[u8]) -> CallResult {
    Ok(respond_json(payload, &mut HostCluster))
}

/// waPC `validate_settings`: a parse or compile failure is an invalid-settings answer naming the field.
fn validate_settings(payload: &[u8]) -> CallResult {
    let response = match Settings::from_slice(payload) {
        Ok(_) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => SettingsValidationResponse {
            valid: false,
            message: Some(message),
        },
    };
    Ok(serde_json::to_vec(&response)?)
}

/// The full answer to a `validate` payload (`{"request": ..., "settings": ...}`), parsed.
pub fn respond<C: Cluster>(payload: &[u8], cluster: &mut C) -> ValidationResponse {
    let json = respond_json(payload, cluster);
    serde_json::from_slice(&json).unwrap_or_else(|error| ValidationResponse {
        accepted: false,
        message: Some(format!(
            "internal error: the answer does not read back: {error}"
        )),
        code: Some(500),
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    })
}

/// The answer to a `validate` payload as the JSON the host reads: what the waPC `validate`
/// export returns (benchmarks and profilers call this).
pub fn respond_json<C: Cluster>(payload: &[u8], cluster: &mut C) -> Vec<u8> {
    let answer = match answer(payload, cluster) {
        Answer::Decided(response) => serde_json::to_vec(&response),
        Answer::Mutated { object, warnings } => mutation_response(&object, &warnings),
    };
    answer.unwrap_or_else(|error| {
        format!(r#"{{"accepted":false,"message":"internal error: the answer does not serialise: {error}","code":500}}"#).into_bytes()
    })
}

/// `ValidationResponse`'s JSON for a mutation, its fields in the SDK's order, written around the
/// mutated object's text. That text is the request's own object (valid JSON, since it was
/// parsed) with serialised lists spliced in, so it is copied as is rather than checked again.
fn mutation_response(object: &str, warnings: &[String]) -> Result<Vec<u8>, serde_json::Error> {
    const HEAD: &str = r#"{"accepted":true,"message":null,"code":null,"mutated_object":"#;
    const AUDIT: &str = r#","audit_annotations":null,"warnings":"#;
    let mut out = Vec::with_capacity(HEAD.len() + object.len() + AUDIT.len() + 16);
    out.extend_from_slice(HEAD.as_bytes());
    out.extend_from_slice(object.as_bytes());
    out.extend_from_slice(AUDIT.as_bytes());
    if warnings.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        serde_json::to_writer(&mut out, warnings)?;
    }
    out.push(b'}');
    Ok(out)
}

enum Answer {
    Decided(ValidationResponse),
    Mutated {
        object: String,
        warnings: Vec<String>,
    },
}

fn answer<C: Cluster>(payload: &[u8], cluster: &mut C) -> Answer {
    // UTF-8 checked once for the whole payload, so no string in it is checked again.
    let typed = std::str::from_utf8(payload)
        .ok()
        .and_then(|text| serde_json::from_str::<triage::Payload>(text).ok());
    match typed {
        Some(triage::Payload {
            request: Some(head),
            settings,
        }) => answer_typed(&head, settings, cluster),
        _ => answer_lenient(payload, cluster),
    }
}

/// The common case: the request's fields have the types the API server sends.
fn answer_typed<C: Cluster>(
    head: &triage::RequestHead,
    settings: Option<&RawValue>,
    cluster: &mut C,
) -> Answer {
    let look = triage::triage(head, settings);
    if look == triage::Triage::Ignored {
        return to_response(Decision::Accept {
            warnings: Vec::new(),
        });
    }
    let settings = match compile_settings(settings) {
        Ok(settings) => settings,
        Err(message) => return rejection(message),
    };
    // Built-in kinds are read without the container fields the policy never looks at; a
    // custom resource's JSONPath may select anything, so it is read whole.
    let parse = |raw: Option<&RawValue>| match raw {
        None => Ok(serde_json::Value::Null),
        Some(raw) if look == triage::Triage::BuiltIn => pruned::parse(raw),
        Some(raw) => serde_json::from_str(raw.get()),
    };
    let (object, old_object) = match (parse(head.object), parse(head.old_object)) {
        (Ok(object), Ok(old_object)) => (object, old_object),
        (Err(error), _) | (_, Err(error)) => {
            return rejection(format!("the admission request does not parse: {error}"))
        }
    };
    let namespace = match head.namespace.as_ref() {
        "" => kinds::value_at(&object, "/metadata/namespace")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default(),
        namespace => namespace,
    };
    let admission = AdmissionRequest {
        group: &head.kind.group,
        version: &head.kind.version,
        kind: &head.kind.kind,
        operation: &head.operation,
        sub_resource: &head.sub_resource,
        namespace,
        object: &object,
        old_object: &old_object,
    };
    decide(&admission, &settings, cluster, head.object)
}

/// A request with odd types (a number for a name, null for a kind): read leniently, as a tree.
fn answer_lenient<C: Cluster>(payload: &[u8], cluster: &mut C) -> Answer {
    let parts = match serde_json::from_slice::<triage::RawPayload>(payload) {
        Ok(parts) => parts,
        Err(error) if error.is_data() => {
            return rejection("the validation payload is not a JSON object".to_string())
        }
        Err(error) => {
            return rejection(format!("the validation payload is not valid JSON: {error}"))
        }
    };
    let settings = match compile_settings(parts.settings) {
        Ok(settings) => settings,
        Err(message) => return rejection(message),
    };
    let request: serde_json::Value = match parts.request.map(|raw| serde_json::from_str(raw.get()))
    {
        None => serde_json::Value::Null,
        Some(Ok(request)) => request,
        Some(Err(error)) => {
            return rejection(format!("the admission request does not parse: {error}"))
        }
    };
    let admission = match AdmissionRequest::from_value(&request) {
        Ok(admission) => admission,
        Err(message) => return rejection(message),
    };
    #[derive(serde::Deserialize)]
    struct ObjectText<'a> {
        #[serde(borrow)]
        object: Option<&'a RawValue>,
    }
    let object_text = parts
        .request
        .and_then(|raw| serde_json::from_str::<ObjectText>(raw.get()).ok())
        .and_then(|text| text.object);
    decide(&admission, &settings, cluster, object_text)
}

thread_local! {
    /// The settings text of the last `validate` call and what it compiled to. A host sends the
    /// same settings with every request, so an instance that serves more than one (kwctl bench,
    /// kwctl run on several requests) compiles them once. A fresh instance per request, as
    /// PolicyServer makes, pays only a copy of the text. Compiling is a pure function of the
    /// text, so the text is the whole key.
    static COMPILED: RefCell<Option<(String, Rc<Settings>)>> = const { RefCell::new(None) };
}

/// Forgets the compiled settings, so the next `validate` compiles them as a fresh instance
/// does: for benchmarks and profilers that call the policy natively in one process.
#[doc(hidden)]
pub fn forget_compiled_settings() {
    COMPILED.set(None);
}

/// The settings of a `validate` payload; the error is the message to reject with.
fn compile_settings(settings: Option<&RawValue>) -> Result<Rc<Settings>, String> {
    let text = settings.map_or("null", RawValue::get);
    let cached = COMPILED.with_borrow(|last| {
        last.as_ref()
            .filter(|(last_text, _)| last_text == text)
            .map(|(_, compiled)| Rc::clone(compiled))
    });
    if let Some(compiled) = cached {
        return Ok(compiled);
    }
    let compiled = Rc::new(
        match text {
            "null" => Settings::from_value(serde_json::Value::Null),
            raw => Settings::from_slice(raw.as_bytes()),
        }
        .map_err(|message| format!("invalid settings: {message}"))?,
    );
    COMPILED.set(Some((text.to_owned(), Rc::clone(&compiled))));
    Ok(compiled)
}

/// The decision, and for a mutation the object written from `object_text`.
fn decide<C: Cluster>(
    admission: &AdmissionRequest,
    settings: &Settings,
    cluster: &mut C,
    object_text: Option<&RawValue>,
) -> Answer {
    match evaluate(admission, settings, cluster) {
        Decision::Mutate { edits, warnings } => match mutated_object(object_text, &edits) {
            Some(object) => Answer::Mutated { object, warnings },
            None => {
                rejection("internal error: the mutated object could not be written".to_string())
            }
        },
        decision => to_response(decision),
    }
}

/// The request's object with the edits, spliced into its own text. Should the text not lead
/// where the parsed object does, the edits are applied to the whole object read anew (never to
/// the parsed one, which may lack the fields the policy does not read).
fn mutated_object(object_text: Option<&RawValue>, edits: &[splice::Edit]) -> Option<String> {
    let text = object_text?.get();
    splice::splice(text, edits).or_else(|| {
        let mut object: serde_json::Value = serde_json::from_str(text).ok()?;
        splice::apply(&mut object, edits);
        serde_json::to_string(&object).ok()
    })
}

fn to_response(decision: Decision) -> Answer {
    Answer::Decided(response_of(decision, None))
}

/// The SDK's response for a decision; a mutation's object is written apart and given here.
fn response_of(
    decision: Decision,
    mutated_object: Option<serde_json::Value>,
) -> ValidationResponse {
    let (accepted, message, code, warnings) = match decision {
        Decision::Accept { warnings } | Decision::Mutate { warnings, .. } => {
            (true, None, None, warnings)
        }
        Decision::Reject {
            message,
            code,
            warnings,
        } => (false, Some(message), code, warnings),
    };
    ValidationResponse {
        accepted,
        message,
        code,
        mutated_object,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

/// A request the policy cannot read: 400, as for a bad request.
fn rejection(message: String) -> Answer {
    to_response(Decision::Reject {
        message,
        code: Some(400),
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryCluster;
    use serde_json::json;

    /// The hand-written mutation answer is byte for byte what the SDK's `ValidationResponse`
    /// serialises to (for an object whose keys are in serde_json's order).
    #[test]
    fn the_mutation_answer_is_the_sdks_response() {
        let object = json!({"kind": "Pod", "spec": {"imagePullSecrets": [{"name": "corp"}]}});
        for warnings in [
            vec![],
            vec!["a \"quoted\" warning".to_string(), "b".to_string()],
        ] {
            let sdk = ValidationResponse {
                accepted: true,
                message: None,
                code: None,
                mutated_object: Some(object.clone()),
                audit_annotations: None,
                warnings: (!warnings.is_empty()).then(|| warnings.clone()),
            };
            assert_eq!(
                String::from_utf8(mutation_response(&object.to_string(), &warnings).unwrap()),
                String::from_utf8(serde_json::to_vec(&sdk).unwrap())
            );
        }
    }

    /// Settings are compiled once per text: the same text gives the same compiled settings,
    /// other text is compiled anew, and invalid settings are refused every time.
    #[test]
    fn settings_are_compiled_once_per_text() {
        let raw = |value: serde_json::Value| RawValue::from_string(value.to_string()).unwrap();
        let one = raw(json!({"rules": [{"secret": "corp", "registries": ["reg.example"]}]}));
        let two = raw(json!({"rules": [{"secret": "hub", "registries": ["docker.io"]}]}));
        let bad = raw(json!({"rules": []}));
        let first = compile_settings(Some(&one)).unwrap();
        assert!(Rc::ptr_eq(&first, &compile_settings(Some(&one)).unwrap()));
        let other = compile_settings(Some(&two)).unwrap();
        assert!(!Rc::ptr_eq(&first, &other));
        assert_eq!(other.rules[0].secret, "hub");
        for _ in 0..2 {
            let error = compile_settings(Some(&bad)).unwrap_err();
            assert!(
                error.starts_with("invalid settings: rules: is empty"),
                "{error}"
            );
        }
        assert_eq!(
            compile_settings(Some(&one)).unwrap().rules[0].secret,
            "corp"
        );
    }

    /// The triage answers exactly what the full evaluation would, on every request it answers.
    #[test]
    fn triage_never_changes_an_answer() {
        let settings = json!({"rules": [{"secret": "corp", "registries": ["reg.example"]}],
            "customResources": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "$.spec.template.spec"}]});
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a", "image": "reg.example/a"}]}});
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
                        "object": pod, "oldObject": pod});
                    let payload = json!({"request": request, "settings": settings});
                    let answered = respond(
                        &serde_json::to_vec(&payload).unwrap(),
                        &mut MemoryCluster::default(),
                    );
                    let decision = evaluate(
                        &AdmissionRequest::from_value(&request).unwrap(),
                        &Settings::from_value(settings.clone()).unwrap(),
                        &mut MemoryCluster::default(),
                    );
                    let (accepted, message, warnings) = match &decision {
                        Decision::Accept { warnings } | Decision::Mutate { warnings, .. } => {
                            (true, None, warnings.clone())
                        }
                        Decision::Reject {
                            message, warnings, ..
                        } => (false, Some(message.clone()), warnings.clone()),
                    };
                    let case = format!("{kind} {operation} {sub_resource:?}");
                    assert_eq!(answered.accepted, accepted, "{case}");
                    assert_eq!(answered.message, message, "{case}");
                    assert_eq!(answered.warnings.unwrap_or_default(), warnings, "{case}");
                    assert_eq!(answered.mutated_object, decision.mutated(&pod), "{case}");
                }
            }
        }
    }

    fn full_answer(
        request: &serde_json::Value,
        settings: &serde_json::Value,
    ) -> ValidationResponse {
        let decision = evaluate(
            &AdmissionRequest::from_value(request).unwrap(),
            &Settings::from_value(settings.clone()).unwrap(),
            &mut MemoryCluster::default(),
        );
        let mutated_object = decision.mutated(&request["object"]);
        response_of(decision, mutated_object)
    }

    /// The answer of `respond` (typed, pruned, spliced) to a request and settings, beside
    /// `full_answer`'s, both as JSON.
    fn answered_and_full(
        request: &serde_json::Value,
        settings: &serde_json::Value,
    ) -> (serde_json::Value, serde_json::Value) {
        let payload =
            serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
        let answered = respond(&payload, &mut MemoryCluster::default());
        (
            serde_json::to_value(answered).unwrap(),
            serde_json::to_value(full_answer(request, settings)).unwrap(),
        )
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
        /// Reading built-in kinds without the container fields the policy ignores, and writing
        /// mutations by splicing, answer exactly what the full parse with clone-and-insert did.
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
            let settings = json!({"rules": [{"secret": "corp", "registries": ["reg.example"]}], "verifySecrets": false});
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

    /// The typed reading and the lenient one (`AdmissionRequest::from_value`) agree, whichever
    /// spelling or shape the request's fields come in.
    #[test]
    fn typed_and_lenient_readings_agree() {
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
        ];
        for request in requests {
            let (answered, full) = answered_and_full(&request, &settings);
            assert_eq!(answered, full, "{request}");
        }
    }
}
