//! Debian's `docker-registry` (the CNCF distribution registry) on a loopback port with filesystem
//! storage in a scratch folder, and `kwctl push` to it over plain HTTP; kwctl with its caches and
//! configuration in a scratch folder.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::policy_server::http_agent;
use super::process::{free_port, wait_until, Guarded};

pub struct Registry {
    process: Guarded,
    port: u16,
    sources: PathBuf,
}

impl Registry {
    /// Starts `docker-registry serve` in `dir` and waits until `GET /v2/` answers 200.
    pub fn start(dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("storage")).unwrap();
        let port = free_port();
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("storage").display()
            ),
        )
        .unwrap();
        // kwctl and PolicyServer talk plain HTTP only to the hosts listed here.
        let sources = dir.join("sources.yml");
        std::fs::write(
            &sources,
            format!("insecure_sources:\n  - \"127.0.0.1:{port}\"\n"),
        )
        .unwrap();
        // Debian's package docker-registry (`make setup-registry`).
        let mut command = Command::new("docker-registry");
        command.arg("serve").arg(&config).current_dir(dir);
        let mut process = Guarded::spawn("docker-registry", command, &dir.join("registry.log"));
        let agent = http_agent();
        let url = format!("http://127.0.0.1:{port}/v2/");
        wait_until("docker-registry", Duration::from_secs(20), || {
            process.assert_running();
            agent
                .get(&url)
                .call()
                .is_ok_and(|r| r.status().as_u16() == 200)
        });
        Self {
            process,
            port,
            sources,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `--sources-path` file marking this registry insecure (plain HTTP).
    pub fn sources(&self) -> &Path {
        &self.sources
    }

    /// `registry://127.0.0.1:PORT/<repository>`.
    pub fn uri(&self, repository: &str) -> String {
        format!("registry://127.0.0.1:{}/{repository}", self.port)
    }

    /// Pushes `module` to `uri` with `kwctl push`; panics with kwctl's output if it fails.
    pub fn push(&self, kwctl: &Path, module: &Path, uri: &str, xdg: &Path) {
        let output = kwctl_command(kwctl, xdg)
            .arg("push")
            .arg("--sources-path")
            .arg(&self.sources)
            .arg(module)
            .arg(uri)
            .output()
            .expect("run kwctl push");
        assert!(
            output.status.success(),
            "kwctl push {} {uri} failed ({}):\n{}{}\nregistry log:\n{}",
            module.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.process.log()
        );
    }
}

/// `kwctl` with its caches, configuration and data under `xdg`, loopback reached directly.
pub fn kwctl_command(kwctl: &Path, xdg: &Path) -> Command {
    let mut command = Command::new(kwctl);
    for (var, folder) in [
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
    ] {
        command.env(var, xdg.join(folder));
    }
    command.env("NO_PROXY", "127.0.0.1,localhost");
    command
}
