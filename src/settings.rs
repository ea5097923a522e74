//! The policy settings: parsed strictly (unknown keys are errors) and compiled once into matchers
//! and JSONPaths, so an invalid value fails in `validate_settings` with its field path, never later.

use serde::Deserialize;
use serde_json_path::JsonPath;

use crate::host::check_dns_subdomain;
use crate::image_ref::ImageRef;
use crate::kinds::{builtin_kind, CustomResource};
use crate::matcher::{ImagePattern, PatternError, RegistryPattern};
use crate::selector::{LabelSelector, RawLabelSelector};
use crate::service_accounts::{compile_service_accounts, RawServiceAccount, ServiceAccountSecret};

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

/// One rule: which images need which pull secret.
#[derive(Debug, Clone)]
pub struct Rule {
    pub secret: String,
    registries: Vec<RegistryPattern>,
    images: Vec<ImagePattern>,
    pub on_missing_secret: OnMissingSecret,
    /// The namespaces the rule applies in; `None`: all of them.
    pub namespace_selector: Option<LabelSelector>,
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
    (errors.len() == before).then_some(Rule {
        secret,
        registries,
        images,
        on_missing_secret,
        namespace_selector,
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
