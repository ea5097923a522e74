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
    use crate::testing::MemoryCluster;
    use crate::{decide_request, valid};
    use serde_json::json;

    fn selector(value: serde_json::Value) -> LabelSelector {
        let raw: RawLabelSelector = serde_json::from_value(value).unwrap();
        LabelSelector::compile(raw, "s", &mut Vec::new()).unwrap()
    }

    #[test]
    fn no_selector_needs_no_read() {
        let mut cluster = MemoryCluster::default();
        let mut labels = NamespaceLabels::new("team-a");
        assert_eq!(labels.in_scope(None, &mut cluster), Ok(true));
        assert!(cluster.calls.is_empty());
    }

    #[test]
    fn the_namespace_is_read_once() {
        let mut cluster = MemoryCluster::default().with_namespace("team-a", &[("team", "a")]);
        let mut labels = NamespaceLabels::new("team-a");
        let team_a = selector(json!({"matchLabels": {"team": "a"}}));
        let team_b = selector(json!({"matchLabels": {"team": "b"}}));
        assert_eq!(labels.in_scope(Some(&team_a), &mut cluster), Ok(true));
        assert_eq!(labels.in_scope(Some(&team_b), &mut cluster), Ok(false));
        assert_eq!(labels.in_scope(Some(&team_a), &mut cluster), Ok(true));
        assert_eq!(cluster.calls, vec!["Namespace team-a"]);
    }

    #[test]
    fn the_name_label_is_always_there() {
        let mut cluster = MemoryCluster::default().with_namespace("team-a", &[]);
        let by_name = selector(json!({"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}));
        assert_eq!(
            NamespaceLabels::new("team-a").in_scope(Some(&by_name), &mut cluster),
            Ok(true)
        );
    }

    fn decide(
        settings: serde_json::Value,
        pod_spec: serde_json::Value,
        cluster: &mut MemoryCluster,
    ) -> Decision {
        let settings = valid(settings);
        let request = json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
            "namespace": "team-a", "object": {"metadata": {"name": "app", "namespace": "team-a"}, "spec": pod_spec}});
        decide_request(&request, &settings, cluster)
    }

    fn team_rules(extra: serde_json::Value) -> serde_json::Value {
        let mut settings = json!({"verifySecrets": false, "rules": [
            {"secret": "team-a-registry", "registries": ["registry.corp.example"], "namespaceSelector": {"matchLabels": {"team": "a"}}},
            {"secret": "team-b-registry", "registries": ["registry.corp.example"], "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["b"]}]}},
            {"secret": "dockerhub", "registries": ["docker.io"]}
        ]});
        settings
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        settings
    }

    fn corp_pod() -> serde_json::Value {
        json!({"containers": [{"name": "api", "image": "registry.corp.example/api:1"}]})
    }

    #[test]
    fn only_the_rule_that_selects_the_namespace_adds_its_secret() {
        let mut cluster = MemoryCluster::default().with_namespace("team-a", &[("team", "a")]);
        let decision = decide(team_rules(json!({})), corp_pod(), &mut cluster);
        let Some(object) = decision.mutated(&json!({"spec": {}})) else {
            panic!("{decision:?}")
        };
        assert_eq!(
            object["spec"]["imagePullSecrets"],
            json!([{"name": "team-a-registry"}])
        );
        assert_eq!(cluster.calls, vec!["Namespace team-a"]);
    }

    #[test]
    fn no_rule_with_a_selector_matched_means_no_read() {
        let mut cluster = MemoryCluster::default();
        let decision = decide(
            team_rules(json!({})),
            json!({"containers": [{"name": "web", "image": "nginx"}]}),
            &mut cluster,
        );
        let Some(object) = decision.mutated(&json!({"spec": {}})) else {
            panic!("{decision:?}")
        };
        assert_eq!(
            object["spec"]["imagePullSecrets"],
            json!([{"name": "dockerhub"}])
        );
        assert!(cluster.calls.is_empty(), "{:?}", cluster.calls);
    }

    #[test]
    fn a_namespace_no_selector_picks_is_left_alone() {
        let mut cluster = MemoryCluster::default().with_namespace("team-a", &[("team", "c")]);
        let decision = decide(team_rules(json!({})), corp_pod(), &mut cluster);
        assert_eq!(decision, Decision::Accept { warnings: vec![] });
    }

    #[test]
    fn an_unreadable_namespace_rejects_under_reject() {
        let mut cluster = MemoryCluster::default()
            .with_namespace_error("team-a", LookupError::NotPermitted(Denial::Capability));
        let decision = decide(team_rules(json!({})), corp_pod(), &mut cluster);
        let Decision::Reject {
            message,
            code: None,
            ..
        } = decision
        else {
            panic!("{decision:?}")
        };
        assert_eq!(
            message,
            "imagePullSecret \"team-a-registry\" in namespace \"team-a\": the namespace could not be read for the \
             namespaceSelector: the policy has not been granted access to it; needed by container \"api\" (image \
             \"registry.corp.example/api:1\"); fix: list v1/Namespace in the policy's contextAwareResources (in a \
             PolicyServer's policies.yml, also \"kubernetes/get_resource\" in its hostCapabilities)\n\
             imagePullSecret \"team-b-registry\" in namespace \"team-a\": the namespace could not be read for the \
             namespaceSelector: the policy has not been granted access to it; needed by container \"api\" (image \
             \"registry.corp.example/api:1\"); fix: list v1/Namespace in the policy's contextAwareResources (in a \
             PolicyServer's policies.yml, also \"kubernetes/get_resource\" in its hostCapabilities)"
        );
        assert_eq!(
            cluster.calls,
            vec!["Namespace team-a"],
            "read once for both rules"
        );
    }

    #[test]
    fn validate_only_reports_an_unreadable_namespace_and_skips_out_of_scope_rules() {
        let settings = json!({"inject": false, "verifySecrets": false, "rules": [
            {"secret": "team-a-registry", "registries": ["registry.corp.example"], "onMissingSecret": "warn", "namespaceSelector": {"matchLabels": {"team": "a"}}}
        ]});
        let mut cluster =
            MemoryCluster::default().with_namespace_error("team-a", LookupError::NotFound);
        let decision = decide(settings.clone(), corp_pod(), &mut cluster);
        let Decision::Accept { warnings } = decision else {
            panic!("{decision:?}")
        };
        assert!(
            warnings[0]
                .contains("the namespace could not be read for the namespaceSelector: not found"),
            "{warnings:?}"
        );
        let mut cluster = MemoryCluster::default().with_namespace("team-a", &[]);
        assert_eq!(
            decide(settings, corp_pod(), &mut cluster),
            Decision::Accept { warnings: vec![] }
        );
    }

    #[test]
    fn a_failed_read_is_unknown_and_not_retried() {
        let mut cluster = MemoryCluster::default();
        let mut labels = NamespaceLabels::new("team-a");
        let any = selector(json!({}));
        assert_eq!(
            labels.in_scope(Some(&any), &mut cluster),
            Err(LookupError::NotFound)
        );
        assert_eq!(
            labels.in_scope(Some(&any), &mut cluster),
            Err(LookupError::NotFound)
        );
        assert_eq!(cluster.calls, vec!["Namespace team-a"]);
    }
}
