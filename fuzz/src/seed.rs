//! The JSON seeds of the structured targets, readable and writable by hand:
//!
//! - `request_structured`: a `validate` payload (`{"settings": ..., "request": ...}`) with an optional
//!   `"cluster"` script: `{"secrets": {"<name>": {"dockerconfig": ["<registry key>", ...]} |
//!   {"type": ..., "data": {...}} | {"error": "NotFound" | "NotPermitted" | "<host text>"}},
//!   "serviceAccounts": {"<name>": ["<secret>", ...] | {"error": ...}}}`.
//! - `dockerconfig`: `{"type": ..., "data": {...}, "key": ..., "registry": ..., "repository": ...}`.

use std::collections::BTreeMap;

use image_pull_secrets::testing::MemoryCluster;
use image_pull_secrets::{Denial, LookupError, Secret};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestSeed {
    #[serde(default)]
    cluster: ClusterSeed,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ClusterSeed {
    #[serde(default)]
    secrets: BTreeMap<String, SecretSeed>,
    #[serde(default)]
    service_accounts: BTreeMap<String, AccountSeed>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SecretSeed {
    Docker {
        dockerconfig: Vec<String>,
    },
    Error {
        error: String,
    },
    Raw {
        #[serde(rename = "type")]
        secret_type: Option<String>,
        data: Option<BTreeMap<String, String>>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AccountSeed {
    Names(Vec<String>),
    Error { error: String },
}

fn lookup_error(text: &str) -> LookupError {
    match text {
        "NotFound" => LookupError::NotFound,
        "NotPermitted" => LookupError::NotPermitted(Denial::Forbidden(None)),
        other => image_pull_secrets::classify_lookup_error(other),
    }
}

impl RequestSeed {
    /// Reads a seed; `None` if the bytes are not one (they are then read by `arbitrary`).
    pub fn parse(data: &[u8]) -> Option<RequestSeed> {
        let value: serde_json::Value = serde_json::from_slice(data)
            .ok()
            .filter(|value: &serde_json::Value| value.get("request").is_some())?;
        serde_json::from_value(value).ok()
    }

    /// The scripted cluster.
    pub fn cluster(&self) -> MemoryCluster {
        let mut cluster = MemoryCluster::default();
        for (name, secret) in &self.cluster.secrets {
            cluster = match secret {
                SecretSeed::Docker { dockerconfig } => {
                    let keys: Vec<&str> = dockerconfig.iter().map(String::as_str).collect();
                    cluster.with_docker_secret(name, &keys)
                }
                SecretSeed::Error { error } => cluster.with_secret(name, Err(lookup_error(error))),
                SecretSeed::Raw { secret_type, data } => cluster.with_secret(
                    name,
                    Ok(Secret {
                        secret_type: secret_type.clone(),
                        data: data.clone(),
                    }),
                ),
            };
        }
        for (name, account) in &self.cluster.service_accounts {
            let answer = match account {
                AccountSeed::Names(names) => Ok(names.clone()),
                AccountSeed::Error { error } => Err(lookup_error(error)),
            };
            cluster = cluster.with_service_account(name, answer);
        }
        cluster
    }
}

#[derive(Deserialize)]
pub struct DockerConfigSeed {
    #[serde(rename = "type")]
    pub secret_type: String,
    pub data: BTreeMap<String, String>,
    pub key: String,
    pub registry: String,
    pub repository: String,
}

impl DockerConfigSeed {
    /// Reads a seed; `None` if the bytes are not one.
    pub fn parse(data: &[u8]) -> Option<DockerConfigSeed> {
        serde_json::from_slice(data).ok()
    }
}
