//! The decision for the pod specs of one request: which rules their images match, what the
//! companion rule finds about each rule's secret, and what to add where.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::cluster::{Cluster, LookupError};
use crate::image_ref::ImageRef;
use crate::json_pointer::{dotted, value_at};
use crate::kinds::Workload;
use crate::merge::{is_empty_list, merged_pull_secrets};
use crate::namespace_scope::NamespaceLabels;
use crate::outcome::{
    failure_line, fix_for, for_workload, unread_account_warning, Decision, Findings, Mode,
    OnMissingSecret, Problem,
};
use crate::pod_spec::{containers, pull_secret_names, service_account_name, Container};
use crate::request::Request;
use crate::settings::{RequestSettings, Rule, Templates};
use crate::splice::{Edit, PULL_POLICY};
use crate::verify::SecretChecks;

/// Containers named in one failure line before the rest are only counted.
const LISTED_CONTAINERS: usize = 5;

/// What the pod specs of a request are, decided once from its kind, operation and `templates`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Specs {
    /// A new Pod's, or pod templates with `templates: inject` (`inherits`: an empty list takes
    /// the ServiceAccount's secrets first, as the template's pods would).
    New { inherits: bool },
    /// Pod templates with `templates: check`: decided as their pods will be (`pods_lists`), and
    /// answered for the workload ([`for_workload`]).
    Checked,
    /// A running Pod's UPDATE, or ephemeral containers added to it (`pods/ephemeralcontainers`):
    /// its `imagePullSecrets` cannot change (`ValidatePodUpdate`), so images that are new in this
    /// request must be covered by secrets the pod already lists; unchanged ones cost nothing.
    Running(Mode),
}

/// Decides a CREATE or UPDATE of an object with pod specs. Host lookups go through `cluster`
/// and happen only when an image matches. With `templates: check` a workload gets the answer its
/// pods will get, without a patch; an UPDATE that starts no pod is never in the way.
pub(crate) fn pod_specs<C: Cluster>(
    request: &Request,
    workload: Workload,
    settings: &RequestSettings,
    cluster: &mut C,
) -> Decision {
    let checked = workload.is_template() && settings.templates == Templates::Check;
    let unchanged = request.operation == "UPDATE"
        && workload.templates_unchanged(request.object, request.old_object);
    if unchanged || workload.is_hands_off(request.operation, request.object, checked) {
        return Decision::accept();
    }
    let specs = match workload {
        Workload::Pod if request.operation == "UPDATE" => Specs::Running(Mode::PodUpdate),
        _ if checked => Specs::Checked,
        _ => Specs::New {
            inherits: workload.is_template(),
        },
    };
    decide(request, &workload, settings, cluster, specs)
}

/// `pods/ephemeralcontainers`: the ephemeral containers `kubectl debug` adds to a running pod.
pub(crate) fn ephemeral_containers<C: Cluster>(
    request: &Request,
    settings: &RequestSettings,
    cluster: &mut C,
) -> Decision {
    let specs = Specs::Running(Mode::EphemeralContainers);
    decide(request, &Workload::Pod, settings, cluster, specs)
}

/// The decision for the pod specs of `workload`, as `specs` says they are decided.
fn decide<C: Cluster>(
    request: &Request,
    workload: &Workload,
    settings: &RequestSettings,
    cluster: &mut C,
    specs: Specs,
) -> Decision {
    let views = match read_specs(workload, request.object) {
        Ok(views) => views,
        Err(problem) => {
            return Decision::bad_request(format!("malformed {}: {problem}", request.kind))
        }
    };
    let images = match ParsedImages::of(&views, settings) {
        Ok(images) => images,
        Err(message) => return Decision::bad_request(message),
    };
    // The containers a running pod had before this request; none for other objects.
    let old_spec = match specs {
        Specs::Running(_) => request.old_object.get("spec"),
        _ => None,
    };
    let before: BTreeSet<(&str, &str, &str)> =
        containers(old_spec.unwrap_or(&Value::Null), || "oldObject.spec".into())
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.list, c.name, c.image))
            .collect();
    let only_ephemeral = specs == Specs::Running(Mode::EphemeralContainers);
    let counted = |c: &Container| {
        (!only_ephemeral || c.list == "ephemeralContainers")
            && !before.contains(&(c.list, c.name, c.image))
    };
    let mut pass = Pass {
        hits: rule_hits(&views, &images, counted, request.namespace, cluster),
        checks: SecretChecks::new(cluster, request.namespace, settings.raw.check_credentials),
        request,
        settings,
        specs: views,
    };
    let unread = match specs {
        Specs::Checked => pass.pods_lists(),
        _ => Vec::new(),
    };
    let decision = match specs {
        Specs::Running(mode) => pass.report(mode),
        _ if !settings.raw.inject => pass.report(Mode::ValidateOnly),
        Specs::New { inherits } => pass.inject(inherits),
        Specs::Checked => pass.inject(false),
    };
    if specs != Specs::Checked {
        return decision;
    }
    let name = request.shown_name();
    for_workload(decision, (request.kind, request.namespace, &name), &unread)
}

/// A pod spec of the request, read once.
struct PodSpecView<'a> {
    pointer: String,
    spec: &'a Value,
    containers: Vec<Container<'a>>,
    names: Vec<&'a str>,
    /// A checked template's ServiceAccount's `imagePullSecrets`, read when its list is empty.
    account: Option<Result<Vec<String>, LookupError>>,
}

impl PodSpecView<'_> {
    /// Whether the spec's pods list `secret` when the Pod rule sees them; an unreadable
    /// ServiceAccount is taken to list it (the policy does not refuse what it cannot know).
    fn lists(&self, secret: &str) -> bool {
        self.names.contains(&secret)
            || match &self.account {
                Some(Ok(names)) => names.iter().any(|name| name == secret),
                Some(Err(_)) => true,
                None => false,
            }
    }
}

fn read_specs<'a>(workload: &Workload, object: &'a Value) -> Result<Vec<PodSpecView<'a>>, String> {
    workload
        .pod_spec_pointers(object)
        .into_iter()
        .filter_map(|pointer| value_at(object, &pointer).map(|spec| (pointer, spec)))
        .map(|(pointer, spec)| {
            let at = || dotted(&pointer);
            Ok(PodSpecView {
                containers: containers(spec, at)?,
                names: pull_secret_names(spec, at)?,
                account: None,
                pointer,
                spec,
            })
        })
        .collect()
}

/// Each distinct image string parsed once, the rules that may match any of them compiled (the
/// others stay text: `RequestSettings::rules_for`), and each image matched against each of those
/// rules once: a pod with many containers of the same image costs one parse and one pass over
/// the rules. Unparseable images match no rule.
struct ParsedImages<'a> {
    /// The rules in play, in settings order.
    rules: Vec<Rule>,
    /// Each image that parses, and per rule in play whether the rule matches it.
    images: BTreeMap<&'a str, (ImageRef, Vec<bool>)>,
}

impl<'a> ParsedImages<'a> {
    /// The images of `specs`; the error is a 400's message, for settings that do not compile.
    fn of(specs: &[PodSpecView<'a>], settings: &RequestSettings) -> Result<Self, String> {
        let mut parsed: BTreeMap<&str, Option<ImageRef>> = BTreeMap::new();
        for container in specs.iter().flat_map(|s| &s.containers) {
            parsed
                .entry(container.image)
                .or_insert_with(|| ImageRef::parse(container.image).ok());
        }
        let registries: BTreeSet<&str> =
            parsed.values().flatten().map(ImageRef::registry).collect();
        let rules = settings.rules_for(&registries.into_iter().collect::<Vec<_>>())?;
        let images = parsed
            .into_iter()
            .filter_map(|(text, image)| {
                let image = image?;
                let matches = rules.iter().map(|rule| rule.matches(&image)).collect();
                Some((text, (image, matches)))
            })
            .collect();
        Ok(ParsedImages { rules, images })
    }

    /// The parsed image, if it matches the rule at `rule` (its index among the rules in play).
    fn matching(&self, image: &str, rule: usize) -> Option<&ImageRef> {
        let (image, matches) = self.images.get(image)?;
        matches[rule].then_some(image)
    }
}

/// A container whose image matches a rule, and the spec it is in.
#[derive(Clone, Copy)]
struct Hit<'a, 'i> {
    spec: usize,
    container: Container<'a>,
    image: &'i ImageRef,
}

/// A rule, its matching containers in the request's namespace, and `NamespaceUnreadable` if the
/// Namespace could not be read for the rule's `namespaceSelector`.
type RuleHits<'a, 'i> = (&'i Rule, Vec<Hit<'a, 'i>>, Option<Problem>);

/// The rules in play whose images some `counted` container has, in order, without those whose
/// `namespaceSelector` does not select the request's namespace. The Namespace is read once, and
/// only if a rule with a selector has hits; if it cannot be read, the rule stays, marked, and
/// its `onMissingSecret` decides.
fn rule_hits<'a, 'i, C: Cluster>(
    specs: &[PodSpecView<'a>],
    images: &'i ParsedImages<'a>,
    counted: impl Fn(&Container) -> bool,
    namespace: &str,
    cluster: &mut C,
) -> Vec<RuleHits<'a, 'i>> {
    let mut labels = NamespaceLabels::new(namespace);
    images
        .rules
        .iter()
        .enumerate()
        .filter_map(|(index, rule)| {
            let mut hits = Vec::new();
            for (spec, view) in specs.iter().enumerate() {
                for &container in view.containers.iter().filter(|c| counted(c)) {
                    if let Some(image) = images.matching(container.image, index) {
                        hits.push(Hit {
                            spec,
                            container,
                            image,
                        });
                    }
                }
            }
            if hits.is_empty() {
                return None;
            }
            let selector = rule.namespace_selector.as_ref();
            let namespace_problem = match labels.in_scope(selector, cluster) {
                Ok(true) => None,
                Ok(false) => return None,
                Err(error) => Some(Problem::NamespaceUnreadable(error)),
            };
            Some((rule, hits, namespace_problem))
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

/// What deciding a request's rules reads: the request, its settings, its pod specs, each rule's
/// hits, and the secret checks (with the cluster they read).
struct Pass<'p, 'a, 'i, C: Cluster> {
    request: &'p Request<'a>,
    settings: &'p RequestSettings<'a>,
    specs: Vec<PodSpecView<'a>>,
    hits: Vec<RuleHits<'a, 'i>>,
    checks: SecretChecks<'p, C>,
}

impl<C: Cluster> Pass<'_, '_, '_, C> {
    /// The ServiceAccount admission plugin fills an empty `imagePullSecrets` from the pod's
    /// ServiceAccount before any webhook sees the pod (kubernetes `plugin/pkg/admission/serviceaccount`,
    /// `(s *Plugin) Admit`): a checked template that lists none is read with its account's list,
    /// where that decides the answer (validate-only, or a `skip` rule's wording), each account
    /// once. Returns the accounts that cannot be read, for a warning each.
    fn pods_lists(&mut self) -> Vec<(String, LookupError)> {
        let skip = |(rule, ..): &RuleHits| rule.on_missing_secret == OnMissingSecret::Skip;
        if self.settings.raw.inject && !self.hits.iter().any(skip) {
            return Vec::new();
        }
        let mut accounts: BTreeMap<String, Result<Vec<String>, LookupError>> = BTreeMap::new();
        for (index, view) in self.specs.iter_mut().enumerate() {
            let matched = self
                .hits
                .iter()
                .flat_map(|(_, hits, _)| hits)
                .any(|h| h.spec == index);
            if matched && is_empty_list(view.spec.get("imagePullSecrets")) {
                let account = service_account_name(view.spec);
                let answer = accounts.entry(account.to_string()).or_insert_with(|| {
                    let cluster = &mut self.checks.cluster;
                    cluster.service_account_pull_secrets(self.request.namespace, account)
                });
                view.account = Some(answer.clone());
            }
        }
        let unread = accounts
            .into_iter()
            .filter_map(|(account, answer)| Some((account, answer.err()?)));
        unread.collect()
    }

    /// Adds each rule's secret; `inherits`: a template whose empty list gets its ServiceAccount's
    /// secrets first.
    fn inject(&mut self, inherits: bool) -> Decision {
        let (namespace, specs) = (self.request.namespace, &self.specs);
        let mut findings = Findings::default();
        let mut wanted: Vec<Vec<&str>> = vec![Vec::new(); specs.len()];
        let mut edits: Vec<Edit> = Vec::new();
        for (rule, hits, namespace_problem) in &self.hits {
            let problem = match namespace_problem.clone() {
                None if self.settings.raw.verify_secrets => {
                    self.checks.problem(&rule.secret, &distinct_images(hits))
                }
                problem => problem,
            };
            let add = match problem {
                None => true,
                Some(problem) => {
                    let referenced = hits.iter().all(|hit| specs[hit.spec].lists(&rule.secret));
                    let mode = Mode::Inject { referenced };
                    let line = failure(namespace, rule, &problem, hits, mode);
                    findings.record(line, rule.on_missing_secret, mode)
                }
            };
            // A rule's pull policy follows its secret, except that a secret that fails its
            // checks does not make a cached copy of the image any less private.
            if namespace_problem.is_none() || add {
                pull_policy_edits(specs, rule, hits, &mut edits);
            }
            if add {
                for hit in hits.iter() {
                    wanted[hit.spec].push(rule.secret.as_str());
                }
            }
        }
        if !findings.rejections.is_empty() {
            return findings.into_decision(Vec::new());
        }
        let mut accounts: BTreeMap<&str, Result<Vec<String>, LookupError>> = BTreeMap::new();
        for (view, wanted) in specs.iter().zip(&wanted) {
            let existing = view.spec.get("imagePullSecrets");
            let mut inherited: &[String] = &[];
            if inherits && !wanted.is_empty() && is_empty_list(existing) {
                let account = service_account_name(view.spec);
                let answer = accounts.entry(account).or_insert_with(|| {
                    let cluster = &mut self.checks.cluster;
                    cluster.service_account_pull_secrets(namespace, account)
                });
                match answer {
                    Ok(names) => inherited = names,
                    Err(error) => {
                        let at = dotted(&view.pointer);
                        let warning = unread_account_warning(account, namespace, error, &at);
                        findings.warnings.insert(warning);
                    }
                }
            }
            edits.extend(merged_pull_secrets(
                &view.pointer,
                existing,
                inherited,
                wanted,
            ));
        }
        findings.into_decision(edits)
    }

    /// Validate-only and ephemeral containers: each rule's secret must already be referenced,
    /// and pass the checks; rules with `imagePullPolicy: Always` report containers that would
    /// not pull at every start, or, for new ephemeral containers, set it (the only mutation here).
    fn report(&mut self, mode: Mode) -> Decision {
        let (namespace, specs) = (self.request.namespace, &self.specs);
        let mut findings = Findings::default();
        let mut edits = Vec::new();
        for (rule, hits, namespace_problem) in &self.hits {
            let mut fail = |problem: &Problem, hits: &[Hit]| {
                let line = failure(namespace, rule, problem, hits, mode);
                findings.record(line, rule.on_missing_secret, mode)
            };
            if let Some(problem) = namespace_problem {
                fail(problem, hits);
                continue;
            }
            let (referenced, unreferenced): (Vec<Hit>, Vec<Hit>) = hits
                .iter()
                .partition(|hit| specs[hit.spec].lists(&rule.secret));
            if !unreferenced.is_empty() {
                fail(&Problem::NotReferenced, &unreferenced);
            }
            if !referenced.is_empty() && self.settings.raw.verify_secrets {
                let images = distinct_images(&referenced);
                if let Some(problem) = self.checks.problem(&rule.secret, &images) {
                    fail(&problem, &referenced);
                }
            }
            if mode == Mode::EphemeralContainers {
                // A new ephemeral container's spec is being added: its pull policy may be set.
                pull_policy_edits(specs, rule, hits, &mut edits);
                continue;
            }
            let mut by_policy: BTreeMap<&str, Vec<Hit>> = BTreeMap::new();
            for hit in hits.iter().filter(|_| rule.pull_always) {
                match hit.container.effective_pull_policy() {
                    "Always" => {}
                    policy => by_policy.entry(policy).or_default().push(*hit),
                }
            }
            for (policy, hits) in by_policy {
                fail(&Problem::PullPolicy(policy.to_string()), &hits);
            }
        }
        findings.into_decision(edits)
    }
}

/// Sets `imagePullPolicy: Always` on the rule's matching containers that would not pull at
/// every start, if the rule asks for it; each container once.
fn pull_policy_edits(specs: &[PodSpecView], rule: &Rule, hits: &[Hit], edits: &mut Vec<Edit>) {
    for hit in hits.iter().filter(|_| rule.pull_always) {
        let Container { list, index, .. } = hit.container;
        let pointer = format!("{}/{list}/{index}", specs[hit.spec].pointer);
        let pulls = hit.container.effective_pull_policy() == "Always";
        if !pulls && !edits.iter().any(|edit| edit.pointer == pointer) {
            edits.push(Edit {
                pointer,
                field: PULL_POLICY,
                value: Value::from("Always"),
            });
        }
    }
}

/// The failure line of a rule's `problem`, naming the containers that need its secret.
fn failure(namespace: &str, rule: &Rule, problem: &Problem, hits: &[Hit], mode: Mode) -> String {
    let mut seen = BTreeSet::new();
    let distinct: Vec<String> = hits
        .iter()
        .map(|hit| hit.container.to_string())
        .filter(|shown| seen.insert(shown.clone()))
        .collect();
    let mut needed_by = distinct[..distinct.len().min(LISTED_CONTAINERS)].join(", ");
    if distinct.len() > LISTED_CONTAINERS {
        needed_by.push_str(&format!(" and {} more", distinct.len() - LISTED_CONTAINERS));
    }
    // The registry of the first container that needs the secret, as the kubelet looks it up.
    let server = hits
        .first()
        .map_or("<registry>", |hit| hit.image.kubelet_registry());
    let secret = &rule.secret;
    let fix = fix_for(namespace, secret, problem, server, mode);
    failure_line(namespace, secret, problem, &needed_by, &fix)
}

#[cfg(test)]
mod tests;
