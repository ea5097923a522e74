//! Kubewarden policy metadata: the YAML a policy author writes, its validation, and the JSON
//! form kept in the module's `io.kubewarden.metadata` custom section.
//!
//! Field names, defaults and the JSON layout follow policy-evaluator's `policy_metadata.rs`,
//! so `kwctl inspect` and PolicyServer read what `annotate` writes.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::wasm_sections;

/// Name of the custom section holding the metadata (policy-evaluator `constants.rs`).
pub const CUSTOM_SECTION: &str = "io.kubewarden.metadata";
/// Annotation holding the README text shown by Artifact Hub and `kwctl inspect`.
pub const ANNOTATION_USAGE: &str = "io.kubewarden.policy.usage";

/// Keys of older metadata that policy-evaluator still accepts and drops.
const LEGACY_FIELDS: &[&str] = &["contextAware", "labels"];

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub protocol_version: Option<ProtocolVersion>,
    pub rules: Vec<Rule>,
    // A sorted map (kwctl uses a HashMap) keeps annotated modules reproducible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    pub mutating: bool,
    #[serde(default = "default_true")]
    pub background_audit: bool,
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    #[serde(default)]
    pub policy_type: PolicyType,
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
    /// Host calls the policy says it makes (Kubewarden 1.35+; kwctl 1.36 warns when they differ
    /// from what it finds in the module). A set, as policy-evaluator keeps it: sorted, no repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_capabilities: Option<BTreeSet<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<String>,
    /// Top-level keys this runner does not model, kept as written: newer Kubewarden
    /// releases may know more keys, and readers skip unknown ones.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn default_true() -> bool {
    true
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    #[serde(rename = "Unknown")]
    Unknown,
    #[serde(rename = "v1")]
    V1,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionMode {
    #[default]
    #[serde(rename = "kubewarden-wapc")]
    KubewardenWapc,
    #[serde(rename = "opa")]
    Opa,
    #[serde(rename = "gatekeeper")]
    OpaGatekeeper,
    #[serde(rename = "wasi")]
    Wasi,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyType {
    #[default]
    #[serde(rename = "kubernetes")]
    Kubernetes,
    #[serde(rename = "raw")]
    Raw,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<Operation>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    #[serde(rename = "CREATE")]
    Create,
    #[serde(rename = "UPDATE")]
    Update,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "CONNECT")]
    Connect,
    #[serde(rename = "*")]
    All,
}

/// A Kubernetes resource type the policy may read at evaluation time.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

/// Metadata parsed from the author's YAML, with the legacy keys that were dropped.
#[derive(Debug)]
pub struct ParsedMetadata {
    pub metadata: Metadata,
    pub dropped_legacy_fields: Vec<String>,
}

impl Metadata {
    /// Parses the author's YAML (`policy-metadata.yaml`).
    pub fn from_yaml(text: &str) -> Result<ParsedMetadata> {
        let mut metadata: Metadata = serde_yaml::from_str(text)?;
        let dropped_legacy_fields = LEGACY_FIELDS
            .iter()
            .filter(|field| metadata.extra.remove(**field).is_some())
            .map(|field| field.to_string())
            .collect();
        Ok(ParsedMetadata {
            metadata,
            dropped_legacy_fields,
        })
    }

    /// Reads the metadata a module was annotated with; `None` for an unannotated module.
    pub fn from_module(module: &[u8]) -> Result<Option<Metadata>> {
        let Some(section) = wasm_sections::find_custom_section(module, CUSTOM_SECTION)? else {
            return Ok(None);
        };
        let metadata = serde_json::from_slice(section)
            .with_context(|| format!("cannot parse the {CUSTOM_SECTION} custom section"))?;
        Ok(Some(metadata))
    }

    /// The compact JSON stored in the custom section.
    pub fn to_section_payload(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    /// Whether the policy may read `api_version`/`kind` resources when granted context access.
    pub fn declares_context_aware_resource(&self, api_version: &str, kind: &str) -> bool {
        self.context_aware_resources
            .iter()
            .any(|resource| resource.api_version == api_version && resource.kind == kind)
    }

    /// Every problem policy-evaluator's `Validate` derive would report, one line each,
    /// naming the field (`rules[0].apiGroups: ...`).
    pub fn validation_errors(&self) -> Vec<String> {
        let mut errors = Vec::new();
        match self.protocol_version {
            None => errors.push("protocolVersion: must be set".to_owned()),
            Some(ProtocolVersion::Unknown)
                if self.execution_mode == ExecutionMode::KubewardenWapc =>
            {
                errors.push("protocolVersion: Must specify a valid protocol version".to_owned())
            }
            Some(_) => {}
        }
        for (index, rule) in self.rules.iter().enumerate() {
            errors.extend(
                rule_errors(rule)
                    .into_iter()
                    .map(|e| format!("rules[{index}].{e}")),
            );
        }
        for resource in &self.context_aware_resources {
            if resource.api_version.is_empty() || resource.kind.is_empty() {
                errors.push(format!(
                    "contextAwareResources: apiVersion and kind must not be empty \
                     (got apiVersion {:?}, kind {:?})",
                    resource.api_version, resource.kind
                ));
            }
        }
        if let Some(version) = &self.minimum_kubewarden_version {
            if !is_semver(version) {
                errors.push(format!(
                    "minimumKubewardenVersion: {version:?} is not a semantic version; write e.g. \"1.21.0\""
                ));
            }
        }
        errors
    }
}

fn rule_errors(rule: &Rule) -> Vec<String> {
    let mut errors = Vec::new();
    for (field, values) in [
        ("apiGroups", &rule.api_groups),
        ("apiVersions", &rule.api_versions),
    ] {
        if values.is_empty() {
            errors.push(format!("{field}: must not be empty"));
        } else if values.len() > 1 && values.iter().any(|v| v == "*") {
            errors.push(format!(
                "{field}: No other elements can be defined when '*' is used"
            ));
        }
    }
    if rule.resources.is_empty() {
        errors.push("resources: must not be empty".to_owned());
    } else if let Err(e) = check_resources(&rule.resources) {
        errors.push(format!("resources: {e}"));
    }
    if rule.operations.is_empty() {
        errors.push("operations: must not be empty".to_owned());
    } else if rule.operations.len() > 1 && rule.operations.contains(&Operation::All) {
        errors.push("operations: No other elements can be defined when '*' is used".to_owned());
    }
    errors
}

/// The wildcard rules Kubernetes applies to webhook `resources` (admissionregistration
/// validation), which policy-evaluator transposes.
fn check_resources(resources: &[String]) -> Result<(), String> {
    let mut wildcard_subresource_of: BTreeSet<&str> = BTreeSet::new(); // "x/*"
    let mut wildcard_resource_for: BTreeSet<&str> = BTreeSet::new(); // "*/x"
    for resource in resources {
        if resource.is_empty() {
            return Err("empty resource is not allowed".to_owned());
        }
        let Some((res, sub)) = resource.split_once('/') else {
            continue;
        };
        if wildcard_subresource_of.contains(res) {
            return Err(format!(
                "if '{res}/*' is present, must not specify {resource}"
            ));
        }
        if wildcard_resource_for.contains(sub) {
            return Err(format!(
                "if '*/{sub}' is present, must not specify {resource}"
            ));
        }
        if sub == "*" {
            wildcard_subresource_of.insert(res);
        }
        if res == "*" {
            wildcard_resource_for.insert(sub);
        }
    }
    if resources.len() > 1 && resources.iter().any(|r| r == "*/*") {
        return Err("if '*/*' is present, must not specify other resources".to_owned());
    }
    let plain = |r: &&String| !r.contains('/') && r.as_str() != "*";
    if resources.iter().any(|r| r == "*") && resources.iter().any(|r| plain(&r)) {
        return Err(
            "if '*' is present, must not specify other resources without subresources".to_owned(),
        );
    }
    Ok(())
}

/// `MAJOR.MINOR.PATCH`, optionally followed by `-pre` and `+build`, as the semver crate
/// policy-evaluator uses accepts.
fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    parts.len() == 3 && parts.iter().all(numeric) && !version.ends_with(['-', '+'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POD_POLICY: &str = r#"
rules:
- apiGroups: [""]
  apiVersions: ["v1"]
  resources: ["pods"]
  operations: ["CREATE", "UPDATE"]
mutating: true
contextAwareResources:
- apiVersion: v1
  kind: Secret
annotations:
  io.kubewarden.policy.title: test
"#;

    fn metadata(yaml: &str) -> Metadata {
        Metadata::from_yaml(yaml).unwrap().metadata
    }

    #[test]
    fn json_layout_matches_policy_evaluator() {
        let mut m = metadata(POD_POLICY);
        m.protocol_version = Some(ProtocolVersion::V1);
        let expected = json!({
            "protocolVersion": "v1",
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE", "UPDATE"]}],
            "annotations": {"io.kubewarden.policy.title": "test"},
            "mutating": true,
            "backgroundAudit": true,
            "executionMode": "kubewarden-wapc",
            "policyType": "kubernetes",
            "contextAwareResources": [{"apiVersion": "v1", "kind": "Secret"}],
        });
        let payload = m.to_section_payload().unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&payload).unwrap(),
            expected
        );
        // Compact and in struct order, as serde_json::to_vec writes it for kwctl.
        assert!(payload.starts_with(br#"{"protocolVersion":"v1","rules":[{"apiGroups":[""]"#));
    }

    #[test]
    fn rules_and_mutating_are_required() {
        let missing_rules = Metadata::from_yaml("mutating: false\n")
            .unwrap_err()
            .to_string();
        assert!(missing_rules.contains("rules"), "{missing_rules}");
        let missing_mutating = Metadata::from_yaml("rules: []\n").unwrap_err().to_string();
        assert!(missing_mutating.contains("mutating"), "{missing_mutating}");
    }

    #[test]
    fn unknown_top_level_fields_are_kept_and_legacy_ones_dropped() {
        let yaml = "rules: []\nmutating: false\nhostCapabilities: [kubernetes/get_resource]\nfutureField: [x]\ncontextAware: true\n";
        let parsed = Metadata::from_yaml(yaml).unwrap();
        assert_eq!(
            parsed.dropped_legacy_fields,
            vec!["contextAware".to_owned()]
        );
        let json: serde_json::Value =
            serde_json::from_slice(&parsed.metadata.to_section_payload().unwrap()).unwrap();
        assert_eq!(json["hostCapabilities"], json!(["kubernetes/get_resource"]));
        assert_eq!(json["futureField"], json!(["x"]));
        assert!(json.get("contextAware").is_none());
        let read_back: Metadata = serde_json::from_value(json).unwrap();
        assert_eq!(read_back, parsed.metadata);
    }

    #[test]
    fn missing_protocol_version_is_invalid_until_detected() {
        let mut m = metadata(POD_POLICY);
        assert_eq!(
            m.validation_errors(),
            vec!["protocolVersion: must be set".to_owned()]
        );
        m.protocol_version = Some(ProtocolVersion::Unknown);
        assert_eq!(
            m.validation_errors(),
            vec!["protocolVersion: Must specify a valid protocol version".to_owned()]
        );
        m.protocol_version = Some(ProtocolVersion::V1);
        assert!(m.validation_errors().is_empty());
    }

    #[test]
    fn rule_errors_name_the_rule_and_field() {
        let mut m = metadata(POD_POLICY);
        m.protocol_version = Some(ProtocolVersion::V1);
        m.rules[0].api_groups = vec!["".into(), "*".into()];
        m.rules[0].operations.clear();
        assert_eq!(
            m.validation_errors(),
            vec![
                "rules[0].apiGroups: No other elements can be defined when '*' is used".to_owned(),
                "rules[0].operations: must not be empty".to_owned(),
            ]
        );
    }

    #[test]
    fn resource_wildcards_follow_kubernetes() {
        let ok = |r: &[&str]| check_resources(&r.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(ok(&["*", "a/b", "a/*", "*/b"]).is_ok());
        assert!(ok(&["a/*", "a"]).is_ok());
        assert!(ok(&["*", "a"]).is_err());
        assert!(ok(&["a/*", "a/x"]).is_err());
        assert!(ok(&["*/a", "x/a"]).is_err());
        assert!(ok(&["*/*", "pods"]).is_err());
        assert!(ok(&[""]).is_err());
    }

    #[test]
    fn minimum_version_must_be_semver() {
        assert!(is_semver("1.21.0") && is_semver("1.2.3-rc1+build.5"));
        assert!(
            !is_semver("1.21")
                && !is_semver("v1.2.3")
                && !is_semver("01.2.3")
                && !is_semver("1.2.3-")
        );
    }

    #[test]
    fn context_aware_lookup_matches_api_version_and_kind() {
        let m = metadata(POD_POLICY);
        assert!(m.declares_context_aware_resource("v1", "Secret"));
        assert!(!m.declares_context_aware_resource("v1", "ConfigMap"));
        assert!(!m.declares_context_aware_resource("apps/v1", "Secret"));
    }

    #[test]
    fn unannotated_modules_have_no_metadata() {
        assert_eq!(Metadata::from_module(b"\0asm\x01\0\0\0").unwrap(), None);
    }
}
