//! What the Kubewarden controller derives from a stored ClusterAdmissionPolicy, written the same
//! way (kubewarden/kubewarden-controller, internal/controller): the PolicyServer's `policies.yml`
//! entry (`buildPoliciesMap` in policyserver_controller_configmap.go) and the webhook
//! configuration (`reconcileMutatingWebhookConfiguration` and `namespaceSelector` in
//! policy_subreconciler_webhook.go). One difference, forced by a cluster without Service
//! networking: the webhook's `clientConfig` is the PolicyServer's loopback `url`, not a `service`.

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::cluster::Kubectl;

/// The namespace Kubewarden runs in; the controller keeps every ClusterAdmissionPolicy out of it.
pub const NAMESPACE: &str = "kubewarden";

/// `GetUniqueName` of a ClusterAdmissionPolicy: the webhook's name and the PolicyServer's policy id.
pub fn unique_name(policy: &Value) -> String {
    format!(
        "clusterwide-{}",
        policy["metadata"]["name"].as_str().unwrap()
    )
}

/// The `policies.yml` entry for `policy` (as stored, with the CRD's defaults applied), its module
/// replaced by `module` (the loopback registry's copy). Kubewarden grants ClusterAdmissionPolicies
/// every host capability.
pub fn policy_server_entry(policy: &Value, module: &str) -> Value {
    let spec = &policy["spec"];
    let mut entry = json!({
        "namespacedName": {"namespace": "", "name": policy["metadata"]["name"]},
        "module": module,
        "policyMode": spec["mode"],
        "allowedToMutate": spec["mutating"].as_bool().unwrap_or(false),
        "hostCapabilities": ["*"],
    });
    for key in ["contextAwareResources", "settings", "message"] {
        if let Some(value) = spec.get(key) {
            entry[key] = value.clone();
        }
    }
    entry
}

/// The MutatingWebhookConfiguration (ValidatingWebhookConfiguration when not mutating) the
/// controller writes for `policy`, calling `base_url/validate/<unique name>` with `ca_bundle`.
pub fn webhook_configuration(policy: &Value, base_url: &str, ca_bundle: &str) -> Value {
    let spec = &policy["spec"];
    let name = unique_name(policy);
    let mutating = spec["mutating"].as_bool().unwrap_or(false);
    let mut webhook = json!({
        "name": format!("{name}.kubewarden.admission"),
        "clientConfig": {"url": format!("{base_url}/validate/{name}"), "caBundle": ca_bundle},
        "rules": spec["rules"],
        "sideEffects": spec.get("sideEffects").cloned().unwrap_or(json!("None")),
        "namespaceSelector": namespace_selector(spec),
        "admissionReviewVersions": ["v1"],
    });
    // Unset fields stay unset: the API server defaults them (Fail, Equivalent) as it does for the
    // controller's nil pointers.
    for key in [
        "failurePolicy",
        "matchPolicy",
        "objectSelector",
        "timeoutSeconds",
        "matchConditions",
    ] {
        if let Some(value) = spec.get(key) {
            webhook[key] = value.clone();
        }
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": if mutating { "MutatingWebhookConfiguration" } else { "ValidatingWebhookConfiguration" },
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/part-of": "kubewarden", "kubewardenPolicyScope": "cluster"},
            "annotations": {"kubewardenPolicyName": policy["metadata"]["name"], "kubewardenPolicyNamespace": ""},
        },
        "webhooks": [webhook],
    })
}

/// Kubewarden's own namespace excluded, then the policy's `matchExpressions` (the controller
/// copies only those of the policy's selector, not its `matchLabels`).
fn namespace_selector(spec: &Value) -> Value {
    let mut expressions = vec![json!({
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": [NAMESPACE],
    })];
    if let Some(own) = spec["namespaceSelector"]["matchExpressions"].as_array() {
        expressions.extend(own.iter().cloned());
    }
    json!({ "matchExpressions": expressions })
}

/// The repository's README.md, read once: the suites install what it tells operators to apply.
pub fn readme() -> &'static str {
    static README: OnceLock<String> = OnceLock::new();
    README.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        std::fs::read_to_string(root.join("README.md")).expect("README.md")
    })
}

/// The README's RBAC block: the ClusterRole and its binding to `kubewarden/policy-server`.
pub fn readme_rbac() -> &'static str {
    yaml_block(readme(), "Cluster access", "kind: ClusterRole")
}

/// Kubewarden's namespace, the default PolicyServer's ServiceAccount in it, and the README's RBAC
/// for that account (applied again, it also restores what a case took away).
pub fn install_namespace_and_rbac(kubectl: &Kubectl) {
    kubectl.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NAMESPACE}}}\n---\napiVersion: v1\n\
         kind: ServiceAccount\nmetadata: {{name: policy-server, namespace: {NAMESPACE}}}\n"
    ));
    kubectl.apply(readme_rbac());
}

/// The fenced YAML block of `markdown` under the heading `heading` that contains `marker`.
pub fn yaml_block<'a>(markdown: &'a str, heading: &str, marker: &str) -> &'a str {
    let section = markdown
        .split("\n#")
        .find(|s| s.trim_start_matches('#').trim_start().starts_with(heading))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    section
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains(marker))
        .unwrap_or_else(|| panic!("section {heading:?} has no yaml block with {marker:?}"))
}
