//! The waPC host callback: the only door from a policy to the outside world.
//!
//! Mirrors policy-evaluator's `runtimes/callback.rs`: the payload is parsed, then the
//! requested Kubernetes resource type is checked against the allow-list, then the request is
//! answered. The runner has no cluster: answers come from a replayed kwctl session.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    GetResourceRequest, ListAllResourcesRequest, ListResourcesByNamespaceRequest,
};
use serde::Deserialize;

use crate::metadata::{ContextAwareResource, Metadata};
use crate::session::{HostRequest, Session};

/// Where permitted Kubernetes reads are answered from.
#[derive(Debug)]
pub enum Cluster {
    /// No cluster and no recording: every permitted read fails.
    Unavailable,
    Replay(Session),
}

/// Everything a policy may reach during one run; shared by all its evaluations, so a
/// replayed session is consumed across `validate_settings` and `validate` alike.
#[derive(Debug)]
pub struct Host {
    allowed_resources: BTreeSet<ContextAwareResource>,
    cluster: Mutex<Cluster>,
    /// Echo policy log events and host calls on stderr (to write replay sessions).
    verbose: bool,
    /// Kubernetes requests received, allowed or not (the benchmark reports them).
    kubernetes_calls: AtomicUsize,
}

pub type HostCallback = Box<wapc::HostCallback>;

impl Host {
    pub fn new(
        allowed_resources: BTreeSet<ContextAwareResource>,
        cluster: Cluster,
        verbose: bool,
    ) -> Self {
        Self {
            allowed_resources,
            cluster: Mutex::new(cluster),
            verbose,
            kubernetes_calls: AtomicUsize::new(0),
        }
    }

    /// A host with no access to anything, as for `protocol_version` during `annotate`.
    pub fn isolated() -> Self {
        Self::new(BTreeSet::new(), Cluster::Unavailable, false)
    }

    /// The resources a run may read: those the metadata declares, and only when the user
    /// passed `--allow-context-aware` (kwctl's "trust policy metadata" mode).
    pub fn allowed_resources(
        metadata: Option<&Metadata>,
        allow_context_aware: bool,
    ) -> BTreeSet<ContextAwareResource> {
        match metadata {
            Some(metadata) if allow_context_aware => metadata.context_aware_resources.clone(),
            _ => BTreeSet::new(),
        }
    }

    /// Recorded exchanges not consumed yet (0 without a session).
    pub fn unreplayed_exchanges(&self) -> usize {
        match &*self
            .cluster
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            Cluster::Replay(session) => session.remaining(),
            Cluster::Unavailable => 0,
        }
    }

    /// Kubernetes reads the policy asked for so far, including denied and failed ones.
    pub fn kubernetes_calls(&self) -> usize {
        self.kubernetes_calls.load(Ordering::Relaxed)
    }

    /// The callback handed to each fresh waPC host.
    pub fn callback(self: &Arc<Self>) -> HostCallback {
        let host = Arc::clone(self);
        Box::new(move |_id, binding, namespace, operation, payload| {
            host.dispatch(binding, namespace, operation, payload)
                .map_err(Into::into)
        })
    }

    pub fn dispatch(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        if binding != "kubewarden" {
            return Err(match binding {
                "kubernetes" => not_supported(binding, namespace, operation),
                _ => format!("unknown binding: {binding}"),
            });
        }
        let request = match (namespace, operation) {
            ("tracing", "log") => {
                if self.verbose {
                    eprintln!("policy log: {}", String::from_utf8_lossy(payload));
                }
                return Ok(Vec::new());
            }
            ("kubernetes", "get_resource") => parse::<GetResourceRequest>(payload)?.into(),
            ("kubernetes", "list_resources_by_namespace") => {
                parse::<ListResourcesByNamespaceRequest>(payload)?.into()
            }
            ("kubernetes", "list_resources_all") => {
                parse::<ListAllResourcesRequest>(payload)?.into()
            }
            ("kubernetes", "can_i") | ("oci" | "net" | "crypto", _)
                if is_known(namespace, operation) =>
            {
                return Err(not_supported(binding, namespace, operation))
            }
            ("tracing" | "kubernetes" | "oci" | "net" | "crypto", _) => {
                return Err(format!("unknown operation: {operation}"))
            }
            _ => return Err(format!("unknown namespace: {namespace}")),
        };
        self.kubernetes_calls.fetch_add(1, Ordering::Relaxed);
        if self.verbose {
            eprintln!("host call: {binding}/{namespace}/{operation} {request:?}");
        }
        let (api_version, kind) = resource_type(&request);
        if !self.is_allowed(api_version, kind) {
            return Err(format!(
                "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. \
                 The violation has been reported."
            ));
        }
        let mut cluster = self
            .cluster
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let answer = match &mut *cluster {
            Cluster::Replay(session) => session.answer(&request),
            Cluster::Unavailable => Err(
                "no Kubernetes cluster: use --replay-host-capabilities-interactions to answer this request"
                    .to_owned(),
            ),
        };
        answer.map_err(|e| format!("Callback evaluation failure: {e}"))
    }

    fn is_allowed(&self, api_version: &str, kind: &str) -> bool {
        self.allowed_resources
            .iter()
            .any(|r| r.api_version == api_version && r.kind == kind)
    }
}

/// Operations PolicyServer serves but the runner does not.
fn is_known(namespace: &str, operation: &str) -> bool {
    matches!(
        (namespace, operation),
        ("kubernetes", "can_i")
            | (
                "oci",
                "v1/verify"
                    | "v2/verify"
                    | "v1/manifest_digest"
                    | "v1/oci_manifest"
                    | "v1/oci_manifest_config"
            )
            | ("net", "v1/dns_lookup_host")
            | ("crypto", "v1/is_certificate_trusted")
    )
}

fn not_supported(binding: &str, namespace: &str, operation: &str) -> String {
    format!("host capability {binding}/{namespace}/{operation} is not supported by policy-runner")
}

fn resource_type(request: &HostRequest) -> (&str, &str) {
    match request {
        HostRequest::KubernetesListResourceNamespace {
            api_version, kind, ..
        }
        | HostRequest::KubernetesListResourceAll {
            api_version, kind, ..
        }
        | HostRequest::KubernetesGetResource {
            api_version, kind, ..
        } => (api_version, kind),
    }
}

/// The guest's JSON payload; the error text is serde's, as policy-evaluator returns it.
fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(payload).map_err(|e| e.to_string())
}

// The guest's payloads are the SDK's own request types (the version the policy builds with), so
// the host parses exactly what `get_resource` and the list calls send. They become the session's
// `HostRequest`, which keeps policy-evaluator's shape for kwctl's YAML, equality and messages.

impl From<GetResourceRequest> for HostRequest {
    fn from(r: GetResourceRequest) -> Self {
        Self::KubernetesGetResource {
            api_version: r.api_version,
            kind: r.kind,
            name: r.name,
            namespace: r.namespace,
            disable_cache: r.disable_cache,
            field_masks: r.field_masks,
        }
    }
}

impl From<ListResourcesByNamespaceRequest> for HostRequest {
    fn from(r: ListResourcesByNamespaceRequest) -> Self {
        Self::KubernetesListResourceNamespace {
            api_version: r.api_version,
            kind: r.kind,
            namespace: r.namespace,
            label_selector: r.label_selector,
            field_selector: r.field_selector,
            field_masks: r.field_masks,
        }
    }
}

impl From<ListAllResourcesRequest> for HostRequest {
    fn from(r: ListAllResourcesRequest) -> Self {
        Self::KubernetesListResourceAll {
            api_version: r.api_version,
            kind: r.kind,
            label_selector: r.label_selector,
            field_selector: r.field_selector,
            field_masks: r.field_masks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Exchange, HostResponse};

    const GET_SECRET: &[u8] =
        br#"{"api_version":"v1","kind":"Secret","name":"regcred","namespace":"team-a","disable_cache":false,"field_masks":null}"#;

    fn secrets() -> BTreeSet<ContextAwareResource> {
        BTreeSet::from([ContextAwareResource {
            api_version: "v1".into(),
            kind: "Secret".into(),
        }])
    }

    fn replaying(answer: HostResponse) -> Cluster {
        let request = serde_json::from_slice::<GetResourceRequest>(GET_SECRET)
            .unwrap()
            .into();
        Cluster::Replay(Session::new([Exchange {
            request,
            response: answer,
        }]))
    }

    #[test]
    fn allowed_read_is_answered_from_the_session() {
        let host = Host::new(
            secrets(),
            replaying(HostResponse::Success(b"{}".to_vec())),
            false,
        );
        assert_eq!(
            host.dispatch("kubewarden", "kubernetes", "get_resource", GET_SECRET),
            Ok(b"{}".to_vec())
        );
        assert_eq!(host.unreplayed_exchanges(), 0);
        assert_eq!(host.kubernetes_calls(), 1);
    }

    #[test]
    fn undeclared_resource_is_denied_with_policy_evaluator_wording() {
        let host = Host::new(
            secrets(),
            replaying(HostResponse::Success(b"{}".to_vec())),
            false,
        );
        let payload = br#"{"api_version":"v1","kind":"ConfigMap","namespace":"team-a","label_selector":null,"field_selector":null}"#;
        assert_eq!(
            host.dispatch("kubewarden", "kubernetes", "list_resources_by_namespace", payload),
            Err("Policy has not been granted access to Kubernetes v1/ConfigMap resources. The violation has been reported.".into())
        );
        assert_eq!(
            host.unreplayed_exchanges(),
            1,
            "a denied call must not consume the session"
        );
        assert_eq!(host.kubernetes_calls(), 1, "a denied call is still a call");
    }

    #[test]
    fn without_allow_context_aware_even_declared_resources_are_denied() {
        let mut metadata: Metadata = serde_yaml::from_str(
            "rules: []\nmutating: false\ncontextAwareResources: [{apiVersion: v1, kind: Secret}]",
        )
        .unwrap();
        assert!(Host::allowed_resources(Some(&metadata), false).is_empty());
        assert_eq!(Host::allowed_resources(Some(&metadata), true), secrets());
        assert!(
            Host::allowed_resources(None, true).is_empty(),
            "unannotated policies get no access"
        );
        metadata.context_aware_resources.clear();
        assert!(Host::allowed_resources(Some(&metadata), true).is_empty());
    }

    #[test]
    fn recorded_errors_and_replay_errors_reach_the_guest_wrapped() {
        let host = Host::new(
            secrets(),
            replaying(HostResponse::Error("secrets \"regcred\" not found".into())),
            false,
        );
        assert_eq!(
            host.dispatch("kubewarden", "kubernetes", "get_resource", GET_SECRET),
            Err("Callback evaluation failure: secrets \"regcred\" not found".into())
        );
        let exhausted = host
            .dispatch("kubewarden", "kubernetes", "get_resource", GET_SECRET)
            .unwrap_err();
        assert_eq!(
            exhausted,
            "Callback evaluation failure: Replay error: the list of recorded responses is empty"
        );
    }

    #[test]
    fn permitted_read_without_session_fails_clearly() {
        let host = Host::new(secrets(), Cluster::Unavailable, false);
        let err = host
            .dispatch("kubewarden", "kubernetes", "get_resource", GET_SECRET)
            .unwrap_err();
        assert!(
            err.contains("no Kubernetes cluster: use --replay-host-capabilities-interactions"),
            "{err}"
        );
    }

    #[test]
    fn malformed_payload_reports_serde_error() {
        let host = Host::new(secrets(), Cluster::Unavailable, false);
        let err = host
            .dispatch(
                "kubewarden",
                "kubernetes",
                "get_resource",
                br#"{"api_version":"v1"}"#,
            )
            .unwrap_err();
        assert!(err.starts_with("missing field `kind`"), "{err}");
    }

    #[test]
    fn other_capabilities_are_refused_by_name() {
        let host = Host::isolated();
        assert_eq!(
            host.dispatch("kubewarden", "oci", "v1/manifest_digest", b"\"busybox\""),
            Err("host capability kubewarden/oci/v1/manifest_digest is not supported by policy-runner".into())
        );
        assert!(host
            .dispatch("kubewarden", "kubernetes", "can_i", b"{}")
            .unwrap_err()
            .contains("not supported"));
        assert_eq!(
            host.dispatch("kubewarden", "nope", "x", b""),
            Err("unknown namespace: nope".into())
        );
        assert_eq!(
            host.dispatch("kubewarden", "net", "x", b""),
            Err("unknown operation: x".into())
        );
        assert_eq!(
            host.dispatch("other", "kubernetes", "x", b""),
            Err("unknown binding: other".into())
        );
        assert_eq!(
            host.dispatch("kubewarden", "tracing", "log", b"{}"),
            Ok(vec![])
        );
    }
}
