//! Decision tests: each case is a request, settings and a scripted cluster, and pins the outcome,
//! the resulting pull-secret lists and the exact lookups made.

use super::*;
use crate::cluster::Denial;
use crate::cluster::Secret;
use crate::testing::{MemoryCluster as FakeCluster, CANARY, CANARY_B64};
use crate::{decide_request, valid};
use rstest::rstest;
use serde_json::json;

fn settings(extra: Value) -> Value {
    let mut base = json!({
        "rules": [
            {"secret": "corp", "registries": ["reg.example", "*.corp.example"]},
            {"secret": "hub", "images": ["acme/**"]}
        ]
    });
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    valid(base)
}

fn pod(containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "team-a"},
           "spec": {"containers": containers, "restartPolicy": "Always", "x-unknown-field": {"kept": true}}})
}

fn request(group: &str, kind: &str, operation: &str, object: Value) -> Value {
    json!({"uid": "1", "kind": {"group": group, "version": "v1", "kind": kind}, "operation": operation,
           "namespace": "team-a", "object": object})
}

fn run(request: &Value, settings: &Value, cluster: &mut FakeCluster) -> Decision {
    decide_request(request, settings, cluster)
}

fn no_verify() -> Value {
    settings(json!({"verifySecrets": false}))
}

/// The test settings with `templates: inject` and `extra`.
fn inject_templates(mut extra: Value) -> Value {
    extra["templates"] = json!("inject");
    settings(extra)
}

fn mutated_at(decision: &Decision, pointer: &str) -> Value {
    match decision {
        Decision::Mutate { edits, .. } => edits
            .iter()
            .find(|edit| format!("{}/imagePullSecrets", edit.pointer) == pointer)
            .map_or(Value::Null, |edit| edit.value.clone()),
        other => panic!("expected a mutation, got {other:?}"),
    }
}

fn template(kind_path: &str, spec: Value) -> Value {
    let mut object = json!({"metadata": {"name": "w"}});
    let pointer: Vec<&str> = kind_path.trim_start_matches('/').split('/').collect();
    let mut cursor = &mut object;
    for key in pointer {
        cursor = cursor
            .as_object_mut()
            .unwrap()
            .entry(key)
            .or_insert(json!({}));
    }
    *cursor = spec;
    object
}

#[test]
fn pod_create_gets_matching_secret() {
    let req = request(
        "",
        "Pod",
        "CREATE",
        pod(json!([{"name": "app", "image": "reg.example/app:1"}])),
    );
    let decision = run(&req, &no_verify(), &mut FakeCluster::default());
    assert_eq!(
        mutated_at(&decision, "/spec/imagePullSecrets"),
        json!([{"name": "corp"}])
    );
}

#[test]
fn mutation_changes_nothing_but_the_list() {
    let object = pod(json!([{"name": "app", "image": "reg.example/app:1"}]));
    let req = request("", "Pod", "CREATE", object.clone());
    let decision = run(&req, &no_verify(), &mut FakeCluster::default());
    let mutated = decision.mutated(&object).expect("a mutation");
    let mut expected = object;
    expected["spec"]["imagePullSecrets"] = json!([{"name": "corp"}]);
    assert_eq!(mutated, expected);
}

/// `templates: check` (the default): every kind with a pod template gets the answer its pods
/// will get (here the secret exists, so they are admitted), and never a patch.
#[rstest]
#[case::deployment("apps", "Deployment", "/spec/template/spec")]
#[case::replica_set("apps", "ReplicaSet", "/spec/template/spec")]
#[case::stateful_set("apps", "StatefulSet", "/spec/template/spec")]
#[case::daemon_set("apps", "DaemonSet", "/spec/template/spec")]
#[case::replication_controller("", "ReplicationController", "/spec/template/spec")]
#[case::job("batch", "Job", "/spec/template/spec")]
#[case::cron_job("batch", "CronJob", "/spec/jobTemplate/spec/template/spec")]
fn every_workload_template_is_checked_without_a_patch(
    #[case] group: &str,
    #[case] kind: &str,
    #[case] path: &str,
) {
    let spec = json!({"containers": [{"name": "a", "image": "eu.corp.example/a"}]});
    let req = request(group, kind, "CREATE", template(path, spec));
    let mut cluster = FakeCluster::default().with_docker_secret("corp", &["eu.corp.example"]);
    assert_eq!(
        run(&req, &settings(json!({})), &mut cluster),
        Decision::Accept { warnings: vec![] }
    );
    assert_eq!(cluster.calls, vec!["Secret team-a/corp data=true"]);
}

/// `templates: inject`: the secret is appended to the template, as to a Pod.
#[test]
fn templates_inject_adds_the_secret_to_the_template() {
    let spec = json!({"imagePullSecrets": [{"name": "own"}], "containers": [{"name": "a", "image": "eu.corp.example/a"}]});
    let req = request(
        "apps",
        "Deployment",
        "CREATE",
        template("/spec/template/spec", spec),
    );
    let decision = run(
        &req,
        &inject_templates(json!({"verifySecrets": false})),
        &mut FakeCluster::default(),
    );
    assert_eq!(
        mutated_at(&decision, "/spec/template/spec/imagePullSecrets"),
        json!([{"name": "own"}, {"name": "corp"}])
    );
}

#[rstest]
#[case::pod_update_same_images({let mut r = request("", "Pod", "UPDATE", pod(json!([{"name": "a", "image": "reg.example/a"}]))); r["oldObject"] = r["object"].clone(); r})]
#[case::pod_delete(request("", "Pod", "DELETE", pod(json!([{"name": "a", "image": "reg.example/a"}]))))]
#[case::connect(request("", "Pod", "CONNECT", pod(json!([{"name": "a", "image": "reg.example/a"}]))))]
#[case::deployment_delete(request("apps", "Deployment", "DELETE", template("/spec/template/spec", json!({"containers": [{"name": "a", "image": "reg.example/a"}]}))))]
#[case::status_subresource({let mut r = request("apps", "Deployment", "UPDATE", template("/spec/template/spec", json!({"containers": [{"name": "a", "image": "reg.example/a"}]}))); r["subResource"] = json!("status"); r})]
#[case::unhandled_kind(request("", "ConfigMap", "CREATE", json!({"data": {"image": "reg.example/a"}})))]
#[case::mirror_pod({let mut p = pod(json!([{"name": "a", "image": "reg.example/a"}])); p["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "abc"}); request("", "Pod", "CREATE", p)})]
#[case::no_matching_image(request("", "Pod", "CREATE", pod(json!([{"name": "a", "image": "nginx:1.27"}, {"name": "b", "image": "reg.example.evil.com/a"}]))))]
#[case::unparseable_image(request("", "Pod", "CREATE", pod(json!([{"name": "a", "image": "reg.example/UPPER"}]))))]
fn accepted_unchanged_without_lookups(#[case] req: Value) {
    accepted_without_lookups(&req, &settings(json!({})));
}

/// `req` with `settings` is accepted, no warning, no patch, and nothing is looked up.
fn accepted_without_lookups(req: &Value, settings: &Value) {
    let mut cluster = FakeCluster::default();
    assert_eq!(
        run(req, settings, &mut cluster),
        Decision::Accept { warnings: vec![] }
    );
    assert!(
        cluster.calls.is_empty(),
        "unexpected lookups: {:?}",
        cluster.calls
    );
}

#[test]
fn nothing_to_add_means_no_mutated_object() {
    let mut object = pod(json!([{"name": "a", "image": "reg.example/a"}]));
    object["spec"]["imagePullSecrets"] = json!([{"name": "corp"}]);
    let mut cluster = FakeCluster::default().with_docker_secret("corp", &["reg.example"]);
    let decision = run(
        &request("", "Pod", "CREATE", object),
        &settings(json!({})),
        &mut cluster,
    );
    assert_eq!(decision, Decision::Accept { warnings: vec![] });
    assert_eq!(
        cluster.calls,
        vec!["Secret team-a/corp data=true"],
        "a referenced secret is still verified"
    );
}

#[test]
fn rules_append_in_rule_order_without_duplicates() {
    let req = request(
        "",
        "Pod",
        "CREATE",
        pod(json!([
            {"name": "hub", "image": "acme/tool"},
            {"name": "corp", "image": "reg.example/app"},
            {"name": "corp2", "image": "reg.example/other"}
        ])),
    );
    let decision = run(&req, &no_verify(), &mut FakeCluster::default());
    assert_eq!(
        mutated_at(&decision, "/spec/imagePullSecrets"),
        json!([{"name": "corp"}, {"name": "hub"}])
    );
}

#[test]
fn init_and_ephemeral_container_images_count() {
    let mut object = pod(json!([{"name": "a", "image": "nginx"}]));
    object["spec"]["initContainers"] = json!([{"name": "init", "image": "reg.example/init"}]);
    object["spec"]["ephemeralContainers"] = json!([{"name": "dbg", "image": "acme/debug"}]);
    let decision = run(
        &request("", "Pod", "CREATE", object),
        &no_verify(),
        &mut FakeCluster::default(),
    );
    assert_eq!(
        mutated_at(&decision, "/spec/imagePullSecrets"),
        json!([{"name": "corp"}, {"name": "hub"}])
    );
}

#[test]
fn existing_odd_entries_stay_in_place() {
    let mut object = pod(json!([{"name": "a", "image": "reg.example/a"}]));
    object["spec"]["imagePullSecrets"] = json!([{}, {"name": ""}, {"name": "x"}]);
    let decision = run(
        &request("", "Pod", "CREATE", object),
        &no_verify(),
        &mut FakeCluster::default(),
    );
    assert_eq!(
        mutated_at(&decision, "/spec/imagePullSecrets"),
        json!([{}, {"name": ""}, {"name": "x"}, {"name": "corp"}])
    );
}

#[test]
fn inject_false_never_mutates_and_reports_missing_reference() {
    let req = request(
        "",
        "Pod",
        "CREATE",
        pod(json!([{"name": "app", "image": "reg.example/app:1"}])),
    );
    let settings = settings(json!({"inject": false, "verifySecrets": false}));
    let mut cluster = FakeCluster::default();
    match run(&req, &settings, &mut cluster) {
        Decision::Reject { message, .. } => assert_eq!(
            message,
            "imagePullSecret \"corp\" in namespace \"team-a\": it is not listed in imagePullSecrets; needed by container \"app\" \
             (image \"reg.example/app:1\"); fix: add {\"name\": \"corp\"} to imagePullSecrets"
        ),
        other => panic!("{other:?}"),
    }
    assert!(cluster.calls.is_empty());
}

#[test]
fn validate_only_verifies_referenced_secrets() {
    let mut object = pod(json!([{"name": "app", "image": "reg.example/app:1"}]));
    object["spec"]["imagePullSecrets"] = json!([{"name": "corp"}]);
    let settings = settings(json!({"inject": false}));
    let mut good = FakeCluster::default().with_docker_secret("corp", &["reg.example"]);
    assert_eq!(
        run(
            &request("", "Pod", "CREATE", object.clone()),
            &settings,
            &mut good
        ),
        Decision::Accept { warnings: vec![] }
    );
    let mut wrong = FakeCluster::default().with_docker_secret("corp", &["other.example"]);
    let Decision::Reject { message, .. } =
        run(&request("", "Pod", "CREATE", object), &settings, &mut wrong)
    else {
        panic!()
    };
    assert!(
        message.contains("it holds no credentials for reg.example"),
        "{message}"
    );
}

/// Only a custom resource can arrive with a pod spec of the wrong shape (the API server decodes
/// built-in kinds before admission): it gets a 400 naming the kind and the path.
#[test]
fn custom_resource_of_odd_shape_is_a_bad_request() {
    let settings = settings(json!({"customResources": [
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "$.spec.template.spec"}]}));
    let object = template(
        "/spec/template/spec",
        json!({"containers": {"image": "reg.example/a"}}),
    );
    let req = json!({"kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout"}, "operation": "CREATE", "namespace": "team-a", "object": object});
    assert_eq!(
        run(&req, &settings, &mut FakeCluster::default()),
        Decision::Reject {
            message: "malformed Rollout: spec.template.spec.containers is not a list".into(),
            code: Some(400),
            warnings: vec![]
        }
    );
}

fn corp_pod() -> Value {
    request(
        "",
        "Pod",
        "CREATE",
        pod(
            json!([{"name": "app", "image": "reg.example/app:1"}, {"name": "side", "image": "reg.example/side"}]),
        ),
    )
}

fn with_on_missing(value: &str) -> Value {
    valid(
        json!({"rules": [{"secret": "corp", "registries": ["reg.example"], "onMissingSecret": value}]}),
    )
}

const MISSING_LINE: &str = "imagePullSecret \"corp\" in namespace \"team-a\": secret not found; needed by container \"app\" \
    (image \"reg.example/app:1\"), container \"side\" (image \"reg.example/side\"); fix: create it: kubectl create secret \
    docker-registry corp -n team-a --docker-server=reg.example --docker-username=<user> --docker-password=<password>";

#[test]
fn missing_secret_with_reject_denies_with_a_fix() {
    let mut cluster = FakeCluster::default();
    let decision = run(&corp_pod(), &with_on_missing("reject"), &mut cluster);
    assert_eq!(
        decision,
        Decision::Reject {
            message: MISSING_LINE.into(),
            code: None,
            warnings: vec![]
        }
    );
    assert_eq!(cluster.calls, vec!["Secret team-a/corp data=true"]);
}

#[test]
fn missing_secret_with_warn_injects_and_warns() {
    let decision = run(
        &corp_pod(),
        &with_on_missing("warn"),
        &mut FakeCluster::default(),
    );
    assert_eq!(
        mutated_at(&decision, "/spec/imagePullSecrets"),
        json!([{"name": "corp"}])
    );
    let Decision::Mutate { warnings, .. } = decision else {
        unreachable!()
    };
    assert_eq!(
        warnings,
        vec![format!(
            "{MISSING_LINE} (onMissingSecret: warn, added anyway)"
        )]
    );
}

#[test]
fn missing_secret_with_skip_does_not_inject_but_warns() {
    let decision = run(
        &corp_pod(),
        &with_on_missing("skip"),
        &mut FakeCluster::default(),
    );
    assert_eq!(
        decision,
        Decision::Accept {
            warnings: vec![format!("{MISSING_LINE} (onMissingSecret: skip, not added)")]
        }
    );
}

#[test]
fn skip_never_removes_an_existing_reference() {
    let mut object = pod(json!([{"name": "app", "image": "reg.example/app:1"}]));
    object["spec"]["imagePullSecrets"] = json!([{"name": "corp"}]);
    let decision = run(
        &request("", "Pod", "CREATE", object),
        &with_on_missing("skip"),
        &mut FakeCluster::default(),
    );
    let Decision::Accept { warnings } = decision else {
        panic!("{decision:?}")
    };
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].ends_with("(onMissingSecret: skip, existing reference kept)"),
        "{warnings:?}"
    );
}

#[test]
fn several_failures_give_one_sorted_message_and_one_lookup_each() {
    let settings = valid(json!({"rules": [
        {"secret": "zeta", "registries": ["reg.example"]},
        {"secret": "alpha", "registries": ["reg.example"]},
        {"secret": "zeta", "images": ["reg.example/app"]}
    ]}));
    let mut cluster = FakeCluster::default();
    let Decision::Reject { message, .. } = run(&corp_pod(), &settings, &mut cluster) else {
        panic!()
    };
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 3, "{message}");
    assert!(lines[0].starts_with("imagePullSecret \"alpha\""));
    assert!(
        lines[1].starts_with("imagePullSecret \"zeta\"")
            && lines[2].starts_with("imagePullSecret \"zeta\"")
    );
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
    assert_eq!(
        cluster.calls,
        vec![
            "Secret team-a/zeta data=true",
            "Secret team-a/alpha data=true"
        ]
    );
}

#[test]
fn check_credentials_false_masks_the_lookup_to_type() {
    let mut cluster = FakeCluster::default().with_docker_secret("corp", &["other.example"]);
    let settings = valid(
        json!({"checkCredentials": false, "rules": [{"secret": "corp", "registries": ["reg.example"]}]}),
    );
    let decision = run(&corp_pod(), &settings, &mut cluster);
    assert_eq!(
        mutated_at(&decision, "/spec/imagePullSecrets"),
        json!([{"name": "corp"}])
    );
    assert_eq!(cluster.calls, vec!["Secret team-a/corp data=false"]);
}

#[test]
fn wrong_type_is_reported_by_type() {
    let opaque = Secret {
        secret_type: Some("Opaque".into()),
        data: None,
    };
    let mut cluster = FakeCluster::default().with_secret("corp", Ok(opaque));
    let Decision::Reject { message, .. } =
        run(&corp_pod(), &with_on_missing("reject"), &mut cluster)
    else {
        panic!()
    };
    assert!(
        message.contains("secret type \"Opaque\" holds no registry credentials"),
        "{message}"
    );
    assert!(
        message.contains("fix: recreate it as a docker-registry secret"),
        "{message}"
    );
}

#[rstest]
#[case::capability(
    Denial::Capability,
    "the policy has not been granted access to it",
    "list v1/Secret in the policy's contextAwareResources"
)]
#[case::rbac_names_the_user(
    Denial::Forbidden(Some("system:serviceaccount:kubewarden:policy-server".into())),
    "the PolicyServer is forbidden to read it (403 Forbidden)",
    "add \"corp\" to the resourceNames of the secrets rule in the ClusterRole bound to \"system:serviceaccount:kubewarden:policy-server\" (see the README's Cluster access)"
)]
#[case::rbac_without_a_user(
    Denial::Forbidden(None),
    "the PolicyServer is forbidden to read it (403 Forbidden)",
    "add \"corp\" to the resourceNames of the secrets rule in the ClusterRole bound to the PolicyServer's ServiceAccount (see the README's Cluster access)"
)]
#[case::credentials(
    Denial::Unauthorized,
    "the API server did not accept the PolicyServer's credentials (401 Unauthorized)",
    "check the PolicyServer's ServiceAccount token"
)]
fn lookup_denied_says_how_to_grant_access(
    #[case] denial: Denial,
    #[case] reason: &str,
    #[case] fix: &str,
) {
    let mut cluster =
        FakeCluster::default().with_secret("corp", Err(LookupError::NotPermitted(denial)));
    let Decision::Reject { message, .. } =
        run(&corp_pod(), &with_on_missing("reject"), &mut cluster)
    else {
        panic!()
    };
    assert!(
        message.contains(&format!(": {reason}; needed by")),
        "{message}"
    );
    assert!(message.contains(&format!("fix: {fix}")), "{message}");
}

fn deployment(spec: Value) -> Value {
    request(
        "apps",
        "Deployment",
        "CREATE",
        template("/spec/template/spec", spec),
    )
}

#[test]
fn template_with_empty_list_inherits_service_account_secrets_first() {
    let mut cluster = FakeCluster::default()
        .with_docker_secret("corp", &["reg.example"])
        .with_service_account("builder", Ok(vec!["sa-secret".into(), "corp".into()]));
    let req = deployment(
        json!({"serviceAccountName": "builder", "containers": [{"name": "a", "image": "reg.example/a"}]}),
    );
    let decision = run(&req, &inject_templates(json!({})), &mut cluster);
    assert_eq!(
        mutated_at(&decision, "/spec/template/spec/imagePullSecrets"),
        json!([{"name": "sa-secret"}, {"name": "corp"}])
    );
    assert_eq!(
        cluster.calls,
        vec![
            "Secret team-a/corp data=true",
            "ServiceAccount team-a/builder"
        ]
    );
}

#[test]
fn template_defaults_to_the_default_service_account() {
    let mut cluster = FakeCluster::default().with_service_account("default", Ok(vec!["sa".into()]));
    let decision = run(
        &deployment(json!({"containers": [{"name": "a", "image": "reg.example/a"}]})),
        &inject_templates(json!({"verifySecrets": false})),
        &mut cluster,
    );
    assert_eq!(
        mutated_at(&decision, "/spec/template/spec/imagePullSecrets"),
        json!([{"name": "sa"}, {"name": "corp"}])
    );
    assert_eq!(cluster.calls, vec!["ServiceAccount team-a/default"]);
}

#[test]
fn service_account_lookup_failure_injects_with_a_warning() {
    let mut cluster = FakeCluster::default().with_service_account(
        "default",
        Err(LookupError::NotPermitted(Denial::Forbidden(None))),
    );
    let decision = run(
        &deployment(json!({"containers": [{"name": "a", "image": "reg.example/a"}]})),
        &inject_templates(json!({"verifySecrets": false})),
        &mut cluster,
    );
    assert_eq!(
        mutated_at(&decision, "/spec/template/spec/imagePullSecrets"),
        json!([{"name": "corp"}])
    );
    let Decision::Mutate { warnings, .. } = decision else {
        unreachable!()
    };
    assert_eq!(warnings, vec!["could not read ServiceAccount \"default\" in namespace \"team-a\" (the PolicyServer is forbidden to read it (403 Forbidden); let the PolicyServer's ServiceAccount get serviceaccounts in \"team-a\" \
        (a ClusterRole and ClusterRoleBinding, see the README's Cluster access)); pods of spec.template.spec will get only the imagePullSecrets listed there, not the ServiceAccount's"]);
}

#[test]
fn template_with_a_list_needs_no_service_account() {
    let mut cluster = FakeCluster::default();
    let req = deployment(
        json!({"imagePullSecrets": [{"name": "x"}], "containers": [{"name": "a", "image": "reg.example/a"}]}),
    );
    let decision = run(
        &req,
        &inject_templates(json!({"verifySecrets": false})),
        &mut cluster,
    );
    assert!(matches!(decision, Decision::Mutate { .. }), "{decision:?}");
    assert!(cluster.calls.is_empty());
}

#[test]
fn pods_never_look_up_the_service_account() {
    let mut cluster = FakeCluster::default();
    run(
        &request(
            "",
            "Pod",
            "CREATE",
            pod(json!([{"name": "a", "image": "reg.example/a"}])),
        ),
        &no_verify(),
        &mut cluster,
    );
    assert!(cluster.calls.is_empty());
}

fn debug_request(existing_secrets: Value, new_image: &str) -> Value {
    let mut old = pod(json!([{"name": "app", "image": "nginx"}]));
    old["spec"]["imagePullSecrets"] = existing_secrets;
    old["spec"]["ephemeralContainers"] = json!([{"name": "old-debug", "image": "reg.example/old"}]);
    let mut new = old.clone();
    new["spec"]["ephemeralContainers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "debugger", "image": new_image}));
    let mut req = request("", "Pod", "UPDATE", new);
    req["subResource"] = json!("ephemeralcontainers");
    req["oldObject"] = old;
    req
}

#[test]
fn ephemeral_container_covered_by_existing_secret_is_verified() {
    let mut cluster = FakeCluster::default().with_docker_secret("corp", &["reg.example"]);
    let decision = run(
        &debug_request(json!([{"name": "corp"}]), "reg.example/debug"),
        &with_on_missing("reject"),
        &mut cluster,
    );
    assert_eq!(decision, Decision::Accept { warnings: vec![] });
    assert_eq!(cluster.calls, vec!["Secret team-a/corp data=true"]);
}

#[rstest]
#[case::reject("reject", false)]
#[case::warn("warn", true)]
#[case::skip_behaves_as_warn("skip", true)]
fn ephemeral_container_without_the_secret(#[case] on_missing: &str, #[case] accepted: bool) {
    let mut cluster = FakeCluster::default();
    let decision = run(
        &debug_request(json!(null), "reg.example/debug"),
        &with_on_missing(on_missing),
        &mut cluster,
    );
    let text = match &decision {
        Decision::Accept { warnings } if accepted => warnings.join(""),
        Decision::Reject { message, .. } if !accepted => message.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        text.contains("ephemeralContainer \"debugger\" (image \"reg.example/debug\")"),
        "{text}"
    );
    assert!(
        text.contains("a running pod's imagePullSecrets cannot change"),
        "{text}"
    );
    assert!(
        !text.contains("old-debug"),
        "only new containers count: {text}"
    );
    assert!(cluster.calls.is_empty());
}

#[test]
fn ephemeral_container_of_other_registry_is_accepted() {
    let mut cluster = FakeCluster::default();
    let decision = run(
        &debug_request(json!(null), "busybox"),
        &with_on_missing("reject"),
        &mut cluster,
    );
    assert_eq!(decision, Decision::Accept { warnings: vec![] });
    assert!(cluster.calls.is_empty());
}

#[test]
fn custom_resource_pod_spec_is_mutated_at_its_path() {
    let settings = settings(
        json!({"verifySecrets": false, "templates": "inject", "customResources": [
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "$.spec.template.spec"}]}),
    );
    let object = template(
        "/spec/template/spec",
        json!({"imagePullSecrets": [{"name": "x"}], "containers": [{"name": "a", "image": "reg.example/a"}]}),
    );
    let req = json!({"kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout"}, "operation": "CREATE", "namespace": "team-a", "object": object});
    let decision = run(&req, &settings, &mut FakeCluster::default());
    assert_eq!(
        mutated_at(&decision, "/spec/template/spec/imagePullSecrets"),
        json!([{"name": "x"}, {"name": "corp"}])
    );
}

#[test]
fn container_lists_are_capped_in_messages() {
    let containers: Vec<Value> = (0..8)
        .map(|i| json!({"name": format!("c{i}"), "image": "reg.example/app"}))
        .collect();
    let req = request("", "Pod", "CREATE", pod(Value::Array(containers)));
    let Decision::Reject { message, .. } = run(
        &req,
        &with_on_missing("reject"),
        &mut FakeCluster::default(),
    ) else {
        panic!()
    };
    assert!(
        message.contains("container \"c4\" (image \"reg.example/app\") and 3 more"),
        "{message}"
    );
    assert!(!message.contains("c5"));
}

#[test]
fn canary_credential_never_reaches_any_output() {
    for keys in [&["other.example"][..], &["reg.example"][..]] {
        for on_missing in ["reject", "warn", "skip"] {
            let mut cluster = FakeCluster::default().with_docker_secret("corp", keys);
            let shown = format!(
                "{:?}",
                run(&corp_pod(), &with_on_missing(on_missing), &mut cluster)
            );
            assert!(
                !shown.contains(CANARY) && !shown.contains(CANARY_B64),
                "{shown}"
            );
        }
    }
}

/// `pkg/apis/batch/validation`: `ValidateJobSpecUpdate` → `validatePodTemplateUpdate` refuses any
/// change to a Job's template after CREATE, so a patch would make the API server refuse the whole
/// UPDATE (a `kubectl label`, the garbage collector dropping a finalizer).
#[rstest]
fn job_update_is_never_mutated(#[values(true, false)] verify: bool) {
    let spec = json!({"containers": [{"name": "a", "image": "eu.corp.example/a"}]});
    let req = request(
        "batch",
        "Job",
        "UPDATE",
        template("/spec/template/spec", spec),
    );
    accepted_without_lookups(&req, &settings(json!({"verifySecrets": verify})));
}

/// `pkg/controller/deployment/util`: `EqualIgnoreHash` finds a Deployment's ReplicaSet by its
/// template; a secret the Deployment lacks would make it create ReplicaSets again and again.
#[rstest]
fn replica_set_with_a_controller_is_left_alone(#[values("CREATE", "UPDATE")] operation: &str) {
    let spec = json!({"containers": [{"name": "a", "image": "eu.corp.example/a"}]});
    let mut object = template("/spec/template/spec", spec);
    object["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment",
        "name": "web", "uid": "6f1b", "controller": true, "blockOwnerDeletion": true}]);
    let req = request("apps", "ReplicaSet", operation, object.clone());
    let mut cluster = FakeCluster::default();
    let settings = inject_templates(json!({"verifySecrets": false}));
    assert_eq!(
        run(&req, &settings, &mut cluster),
        Decision::Accept { warnings: vec![] }
    );
    assert!(cluster.calls.is_empty(), "{:?}", cluster.calls);
    object["metadata"]["ownerReferences"][0]["controller"] = json!(false);
    let req = request("apps", "ReplicaSet", operation, object);
    let decision = run(&req, &settings, &mut FakeCluster::default());
    assert!(matches!(decision, Decision::Mutate { .. }), "{decision:?}");
}

fn pod_update(old_images: &[&str], new_images: &[&str], secrets: Value) -> Value {
    let listed = |images: &[&str]| -> Value {
        images
            .iter()
            .enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
            .collect()
    };
    let mut old = pod(listed(old_images));
    old["spec"]["imagePullSecrets"] = secrets.clone();
    let mut new = pod(listed(new_images));
    new["spec"]["imagePullSecrets"] = secrets;
    let mut req = request("", "Pod", "UPDATE", new);
    req["oldObject"] = old;
    req
}

/// `ValidatePodUpdate` lets a running pod's images change, never its `imagePullSecrets`: a
/// changed image is checked like an ephemeral container's, never patched.
#[test]
fn pod_update_checks_only_changed_images() {
    let mut cluster = FakeCluster::default().with_docker_secret("corp", &["reg.example"]);
    let req = pod_update(
        &["reg.example/a:1", "eu.corp.example/b:1"],
        &["reg.example/a:2", "eu.corp.example/b:1"],
        json!([{"name": "corp"}]),
    );
    assert_eq!(
        run(&req, &settings(json!({})), &mut cluster),
        Decision::Accept { warnings: vec![] }
    );
    assert_eq!(cluster.calls, vec!["Secret team-a/corp data=true"]);
}

#[rstest]
#[case::reject("reject", false, 0)]
#[case::warn("warn", true, 1)]
#[case::skip_acts_as_warn("skip", true, 1)]
fn pod_update_with_an_uncovered_new_image(
    #[case] outcome: &str,
    #[case] allowed: bool,
    #[case] warnings: usize,
) {
    let mut cluster = FakeCluster::default();
    let req = pod_update(&["nginx:1.27"], &["reg.example/a:2"], json!(null));
    let settings = settings(
        json!({"rules": [{"secret": "corp", "registries": ["reg.example"], "onMissingSecret": outcome}]}),
    );
    let decision = run(&req, &settings, &mut cluster);
    let (got_allowed, got_warnings, text) = match &decision {
        Decision::Accept { warnings } => (true, warnings.len(), warnings.join("\n")),
        Decision::Reject {
            message, warnings, ..
        } => (false, warnings.len(), message.clone()),
        Decision::Mutate { .. } => {
            panic!("a running pod's pull secrets cannot change: {decision:?}")
        }
    };
    assert_eq!(
        (got_allowed, got_warnings),
        (allowed, warnings),
        "{decision:?}"
    );
    assert!(
        text.contains("it is not listed in imagePullSecrets"),
        "{text}"
    );
    assert!(
        text.contains("a running pod's imagePullSecrets cannot change"),
        "{text}"
    );
    assert!(cluster.calls.is_empty(), "{:?}", cluster.calls);
}

/// A Deployment `web` in `team-a` whose template runs `image` and lists `listed`.
fn web(operation: &str, image: &str, listed: Value) -> Value {
    let mut object = template(
        "/spec/template/spec",
        json!({"imagePullSecrets": listed, "containers": [{"name": "web", "image": image}]}),
    );
    object["metadata"] = json!({"name": "web", "namespace": "team-a"});
    request("apps", "Deployment", operation, object)
}

const WEB_MISSING: &str = "imagePullSecret \"corp\" in namespace \"team-a\": secret not found; needed by container \"web\" \
    (image \"reg.example/web:1\"); fix: create it: kubectl create secret docker-registry corp -n team-a \
    --docker-server=reg.example --docker-username=<user> --docker-password=<password>";

/// `templates: check`: the workload gets the Pod rule's answer for its pods, named, never a patch.
#[rstest]
#[case::reject("reject", Decision::Reject { message: format!("Deployment team-a/web: its pods would be refused: {WEB_MISSING}"), code: None, warnings: vec![] })]
#[case::warn("warn", Decision::Accept { warnings: vec![format!("Deployment team-a/web: its pods would be admitted with a warning: {WEB_MISSING} (onMissingSecret: warn, added anyway)")] })]
#[case::skip("skip", Decision::Accept { warnings: vec![format!("Deployment team-a/web: its pods would be admitted with a warning: {WEB_MISSING} (onMissingSecret: skip, not added)")] })]
fn a_checked_workload_gets_its_pods_answer(#[case] on_missing: &str, #[case] expected: Decision) {
    let mut cluster = FakeCluster::default().with_service_account("default", Ok(vec![]));
    let req = web("CREATE", "reg.example/web:1", json!(null));
    assert_eq!(
        run(&req, &with_on_missing(on_missing), &mut cluster),
        expected
    );
    let mut calls = vec!["Secret team-a/corp data=true"];
    if on_missing == "skip" {
        // Only skip's wording depends on what the pods list: an empty list is the account's.
        calls.insert(0, "ServiceAccount team-a/default");
    }
    assert_eq!(cluster.calls, calls);
}

/// `templates: check` with `inject: false`: the pods of a template that lists no secret get their
/// ServiceAccount's (the ServiceAccount admission plugin), so those count as listed.
#[rstest]
#[case::account_lists_it(Ok(vec!["corp".to_string()]), true, vec![])]
#[case::account_lacks_it(Ok(vec!["other".to_string()]), false, vec![])]
#[case::account_unreadable(Err(LookupError::NotPermitted(Denial::Forbidden(None))), true, vec![
    "Deployment team-a/web: could not read ServiceAccount \"default\" in namespace \"team-a\" (the PolicyServer is forbidden \
     to read it (403 Forbidden); let the PolicyServer's ServiceAccount get serviceaccounts in \"team-a\" (a ClusterRole and \
     ClusterRoleBinding, see the README's Cluster access)), whose imagePullSecrets its pods get; they are taken to list the \
     rules' secrets".to_string()])]
fn validate_only_checks_what_the_pods_will_list(
    #[case] account: Result<Vec<String>, LookupError>,
    #[case] allowed: bool,
    #[case] expected_warnings: Vec<String>,
) {
    let mut cluster = FakeCluster::default()
        .with_docker_secret("corp", &["reg.example"])
        .with_service_account("default", account);
    let settings = valid(
        json!({"inject": false, "rules": [{"secret": "corp", "registries": ["reg.example"]}]}),
    );
    let decision = run(
        &web("CREATE", "reg.example/web:1", json!([])),
        &settings,
        &mut cluster,
    );
    let warnings = match decision {
        Decision::Accept { warnings } if allowed => warnings,
        Decision::Reject {
            message, warnings, ..
        } if !allowed => {
            assert_eq!(message, "Deployment team-a/web: its pods would be refused: imagePullSecret \"corp\" in namespace \
                \"team-a\": it is not listed in imagePullSecrets; needed by container \"web\" (image \"reg.example/web:1\"); \
                fix: add {\"name\": \"corp\"} to imagePullSecrets");
            warnings
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(warnings, expected_warnings);
    let secret_read = allowed.then_some("Secret team-a/corp data=true");
    let calls: Vec<&str> = ["ServiceAccount team-a/default"]
        .into_iter()
        .chain(secret_read)
        .collect();
    assert_eq!(cluster.calls, calls);
}

/// An UPDATE that leaves the pod template as it was starts no pod: accepted with no lookup, in
/// both template modes, even where a change would be refused.
#[rstest]
fn an_update_that_keeps_the_template_is_never_in_the_way(
    #[values("check", "inject")] templates: &str,
) {
    let old = web("UPDATE", "reg.example/web:1", json!(null))["object"].clone();
    let mut req = web("UPDATE", "reg.example/web:1", json!(null));
    req["object"]["spec"]["replicas"] = json!(5);
    req["object"]["metadata"]["labels"] = json!({"tier": "front"});
    req["object"]["status"] = json!({"readyReplicas": 2});
    req["oldObject"] = old;
    accepted_without_lookups(&req, &settings(json!({"templates": templates})));
}

/// `kubectl rollout restart` sets an annotation in the template: new pods start, so it is checked.
#[test]
fn a_rollout_restart_is_checked() {
    let old = web("UPDATE", "reg.example/web:1", json!(null))["object"].clone();
    let mut req = web("UPDATE", "reg.example/web:1", json!(null));
    req["object"]["spec"]["template"]["metadata"] =
        json!({"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-04T14:00:00Z"}});
    req["oldObject"] = old;
    let mut cluster = FakeCluster::default();
    let decision = run(&req, &with_on_missing("reject"), &mut cluster);
    let expected = format!("Deployment team-a/web: its pods would be refused: {WEB_MISSING}");
    assert!(
        matches!(&decision, Decision::Reject { message, .. } if *message == expected),
        "{decision:?}"
    );
    assert_eq!(cluster.calls, vec!["Secret team-a/corp data=true"]);
}

/// A workload with a controlling owner (a CronJob's Job, a Deployment's ReplicaSet) is not
/// checked: its owner was, and its pods are when they are created.
#[rstest]
#[case::job("batch", "Job", "CronJob")]
#[case::replica_set("apps", "ReplicaSet", "Deployment")]
fn a_controlled_workload_is_not_checked(
    #[case] group: &str,
    #[case] kind: &str,
    #[case] owner: &str,
) {
    let spec = json!({"containers": [{"name": "a", "image": "reg.example/a"}]});
    let mut object = template("/spec/template/spec", spec);
    object["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": owner, "name": "o", "uid": "u", "controller": true}]);
    let req = request(group, kind, "CREATE", object);
    accepted_without_lookups(&req, &with_on_missing("reject"));
}

/// Checked templates that list no secret and run as the same ServiceAccount read it once.
#[test]
fn a_service_account_shared_by_templates_is_read_once() {
    let settings = valid(json!({"inject": false, "verifySecrets": false,
        "rules": [{"secret": "corp", "registries": ["reg.example"]}],
        "customResources": [{"apiVersion": "example.com/v1", "kind": "Multi", "podSpecPath": "$.spec.workers[*].template.spec"}]}));
    let worker =
        json!({"template": {"spec": {"containers": [{"name": "w", "image": "reg.example/w"}]}}});
    let object = json!({"metadata": {"name": "m"}, "spec": {"workers": [worker, worker]}});
    let req = json!({"kind": {"group": "example.com", "version": "v1", "kind": "Multi"},
        "operation": "CREATE", "namespace": "team-a", "object": object});
    let mut cluster =
        FakeCluster::default().with_service_account("default", Ok(vec!["corp".into()]));
    assert_eq!(
        run(&req, &settings, &mut cluster),
        Decision::Accept { warnings: vec![] }
    );
    assert_eq!(cluster.calls, vec!["ServiceAccount team-a/default"]);
}

/// `inject: false` with warn or skip: a missing reference is a warning, without skip's wording
/// (there is nothing to leave out), the Pod is accepted unchanged, and nothing is read.
#[rstest]
fn validate_only_warns_of_a_missing_reference(#[values("warn", "skip")] on_missing: &str) {
    let mut object = pod(json!([{"name": "app", "image": "reg.example/app:1"}]));
    object["spec"]["imagePullSecrets"] = json!([{"name": "mirror"}]);
    let mut settings = with_on_missing(on_missing);
    settings["inject"] = json!(false);
    let mut cluster = FakeCluster::default();
    assert_eq!(
        run(&request("", "Pod", "CREATE", object), &settings, &mut cluster),
        Decision::Accept {
            warnings: vec![
                "imagePullSecret \"corp\" in namespace \"team-a\": it is not listed in imagePullSecrets; needed by \
                 container \"app\" (image \"reg.example/app:1\"); fix: add {\"name\": \"corp\"} to imagePullSecrets"
                    .to_string()
            ]
        }
    );
    assert!(cluster.calls.is_empty(), "{:?}", cluster.calls);
}
