//! A loopback stand-in for the Kubernetes API server, enough for PolicyServer's
//! `kubernetes/get_resource`: discovery (`/version`, `/api`, `/api/v1`), Secrets, ServiceAccounts
//! and Namespaces by name from a fixture table, and `Status` errors shaped as the real API server
//! sends them. Only the PolicyServer load benchmark uses it, for the one thing a real control plane
//! cannot give there: no CPU of its own. etcd, kube-apiserver and kube-controller-manager idle at
//! a few percent of the machine's two cores, which would move the figures the benchmark compares;
//! the policy's answers with the real API server are the cluster suite's (tests/cluster.rs), and
//! the host texts the stub's errors imitate were recorded from a real one (recorded/README.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{json, Value};
use tiny_http::{Header, Response, Server};

/// The identity the stub names in its `Forbidden` messages, as a real cluster names the
/// PolicyServer's ServiceAccount.
pub const DENIED_USER: &str = "system:serviceaccount:kubewarden:policy-server";

/// The core-group resources the stub serves: (plural, kind, namespaced).
const RESOURCES: [(&str, &str, bool); 3] = [
    ("secrets", "Secret", true),
    ("serviceaccounts", "ServiceAccount", true),
    ("namespaces", "Namespace", false),
];

/// What the stub answers for one object.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 with this object.
    Object(Value),
    /// 403, as RBAC answers a `get` the caller may not make.
    Forbidden,
    /// 401, as for a revoked or wrong token.
    Unauthorized,
}

/// One request as the stub received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
}

impl std::fmt::Display for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.query {
            Some(query) => write!(f, "{} {}?{}", self.method, self.path, query),
            None => write!(f, "{} {}", self.method, self.path),
        }
    }
}

#[derive(Default)]
struct State {
    /// (plural, namespace or "", name) to answer; anything absent is 404.
    fixtures: BTreeMap<(String, String, String), Answer>,
    /// Every request, discovery included, in arrival order.
    requests: Vec<Recorded>,
    /// When set, every request (discovery included) is answered 401, as with a bad token.
    reject_all: bool,
}

/// A running stub. Dropping it stops the server thread.
pub struct KubeStub {
    server: Arc<Server>,
    state: Arc<Mutex<State>>,
    thread: Option<JoinHandle<()>>,
    port: u16,
    kubeconfig: PathBuf,
}

impl KubeStub {
    /// Starts on an ephemeral loopback port and writes `dir/kubeconfig` pointing at it.
    pub fn start(dir: &Path) -> std::io::Result<Self> {
        let server = Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let port = server.server_addr().to_ip().expect("a TCP listener").port();
        let server = Arc::new(server);
        let state = Arc::new(Mutex::new(State::default()));
        let thread = {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            std::thread::Builder::new()
                .name(format!("kube-stub-{port}"))
                .spawn(move || serve(&server, &state))?
        };
        std::fs::create_dir_all(dir)?;
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(port))?;
        Ok(Self {
            server,
            state,
            thread: Some(thread),
            port,
            kubeconfig,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The KUBECONFIG file for this stub (no TLS, a dummy bearer token).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Serves `object` (which must carry `kind` and `metadata.name`, and `metadata.namespace`
    /// for namespaced kinds) at its URL.
    pub fn add_object(&self, object: Value) {
        let kind = object["kind"].as_str().expect("object kind");
        let plural = plural_of(kind).unwrap_or_else(|| panic!("the stub does not serve {kind}"));
        let name = object["metadata"]["name"]
            .as_str()
            .expect("metadata.name")
            .to_string();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.set(plural, &namespace, &name, Answer::Object(object));
    }

    /// Sets the answer for one object; `namespace` is "" for cluster-scoped kinds.
    pub fn set(&self, plural: &str, namespace: &str, name: &str, answer: Answer) {
        self.state.lock().unwrap().fixtures.insert(
            (plural.to_string(), namespace.to_string(), name.to_string()),
            answer,
        );
    }

    /// Answers every request, discovery included, with 401 (as with a revoked token).
    pub fn reject_all_unauthorized(&self, on: bool) {
        self.state.lock().unwrap().reject_all = on;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many requests have arrived; pass it to `requests_since` to see what one step caused.
    pub fn mark(&self) -> usize {
        self.state.lock().unwrap().requests.len()
    }

    pub fn requests_since(&self, mark: usize) -> Vec<Recorded> {
        self.state.lock().unwrap().requests[mark..].to_vec()
    }

    /// Object reads since `mark`: namespaced objects (`/api/v1/namespaces/NS/PLURAL/NAME`) as
    /// "GET secrets team-a/corp", Namespaces (`/api/v1/namespaces/NAME`) as "GET namespaces
    /// team-a"; discovery left aside.
    pub fn object_reads_since(&self, mark: usize) -> Vec<String> {
        self.requests_since(mark)
            .iter()
            .filter_map(|r| {
                let rest = r.path.strip_prefix("/api/v1/namespaces/")?;
                match rest.split('/').collect::<Vec<_>>()[..] {
                    [namespace, plural, name] => {
                        Some(format!("{} {plural} {namespace}/{name}", r.method))
                    }
                    [name] => Some(format!("{} namespaces {name}", r.method)),
                    _ => None,
                }
            })
            .collect()
    }
}

impl Drop for KubeStub {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn kubeconfig_yaml(port: u16) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
  - name: stub
    cluster:
      server: http://127.0.0.1:{port}
contexts:
  - name: stub
    context:
      cluster: stub
      user: stub
      namespace: default
current-context: stub
users:
  - name: stub
    user:
      token: dummy-token-for-the-loopback-stub
"
    )
}

fn plural_of(kind: &str) -> Option<&'static str> {
    RESOURCES
        .iter()
        .find(|(_, k, _)| *k == kind)
        .map(|(plural, _, _)| *plural)
}

fn kind_of(plural: &str) -> Option<&'static str> {
    RESOURCES
        .iter()
        .find(|(p, _, _)| *p == plural)
        .map(|(_, kind, _)| *kind)
}

fn serve(server: &Server, state: &Mutex<State>) {
    for mut request in server.incoming_requests() {
        let (path, query) = match request.url().split_once('?') {
            Some((path, query)) => (path.to_string(), Some(query.to_string())),
            None => (request.url().to_string(), None),
        };
        let method = request.method().as_str().to_string();
        // Drain any body so keep-alive connections stay usable.
        let mut sink = Vec::new();
        let _ = request.as_reader().read_to_end(&mut sink);
        let (code, body) = {
            let mut state = state.lock().unwrap();
            state.requests.push(Recorded {
                method: method.clone(),
                path: path.clone(),
                query,
            });
            answer(&state, &method, &path)
        };
        let response = Response::from_data(body.to_string().into_bytes())
            .with_status_code(code)
            .with_header(
                Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).unwrap(),
            );
        let _ = request.respond(response);
    }
}

/// The status code and JSON body the real API server would send.
fn answer(state: &State, method: &str, path: &str) -> (u16, Value) {
    if state.reject_all {
        return unauthorized();
    }
    if method != "GET" {
        return status(
            405,
            "MethodNotAllowed",
            &format!(
                "the server does not allow this method on the requested resource ({method} {path})"
            ),
            None,
        );
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments[..] {
        ["version"] => (
            200,
            json!({
                "major": "1", "minor": "33", "gitVersion": "v1.33.0",
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2", "compiler": "gc",
                "platform": "linux/amd64"
            }),
        ),
        ["api"] => (
            200,
            json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
            }),
        ),
        ["apis"] => (
            200,
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}),
        ),
        ["api", "v1"] => (200, api_resource_list()),
        ["api", "v1", plural, name] if kind_of(plural).is_some() => lookup(state, plural, "", name),
        ["api", "v1", "namespaces", namespace, plural, name] if kind_of(plural).is_some() => {
            lookup(state, plural, namespace, name)
        }
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            Some(json!({})),
        ),
    }
}

fn lookup(state: &State, plural: &str, namespace: &str, name: &str) -> (u16, Value) {
    let key = (plural.to_string(), namespace.to_string(), name.to_string());
    let details = json!({"name": name, "kind": plural});
    match state.fixtures.get(&key) {
        Some(Answer::Object(object)) => (200, object.clone()),
        Some(Answer::Unauthorized) => unauthorized(),
        Some(Answer::Forbidden) => {
            let scope = if namespace.is_empty() {
                "at the cluster scope".to_string()
            } else {
                format!("in the namespace \"{namespace}\"")
            };
            status(
                403,
                "Forbidden",
                &format!(
                    "{plural} \"{name}\" is forbidden: User \"{DENIED_USER}\" cannot get resource \"{plural}\" in API group \"\" {scope}"
                ),
                Some(details),
            )
        }
        None => status(
            404,
            "NotFound",
            &format!("{plural} \"{name}\" not found"),
            Some(details),
        ),
    }
}

/// The API server's 401 has no details.
fn unauthorized() -> (u16, Value) {
    status(401, "Unauthorized", "Unauthorized", None)
}

fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> (u16, Value) {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    (code, body)
}

fn api_resource_list() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|(plural, kind, namespaced)| {
            json!({
                "name": plural,
                "singularName": kind.to_ascii_lowercase(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            })
        })
        .collect();
    json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": resources})
}
