//! The policy settings: read strictly (unknown keys are errors) and borrowed from their text,
//! then compiled into matchers and JSONPaths. `validate_settings` compiles all of them, so an
//! invalid value fails there with its field path; a `validate` call compiles only what its
//! request needs ([`RequestSettings`]): the rules that may match its images, the custom resource
//! of its kind, the ServiceAccount entries.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json_path::JsonPath;

use crate::image_ref::ImageRef;
use crate::kinds::{builtin_kind, CustomResource};
use crate::matcher::{
    image_may_match, registry_may_match, ImagePattern, PatternError, RegistryPattern,
};
use crate::object::Text;
pub use crate::outcome::OnMissingSecret;
use crate::registry_host::check_dns_subdomain;
use crate::selector::{LabelSelector, RawLabelSelector};

/// One rule: which images need which pull secret.
#[derive(Debug, Clone)]
pub struct Rule {
    pub secret: String,
    registries: Vec<RegistryPattern>,
    images: Vec<ImagePattern>,
    pub on_missing_secret: OnMissingSecret,
    /// The namespaces the rule applies in; `None`: all of them.
    pub namespace_selector: Option<LabelSelector>,
    /// `imagePullPolicy: Always`: matching containers pull with credentials at every start.
    pub pull_always: bool,
}

impl Rule {
    /// An image needs the rule's secret if it matches any registry or any image pattern.
    pub fn matches(&self, image: &ImageRef) -> bool {
        self.registries.iter().any(|r| r.matches(image))
            || self.images.iter().any(|i| i.matches(image))
    }
}

/// `templates`: what the policy does with the pod templates of workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Templates {
    /// Answer as the Pod rule will answer for the template's Pods, without a patch.
    Check,
    /// Add the secrets to the template as to a Pod.
    Inject,
}

/// The settings as written, borrowed from their text.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawSettings<'a> {
    #[serde(borrow)]
    rules: Option<Vec<RawRule<'a>>>,
    #[serde(default = "enabled")]
    pub inject: bool,
    #[serde(borrow)]
    templates: Option<Text<'a>>,
    #[serde(default = "enabled")]
    pub verify_secrets: bool,
    #[serde(default = "enabled")]
    pub check_credentials: bool,
    #[serde(default, borrow)]
    custom_resources: Vec<RawCustomResource<'a>>,
    #[serde(default, borrow)]
    service_accounts: Vec<RawServiceAccount<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRule<'a> {
    #[serde(borrow)]
    secret: Option<Text<'a>>,
    #[serde(default, borrow)]
    registries: Vec<Text<'a>>,
    #[serde(default, borrow)]
    images: Vec<Text<'a>>,
    #[serde(borrow)]
    on_missing_secret: Option<Text<'a>>,
    namespace_selector: Option<RawLabelSelector>,
    #[serde(borrow)]
    image_pull_policy: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCustomResource<'a> {
    #[serde(borrow)]
    api_version: Option<Text<'a>>,
    #[serde(borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    pod_spec_path: Option<Text<'a>>,
}

fn enabled() -> bool {
    true
}

/// `validate_settings`: reads the settings from JSON bytes and compiles all of them; the error
/// lists every problem found.
pub fn validate(bytes: &[u8]) -> Result<(), String> {
    // Read with path tracking, to name the field; `validate` reads the settings without.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let raw: RawSettings =
        serde_path_to_error::deserialize(&mut deserializer).map_err(describe_serde_error)?;
    deserializer.end().map_err(|e| format!("settings: {e}"))?;
    compile(&raw)
}

/// The settings of one `validate` call, borrowed from the payload. The host has accepted them
/// in `validate_settings` already; a part that does not compile here still gets an answer, the
/// 400 `validate_settings` would have given.
pub(crate) struct RequestSettings<'a> {
    pub templates: Templates,
    /// As written: `inject`, `verifySecrets` and `checkCredentials` are read from here.
    pub raw: RawSettings<'a>,
}

impl<'a> RequestSettings<'a> {
    /// The settings of a payload, as parsed with it (`None`: absent or `null`); the error is the
    /// message to reject with.
    pub fn new(raw: Option<RawSettings<'a>>) -> Result<Self, String> {
        let raw = raw.unwrap_or_default();
        match templates(raw.templates.as_deref(), &mut Vec::new()) {
            Some(templates) if raw.rules.as_ref().is_some_and(|rules| !rules.is_empty()) => {
                Ok(RequestSettings { templates, raw })
            }
            _ => Err(invalid(compile(&raw).err())),
        }
    }

    /// The 400 message for settings that did not parse with the payload, read again from their
    /// text to name the field.
    pub fn unreadable(settings: &RawValue) -> String {
        invalid(validate(settings.get().as_bytes()).err())
    }

    /// The custom resource configured for `(group, version, kind)`, compiled; `None` when no
    /// `customResources` entry names it. Asked only for kinds the policy does not know.
    pub fn custom_resource_of(
        &self,
        gvk: (&str, &str, &str),
    ) -> Result<Option<CustomResource>, String> {
        let compiled =
            or_invalid(|errors| compile_custom_resources(&self.raw.custom_resources, errors))?;
        let (group, version, kind) = gvk;
        let named = |c: &CustomResource| c.group == group && c.version == version && c.kind == kind;
        Ok(compiled.into_iter().find(named))
    }

    /// The rules that may match an image of one of these normalised registries, compiled, in
    /// settings order; the others are left as text (`matcher::registry_may_match`).
    pub fn rules_for(&self, registries: &[&str]) -> Result<Vec<Rule>, String> {
        let may_match = |rule: &RawRule| {
            registries.iter().any(|registry| {
                rule.registries
                    .iter()
                    .any(|pattern| registry_may_match(pattern, registry))
                    || rule
                        .images
                        .iter()
                        .any(|pattern| image_may_match(pattern, registry))
            })
        };
        let rules = self.raw.rules.iter().flatten().enumerate();
        or_invalid(|errors| {
            rules
                .filter(|(_, rule)| may_match(rule))
                .filter_map(|(index, rule)| compile_rule(index, rule, errors))
                .collect()
        })
    }

    /// The `serviceAccounts` entries, compiled.
    pub fn service_accounts(&self) -> Result<Vec<ServiceAccountSecret>, String> {
        or_invalid(|errors| compile_service_accounts(&self.raw.service_accounts, errors))
    }
}

/// The message of a 400 for settings that do not compile.
fn invalid(message: Option<String>) -> String {
    format!("invalid settings: {}", message.unwrap_or_default())
}

/// What `compile` compiled, or every error it found.
fn compiled<T>(compile: impl FnOnce(&mut Vec<String>) -> T) -> Result<T, String> {
    let mut errors = Vec::new();
    let compiled = compile(&mut errors);
    match errors.is_empty() {
        true => Ok(compiled),
        false => Err(errors.join("; ")),
    }
}

/// What `compile` compiled, or the 400 message naming every error it found.
fn or_invalid<T>(compile: impl FnOnce(&mut Vec<String>) -> T) -> Result<T, String> {
    compiled(compile).map_err(|errors| invalid(Some(errors)))
}

/// The error for settings without rules (`problem`: "is required", "is empty").
fn missing_rules(problem: &str) -> String {
    format!("rules: {problem}; add at least one rule with a secret and registries or images")
}

fn describe_serde_error<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> String {
    let inner = error.inner().to_string();
    // serde_json appends the position; it says nothing to someone editing YAML.
    let inner = inner.split(" at line ").next().unwrap_or_default();
    match error.path().to_string().as_str() {
        "." => format!("settings: {inner}"),
        path => format!("{path}: {inner}"),
    }
}

/// Compiles every part of the settings; the error lists every problem found.
fn compile(raw: &RawSettings) -> Result<(), String> {
    compiled(|errors| {
        match raw.rules.as_deref() {
            None => errors.push(missing_rules("is required")),
            Some([]) => errors.push(missing_rules("is empty")),
            Some(rules) => {
                for (index, rule) in rules.iter().enumerate() {
                    compile_rule(index, rule, errors);
                }
            }
        }
        compile_custom_resources(&raw.custom_resources, errors);
        compile_service_accounts(&raw.service_accounts, errors);
        templates(raw.templates.as_deref(), errors);
    })
}

/// `templates`, default `check`; `None` (and an error) for another value.
fn templates(raw: Option<&str>, errors: &mut Vec<String>) -> Option<Templates> {
    match raw {
        None | Some("check") => Some(Templates::Check),
        Some("inject") => Some(Templates::Inject),
        Some(other) => {
            errors.push(format!(
                "templates: \"{other}\" is not one of check, inject; write check (workloads are refused or warned \
                 as their pods would be, never patched) or inject (the secrets are added to pod templates too)"
            ));
            None
        }
    }
}

fn compile_rule(index: usize, raw: &RawRule, errors: &mut Vec<String>) -> Option<Rule> {
    let field = |name: &str| format!("rules[{index}].{name}");
    let before = errors.len();
    let secret = secret_name(
        raw.secret.as_deref(),
        &field,
        "registry-credentials",
        errors,
    );
    if raw.registries.is_empty() && raw.images.is_empty() {
        errors.push(format!(
            "rules[{index}]: has neither registries nor images; add at least one, e.g. registries: [\"registry.example.com\"]"
        ));
    }
    let registries = compile_patterns(
        &raw.registries,
        &|| field("registries"),
        RegistryPattern::parse,
        errors,
    );
    let images = compile_patterns(
        &raw.images,
        &|| field("images"),
        ImagePattern::parse,
        errors,
    );
    let on_missing_secret = match raw.on_missing_secret.as_deref() {
        None | Some("reject") => OnMissingSecret::Reject,
        Some("warn") => OnMissingSecret::Warn,
        Some("skip") => OnMissingSecret::Skip,
        Some(other) => {
            errors.push(format!(
                "{}: \"{other}\" is not one of reject, warn, skip",
                field("onMissingSecret")
            ));
            OnMissingSecret::Reject
        }
    };
    let namespace_selector = raw
        .namespace_selector
        .clone()
        .and_then(|selector| LabelSelector::compile(selector, &field("namespaceSelector"), errors));
    let pull_always = match raw.image_pull_policy.as_deref() {
        None => false,
        Some("Always") => true,
        Some(other) => {
            errors.push(format!(
                "{}: \"{other}\" is not supported; the only value is \"Always\" (matching containers pull \
                 with credentials at every start, so no pod can run a cached copy of a private image); omit \
                 the field to leave pull policies as they are",
                field("imagePullPolicy")
            ));
            false
        }
    };
    (errors.len() == before).then_some(Rule {
        secret,
        registries,
        images,
        on_missing_secret,
        namespace_selector,
        pull_always,
    })
}

/// The `secret` of an entry whose fields `field` names: required (`example` is one) and a valid
/// Secret name.
fn secret_name(
    secret: Option<&str>,
    field: &dyn Fn(&str) -> String,
    example: &str,
    errors: &mut Vec<String>,
) -> String {
    let Some(secret) = secret else {
        errors.push(format!(
            "{}: is required; name the pull secret to add, e.g. \"{example}\"",
            field("secret")
        ));
        return String::new();
    };
    if let Err(problem) = check_dns_subdomain(secret) {
        errors.push(format!(
            "{}: \"{secret}\" is not a valid Secret name: {problem}",
            field("secret")
        ));
    }
    secret.to_string()
}

/// The compiled patterns; `field` names the list, and is written only for an error.
fn compile_patterns<T>(
    patterns: &[Text],
    field: &dyn Fn() -> String,
    parse: fn(&str) -> Result<T, PatternError>,
    errors: &mut Vec<String>,
) -> Vec<T> {
    patterns
        .iter()
        .enumerate()
        .filter_map(|(index, pattern)| {
            parse(pattern)
                .map_err(|error| errors.push(format!("{}[{index}]: {error}", field())))
                .ok()
        })
        .collect()
}

/// Compiles the `customResources` entries.
fn compile_custom_resources(
    raw: &[RawCustomResource],
    errors: &mut Vec<String>,
) -> Vec<CustomResource> {
    let mut compiled: Vec<CustomResource> = Vec::new();
    for (index, resource) in raw.iter().enumerate() {
        let field = |name: &str| format!("customResources[{index}].{name}");
        let before = errors.len();
        let api_version = resource.api_version.as_deref().unwrap_or_default();
        let (group, version) = match api_version.split_once('/') {
            _ if api_version.is_empty() => {
                errors.push(format!(
                    "{}: is required, e.g. \"argoproj.io/v1alpha1\"",
                    field("apiVersion")
                ));
                ("", "")
            }
            None => ("", api_version),
            Some((group, version))
                if !group.is_empty() && !version.is_empty() && !version.contains('/') =>
            {
                (group, version)
            }
            Some(_) => {
                errors.push(format!(
                    "{}: \"{api_version}\" is not group/version, e.g. \"argoproj.io/v1alpha1\"",
                    field("apiVersion")
                ));
                ("", "")
            }
        };
        let (group, version) = (group.to_string(), version.to_string());
        let kind = resource.kind.as_deref().unwrap_or_default().to_string();
        if kind.is_empty() {
            errors.push(format!("{}: is required, e.g. \"Rollout\"", field("kind")));
        } else if builtin_kind(&group, &kind).is_some() {
            errors.push(format!(
                "{}: \"{kind}\" in group \"{group}\" is handled by the policy already; remove this entry",
                field("kind")
            ));
        }
        let pod_spec_path = match resource.pod_spec_path.as_deref() {
            None | Some("") => {
                errors.push(format!(
                    "{}: is required, e.g. \"$.spec.template.spec\"",
                    field("podSpecPath")
                ));
                None
            }
            Some(path) => match JsonPath::parse(path) {
                Ok(parsed) => Some(parsed),
                Err(e) => {
                    errors.push(format!(
                        "{}: \"{path}\" is not an RFC 9535 JSONPath ({e}); write e.g. \"$.spec.template.spec\"",
                        field("podSpecPath")
                    ));
                    None
                }
            },
        };
        let duplicate = compiled
            .iter()
            .any(|c| c.group == group && c.version == version && c.kind == kind);
        if duplicate {
            errors.push(format!("customResources[{index}]: repeats an earlier entry for the same apiVersion and kind"));
        }
        if let (Some(pod_spec_path), true) = (pod_spec_path, errors.len() == before) {
            compiled.push(CustomResource {
                group,
                version,
                kind,
                pod_spec_path,
            });
        }
    }
    compiled
}

/// One `serviceAccounts` entry, compiled.
#[derive(Debug, Clone)]
pub struct ServiceAccountSecret {
    pub secret: String,
    /// `Warn` or `Skip`: `reject` is refused when the settings are compiled.
    pub on_missing_secret: OnMissingSecret,
    /// The namespaces whose ServiceAccounts get the secret; `None`: all of them.
    pub namespace_selector: Option<LabelSelector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawServiceAccount<'a> {
    #[serde(borrow)]
    secret: Option<Text<'a>>,
    #[serde(borrow)]
    on_missing_secret: Option<Text<'a>>,
    namespace_selector: Option<RawLabelSelector>,
}

/// Compiles `serviceAccounts`, pushing one message per problem onto `errors`.
fn compile_service_accounts(
    raw: &[RawServiceAccount],
    errors: &mut Vec<String>,
) -> Vec<ServiceAccountSecret> {
    let mut compiled = Vec::new();
    for (index, entry) in raw.iter().enumerate() {
        let field = |name: &str| format!("serviceAccounts[{index}].{name}");
        let before = errors.len();
        let secret = entry.secret.as_deref().filter(|secret| !secret.is_empty());
        let secret = secret_name(secret, &field, "dockerhub", errors);
        let on_missing_secret = match entry.on_missing_secret.as_deref() {
            None | Some("warn") => OnMissingSecret::Warn,
            Some("skip") => OnMissingSecret::Skip,
            Some("reject") => {
                errors.push(format!(
                    "{}: \"reject\" is not allowed for ServiceAccounts: the ServiceAccount controller creates \
                     \"default\" in every new namespace at once, before any secret copier can copy the secret \
                     there, so refusing it would break namespace creation; a reference to a secret that does not \
                     exist yet is harmless and starts working when the secret arrives. Use warn (the default) or skip",
                    field("onMissingSecret")
                ));
                OnMissingSecret::Warn
            }
            Some(other) => {
                errors.push(format!(
                    "{}: \"{other}\" is not one of warn, skip",
                    field("onMissingSecret")
                ));
                OnMissingSecret::Warn
            }
        };
        let namespace_selector = entry.namespace_selector.clone().and_then(|selector| {
            LabelSelector::compile(selector, &field("namespaceSelector"), errors)
        });
        if errors.len() == before {
            compiled.push(ServiceAccountSecret {
                secret,
                on_missing_secret,
                namespace_selector,
            });
        }
    }
    compiled
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    proptest::proptest! {
        /// A request compiles only the rules that may match its images, and they match what
        /// the fully compiled settings match, in the same order.
        #[test]
        fn the_rules_in_play_match_as_all_rules_do(
            picks in proptest::collection::vec((0usize..6, 0usize..6), 1..8),
            image in proptest::sample::select(vec!["reg.example/app", "eu.corp.example/x", "nginx", "acme/tools/cli", "ghcr.io/team/app", "REG.example:5000/a"]),
        ) {
            let registries = ["reg.example", "*.corp.example", "docker.io", "reg.example:5000", "quay.io", "GHCR.io"];
            let images = ["acme/**", "ghcr.io/team/*", "nginx", "reg.example/**", "quay.io/x/**", "docker.io/library/*"];
            let rules: Vec<serde_json::Value> = picks.iter().enumerate().map(|(index, (r, i))| {
                json!({"secret": format!("s{index}"), "registries": [registries[*r]], "images": [images[*i]]})
            }).collect();
            let text = json!({"rules": rules}).to_string();
            let image = ImageRef::parse(image).unwrap();
            let bytes = payload(&text);
            let settings = read(&bytes).unwrap();
            let all = settings.raw.rules.iter().flatten().enumerate();
            let all: Vec<String> = all.filter_map(|(index, rule)| compile_rule(index, rule, &mut Vec::new()))
                .filter(|rule| rule.matches(&image)).map(|rule| rule.secret).collect();
            let in_play = settings.rules_for(&[image.registry()]).unwrap();
            let matched: Vec<String> = in_play.into_iter().filter(|rule| rule.matches(&image)).map(|rule| rule.secret).collect();
            proptest::prop_assert_eq!(matched, all);
        }
    }

    /// A rule that does not compile but cannot match the request's images is not compiled (the
    /// host accepted the settings in `validate_settings`); one that may match is a 400, as are
    /// settings that do not read.
    #[test]
    fn only_the_rules_in_play_are_compiled() {
        let text = json!({"rules": [{"secret": "corp", "registries": ["reg.example"]},
            {"secret": "Bad_Name", "registries": ["other.example"]}]})
        .to_string();
        let bytes = payload(&text);
        let settings = read(&bytes).unwrap();
        assert_eq!(settings.rules_for(&["reg.example"]).unwrap().len(), 1);
        let error = settings.rules_for(&["other.example"]).unwrap_err();
        assert!(
            error.starts_with("invalid settings: rules[1].secret: \"Bad_Name\""),
            "{error}"
        );
        let unreadable = [
            ("null", "invalid settings: rules: is required"),
            (
                r#"{"rules": [{"secret": "a", "images": ["x"]}], "templates": "x"}"#,
                "invalid settings: templates: \"x\" is not one of check, inject",
            ),
        ];
        for (text, expected) in unreadable {
            let error = read(&payload(text)).err().unwrap();
            assert!(error.starts_with(expected), "{error}");
        }
    }

    /// A `validate` payload with `settings` (JSON text) and a request.
    fn payload(settings: &str) -> Vec<u8> {
        format!(r#"{{"request": {{}}, "settings": {settings}}}"#).into_bytes()
    }

    /// The settings of a payload, as `validate` reads them.
    fn read(payload: &[u8]) -> Result<RequestSettings<'_>, String> {
        crate::request::read(payload).unwrap().1
    }

    /// The README's settings example reads as its comments say.
    #[test]
    fn readme_settings_example_reads_as_documented() {
        let readme = include_str!("../README.md");
        let block = readme.split("<!-- settings-example").nth(1).unwrap();
        let block = block.split("```yaml\n").nth(1).unwrap().split("```").next();
        let example: serde_json::Value = serde_yaml::from_str(block.unwrap()).unwrap();
        validate(example.to_string().as_bytes()).expect("valid settings");
        let bytes = payload(&example.to_string());
        let settings = read(&bytes).expect("valid settings");
        let raw = &settings.raw;
        assert!(raw.inject && raw.verify_secrets && raw.check_credentials);
        assert_eq!(settings.templates, Templates::Check);
        let rollout = ("argoproj.io", "v1alpha1", "Rollout");
        assert!(settings.custom_resource_of(rollout).unwrap().is_some());
        let [account] = &settings.service_accounts().unwrap()[..] else {
            panic!("one ServiceAccount entry expected");
        };
        assert_eq!(
            (&*account.secret, account.on_missing_secret),
            ("dockerhub", OnMissingSecret::Warn)
        );
        let rules = settings.rules_for(&["docker.io", "registry.corp.example:5000"]);
        let [corp, hub, team_a] = &rules.unwrap()[..] else {
            panic!("three rules expected");
        };
        assert_eq!(corp.secret, "corp-registry");
        let outcomes = [corp, hub].map(|rule| rule.on_missing_secret);
        assert_eq!(outcomes, [OnMissingSecret::Reject, OnMissingSecret::Skip]);
        assert!(corp.pull_always && !hub.pull_always && corp.namespace_selector.is_none());
        let selector = team_a.namespace_selector.as_ref().expect("a selector");
        assert!(selector.matches(&[("team".to_string(), "a".to_string())].into()));
        assert!(!selector.matches(&Default::default()));
        let cases = [
            (
                corp,
                "registry.corp.example:5000/finance/billing:2.4.1",
                true,
            ),
            (corp, "eu.corp.example/app", true),
            (corp, "acme/tools/cli", true),
            (corp, "registry.corp.example:5001/app", false), // another port
            (corp, "a.b.corp.example/app", false),           // `*` is one label
            (hub, "nginx", true),
        ];
        for (rule, image, expected) in cases {
            let matched = rule.matches(&ImageRef::parse(image).unwrap());
            assert_eq!(matched, expected, "{} vs {image}", rule.secret);
        }
    }

    fn parse(settings: serde_json::Value) -> Result<(), String> {
        validate(settings.to_string().as_bytes())
    }

    #[rstest]
    #[case::no_rules(json!({}), "rules: is required; add at least one rule with a secret and registries or images")]
    #[case::empty_rules(json!({"rules": []}), "rules: is empty; add at least one rule with a secret and registries or images")]
    #[case::no_secret(json!({"rules": [{"registries": ["docker.io"]}]}), "rules[0].secret: is required; name the pull secret to add, e.g. \"registry-credentials\"")]
    #[case::bad_secret_name(json!({"rules": [{"secret": "Corp_Registry", "registries": ["docker.io"]}]}), "rules[0].secret: \"Corp_Registry\" is not a valid Secret name: use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit")]
    #[case::empty_rule(json!({"rules": [{"secret": "a"}]}), "rules[0]: has neither registries nor images; add at least one, e.g. registries: [\"registry.example.com\"]")]
    #[case::scheme(json!({"rules": [{"secret": "a", "registries": ["https://reg.example"]}]}), "rules[0].registries[0]: \"https://reg.example\" is a URL, not a registry host; write \"reg.example\"")]
    #[case::scheme_with_port(json!({"rules": [{"secret": "a", "registries": ["https://registry.corp.example:5000"]}]}), "rules[0].registries[0]: \"https://registry.corp.example:5000\" is a URL, not a registry host; write \"registry.corp.example:5000\"")]
    #[case::empty_second_rule(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}, {"secret": "b"}]}), "rules[1]: has neither registries nor images; add at least one")]
    #[case::image_pull_policy(json!({"rules": [{"secret": "a", "registries": ["docker.io"], "imagePullPolicy": "IfNotPresent"}]}), "rules[0].imagePullPolicy: \"IfNotPresent\" is not supported; the only value is \"Always\"")]
    #[case::tagged_image(json!({"rules": [{"secret": "a", "images": ["nginx:1.27"]}]}), "rules[0].images[0]: \"nginx:1.27\" has a tag (\":1.27\"); patterns match repositories: write \"nginx\"")]
    #[case::digest_image(json!({"rules": [{"secret": "a", "images": ["reg.example/app@sha256:abc"]}]}), "rules[0].images[0]: \"reg.example/app@sha256:abc\" has a digest (\"@sha256:abc\"); patterns match repositories: write \"reg.example/app\"")]
    #[case::port_out_of_range(json!({"rules": [{"secret": "a", "registries": ["reg.example:99999"], "images": ["reg.example:65536/app"]}]}), "rules[0].registries[0]: \"reg.example:99999\" has the port 99999, which is not from 1 to 65535; write the port the registry listens on; rules[0].images[0]: \"reg.example:65536/app\" has the port 65536, which is not from 1 to 65535; write the port the registry listens on")]
    #[case::templates_value(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "templates": "mutate"}), "templates: \"mutate\" is not one of check, inject; write check (workloads are refused or warned as their pods would be, never patched) or inject (the secrets are added to pod templates too)")]
    #[case::templates_type(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "templates": true}), "templates: invalid type: boolean `true`, expected a string")]
    #[case::on_missing(json!({"rules": [{"secret": "a", "registries": ["docker.io"], "onMissingSecret": "deny"}]}), "rules[0].onMissingSecret: \"deny\" is not one of reject, warn, skip")]
    #[case::unknown_top_level_key(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "injectt": true}), "injectt: unknown field `injectt`, expected one of `rules`, `inject`, `templates`, `verifySecrets`, `checkCredentials`, `customResources`, `serviceAccounts`")]
    #[case::unknown_rule_key(json!({"rules": [{"secret": "a", "registry": ["docker.io"]}]}), "rules[0].registry: unknown field `registry`, expected one of `secret`, `registries`, `images`, `onMissingSecret`, `namespaceSelector`")]
    #[case::wrong_type(json!({"rules": [{"secret": "a", "registries": "docker.io"}]}), "rules[0].registries: invalid type: string \"docker.io\", expected a sequence")]
    #[case::bad_jsonpath(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "customResources": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "spec.template"}]}), "customResources[0].podSpecPath: \"spec.template\" is not an RFC 9535 JSONPath")]
    #[case::builtin_custom_resource(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "customResources": [{"apiVersion": "apps/v1", "kind": "Deployment", "podSpecPath": "$.spec"}]}), "customResources[0].kind: \"Deployment\" in group \"apps\" is handled by the policy already; remove this entry")]
    #[case::several_errors(json!({"rules": [{"secret": "a", "registries": ["a/b", "docker.io"], "images": ["x:1"]}]}), "rules[0].registries[0]: \"a/b\" has a path (\"/b\"); registries take a host only: write \"a\", or put the repository glob under images; rules[0].images[0]: \"x:1\" has a tag (\":1\"); patterns match repositories: write \"x\"")]
    #[case::service_account_reject(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "serviceAccounts": [{"secret": "dockerhub", "onMissingSecret": "reject"}]}), "serviceAccounts[0].onMissingSecret: \"reject\" is not allowed for ServiceAccounts: the ServiceAccount controller creates \"default\" in every new namespace at once")]
    #[case::service_account_outcome(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "serviceAccounts": [{"secret": "dockerhub", "onMissingSecret": "deny"}]}), "serviceAccounts[0].onMissingSecret: \"deny\" is not one of warn, skip")]
    #[case::service_account_no_secret(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "serviceAccounts": [{}]}), "serviceAccounts[0].secret: is required")]
    #[case::service_account_bad_secret(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "serviceAccounts": [{"secret": "Docker_Hub"}]}), "serviceAccounts[0].secret: \"Docker_Hub\" is not a valid Secret name")]
    #[case::service_account_selector(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "serviceAccounts": [{"secret": "a", "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In"}]}}]}), "serviceAccounts[0].namespaceSelector.matchExpressions[0].values: must list at least one value")]
    #[case::service_account_unknown_key(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "serviceAccounts": [{"secret": "a", "onMissing": "warn"}]}), "serviceAccounts[0].onMissing: unknown field `onMissing`, expected one of `secret`, `onMissingSecret`, `namespaceSelector`")]
    fn invalid_settings(#[case] settings: serde_json::Value, #[case] expected: &str) {
        let error = parse(settings).unwrap_err();
        assert!(
            error.starts_with(expected),
            "got: {error}\nwanted prefix: {expected}"
        );
    }
}
