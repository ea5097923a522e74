//! Test support, also for tests/, fuzz/ and benches/profile (the `testing` feature); never in the
//! policy module.
//! An in-memory cluster with scripted answers and a record of every lookup, and the parsed-object
//! reference a mutation's splice is held to.

use std::collections::BTreeMap;

use crate::cluster::{Cluster, LookupError, Secret};

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

    /// Adds an answer for a Namespace: its labels, or an error.
    pub fn with_namespace(
        mut self,
        name: &str,
        labels: Result<&[(&str, &str)], LookupError>,
    ) -> Self {
        let labels = labels.map(|pairs| {
            let pairs = pairs.iter();
            pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
        });
        self.namespaces.insert(name.to_string(), labels);
        self
    }
}

/// The scripted answer for `name`; not found when there is none.
fn answer<T: Clone>(
    answers: &BTreeMap<String, Result<T, LookupError>>,
    name: &str,
) -> Result<T, LookupError> {
    answers
        .get(name)
        .cloned()
        .unwrap_or(Err(LookupError::NotFound))
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
        let secret = answer(&self.secrets, name)?;
        let data = secret.data.filter(|_| with_data);
        Ok(Secret { data, ..secret })
    }

    fn service_account_pull_secrets(
        &mut self,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<String>, LookupError> {
        self.calls
            .push(format!("ServiceAccount {namespace}/{name}"));
        answer(&self.service_accounts, name)
    }

    fn namespace_labels(&mut self, name: &str) -> Result<BTreeMap<String, String>, LookupError> {
        self.calls.push(format!("Namespace {name}"));
        answer(&self.namespaces, name)
    }
}

#[cfg(test)]
pub(crate) use test_only::*;

/// Helpers of the unit tests: the parsed-object reference the splice is held to, and decisions
/// as the tables expect them.
#[cfg(test)]
mod test_only {
    use super::MemoryCluster;
    use crate::splice::{Edit, PULL_SECRETS};
    use crate::Decision;
    use serde_json::{json, Value};

    /// The edits applied to a parsed object: the reference the splice is held to.
    pub(crate) fn apply(object: &mut Value, edits: &[Edit]) {
        for edit in edits {
            if let Some(target) = object
                .pointer_mut(&edit.pointer)
                .and_then(Value::as_object_mut)
            {
                target.insert(edit.field.to_string(), edit.value.clone());
            }
        }
    }

    /// `base` with the fields of `extra`, checked to be valid settings.
    pub(crate) fn with(mut base: Value, extra: Value) -> Value {
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        valid(base)
    }

    /// `settings`, checked to be valid.
    pub(crate) fn valid(settings: Value) -> Value {
        crate::settings::validate(settings.to_string().as_bytes()).expect("valid test settings");
        settings
    }

    /// `request` decided with `settings` against `cluster` through the production reader, and
    /// the lookups made.
    pub(crate) fn decide(
        request: &Value,
        settings: &Value,
        mut cluster: MemoryCluster,
    ) -> (Decision, Vec<String>) {
        let payload = json!({"request": request, "settings": settings});
        let payload = serde_json::to_vec(&payload).unwrap();
        let decision = crate::decide(&payload, &mut cluster)
            .map_or_else(Decision::bad_request, |(decision, _)| decision);
        (decision, cluster.calls)
    }

    pub(crate) fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| text.to_string()).collect()
    }

    pub(crate) fn accepted(warnings: &[&str]) -> Decision {
        Decision::Accept {
            warnings: strings(warnings),
        }
    }

    pub(crate) fn rejected(message: &str) -> Decision {
        Decision::Reject {
            message: message.to_string(),
            code: None,
            warnings: vec![],
        }
    }

    /// A mutation setting the `imagePullSecrets` of the pod spec at `pointer` to `names`.
    pub(crate) fn adds(pointer: &str, names: &[&str], warnings: &[&str]) -> Decision {
        let value = names.iter().map(|name| json!({ "name": name })).collect();
        let edit = Edit {
            pointer: pointer.to_string(),
            field: PULL_SECRETS,
            value,
        };
        Decision::Mutate {
            edits: vec![edit],
            warnings: strings(warnings),
        }
    }
}
