//! The edge: the only module that reads the cluster, through Kubewarden's `kubernetes` host
//! capability. Everything else sees the `Cluster` trait, which tests replace with a fake.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kubewarden_policy_sdk::host_capabilities::kubernetes::{get_resource, GetResourceRequest};
use serde::Deserialize;

/// A pull secret as the policy needs it: its type and (base64) data. Debug never shows the data.
#[derive(Clone, Default, Deserialize)]
pub struct Secret {
    #[serde(rename = "type")]
    pub secret_type: Option<String>,
    pub data: Option<BTreeMap<String, String>>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&String> = self.data.iter().flat_map(|d| d.keys()).collect();
        f.debug_struct("Secret")
            .field("secret_type", &self.secret_type)
            .field("data_keys", &keys)
            .finish()
    }
}

#[cfg(test)]
pub use crate::lookup_error::Denial;
pub use crate::lookup_error::LookupError;

/// Read access to the objects the companion rule checks.
pub trait Cluster {
    /// The Secret `name` in `namespace`; with `with_data` false only its type is fetched.
    fn secret(
        &mut self,
        namespace: &str,
        name: &str,
        with_data: bool,
    ) -> Result<Secret, LookupError>;
    /// The names in the ServiceAccount's `imagePullSecrets`.
    fn service_account_pull_secrets(
        &mut self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<String>, LookupError>;
    /// The labels of the Namespace `name`, for `namespaceSelector`s.
    fn namespace_labels(&mut self, name: &str) -> Result<BTreeMap<String, String>, LookupError>;
}

/// The host call for a Secret: no field mask when the data is needed, `["type"]` otherwise.
pub fn secret_request(namespace: &str, name: &str, with_data: bool) -> GetResourceRequest {
    GetResourceRequest {
        api_version: "v1".to_string(),
        kind: "Secret".to_string(),
        name: name.to_string(),
        namespace: Some(namespace.to_string()),
        disable_cache: false,
        field_masks: (!with_data).then(|| BTreeSet::from(["type".to_string()])),
    }
}

/// The host call for a ServiceAccount, masked to its `imagePullSecrets`.
pub fn service_account_request(namespace: &str, name: &str) -> GetResourceRequest {
    GetResourceRequest {
        api_version: "v1".to_string(),
        kind: "ServiceAccount".to_string(),
        name: name.to_string(),
        namespace: Some(namespace.to_string()),
        disable_cache: false,
        field_masks: Some(BTreeSet::from(["imagePullSecrets".to_string()])),
    }
}

/// The host call for a Namespace (cluster-scoped: no namespace), masked to its labels.
pub fn namespace_request(name: &str) -> GetResourceRequest {
    GetResourceRequest {
        api_version: "v1".to_string(),
        kind: "Namespace".to_string(),
        name: name.to_string(),
        namespace: None,
        disable_cache: false,
        field_masks: Some(BTreeSet::from(["metadata.labels".to_string()])),
    }
}

/// The cluster as PolicyServer exposes it to the policy.
pub struct HostCluster;

#[derive(Clone, Deserialize)]
struct NamespaceLabels {
    metadata: Option<NamespaceMetadata>,
}

#[derive(Clone, Deserialize)]
struct NamespaceMetadata {
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Deserialize)]
struct ServiceAccountPullSecrets {
    #[serde(rename = "imagePullSecrets")]
    image_pull_secrets: Option<Vec<NameRef>>,
}

#[derive(Clone, Deserialize)]
struct NameRef {
    name: Option<String>,
}

impl Cluster for HostCluster {
    fn secret(
        &mut self,
        namespace: &str,
        name: &str,
        with_data: bool,
    ) -> Result<Secret, LookupError> {
        get_resource::<Secret>(&secret_request(namespace, name, with_data)).map_err(classify)
    }

    fn service_account_pull_secrets(
        &mut self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<String>, LookupError> {
        let account =
            get_resource::<ServiceAccountPullSecrets>(&service_account_request(namespace, name))
                .map_err(classify)?;
        Ok(account
            .image_pull_secrets
            .unwrap_or_default()
            .into_iter()
            .filter_map(|entry| entry.name)
            .filter(|name| !name.is_empty())
            .collect())
    }

    fn namespace_labels(&mut self, name: &str) -> Result<BTreeMap<String, String>, LookupError> {
        let namespace =
            get_resource::<NamespaceLabels>(&namespace_request(name)).map_err(classify)?;
        Ok(namespace
            .metadata
            .and_then(|metadata| metadata.labels)
            .unwrap_or_default())
    }
}

/// Sorts a host error into what the user must do about it. A response that does not
/// deserialize is reported without serde's text, which could quote secret data.
fn classify(error: kubewarden_policy_sdk::Error) -> LookupError {
    match error {
        kubewarden_policy_sdk::Error::HostCall { source, .. } => {
            crate::lookup_error::classify(&source.to_string())
        }
        _ => {
            LookupError::Failed("the host returned an object the policy could not read".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Each host call names its object; only a Secret read for its data has no field mask.
    #[rstest::rstest]
    #[case::secret_with_data(secret_request("team-a", "corp", true), json!({"api_version": "v1", "kind": "Secret", "name": "corp", "namespace": "team-a", "disable_cache": false, "field_masks": null}))]
    #[case::secret_type_only(secret_request("team-a", "corp", false), json!({"api_version": "v1", "kind": "Secret", "name": "corp", "namespace": "team-a", "disable_cache": false, "field_masks": ["type"]}))]
    #[case::service_account(service_account_request("team-a", "builder"), json!({"api_version": "v1", "kind": "ServiceAccount", "name": "builder", "namespace": "team-a", "disable_cache": false, "field_masks": ["imagePullSecrets"]}))]
    #[case::namespace(namespace_request("team-a"), json!({"api_version": "v1", "kind": "Namespace", "name": "team-a", "namespace": null, "disable_cache": false, "field_masks": ["metadata.labels"]}))]
    fn host_calls(#[case] request: GetResourceRequest, #[case] expected: Value) {
        assert_eq!(serde_json::to_value(request).unwrap(), expected);
    }

    #[test]
    fn debug_never_shows_secret_data() {
        let data = BTreeMap::from([(".dockerconfigjson".into(), "Q0FOQVJZ".into())]);
        let secret = Secret {
            secret_type: Some("kubernetes.io/dockerconfigjson".into()),
            data: Some(data),
        };
        let shown = format!("{secret:?}");
        assert!(
            !shown.contains("Q0FOQVJZ") && shown.contains(".dockerconfigjson"),
            "{shown}"
        );
    }
}
