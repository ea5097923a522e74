//! The cluster suite: the policy as a Kubewarden install runs it, judged by a real control plane.
//! etcd, kube-apiserver and kube-controller-manager (KUBEBUILDER_ASSETS) run on loopback; the
//! annotated module is pushed to a loopback OCI registry and served over TLS by the real
//! PolicyServer, which reads the cluster as ServiceAccount `kubewarden/policy-server` with a token
//! the API server issued and exactly the RBAC the README gives operators. Kubewarden's CRDs are
//! applied and each ClusterAdmissionPolicy is created there first; the webhook configuration and
//! the PolicyServer's `policies.yml` are derived from what the API server stored, as the
//! Kubewarden controller derives them (support/kubewarden.rs). Every case acts through kubectl and
//! reads back what the API server stored; one runs the real kwctl against the same cluster.
//!
//! ```sh
//! make e2e-cluster     # or, with KUBEBUILDER_ASSETS, KWCTL and POLICY_SERVER set:
//! cargo test --release -p e2e-tests --test cluster
//! ```

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use support::admission::full_request;
use support::cluster::{assets, kubeconfig, Cluster, Kubectl, Ran};
use support::kubewarden::{self, policy_server_entry, unique_name, webhook_configuration};
use support::policy_server::{Launch, PolicyServer};
use support::process::{binary_from_env, free_port, is_running, scratch, wait_until};
use support::registry::{kwctl_command, Registry};
use support::{policy_module, repo_root};

const SECRET: &str = "corp-registry";
const REGISTRY: &str = "registry.corp.example:5000";
const IMAGE: &str = "registry.corp.example:5000/finance/billing:2.4.1";
const OTHER_PRIVATE_IMAGE: &str = "registry.corp.example:5000/finance/ledger:1.0";
const PUBLIC_IMAGE: &str = "docker.io/library/nginx:1.27";
/// The password in every pull secret the suite creates: no output or log may contain it.
const CANARY: &str = "CANARY-cluster-4b1e-registry-password";
/// The namespace label that picks which of the suite's policies judges a namespace.
const POLICY_LABEL: &str = "suite.image-pull-secrets.example/policy";
/// The PolicyServer (and its ServiceAccount) whose token is revoked once it is running.
const REVOKED: &str = "revoked";
/// Host texts that must never reach a user: the raw host error and its backtrace (every
/// PolicyServer of the suite runs with RUST_BACKTRACE=1, which appends one to each host error).
const NEVER: [&str; 3] = [
    "Stack backtrace",
    "Callback evaluation failure",
    "Host error",
];

/// Everything the cases share: the cluster, kubectl as the admin, the PolicyServers.
struct Suite {
    cluster: Cluster,
    kubectl: Kubectl,
    policy_server: Option<PolicyServer>,
    /// Starts the default PolicyServer again, on the port its webhooks call.
    restart: Box<dyn Fn() -> PolicyServer>,
    /// The PolicyServer whose ServiceAccount was deleted after it started.
    revoked: PolicyServer,
    /// The scratch folder: each PolicyServer's files in `policy-server-NAME/`, kwctl's in `kwctl/`.
    dir: PathBuf,
    kwctl: PathBuf,
    module: PathBuf,
}

/// The suite's policies: the README's own, and variants of it with other settings, rules or
/// failure policy (each variant's fields replace the README policy's `spec` fields). Each judges
/// only the namespaces labelled with its name.
fn policies(module: &str) -> Vec<Value> {
    let readme = kubewarden::readme();
    let block = kubewarden::yaml_block(readme, "Install", "kind: ClusterAdmissionPolicy");
    let base: Value = serde_yaml::from_str(block).unwrap();
    let rule = |on_missing: &str| json!({"secret": SECRET, "registries": [REGISTRY], "onMissingSecret": on_missing});
    let rejecting = json!({"rules": [rule("reject")]});
    let accounts = json!({"apiGroups": [""], "apiVersions": ["v1"], "resources": ["serviceaccounts"],
                          "operations": ["CREATE", "UPDATE"]});
    let mut with_accounts = base["spec"]["rules"].clone();
    with_accounts.as_array_mut().unwrap().push(accounts);
    // The README's rules send Deployments and Jobs already; injection is the setting's.
    // `validating` is deployed as a validating policy by mistake; `unauthorized` runs on a
    // PolicyServer of its own, whose token the API server no longer accepts.
    let variants = json!({
        "reject": {"settings": rejecting},
        "templates": {"settings": {"rules": [rule("reject")], "templates": "inject"}},
        "scoped": {"settings": {"rules": [{"secret": SECRET, "registries": [REGISTRY], "onMissingSecret": "warn",
                                           "namespaceSelector": {"matchLabels": {"team": "a"}}}]}},
        "accounts": {"rules": with_accounts,
                     "settings": {"rules": [rule("warn")], "serviceAccounts": [{"secret": SECRET}]}},
        "pull-always": {"settings": {"rules": [{"secret": SECRET, "registries": [REGISTRY],
                                                "onMissingSecret": "reject", "imagePullPolicy": "Always"}]}},
        "custom": {"settings": {"rules": [rule("reject")], "templates": "inject",
                                "customResources": [{"apiVersion": "suite.example.com/v1", "kind": "PodBox",
                                                     "podSpecPath": "$.spec.template.spec"}]},
                   "rules": [{"apiGroups": ["suite.example.com"], "apiVersions": ["v1"],
                              "resources": ["podboxes"], "operations": ["CREATE", "UPDATE"]}]},
        "ignore": {"settings": rejecting, "failurePolicy": "Ignore"},
        "skip": {"settings": {"rules": [rule("skip")]}},
        "unlisted": {"settings": {"rules": [{"secret": "team-registry", "registries": [REGISTRY]}]}},
        "validating": {"settings": {"rules": [rule("reject")], "verifySecrets": false}, "mutating": false},
        "unauthorized": {"settings": rejecting, "policyServer": REVOKED},
    });
    let mut all = vec![base.clone()];
    for (name, spec) in variants.as_object().unwrap() {
        let mut policy = base.clone();
        policy["metadata"]["name"] = json!(name);
        for (key, value) in spec.as_object().unwrap() {
            policy["spec"][key] = value.clone();
        }
        all.push(policy);
    }
    for policy in &mut all {
        let name = policy["metadata"]["name"].clone();
        policy["spec"]["module"] = json!(module);
        policy["spec"]["namespaceSelector"] = json!({"matchExpressions": [{"key": POLICY_LABEL, "operator": "In", "values": [name]}]});
    }
    all
}

impl Suite {
    /// A fresh namespace judged by `policy` (none: no policy), with extra labels, and the pull
    /// secret when `with_secret`.
    fn namespace(
        &self,
        name: &str,
        policy: Option<&str>,
        labels: &[(&str, &str)],
        with_secret: bool,
    ) {
        let mut all: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        if let Some(policy) = policy {
            all.insert(POLICY_LABEL.into(), json!(policy));
        }
        self.kubectl.apply(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": all}})
                .to_string(),
        );
        if with_secret {
            self.create_secret(name);
        }
    }

    fn create_secret(&self, namespace: &str) {
        let ran = self.kubectl.cmd(&format!("create secret docker-registry {SECRET} -n {namespace} --docker-server={REGISTRY} --docker-username=robot --docker-password={CANARY}"));
        assert!(ran.ok, "create secret: {}", ran.all());
    }

    fn run_pod(&self, namespace: &str, name: &str, image: &str) -> Ran {
        self.kubectl.cmd(&format!(
            "run {name} -n {namespace} --image={image} --restart=Never"
        ))
    }

    /// `kubectl run billing` of IMAGE in `namespace`: kubectl printed each of `shown` on stderr
    /// (no warning, when `shown` is empty), and the API server stored a Pod whose `imagePullSecrets` are `stored` (`Value::Null`:
    /// none), or, with `stored: None`, refused it.
    fn run_billing(&self, namespace: &str, shown: &[&str], stored: Option<Value>) {
        let ran = self.run_pod(namespace, "billing", IMAGE);
        assert_eq!(ran.ok, stored.is_some(), "{}", ran.all());
        for wanted in shown {
            assert_has(&ran.stderr, wanted);
        }
        let quiet = !shown.is_empty() || !ran.stderr.contains("Warning:");
        assert!(quiet, "a warning: {}", ran.stderr);
        let pod = self.pod(namespace, "billing");
        assert_eq!(pod.map(|pod| pull_secrets(&pod["spec"])), stored);
    }

    fn pod(&self, namespace: &str, name: &str) -> Option<Value> {
        self.kubectl.get("pod", namespace, name)
    }

    /// `kubectl run` of IMAGE in `namespace`, a new Pod each time, until `done` holds of what
    /// kubectl printed (the API server applies an RBAC change within moments).
    fn run_until(&self, namespace: &str, done: impl Fn(&Ran) -> bool) -> Ran {
        let (mut attempt, mut last) = (0, None);
        wait_until("an RBAC change", Duration::from_secs(20), || {
            attempt += 1;
            let ran = self.run_pod(namespace, &format!("billing-{attempt}"), IMAGE);
            let finished = done(&ran);
            last = Some(ran);
            finished
        });
        last.unwrap()
    }

    /// The first object `kubectl get WHAT` lists, waited for (a controller creates it).
    fn first_listed(&self, what: &str) -> Value {
        let mut found = Value::Null;
        wait_until(what, Duration::from_secs(60), || {
            found = self.kubectl.must(&format!("get {what} -o json")).json()["items"][0].clone();
            !found.is_null()
        });
        found
    }

    /// kwctl, reading the cluster with `kubeconfig`, records for `request` under `settings` the
    /// session `e2e-tests/recorded/NAME.yml` holds, whose host errors the kwctl cases replay. A
    /// recording that differs is kept in target/cluster-suite/recorded/.
    fn kwctl_records(&self, name: &str, kubeconfig: &Path, settings: &Value, request: &Value) {
        let dir = self.dir.join("kwctl");
        std::fs::create_dir_all(&dir).unwrap();
        let request = full_request(request, "recorded").to_string();
        std::fs::write(dir.join("request.json"), request).unwrap();
        let session = dir.join(format!("{name}.yml"));
        let output = kwctl_command(&self.kwctl, &dir)
            .current_dir(&dir)
            .args(["run", "--allow-context-aware"])
            .args(["--request-path", "request.json"])
            .args(["--settings-json", &settings.to_string()])
            .arg("--record-host-capabilities-interactions")
            .arg(&session)
            .arg(&self.module)
            .env("KUBECONFIG", kubeconfig)
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run kwctl");
        let live = std::fs::read_to_string(&session).unwrap_or_default();
        assert!(
            output.status.success() && !live.is_empty(),
            "kwctl run for {name}: {output:?}"
        );
        let committed = repo_root().join(format!("e2e-tests/recorded/{name}.yml"));
        let committed = std::fs::read_to_string(committed).unwrap_or_default();
        let parse = |text: &str| serde_yaml::from_str::<Value>(text).ok();
        if committed.is_empty() || parse(&live) != parse(&committed) {
            let keep = repo_root().join("target/cluster-suite/recorded");
            std::fs::create_dir_all(&keep).unwrap();
            std::fs::write(keep.join(format!("{name}.yml")), &live).unwrap();
            panic!(
                "kwctl recorded {name} otherwise than e2e-tests/recorded/ (now in {}):\n{live}",
                keep.display()
            );
        }
    }

    /// A kubeconfig with the token of PolicyServer `name`'s ServiceAccount.
    fn kubeconfig_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("policy-server-{name}/kubeconfig"))
    }
}

/// A Pod CREATE in `team-a` and the rule for it, as the kwctl recordings were made; with
/// `selected`, the rule is scoped to namespaces labelled `team: a` and reads no secret.
fn recording_input(selected: bool) -> (Value, Value) {
    let mut rule = json!({"secret": SECRET, "registries": [REGISTRY]});
    if selected {
        rule["namespaceSelector"] = json!({"matchLabels": {"team": "a"}});
    }
    let settings = json!({"rules": [rule], "verifySecrets": !selected});
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "billing-7d9f", "namespace": "team-a"},
                     "spec": {"containers": [{"name": "billing", "image": IMAGE}]}});
    let request = json!({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
                         "namespace": "team-a", "object": pod});
    (settings, request)
}

/// A pod spec's `imagePullSecrets` (`null`: none).
fn pull_secrets(pod_spec: &Value) -> Value {
    pod_spec["imagePullSecrets"].clone()
}

fn secret_list() -> Value {
    json!([{"name": SECRET}])
}

/// A Pod spec with the random suffix of its service-account token volume removed, so two Pods
/// the API server stored from the same request compare equal.
fn comparable(spec: &Value) -> String {
    let text = spec.to_string();
    let mut parts = text.split("kube-api-access-");
    let first = parts.next().unwrap_or_default().to_string();
    parts.fold(first, |out, part| {
        out + "kube-api-access-" + part.get(5..).unwrap_or_default()
    })
}

/// What kubectl prints for our refusal, from the webhook the controller names.
fn denied_by(policy: &str) -> String {
    format!("admission webhook \"clusterwide-{policy}.kubewarden.admission\" denied the request: ")
}

fn not_found_message(namespace: &str) -> String {
    format!("imagePullSecret \"{SECRET}\" in namespace \"{namespace}\": secret not found")
}

fn fix_for_missing(namespace: &str) -> String {
    format!("fix: create it: kubectl create secret docker-registry {SECRET} -n {namespace} --docker-server={REGISTRY}")
}

fn assert_has(text: &str, wanted: &str) {
    assert!(text.contains(wanted), "expected {wanted:?} in:\n{text}");
}

// ----- cases -----------------------------------------------------------------------------------

/// `kubectl run` with a matching image: the stored Pod lists the secret, after one lookup.
fn run_with_matching_image_stores_the_secret(s: &mut Suite) {
    s.namespace("run-match", Some("reject"), &[], true);
    let mark = s.cluster.lookup_mark();
    s.run_billing("run-match", &[], Some(secret_list()));
    assert_eq!(
        s.cluster.lookups_since(mark),
        ["GET secrets run-match/corp-registry"]
    );
}

/// With an image no rule matches, the Pod is stored exactly as in a namespace no policy judges.
fn run_with_other_image_stores_the_pod_as_sent(s: &mut Suite) {
    s.namespace("run-other", Some("reject"), &[], true);
    s.namespace("run-other-baseline", None, &[], true);
    let mark = s.cluster.lookup_mark();
    for ns in ["run-other", "run-other-baseline"] {
        assert!(s.run_pod(ns, "web", PUBLIC_IMAGE).ok);
    }
    assert!(
        s.cluster.lookups_since(mark).is_empty(),
        "no lookup for an image no rule matches"
    );
    let judged = s.pod("run-other", "web").unwrap();
    let baseline = s.pod("run-other-baseline", "web").unwrap();
    assert_eq!(comparable(&judged["spec"]), comparable(&baseline["spec"]));
    assert_eq!(
        judged["metadata"]["annotations"],
        baseline["metadata"]["annotations"]
    );
}

/// `kubectl create deployment` and `kubectl create job` under the README's rules (workloads
/// checked, `templates: check`): the controllers create the ReplicaSet or Job's Pod, which carries
/// the secret, and the workload's template is stored untouched.
fn controllers_create_pods_that_carry_the_secret(s: &mut Suite) {
    s.namespace("controlled", Some("reject"), &[], true);
    for (kind, selector, owner) in [
        ("deployment", "app=web", "ReplicaSet"),
        ("job", "job-name=web", "Job"),
    ] {
        s.kubectl
            .must(&format!("create {kind} web -n controlled --image={IMAGE}"));
        let pod = s.first_listed(&format!("pods -n controlled -l {selector}"));
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], owner);
        assert_eq!(pull_secrets(&pod["spec"]), secret_list(), "{kind}'s pod");
        let workload = s.kubectl.get(kind, "controlled", "web").unwrap();
        let template = pull_secrets(&workload["spec"]["template"]["spec"]);
        assert_eq!(template, Value::Null, "{kind}");
    }
}

/// With template rules opted in, the Deployment's template carries the secret and its Pod lists
/// it once (the Pod rule finds it there and adds nothing).
fn template_rules_put_the_secret_in_the_template_once(s: &mut Suite) {
    s.namespace("templates", Some("templates"), &[], true);
    s.kubectl.must(&format!(
        "create deployment web -n templates --image={IMAGE}"
    ));
    let deployment = s.kubectl.get("deployment", "templates", "web").unwrap();
    assert_eq!(
        pull_secrets(&deployment["spec"]["template"]["spec"]),
        secret_list()
    );
    let pod = s.first_listed("pods -n templates -l app=web");
    assert_eq!(pull_secrets(&pod["spec"]), secret_list());
}

/// A template that lists `imagePullSecrets: []` would lose its ServiceAccount's secrets once one
/// is added (the API server copies them only into Pods that list none), so the policy keeps the
/// account's first: the template and then the Pod carry both.
fn empty_template_list_keeps_the_service_account_secrets(s: &mut Suite) {
    s.namespace("template-sa", Some("templates"), &[], true);
    let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "builder", "namespace": "template-sa"},
        "imagePullSecrets": [{"name": "sa-mirror"}]});
    s.kubectl.apply(&account.to_string());
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "template-sa"},
        "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": {
            "metadata": {"labels": {"app": "api"}},
            "spec": {"serviceAccountName": "builder", "imagePullSecrets": [],
                     "containers": [{"name": "api", "image": IMAGE}]}}}});
    s.kubectl.apply(&deployment.to_string());
    let both = json!([{"name": "sa-mirror"}, {"name": SECRET}]);
    let stored = s.kubectl.get("deployment", "template-sa", "api").unwrap();
    assert_eq!(pull_secrets(&stored["spec"]["template"]["spec"]), both);
    assert_eq!(
        pull_secrets(&s.first_listed("pods -n template-sa -l app=api")["spec"]),
        both
    );
}

/// The README's ClusterRole without its `namespaces` rule: a rule with a namespaceSelector cannot
/// read the namespace's labels, and its onMissingSecret (warn) decides, saying what to grant.
fn namespace_read_forbidden_falls_to_on_missing_secret(s: &mut Suite) {
    s.namespace("ns-forbidden", Some("scoped"), &[("team", "a")], true);
    let mut restricted = s
        .kubectl
        .must("get clusterrole image-pull-secrets-policy -o json")
        .json();
    let rules = restricted["rules"].as_array_mut().unwrap();
    rules.retain(|r| r["resources"][0] != "namespaces");
    restricted["metadata"]["resourceVersion"].take();
    s.kubectl.apply(&restricted.to_string());
    let ran = s.run_until("ns-forbidden", |ran| ran.stderr.contains("Warning: "));
    kubewarden::install_namespace_and_rbac(&s.kubectl);
    assert!(ran.ok, "{}", ran.all());
    assert_has(&ran.stderr, "Warning: imagePullSecret \"corp-registry\" in namespace \"ns-forbidden\": the namespace could not be read for the namespaceSelector");
    assert_has(
        &ran.stderr,
        "let the PolicyServer's ServiceAccount get namespaces",
    );
}

/// The secret missing: under `reject` kubectl fails with our message and its fix and nothing is
/// stored; under `warn` (the README's policy) kubectl prints our `Warning:` and the Pod is stored
/// with the secret; under `skip`, with the warning but without the secret.
fn missing_secret_follows_on_missing_secret(s: &mut Suite) {
    for (ns, policy, stored) in [
        ("missing-reject", "reject", None),
        ("missing-warn", "image-pull-secrets", Some(secret_list())),
        ("missing-skip", "skip", Some(Value::Null)),
    ] {
        s.namespace(ns, Some(policy), &[], false);
        let shown = match stored {
            None => format!(
                "Error from server: {}{}",
                denied_by(policy),
                not_found_message(ns)
            ),
            Some(_) => format!("Warning: {}", not_found_message(ns)),
        };
        let fix = fix_for_missing(ns);
        s.run_billing(ns, &[&shown, &fix], stored);
    }
}

/// An Opaque secret of that name holds no registry credentials: refused, saying so.
fn opaque_secret_is_refused_as_the_wrong_type(s: &mut Suite) {
    s.namespace("opaque", Some("reject"), &[], false);
    s.kubectl.must(&format!(
        "create secret generic {SECRET} -n opaque --from-literal=token={CANARY}"
    ));
    let reason = format!("imagePullSecret \"{SECRET}\" in namespace \"opaque\": secret type \"Opaque\" holds no registry credentials");
    let fix = format!("kubectl create secret docker-registry {SECRET} -n opaque");
    s.run_billing("opaque", &[&reason, &fix], None);
}

/// A policy applied with `mutating: false` gets a ValidatingWebhookConfiguration, and PolicyServer
/// turns the mutation it would make into a refusal.
fn validating_policy_refuses_what_it_would_mutate(s: &mut Suite) {
    s.namespace("validating", Some("validating"), &[], true);
    let refusal = "The policy attempted to mutate the request, but it is currently configured to not allow mutations";
    s.run_billing("validating", &[&denied_by("validating"), refusal], None);
}

/// The API server refuses the PolicyServer's token (its ServiceAccount was deleted): the real 401
/// reaches the user as our message.
fn revoked_token_gives_our_unauthorized_message(s: &mut Suite) {
    s.namespace("unauthorized", Some("unauthorized"), &[], true);
    let subject = format!("imagePullSecret \"{SECRET}\" in namespace \"unauthorized\"");
    let shown = [&denied_by("unauthorized"), &subject, "401 Unauthorized"];
    s.run_billing("unauthorized", &shown, None);
}

/// A secret created after a refusal: the retry is admitted at once (PolicyServer caches only
/// successful lookups). Prints how long after the secret's creation the first retry got in.
fn secret_created_after_a_refusal_admits_the_retry(s: &mut Suite) {
    s.namespace("retry", Some("reject"), &[], false);
    assert!(!s.run_pod("retry", "billing", IMAGE).ok);
    s.create_secret("retry");
    let created = Instant::now();
    let mut tries = 0;
    wait_until("the retry to be admitted", Duration::from_secs(20), || {
        tries += 1;
        s.run_pod("retry", "billing", IMAGE).ok
    });
    println!(
        "    figure: retry admitted {:?} after the secret was created ({tries} kubectl run)",
        created.elapsed()
    );
    assert_eq!(
        tries, 1,
        "the first retry after the secret was created was refused"
    );
}

/// The README's ClusterRoleBinding removed: the real 403 reaches the user as our message with its
/// fix, and kwctl records the 403 texts the kwctl cases replay (for a Secret and a Namespace);
/// restored, the next Pod is admitted.
fn rbac_removed_gives_our_forbidden_message(s: &mut Suite) {
    s.namespace("rbac", Some("reject"), &[], true);
    s.kubectl
        .must("delete clusterrolebinding image-pull-secrets-policy");
    let ran = s.run_until("rbac", |ran| !ran.ok);
    let recorded = catch_unwind(AssertUnwindSafe(|| {
        for (name, selected) in [("secret-forbidden", false), ("namespace-forbidden", true)] {
            let (settings, request) = recording_input(selected);
            s.kwctl_records(name, &s.kubeconfig_of("default"), &settings, &request);
        }
    }));
    kubewarden::install_namespace_and_rbac(&s.kubectl);
    assert_has(&ran.stderr, &denied_by("reject"));
    assert_has(
        &ran.stderr,
        &format!("imagePullSecret \"{SECRET}\" in namespace \"rbac\""),
    );
    assert_has(&ran.stderr, "forbidden");
    assert_has(
        &ran.stderr,
        "\"system:serviceaccount:kubewarden:policy-server\"",
    );
    assert_has(&ran.stderr, "fix: ");
    s.run_until("rbac", |ran| ran.ok);
    if let Err(panic) = recorded {
        std::panic::resume_unwind(panic);
    }
}

/// The real kwctl, reading this cluster as the PolicyServer does, records the host errors the
/// kwctl cases replay: a Secret, a ServiceAccount and a Namespace not found (404), a token the
/// API server refuses (401), and an API server address nothing listens on.
fn kwctl_records_the_host_errors_the_kwctl_cases_replay(s: &mut Suite) {
    let (default, revoked) = (s.kubeconfig_of("default"), s.kubeconfig_of(REVOKED));
    let unreachable = s.dir.join("unreachable.kubeconfig");
    let nobody = format!("https://127.0.0.1:{}", free_port());
    let ca = s.cluster.pki.path("ca.crt");
    kubeconfig(&unreachable, &nobody, &ca, "    token: unused\n");
    let (settings, pod) = recording_input(false);
    let (selected, _) = recording_input(true);
    // Injecting into a template that lists `imagePullSecrets: []` reads its ServiceAccount.
    let inject = json!({"rules": [{"secret": SECRET, "registries": [REGISTRY]}], "verifySecrets": false, "templates": "inject"});
    let template = json!({"metadata": {"labels": {"app": "api"}}, "spec": {"serviceAccountName": "builder",
        "imagePullSecrets": [], "containers": [{"name": "api", "image": IMAGE}]}});
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "team-a"},
        "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": template}});
    let deployment = json!({"kind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "name": "api",
        "operation": "CREATE", "namespace": "team-a", "object": deployment});
    for (name, config, settings, request) in [
        ("secret-not-found", &default, &settings, &pod),
        ("serviceaccount-not-found", &default, &inject, &deployment),
        ("namespace-not-found", &default, &selected, &pod),
        ("secret-unauthorized", &revoked, &settings, &pod),
        ("secret-unreachable", &unreachable, &settings, &pod),
    ] {
        s.kwctl_records(name, config, settings, request);
    }
}

/// A rule's namespaceSelector against real namespace labels.
fn namespace_selector_reads_real_labels(s: &mut Suite) {
    s.namespace("scoped-a", Some("scoped"), &[("team", "a")], true);
    s.namespace("scoped-b", Some("scoped"), &[("team", "b")], true);
    s.run_billing("scoped-a", &[], Some(secret_list()));
    s.run_billing("scoped-b", &[], Some(Value::Null));
}

/// The ServiceAccount mode on a real ServiceAccount: `kubectl create serviceaccount` stores it with
/// the secret, and so does the namespace's `default` ServiceAccount the controller creates. A Pod
/// that lists no secret then gets the account's from the API server's ServiceAccount admission
/// plugin (plugin/pkg/admission/serviceaccount, `Plugin.Admit` copies the account's
/// imagePullSecrets when the Pod has none), so the Pod rule has nothing to add.
fn service_accounts_get_the_secret(s: &mut Suite) {
    s.namespace("accounts", Some("accounts"), &[], true);
    s.kubectl.must("create serviceaccount builder -n accounts");
    for name in ["builder", "default"] {
        let account = s.first_listed(&format!(
            "serviceaccounts -n accounts --field-selector metadata.name={name}"
        ));
        let listed = &account["imagePullSecrets"];
        assert_eq!(listed, &secret_list(), "serviceaccount {name}");
    }
    let ran = s.run_pod("accounts", "web", PUBLIC_IMAGE);
    assert!(ran.ok, "{}", ran.all());
    let pod = s.pod("accounts", "web").unwrap();
    assert_eq!(pull_secrets(&pod["spec"]), secret_list());
}

/// A custom resource through a CustomResourceDefinition and a JSONPath rule.
fn custom_resource_pod_spec_gets_the_secret(s: &mut Suite) {
    s.namespace("custom", Some("custom"), &[], true);
    let object = json!({"apiVersion": "suite.example.com/v1", "kind": "PodBox",
        "metadata": {"name": "box", "namespace": "custom"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": IMAGE}]}}}});
    s.kubectl.apply(&object.to_string());
    let stored = s.kubectl.get("podbox", "custom", "box").unwrap();
    assert_eq!(
        pull_secrets(&stored["spec"]["template"]["spec"]),
        secret_list()
    );
}

/// `imagePullPolicy: Always`: the API server's own validation accepts the Pod we return.
fn pull_policy_always_is_accepted_by_the_api_server(s: &mut Suite) {
    s.namespace("always", Some("pull-always"), &[], true);
    s.run_billing("always", &[], Some(secret_list()));
    let pod = s.pod("always", "billing").unwrap();
    assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
    s.kubectl.must(&format!(
        "set image pod/billing -n always billing={OTHER_PRIVATE_IMAGE}"
    ));
    assert_eq!(
        s.pod("always", "billing").unwrap()["spec"]["containers"][0]["image"],
        OTHER_PRIVATE_IMAGE
    );
}

/// `kubectl set image` on a Pod (UPDATE) and `kubectl debug` (an ephemeral container): accepted
/// where the Pod has the secret; refused with the reason where it cannot get it (a running Pod's
/// imagePullSecrets cannot change), the stored Pod unchanged.
fn running_pod_changes_are_judged(s: &mut Suite) {
    s.namespace("running", Some("reject"), &[], true);
    let set_image: fn(&str) -> String =
        |pod| format!("set image pod/{pod} -n running {pod}={OTHER_PRIVATE_IMAGE}");
    let debug: fn(&str) -> String = |pod| {
        format!(
            "debug {pod} -n running --image={OTHER_PRIVATE_IMAGE} --target={pod} --container=dbg"
        )
    };
    for (change, covered, public) in [
        (set_image, "covered", "public"),
        (debug, "debugged", "peeked"),
    ] {
        assert!(s.run_pod("running", covered, IMAGE).ok);
        assert!(s.run_pod("running", public, PUBLIC_IMAGE).ok);
        s.kubectl.must(&change(covered));
        let before = s.pod("running", public).unwrap();
        let ran = s.kubectl.cmd(&change(public));
        assert!(!ran.ok, "admitted: {}", ran.all());
        assert_has(&ran.stderr, &denied_by("reject"));
        assert_has(&ran.stderr, &format!("imagePullSecret \"{SECRET}\""));
        let after = s.pod("running", public).unwrap();
        assert_eq!(
            before["metadata"]["resourceVersion"],
            after["metadata"]["resourceVersion"]
        );
    }
    let debugged = s.pod("running", "debugged").unwrap();
    assert_eq!(debugged["spec"]["ephemeralContainers"][0]["name"], "dbg");
}

/// `kubectl apply --dry-run=server` answers as the real request would and stores nothing.
fn server_dry_run_answers_the_same_and_stores_nothing(s: &mut Suite) {
    s.namespace("dry-run", Some("reject"), &[], true);
    s.namespace("dry-run-missing", Some("reject"), &[], false);
    let apply = |ns: &str| {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "billing", "namespace": ns},
                         "spec": {"containers": [{"name": "billing", "image": IMAGE}]}});
        let args = ["apply", "--dry-run=server", "-o", "json", "-f", "-"];
        s.kubectl.run_with(&args, Some(&pod.to_string()))
    };
    let ran = apply("dry-run");
    assert!(ran.ok, "{}", ran.all());
    assert_eq!(pull_secrets(&ran.json()["spec"]), secret_list());
    assert!(s.pod("dry-run", "billing").is_none());
    let ran = apply("dry-run-missing");
    assert!(!ran.ok);
    assert_has(&ran.stderr, &not_found_message("dry-run-missing"));
}

/// PolicyServer stopped: `failurePolicy: Fail` refuses with the API server's message, `Ignore`
/// stores the Pod unchanged; PolicyServer back, the next Pod is mutated.
fn policy_server_down_follows_the_failure_policy(s: &mut Suite) {
    s.namespace("down-fail", Some("reject"), &[], true);
    s.namespace("down-ignore", Some("ignore"), &[], true);
    s.policy_server.take().unwrap().stop();
    let unreachable = "failed calling webhook \"clusterwide-reject.kubewarden.admission\"";
    s.run_billing("down-fail", &[unreachable], None);
    s.run_billing("down-ignore", &[], Some(Value::Null));
    s.policy_server = Some((s.restart)());
    s.run_billing("down-fail", &[], Some(secret_list()));
}

/// No secret byte in anything kubectl printed or a PolicyServer logged, and no raw host error
/// or backtrace in anything kubectl printed.
fn no_secret_byte_in_any_output(s: &mut Suite) {
    let auth = STANDARD.encode(format!("robot:{CANARY}"));
    let shown = s.kubectl.transcript();
    let served = s.policy_server.as_ref().map(PolicyServer::log);
    let logs = format!("{shown}{}{}", served.unwrap_or_default(), s.revoked.log());
    for canary in [CANARY, &auth, &STANDARD.encode(CANARY)] {
        assert!(
            !logs.contains(canary),
            "secret data in the output: {canary}"
        );
    }
    for text in NEVER {
        assert!(
            !shown.contains(text),
            "host error text shown to the user: {text}"
        );
    }
}

/// Every policy manifest an operator can copy from us (`make copyable-manifests`: the README's,
/// examples/install, `kwctl scaffold manifest`, the chart rendered with each Rancher form answer)
/// passes the API server's validation with Kubewarden's CRDs; the broken ones in `invalid/` do not.
fn copyable_manifests_pass_kubewardens_crds(s: &mut Suite) {
    let dir = PathBuf::from(
        std::env::var("COPYABLE_MANIFESTS").expect("COPYABLE_MANIFESTS (make copyable-manifests)"),
    );
    let mut counts = Vec::new();
    for (folder, valid) in [(dir.clone(), true), (dir.join("invalid"), false)] {
        let files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        for file in &files {
            let ran = s
                .kubectl
                .run(&["apply", "--dry-run=server", "-f", file.to_str().unwrap()]);
            assert_eq!(ran.ok, valid, "{}: {}", file.display(), ran.all());
        }
        counts.push(files.len());
    }
    assert!(
        counts[0] >= 10 && counts[1] >= 3,
        "too few manifests in {}",
        dir.display()
    );
    println!(
        "    {} manifests accepted, {} refused",
        counts[0], counts[1]
    );
}

/// The README's Helm path: `helm install` of the chart with the README's values file stores a
/// ClusterAdmissionPolicy of the released module with those settings; `helm uninstall` removes it.
fn helm_install_with_the_readme_values_stores_the_policy(s: &mut Suite) {
    // helm reads KUBECONFIG as kubectl does.
    let helm = Kubectl::new(
        Path::new(&std::env::var("HELM").expect("HELM (helm 4)")),
        s.kubectl.kubeconfig(),
    );
    let values = kubewarden::readme()
        .split("<!-- helm-values")
        .nth(1)
        .and_then(|r| r.split("```yaml\n").nth(1))
        .and_then(|b| b.split("```").next())
        .expect("the README's helm values block");
    let file = s.dir.join("helm-values.yaml");
    std::fs::write(&file, values).unwrap();
    let chart = repo_root().join("charts/image-pull-secrets");
    let (chart, file) = (chart.to_str().unwrap(), file.to_str().unwrap());
    let ran = helm.run(&[
        "install",
        "from-helm",
        chart,
        "-n",
        kubewarden::NAMESPACE,
        "-f",
        file,
    ]);
    assert!(ran.ok, "helm install: {}", ran.all());
    let stored = s
        .kubectl
        .get("clusteradmissionpolicy", "", "from-helm")
        .expect("the policy helm installed");
    let expected: Value = serde_yaml::from_str(values).unwrap();
    assert_eq!(stored["spec"]["settings"], expected["settings"]);
    let module = stored["spec"]["module"].as_str().unwrap();
    assert!(module.starts_with("registry://ghcr.io/"), "{module}");
    let ran = helm.run(&["uninstall", "from-helm", "-n", kubewarden::NAMESPACE]);
    assert!(ran.ok, "helm uninstall: {}", ran.all());
    assert!(s
        .kubectl
        .get("clusteradmissionpolicy", "", "from-helm")
        .is_none());
}

/// Workloads applied in a namespace without the secret under `reject`: each is refused when it is
/// applied, with the message naming it, client-side and server-side apply alike (as Argo CD and
/// Flux apply), and nothing is stored.
fn workloads_whose_pods_would_be_refused_are_refused_at_apply(s: &mut Suite) {
    let ns = "workloads-refused";
    s.namespace(ns, Some("reject"), &[], false);
    let ran = s
        .kubectl
        .cmd(&format!("create deployment web -n {ns} --image={IMAGE}"));
    assert!(!ran.ok, "admitted: {}", ran.all());
    let refused = format!("its pods would be refused: {}", not_found_message(ns));
    let deployment = format!("{}Deployment {ns}/web: {refused}", denied_by("reject"));
    assert_has(&ran.stderr, &deployment);
    for (kind, manifest) in workload_manifests(ns) {
        for mode in ["--server-side=false", "--server-side=true"] {
            let ran = s
                .kubectl
                .run_with(&["apply", mode, "-f", "-"], Some(&manifest));
            assert!(!ran.ok, "{kind} {mode} admitted: {}", ran.all());
            assert_has(&ran.stderr, &format!("{kind} {ns}/app: {refused}"));
            assert_has(&ran.stderr, &fix_for_missing(ns));
        }
    }
    let stored = s.kubectl.cmd(&format!(
        "get deployments,statefulsets,daemonsets,jobs,cronjobs -n {ns} -o name"
    ));
    assert_eq!(stored.stdout.trim(), "", "stored: {}", stored.stdout);
}

/// Under `warn` (the README's policy), the workload is stored, unpatched, and kubectl prints the
/// warning its Pods will get, naming it.
fn workloads_whose_pods_would_be_warned_are_warned_at_apply(s: &mut Suite) {
    let ns = "workloads-warned";
    s.namespace(ns, Some("image-pull-secrets"), &[], false);
    let ran = s
        .kubectl
        .must(&format!("create deployment web -n {ns} --image={IMAGE}"));
    let warned = "its pods would be admitted with a warning";
    let warning = format!(
        "Warning: Deployment {ns}/web: {warned}: {}",
        not_found_message(ns)
    );
    assert_has(&ran.stderr, &warning);
    let deployment = s.kubectl.get("deployment", ns, "web").unwrap();
    let template = pull_secrets(&deployment["spec"]["template"]["spec"]);
    assert_eq!(template, Value::Null);
}

/// What starts no Pod is never in the way: with the secret gone, a replicas-only apply and
/// `kubectl scale` (the `scale` subresource, which the rules do not send) are admitted without a
/// lookup; a rollout restart, which starts Pods, is refused
/// (once PolicyServer's 5-second cache of the secret has expired).
fn only_what_starts_pods_is_checked_on_update(s: &mut Suite) {
    let ns = "workloads-update";
    s.namespace(ns, Some("reject"), &[], true);
    let deployment = |replicas: u32| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": IMAGE}]}}}})
        .to_string()
    };
    s.kubectl.apply(&deployment(2));
    assert!(s.kubectl.cmd(&format!("delete secret {SECRET} -n {ns}")).ok);
    // Past PolicyServer's 5-second cache of the secret, read last by the Pods' admission.
    std::thread::sleep(Duration::from_millis(6500));
    // Scaling down starts no Pod, so the audit log shows only what the Deployment's own UPDATE cost.
    let mark = s.cluster.lookup_mark();
    s.kubectl.apply(&deployment(1));
    s.kubectl
        .must(&format!("scale deployment web -n {ns} --replicas=0"));
    assert!(
        s.cluster.lookups_since(mark).is_empty(),
        "a lookup for a change that starts no Pod"
    );
    let ran = s
        .kubectl
        .cmd(&format!("rollout restart deployment/web -n {ns}"));
    assert!(!ran.ok, "admitted: {}", ran.all());
    let refused = format!(
        "Deployment {ns}/web: its pods would be refused: {}",
        not_found_message(ns)
    );
    assert_has(&ran.stderr, &refused);
}

/// One manifest per built-in workload kind, each named `app`, its Pods needing the secret.
fn workload_manifests(namespace: &str) -> Vec<(&'static str, String)> {
    let pod = json!({"metadata": {"labels": {"app": "app"}},
                     "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "image": IMAGE}]}});
    let mut job_pod = pod.clone();
    job_pod["spec"]["restartPolicy"] = json!("Never");
    let selector = json!({"matchLabels": {"app": "app"}});
    let meta = json!({"name": "app", "namespace": namespace});
    let apps = json!({"selector": selector, "template": pod});
    let mut stateful = apps.clone();
    stateful["serviceName"] = json!("app");
    let cron = json!({"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": job_pod}}});
    [
        ("Deployment", "apps/v1", apps.clone()),
        ("StatefulSet", "apps/v1", stateful),
        ("DaemonSet", "apps/v1", apps),
        ("Job", "batch/v1", json!({"template": job_pod})),
        ("CronJob", "batch/v1", cron),
    ]
    .into_iter()
    .map(|(kind, api, spec)| {
        let object = json!({"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec});
        (kind, object.to_string())
    })
    .collect()
}

/// The README's ClusterRole lists secret names: a rule whose secret is not among them is refused
/// with the real 403, and the fix names the entry to add and the account it is bound to.
fn secret_outside_resource_names_is_refused_naming_the_entry(s: &mut Suite) {
    s.namespace("unlisted", Some("unlisted"), &[], false);
    let subject = "imagePullSecret \"team-registry\" in namespace \"unlisted\"";
    let fix = "fix: add \"team-registry\" to the resourceNames of the secrets rule in the ClusterRole bound to \"system:serviceaccount:kubewarden:policy-server\"";
    s.run_billing("unlisted", &[subject, fix], None);
}

/// `make demo-cluster`: what a user sees with the README's policy (`onMissingSecret: warn`) and
/// with `reject`, each command printed with what kubectl answered (a password masked).
fn demo(s: &Suite) {
    let show = |line: String| {
        let before = s.kubectl.transcript().len();
        s.kubectl.cmd(&line);
        print!("{}", &s.kubectl.transcript()[before..]);
    };
    let run = |ns: &str| format!("run billing -n {ns} --image={IMAGE}");
    println!("\n# team-a has the pull secret; the README's policy judges it");
    s.namespace("team-a", Some("image-pull-secrets"), &[], false);
    show(format!("create secret docker-registry {SECRET} -n team-a --docker-server={REGISTRY} --docker-username=robot --docker-password={CANARY}"));
    show(run("team-a"));
    show("get pod billing -n team-a -o jsonpath={.spec.imagePullSecrets}{\"\\n\"}".into());
    println!("\n# team-b has no pull secret: the README's policy (onMissingSecret: warn) admits with a warning");
    s.namespace("team-b", Some("image-pull-secrets"), &[], false);
    show(run("team-b"));
    println!("\n# team-c has no pull secret and its policy says onMissingSecret: reject");
    s.namespace("team-c", Some("reject"), &[], false);
    show(run("team-c"));
    println!("\n# a Deployment there is refused when it is applied, not later by its ReplicaSet");
    show(format!("create deployment web -n team-c --image={IMAGE}"));
}

/// A case: its name and what it does to the suite.
type Case = (&'static str, fn(&mut Suite));

/// The cases, each named by its function.
macro_rules! cases {
    ($($case:ident),* $(,)?) => { vec![$((stringify!($case), $case as fn(&mut Suite))),*] };
}

// ----- set-up and the run ------------------------------------------------------------------------

/// Kubewarden's CRDs, the suite's CustomResourceDefinition, the README's RBAC and the suite's
/// policies, as the API server stored them.
fn install(kubectl: &Kubectl, module_uri: &str) -> Vec<Value> {
    let crds = std::env::var("KUBEWARDEN_CRDS").map_or_else(
        |_| repo_root().join("../shared/kubewarden/crds"),
        PathBuf::from,
    );
    let ran = kubectl.run(&["apply", "-f", crds.to_str().unwrap()]);
    assert!(ran.ok, "Kubewarden CRDs: {}", ran.all());
    kubectl.must("wait --for=condition=Established crd --all --timeout=60s");
    kubectl.apply(include_str!("cluster/podbox-crd.yaml"));
    kubewarden::install_namespace_and_rbac(kubectl);
    let mut stored = Vec::new();
    for policy in policies(module_uri) {
        kubectl.apply(&policy.to_string());
        let name = policy["metadata"]["name"].as_str().unwrap();
        let policy = kubectl.get("clusteradmissionpolicy", "", name);
        stored.push(policy.expect("stored policy"));
    }
    stored
}

fn main() {
    let assets = match assets() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("the cluster suite cannot run: {why}");
            std::process::exit(1);
        }
    };
    let kwctl = binary_from_env("KWCTL", "kwctl");
    let binary = binary_from_env("POLICY_SERVER", "policy-server");
    let module = policy_module();
    let started = Instant::now();
    let scratch = scratch("ips-cluster-");
    let dir = scratch.path().to_path_buf();

    let (failures, pids, ports, counts) = {
        let registry = Registry::start(&dir.join("registry"));
        let module_uri = registry.uri("image-pull-secrets:suite");
        registry.push(&kwctl, &module, &module_uri, &dir.join("kwctl"));
        let cluster = Cluster::start(&assets, &dir.join("cluster"));
        println!("cluster ready in {:?}", cluster.started_in);
        let kubectl = Kubectl::new(&assets.join("kubectl"), cluster.kubectl.kubeconfig());
        let stored = install(&kubectl, &module_uri);

        // The PolicyServers, as their policies' `spec.policyServer` names them: TLS by the
        // cluster's CA, each serving the entries the controller writes for its policies and
        // reading the cluster with a token the API server issued for its ServiceAccount. Each
        // starts, and can start again, on the port its webhooks call.
        cluster.pki.server("policy-server");
        let ca = STANDARD.encode(std::fs::read(cluster.pki.path("ca.crt")).unwrap());
        let start_server = |name: &str, account: &str| {
            let dir = dir.join(format!("policy-server-{name}"));
            std::fs::create_dir_all(&dir).unwrap();
            let config = dir.join("kubeconfig");
            cluster.service_account_kubeconfig(&kubectl, kubewarden::NAMESPACE, account, &config);
            let served: Vec<&Value> = stored
                .iter()
                .filter(|p| p["spec"]["policyServer"].as_str().unwrap_or("default") == name)
                .collect();
            let entries: serde_json::Map<String, Value> = served
                .iter()
                .map(|p| (unique_name(p), policy_server_entry(p, &module_uri)))
                .collect();
            let policies = serde_yaml::to_string(&entries).unwrap();
            let (binary, sources) = (binary.clone(), registry.sources().to_path_buf());
            let (cert, key) = (
                cluster.pki.path("policy-server.crt"),
                cluster.pki.path("policy-server.key"),
            );
            let port = free_port();
            let start = move || {
                let launch = Launch {
                    binary: &binary,
                    dir: &dir,
                    policies: &policies,
                    kubeconfig: &config,
                    sources: Some(&sources),
                    rust_backtrace: true,
                    tls: Some((&cert, &key)),
                };
                PolicyServer::start_on(&launch, port, Duration::from_secs(120))
            };
            let server = start();
            for policy in served {
                let url = format!("https://127.0.0.1:{port}");
                kubectl.apply(&webhook_configuration(policy, &url, &ca).to_string());
            }
            (server, port, start)
        };
        let (server, port, restart) = start_server("default", "policy-server");
        let (revoked, revoked_port, _) = start_server(REVOKED, REVOKED);
        kubectl.must(&format!(
            "delete serviceaccount {REVOKED} -n {}",
            kubewarden::NAMESPACE
        ));
        let mut suite = Suite {
            revoked,
            cluster,
            kubectl,
            policy_server: Some(server),
            restart: Box::new(restart),
            dir: dir.clone(),
            kwctl,
            module,
        };
        suite.namespace("webhook-probe", Some("reject"), &[], true);
        wait_until("the webhooks to be called", Duration::from_secs(30), || {
            let ran = suite.kubectl.cmd(&format!(
                "run probe -n webhook-probe --image={IMAGE} --dry-run=server -o json"
            ));
            ran.ok && pull_secrets(&ran.json()["spec"]) == secret_list()
        });
        println!("policy installed {:?} after the start", started.elapsed());

        let cases: Vec<Case> = cases![
            run_with_matching_image_stores_the_secret,
            run_with_other_image_stores_the_pod_as_sent,
            controllers_create_pods_that_carry_the_secret,
            template_rules_put_the_secret_in_the_template_once,
            empty_template_list_keeps_the_service_account_secrets,
            namespace_read_forbidden_falls_to_on_missing_secret,
            missing_secret_follows_on_missing_secret,
            opaque_secret_is_refused_as_the_wrong_type,
            validating_policy_refuses_what_it_would_mutate,
            revoked_token_gives_our_unauthorized_message,
            secret_created_after_a_refusal_admits_the_retry,
            rbac_removed_gives_our_forbidden_message,
            kwctl_records_the_host_errors_the_kwctl_cases_replay,
            namespace_selector_reads_real_labels,
            service_accounts_get_the_secret,
            custom_resource_pod_spec_gets_the_secret,
            pull_policy_always_is_accepted_by_the_api_server,
            running_pod_changes_are_judged,
            server_dry_run_answers_the_same_and_stores_nothing,
            policy_server_down_follows_the_failure_policy,
            copyable_manifests_pass_kubewardens_crds,
            helm_install_with_the_readme_values_stores_the_policy,
            workloads_whose_pods_would_be_refused_are_refused_at_apply,
            workloads_whose_pods_would_be_warned_are_warned_at_apply,
            only_what_starts_pods_is_checked_on_update,
            secret_outside_resource_names_is_refused_naming_the_entry,
            no_secret_byte_in_any_output,
        ];
        if std::env::var_os("CLUSTER_DEMO").is_some() {
            demo(&suite);
            return;
        }
        let only = std::env::var("CASES").ok();
        let mut failures = Vec::new();
        let mut ran = 0;
        for (name, case) in &cases {
            if only
                .as_deref()
                .is_some_and(|o| !o.split(',').any(|c| name.contains(c)))
            {
                continue;
            }
            ran += 1;
            let at = Instant::now();
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| case(&mut suite))) {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                println!("FAIL {name} ({:.1?}): {why}", at.elapsed());
                failures.push(name.to_string());
                if suite.policy_server.is_none() {
                    suite.policy_server = Some((suite.restart)());
                }
            } else {
                println!("ok   {name} ({:.1?})", at.elapsed());
            }
        }
        let mut pids = suite.cluster.pids();
        pids.extend(suite.policy_server.as_ref().map(PolicyServer::pid));
        pids.push(suite.revoked.pid());
        let mut ports = suite.cluster.ports.clone();
        ports.extend([port, revoked_port, registry.port()]);
        if !failures.is_empty() {
            // Kept after the scratch folder goes: what the user saw, and both servers' logs.
            let keep = repo_root().join("target/cluster-suite");
            std::fs::create_dir_all(&keep).unwrap();
            let served = suite.policy_server.as_ref().map(PolicyServer::log);
            for (file, text) in [
                ("kubectl.txt", suite.kubectl.transcript()),
                ("apiserver.log", suite.cluster.apiserver_log()),
                ("policy-server.log", served.unwrap_or_default()),
            ] {
                std::fs::write(keep.join(file), text).unwrap();
            }
            println!("transcript and logs: {}", keep.display());
        }
        (failures, pids, ports, (ran, cases.len()))
        // Dropped here, in order: the suite (PolicyServer, then the control plane), the registry.
    };

    // Nothing left behind: every process gone, every port free, the folder removed.
    let mut leftovers: Vec<String> = pids
        .iter()
        .filter(|&&p| is_running(p))
        .map(|p| format!("process {p}"))
        .collect();
    leftovers.extend(
        ports
            .iter()
            .filter(|&&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_err())
            .map(|p| format!("port {p}")),
    );
    scratch.close().unwrap();
    if dir.exists() {
        leftovers.push(format!("folder {}", dir.display()));
    }
    println!(
        "cluster suite: {} of {} cases run, {} failed, {:?} in all",
        counts.0,
        counts.1,
        failures.len(),
        started.elapsed()
    );
    if !leftovers.is_empty() {
        println!("left behind: {}", leftovers.join(", "));
    }
    if !failures.is_empty() || !leftovers.is_empty() {
        println!("failed: {}", failures.join(", "));
        std::process::exit(1);
    }
}
