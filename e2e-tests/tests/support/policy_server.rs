//! The real Kubewarden PolicyServer as a child process: loopback ports, scratch XDG and download
//! folders, `KUBECONFIG` at the cluster; readiness is polled and AdmissionReviews are posted to
//! `POST /validate/<policy-id>` over plain HTTP (no certificate given, so no TLS).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::process::{free_port, wait_until, Guarded};

pub struct PolicyServer {
    process: Guarded,
    port: u16,
    agent: ureq::Agent,
}

/// How PolicyServer is started; `policies` is the text of `policies.yml`.
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub dir: &'a Path,
    pub policies: &'a str,
    pub kubeconfig: &'a Path,
    /// A `--sources-path` file (insecure registries), if any.
    pub sources: Option<&'a Path>,
    /// Run with RUST_BACKTRACE=1, which appends a backtrace to every host error text the policy
    /// reads. Production PolicyServers usually run without it; a policy must cope with both.
    pub rust_backtrace: bool,
    /// Serve HTTPS with this certificate and key (as the API server calls webhooks), else HTTP.
    pub tls: Option<(&'a Path, &'a Path)>,
}

/// A plain-HTTP client that hands back 4xx/5xx answers instead of failing on them.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

impl PolicyServer {
    /// Starts PolicyServer and waits (up to `ready_within`) until its readiness probe answers 200.
    pub fn start(launch: &Launch, ready_within: Duration) -> Self {
        Self::start_on(launch, free_port(), ready_within)
    }

    /// Starts PolicyServer serving on `port` (a restart keeps the port its webhooks call).
    pub fn start_on(launch: &Launch, port: u16, ready_within: Duration) -> Self {
        let dir = std::path::absolute(launch.dir).expect("absolute scratch dir");
        let downloads = dir.join("policies-download");
        let xdg = dir.join("xdg");
        for d in [&downloads, &xdg] {
            std::fs::create_dir_all(d).unwrap();
        }
        let policies = dir.join("policies.yml");
        std::fs::write(&policies, launch.policies).unwrap();
        let readiness_port = free_port();
        let mut command = Command::new(launch.binary);
        command.args(["--addr", "127.0.0.1", "--workers", "2", "--log-no-color"]);
        command.args(["--port", &port.to_string()]);
        command.args(["--readiness-probe-port", &readiness_port.to_string()]);
        for (flag, path) in [
            ("--policies", policies),
            ("--policies-download-dir", downloads),
            ("--sigstore-cache-dir", dir.join("sigstore-data")),
        ] {
            command.arg(flag).arg(path);
        }
        for (var, folder) in [
            ("XDG_CACHE_HOME", "cache"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
        ] {
            command.env(var, xdg.join(folder));
        }
        command
            .env("KUBECONFIG", launch.kubeconfig)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .current_dir(&dir);
        if launch.rust_backtrace {
            command.env("RUST_BACKTRACE", "1");
        }
        if let Some((cert, key)) = launch.tls {
            command
                .arg("--cert-file")
                .arg(cert)
                .arg("--key-file")
                .arg(key);
        }
        if let Some(sources) = launch.sources {
            command.arg("--sources-path").arg(sources);
        }
        let mut process = Guarded::spawn("policy-server", command, &dir.join("policy-server.log"));
        let agent = http_agent();
        let readiness = format!("http://127.0.0.1:{readiness_port}/readiness");
        wait_until("policy-server readiness", ready_within, || {
            process.assert_running();
            agent
                .get(&readiness)
                .call()
                .is_ok_and(|r| r.status().as_u16() == 200)
        });
        Self {
            process,
            port,
            agent,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The loopback port serving `POST /validate/<policy-id>` (for a load generator).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything PolicyServer has logged so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Posts `request` (an AdmissionRequest) wrapped in an admission.k8s.io/v1 AdmissionReview
    /// and returns the whole answer body with its HTTP status.
    pub fn validate(&self, policy_id: &str, request: &Value) -> (u16, Value) {
        let review = json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": request,
        });
        let url = format!("http://127.0.0.1:{}/validate/{policy_id}", self.port);
        let mut response = self
            .agent
            .post(&url)
            .send_json(&review)
            .unwrap_or_else(|e| panic!("POST {url}: {e}\n{}", self.log()));
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
        (status, body)
    }

    pub fn stop(&mut self) {
        self.process.stop();
    }
}
