//! Decision tests: each case is a request, settings and a scripted cluster, and pins the whole
//! decision (the edits, every message) and the exact lookups made.

use super::*;
use crate::cluster::Denial;
use crate::testing::{accepted, adds, decide, rejected, strings, valid, with};
use crate::testing::{MemoryCluster, CANARY, CANARY_B64};
use rstest::rstest;
use serde_json::json;

/// Reading the `corp` secret with its data.
const READ: &str = "Secret team-a/corp data=true";

/// `corp` for `reg.example` and `*.corp.example` images, `hub` for `acme/**`, and `extra`.
fn settings(extra: Value) -> Value {
    let corp = json!({"secret": "corp", "registries": ["reg.example", "*.corp.example"]});
    with(
        json!({"rules": [corp, {"secret": "hub", "images": ["acme/**"]}]}),
        extra,
    )
}

/// One rule, `corp` for `reg.example` images with this `onMissingSecret`, and `extra`.
fn corp(on_missing: &str, extra: Value) -> Value {
    let rule =
        json!({"secret": "corp", "registries": ["reg.example"], "onMissingSecret": on_missing});
    with(json!({"rules": [rule]}), extra)
}

/// An AdmissionRequest in `team-a`; `kind` is `Kind` or `group/Kind`.
fn request(kind: &str, operation: &str, object: Value) -> Value {
    let (group, kind) = kind.rsplit_once('/').unwrap_or(("", kind));
    let version = if group == "argoproj.io" {
        "v1alpha1"
    } else {
        "v1"
    };
    json!({"uid": "1", "kind": {"group": group, "version": version, "kind": kind}, "operation": operation,
           "namespace": "team-a", "object": object})
}

fn update(kind: &str, old: Value, new: Value) -> Value {
    let mut request = request(kind, "UPDATE", new);
    request["oldObject"] = old;
    request
}

/// A pod spec running `containers` that lists `listed` (left out when null).
fn spec(listed: Value, containers: Value) -> Value {
    let mut spec = json!({"containers": containers});
    if !listed.is_null() {
        spec["imagePullSecrets"] = listed;
    }
    spec
}

fn one(image: &str) -> Value {
    spec(json!(null), json!([{"name": "a", "image": image}]))
}

fn pod(spec: Value) -> Value {
    json!({"metadata": {"name": "app", "namespace": "team-a"}, "spec": spec})
}

/// A workload `web` in `team-a` with this pod template spec.
fn template(spec: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": "team-a"}, "spec": {"template": {"spec": spec}}})
}

fn none() -> MemoryCluster {
    MemoryCluster::default()
}

fn with_corp(keys: &[&str]) -> MemoryCluster {
    none().with_docker_secret("corp", keys)
}

/// A failure line for the secret `corp`.
fn line(reason: &str, needed_by: &str, fix: &str) -> String {
    format!("imagePullSecret \"corp\" in namespace \"team-a\": {reason}; needed by {needed_by}; fix: {fix}")
}

/// A Pod with containers `app` and `side` on `reg.example` that lists `listed`.
fn corp_pod(listed: Value) -> Value {
    let containers = json!([{"name": "app", "image": "reg.example/app:1"}, {"name": "side", "image": "reg.example/side"}]);
    request("Pod", "CREATE", pod(spec(listed, containers)))
}

const CORP_POD: &str =
    "container \"app\" (image \"reg.example/app:1\"), container \"side\" (image \"reg.example/side\")";
const CREATE: &str =
    "create it: kubectl create secret docker-registry corp -n team-a --docker-server=reg.example \
    --docker-username=<user> --docker-password=<password>";
const NOT_LISTED: &str = "it is not listed in imagePullSecrets";
const ADD: &str = "add {\"name\": \"corp\"} to imagePullSecrets";

/// `corp_pod`'s failure line: `corp` is missing, with `onMissingSecret`'s `outcome` if any.
fn missing(outcome: &str) -> String {
    let line = line("secret not found", CORP_POD, CREATE);
    match outcome {
        "" => line,
        outcome => format!("{line} (onMissingSecret: {outcome})"),
    }
}

/// A running pod's UPDATE with `old_images` becoming `new_images`; it lists `listed`.
fn pod_update(old_images: &[&str], new_images: &[&str], listed: Value) -> Value {
    let pod_of = |images: &[&str]| {
        let containers = images.iter().enumerate();
        let containers =
            containers.map(|(i, image)| json!({"name": format!("c{i}"), "image": image}));
        pod(spec(listed.clone(), containers.collect()))
    };
    update("Pod", pod_of(old_images), pod_of(new_images))
}

/// `c0` changes from `nginx:1.27` to `reg.example/a:2` in a pod that lists nothing.
fn uncovered_update() -> Value {
    pod_update(&["nginx:1.27"], &["reg.example/a:2"], json!(null))
}

/// `kubectl debug`: the ephemeral container `debugger` running `image` joins a pod that lists
/// `listed` and has the ephemeral container `old-debug` on `reg.example`.
fn debug(listed: Value, image: &str) -> Value {
    let mut old = pod(spec(listed, json!([{"name": "app", "image": "nginx"}])));
    old["spec"]["ephemeralContainers"] = json!([{"name": "old-debug", "image": "reg.example/old"}]);
    let mut new = old.clone();
    let added = new["spec"]["ephemeralContainers"].as_array_mut().unwrap();
    added.push(json!({"name": "debugger", "image": image}));
    let mut request = update("Pod", old, new);
    request["subResource"] = json!("ephemeralcontainers");
    request
}

const RUNNING: &str = "a running pod's imagePullSecrets cannot change; recreate the pod with {\"name\": \"corp\"} in \
    imagePullSecrets";

fn changed_image() -> String {
    let fix = format!(
        "{RUNNING} (change the image in its workload's template instead), or keep the image it had"
    );
    line(
        NOT_LISTED,
        "container \"c0\" (image \"reg.example/a:2\")",
        &fix,
    )
}

fn new_debugger() -> String {
    let fix = format!("{RUNNING}, or debug with an image from another registry");
    let needed_by = "ephemeralContainer \"debugger\" (image \"reg.example/debug\")";
    line(NOT_LISTED, needed_by, &fix)
}

/// The Deployment `web`, whose template runs `reg.example/web:1` and lists `listed`.
fn web(listed: Value) -> Value {
    let containers = json!([{"name": "web", "image": "reg.example/web:1"}]);
    request(
        "apps/Deployment",
        "CREATE",
        template(spec(listed, containers)),
    )
}

/// `kubectl rollout restart`: an annotation in `web`'s template, so new pods start.
fn restarted() -> Value {
    let old = web(json!(null))["object"].clone();
    let mut request = web(json!(null));
    request["operation"] = json!("UPDATE");
    request["oldObject"] = old;
    request["object"]["spec"]["template"]["metadata"] =
        json!({"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-04T14:00:00Z"}});
    request
}

const WEB: &str = "container \"web\" (image \"reg.example/web:1\")";

/// `web` refused, for this failure line of its pods.
fn web_refused(reason: &str, fix: &str) -> Decision {
    let line = line(reason, WEB, fix);
    rejected(&format!(
        "Deployment team-a/web: its pods would be refused: {line}"
    ))
}

/// `web` admitted with a warning: its pods miss `corp`, with `onMissingSecret`'s `outcome`.
fn web_warned(outcome: &str) -> Decision {
    let line = line("secret not found", WEB, CREATE);
    let warning = format!("Deployment team-a/web: its pods would be admitted with a warning: {line} (onMissingSecret: {outcome})");
    accepted(&[&warning])
}

/// The ServiceAccount `default` answers `account`; `corp` holds credentials for `reg.example`.
fn account(account: Result<Vec<String>, LookupError>) -> MemoryCluster {
    with_corp(&["reg.example"]).with_service_account("default", account)
}

fn forbidden() -> LookupError {
    LookupError::NotPermitted(Denial::Forbidden(None))
}

/// The Multi `m`, whose two worker templates run as the same ServiceAccount, validate-only.
fn multi() -> (Value, Value) {
    let worker = json!({"template": {"spec": one("reg.example/w")}});
    let object = json!({"metadata": {"name": "m"}, "spec": {"workers": [worker, worker]}});
    let path = "$.spec.workers[*].template.spec";
    let custom = json!([{"apiVersion": "example.com/v1", "kind": "Multi", "podSpecPath": path}]);
    let settings = json!({"inject": false, "verifySecrets": false, "customResources": custom});
    (
        request("example.com/Multi", "CREATE", object),
        corp("reject", settings),
    )
}

const UNREAD: &str = "Deployment team-a/web: could not read ServiceAccount \"default\" in namespace \"team-a\" (the \
    PolicyServer is forbidden to read it (403 Forbidden); let the PolicyServer's ServiceAccount get serviceaccounts in \
    \"team-a\" (a ClusterRole and ClusterRoleBinding, see the README's Cluster access)), whose imagePullSecrets its pods \
    get; they are taken to list the rules' secrets";
const SA: &str = "ServiceAccount team-a/default";

/// `corp` holds credentials for `reg.example` and `eu.corp.example`.
fn inject_cluster() -> MemoryCluster {
    with_corp(&["reg.example", "eu.corp.example"])
}

/// Settings with the Argo Rollout as a custom resource, and `extra`.
fn rollouts(extra: Value) -> Value {
    let rollout = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "$.spec.template.spec"});
    let mut extra = extra;
    extra["customResources"] = json!([rollout]);
    settings(extra)
}

/// A Pod with eight containers on `reg.example`: messages name five.
fn eight_containers() -> Value {
    let containers = (0..8).map(|i| json!({"name": format!("c{i}"), "image": "reg.example/app"}));
    request(
        "Pod",
        "CREATE",
        pod(spec(json!(null), containers.collect())),
    )
}

const FIVE_OF_EIGHT: &str = "container \"c0\" (image \"reg.example/app\"), container \"c1\" (image \"reg.example/app\"), \
    container \"c2\" (image \"reg.example/app\"), container \"c3\" (image \"reg.example/app\"), container \"c4\" \
    (image \"reg.example/app\") and 3 more";

/// Rules for `zeta` and `alpha` on `reg.example`, and for `zeta` again on `reg.example/app`.
fn zeta_alpha_zeta() -> Value {
    valid(json!({"rules": [
        {"secret": "zeta", "registries": ["reg.example"]},
        {"secret": "alpha", "registries": ["reg.example"]},
        {"secret": "zeta", "images": ["reg.example/app"]}
    ]}))
}

/// Their lines: one per rule, sorted (the two `zeta` lines differ in the containers named).
fn zeta_alpha_zeta_refused() -> Decision {
    let app = line(
        "secret not found",
        "container \"app\" (image \"reg.example/app:1\")",
        CREATE,
    );
    let lines = [
        missing("").replace("corp", "alpha"),
        missing("").replace("corp", "zeta"),
        app.replace("corp", "zeta"),
    ];
    rejected(&lines.join("\n"))
}

const SA_UNREAD: &str = "could not read ServiceAccount \"default\" in namespace \"team-a\" (the PolicyServer is \
    forbidden to read it (403 Forbidden); let the PolicyServer's ServiceAccount get serviceaccounts in \"team-a\" (a \
    ClusterRole and ClusterRoleBinding, see the README's Cluster access)); pods of spec.template.spec will get only the \
    imagePullSecrets listed there, not the ServiceAccount's";

/// Each case is a request, the settings and the cluster's answers; the decision is pinned whole
/// (every edit and message), and so are the lookups, in order.
#[rstest]
// A Pod CREATE gets each matching rule's secret once, in rule order, for the images of all
// three container lists, and nothing else changes; a Pod's ServiceAccount is never read.
#[case::one_rule(request("Pod", "CREATE", pod(one("reg.example/app:1"))), settings(json!({"verifySecrets": false})), none(), adds("/spec", &["corp"], &[]), &[])]
#[case::rule_order_each_once(request("Pod", "CREATE", pod(spec(json!(null), json!([{"name": "a", "image": "acme/tool"}, {"name": "b", "image": "reg.example/app"}, {"name": "c", "image": "reg.example/other"}])))), settings(json!({"verifySecrets": false})), none(), adds("/spec", &["corp", "hub"], &[]), &[])]
#[case::init_and_ephemeral(request("Pod", "CREATE", pod(json!({"containers": [{"name": "a", "image": "nginx"}], "initContainers": [{"name": "i", "image": "reg.example/init"}], "ephemeralContainers": [{"name": "d", "image": "acme/debug"}]}))), settings(json!({"verifySecrets": false})), none(), adds("/spec", &["corp", "hub"], &[]), &[])]
// Accepted unchanged without a lookup: a running pod's same images, a kind or request the
// policy leaves alone, a template an UPDATE does not change, images no rule matches or that do
// not parse, a debug container from another registry.
#[case::pod_update_same_images(update("Pod", pod(one("reg.example/a")), pod(one("reg.example/a"))), settings(json!({"templates": "inject"})), none(), accepted(&[]), &[])]
#[case::ignored_kind(request("ConfigMap", "CREATE", json!({"data": {"image": "reg.example/a"}})), settings(json!({"templates": "inject"})), none(), accepted(&[]), &[])]
#[case::hands_off_job_update(update("batch/Job", template(one("reg.example/a")), template(one("reg.example/a:2"))), settings(json!({"templates": "inject"})), none(), accepted(&[]), &[])]
#[case::template_unchanged(update("apps/Deployment", template(one("reg.example/a")), json!({"metadata": {"name": "web", "namespace": "team-a"}, "spec": {"replicas": 5, "template": {"spec": one("reg.example/a")}}})), settings(json!({"templates": "inject"})), none(), accepted(&[]), &[])]
#[case::no_matching_image(request("Pod", "CREATE", pod(spec(json!(null), json!([{"name": "a", "image": "nginx:1.27"}, {"name": "b", "image": "reg.example.evil.com/a"}])))), settings(json!({"templates": "inject"})), none(), accepted(&[]), &[])]
#[case::unparseable_image(request("Pod", "CREATE", pod(one("reg.example/UPPER"))), settings(json!({"templates": "inject"})), none(), accepted(&[]), &[])]
#[case::ephemeral_container_of_another_registry(debug(json!(null), "busybox"), settings(json!({"templates": "inject"})), none(), accepted(&[]), &[])]
// Only a custom resource can arrive with a pod spec of the wrong shape (the API server decodes
// built-in kinds before admission): a 400 naming the kind and the path.
#[case::malformed_custom_resource(request("argoproj.io/Rollout", "CREATE", template(json!({"containers": {}}))), rollouts(json!({})), none(), Decision::Reject { message: "malformed Rollout: spec.template.spec.containers is not a list".into(), code: Some(400), warnings: vec![] }, &[])]
// Several failures: one sorted message, each secret read once.
#[case::several_failures(corp_pod(json!(null)), zeta_alpha_zeta(), none(), zeta_alpha_zeta_refused(), &["Secret team-a/zeta data=true", "Secret team-a/alpha data=true"])]
#[case::containers_capped_in_messages(eight_containers(), corp("reject", json!({})), none(), rejected(&line("secret not found", FIVE_OF_EIGHT, CREATE)), &[READ])]
// `onMissingSecret` decides what a failed secret does to a Pod CREATE; a listed secret is still
// verified, and with `checkCredentials: false` only its type is read.
#[case::reject(corp_pod(json!(null)), corp("reject", json!({})), none(), rejected(&missing("")), &[READ])]
#[case::warn_adds_it_anyway(corp_pod(json!(null)), corp("warn", json!({})), none(), adds("/spec", &["corp"], &[&missing("warn, added anyway")]), &[READ])]
#[case::skip_leaves_it_out(corp_pod(json!(null)), corp("skip", json!({})), none(), accepted(&[&missing("skip, not added")]), &[READ])]
#[case::skip_keeps_a_listed_one(corp_pod(json!([{"name": "corp"}])), corp("skip", json!({})), none(), accepted(&[&missing("skip, existing reference kept")]), &[READ])]
#[case::a_listed_one_is_verified(corp_pod(json!([{"name": "corp"}])), corp("reject", json!({})), with_corp(&["reg.example"]), accepted(&[]), &[READ])]
#[case::check_credentials_false(corp_pod(json!(null)), corp("reject", json!({"checkCredentials": false})), with_corp(&["other.example"]), adds("/spec", &["corp"], &[]), &["Secret team-a/corp data=false"])]
// `inject: false`: the Pod must list the secret already (warn and skip only warn), and only a
// listed secret is read.
#[case::validate_only_not_listed(corp_pod(json!(null)), corp("reject", json!({"inject": false})), none(), rejected(&line(NOT_LISTED, CORP_POD, ADD)), &[])]
#[case::validate_only_warns(corp_pod(json!([{"name": "mirror"}])), corp("warn", json!({"inject": false})), none(), accepted(&[&line(NOT_LISTED, CORP_POD, ADD)]), &[])]
#[case::validate_only_skip_warns(corp_pod(json!(null)), corp("skip", json!({"inject": false})), none(), accepted(&[&line(NOT_LISTED, CORP_POD, ADD)]), &[])]
#[case::validate_only_verifies_a_listed_one(corp_pod(json!([{"name": "corp"}])), corp("reject", json!({"inject": false})), with_corp(&["reg.example"]), accepted(&[]), &[READ])]
#[case::validate_only_listed_without_credentials(corp_pod(json!([{"name": "corp"}])), corp("reject", json!({"inject": false})), with_corp(&["other.example"]), rejected(&line("it holds no credentials for reg.example", CORP_POD, "add an \"auths\" entry for reg.example to it")), &[READ])]
// `ValidatePodUpdate` lets a running pod's images change, never its `imagePullSecrets`: only
// images new in the request count (a changed image, a new ephemeral container); they must be
// covered by a listed secret, `skip` acting as `warn`; never a patch.
#[case::update_covered(pod_update(&["reg.example/a:1", "eu.corp.example/b:1"], &["reg.example/a:2", "eu.corp.example/b:1"], json!([{"name": "corp"}])), settings(json!({})), with_corp(&["reg.example"]), accepted(&[]), &[READ])]
#[case::update_reject(uncovered_update(), corp("reject", json!({})), none(), rejected(&changed_image()), &[])]
#[case::update_warn(uncovered_update(), corp("warn", json!({})), none(), accepted(&[&changed_image()]), &[])]
#[case::update_skip_acts_as_warn(uncovered_update(), corp("skip", json!({})), none(), accepted(&[&changed_image()]), &[])]
#[case::ephemeral_covered(debug(json!([{"name": "corp"}]), "reg.example/debug"), corp("reject", json!({})), with_corp(&["reg.example"]), accepted(&[]), &[READ])]
#[case::ephemeral_reject(debug(json!(null), "reg.example/debug"), corp("reject", json!({})), none(), rejected(&new_debugger()), &[])]
// `templates: check`: a workload gets the answer its pods will get, named, never a patch. Pods of
// a template that lists no secret get their ServiceAccount's (the ServiceAccount admission
// plugin), read where that decides the answer (validate-only, `skip`'s wording), each once.
#[case::workload_reject(web(json!(null)), corp("reject", json!({})), none(), web_refused("secret not found", CREATE), &[READ])]
#[case::workload_warn(web(json!(null)), corp("warn", json!({})), none(), web_warned("warn, added anyway"), &[READ])]
#[case::workload_skip(web(json!(null)), corp("skip", json!({})), none().with_service_account("default", Ok(vec![])), web_warned("skip, not added"), &[SA, READ])]
#[case::rollout_restart(restarted(), corp("reject", json!({})), none(), web_refused("secret not found", CREATE), &[READ])]
#[case::cron_job_admitted(request("batch/CronJob", "CREATE", json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": one("reg.example/a")}}}}})), corp("reject", json!({})), with_corp(&["reg.example"]), accepted(&[]), &[READ])]
#[case::account_lists_it(web(json!([])), corp("reject", json!({"inject": false})), account(Ok(vec!["corp".into()])), accepted(&[]), &[SA, READ])]
#[case::account_lacks_it(web(json!([])), corp("reject", json!({"inject": false})), account(Ok(vec!["other".into()])), web_refused(NOT_LISTED, ADD), &[SA])]
#[case::account_unreadable(web(json!([])), corp("reject", json!({"inject": false})), account(Err(forbidden())), accepted(&[UNREAD]), &[SA, READ])]
#[case::account_read_once(multi().0, multi().1, account(Ok(vec!["corp".into()])), accepted(&[]), &[SA])]
// `templates: inject`: the secret is appended to the template (of a built-in kind or a custom
// resource); a template with an empty list gets its ServiceAccount's secrets first, as its pods
// would, and one whose ServiceAccount cannot be read gets the secret with a warning.
#[case::inject_appended(request("apps/Deployment", "CREATE", template(spec(json!([{"name": "own"}]), json!([{"name": "a", "image": "eu.corp.example/a"}])))), rollouts(json!({"templates": "inject"})), inject_cluster(), adds("/spec/template/spec", &["own", "corp"], &[]), &[READ])]
#[case::inject_custom_resource(request("argoproj.io/Rollout", "CREATE", template(spec(json!([{"name": "own"}]), json!([{"name": "a", "image": "reg.example/a"}])))), rollouts(json!({"templates": "inject"})), inject_cluster(), adds("/spec/template/spec", &["own", "corp"], &[]), &[READ])]
#[case::inject_inherits_first(request("apps/Deployment", "CREATE", template(json!({"serviceAccountName": "builder", "containers": [{"name": "a", "image": "reg.example/a"}]}))), rollouts(json!({"templates": "inject"})), inject_cluster().with_service_account("builder", Ok(vec!["sa-secret".into(), "corp".into()])), adds("/spec/template/spec", &["sa-secret", "corp"], &[]), &[READ, "ServiceAccount team-a/builder"])]
#[case::inject_default_account(request("apps/Deployment", "CREATE", template(one("reg.example/a"))), rollouts(json!({"templates": "inject"})), inject_cluster().with_service_account("default", Ok(vec!["sa".into()])), adds("/spec/template/spec", &["sa", "corp"], &[]), &[READ, SA])]
#[case::inject_account_unreadable(request("apps/Deployment", "CREATE", template(one("reg.example/a"))), rollouts(json!({"templates": "inject"})), inject_cluster().with_service_account("default", Err(forbidden())), adds("/spec/template/spec", &["corp"], &[SA_UNREAD]), &[READ, SA])]
fn decides(
    #[case] request: Value,
    #[case] settings: Value,
    #[case] cluster: MemoryCluster,
    #[case] expected: Decision,
    #[case] calls: &[&str],
) {
    assert_eq!(
        decide(&request, &settings, cluster),
        (expected, strings(calls))
    );
}

#[test]
fn canary_credential_never_reaches_any_output() {
    for keys in [&["other.example"][..], &["reg.example"][..]] {
        for on_missing in ["reject", "warn", "skip"] {
            let settings = corp(on_missing, json!({}));
            let shown = format!(
                "{:?}",
                decide(&corp_pod(json!(null)), &settings, with_corp(keys))
            );
            assert!(
                !shown.contains(CANARY) && !shown.contains(CANARY_B64),
                "{shown}"
            );
        }
    }
}
