//! One home for outcomes: the decision types, what `onMissingSecret` does with a failure, and
//! every reason and fix text the policy gives. Rules and ServiceAccount entries both report
//! through [`Findings`], so their messages are sorted and de-duplicated the same way. A leaf:
//! it knows nothing of settings, requests or the cluster beyond the error types.

use std::collections::BTreeSet;
use std::fmt;

use crate::dockerconfig::DockerConfigError;
use crate::lookup_error::{Denial, LookupError};
use crate::splice::Edit;

/// What the companion rule does when a rule's secret fails verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMissingSecret {
    /// Deny the request.
    Reject,
    /// Inject anyway and accept with a warning.
    Warn,
    /// Do not inject this secret; accept with a warning.
    Skip,
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    Accept {
        warnings: Vec<String>,
    },
    /// The object with new `imagePullSecrets` lists or `imagePullPolicy` values; `splice` writes
    /// it from the request's text.
    Mutate {
        edits: Vec<Edit>,
        warnings: Vec<String>,
    },
    Reject {
        message: String,
        code: Option<u16>,
        warnings: Vec<String>,
    },
}

impl Decision {
    pub(crate) fn accept() -> Decision {
        Decision::Accept {
            warnings: Vec::new(),
        }
    }

    /// A request the policy cannot read: 400, as for a bad request.
    pub(crate) fn bad_request(message: String) -> Decision {
        Decision::Reject {
            message,
            code: Some(400),
            warnings: Vec::new(),
        }
    }
}

/// Where a failure is being reported from; decides the outcome of `warn`/`skip` and the fix text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `referenced`: every spec that needs the secret already lists it.
    Inject {
        referenced: bool,
    },
    ValidateOnly,
    /// `pods/ephemeralcontainers`: new ephemeral containers of a running pod.
    EphemeralContainers,
    /// A Pod UPDATE: containers whose image changed on a running pod.
    PodUpdate,
}

/// Why a secret cannot serve the images (or the ServiceAccount) that need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The secret could not be read.
    Lookup(LookupError),
    /// Wrong type, missing data key, undecodable data or entry, no `auths`.
    Unusable(DockerConfigError),
    /// Registries (sorted, distinct), as the kubelet looks them up, for which the secret holds no
    /// key with a username or password.
    NoCredentials(Vec<String>),
    /// The pod spec does not list the secret (validate-only and running pods).
    NotReferenced,
    /// The request's Namespace could not be read, so a `namespaceSelector` cannot be evaluated.
    NamespaceUnreadable(LookupError),
    /// The rule asks for `imagePullPolicy: Always`; the containers have this policy instead.
    PullPolicy(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Lookup(LookupError::NotFound) => f.write_str("secret not found"),
            Problem::Lookup(error) => f.write_str(&lookup_reason(error)),
            Problem::Unusable(error) => write!(f, "{error}"),
            Problem::NoCredentials(registries) => {
                write!(f, "it holds no credentials for {}", registries.join(", "))
            }
            Problem::NotReferenced => f.write_str("it is not listed in imagePullSecrets"),
            Problem::NamespaceUnreadable(error) => write!(
                f,
                "the namespace could not be read for the namespaceSelector: {}",
                lookup_reason(error)
            ),
            Problem::PullPolicy(policy) => write!(
                f,
                "imagePullPolicy is \"{policy}\", so a node that has the image can start it without \
                 credentials; the rule asks for \"Always\""
            ),
        }
    }
}

/// Sorted, de-duplicated rejection lines and warnings.
#[derive(Default)]
pub(crate) struct Findings {
    pub rejections: BTreeSet<String>,
    pub warnings: BTreeSet<String>,
}

impl Findings {
    /// Records a failure line as `onMissingSecret` says in this mode; returns whether to inject
    /// the secret anyway.
    pub fn record(&mut self, line: String, on_missing_secret: OnMissingSecret, mode: Mode) -> bool {
        use OnMissingSecret::{Reject, Skip, Warn};
        let (kept, outcome) = match (on_missing_secret, mode) {
            (Reject, _) => {
                self.rejections.insert(line);
                return false;
            }
            (Warn, Mode::Inject { .. }) => (true, "warn, added anyway"),
            (Skip, Mode::Inject { referenced: true }) => (false, "skip, existing reference kept"),
            (Skip, Mode::Inject { referenced: false }) => (false, "skip, not added"),
            (Warn | Skip, _) => {
                self.warnings.insert(line);
                return false;
            }
        };
        self.warnings
            .insert(format!("{line} (onMissingSecret: {outcome})"));
        kept
    }

    /// Rejects with every rejection line, if any (no HTTP code: a policy denial), with the
    /// warnings; else accepts, or mutates with `edits` when there are any.
    pub fn into_decision(self, edits: Vec<Edit>) -> Decision {
        let warnings = self.warnings.into_iter().collect();
        if !self.rejections.is_empty() {
            let message = self.rejections.into_iter().collect::<Vec<_>>().join("\n");
            return Decision::Reject {
                message,
                code: None,
                warnings,
            };
        }
        match edits.is_empty() {
            true => Decision::Accept { warnings },
            false => Decision::Mutate { edits, warnings },
        }
    }
}

/// One failure: which secret, where, why, who needs it, and how to fix it.
pub(crate) fn failure_line(
    namespace: &str,
    secret: &str,
    problem: &dyn fmt::Display,
    needed_by: &str,
    fix: &str,
) -> String {
    format!("imagePullSecret \"{secret}\" in namespace \"{namespace}\": {problem}; needed by {needed_by}; fix: {fix}")
}

/// The answer to a workload whose pods the Pod rule would answer with `pods`, without a patch (pods
/// get their secrets when they are created): a refusal refuses the workload, a warning warns, each
/// line naming the workload `(kind, namespace, name)`. `unread`: ServiceAccounts that could not be
/// read for a template that lists no secret.
pub(crate) fn for_workload(
    pods: Decision,
    (kind, namespace, name): (&str, &str, &str),
    unread: &[(String, LookupError)],
) -> Decision {
    let workload = match name {
        "" => format!("{kind} in namespace {namespace}"),
        name => format!("{kind} {namespace}/{name}"),
    };
    let named = |outcome: &str, line: &str| format!("{workload}: its pods would {outcome}: {line}");
    let warned = |warnings: Vec<String>| -> Vec<String> {
        let unread = unread.iter().map(|(account, error)| {
            let reason = service_account_lookup_reason(error, namespace);
            format!(
                "{workload}: could not read ServiceAccount \"{account}\" in namespace \"{namespace}\" ({reason}), \
                 whose imagePullSecrets its pods get; they are taken to list the rules' secrets"
            )
        });
        let warnings = warnings
            .iter()
            .map(|line| named("be admitted with a warning", line));
        warnings.chain(unread).collect()
    };
    match pods {
        Decision::Accept { warnings } | Decision::Mutate { warnings, .. } => Decision::Accept {
            warnings: warned(warnings),
        },
        Decision::Reject {
            message,
            code: None,
            warnings,
        } => Decision::Reject {
            message: message
                .lines()
                .map(|line| named("be refused", line))
                .collect::<Vec<_>>()
                .join("\n"),
            code: None,
            warnings: warned(warnings),
        },
        bad_request => bad_request,
    }
}

/// One failure: which secret, which ServiceAccount, why, and how to fix it.
pub(crate) fn service_account_failure(
    namespace: &str,
    secret: &str,
    account: &str,
    problem: &Problem,
) -> String {
    let needed_by = format!("ServiceAccount \"{account}\"");
    if *problem == Problem::NotReferenced {
        let fix = format!(
            "add {{\"name\": \"{secret}\"}} to its imagePullSecrets (kubectl edit serviceaccount {account} -n {namespace}), \
             or let a mutating policy with inject: true add it"
        );
        let problem = "it is not listed in the ServiceAccount's imagePullSecrets";
        return failure_line(namespace, secret, &problem, &needed_by, &fix);
    }
    let fix = fix_for(namespace, secret, problem, "<registry>", Mode::ValidateOnly);
    failure_line(namespace, secret, problem, &needed_by, &fix)
}

/// How to fix `problem` of `secret` in `namespace`; `server` is the registry a new secret needs.
pub(crate) fn fix_for(
    namespace: &str,
    secret: &str,
    problem: &Problem,
    server: &str,
    mode: Mode,
) -> String {
    let create = format!(
        "kubectl create secret docker-registry {secret} -n {namespace} --docker-server={server} \
         --docker-username=<user> --docker-password=<password>"
    );
    let running_pod = match problem {
        Problem::PullPolicy(_) => {
            "a running pod's imagePullPolicy cannot change; recreate the pod with"
        }
        _ => "a running pod's imagePullSecrets cannot change; recreate the pod with",
    };
    match problem {
        Problem::Lookup(LookupError::NotFound) => format!("create it: {create}"),
        Problem::Unusable(_) => format!("recreate it as a docker-registry secret: {create}"),
        Problem::NoCredentials(missing) => format!("add an \"auths\" entry for {} to it", missing.join(", ")),
        // The README's ClusterRole lists the secrets it may read by name.
        Problem::Lookup(LookupError::NotPermitted(Denial::Forbidden(user))) => {
            let user = user.as_ref().map_or("the PolicyServer's ServiceAccount".to_string(), |user| format!("\"{user}\""));
            format!("add \"{secret}\" to the resourceNames of the secrets rule in the ClusterRole bound to {user} (see the README's Cluster access)")
        }
        Problem::Lookup(LookupError::NotPermitted(denial)) => permission_fix(denial, "Secret", namespace),
        Problem::Lookup(LookupError::Failed(_)) => "check that the PolicyServer can reach the API server, then retry".to_string(),
        Problem::NotReferenced if mode == Mode::PodUpdate => format!(
            "{running_pod} {{\"name\": \"{secret}\"}} in imagePullSecrets (change the image in its workload's template \
             instead), or keep the image it had"
        ),
        Problem::NotReferenced if mode == Mode::EphemeralContainers => format!(
            "{running_pod} {{\"name\": \"{secret}\"}} in imagePullSecrets, or debug with an image from another registry"
        ),
        Problem::NotReferenced => format!("add {{\"name\": \"{secret}\"}} to imagePullSecrets"),
        // Namespaces are cluster-scoped: a ClusterRole, no namespace.
        Problem::NamespaceUnreadable(LookupError::NotPermitted(denial)) => {
            permission_fix(denial, "Namespace", "")
        }
        Problem::NamespaceUnreadable(LookupError::NotFound | LookupError::Failed(_)) => {
            "check that the PolicyServer can reach the API server and the namespace exists, then retry".to_string()
        }
        Problem::PullPolicy(_) if mode == Mode::PodUpdate => format!(
            "{running_pod} imagePullPolicy: Always on these containers (set it in its workload's template), or keep \
             the image it had"
        ),
        Problem::PullPolicy(_) => {
            "set imagePullPolicy: Always on these containers, or let a mutating policy with inject: true set it".to_string()
        }
    }
}

/// How to let the policy read objects of `kind` in `namespace`, which is empty for cluster-scoped
/// kinds. RBAC names each kind read here (Secret, ServiceAccount, Namespace) in lower-case plural.
fn permission_fix(denial: &Denial, kind: &str, namespace: &str) -> String {
    let resource = format!("{}s", kind.to_ascii_lowercase());
    let place = match namespace {
        "" => String::new(),
        namespace => format!(" in \"{namespace}\""),
    };
    match denial {
        Denial::Capability => format!(
            "list v1/{kind} in the policy's contextAwareResources (in a PolicyServer's policies.yml, also \
             \"kubernetes/get_resource\" in its hostCapabilities)"
        ),
        Denial::Forbidden(_) => format!(
            "let the PolicyServer's ServiceAccount get {resource}{place} (a ClusterRole and ClusterRoleBinding, \
             see the README's Cluster access)"
        ),
        Denial::Unauthorized => {
            "check the PolicyServer's ServiceAccount token or kubeconfig, then retry".to_string()
        }
    }
}

/// Why a lookup gave no object, in a few words.
pub(crate) fn lookup_reason(error: &LookupError) -> String {
    match error {
        LookupError::NotFound => "not found".to_string(),
        LookupError::NotPermitted(denial) => denial.to_string(),
        LookupError::Failed(reason) => format!("lookup failed: {reason}"),
    }
}

/// The warning for a template with `templates: inject` whose ServiceAccount could not be read:
/// its pods (of the pod spec at `at`) get only the list the policy wrote.
pub(crate) fn unread_account_warning(
    account: &str,
    namespace: &str,
    error: &LookupError,
    at: &str,
) -> String {
    let reason = service_account_lookup_reason(error, namespace);
    format!(
        "could not read ServiceAccount \"{account}\" in namespace \"{namespace}\" ({reason}); pods of {at} will get \
         only the imagePullSecrets listed there, not the ServiceAccount's"
    )
}

/// Why a ServiceAccount could not be read, with the fix for a denial.
pub(crate) fn service_account_lookup_reason(error: &LookupError, namespace: &str) -> String {
    match error {
        LookupError::NotPermitted(denial) => format!(
            "{denial}; {}",
            permission_fix(denial, "ServiceAccount", namespace)
        ),
        other => lookup_reason(other),
    }
}

#[cfg(test)]
mod reasons_are_documented {
    use super::*;
    use crate::dockerconfig::EntryFailure;

    const NAMESPACE: &str = "<namespace>";
    const SECRET: &str = "<secret>";
    const REGISTRY: &str = "<registry>";

    /// Every problem the policy can report, with placeholders for what varies. The match makes a
    /// new variant a compile error here until it is listed (and documented).
    fn every_problem() -> Vec<Problem> {
        let lookups = [
            LookupError::NotFound,
            LookupError::NotPermitted(Denial::Capability),
            LookupError::NotPermitted(Denial::Forbidden(None)),
            LookupError::NotPermitted(Denial::Forbidden(Some("<user>".to_string()))),
            LookupError::NotPermitted(Denial::Unauthorized),
            LookupError::Failed("<summary>".to_string()),
        ];
        let bad_entry = |failure| DockerConfigError::BadEntry {
            key: "<key>",
            registry: "<registry key>".to_string(),
            failure,
        };
        let unusable = [
            DockerConfigError::WrongType("<type>".to_string()),
            DockerConfigError::MissingKey("<key>"),
            DockerConfigError::NotBase64("<key>"),
            DockerConfigError::NotJson("<key>"),
            DockerConfigError::NoAuths,
            bad_entry(EntryFailure::NotAnObject),
            bad_entry(EntryFailure::NotAString("<field>")),
            bad_entry(EntryFailure::AuthNotBase64),
            bad_entry(EntryFailure::AuthWithoutColon),
        ];
        let mut problems: Vec<Problem> = lookups.iter().cloned().map(Problem::Lookup).collect();
        problems.extend(unusable.into_iter().map(Problem::Unusable));
        problems.push(Problem::NoCredentials(vec![REGISTRY.to_string()]));
        problems.push(Problem::NotReferenced);
        problems.extend(lookups.into_iter().map(Problem::NamespaceUnreadable));
        problems.push(Problem::PullPolicy("<policy>".to_string()));
        for problem in &problems {
            match problem {
                Problem::Lookup(_)
                | Problem::Unusable(_)
                | Problem::NoCredentials(_)
                | Problem::NotReferenced
                | Problem::NamespaceUnreadable(_)
                | Problem::PullPolicy(_) => {}
            }
        }
        problems
    }

    /// `(applies to, reason, fix)` of every failure line the policy can write.
    fn every_reason() -> Vec<(String, String, String)> {
        let create = format!(
            "kubectl create secret docker-registry {SECRET} -n {NAMESPACE} --docker-server={REGISTRY} \
             --docker-username=<user> --docker-password=<password>"
        );
        let mut reasons = Vec::new();
        for problem in every_problem() {
            let modes: &[(&str, Mode)] = match problem {
                Problem::NotReferenced => &[
                    ("validate-only", Mode::ValidateOnly),
                    ("Pod UPDATE", Mode::PodUpdate),
                    ("ephemeral container", Mode::EphemeralContainers),
                ],
                Problem::PullPolicy(_) => &[
                    ("validate-only", Mode::ValidateOnly),
                    ("Pod UPDATE", Mode::PodUpdate),
                ],
                _ => &[("", Mode::ValidateOnly)],
            };
            for (when, mode) in modes {
                let fix = fix_for(NAMESPACE, SECRET, &problem, REGISTRY, *mode)
                    .replace(&create, "<create>");
                reasons.push((when.to_string(), problem.to_string(), fix));
            }
            let line = service_account_failure(NAMESPACE, SECRET, "<account>", &problem);
            let (reason, fix) = parts(&line);
            reasons.push((
                "ServiceAccount".to_string(),
                reason,
                fix.replace(&create, "<create>"),
            ));
        }
        reasons
    }

    /// Why a template's ServiceAccount could not be read (a warning, not a failure line).
    fn every_lookup_reason() -> Vec<String> {
        let problems = every_problem();
        let lookups = problems.iter().filter_map(|problem| match problem {
            Problem::NamespaceUnreadable(error) => Some(error),
            _ => None,
        });
        lookups
            .map(|error| service_account_lookup_reason(error, NAMESPACE))
            .collect()
    }

    /// The reason and the fix of a failure line.
    fn parts(line: &str) -> (String, String) {
        let after = line
            .split_once(&format!("in namespace \"{NAMESPACE}\": "))
            .unwrap()
            .1;
        let (reason, rest) = after.split_once("; needed by ").unwrap();
        (
            reason.to_string(),
            rest.split_once("; fix: ").unwrap().1.to_string(),
        )
    }

    /// The rows of a table of docs/reasons.md between `<!-- marker -->` and `<!-- /marker -->`:
    /// the first code span of each cell, header and rule left out.
    fn documented(marker: &str) -> Vec<Vec<String>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reasons.md");
        let text = std::fs::read_to_string(path).unwrap();
        let table = text.split(&format!("<!-- {marker} -->")).nth(1).unwrap();
        let table = table.split(&format!("<!-- /{marker} -->")).next().unwrap();
        let code = |cell: &str| cell.split('`').nth(1).unwrap_or_default().to_string();
        let rows = table.lines().filter(|line| line.starts_with('|')).skip(2);
        rows.map(|line| line.trim_matches('|').split(" | ").map(code).collect())
            .collect()
    }

    /// Whether `text` is `pattern` with its `<placeholder>`s replaced by any text.
    fn matches(pattern: &str, text: &str) -> bool {
        let mut parts = pattern.split('<');
        let first = parts.next().unwrap_or_default();
        let literals: Vec<&str> = parts
            .map(|part| part.split_once('>').map_or("", |(_, after)| after))
            .collect();
        let Some((last, middle)) = literals.split_last() else {
            return pattern == text;
        };
        let Some(mut rest) = text.strip_prefix(first) else {
            return false;
        };
        for literal in middle {
            match rest.find(literal) {
                Some(at) => rest = &rest[at + literal.len()..],
                None => return false,
            }
        }
        rest.ends_with(last)
    }

    /// Either text is the other with placeholders filled in.
    fn same(a: &str, b: &str) -> bool {
        matches(a, b) || matches(b, a)
    }

    #[test]
    fn every_reason_and_fix_is_in_docs_reasons_md() {
        let rows = documented("reasons");
        for (when, reason, fix) in every_reason() {
            let listed = rows.iter().any(|row| row[1] == reason && row[2] == fix);
            assert!(
                listed,
                "docs/reasons.md lacks the row ({when}) `{reason}` | `{fix}`"
            );
        }
        let rows = documented("lookup-reasons");
        for reason in every_lookup_reason() {
            let listed = rows.iter().any(|row| row[0] == reason);
            assert!(
                listed,
                "docs/reasons.md lacks the ServiceAccount lookup `{reason}`"
            );
        }
    }

    #[test]
    fn every_documented_reason_is_one_the_policy_gives() {
        let reasons = every_reason();
        for row in documented("reasons") {
            let given = reasons
                .iter()
                .any(|(_, r, f)| same(&row[1], r) && same(&row[2], f));
            assert!(
                given,
                "docs/reasons.md lists `{}` | `{}`, which the policy never gives",
                row[1], row[2]
            );
        }
        let lookups = every_lookup_reason();
        for row in documented("lookup-reasons") {
            let given = lookups.iter().any(|reason| same(&row[0], reason));
            assert!(given, "docs/reasons.md lists the ServiceAccount lookup `{}`, which the policy never gives", row[0]);
        }
    }
}
