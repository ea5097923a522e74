//! The policy settings: parsed strictly (unknown keys are errors) and compiled once into matchers
//! and JSONPaths, so an invalid value fails in `validate_settings` with its field path, never later.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json_path::JsonPath;

use crate::image_ref::ImageRef;
use crate::kinds::{builtin_kind, CustomResource};
use crate::matcher::{ImagePattern, PatternError, RegistryPattern};
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

/// Compiled settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rules: Vec<Rule>,
    pub inject: bool,
    pub verify_secrets: bool,
    pub check_credentials: bool,
    pub custom_resources: Vec<CustomResource>,
    /// Secrets added to every ServiceAccount on CREATE and UPDATE.
    pub service_accounts: Vec<ServiceAccountSecret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSettings {
    rules: Option<Vec<RawRule>>,
    #[serde(default = "enabled")]
    inject: bool,
    #[serde(default = "enabled")]
    verify_secrets: bool,
    #[serde(default = "enabled")]
    check_credentials: bool,
    #[serde(default)]
    custom_resources: Vec<RawCustomResource>,
    #[serde(default)]
    service_accounts: Vec<RawServiceAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRule {
    secret: Option<String>,
    #[serde(default)]
    registries: Vec<String>,
    #[serde(default)]
    images: Vec<String>,
    on_missing_secret: Option<String>,
    namespace_selector: Option<RawLabelSelector>,
    image_pull_policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCustomResource {
    api_version: Option<String>,
    kind: Option<String>,
    pod_spec_path: Option<String>,
}

fn enabled() -> bool {
    true
}

impl Settings {
    /// Parses and compiles settings from JSON bytes; the error lists every problem found.
    pub fn from_slice(bytes: &[u8]) -> Result<Settings, String> {
        // Valid settings, the case of every `validate` call, are read without path tracking;
        // only a failure is read again with serde_path_to_error, to name the field.
        if let Ok(raw) = serde_json::from_slice::<RawSettings>(bytes) {
            return compile(raw);
        }
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let raw: RawSettings =
            serde_path_to_error::deserialize(&mut deserializer).map_err(describe_serde_error)?;
        deserializer.end().map_err(|e| format!("settings: {e}"))?;
        compile(raw)
    }

    /// The settings of a `validate` payload; the error is the message to reject with.
    pub(crate) fn from_raw(settings: Option<&RawValue>) -> Result<Settings, String> {
        match settings.map_or("null", RawValue::get) {
            "null" => Settings::from_value(serde_json::Value::Null),
            raw => Settings::from_slice(raw.as_bytes()),
        }
        .map_err(|message| format!("invalid settings: {message}"))
    }

    /// Parses and compiles settings from an already parsed JSON value.
    pub fn from_value(value: serde_json::Value) -> Result<Settings, String> {
        let value = if value.is_null() {
            serde_json::json!({})
        } else {
            value
        };
        let raw: RawSettings =
            serde_path_to_error::deserialize(value).map_err(describe_serde_error)?;
        compile(raw)
    }
}

/// Whether the settings configure `(group, version, kind)` as a custom resource, read from their
/// `customResources` alone, before anything is compiled. Settings that do not read say yes, so
/// that compiling them names the problem.
pub(crate) fn configures_custom_resource(
    settings: Option<&RawValue>,
    (group, version, kind): (&str, &str, &str),
) -> bool {
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Head<'a> {
        #[serde(borrow)]
        custom_resources: Vec<HeadEntry<'a>>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct HeadEntry<'a> {
        #[serde(borrow)]
        api_version: Cow<'a, str>,
        #[serde(borrow)]
        kind: Cow<'a, str>,
    }
    let Some(settings) = settings else {
        return false;
    };
    match serde_json::from_str::<Head>(settings.get()) {
        Err(_) => true,
        Ok(head) => head.custom_resources.iter().any(|custom| {
            let (custom_group, custom_version) = custom
                .api_version
                .split_once('/')
                .unwrap_or(("", custom.api_version.as_ref()));
            (custom_group, custom_version, custom.kind.as_ref()) == (group, version, kind)
        }),
    }
}

fn describe_serde_error<E: std::fmt::Display>(error: serde_path_to_error::Error<E>) -> String {
    let path = error.path().to_string();
    let inner = error.into_inner().to_string();
    // serde_json appends the position; it says nothing to someone editing YAML.
    let inner = match inner.find(" at line ") {
        Some(at) => inner[..at].to_string(),
        None => inner,
    };
    if path == "." {
        format!("settings: {inner}")
    } else {
        format!("{path}: {inner}")
    }
}

fn compile(raw: RawSettings) -> Result<Settings, String> {
    let mut errors = Vec::new();
    let raw_rules = match raw.rules {
        None => {
            errors.push(
                "rules: is required; add at least one rule with a secret and registries or images"
                    .to_string(),
            );
            Vec::new()
        }
        Some(rules) if rules.is_empty() => {
            errors.push(
                "rules: is empty; add at least one rule with a secret and registries or images"
                    .to_string(),
            );
            rules
        }
        Some(rules) => rules,
    };
    let rules: Vec<Rule> = raw_rules
        .into_iter()
        .enumerate()
        .filter_map(|(index, rule)| compile_rule(index, rule, &mut errors))
        .collect();
    let custom_resources = compile_custom_resources(raw.custom_resources, &mut errors);
    let service_accounts = compile_service_accounts(raw.service_accounts, &mut errors);
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(Settings {
        rules,
        inject: raw.inject,
        verify_secrets: raw.verify_secrets,
        check_credentials: raw.check_credentials,
        custom_resources,
        service_accounts,
    })
}

fn compile_rule(index: usize, raw: RawRule, errors: &mut Vec<String>) -> Option<Rule> {
    let field = |name: &str| format!("rules[{index}].{name}");
    let before = errors.len();
    let secret = match raw.secret {
        None => {
            errors.push(format!(
                "{}: is required; name the pull secret to add, e.g. \"registry-credentials\"",
                field("secret")
            ));
            String::new()
        }
        Some(secret) => {
            if let Err(problem) = check_dns_subdomain(&secret) {
                errors.push(format!(
                    "{}: \"{secret}\" is not a valid Secret name: {problem}",
                    field("secret")
                ));
            }
            secret
        }
    };
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

/// The compiled patterns; `field` names the list, and is written only for an error.
fn compile_patterns<T>(
    patterns: &[String],
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

fn compile_custom_resources(
    raw: Vec<RawCustomResource>,
    errors: &mut Vec<String>,
) -> Vec<CustomResource> {
    let mut compiled: Vec<CustomResource> = Vec::new();
    for (index, resource) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("customResources[{index}].{name}");
        let before = errors.len();
        let (group, version) = match resource.api_version.as_deref() {
            None | Some("") => {
                errors.push(format!(
                    "{}: is required, e.g. \"argoproj.io/v1alpha1\"",
                    field("apiVersion")
                ));
                (String::new(), String::new())
            }
            Some(api_version) => match api_version.split_once('/') {
                Some((group, version))
                    if !group.is_empty() && !version.is_empty() && !version.contains('/') =>
                {
                    (group.to_string(), version.to_string())
                }
                None => (String::new(), api_version.to_string()),
                _ => {
                    errors.push(format!(
                        "{}: \"{api_version}\" is not group/version, e.g. \"argoproj.io/v1alpha1\"",
                        field("apiVersion")
                    ));
                    (String::new(), String::new())
                }
            },
        };
        let kind = resource.kind.unwrap_or_default();
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
struct RawServiceAccount {
    secret: Option<String>,
    on_missing_secret: Option<String>,
    namespace_selector: Option<RawLabelSelector>,
}

/// Compiles `serviceAccounts`, pushing one message per problem onto `errors`.
fn compile_service_accounts(
    raw: Vec<RawServiceAccount>,
    errors: &mut Vec<String>,
) -> Vec<ServiceAccountSecret> {
    let mut compiled = Vec::new();
    for (index, entry) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("serviceAccounts[{index}].{name}");
        let before = errors.len();
        let secret = entry.secret.unwrap_or_default();
        if secret.is_empty() {
            errors.push(format!(
                "{}: is required; name the pull secret to add, e.g. \"dockerhub\"",
                field("secret")
            ));
        } else if let Err(problem) = check_dns_subdomain(&secret) {
            errors.push(format!(
                "{}: \"{secret}\" is not a valid Secret name: {problem}",
                field("secret")
            ));
        }
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
        let namespace_selector = entry.namespace_selector.and_then(|selector| {
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

    fn parse(settings: serde_json::Value) -> Result<Settings, String> {
        Settings::from_slice(settings.to_string().as_bytes())
    }

    #[test]
    fn defaults() {
        let settings =
            parse(json!({"rules": [{"secret": "dockerhub", "registries": ["docker.io"]}]}))
                .unwrap();
        assert!(settings.inject);
        assert!(settings.verify_secrets);
        assert!(settings.check_credentials);
        assert!(settings.custom_resources.is_empty());
        assert_eq!(settings.rules[0].on_missing_secret, OnMissingSecret::Reject);
    }

    #[test]
    fn full_settings_compile() {
        let settings = parse(json!({
            "rules": [
                {"secret": "corp-registry", "registries": ["registry.corp.example:5000", "*.corp.example"],
                 "images": ["docker.io/acme/**"], "onMissingSecret": "warn"},
                {"secret": "dockerhub", "registries": ["docker.io"], "onMissingSecret": "skip"}
            ],
            "inject": false, "verifySecrets": false, "checkCredentials": false,
            "customResources": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "$.spec.template.spec"}]
        }))
        .unwrap();
        assert_eq!(settings.rules.len(), 2);
        assert_eq!(settings.rules[0].on_missing_secret, OnMissingSecret::Warn);
        assert_eq!(settings.rules[1].on_missing_secret, OnMissingSecret::Skip);
        assert!(!settings.inject && !settings.verify_secrets && !settings.check_credentials);
        let rollout = &settings.custom_resources[0];
        assert_eq!(
            (
                rollout.group.as_str(),
                rollout.version.as_str(),
                rollout.kind.as_str()
            ),
            ("argoproj.io", "v1alpha1", "Rollout")
        );
        let acme = ImageRef::parse("acme/app").unwrap();
        assert!(settings.rules[0].matches(&acme), "images list matches");
        assert!(settings.rules[1].matches(&acme), "registries list matches");
        assert!(!settings.rules[0].matches(&ImageRef::parse("nginx").unwrap()));
    }

    #[rstest]
    #[case::no_rules(json!({}), "rules: is required; add at least one rule with a secret and registries or images")]
    #[case::empty_rules(json!({"rules": []}), "rules: is empty; add at least one rule with a secret and registries or images")]
    #[case::no_secret(json!({"rules": [{"registries": ["docker.io"]}]}), "rules[0].secret: is required; name the pull secret to add, e.g. \"registry-credentials\"")]
    #[case::bad_secret_name(json!({"rules": [{"secret": "Corp_Registry", "registries": ["docker.io"]}]}), "rules[0].secret: \"Corp_Registry\" is not a valid Secret name: use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit")]
    #[case::empty_rule(json!({"rules": [{"secret": "a"}]}), "rules[0]: has neither registries nor images; add at least one, e.g. registries: [\"registry.example.com\"]")]
    #[case::scheme(json!({"rules": [{"secret": "a", "registries": ["https://reg.example"]}]}), "rules[0].registries[0]: \"https://reg.example\" is a URL, not a registry host; write \"reg.example\"")]
    #[case::tagged_image(json!({"rules": [{"secret": "a", "images": ["nginx:1.27"]}]}), "rules[0].images[0]: \"nginx:1.27\" has a tag (\":1.27\"); patterns match repositories: write \"nginx\"")]
    #[case::digest_image(json!({"rules": [{"secret": "a", "images": ["reg.example/app@sha256:abc"]}]}), "rules[0].images[0]: \"reg.example/app@sha256:abc\" has a digest (\"@sha256:abc\"); patterns match repositories: write \"reg.example/app\"")]
    #[case::port_out_of_range(json!({"rules": [{"secret": "a", "registries": ["reg.example:99999"], "images": ["reg.example:65536/app"]}]}), "rules[0].registries[0]: \"reg.example:99999\" has the port 99999, which is not from 1 to 65535; write the port the registry listens on; rules[0].images[0]: \"reg.example:65536/app\" has the port 65536, which is not from 1 to 65535; write the port the registry listens on")]
    #[case::on_missing(json!({"rules": [{"secret": "a", "registries": ["docker.io"], "onMissingSecret": "deny"}]}), "rules[0].onMissingSecret: \"deny\" is not one of reject, warn, skip")]
    #[case::unknown_top_level_key(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "injectt": true}), "injectt: unknown field `injectt`, expected one of `rules`, `inject`, `verifySecrets`, `checkCredentials`, `customResources`, `serviceAccounts`")]
    #[case::unknown_rule_key(json!({"rules": [{"secret": "a", "registry": ["docker.io"]}]}), "rules[0].registry: unknown field `registry`, expected one of `secret`, `registries`, `images`, `onMissingSecret`, `namespaceSelector`")]
    #[case::wrong_type(json!({"rules": [{"secret": "a", "registries": "docker.io"}]}), "rules[0].registries: invalid type: string \"docker.io\", expected a sequence")]
    #[case::bad_jsonpath(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "customResources": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": "spec.template"}]}), "customResources[0].podSpecPath: \"spec.template\" is not an RFC 9535 JSONPath")]
    #[case::builtin_custom_resource(json!({"rules": [{"secret": "a", "registries": ["docker.io"]}], "customResources": [{"apiVersion": "apps/v1", "kind": "Deployment", "podSpecPath": "$.spec"}]}), "customResources[0].kind: \"Deployment\" in group \"apps\" is handled by the policy already; remove this entry")]
    #[case::several_errors(json!({"rules": [{"secret": "a", "registries": ["a/b", "docker.io"], "images": ["x:1"]}]}), "rules[0].registries[0]: \"a/b\" has a path (\"/b\"); registries take a host only: write \"a\", or put the repository glob under images; rules[0].images[0]: \"x:1\" has a tag (\":1\"); patterns match repositories: write \"x\"")]
    fn invalid_settings(#[case] settings: serde_json::Value, #[case] expected: &str) {
        let error = parse(settings).unwrap_err();
        assert!(
            error.starts_with(expected),
            "got: {error}\nwanted prefix: {expected}"
        );
    }

    #[test]
    fn null_settings_from_value_ask_for_rules() {
        let error = Settings::from_value(serde_json::Value::Null).unwrap_err();
        assert!(error.starts_with("rules: is required"), "{error}");
    }
}
