//! What an operator copies from us must work when applied: every manifest in the README, in
//! `docs/*.md` and in `examples/install/` carries settings the policy accepts and grants its RBAC to
//! the ServiceAccount the PolicyServer of the same example runs as; Flux's objects and a
//! `policies.yml` use fields that exist. The cluster suite (e2e-tests/tests/cluster.rs,
//! `copyable_manifests_pass_kubewardens_crds`) creates the Kubernetes and Kubewarden objects with
//! the real API server, strict field validation and Kubewarden's CRDs.

mod support;

use std::collections::BTreeSet;

use serde_yaml::Value;
use support::{assert_accepted, copyables, documents, field_paths};

/// The Kubewarden namespace of Kubewarden's Helm charts, where the controller runs PolicyServers.
const KUBEWARDEN_NAMESPACE: &str = "kubewarden";
/// The default PolicyServer's ServiceAccount (`kubewarden-defaults`: `serviceAccountName:
/// policy-server`); `policy-server-default` is its Deployment.
const DEFAULT_ACCOUNT: &str = "policy-server";

/// Field paths of the objects no API server here serves (`[]` is a list item; a path ending in
/// `*` takes any content below it). Flux's objects of the README's GitOps path (source-controller `HelmRepository` v1,
/// helm-controller `HelmRelease` v2): the chart's repository and the chart with its values.
const HELM_REPOSITORY_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata.name",
    "metadata.namespace",
    "spec.url",
    "spec.interval",
];
const HELM_RELEASE_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata.name",
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

fn examples() -> Vec<Example> {
    let mut all: Vec<Example> = Vec::new();
    for copyable in copyables() {
        let source = copyable.source();
        let manifests = documents(&source, &copyable.text)
            .into_iter()
            .enumerate()
            .map(|(index, doc)| Manifest {
                source: format!("{source}, document {}", index + 1),
                doc,
            });
        match all.last_mut() {
            Some(example) if example.name == copyable.file => example.manifests.extend(manifests),
            _ => all.push(Example {
                name: copyable.file,
                manifests: manifests.collect(),
            }),
        }
    }
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
    if let Some(settings) = settings {
        assert_accepted(source, settings);
    }
}

/// The fields of `doc` that `allowed` does not list.
fn unknown_fields(doc: &Value, allowed: &[&str]) -> Vec<String> {
    let mut used = Vec::new();
    field_paths(&serde_yaml::from_value(doc.clone()).unwrap(), "", &mut used);
    used.retain(|path| !is_allowed(allowed, path));
    used
}

#[test]
fn every_policy_carries_settings_the_policy_accepts_and_flux_fields_exist() {
    let mut checked = 0;
    for example in examples() {
        for Manifest { source, doc } in &example.manifests {
            if is_policies_yml(doc) {
                for (id, entry) in doc.as_mapping().unwrap() {
                    let unknown = unknown_fields(entry, POLICIES_YML_FIELDS);
                    assert!(
                        unknown.is_empty(),
                        "{source}: policies.yml {id:?}: unknown fields {unknown:?}"
                    );
                    check_settings(source, entry.get("settings"));
                }
                checked += 1;
                continue;
            }
            let field = |key: &str| doc[key].as_str().unwrap_or_default();
            let (api_version, kind) = (field("apiVersion"), field("kind"));
            match kind {
                "ClusterAdmissionPolicy" | "AdmissionPolicy" => {
                    check_settings(source, doc["spec"].get("settings"))
                }
                "HelmRelease" => check_settings(source, doc["spec"]["values"].get("settings")),
                _ => {}
            }
            let flux = match (api_version, kind) {
                ("source.toolkit.fluxcd.io/v1", "HelmRepository") => HELM_REPOSITORY_FIELDS,
                ("helm.toolkit.fluxcd.io/v2", "HelmRelease") => HELM_RELEASE_FIELDS,
                (api, _) if api.contains("fluxcd.io/") => {
                    panic!("{source}: unknown Flux apiVersion/kind {api:?} {kind:?}")
                }
                _ => &[],
            };
            let unknown = unknown_fields(doc, flux);
            assert!(
                flux.is_empty() || unknown.is_empty(),
                "{source}: {kind} has no fields {unknown:?}"
            );
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
