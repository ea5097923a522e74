//! `serviceAccounts`: pull secrets added to every ServiceAccount on CREATE and UPDATE, so every
//! pod that lists no secret of its own inherits them (the ServiceAccount admission plugin copies
//! an account's `imagePullSecrets` into such pods). With `inject: false`, ServiceAccounts that
//! lack a listed secret are reported instead.

use crate::cluster::Cluster;
use crate::kinds::METADATA;
use crate::merge::merged_pull_secrets;
use crate::namespace_scope::NamespaceLabels;
use crate::object::Keep;
use crate::outcome::{service_account_failure, Decision, Findings, Mode, Problem};
use crate::pod_spec::pull_secret_names;
use crate::request::Request;
use crate::settings::{RequestSettings, ServiceAccountSecret};
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
        let line = line(&problem);
        if !settings.raw.inject {
            // Validate-only: a secret that is referenced but fails its checks, or an unreadable
            // namespace, only warns.
            findings.warnings.insert(line);
        } else if findings.record(line, entry.on_missing_secret, Mode::Inject { referenced }) {
            wanted.push(secret);
        }
    }
    let edits = merged_pull_secrets("", object.get("imagePullSecrets"), &[], &wanted);
    findings.into_decision(edits.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Denial, LookupError};
    use crate::testing::{accepted, adds, decide, rejected, strings, valid, with, MemoryCluster};
    use rstest::rstest;
    use serde_json::json;
    use serde_json::Value;

    /// `dockerhub` (warn) and `mirror` (skip) for every ServiceAccount, and `extra`.
    fn settings(extra: Value) -> Value {
        let entries =
            json!([{"secret": "dockerhub"}, {"secret": "mirror", "onMissingSecret": "skip"}]);
        let rules = json!([{"secret": "corp", "registries": ["reg.example"]}]);
        with(json!({"rules": rules, "serviceAccounts": entries}), extra)
    }

    /// `team-a-registry` for namespaces labelled `team: a`, `everywhere` for all, unverified.
    fn scoped() -> Value {
        settings(json!({"verifySecrets": false, "serviceAccounts": [
            {"secret": "team-a-registry", "namespaceSelector": {"matchLabels": {"team": "a"}}},
            {"secret": "everywhere"}
        ]}))
    }

    fn verified() -> MemoryCluster {
        MemoryCluster::default()
            .with_docker_secret("dockerhub", &["https://index.docker.io/v1/"])
            .with_docker_secret("mirror", &["mirror.example"])
    }

    fn forbidden_namespace() -> MemoryCluster {
        let error = LookupError::NotPermitted(Denial::Forbidden(None));
        MemoryCluster::default().with_namespace("team-a", Err(error))
    }

    fn team(label: &str) -> MemoryCluster {
        MemoryCluster::default().with_namespace("team-a", Ok(&[("team", label)]))
    }

    /// A failure line about the ServiceAccount `default`.
    fn line(secret: &str, reason: &str, fix: &str) -> String {
        format!("imagePullSecret \"{secret}\" in namespace \"team-a\": {reason}; needed by ServiceAccount \"default\"; fix: {fix}")
    }

    fn create(secret: &str) -> String {
        format!("kubectl create secret docker-registry {secret} -n team-a --docker-server=<registry> --docker-username=<user> --docker-password=<password>")
    }

    fn missing(secret: &str, outcome: &str) -> String {
        let fix = format!("create it: {}", create(secret));
        format!(
            "{} (onMissingSecret: {outcome})",
            line(secret, "secret not found", &fix)
        )
    }

    const NOT_LISTED: &str = "it is not listed in the ServiceAccount's imagePullSecrets";
    const ADD_MIRROR: &str = "add {\"name\": \"mirror\"} to its imagePullSecrets (kubectl edit serviceaccount default -n \
        team-a), or let a mutating policy with inject: true add it";
    const NAMESPACE_UNREAD: &str =
        "the namespace could not be read for the namespaceSelector: the PolicyServer is \
        forbidden to read it (403 Forbidden)";
    const GRANT_NAMESPACES: &str =
        "let the PolicyServer's ServiceAccount get namespaces (a ClusterRole and \
        ClusterRoleBinding, see the README's Cluster access)";
    const READS: [&str; 2] = [
        "Secret team-a/dockerhub data=true",
        "Secret team-a/mirror data=true",
    ];

    /// The entries' secrets are appended to a ServiceAccount's list, each once, in order, on
    /// CREATE and UPDATE, as `onMissingSecret` says (never `reject`: the ServiceAccount controller
    /// creates `default` in every new namespace); with `inject: false` a missing one is refused.
    #[rstest]
    #[case::create_appends(json!([{"name": "own"}]), settings(json!({})), verified(), adds("", &["own", "dockerhub", "mirror"], &[]), &READS)]
    #[case::nothing_to_add(json!([{"name": "mirror"}, {"name": "dockerhub"}]), settings(json!({})), verified(), accepted(&[]), &READS)]
    #[case::warn_adds_skip_does_not(json!(null), settings(json!({})), MemoryCluster::default(), adds("", &["dockerhub"], &[&missing("dockerhub", "warn, added anyway"), &missing("mirror", "skip, not added")]), &READS)]
    #[case::skip_keeps_a_listed_one(json!([{"name": "mirror"}]), settings(json!({})), verified().with_secret("mirror", Err(LookupError::NotFound)), adds("", &["mirror", "dockerhub"], &[&missing("mirror", "skip, existing reference kept")]), &READS)]
    #[case::validate_only_refuses_a_missing_one(json!([{"name": "dockerhub"}]), settings(json!({"inject": false})), verified(), rejected(&line("mirror", NOT_LISTED, ADD_MIRROR)), &READS[..1])]
    #[case::validate_only_accepts_a_complete_one(json!([{"name": "dockerhub"}, {"name": "mirror"}]), settings(json!({"inject": false})), verified(), accepted(&[]), &READS)]
    #[case::selector_leaves_the_entry_out(json!(null), scoped(), team("b"), adds("", &["everywhere"], &[]), &["Namespace team-a"])]
    #[case::selector_picks_the_entry(json!(null), scoped(), team("a"), adds("", &["team-a-registry", "everywhere"], &[]), &["Namespace team-a"])]
    #[case::unreadable_namespace_warns(json!(null), scoped(), forbidden_namespace(), adds("", &["team-a-registry", "everywhere"], &[&format!("{} (onMissingSecret: warn, added anyway)", line("team-a-registry", NAMESPACE_UNREAD, GRANT_NAMESPACES))]), &["Namespace team-a"])]
    #[case::without_entries_nothing_is_read(json!(null), valid(json!({"rules": [{"secret": "corp", "registries": ["reg.example"]}]})), verified(), accepted(&[]), &[])]
    fn service_account(
        #[case] listed: Value,
        #[case] settings: Value,
        #[case] cluster: MemoryCluster,
        #[case] expected: Decision,
        #[case] calls: &[&str],
        #[values("CREATE", "UPDATE")] operation: &str,
    ) {
        let mut object = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": "team-a"}, "secrets": [{"name": "default-token"}]});
        if !listed.is_null() {
            object["imagePullSecrets"] = listed;
        }
        let request = json!({"uid": "1", "kind": {"group": "", "version": "v1", "kind": "ServiceAccount"},
            "operation": operation, "namespace": "team-a", "object": object});
        let decided = decide(&request, &settings, cluster);
        assert_eq!(decided, (expected, strings(calls)));
    }
}
