//! A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager
//! found the envtest way (`KUBEBUILDER_ASSETS`), certificates made with openssl in the suite's own
//! folder, kubectl as the client. Each process is a [`Guarded`] child, stopped by its PID when the
//! cluster drops: the controller manager, then the API server, then etcd (the API server does not
//! exit promptly once etcd is gone).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::process::{free_port, wait_until, Guarded};

/// The programs the suite needs from `KUBEBUILDER_ASSETS`.
const PROGRAMS: [&str; 4] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
];

/// The folder holding the control plane's programs, or a message saying how to get them.
pub fn assets() -> Result<PathBuf, String> {
    let how = "unpack them with ../shared/kubernetes/unpack DIR and set KUBEBUILDER_ASSETS=DIR \
               (or download kube-apiserver, kube-controller-manager and kubectl from \
               https://dl.k8s.io/release/v1.36.2/bin/linux/amd64/ and etcd v3.6 from its releases)";
    let dir = std::env::var_os("KUBEBUILDER_ASSETS")
        .map(PathBuf::from)
        .ok_or_else(|| format!("KUBEBUILDER_ASSETS is not set: {how}"))?;
    match PROGRAMS.iter().find(|p| !dir.join(p).is_file()) {
        Some(missing) => Err(format!("{missing} is not in {}: {how}", dir.display())),
        None => Ok(dir),
    }
}

/// The certificate authority of one cluster and the leaf certificates it signs.
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// A new CA in `dir` (ECDSA P-256: key generation is instant, and every component takes it).
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let pki = Self {
            dir: dir.to_path_buf(),
        };
        pki.issue(
            "ca",
            "/CN=image-pull-secrets-suite-ca",
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
            false,
        );
        pki
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// `NAME.crt` and `NAME.key` for a server on loopback.
    pub fn server(&self, name: &str) {
        self.issue(
            name,
            &format!("/CN={name}"),
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,\
             DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n",
            true,
        );
    }

    /// `NAME.crt` and `NAME.key` for a client with this subject (`/CN=user/O=group`).
    pub fn client(&self, name: &str, subject: &str) {
        self.issue(
            name,
            subject,
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=clientAuth\n",
            true,
        );
    }

    fn issue(&self, name: &str, subject: &str, extensions: &str, signed: bool) {
        let config = self.path(&format!("{name}.cnf"));
        std::fs::write(
            &config,
            format!("[req]\ndistinguished_name=dn\n[dn]\n[ext]\n{extensions}"),
        )
        .unwrap();
        let mut command = Command::new("openssl");
        command
            .args(["req", "-x509", "-new", "-nodes", "-days", "2"])
            .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args(["-subj", subject, "-extensions", "ext", "-config"])
            .arg(&config)
            .arg("-keyout")
            .arg(self.path(&format!("{name}.key")))
            .arg("-out")
            .arg(self.path(&format!("{name}.crt")));
        if signed {
            command
                .arg("-CA")
                .arg(self.path("ca.crt"))
                .arg("-CAkey")
                .arg(self.path("ca.key"));
        }
        run(&mut command);
    }
}

/// Runs a set-up command; panics with its output if it fails.
fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A kubeconfig for `server` with the suite's CA and either a client certificate or a token.
pub fn kubeconfig(path: &Path, server: &str, ca: &Path, user: &str) {
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: suite\n  cluster:\n    server: {server}\n    \
             certificate-authority: {}\nusers:\n- name: suite\n  user:\n{user}contexts:\n- name: suite\n  \
             context: {{cluster: suite, user: suite}}\ncurrent-context: suite\n",
            ca.display()
        ),
    )
    .unwrap();
}

/// The running control plane. Fields drop in order: controller manager, API server, etcd.
pub struct Cluster {
    controller_manager: Guarded,
    apiserver: Guarded,
    etcd: Guarded,
    pub kubectl: Kubectl,
    pub pki: Pki,
    pub server: String,
    /// Every port the control plane listens on (checked free again at the end of the suite).
    pub ports: Vec<u16>,
    /// From the first certificate to the default ServiceAccount.
    pub started_in: Duration,
    audit_log: PathBuf,
}

impl Cluster {
    /// Starts the control plane in `dir` and waits until the API server is ready and the default
    /// ServiceAccount exists (its controller runs in kube-controller-manager).
    pub fn start(assets: &Path, dir: &Path) -> Self {
        let started = Instant::now();
        let pki = Pki::new(&dir.join("pki"));
        pki.server("apiserver");
        pki.client("admin", "/CN=suite-admin/O=system:masters");
        pki.client("kcm", "/CN=system:kube-controller-manager");
        // The service-account token signer: its key signs, its certificate verifies.
        pki.issue(
            "sa",
            "/CN=service-accounts",
            "keyUsage=critical,digitalSignature\n",
            false,
        );
        let [client, peer, metrics, secure, kcm_port] = [(); 5].map(|()| free_port());
        let server = format!("https://127.0.0.1:{secure}");
        // A kubeconfig per client certificate: the suite's admin and the controller manager.
        let [admin, kcm_config] = ["admin", "kcm"].map(|user| {
            let path = dir.join(format!("{user}.kubeconfig"));
            let [crt, key] = ["crt", "key"].map(|ext| pki.path(&format!("{user}.{ext}")));
            let credentials = format!(
                "    client-certificate: {}\n    client-key: {}\n",
                crt.display(),
                key.display()
            );
            kubeconfig(&path, &server, &pki.path("ca.crt"), &credentials);
            path
        });

        let mut etcd = Command::new(assets.join("etcd"));
        let peer_url = format!("http://127.0.0.1:{peer}");
        let client_url = format!("http://127.0.0.1:{client}");
        etcd.args([
            "--name=suite".to_string(),
            format!("--data-dir={}", dir.join("etcd").display()),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--listen-metrics-urls=http://127.0.0.1:{metrics}"),
            "--unsafe-no-fsync".to_string(),
            "--log-level=error".to_string(),
        ])
        // Upstream etcd needs its one member named in the initial cluster; it reads the flag's
        // ETCD_ variable too, which a build without that flag ignores.
        .env("ETCD_INITIAL_CLUSTER", format!("suite={peer_url}"));
        let etcd = Guarded::spawn("etcd", etcd, &dir.join("etcd.log"));

        let file = |name: &str| pki.path(name).display().to_string();
        // Every read the PolicyServers make, in the API server's audit log (written before the
        // answer is sent: the default blocking mode), so cases can check which lookups a request cost.
        let audit_policy = dir.join("audit-policy.yaml");
        std::fs::write(
            &audit_policy,
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\n\
             rules:\n- level: Metadata\n  userGroups: [\"system:serviceaccounts:kubewarden\"]\n  verbs: [get]\n\
             - level: None\n",
        )
        .unwrap();
        let audit_log = dir.join("audit.log");
        let mut apiserver = Command::new(assets.join("kube-apiserver"));
        apiserver.args([
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".to_string(),
            format!("--secure-port={secure}"),
            format!("--etcd-servers={client_url}"),
            format!("--tls-cert-file={}", file("apiserver.crt")),
            format!("--tls-private-key-file={}", file("apiserver.key")),
            format!("--client-ca-file={}", file("ca.crt")),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_string(),
            format!("--service-account-key-file={}", file("sa.crt")),
            format!("--service-account-signing-key-file={}", file("sa.key")),
            "--service-cluster-ip-range=10.96.0.0/16".to_string(),
            "--authorization-mode=Node,RBAC".to_string(),
            "--endpoint-reconciler-type=none".to_string(),
            format!("--cert-dir={}", dir.join("apiserver-certs").display()),
            format!("--audit-policy-file={}", audit_policy.display()),
            format!("--audit-log-path={}", audit_log.display()),
            "--audit-log-format=json".to_string(),
        ]);
        let apiserver = Guarded::spawn("kube-apiserver", apiserver, &dir.join("apiserver.log"));

        let (mut etcd, mut apiserver) = (etcd, apiserver);
        let kubectl = Kubectl::new(&assets.join("kubectl"), &admin);
        wait_until("kube-apiserver /readyz", Duration::from_secs(60), || {
            etcd.assert_running();
            apiserver.assert_running();
            kubectl.run(&["get", "--raw=/readyz"]).ok
        });
        // Started once the API server is ready: it must read its authentication ConfigMap, which
        // RBAC lets it read only after the API server's bootstrap policy is in place.
        let mut kcm = Command::new(assets.join("kube-controller-manager"));
        let kcm_config = kcm_config.display();
        kcm.args([
            format!("--kubeconfig={kcm_config}"),
            format!("--authentication-kubeconfig={kcm_config}"),
            format!("--authorization-kubeconfig={kcm_config}"),
            "--bind-address=127.0.0.1".to_string(),
            format!("--secure-port={kcm_port}"),
            "--leader-elect=false".to_string(),
            "--use-service-account-credentials=true".to_string(),
            format!("--service-account-private-key-file={}", file("sa.key")),
            format!("--root-ca-file={}", file("ca.crt")),
            "--service-cluster-ip-range=10.96.0.0/16".to_string(),
            format!(
                "--cert-dir={}",
                dir.join("controller-manager-certs").display()
            ),
        ]);
        let mut controller_manager = Guarded::spawn(
            "kube-controller-manager",
            kcm,
            &dir.join("controller-manager.log"),
        );
        wait_until(
            "the default ServiceAccount",
            Duration::from_secs(60),
            || {
                controller_manager.assert_running();
                kubectl
                    .run(&["get", "serviceaccount", "default", "-n", "default"])
                    .ok
            },
        );
        Self {
            controller_manager,
            apiserver,
            etcd,
            kubectl,
            pki,
            server,
            ports: vec![client, peer, metrics, secure, kcm_port],
            started_in: started.elapsed(),
            audit_log,
        }
    }

    /// A kubeconfig at `path` for ServiceAccount `namespace/name` (created unless it exists), with
    /// a token the API server issued for it.
    pub fn service_account_kubeconfig(
        &self,
        kubectl: &Kubectl,
        namespace: &str,
        name: &str,
        path: &Path,
    ) {
        if kubectl.get("serviceaccount", namespace, name).is_none() {
            let ran = kubectl.run(&["create", "serviceaccount", name, "-n", namespace]);
            assert!(ran.ok, "{}", ran.all());
        }
        let token = kubectl.run(&["create", "token", name, "-n", namespace, "--duration=2h"]);
        assert!(token.ok, "{}", token.all());
        let user = format!("    token: {}\n", token.stdout.trim());
        kubeconfig(path, &self.server, &self.pki.path("ca.crt"), &user);
    }

    /// How many reads the audit log holds now: a mark for [`Cluster::lookups_since`].
    pub fn lookup_mark(&self) -> usize {
        self.lookups_since(0).len()
    }

    /// The reads Kubewarden's ServiceAccounts made after `mark`, as `"GET secrets ns/name"`.
    pub fn lookups_since(&self, mark: usize) -> Vec<String> {
        let text = std::fs::read_to_string(&self.audit_log).unwrap_or_default();
        let reads: Vec<String> = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| event["stage"] == "ResponseComplete")
            .map(|event| {
                let o = &event["objectRef"];
                if o.is_null() {
                    return format!("GET {}", event["requestURI"].as_str().unwrap_or(""));
                }
                let namespace = o["namespace"]
                    .as_str()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default();
                format!(
                    "GET {} {namespace}{}",
                    o["resource"].as_str().unwrap_or(""),
                    o["name"].as_str().unwrap_or("")
                )
            })
            .collect();
        reads.into_iter().skip(mark).collect()
    }

    /// The PIDs of the control plane's processes.
    pub fn pids(&self) -> Vec<u32> {
        [&self.controller_manager, &self.apiserver, &self.etcd]
            .map(Guarded::pid)
            .to_vec()
    }

    /// The API server's log so far (for a failing case's report).
    pub fn apiserver_log(&self) -> String {
        self.apiserver.log()
    }
}

/// What one kubectl run printed.
#[derive(Debug)]
pub struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// stdout parsed as JSON; panics naming the command's stderr if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    /// Both streams, for text checks.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// kubectl with one kubeconfig, every run recorded so the suite can check what users were shown.
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    transcript: std::sync::Mutex<String>,
}

impl Kubectl {
    pub fn new(binary: &Path, kubeconfig: &Path) -> Self {
        Self {
            binary: binary.to_path_buf(),
            kubeconfig: kubeconfig.to_path_buf(),
            transcript: std::sync::Mutex::default(),
        }
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Runs `kubectl ARGS`, optionally with `stdin`, and records the output.
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Ran {
        use std::io::Write;
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run kubectl: {e}"));
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input
                .write_all(text.as_bytes())
                .expect("write kubectl stdin");
        }
        drop(input);
        let output = child.wait_with_output().expect("kubectl output");
        let ran = Ran {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        // The command line is the suite's own input: a password in it is masked, so the
        // transcript holds only what kubectl printed of the cluster's answers.
        let shown: Vec<&str> = args
            .iter()
            .map(|a| {
                match a.starts_with("--docker-password=") || a.starts_with("--from-literal=") {
                    true => "(a secret value, masked)",
                    false => a,
                }
            })
            .collect();
        self.transcript.lock().unwrap().push_str(&format!(
            "$ kubectl {}\n{}",
            shown.join(" "),
            ran.all()
        ));
        ran
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        self.run_with(args, None)
    }

    /// `kubectl` with the words of `line` as its arguments, as a user types them (no quoting).
    pub fn cmd(&self, line: &str) -> Ran {
        self.run(&line.split_whitespace().collect::<Vec<_>>())
    }

    /// [`Kubectl::cmd`], which must succeed: panics with kubectl's output if it fails.
    pub fn must(&self, line: &str) -> Ran {
        let ran = self.cmd(line);
        assert!(ran.ok, "kubectl {line}: {}", ran.all());
        ran
    }

    /// `kubectl apply -f -` of `manifest`; panics with kubectl's output if it fails.
    pub fn apply(&self, manifest: &str) {
        let ran = self.run_with(&["apply", "-f", "-"], Some(manifest));
        assert!(ran.ok, "kubectl apply failed: {}\n{manifest}", ran.all());
    }

    /// The object `kubectl get KIND NAME -n NS -o json` returns, if any.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let mut args = vec!["get", kind, name, "-o", "json"];
        if !namespace.is_empty() {
            args.extend(["-n", namespace]);
        }
        let ran = self.run(&args);
        ran.ok.then(|| ran.json())
    }

    /// Everything kubectl printed so far.
    pub fn transcript(&self) -> String {
        self.transcript.lock().unwrap().clone()
    }
}
