//! `serviceAccounts`: pull secrets added to every ServiceAccount on CREATE and UPDATE, so every
//! pod that lists no secret of its own inherits them (the ServiceAccount admission plugin copies
//! an account's `imagePullSecrets` into such pods). With `inject: false`, ServiceAccounts that
//! lack a listed secret are reported instead.

use serde_json::Value;

use crate::cluster::Cluster;
use crate::kinds::METADATA;
use crate::merge::merged_pull_secrets;
use crate::namespace_scope::NamespaceLabels;
use crate::object::Keep;
use crate::outcome::{service_account_failure, Decision, Findings, Mode, Problem};
use crate::pod_spec::pull_secret_names;
use crate::request::Request;
use crate::settings::{RequestSettings, ServiceAccountSecret};
use crate::splice::{Edit, PULL_SECRETS};
use crate::verify::SecretChecks;

/// What of a ServiceAccount the policy reads: its name and namespace, and its pull secrets
/// (entries whole, since a mutation copies them).
pub(crate) const SERVICE_ACCOUNT: Keep =
    Keep::Fields(&[("metadata", METADATA), ("imagePullSecrets", Keep::Whole)]);

/// Decides a ServiceAccount CREATE or UPDATE.
pub(crate) fn evaluate<C: Cluster>(
    request: &Request,
    settings: &RequestSettings,
    cluster: &mut C,
) -> Decision {
    let entries = match settings.service_accounts() {
        Ok(entries) if entries.is_empty() => return Decision::accept(),
        Ok(entries) => entries,
        Err(message) => return Decision::bad_request(message),
    };
    let object = request.object;
    // The API server decodes a ServiceAccount before admission: its list is a list, or absent.
    let listed = pull_secret_names(object, String::new).unwrap_or_default();
    let account = request.shown_name();
    let namespace = request.namespace;

    // Which entries apply here (one Namespace read at most), each secret once, in settings order.
    let mut labels = NamespaceLabels::new(namespace);
    let mut in_play: Vec<(&ServiceAccountSecret, Option<Problem>)> = Vec::new();
    for entry in &entries {
        if in_play.iter().any(|(seen, _)| seen.secret == entry.secret) {
            continue;
        }
        match labels.in_scope(entry.namespace_selector.as_ref(), cluster) {
            Ok(true) => in_play.push((entry, None)),
            Ok(false) => {}
            Err(error) => in_play.push((entry, Some(Problem::NamespaceUnreadable(error)))),
        }
    }

    let mut findings = Findings::default();
    let mut wanted: Vec<&str> = Vec::new();
    let mut checks = SecretChecks::new(cluster, namespace, settings.raw.check_credentials);
    for (entry, namespace_problem) in in_play {
        let secret = entry.secret.as_str();
        let referenced = listed.contains(&secret);
        let line =
            |problem: &Problem| service_account_failure(namespace, secret, &account, problem);
        if !settings.raw.inject && !referenced && namespace_problem.is_none() {
            // Validate-only: a missing reference is what the audit reports.
            findings.rejections.insert(line(&Problem::NotReferenced));
            continue;
        }
        let problem = match namespace_problem {
            None if settings.raw.verify_secrets => checks.problem(secret, &[]),
            problem => problem,
        };
        let Some(problem) = problem else {
            wanted.extend(settings.raw.inject.then_some(secret));
            continue;
        };
        if !settings.raw.inject {
            // Validate-only: a secret that is referenced but fails its checks, or an unreadable
            // namespace, only warns.
            findings.warnings.insert(line(&problem));
        } else if findings.record(
            line(&problem),
            entry.on_missing_secret,
            Mode::Inject { referenced },
        ) {
            wanted.push(secret);
        }
    }
    let edits = merged_pull_secrets(object.get("imagePullSecrets"), &[], &wanted)
        .map(|list| Edit {
            pointer: String::new(),
            field: PULL_SECRETS,
            value: Value::Array(list),
        })
        .into_iter()
        .collect();
    findings.into_decision(edits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Denial, LookupError};
    use crate::testing::{MemoryCluster, CANARY, CANARY_B64};
    use crate::{decide_request, valid};
    use proptest::prelude::*;
    use rstest::rstest;
    use serde_json::json;

    fn settings(extra: Value) -> Value {
        let mut base = json!({
            "rules": [{"secret": "corp", "registries": ["reg.example"]}],
            "serviceAccounts": [{"secret": "dockerhub"}, {"secret": "mirror", "onMissingSecret": "skip"}]
        });
        if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
            base.extend(extra);
        }
        valid(base)
    }

    fn account(pull_secrets: Option<Value>) -> Value {
        let mut object = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": "team-a", "labels": {"app": "x"}},
            "automountServiceAccountToken": false, "secrets": [{"name": "default-token"}]});
        if let Some(list) = pull_secrets {
            object["imagePullSecrets"] = list;
        }
        object
    }

    fn run(
        object: Value,
        operation: &str,
        settings: &Value,
        cluster: &mut MemoryCluster,
    ) -> Decision {
        let request = json!({"uid": "1", "kind": {"group": "", "version": "v1", "kind": "ServiceAccount"},
            "operation": operation, "namespace": "team-a", "object": object});
        decide_request(&request, settings, cluster)
    }

    fn verified() -> MemoryCluster {
        MemoryCluster::default()
            .with_docker_secret("dockerhub", &["https://index.docker.io/v1/"])
            .with_docker_secret("mirror", &["mirror.example"])
    }

    fn pull_secrets(decision: &Decision) -> Value {
        match decision {
            Decision::Mutate { edits, .. } => edits[0].value.clone(),
            other => panic!("expected a mutation, got {other:?}"),
        }
    }

    #[rstest]
    #[case::create("CREATE")]
    #[case::update("UPDATE")]
    fn appends_verified_secrets_in_order(#[case] operation: &str) {
        let mut cluster = verified();
        let decision = run(
            account(Some(json!([{"name": "own"}]))),
            operation,
            &settings(json!({})),
            &mut cluster,
        );
        assert_eq!(
            pull_secrets(&decision),
            json!([{"name": "own"}, {"name": "dockerhub"}, {"name": "mirror"}])
        );
        assert_eq!(
            cluster.calls,
            vec![
                "Secret team-a/dockerhub data=true",
                "Secret team-a/mirror data=true"
            ]
        );
    }

    #[test]
    fn touches_nothing_but_the_list() {
        let before = account(None);
        let decision = run(
            before.clone(),
            "CREATE",
            &settings(json!({"verifySecrets": false})),
            &mut MemoryCluster::default(),
        );
        let Some(object) = decision.mutated(&before) else {
            panic!("no mutation")
        };
        let Decision::Mutate { warnings, .. } = decision else {
            unreachable!()
        };
        let mut expected = before;
        expected["imagePullSecrets"] = json!([{"name": "dockerhub"}, {"name": "mirror"}]);
        assert_eq!(object, expected);
        assert!(warnings.is_empty());
    }

    #[test]
    fn nothing_to_add_is_no_patch() {
        let decision = run(
            account(Some(json!([{"name": "mirror"}, {"name": "dockerhub"}]))),
            "UPDATE",
            &settings(json!({"verifySecrets": false})),
            &mut MemoryCluster::default(),
        );
        assert_eq!(decision, Decision::Accept { warnings: vec![] });
    }

    #[test]
    fn missing_secret_warn_adds_and_skip_does_not() {
        let mut cluster = MemoryCluster::default();
        let decision = run(account(None), "CREATE", &settings(json!({})), &mut cluster);
        let Some(object) = decision.mutated(&account(None)) else {
            panic!("no mutation")
        };
        let Decision::Mutate { warnings, .. } = decision else {
            unreachable!()
        };
        assert_eq!(object["imagePullSecrets"], json!([{"name": "dockerhub"}]));
        assert_eq!(
            warnings,
            vec![
                "imagePullSecret \"dockerhub\" in namespace \"team-a\": secret not found; needed by ServiceAccount \"default\"; \
                 fix: create it: kubectl create secret docker-registry dockerhub -n team-a --docker-server=<registry> \
                 --docker-username=<user> --docker-password=<password> (onMissingSecret: warn, added anyway)",
                "imagePullSecret \"mirror\" in namespace \"team-a\": secret not found; needed by ServiceAccount \"default\"; \
                 fix: create it: kubectl create secret docker-registry mirror -n team-a --docker-server=<registry> \
                 --docker-username=<user> --docker-password=<password> (onMissingSecret: skip, not added)",
            ]
        );
    }

    #[test]
    fn skip_keeps_an_existing_reference() {
        let decision = run(
            account(Some(json!([{"name": "mirror"}]))),
            "UPDATE",
            &settings(json!({})),
            &mut MemoryCluster::default().with_docker_secret("dockerhub", &["docker.io"]),
        );
        let Some(object) = decision.mutated(&account(Some(json!([{"name": "mirror"}])))) else {
            panic!("no mutation")
        };
        let Decision::Mutate { warnings, .. } = decision else {
            unreachable!()
        };
        assert_eq!(
            object["imagePullSecrets"],
            json!([{"name": "mirror"}, {"name": "dockerhub"}])
        );
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].ends_with("(onMissingSecret: skip, existing reference kept)"),
            "{warnings:?}"
        );
    }

    #[test]
    fn an_undecodable_secret_is_unusable_and_data_never_shown() {
        let mut cluster = MemoryCluster::default().with_secret(
            "dockerhub",
            Ok(crate::cluster::Secret {
                secret_type: Some("kubernetes.io/dockerconfigjson".into()),
                data: Some([(".dockerconfigjson".to_string(), format!("{CANARY}%%"))].into()),
            }),
        );
        let decision = run(
            account(None),
            "CREATE",
            &settings(json!({"serviceAccounts": [{"secret": "dockerhub"}]})),
            &mut cluster,
        );
        let shown = format!("{decision:?}");
        assert!(
            shown.contains("secret data \\\".dockerconfigjson\\\" is not valid base64"),
            "{shown}"
        );
        assert!(
            !shown.contains(CANARY) && !shown.contains(CANARY_B64),
            "{shown}"
        );
    }

    #[test]
    fn validate_only_reports_a_missing_reference() {
        let mut cluster = verified();
        let decision = run(
            account(Some(json!([{"name": "dockerhub"}]))),
            "CREATE",
            &settings(json!({"inject": false})),
            &mut cluster,
        );
        assert_eq!(
            decision,
            Decision::Reject {
                message: "imagePullSecret \"mirror\" in namespace \"team-a\": it is not listed in the ServiceAccount's \
                          imagePullSecrets; needed by ServiceAccount \"default\"; fix: add {\"name\": \"mirror\"} to its \
                          imagePullSecrets (kubectl edit serviceaccount default -n team-a), or let a mutating policy with \
                          inject: true add it"
                    .to_string(),
                code: None,
                warnings: vec![],
            }
        );
        // The referenced secret is verified; the missing one is not read.
        assert_eq!(cluster.calls, vec!["Secret team-a/dockerhub data=true"]);
    }

    #[test]
    fn validate_only_accepts_a_complete_account() {
        let decision = run(
            account(Some(json!([{"name": "dockerhub"}, {"name": "mirror"}]))),
            "CREATE",
            &settings(json!({"inject": false})),
            &mut verified(),
        );
        assert_eq!(decision, Decision::Accept { warnings: vec![] });
    }

    fn scoped() -> Value {
        settings(json!({"verifySecrets": false, "serviceAccounts": [
            {"secret": "team-a-registry", "namespaceSelector": {"matchLabels": {"team": "a"}}},
            {"secret": "everywhere"}
        ]}))
    }

    #[test]
    fn a_selector_scopes_the_entry() {
        let mut cluster = MemoryCluster::default().with_namespace("team-a", &[("team", "b")]);
        let decision = run(account(None), "CREATE", &scoped(), &mut cluster);
        assert_eq!(pull_secrets(&decision), json!([{"name": "everywhere"}]));
        assert_eq!(cluster.calls, vec!["Namespace team-a"]);

        let mut cluster = MemoryCluster::default().with_namespace("team-a", &[("team", "a")]);
        let decision = run(account(None), "CREATE", &scoped(), &mut cluster);
        assert_eq!(
            pull_secrets(&decision),
            json!([{"name": "team-a-registry"}, {"name": "everywhere"}])
        );
    }

    #[test]
    fn an_unreadable_namespace_falls_to_on_missing_secret() {
        let mut cluster = MemoryCluster::default()
            .with_namespace_error("team-a", LookupError::NotPermitted(Denial::Forbidden(None)));
        let decision = run(account(None), "CREATE", &scoped(), &mut cluster);
        let Some(object) = decision.mutated(&account(None)) else {
            panic!("no mutation")
        };
        let Decision::Mutate { warnings, .. } = decision else {
            unreachable!()
        };
        assert_eq!(
            object["imagePullSecrets"],
            json!([{"name": "team-a-registry"}, {"name": "everywhere"}])
        );
        assert_eq!(
            warnings,
            vec!["imagePullSecret \"team-a-registry\" in namespace \"team-a\": the namespace could not be read for the \
                  namespaceSelector: the PolicyServer is forbidden to read it (403 Forbidden); needed by ServiceAccount \
                  \"default\"; fix: let the PolicyServer's ServiceAccount get namespaces (a ClusterRole and \
                  ClusterRoleBinding, see the README's Cluster access) (onMissingSecret: warn, added anyway)"]
        );
    }

    #[rstest]
    #[case::delete("DELETE", "")]
    #[case::token_subresource("CREATE", "token")]
    fn other_requests_are_left_alone(#[case] operation: &str, #[case] sub_resource: &str) {
        let request = json!({"kind": {"group": "", "version": "v1", "kind": "ServiceAccount"}, "operation": operation,
            "subResource": sub_resource, "namespace": "team-a", "object": account(None)});
        let mut cluster = MemoryCluster::default();
        let decision = decide_request(&request, &settings(json!({})), &mut cluster);
        assert_eq!(decision, Decision::Accept { warnings: vec![] });
        assert!(cluster.calls.is_empty());
    }

    #[test]
    fn without_entries_nothing_is_read() {
        let mut cluster = MemoryCluster::default();
        let settings = json!({"rules": [{"secret": "corp", "registries": ["reg.example"]}]});
        assert_eq!(
            run(account(None), "CREATE", &settings, &mut cluster),
            Decision::Accept { warnings: vec![] }
        );
        assert!(cluster.calls.is_empty());
    }

    #[rstest]
    #[case::reject(json!([{"secret": "dockerhub", "onMissingSecret": "reject"}]), "serviceAccounts[0].onMissingSecret: \"reject\" is not allowed for ServiceAccounts: the ServiceAccount controller creates \"default\" in every new namespace at once")]
    #[case::unknown_outcome(json!([{"secret": "dockerhub", "onMissingSecret": "deny"}]), "serviceAccounts[0].onMissingSecret: \"deny\" is not one of warn, skip")]
    #[case::no_secret(json!([{}]), "serviceAccounts[0].secret: is required")]
    #[case::bad_secret(json!([{"secret": "Docker_Hub"}]), "serviceAccounts[0].secret: \"Docker_Hub\" is not a valid Secret name")]
    #[case::bad_selector(json!([{"secret": "a", "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In"}]}}]), "serviceAccounts[0].namespaceSelector.matchExpressions[0].values: must list at least one value")]
    #[case::unknown_key(json!([{"secret": "a", "onMissing": "warn"}]), "serviceAccounts[0].onMissing: unknown field `onMissing`, expected one of `secret`, `onMissingSecret`, `namespaceSelector`")]
    fn invalid_entries(#[case] entries: Value, #[case] expected: &str) {
        let settings = json!({"rules": [{"secret": "corp", "registries": ["reg.example"]}], "serviceAccounts": entries});
        let error =
            crate::settings::Settings::from_slice(settings.to_string().as_bytes()).unwrap_err();
        assert!(
            error.starts_with(expected),
            "got: {error}\nwanted: {expected}"
        );
    }

    fn existing_list() -> impl Strategy<Value = Option<Value>> {
        let entry = prop_oneof![
            "[a-e]{1,2}".prop_map(|name| json!({"name": name})),
            Just(json!({})),
            Just(json!({"name": ""})),
        ];
        prop::option::of(prop::collection::vec(entry, 0..6).prop_map(Value::Array))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Admitting the mutated ServiceAccount again changes nothing; existing entries keep their
        /// place; every listed secret is there exactly once more than none.
        #[test]
        fn the_merge_is_idempotent_and_only_appends(
            existing in existing_list(),
            secrets in prop::collection::vec("[a-e]{1,2}", 1..4),
        ) {
            let entries: Vec<Value> = secrets.iter().map(|s| json!({"secret": s})).collect();
            let settings = settings(json!({"verifySecrets": false, "serviceAccounts": entries}));
            let once = match run(account(existing.clone()), "UPDATE", &settings, &mut MemoryCluster::default()) {
                mutation @ Decision::Mutate { .. } => mutation.mutated(&account(existing.clone())).expect("a mutation"),
                Decision::Accept { .. } => account(existing.clone()),
                other => panic!("{other:?}"),
            };
            let again = run(once.clone(), "UPDATE", &settings, &mut MemoryCluster::default());
            prop_assert_eq!(again, Decision::Accept { warnings: vec![] });
            let before = existing.as_ref().and_then(Value::as_array).cloned().unwrap_or_default();
            let after = once["imagePullSecrets"].as_array().cloned().unwrap_or_default();
            prop_assert_eq!(&after[..before.len()], &before[..]);
            for secret in &secrets {
                let count = after.iter().filter(|e| e["name"] == json!(secret)).count();
                let count_before = before.iter().filter(|e| e["name"] == json!(secret)).count();
                prop_assert_eq!(count, count_before.max(1));
            }
            let mut rest = once.clone();
            rest.as_object_mut().unwrap().remove("imagePullSecrets");
            let mut original = account(existing);
            original.as_object_mut().unwrap().remove("imagePullSecrets");
            prop_assert_eq!(rest, original);
        }
    }
}
