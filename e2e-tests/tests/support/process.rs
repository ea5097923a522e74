//! Child processes owned by a test: each is killed by its own PID and waited on when its guard
//! drops, on success and on panic alike, so no registry or PolicyServer outlives the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The PIDs of every child started and not yet stopped, for [`scratch`]'s interrupt handler.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A fresh temporary folder named `prefix…`. On SIGINT, SIGTERM or SIGHUP, every child still
/// running is killed (by its PID), the folder removed, and the program exits 130: a suite
/// interrupted by the user or by CI's time limit leaves no process or file behind.
pub fn scratch(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("a scratch folder");
    let path = dir.path().to_path_buf();
    ctrlc::set_handler(move || {
        for pid in LIVE.lock().map(|l| l.clone()).unwrap_or_default() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
        std::thread::sleep(Duration::from_millis(200));
        let _ = std::fs::remove_dir_all(&path);
        eprintln!(
            "interrupted: stopped every process the suite started and removed {}",
            path.display()
        );
        std::process::exit(130);
    })
    .expect("install the interrupt handler");
    dir
}

/// Whether a process with this PID is still running (and not a zombie).
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// A started child whose stdout and stderr go to one log file.
pub struct Guarded {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Guarded {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Self {
        let file = std::fs::File::create(log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        LIVE.lock().unwrap().push(child.id());
        Self {
            name: name.to_string(),
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Everything the child has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the log if the child has already exited.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{} exited early ({status}); its log:\n{}",
                    self.name,
                    self.log()
                );
            }
        }
    }

    /// Kills the child (by its PID) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            LIVE.lock().unwrap().retain(|&pid| pid != child.id());
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port that was free a moment ago (for programs that cannot report the one they bound).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("an ephemeral loopback port")
        .port()
}

/// Polls `ready` every 100 ms until it holds; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < timeout,
            "{what} not ready after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The path of a required binary from an environment variable, or a clear failure. `binary`
/// names the real Kubewarden program the variable must point at (`kwctl`, `policy-server`).
pub fn binary_from_env(var: &str, binary: &str) -> PathBuf {
    let Ok(path) = std::env::var(var) else {
        panic!("{var} is not set: point it at the real {binary}, e.g. {var}=/work/shared/kubewarden/{binary}");
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{var}={} does not exist: point it at the real {binary}",
        path.display()
    );
    // Another program under the same name (a wrapper, an old build) cannot push nor record.
    let version = Command::new(&path)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {var}={}: {e}", path.display()));
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with(&format!("{binary} ")),
        "{var}={} is not the real {binary} (its --version says {:?})",
        path.display(),
        version.lines().next().unwrap_or_default()
    );
    path
}
