//! The benchmark's workloads: realistic requests and settings, built in code so the 1, 10 and
//! 100-container variants differ only in size, and the host answers each one needs.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::{json, Value};

use crate::session::{Exchange, HostRequest, HostResponse};

/// The namespace every request is made in.
pub const NAMESPACE: &str = "team-a";
/// Container counts of the pod families, smallest first.
pub const POD_SIZES: [usize; 3] = [1, 10, 100];

/// One benchmarked request.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    /// What it exercises, in a few words.
    pub description: String,
    /// Groups the pod variants for the growth figures (`None` outside the families).
    pub family: Option<Family>,
    pub containers: usize,
    pub settings: Value,
    /// The AdmissionRequest (not wrapped in a review).
    pub request: Value,
    /// Answers to the host calls of one evaluation, in order; re-armed for each.
    pub exchanges: Vec<Exchange>,
    pub expected: Expected,
    /// Diagnostic workloads explain costs and are left out of the targets.
    pub diagnostic: bool,
}

/// The three pod variants measured at 1, 10 and 100 containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// Matching images, the secret missing from the spec: the policy injects it.
    Inject,
    /// Matching images, the secret already listed: nothing to do.
    AlreadyPresent,
    /// No image matches any rule.
    NoMatch,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::Inject, Family::AlreadyPresent, Family::NoMatch];

    pub fn slug(self) -> &'static str {
        match self {
            Family::Inject => "inject",
            Family::AlreadyPresent => "present",
            Family::NoMatch => "nomatch",
        }
    }
}

/// What a correct evaluation of the workload looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub outcome: Outcome,
    /// Host calls the design allows: one per distinct secret looked up, one per
    /// ServiceAccount read for an empty template list, none when nothing matches.
    pub host_call_budget: usize,
    /// Nothing matches: the target is exactly zero host calls.
    pub nothing_matches: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed with a JSON patch.
    Patch,
    /// Allowed as it is.
    Accept,
}

/// Every workload, in report order.
pub fn all() -> Vec<Workload> {
    let mut workloads = Vec::new();
    for family in Family::ALL {
        for size in POD_SIZES {
            workloads.push(pod_family(family, size));
        }
    }
    workloads.push(deployment());
    workloads.push(verified(1));
    workloads.push(verified(3));
    workloads.push(pod_without_images());
    workloads
}

/// Settings as a platform team would write them: the corporate registry and its mirrors,
/// the company's Docker Hub organisation, a partner's GitHub packages.
pub fn settings(verify_secrets: bool) -> Value {
    json!({
        "rules": [
            {
                "secret": "corp-registry",
                "registries": ["registry.corp.example:5000", "*.corp.example"],
                "onMissingSecret": "reject",
            },
            {
                "secret": "dockerhub",
                "images": ["docker.io/acme/**"],
                "onMissingSecret": "warn",
            },
            {
                "secret": "partner-ghcr",
                "images": ["ghcr.io/partner-co/**"],
                "onMissingSecret": "skip",
            },
        ],
        "inject": true,
        "verifySecrets": verify_secrets,
        "checkCredentials": true,
    })
}

/// The images of the pod families: distinct per container, as in a pod built from many
/// services, so each one is parsed.
fn family_image(family: Family, index: usize) -> String {
    match family {
        Family::Inject | Family::AlreadyPresent => format!(
            "registry.corp.example:5000/team-{}/service-{index}:1.{index}.0",
            index % 7
        ),
        Family::NoMatch => format!("quay.io/prometheus/exporter-{index}:v0.{index}.1"),
    }
}

fn pod_family(family: Family, size: usize) -> Workload {
    let images: Vec<String> = (0..size).map(|i| family_image(family, i)).collect();
    let mut secrets = vec!["team-a-mirror"];
    if family == Family::AlreadyPresent {
        secrets.push("corp-registry");
    }
    let (description, outcome) = match family {
        Family::Inject => ("corp images, secret missing: injected", Outcome::Patch),
        Family::AlreadyPresent => ("corp images, secret already listed", Outcome::Accept),
        Family::NoMatch => ("no image matches a rule", Outcome::Accept),
    };
    Workload {
        name: format!("pod-{size}-{}", family.slug()),
        description: description.to_owned(),
        family: Some(family),
        containers: size,
        settings: settings(false),
        request: pod_request(&format!("pod-{size}"), &images, &secrets),
        exchanges: Vec::new(),
        expected: Expected {
            outcome,
            host_call_budget: 0,
            nothing_matches: family == Family::NoMatch,
        },
        diagnostic: false,
    }
}

/// A Deployment whose template lists no secret: the policy reads the ServiceAccount so its
/// pull secrets are kept.
fn deployment() -> Workload {
    let template = json!({
        "metadata": {"labels": {"app": "api"}},
        "spec": {
            "serviceAccountName": "builder",
            "imagePullSecrets": [],
            "containers": [
                container("api", "acme/api:3.4.1"),
                container("cache", "registry.corp.example:5000/platform/cache:1.2"),
                container("proxy", "nginx:1.27"),
            ],
        },
    });
    let object = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": NAMESPACE, "labels": {"app": "api"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}}, "template": template},
    });
    Workload {
        name: "deployment".to_owned(),
        description: "3 containers, empty template list: ServiceAccount read, 2 secrets injected"
            .to_owned(),
        family: None,
        containers: 3,
        settings: settings(false),
        request: admission_request("apps", "Deployment", "deployments", "api", object),
        exchanges: vec![service_account_exchange("builder", &["sa-mirror"])],
        expected: Expected {
            outcome: Outcome::Patch,
            host_call_budget: 1,
            nothing_matches: false,
        },
        diagnostic: false,
    }
}

/// The companion rule: `secrets` distinct secrets are looked up and their credentials
/// checked against the images' registries.
fn verified(secrets: usize) -> Workload {
    let (images, exchanges): (Vec<&str>, Vec<Exchange>) = match secrets {
        1 => (
            vec![
                "registry.corp.example:5000/finance/billing:2.4.1",
                "registry.corp.example:5000/finance/ledger:1.9",
                "eu.corp.example/platform/log-agent:1.8",
            ],
            vec![secret_exchange(
                "corp-registry",
                &["registry.corp.example:5000", "*.corp.example"],
            )],
        ),
        3 => (
            vec![
                "registry.corp.example:5000/finance/billing:2.4.1",
                "acme/metrics-sidecar:0.9",
                "ghcr.io/partner-co/connector:5.0",
            ],
            vec![
                secret_exchange(
                    "corp-registry",
                    &["registry.corp.example:5000", "*.corp.example"],
                ),
                secret_exchange("dockerhub", &["https://index.docker.io/v1/"]),
                secret_exchange("partner-ghcr", &["ghcr.io"]),
            ],
        ),
        _ => unreachable!("verified workloads have 1 or 3 secrets"),
    };
    let images: Vec<String> = images.into_iter().map(str::to_owned).collect();
    Workload {
        name: format!(
            "verify-{secrets}-secret{}",
            if secrets == 1 { "" } else { "s" }
        ),
        description: format!(
            "verifySecrets: 3 containers, {secrets} distinct secret{} read and checked",
            if secrets == 1 { "" } else { "s" }
        ),
        family: None,
        containers: images.len(),
        settings: settings(true),
        request: pod_request("verified", &images, &["team-a-mirror"]),
        exchanges,
        expected: Expected {
            outcome: Outcome::Patch,
            host_call_budget: secrets,
            nothing_matches: false,
        },
        diagnostic: false,
    }
}

/// Diagnostic: a container without an image, so no reference is parsed. Against
/// `pod-1-nomatch` it shows what parsing the first image costs, one-time work included (a
/// regex-based parser builds its regex in every fresh instance: ~36 ms with oci-spec's).
fn pod_without_images() -> Workload {
    let mut request = pod_request("no-image", &[], &["team-a-mirror"]);
    request["object"]["spec"]["containers"] = json!([{"name": "app", "resources": {}}]);
    Workload {
        name: "diag-pod-no-image".to_owned(),
        description: "1 container without an image: nothing is parsed".to_owned(),
        family: None,
        containers: 1,
        settings: settings(false),
        request,
        exchanges: Vec::new(),
        expected: Expected {
            outcome: Outcome::Accept,
            host_call_budget: 0,
            nothing_matches: true,
        },
        diagnostic: true,
    }
}

/// A container as a Deployment generator writes it.
fn container(name: &str, image: &str) -> Value {
    json!({
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": true}],
    })
}

fn pod_request(name: &str, images: &[String], secrets: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| container(&format!("c{i}"), image))
        .collect();
    let pull_secrets: Vec<Value> = secrets.iter().map(|s| json!({"name": s})).collect();
    let object = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": {
            "serviceAccountName": "default",
            "imagePullSecrets": pull_secrets,
            "containers": containers,
            "volumes": [{"name": "config", "configMap": {"name": "app-config"}}],
        },
    });
    admission_request("", "Pod", "pods", name, object)
}

fn admission_request(group: &str, kind: &str, resource: &str, name: &str, object: Value) -> Value {
    let gvk = json!({"group": group, "version": "v1", "kind": kind});
    let gvr = json!({"group": group, "version": "v1", "resource": resource});
    json!({
        "uid": format!("bench-{name}"),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": name,
        "namespace": NAMESPACE,
        "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:argocd:argocd-application-controller", "groups": ["system:serviceaccounts", "system:authenticated"]},
        "object": object,
        "dryRun": false,
    })
}

/// A dockerconfigjson Secret covering `registries`, with fake credentials.
fn secret_exchange(name: &str, registries: &[&str]) -> Exchange {
    let auths: serde_json::Map<String, Value> = registries
        .iter()
        .map(|registry| {
            (
                registry.to_string(),
                json!({"username": "bench", "password": "FAKE-bench-password", "auth": STANDARD.encode("bench:FAKE-bench-password")}),
            )
        })
        .collect();
    let config = json!({ "auths": auths }).to_string();
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": STANDARD.encode(config)},
    });
    Exchange {
        request: HostRequest::KubernetesGetResource {
            api_version: "v1".into(),
            kind: "Secret".into(),
            name: name.into(),
            namespace: Some(NAMESPACE.into()),
            disable_cache: false,
            // checkCredentials: the whole object, data included.
            field_masks: None,
        },
        response: HostResponse::Success(secret.to_string().into_bytes()),
    }
}

fn service_account_exchange(name: &str, pull_secrets: &[&str]) -> Exchange {
    let listed: Vec<Value> = pull_secrets.iter().map(|s| json!({"name": s})).collect();
    let account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "imagePullSecrets": listed,
    });
    Exchange {
        request: HostRequest::KubernetesGetResource {
            api_version: "v1".into(),
            kind: "ServiceAccount".into(),
            name: name.into(),
            namespace: Some(NAMESPACE.into()),
            disable_cache: false,
            field_masks: Some(["imagePullSecrets".to_owned()].into()),
        },
        response: HostResponse::Success(account.to_string().into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::ValidateRequest;

    #[test]
    fn names_are_unique_and_every_family_has_every_size() {
        let workloads = all();
        let mut names: Vec<&str> = workloads.iter().map(|w| w.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), workloads.len());
        for family in Family::ALL {
            let sizes: Vec<usize> = workloads
                .iter()
                .filter(|w| w.family == Some(family))
                .map(|w| w.containers)
                .collect();
            assert_eq!(sizes, POD_SIZES, "{family:?}");
        }
    }

    #[test]
    fn requests_are_valid_admission_requests_with_their_container_count() {
        for workload in all() {
            ValidateRequest::from_document(workload.request.clone(), false)
                .unwrap_or_else(|e| panic!("{}: {e}", workload.name));
            let spec = workload
                .request
                .pointer("/object/spec/template/spec")
                .or(workload.request.pointer("/object/spec"))
                .unwrap();
            assert_eq!(
                spec["containers"].as_array().unwrap().len(),
                workload.containers,
                "{}",
                workload.name
            );
        }
    }

    #[test]
    fn plain_mutation_makes_no_lookups_and_replays_match_budgets() {
        for workload in all() {
            let verify = workload.settings["verifySecrets"].as_bool().unwrap();
            assert_eq!(
                verify,
                workload.name.starts_with("verify-"),
                "{}",
                workload.name
            );
            assert_eq!(
                workload.exchanges.len(),
                workload.expected.host_call_budget,
                "{}",
                workload.name
            );
            if workload.expected.nothing_matches {
                assert_eq!(workload.expected.host_call_budget, 0);
            }
        }
    }

    #[test]
    fn pod_images_are_distinct() {
        let workload = pod_family(Family::Inject, 100);
        let mut images: Vec<&str> = workload.request["object"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["image"].as_str().unwrap())
            .collect();
        images.sort_unstable();
        images.dedup();
        assert_eq!(images.len(), 100);
    }

    #[test]
    fn replayed_secrets_are_dockerconfigjson_with_fake_credentials() {
        let workload = verified(3);
        let HostResponse::Success(payload) = &workload.exchanges[1].response else {
            panic!()
        };
        let secret: Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
        let config = STANDARD
            .decode(secret["data"][".dockerconfigjson"].as_str().unwrap())
            .unwrap();
        let config: Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(
            config["auths"]["https://index.docker.io/v1/"]["password"],
            "FAKE-bench-password"
        );
    }
}
