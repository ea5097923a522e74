//! What an operator copies from us must work when applied: every manifest in the README, in
//! `docs/*.md` and in `examples/install/` carries settings the policy accepts and grants its RBAC to
//! the ServiceAccount the PolicyServer of the same example runs as; Flux's objects and a
//! `policies.yml` use fields that exist. The cluster suite (e2e-tests/tests/cluster.rs,
//! `copyable_manifests_pass_kubewardens_crds`) creates the Kubernetes and Kubewarden objects with
//! the real API server, strict field validation and Kubewarden's CRDs.

mod support;

use std::collections::BTreeSet;

use serde_yaml::Value;
use support::{assert_accepted, copyables, documents};

/// The Kubewarden namespace of Kubewarden's Helm charts, where the controller runs PolicyServers.
const KUBEWARDEN_NAMESPACE: &str = "kubewarden";
/// The default PolicyServer's ServiceAccount (`kubewarden-defaults`: `serviceAccountName:
/// policy-server`); `policy-server-default` is its Deployment.
const DEFAULT_ACCOUNT: &str = "policy-server";

/// The fields of the objects no API server here serves, as a skeleton of each (`'*'` takes any
/// content; a list's items follow its first item). Flux's objects of the README's GitOps path
/// (source-controller `HelmRepository` v1, helm-controller `HelmRelease` v2): the chart's
/// repository and the chart with its values.
const HELM_REPOSITORY: &str = "{apiVersion: , kind: , metadata: {name: , namespace: },
  spec: {url: , interval: }}";
const HELM_RELEASE: &str = "{apiVersion: , kind: , metadata: {name: , namespace: },
  spec: {interval: , chart: {spec: {chart: , version: , sourceRef: {kind: , name: }}}, values: '*'}}";
/// A `policies.yml` entry of a standalone PolicyServer (docs/kwctl-and-standalone.md).
const POLICIES_YML_ENTRY: &str = "{module: , settings: '*', allowedToMutate: ,
  contextAwareResources: [{apiVersion: , kind: }], hostCapabilities: }";

/// The fields of `doc` (at `at`) that `schema` does not have.
fn unknown_fields(doc: &Value, schema: &Value, at: &str, into: &mut Vec<String>) {
    match doc {
        _ if schema == "*" => {}
        Value::Mapping(fields) => {
            for (key, value) in fields {
                let path = format!("{at}.{}", key.as_str().unwrap_or_default());
                match schema.get(key) {
                    Some(schema) => unknown_fields(value, schema, &path, into),
                    None => into.push(path),
                }
            }
        }
        Value::Sequence(items) => {
            for item in items {
                unknown_fields(item, &schema[0], &format!("{at}[]"), into);
            }
        }
        _ => {}
    }
}

/// Each example: the documents meant to be applied together (a file of `examples/install/`, or
/// every block of one page), each with where it comes from.
fn examples() -> Vec<(String, Vec<(String, Value)>)> {
    let mut all: Vec<(String, Vec<(String, Value)>)> = Vec::new();
    for copyable in copyables() {
        let docs = documents(&copyable.source, &copyable.text)
            .into_iter()
            .enumerate();
        let docs =
            docs.map(|(index, doc)| (format!("{}, document {}", copyable.source, index + 1), doc));
        match all.last_mut() {
            Some((file, example)) if *file == copyable.file => example.extend(docs),
            _ => all.push((copyable.file, docs.collect())),
        }
    }
    all
}

/// Panics unless `doc` has only the fields of `schema` (YAML).
fn assert_known_fields(source: &str, doc: &Value, schema: &str) {
    let mut unknown = Vec::new();
    unknown_fields(
        doc,
        &serde_yaml::from_str(schema).unwrap(),
        "",
        &mut unknown,
    );
    assert!(unknown.is_empty(), "{source}: unknown fields {unknown:?}");
}

#[test]
fn every_policy_carries_settings_the_policy_accepts_and_flux_fields_exist() {
    let mut checked = 0;
    for (source, doc) in examples().into_iter().flat_map(|(_, docs)| docs) {
        checked += 1;
        let field = |key: &str| doc[key].as_str().unwrap_or_default();
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        // A `policies.yml`: policy ids mapping to entries with a `module`.
        let entries = doc
            .as_mapping()
            .filter(|map| map.values().all(|entry| entry.get("module").is_some()));
        let (settings, schema) = match (api_version, kind) {
            _ if entries.is_some_and(|map| !map.is_empty()) => {
                for (id, entry) in entries.unwrap() {
                    let source = format!("{source}, policies.yml {id:?}");
                    assert_known_fields(&source, entry, POLICIES_YML_ENTRY);
                    if let Some(settings) = entry.get("settings") {
                        assert_accepted(&source, settings);
                    }
                }
                continue;
            }
            (_, "ClusterAdmissionPolicy" | "AdmissionPolicy") => (&doc["spec"]["settings"], None),
            ("source.toolkit.fluxcd.io/v1", "HelmRepository") => {
                (&Value::Null, Some(HELM_REPOSITORY))
            }
            ("helm.toolkit.fluxcd.io/v2", "HelmRelease") => {
                (&doc["spec"]["values"]["settings"], Some(HELM_RELEASE))
            }
            (api, _) if api.contains("fluxcd.io/") => {
                panic!("{source}: unknown Flux {api:?} {kind:?}")
            }
            _ => continue,
        };
        if !settings.is_null() {
            assert_accepted(&source, settings);
        }
        if let Some(schema) = schema {
            assert_known_fields(&source, &doc, schema);
        }
    }
    assert!(
        checked >= 10,
        "only {checked} manifests found: is the extraction broken?"
    );
}

/// Each ClusterRoleBinding names a ClusterRole of its example and binds the ServiceAccounts the
/// PolicyServers of the example's policies run as (RBAC shown on its own: the default one's).
#[test]
fn every_rbac_subject_is_the_service_account_its_policy_server_runs_as() {
    let mut bindings = 0;
    for (example, docs) in examples() {
        let of_kind = |kind: &'static str| docs.iter().filter(move |(_, doc)| doc["kind"] == kind);
        let text = |doc: &Value, path: &[&str]| {
            let node = path.iter().try_fold(doc, |node, key| node.get(*key));
            node.and_then(Value::as_str).unwrap_or_default().to_string()
        };
        let name = |doc: &Value| text(doc, &["metadata", "name"]);
        let mut accounts = BTreeSet::new();
        for (source, policy) in of_kind("ClusterAdmissionPolicy").chain(of_kind("AdmissionPolicy"))
        {
            let server = policy["spec"]["policyServer"].as_str().unwrap_or("default");
            let account = match of_kind("PolicyServer").find(|(_, ps)| name(ps) == server) {
                Some((_, ps)) => text(ps, &["spec", "serviceAccountName"]),
                None if server == "default" => DEFAULT_ACCOUNT.to_string(),
                None => panic!("{source}: policyServer {server:?} is defined nowhere"),
            };
            let created = of_kind("ServiceAccount").any(|(_, sa)| {
                name(sa) == account && text(sa, &["metadata", "namespace"]) == KUBEWARDEN_NAMESPACE
            });
            assert!(
                account == DEFAULT_ACCOUNT || created,
                "{example}: no ServiceAccount {account:?} in {KUBEWARDEN_NAMESPACE}"
            );
            accounts.insert(account);
        }
        if accounts.is_empty() {
            accounts.insert(DEFAULT_ACCOUNT.to_string());
        }
        let roles: Vec<String> = of_kind("ClusterRole").map(|(_, role)| name(role)).collect();
        for (source, binding) in of_kind("ClusterRoleBinding") {
            bindings += 1;
            let role = text(binding, &["roleRef", "name"]);
            assert!(
                roles.contains(&role),
                "{source}: roleRef {role:?} is no ClusterRole of this example"
            );
            let subjects = binding["subjects"]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            assert!(!subjects.is_empty(), "{source}: no subjects");
            for subject in subjects {
                let fields = ["kind", "namespace"].map(|key| text(&subject, &[key]));
                assert_eq!(
                    fields,
                    ["ServiceAccount", KUBEWARDEN_NAMESPACE],
                    "{source}: {subject:?}"
                );
                let account = text(&subject, &["name"]);
                assert!(accounts.contains(&account), "{source}: {account:?} is not the ServiceAccount the PolicyServer runs as ({accounts:?})");
            }
        }
    }
    assert!(bindings >= 3, "only {bindings} ClusterRoleBindings found");
}
