//! Which rules and ServiceAccount entries apply in the request's namespace. Their
//! `namespaceSelector`s are matched against the Namespace's labels, read through `Cluster` at
//! most once per request, and only when an entry that has a selector is in play.

use std::collections::BTreeMap;

use crate::cluster::{Cluster, LookupError};
use crate::selector::LabelSelector;

/// The label every namespace carries with its own name (the API server sets it on every
/// Namespace since Kubernetes 1.21), so a selector can pick namespaces by name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The request's namespace and, once read, its labels.
pub struct NamespaceLabels<'r> {
    namespace: &'r str,
    read: Option<Result<BTreeMap<String, String>, LookupError>>,
}

impl<'r> NamespaceLabels<'r> {
    pub fn new(namespace: &'r str) -> Self {
        NamespaceLabels {
            namespace,
            read: None,
        }
    }

    /// Whether an entry with this selector applies here: always without one, else when the
    /// selector selects the namespace (an entry out of scope is ignored for this request). Reads
    /// the Namespace the first time a selector needs it; the error when it cannot be read, and
    /// then the entry's `onMissingSecret` decides.
    pub fn in_scope<C: Cluster>(
        &mut self,
        selector: Option<&LabelSelector>,
        cluster: &mut C,
    ) -> Result<bool, LookupError> {
        let Some(selector) = selector else {
            return Ok(true);
        };
        let namespace = self.namespace;
        let read = self.read.get_or_insert_with(|| {
            if namespace.is_empty() {
                return Err(LookupError::Failed(
                    "the request names no namespace".to_string(),
                ));
            }
            cluster.namespace_labels(namespace).map(|mut labels| {
                labels
                    .entry(NAME_LABEL.to_string())
                    .or_insert_with(|| namespace.to_string());
                labels
            })
        });
        read.as_ref()
            .map(|labels| selector.matches(labels))
            .map_err(LookupError::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Denial;
    use crate::outcome::Decision;
    use crate::selector::RawLabelSelector;
    use crate::testing::{accepted, adds, decide, rejected, strings, with, MemoryCluster};
    use rstest::rstest;
    use serde_json::{json, Value};

    fn selector(value: Value) -> LabelSelector {
        let raw: RawLabelSelector = serde_json::from_value(value).unwrap();
        LabelSelector::compile(raw, "s", &mut Vec::new()).unwrap()
    }

    fn team(label: &str) -> MemoryCluster {
        MemoryCluster::default().with_namespace("team-a", Ok(&[("team", label)]))
    }

    fn unreadable(error: LookupError) -> MemoryCluster {
        MemoryCluster::default().with_namespace("team-a", Err(error))
    }

    const READ: &[&str] = &["Namespace team-a"];

    /// Asked twice: the Namespace is read once, only for a selector, and a failed read is not
    /// retried; its name label is always there.
    #[rstest]
    #[case::no_selector(team("a"), None, Ok(true), &[])]
    #[case::selected(team("a"), Some(json!({"matchLabels": {"team": "a"}})), Ok(true), READ)]
    #[case::not_selected(team("a"), Some(json!({"matchLabels": {"team": "b"}})), Ok(false), READ)]
    #[case::name_label(team("a"), Some(json!({"matchLabels": {"kubernetes.io/metadata.name": "team-a"}})), Ok(true), READ)]
    #[case::failed_read(MemoryCluster::default(), Some(json!({})), Err(LookupError::NotFound), READ)]
    fn in_scope(
        #[case] mut cluster: MemoryCluster,
        #[case] selector_json: Option<Value>,
        #[case] expected: Result<bool, LookupError>,
        #[case] calls: &[&str],
    ) {
        let selector = selector_json.map(selector);
        let mut labels = NamespaceLabels::new("team-a");
        assert_eq!(labels.in_scope(selector.as_ref(), &mut cluster), expected);
        assert_eq!(labels.in_scope(selector.as_ref(), &mut cluster), expected);
        assert_eq!(cluster.calls, calls);
    }

    /// `team-a-registry` and `team-b-registry` for `registry.corp.example` in their team's
    /// namespaces, `dockerhub` everywhere, and `extra`.
    fn team_rules(extra: Value) -> Value {
        let rules = json!([
            {"secret": "team-a-registry", "registries": ["registry.corp.example"], "namespaceSelector": {"matchLabels": {"team": "a"}}},
            {"secret": "team-b-registry", "registries": ["registry.corp.example"], "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["b"]}]}},
            {"secret": "dockerhub", "registries": ["docker.io"]}
        ]);
        with(json!({"verifySecrets": false, "rules": rules}), extra)
    }

    fn unread(secret: &str, reason: &str, fix: &str) -> String {
        format!("imagePullSecret \"{secret}\" in namespace \"team-a\": the namespace could not be read for the \
            namespaceSelector: {reason}; needed by container \"api\" (image \"registry.corp.example/api:1\"); fix: {fix}")
    }

    const GRANT: &str = "list v1/Namespace in the policy's contextAwareResources (in a PolicyServer's policies.yml, \
        also \"kubernetes/get_resource\" in its hostCapabilities)";
    const RETRY: &str =
        "check that the PolicyServer can reach the API server and the namespace exists, then retry";
    const NOT_GRANTED: &str = "the policy has not been granted access to it";

    /// Only the rules whose selector picks the request's namespace apply; the Namespace is read
    /// once, and only when such a rule matches an image; if it cannot be read, the rule's
    /// `onMissingSecret` decides (validate-only: a warning for `warn`).
    #[rstest]
    #[case::only_the_selecting_rule(json!({}), "registry.corp.example/api:1", team("a"), adds("/spec", &["team-a-registry"], &[]), READ)]
    #[case::no_read_without_a_matching_selector_rule(json!({}), "nginx", MemoryCluster::default(), adds("/spec", &["dockerhub"], &[]), &[])]
    #[case::no_rule_selects_it(json!({}), "registry.corp.example/api:1", team("c"), accepted(&[]), READ)]
    #[case::unreadable_rejects(json!({}), "registry.corp.example/api:1", unreadable(LookupError::NotPermitted(Denial::Capability)), rejected(&format!("{}\n{}", unread("team-a-registry", NOT_GRANTED, GRANT), unread("team-b-registry", NOT_GRANTED, GRANT))), READ)]
    #[case::validate_only_unreadable_warns(json!({"inject": false, "rules": [{"secret": "team-a-registry", "registries": ["registry.corp.example"], "onMissingSecret": "warn", "namespaceSelector": {"matchLabels": {"team": "a"}}}]}), "registry.corp.example/api:1", unreadable(LookupError::NotFound), accepted(&[&unread("team-a-registry", "not found", RETRY)]), READ)]
    #[case::validate_only_skips_unselected_rules(json!({"inject": false}), "registry.corp.example/api:1", team("c"), accepted(&[]), READ)]
    fn rules_with_a_namespace_selector(
        #[case] extra: Value,
        #[case] image: &str,
        #[case] cluster: MemoryCluster,
        #[case] expected: Decision,
        #[case] calls: &[&str],
    ) {
        let spec = json!({"containers": [{"name": "api", "image": image}]});
        let request = json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
            "namespace": "team-a", "object": {"metadata": {"name": "app", "namespace": "team-a"}, "spec": spec}});
        let decided = decide(&request, &team_rules(extra), cluster);
        assert_eq!(decided, (expected, strings(calls)));
    }
}
