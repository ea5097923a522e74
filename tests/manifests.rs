//! What an operator copies from us must work when applied: every manifest in the README, in
//! `docs/*.md` and in `examples/install/` parses, names kinds and fields that exist in the
//! Kubernetes, Kubewarden and Flux APIs, carries settings the policy accepts, and grants its RBAC to
//! the ServiceAccount the PolicyServer of the same example runs as.

mod support;

use std::collections::BTreeSet;

use image_pull_secrets::Settings;
use serde_yaml::Value;
use support::{applied_yaml_blocks, read, repository};

/// The Kubewarden namespace of Kubewarden's Helm charts, where the controller runs PolicyServers.
const KUBEWARDEN_NAMESPACE: &str = "kubewarden";
/// The default PolicyServer's ServiceAccount (`kubewarden-defaults`: `serviceAccountName:
/// policy-server`); `policy-server-default` is its Deployment.
const DEFAULT_ACCOUNT: &str = "policy-server";

/// Field paths each kind may use (`[]` is a list item), from the Kubewarden CRDs
/// (kubewarden-controller `api/policies/v1`: `policy_types.go` PolicySpec,
/// `clusteradmissionpolicy_types.go`, `policyserver_types.go`) and the Kubernetes types
/// (`admissionregistration/v1` RuleWithOperations, `meta/v1` LabelSelector, `rbac/v1`,
/// `core/v1` ServiceAccount). A path ending in `*` takes any content below it.
const METADATA_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.labels.*",
    "metadata.annotations.*",
];
const POLICY_FIELDS: &[&str] = &[
    "spec.policyServer",
    "spec.mode",
    "spec.module",
    "spec.settings.*",
    "spec.rules[].apiGroups",
    "spec.rules[].apiVersions",
    "spec.rules[].resources",
    "spec.rules[].operations",
    "spec.rules[].scope",
    "spec.failurePolicy",
    "spec.mutating",
    "spec.backgroundAudit",
    "spec.matchPolicy",
    "spec.matchConditions[].name",
    "spec.matchConditions[].expression",
    "spec.objectSelector.matchLabels.*",
    "spec.objectSelector.matchExpressions[].key",
    "spec.objectSelector.matchExpressions[].operator",
    "spec.objectSelector.matchExpressions[].values",
    "spec.sideEffects",
    "spec.timeoutSeconds",
    "spec.message",
];
const CLUSTER_POLICY_FIELDS: &[&str] = &[
    "spec.namespaceSelector.matchLabels.*",
    "spec.namespaceSelector.matchExpressions[].key",
    "spec.namespaceSelector.matchExpressions[].operator",
    "spec.namespaceSelector.matchExpressions[].values",
    "spec.contextAwareResources[].apiVersion",
    "spec.contextAwareResources[].kind",
];
const POLICY_SERVER_FIELDS: &[&str] = &[
    "spec.image",
    "spec.replicas",
    "spec.minAvailable",
    "spec.maxUnavailable",
    "spec.annotations.*",
    "spec.env[].name",
    "spec.env[].value",
    "spec.serviceAccountName",
    "spec.imagePullSecret",
    "spec.insecureSources",
    "spec.sourceAuthorities.*",
    "spec.verificationConfig",
    "spec.securityContexts.*",
    "spec.affinity.*",
    "spec.limits.*",
    "spec.requests.*",
];
const CLUSTER_ROLE_FIELDS: &[&str] = &[
    "rules[].apiGroups",
    "rules[].resources",
    "rules[].verbs",
    "rules[].resourceNames",
    "rules[].nonResourceURLs",
];
const BINDING_FIELDS: &[&str] = &[
    "roleRef.apiGroup",
    "roleRef.kind",
    "roleRef.name",
    "subjects[].kind",
    "subjects[].apiGroup",
    "subjects[].name",
    "subjects[].namespace",
];
const SERVICE_ACCOUNT_FIELDS: &[&str] = &[
    "metadata.namespace",
    "imagePullSecrets[].name",
    "automountServiceAccountToken",
];
/// Flux's objects of the README's GitOps path (source-controller `HelmRepository` v1,
/// helm-controller `HelmRelease` v2): the chart's repository and the chart with its values.
const HELM_REPOSITORY_FIELDS: &[&str] = &["metadata.namespace", "spec.url", "spec.interval"];
const HELM_RELEASE_FIELDS: &[&str] = &[
    "metadata.namespace",
    "spec.interval",
    "spec.chart.spec.chart",
    "spec.chart.spec.version",
    "spec.chart.spec.sourceRef.kind",
    "spec.chart.spec.sourceRef.name",
    "spec.values.*",
];
/// A `policies.yml` entry of a standalone PolicyServer (docs/kwctl-and-standalone.md).
const POLICIES_YML_FIELDS: &[&str] = &[
    "module",
    "settings.*",
    "allowedToMutate",
    "contextAwareResources[].apiVersion",
    "contextAwareResources[].kind",
    "hostCapabilities",
];

/// The fields a manifest of this apiVersion and kind may use; `None` for a kind we do not know.
fn allowed_fields(api_version: &str, kind: &str) -> Option<Vec<&'static str>> {
    let fields: Vec<&[&str]> = match (api_version, kind) {
        ("policies.kubewarden.io/v1", "ClusterAdmissionPolicy") => {
            vec![POLICY_FIELDS, CLUSTER_POLICY_FIELDS]
        }
        ("policies.kubewarden.io/v1", "AdmissionPolicy") => {
            vec![POLICY_FIELDS, &["metadata.namespace"]]
        }
        ("policies.kubewarden.io/v1", "PolicyServer") => vec![POLICY_SERVER_FIELDS],
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => vec![CLUSTER_ROLE_FIELDS],
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => vec![BINDING_FIELDS],
        ("v1", "ServiceAccount") => vec![SERVICE_ACCOUNT_FIELDS],
        ("source.toolkit.fluxcd.io/v1", "HelmRepository") => vec![HELM_REPOSITORY_FIELDS],
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease") => vec![HELM_RELEASE_FIELDS],
        _ => return None,
    };
    let mut all = vec!["apiVersion", "kind"];
    all.extend(METADATA_FIELDS);
    all.extend(fields.into_iter().flatten());
    Some(all)
}

/// Every leaf path of a document, lists as `[]`; a mapping's path is listed too.
fn paths(value: &Value, prefix: &str, into: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, inner) in map {
                let key = key
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{key:?}"));
                let path = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                into.push(path.clone());
                paths(inner, &path, into);
            }
        }
        Value::Sequence(items) => {
            for item in items {
                paths(item, &format!("{prefix}[]"), into);
            }
        }
        _ => {}
    }
}

fn is_allowed(allowed: &[&str], path: &str) -> bool {
    allowed.iter().any(|field| match field.strip_suffix(".*") {
        Some(open) => {
            path == open
                || path
                    .strip_prefix(open)
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        }
        // A mapping's own path is allowed when a field lies under it.
        None => {
            *field == path
                || field
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        }
    })
}

/// One YAML document an operator applies, and where it comes from.
struct Manifest {
    source: String,
    doc: Value,
}

/// One example: the manifests meant to be applied together (a file of `examples/install/`, or
/// every block of one Markdown page).
struct Example {
    name: String,
    manifests: Vec<Manifest>,
}

fn documents(source: &str, text: &str) -> Vec<Manifest> {
    serde_yaml::Deserializer::from_str(text)
        .enumerate()
        .map(|(index, document)| Manifest {
            source: format!("{source}, document {}", index + 1),
            doc: serde::Deserialize::deserialize(document)
                .unwrap_or_else(|e| panic!("{source}: document {} is not YAML: {e}", index + 1)),
        })
        .filter(|manifest| !manifest.doc.is_null())
        .collect()
}

/// The applied ```yaml blocks of a Markdown page.
fn markdown_example(file: &str) -> Example {
    let text = read(file);
    let manifests = applied_yaml_blocks(&text)
        .into_iter()
        .flat_map(|(index, block)| documents(&format!("{file}, yaml block {index}"), block))
        .collect();
    Example {
        name: file.to_string(),
        manifests,
    }
}

fn examples() -> Vec<Example> {
    let mut files = vec!["README.md".to_string()];
    let listed = |dir: &str, ext: &str| {
        let mut found: Vec<String> = std::fs::read_dir(repository().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(ext))
            .map(|name| format!("{dir}/{name}"))
            .collect();
        found.sort();
        found
    };
    files.extend(listed("docs", ".md"));
    let installs = listed("examples/install", ".yaml");
    let mut all: Vec<Example> = files.iter().map(|file| markdown_example(file)).collect();
    all.extend(installs.iter().map(|file| Example {
        name: file.clone(),
        manifests: documents(file, &read(file)),
    }));
    all
}

fn text<'a>(manifest: &'a Manifest, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(&manifest.doc, |node, key| node.get(*key))?
        .as_str()
}

/// Whether a document is a `policies.yml`: policy ids mapping to entries with a `module`.
fn is_policies_yml(doc: &Value) -> bool {
    doc.as_mapping().is_some_and(|map| {
        !map.is_empty() && map.values().all(|entry| entry.get("module").is_some())
    })
}

fn check_settings(source: &str, settings: Option<&Value>) {
    let Some(settings) = settings else { return };
    let json: serde_json::Value = serde_yaml::from_value(settings.clone()).unwrap();
    if let Err(e) = Settings::from_slice(json.to_string().as_bytes()) {
        panic!("{source}: the policy refuses these settings: {e}");
    }
}

#[test]
fn every_manifest_parses_and_uses_known_kinds_and_fields() {
    let mut checked = 0;
    for example in examples() {
        for manifest in &example.manifests {
            let source = &manifest.source;
            if is_policies_yml(&manifest.doc) {
                for (id, entry) in manifest.doc.as_mapping().unwrap() {
                    let mut used = Vec::new();
                    paths(entry, "", &mut used);
                    let unknown: Vec<_> = used
                        .iter()
                        .filter(|path| !is_allowed(POLICIES_YML_FIELDS, path))
                        .collect();
                    assert!(
                        unknown.is_empty(),
                        "{source}: policies.yml {id:?}: unknown fields {unknown:?}"
                    );
                    check_settings(source, entry.get("settings"));
                }
                checked += 1;
                continue;
            }
            let api_version = text(manifest, &["apiVersion"]).unwrap_or_default();
            let kind = text(manifest, &["kind"]).unwrap_or_default();
            let allowed = allowed_fields(api_version, kind).unwrap_or_else(|| {
                panic!("{source}: unknown apiVersion/kind {api_version:?} {kind:?}")
            });
            let mut used = Vec::new();
            paths(&manifest.doc, "", &mut used);
            let unknown: Vec<_> = used
                .iter()
                .filter(|path| !is_allowed(&allowed, path))
                .collect();
            assert!(
                unknown.is_empty(),
                "{source}: {kind} has no fields {unknown:?}"
            );
            assert!(
                text(manifest, &["metadata", "name"]).is_some(),
                "{source}: no metadata.name"
            );
            match kind {
                "ClusterAdmissionPolicy" | "AdmissionPolicy" => {
                    assert!(
                        text(manifest, &["spec", "module"]).is_some(),
                        "{source}: no spec.module"
                    );
                    assert!(
                        manifest.doc["spec"]["rules"].is_sequence(),
                        "{source}: no spec.rules"
                    );
                    check_settings(source, manifest.doc["spec"].get("settings"));
                }
                "HelmRelease" => {
                    check_settings(source, manifest.doc["spec"]["values"].get("settings"))
                }
                "PolicyServer" => assert!(
                    text(manifest, &["spec", "image"]).is_some()
                        && manifest.doc["spec"]["replicas"].is_u64(),
                    "{source}: a PolicyServer needs spec.image and spec.replicas"
                ),
                _ => {}
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} manifests found: is the extraction broken?"
    );
}

fn of_kind<'e>(
    example: &'e Example,
    kind: &'static str,
) -> impl Iterator<Item = &'e Manifest> + 'e {
    example
        .manifests
        .iter()
        .filter(move |manifest| text(manifest, &["kind"]) == Some(kind))
}

/// The ServiceAccounts the PolicyServers of an example's policies run as.
fn policy_server_accounts(example: &Example) -> BTreeSet<(String, String)> {
    let find = |kind: &'static str| of_kind(example, kind);
    let mut accounts = BTreeSet::new();
    for policy in find("ClusterAdmissionPolicy").chain(find("AdmissionPolicy")) {
        let server = text(policy, &["spec", "policyServer"]).unwrap_or("default");
        let defined =
            find("PolicyServer").find(|ps| text(ps, &["metadata", "name"]) == Some(server));
        let account = match (server, defined) {
            (_, Some(ps)) => {
                let account = text(ps, &["spec", "serviceAccountName"]).unwrap_or_else(|| {
                    panic!(
                        "{}: PolicyServer {server:?} names no serviceAccountName",
                        ps.source
                    )
                });
                let created = find("ServiceAccount").any(|sa| {
                    text(sa, &["metadata", "name"]) == Some(account)
                        && text(sa, &["metadata", "namespace"]) == Some(KUBEWARDEN_NAMESPACE)
                });
                assert!(
                    created,
                    "{}: no ServiceAccount {account:?} in {KUBEWARDEN_NAMESPACE}",
                    example.name
                );
                account
            }
            ("default", None) => DEFAULT_ACCOUNT,
            (other, None) => panic!(
                "{}: policyServer {other:?} is defined nowhere",
                policy.source
            ),
        };
        accounts.insert((KUBEWARDEN_NAMESPACE.to_string(), account.to_string()));
    }
    if accounts.is_empty() {
        // RBAC shown on its own is for the default PolicyServer.
        accounts.insert((
            KUBEWARDEN_NAMESPACE.to_string(),
            DEFAULT_ACCOUNT.to_string(),
        ));
    }
    accounts
}

#[test]
fn every_rbac_subject_is_the_service_account_its_policy_server_runs_as() {
    let mut bindings = 0;
    for example in examples() {
        let accounts = policy_server_accounts(&example);
        let roles: Vec<&str> = example
            .manifests
            .iter()
            .filter(|m| text(m, &["kind"]) == Some("ClusterRole"))
            .filter_map(|m| text(m, &["metadata", "name"]))
            .collect();
        for binding in example
            .manifests
            .iter()
            .filter(|m| text(m, &["kind"]) == Some("ClusterRoleBinding"))
        {
            bindings += 1;
            let role = text(binding, &["roleRef", "name"]).unwrap_or_default();
            assert!(
                roles.contains(&role),
                "{}: roleRef {role:?} is no ClusterRole of this example",
                binding.source
            );
            let subjects = binding.doc["subjects"]
                .as_sequence()
                .map(Vec::as_slice)
                .unwrap_or_default();
            assert!(!subjects.is_empty(), "{}: no subjects", binding.source);
            for subject in subjects {
                let field = |key: &str| subject[key].as_str().unwrap_or_default().to_string();
                assert_eq!(
                    field("kind"),
                    "ServiceAccount",
                    "{}: {subject:?}",
                    binding.source
                );
                let named = (field("namespace"), field("name"));
                assert!(
                    accounts.contains(&named),
                    "{}: subject {named:?} is not the ServiceAccount the PolicyServer runs as ({accounts:?})",
                    binding.source
                );
            }
        }
    }
    assert!(bindings >= 3, "only {bindings} ClusterRoleBindings found");
}
