//! Replay of recorded host-capability exchanges, in kwctl's session-file format.
//!
//! kwctl (`callback_handler/proxy.rs`) records a YAML list of
//! `{type: Exchange, request: <YAML of the request, as a string>, response: {type: Success,
//! payload: <string>} | {type: Error, message: <string>}}` and replays it as a queue: each
//! host call takes the next exchange, and a request that differs from the recorded one fails.

use std::collections::{BTreeSet, VecDeque};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

/// A host-capability request, named and shaped like policy-evaluator's
/// `CallbackRequestType` so recorded sessions deserialize and mismatches print the same.
/// Only the Kubernetes reads the runner serves are modelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostRequest {
    KubernetesListResourceNamespace {
        api_version: String,
        kind: String,
        namespace: String,
        label_selector: Option<String>,
        field_selector: Option<String>,
        field_masks: Option<BTreeSet<String>>,
    },
    KubernetesListResourceAll {
        api_version: String,
        kind: String,
        label_selector: Option<String>,
        field_selector: Option<String>,
        field_masks: Option<BTreeSet<String>>,
    },
    KubernetesGetResource {
        api_version: String,
        kind: String,
        name: String,
        namespace: Option<String>,
        disable_cache: bool,
        field_masks: Option<BTreeSet<String>>,
    },
}

/// The recorded answer: the payload handed to the guest, or the error it sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostResponse {
    Success(Vec<u8>),
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub request: HostRequest,
    pub response: HostResponse,
}

/// The exchanges still to be replayed, in order.
#[derive(Debug, Default, Clone)]
pub struct Session {
    exchanges: VecDeque<Exchange>,
}

/// One list entry as written on disk. `type: Exchange` is optional, and `request` may also
/// be written as a tagged YAML node instead of a string holding YAML.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedExchange {
    #[serde(rename = "type")]
    entry_type: Option<String>,
    request: serde_yaml::Value,
    response: RecordedResponse,
}

#[derive(Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum RecordedResponse {
    /// `payload` is the JSON text the host answered; a YAML mapping is accepted too.
    Success {
        payload: serde_yaml::Value,
    },
    Error {
        message: String,
    },
}

impl Session {
    pub fn new(exchanges: impl IntoIterator<Item = Exchange>) -> Self {
        Self {
            exchanges: exchanges.into_iter().collect(),
        }
    }

    pub fn load(path: &str) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read session file {path}"))?;
        Self::from_yaml(&text).with_context(|| format!("invalid session file {path}"))
    }

    pub fn from_yaml(text: &str) -> Result<Self> {
        let entries: Vec<RecordedExchange> = serde_yaml::from_str(text)?;
        let exchanges = entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                entry
                    .into_exchange()
                    .with_context(|| format!("entry {index}"))
            })
            .collect::<Result<_>>()?;
        Ok(Self { exchanges })
    }

    /// Answers `request` with the next recorded exchange, which is consumed either way.
    pub fn answer(&mut self, request: &HostRequest) -> Result<Vec<u8>, String> {
        let Some(exchange) = self.exchanges.pop_front() else {
            return Err("Replay error: the list of recorded responses is empty".to_owned());
        };
        if &exchange.request != request {
            return Err(format!(
                "Replay error: unexpected request. Was expecting {:?}, got {:?} instead",
                exchange.request, request
            ));
        }
        match exchange.response {
            HostResponse::Success(payload) => Ok(payload),
            HostResponse::Error(message) => Err(message),
        }
    }

    /// Exchanges recorded but not replayed.
    pub fn remaining(&self) -> usize {
        self.exchanges.len()
    }
}

impl RecordedExchange {
    fn into_exchange(self) -> Result<Exchange> {
        if let Some(entry_type) = &self.entry_type {
            if entry_type != "Exchange" {
                bail!("type: expected `Exchange`, found {entry_type:?}");
            }
        }
        let request = match self.request {
            serde_yaml::Value::String(text) => serde_yaml::from_str(&text),
            node => serde_yaml::from_value(node),
        }
        .map_err(|e| {
            anyhow!("request: {e} (policy-runner replays Kubernetes get/list requests only)")
        })?;
        let response = match self.response {
            RecordedResponse::Success {
                payload: serde_yaml::Value::String(text),
            } => HostResponse::Success(text.into_bytes()),
            RecordedResponse::Success { payload } => {
                let json: serde_json::Value = serde_yaml::from_value(payload)
                    .context("response.payload is not JSON-compatible")?;
                HostResponse::Success(serde_json::to_vec(&json)?)
            }
            RecordedResponse::Error { message } => HostResponse::Error(message),
        };
        Ok(Exchange { request, response })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As kwctl writes it: `serde_yaml::to_string(&request)` embedded as a string.
    const KWCTL_SESSION: &str = r#"
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Secret
    name: regcred
    namespace: team-a
    disable_cache: false
  response:
    type: Success
    payload: '{"apiVersion":"v1","kind":"Secret"}'
- type: Exchange
  request: |
    !KubernetesListResourceNamespace
    api_version: v1
    kind: Secret
    namespace: team-a
    label_selector: null
    field_selector: null
    field_masks:
    - metadata.name
    - type
  response:
    type: Error
    message: forbidden
"#;

    fn get_secret() -> HostRequest {
        HostRequest::KubernetesGetResource {
            api_version: "v1".into(),
            kind: "Secret".into(),
            name: "regcred".into(),
            namespace: Some("team-a".into()),
            disable_cache: false,
            field_masks: None,
        }
    }

    fn list_secrets() -> HostRequest {
        HostRequest::KubernetesListResourceNamespace {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: "team-a".into(),
            label_selector: None,
            field_selector: None,
            field_masks: Some(BTreeSet::from(["type".into(), "metadata.name".into()])),
        }
    }

    #[test]
    fn kwctl_session_replays_in_order() {
        let mut session = Session::from_yaml(KWCTL_SESSION).unwrap();
        assert_eq!(
            session.answer(&get_secret()).unwrap(),
            br#"{"apiVersion":"v1","kind":"Secret"}"#
        );
        assert_eq!(session.answer(&list_secrets()), Err("forbidden".to_owned()));
        assert_eq!(session.remaining(), 0);
        assert_eq!(
            session.answer(&get_secret()),
            Err("Replay error: the list of recorded responses is empty".into())
        );
    }

    #[test]
    fn out_of_order_requests_are_replay_errors() {
        let mut session = Session::from_yaml(KWCTL_SESSION).unwrap();
        let err = session.answer(&list_secrets()).unwrap_err();
        assert!(err.starts_with("Replay error: unexpected request. Was expecting KubernetesGetResource { api_version: \"v1\""), "{err}");
        assert!(
            err.contains("got KubernetesListResourceNamespace {"),
            "{err}"
        );
        assert_eq!(
            session.remaining(),
            1,
            "the mismatched exchange is consumed, as in kwctl"
        );
    }

    fn get(
        name: &str,
        namespace: Option<&str>,
        disable_cache: bool,
        masks: Option<&[&str]>,
    ) -> HostRequest {
        get_of("v1", "Secret", name, namespace, disable_cache, masks)
    }

    fn get_of(
        api_version: &str,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
        disable_cache: bool,
        masks: Option<&[&str]>,
    ) -> HostRequest {
        HostRequest::KubernetesGetResource {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.map(Into::into),
            disable_cache,
            field_masks: masks.map(|m| m.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// Each field of a recorded request takes part in the match.
    #[test]
    fn every_field_of_a_get_request_must_match() {
        assert_eq!(get("regcred", Some("team-a"), false, None), get_secret());
        let cases = [
            (
                "api_version",
                get_of("v2", "Secret", "regcred", Some("team-a"), false, None),
            ),
            (
                "kind",
                get_of("v1", "ConfigMap", "regcred", Some("team-a"), false, None),
            ),
            ("name", get("other", Some("team-a"), false, None)),
            ("namespace", get("regcred", None, false, None)),
            ("disable_cache", get("regcred", Some("team-a"), true, None)),
            (
                "field_masks",
                get("regcred", Some("team-a"), false, Some(&["type"])),
            ),
        ];
        for (field, request) in cases {
            let mut session = Session::new([Exchange {
                request: get_secret(),
                response: HostResponse::Success(vec![]),
            }]);
            let err = session.answer(&request).expect_err(field);
            assert!(
                err.contains("Replay error: unexpected request"),
                "{field}: {err}"
            );
        }
    }

    #[test]
    fn field_masks_compare_as_sets() {
        let recorded = get(
            "regcred",
            Some("team-a"),
            false,
            Some(&["type", "metadata.name"]),
        );
        let mut session = Session::new([Exchange {
            request: recorded,
            response: HostResponse::Success(b"{}".to_vec()),
        }]);
        let sent = get(
            "regcred",
            Some("team-a"),
            false,
            Some(&["metadata.name", "type"]),
        );
        assert_eq!(session.answer(&sent).unwrap(), b"{}");
    }

    #[test]
    fn list_selectors_take_part_in_the_match() {
        let mut other = list_secrets();
        if let HostRequest::KubernetesListResourceNamespace { label_selector, .. } = &mut other {
            *label_selector = Some("app=x".into());
        }
        let mut session = Session::new([Exchange {
            request: list_secrets(),
            response: HostResponse::Success(vec![]),
        }]);
        assert!(session.answer(&other).unwrap_err().contains("Replay error"));
    }

    #[test]
    fn entries_without_type_and_with_inline_requests_are_accepted() {
        let yaml = r#"
- request: !KubernetesGetResource
    api_version: v1
    kind: Secret
    name: regcred
    namespace: team-a
    disable_cache: false
  response:
    type: Success
    payload: {apiVersion: v1, kind: Secret}
"#;
        let mut session = Session::from_yaml(yaml).unwrap();
        assert_eq!(
            session.answer(&get_secret()).unwrap(),
            br#"{"apiVersion":"v1","kind":"Secret"}"#
        );
    }

    #[test]
    fn unsupported_requests_are_refused_at_load_time_with_the_entry() {
        let yaml = "- request: \"!OciManifestDigest\\nimage: busybox\\n\"\n  response: {type: Success, payload: x}\n";
        let err = format!("{:#}", Session::from_yaml(yaml).unwrap_err());
        assert!(err.starts_with("entry 0: request:"), "{err}");
        let bad_type = "- type: Other\n  request: x\n  response: {type: Error, message: m}\n";
        assert!(format!("{:#}", Session::from_yaml(bad_type).unwrap_err())
            .contains("expected `Exchange`"));
    }
}
