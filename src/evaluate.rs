//! The decision for one admission request: which pod specs, which rules their images match, what
//! the companion rule finds about each rule's secret, and the outcome with its messages.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::cluster::{Cluster, Denial, LookupError};
use crate::image_ref::ImageRef;
use crate::inject::{is_empty_list, merged_pull_secrets};
use crate::kinds::{dotted, value_at, Workload};
use crate::namespace_scope::{self, NamespaceLabels, Scope};
use crate::pod_spec::{containers, pull_secret_names, Container, ContainerList};
use crate::request::AdmissionRequest;
use crate::settings::{OnMissingSecret, Rule, Settings};
use crate::splice::Edit;
use crate::verify::{Problem, SecretChecks};

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Accept {
        warnings: Vec<String>,
    },
    /// The object with new `imagePullSecrets` lists; `splice` writes it from the request's text.
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

#[cfg(test)]
impl Decision {
    /// The object a mutation makes of `original`, by the parsed-object reference of the splice.
    pub(crate) fn mutated(&self, original: &Value) -> Option<Value> {
        match self {
            Decision::Mutate { edits, .. } => {
                let mut object = original.clone();
                crate::splice::apply(&mut object, edits);
                Some(object)
            }
            _ => None,
        }
    }
}

/// Containers named in one failure line before the rest are only counted.
const LISTED_CONTAINERS: usize = 5;

/// The annotation the kubelet puts on mirror pods; NodeRestriction rejects them if they name secrets.
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Decides one request. Host lookups go through `cluster` and happen only when an image matches.
pub fn evaluate<C: Cluster>(
    request: &AdmissionRequest,
    settings: &Settings,
    cluster: &mut C,
) -> Decision {
    let workload = Workload::of(
        request.group,
        request.version,
        request.kind,
        &settings.custom_resources,
    );
    if matches!(workload, Workload::Unhandled) {
        if (request.group, request.kind) == ("", "ServiceAccount") {
            return crate::service_accounts::evaluate(request, settings, cluster);
        }
        return accept();
    }
    let is_pod = matches!(workload, Workload::Pod);
    match (request.operation, request.sub_resource, is_pod) {
        ("UPDATE", "ephemeralcontainers", true) => {
            return live_pod(request, settings, cluster, Mode::EphemeralContainers)
        }
        (_, sub_resource, _) if !sub_resource.is_empty() => return accept(),
        ("CREATE" | "UPDATE", _, _) => {}
        _ => return accept(),
    }
    if workload.is_hands_off(request.operation, request.object) {
        return accept();
    }
    if is_pod
        && value_at(request.object, "/metadata/annotations")
            .and_then(|a| a.get(MIRROR_POD_ANNOTATION))
            .is_some()
    {
        return accept();
    }
    if is_pod && request.operation == "UPDATE" {
        return live_pod(request, settings, cluster, Mode::PodUpdate);
    }
    let specs = match read_specs(&workload, request.object) {
        Ok(specs) => specs,
        Err(problem) => return malformed(request.kind, problem),
    };
    let images = ParsedImages::of(&specs, settings);
    let hits = in_namespace_scope(
        rule_hits(settings, &specs, &images, |_| true),
        request,
        cluster,
    );
    if hits.is_empty() {
        return accept();
    }
    if settings.inject {
        inject(request, settings, &workload, &specs, &hits, cluster)
    } else {
        report(
            request,
            settings,
            &specs,
            &hits,
            cluster,
            Mode::ValidateOnly,
        )
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

/// A pod spec of the request, read once.
struct PodSpecView<'a> {
    pointer: String,
    spec: &'a Value,
    containers: Vec<Container<'a>>,
    names: Vec<&'a str>,
}

fn read_specs<'a>(workload: &Workload, object: &'a Value) -> Result<Vec<PodSpecView<'a>>, String> {
    workload
        .pod_spec_pointers(object)?
        .into_iter()
        .filter_map(|pointer| value_at(object, &pointer).map(|spec| (pointer, spec)))
        .map(|(pointer, spec)| {
            let at = || dotted(&pointer);
            Ok(PodSpecView {
                containers: containers(spec, at)?,
                names: pull_secret_names(spec, at)?,
                pointer,
                spec,
            })
        })
        .collect()
}

/// Each distinct image string parsed, and matched against every rule, once: a pod with many
/// containers of the same image costs one parse and one pass over the rules. Unparseable images
/// match no rule.
struct ParsedImages<'a>(BTreeMap<&'a str, Option<MatchedImage>>);

/// A parsed image and, per rule in settings order, whether the rule matches it.
struct MatchedImage {
    image: ImageRef,
    rules: Vec<bool>,
}

impl<'a> ParsedImages<'a> {
    fn of(specs: &[PodSpecView<'a>], settings: &Settings) -> Self {
        let mut parsed = BTreeMap::new();
        for container in specs.iter().flat_map(|s| &s.containers) {
            parsed.entry(container.image).or_insert_with(|| {
                ImageRef::parse(container.image)
                    .ok()
                    .map(|image| MatchedImage {
                        rules: settings
                            .rules
                            .iter()
                            .map(|rule| rule.matches(&image))
                            .collect(),
                        image,
                    })
            });
        }
        ParsedImages(parsed)
    }

    /// The parsed image, if it matches the rule at `rule` (its index in the settings).
    fn matching(&self, image: &str, rule: usize) -> Option<&ImageRef> {
        match self.0.get(image) {
            Some(Some(matched)) if matched.rules[rule] => Some(&matched.image),
            _ => None,
        }
    }
}

/// A container whose image matches a rule, and the spec it is in.
#[derive(Clone, Copy)]
struct Hit<'a, 'i> {
    spec: usize,
    container: Container<'a>,
    image: &'i ImageRef,
}

/// The matching containers of one rule; rules without any are left out, order kept.
struct RuleHits<'a, 'i, 's> {
    rule: &'s Rule,
    hits: Vec<Hit<'a, 'i>>,
    /// Why the request's Namespace could not be read for the rule's `namespaceSelector`.
    unreadable_namespace: Option<LookupError>,
}

fn rule_hits<'a, 'i, 's>(
    settings: &'s Settings,
    specs: &[PodSpecView<'a>],
    images: &'i ParsedImages<'a>,
    counted: impl Fn(&Container) -> bool,
) -> Vec<RuleHits<'a, 'i, 's>> {
    settings
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let hits = specs
                .iter()
                .enumerate()
                .flat_map(|(spec, view)| view.containers.iter().map(move |c| (spec, *c)))
                .filter(|(_, container)| counted(container))
                .filter_map(|(spec, container)| {
                    images.matching(container.image, index).map(|image| Hit {
                        spec,
                        container,
                        image,
                    })
                })
                .collect();
            RuleHits {
                rule,
                hits,
                unreadable_namespace: None,
            }
        })
        .filter(|rule_hits| !rule_hits.hits.is_empty())
        .collect()
}

/// Drops the rules whose `namespaceSelector` does not select the request's namespace. The
/// Namespace is read once, and only if a rule with a selector has hits; if it cannot be read,
/// the rule stays, marked, and its `onMissingSecret` decides.
fn in_namespace_scope<'a, 'i, 's, C: Cluster>(
    hits: Vec<RuleHits<'a, 'i, 's>>,
    request: &AdmissionRequest,
    cluster: &mut C,
) -> Vec<RuleHits<'a, 'i, 's>> {
    let mut labels = NamespaceLabels::new(request.namespace);
    hits.into_iter()
        .filter_map(|mut rule_hits| {
            match labels.scope(rule_hits.rule.namespace_selector.as_ref(), cluster) {
                Scope::In => Some(rule_hits),
                Scope::Out => None,
                Scope::Unknown(error) => {
                    rule_hits.unreadable_namespace = Some(error);
                    Some(rule_hits)
                }
            }
        })
        .collect()
}

/// Distinct images of some hits, in order.
fn distinct_images<'i>(hits: &[Hit<'_, 'i>]) -> Vec<&'i ImageRef> {
    let mut seen = BTreeSet::new();
    hits.iter()
        .map(|hit| hit.image)
        .filter(|image| seen.insert(*image as *const ImageRef))
        .collect()
}

fn inject<C: Cluster>(
    request: &AdmissionRequest,
    settings: &Settings,
    workload: &Workload,
    specs: &[PodSpecView],
    hits: &[RuleHits],
    cluster: &mut C,
) -> Decision {
    let mut findings = Findings::default();
    let mut wanted: Vec<Vec<&str>> = vec![Vec::new(); specs.len()];
    {
        let mut checks = SecretChecks::new(cluster, request.namespace, settings.check_credentials);
        for RuleHits {
            rule,
            hits,
            unreadable_namespace,
        } in hits
        {
            let problem = if let Some(error) = unreadable_namespace {
                Some(Problem::NamespaceUnreadable(error.clone()))
            } else if settings.verify_secrets {
                checks.problem(&rule.secret, &distinct_images(hits))
            } else {
                None
            };
            let add = match problem {
                None => true,
                Some(problem) => {
                    let referenced = hits
                        .iter()
                        .all(|hit| specs[hit.spec].names.contains(&rule.secret.as_str()));
                    let mode = Mode::Inject { referenced };
                    findings.record(request.namespace, rule, &problem, hits, mode)
                }
            };
            if add {
                for hit in hits.iter() {
                    if !wanted[hit.spec].contains(&rule.secret.as_str()) {
                        wanted[hit.spec].push(rule.secret.as_str());
                    }
                }
            }
        }
    }
    if !findings.rejections.is_empty() {
        return findings.into_decision();
    }
    let mut accounts: Vec<(&str, Result<Vec<String>, LookupError>)> = Vec::new();
    let mut edits: Vec<Edit> = Vec::new();
    for (view, wanted) in specs.iter().zip(&wanted) {
        let existing = view.spec.get("imagePullSecrets");
        let Some(mut merged) = merged_pull_secrets(existing, &[], wanted) else {
            continue;
        };
        if workload.is_template() && is_empty_list(existing) {
            let account = service_account_name(view.spec);
            let position = accounts
                .iter()
                .position(|(name, _)| *name == account)
                .unwrap_or_else(|| {
                    accounts.push((
                        account,
                        cluster.service_account_pull_secrets(request.namespace, account),
                    ));
                    accounts.len() - 1
                });
            match &accounts[position].1 {
                Ok(inherited) => {
                    merged = merged_pull_secrets(existing, inherited, wanted).unwrap_or(merged)
                }
                Err(error) => {
                    findings.warnings.insert(format!(
                    "could not read ServiceAccount \"{account}\" in namespace \"{}\" ({}); pods of {} will get only the \
                     imagePullSecrets listed there, not the ServiceAccount's",
                    request.namespace,
                    describe_lookup_error(error, request.namespace),
                    dotted(&view.pointer)
                    ));
                }
            }
        }
        edits.push(Edit {
            pointer: view.pointer.clone(),
            list: merged,
        });
    }
    if edits.is_empty() {
        return findings.into_decision();
    }
    Decision::Mutate {
        edits,
        warnings: findings.warnings.into_iter().collect(),
    }
}

/// Validate-only and ephemeral containers: each rule's secret must already be referenced, and
/// pass the checks. Never mutates.
fn report<C: Cluster>(
    request: &AdmissionRequest,
    settings: &Settings,
    specs: &[PodSpecView],
    hits: &[RuleHits],
    cluster: &mut C,
    mode: Mode,
) -> Decision {
    let mut findings = Findings::default();
    let mut checks = SecretChecks::new(cluster, request.namespace, settings.check_credentials);
    for RuleHits {
        rule,
        hits,
        unreadable_namespace,
    } in hits
    {
        if let Some(error) = unreadable_namespace {
            let problem = Problem::NamespaceUnreadable(error.clone());
            findings.record(request.namespace, rule, &problem, hits, mode);
            continue;
        }
        let references: Vec<bool> = specs
            .iter()
            .map(|view| view.names.contains(&rule.secret.as_str()))
            .collect();
        let (referenced, unreferenced): (Vec<Hit>, Vec<Hit>) =
            hits.iter().partition(|hit| references[hit.spec]);
        if !unreferenced.is_empty() {
            findings.record(
                request.namespace,
                rule,
                &Problem::NotReferenced,
                &unreferenced,
                mode,
            );
        }
        if !referenced.is_empty() && settings.verify_secrets {
            if let Some(problem) = checks.problem(&rule.secret, &distinct_images(&referenced)) {
                findings.record(request.namespace, rule, &problem, &referenced, mode);
            }
        }
    }
    findings.into_decision()
}

/// A running pod's `imagePullSecrets` cannot change (`ValidatePodUpdate`), but its containers'
/// images can (Pod UPDATE) and `kubectl debug` adds ephemeral containers (the
/// `pods/ephemeralcontainers` sub-resource). Images that are new in this request must be covered
/// by secrets the pod already lists; unchanged ones cost nothing. Never mutates.
fn live_pod<C: Cluster>(
    request: &AdmissionRequest,
    settings: &Settings,
    cluster: &mut C,
    mode: Mode,
) -> Decision {
    let specs = match read_specs(&Workload::Pod, request.object) {
        Ok(specs) => specs,
        Err(problem) => return malformed(request.kind, problem),
    };
    let old_spec = request.old_object.get("spec").unwrap_or(&Value::Null);
    let before: BTreeSet<Container> = containers(old_spec, || "oldObject.spec".into())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let only_ephemeral = mode == Mode::EphemeralContainers;
    let images = ParsedImages::of(&specs, settings);
    let hits = rule_hits(settings, &specs, &images, |c| {
        (!only_ephemeral || c.list == ContainerList::EphemeralContainers) && !before.contains(c)
    });
    let hits = in_namespace_scope(hits, request, cluster);
    report(request, settings, &specs, &hits, cluster, mode)
}

/// Sorted, de-duplicated rejection lines and warnings.
#[derive(Default)]
struct Findings {
    rejections: BTreeSet<String>,
    warnings: BTreeSet<String>,
}

impl Findings {
    /// Records a rule's failure as its `onMissingSecret` says; returns whether to inject anyway.
    fn record(
        &mut self,
        namespace: &str,
        rule: &Rule,
        problem: &Problem,
        hits: &[Hit],
        mode: Mode,
    ) -> bool {
        let line = failure_line(namespace, &rule.secret, problem, hits, mode);
        match (rule.on_missing_secret, mode) {
            (OnMissingSecret::Reject, _) => {
                self.rejections.insert(line);
                false
            }
            (OnMissingSecret::Warn, Mode::Inject { .. }) => {
                self.warnings
                    .insert(format!("{line} (onMissingSecret: warn, added anyway)"));
                true
            }
            (OnMissingSecret::Skip, Mode::Inject { referenced: true }) => {
                self.warnings.insert(format!(
                    "{line} (onMissingSecret: skip, existing reference kept)"
                ));
                false
            }
            (OnMissingSecret::Skip, Mode::Inject { referenced: false }) => {
                self.warnings
                    .insert(format!("{line} (onMissingSecret: skip, not added)"));
                false
            }
            (OnMissingSecret::Warn | OnMissingSecret::Skip, _) => {
                self.warnings.insert(line);
                false
            }
        }
    }

    /// Rejects with every rejection line, if any (no HTTP code: a policy denial), with the warnings.
    fn into_decision(self) -> Decision {
        let warnings = self.warnings.into_iter().collect();
        if self.rejections.is_empty() {
            Decision::Accept { warnings }
        } else {
            let message = self.rejections.into_iter().collect::<Vec<_>>().join("\n");
            Decision::Reject {
                message,
                code: None,
                warnings,
            }
        }
    }
}

/// One failure: which secret, where, why, for which containers, and how to fix it.
fn failure_line(
    namespace: &str,
    secret: &str,
    problem: &Problem,
    hits: &[Hit],
    mode: Mode,
) -> String {
    let mut seen = BTreeSet::new();
    let distinct: Vec<String> = hits
        .iter()
        .map(|hit| hit.container.to_string())
        .filter(|shown| seen.insert(shown.clone()))
        .collect();
    let mut needed_by = distinct
        .iter()
        .take(LISTED_CONTAINERS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if distinct.len() > LISTED_CONTAINERS {
        needed_by.push_str(&format!(" and {} more", distinct.len() - LISTED_CONTAINERS));
    }
    // The registry of the first container that needs the secret, as the kubelet looks it up.
    let server = hits
        .first()
        .map_or("<registry>", |hit| hit.image.kubelet_registry());
    let fix = fix_for(namespace, secret, problem, server, mode);
    format!("imagePullSecret \"{secret}\" in namespace \"{namespace}\": {problem}; needed by {needed_by}; fix: {fix}")
}

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
    match problem {
        Problem::NotFound => format!("create it: {create}"),
        Problem::Unusable(_) => format!("recreate it as a docker-registry secret: {create}"),
        Problem::NoCredentials(missing) => {
            let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
            format!("add an \"auths\" entry for {} to it", missing.join(", "))
        }
        Problem::NotPermitted(denial) => permission_fix(*denial, "secrets", "Secret", namespace),
        Problem::LookupFailed(_) => "check that the PolicyServer can reach the API server, then retry".to_string(),
        Problem::NotReferenced if mode == Mode::PodUpdate => format!(
            "a running pod's imagePullSecrets cannot change; recreate the pod with {{\"name\": \"{secret}\"}} in imagePullSecrets \
             (change the image in its workload's template instead), or keep the image it had"
        ),
        Problem::NotReferenced if mode == Mode::EphemeralContainers => format!(
            "a running pod's imagePullSecrets cannot change; recreate the pod with {{\"name\": \"{secret}\"}} in imagePullSecrets, \
             or debug with an image from another registry"
        ),
        Problem::NotReferenced => format!("add {{\"name\": \"{secret}\"}} to imagePullSecrets"),
        Problem::NamespaceUnreadable(error) => namespace_scope::fix(error),
    }
}

/// How to let the policy read objects of `kind` (`resource` is its plural) in `namespace`.
fn permission_fix(denial: Denial, resource: &str, kind: &str, namespace: &str) -> String {
    match denial {
        Denial::Capability => format!(
            "list v1/{kind} in the policy's contextAwareResources (in a PolicyServer's policies.yml, also \
             \"kubernetes/get_resource\" in its hostCapabilities)"
        ),
        Denial::Forbidden => format!(
            "let the PolicyServer's ServiceAccount get {resource} in \"{namespace}\" (a ClusterRole and ClusterRoleBinding, \
             see the README's Cluster access)"
        ),
        Denial::Unauthorized => {
            "check the PolicyServer's ServiceAccount token or kubeconfig, then retry".to_string()
        }
    }
}

fn describe_lookup_error(error: &LookupError, namespace: &str) -> String {
    match error {
        LookupError::NotFound => "not found".to_string(),
        LookupError::NotPermitted(denial) => format!(
            "{denial}; {}",
            permission_fix(*denial, "serviceaccounts", "ServiceAccount", namespace)
        ),
        LookupError::Failed(reason) => format!("lookup failed: {reason}"),
    }
}

/// The ServiceAccount a pod of this spec runs as.
fn service_account_name(spec: &Value) -> &str {
    ["serviceAccountName", "serviceAccount"]
        .iter()
        .filter_map(|key| spec.get(*key).and_then(Value::as_str))
        .find(|name| !name.is_empty())
        .unwrap_or("default")
}

fn accept() -> Decision {
    Decision::Accept {
        warnings: Vec::new(),
    }
}

fn malformed(kind: &str, problem: String) -> Decision {
    let kind = if kind.is_empty() { "object" } else { kind };
    Decision::Reject {
        message: format!("malformed {kind}: {problem}"),
        code: Some(400),
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
