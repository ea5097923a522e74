//! The edge: the only module that reads the cluster, through Kubewarden's `kubernetes` host
//! capability. Everything else sees the `Cluster` trait, which tests replace with a fake.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kubewarden_policy_sdk::host_capabilities::kubernetes::{get_resource, GetResourceRequest};
use serde::Deserialize;

/// A pull secret as the policy needs it: its type and (base64) data. Debug never shows the data.
#[derive(Clone, Default, Deserialize)]
pub struct Secret {
    #[serde(rename = "type", default)]
    pub secret_type: Option<String>,
    #[serde(default)]
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

pub use crate::lookup_error::LookupError;
#[cfg(test)]
pub use crate::lookup_error::Denial;

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
    #[serde(default)]
    metadata: Option<NamespaceMetadata>,
}

#[derive(Clone, Deserialize)]
struct NamespaceMetadata {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Deserialize)]
struct ServiceAccountPullSecrets {
    #[serde(rename = "imagePullSecrets", default)]
    image_pull_secrets: Option<Vec<NameRef>>,
}

#[derive(Clone, Deserialize)]
struct NameRef {
    #[serde(default)]
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

/// An in-memory cluster: scripted answers, and a record of every lookup made. Used by the unit
/// tests and, through the `testing` feature, the fuzz targets; never built into the policy.
#[cfg(any(test, feature = "testing"))]
pub mod memory {
    use super::*;

    #[derive(Default, Clone)]
    pub struct MemoryCluster {
        pub secrets: BTreeMap<String, Result<Secret, LookupError>>,
        pub service_accounts: BTreeMap<String, Result<Vec<String>, LookupError>>,
        pub namespaces: BTreeMap<String, Result<BTreeMap<String, String>, LookupError>>,
        /// Every call, as `Secret ns/name data=bool`, `ServiceAccount ns/name` or `Namespace name`.
        pub calls: Vec<String>,
    }

    /// A credential planted in every secret `with_docker_secret` makes: outputs must never show it.
    pub const CANARY: &str = "CANARY-0f9e8d7c-secret";
    /// `robot:CANARY` in base64, as it sits in an `auth` field (the kubelet splits it at `:`).
    pub const CANARY_B64: &str = "cm9ib3Q6Q0FOQVJZLTBmOWU4ZDdjLXNlY3JldA==";

    impl MemoryCluster {
        /// Adds a dockerconfigjson secret with the given registry keys and canary credentials.
        pub fn with_docker_secret(mut self, name: &str, keys: &[&str]) -> Self {
            use base64::Engine;
            let auths: serde_json::Map<String, serde_json::Value> = keys
                .iter()
                .map(|k| (k.to_string(), serde_json::json!({"auth": CANARY_B64, "password": CANARY, "identitytoken": CANARY})))
                .collect();
            let config = serde_json::json!({ "auths": auths }).to_string();
            let encoded = base64::engine::general_purpose::STANDARD.encode(config.as_bytes());
            let secret = Secret {
                secret_type: Some("kubernetes.io/dockerconfigjson".into()),
                data: Some(BTreeMap::from([(".dockerconfigjson".to_string(), encoded)])),
            };
            self.secrets.insert(name.to_string(), Ok(secret));
            self
        }

        /// Adds any answer for a secret.
        pub fn with_secret(mut self, name: &str, secret: Result<Secret, LookupError>) -> Self {
            self.secrets.insert(name.to_string(), secret);
            self
        }

        /// Adds an answer for a ServiceAccount.
        pub fn with_service_account(
            mut self,
            name: &str,
            answer: Result<Vec<String>, LookupError>,
        ) -> Self {
            self.service_accounts.insert(name.to_string(), answer);
            self
        }

        /// Adds a Namespace with these labels.
        pub fn with_namespace(mut self, name: &str, labels: &[(&str, &str)]) -> Self {
            let labels = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            self.namespaces.insert(name.to_string(), Ok(labels));
            self
        }

        /// Adds a failed answer for a Namespace.
        pub fn with_namespace_error(mut self, name: &str, error: LookupError) -> Self {
            self.namespaces.insert(name.to_string(), Err(error));
            self
        }
    }

    impl Cluster for MemoryCluster {
        fn secret(
            &mut self,
            namespace: &str,
            name: &str,
            with_data: bool,
        ) -> Result<Secret, LookupError> {
            self.calls
                .push(format!("Secret {namespace}/{name} data={with_data}"));
            match self
                .secrets
                .get(name)
                .cloned()
                .unwrap_or(Err(LookupError::NotFound))
            {
                Ok(secret) if !with_data => Ok(Secret {
                    secret_type: secret.secret_type,
                    data: None,
                }),
                answer => answer,
            }
        }

        fn service_account_pull_secrets(
            &mut self,
            namespace: &str,
            name: &str,
        ) -> Result<Vec<String>, LookupError> {
            self.calls
                .push(format!("ServiceAccount {namespace}/{name}"));
            self.service_accounts
                .get(name)
                .cloned()
                .unwrap_or(Err(LookupError::NotFound))
        }

        fn namespace_labels(
            &mut self,
            name: &str,
        ) -> Result<BTreeMap<String, String>, LookupError> {
            self.calls.push(format!("Namespace {name}"));
            self.namespaces
                .get(name)
                .cloned()
                .unwrap_or(Err(LookupError::NotFound))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_lookup_with_data_has_no_field_mask() {
        let request = serde_json::to_value(secret_request("team-a", "corp", true)).unwrap();
        assert_eq!(
            request,
            json!({"api_version": "v1", "kind": "Secret", "name": "corp", "namespace": "team-a", "disable_cache": false, "field_masks": null})
        );
    }

    #[test]
    fn secret_lookup_without_data_masks_to_type() {
        let request = serde_json::to_value(secret_request("team-a", "corp", false)).unwrap();
        assert_eq!(request["field_masks"], json!(["type"]));
    }

    #[test]
    fn service_account_lookup_masks_to_pull_secrets() {
        let request = serde_json::to_value(service_account_request("team-a", "builder")).unwrap();
        assert_eq!(
            request,
            json!({"api_version": "v1", "kind": "ServiceAccount", "name": "builder", "namespace": "team-a", "disable_cache": false, "field_masks": ["imagePullSecrets"]})
        );
    }

    #[test]
    fn namespace_lookup_is_cluster_scoped_and_masks_to_labels() {
        let request = serde_json::to_value(namespace_request("team-a")).unwrap();
        assert_eq!(
            request,
            json!({"api_version": "v1", "kind": "Namespace", "name": "team-a", "namespace": null, "disable_cache": false, "field_masks": ["metadata.labels"]})
        );
    }

    #[test]
    fn debug_never_shows_secret_data() {
        let secret = Secret {
            secret_type: Some("kubernetes.io/dockerconfigjson".into()),
            data: Some(BTreeMap::from([(
                ".dockerconfigjson".into(),
                "Q0FOQVJZ".into(),
            )])),
        };
        let shown = format!("{secret:?}");
        assert!(!shown.contains("Q0FOQVJZ"), "{shown}");
        assert!(shown.contains(".dockerconfigjson"));
    }
}
