//! `policy-runner annotate` against the real `kwctl annotate`, when `KWCTL_REAL` (or `KWCTL`)
//! names one: the same inputs must give the same `io.kubewarden.metadata` section, which
//! `kwctl inspect` then shows the same way. Skipped, with a note, without a real kwctl.
//!
//! The one difference allowed is `io.kubewarden.kwctl`, the version stamp kwctl adds to say
//! which kwctl annotated the module; the runner is not kwctl and does not claim to be.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use policy_runner::metadata::CUSTOM_SECTION;
use policy_runner::wasm_sections::find_custom_section;
use serde_json::Value;

use crate::guest::Guest;

const KWCTL_VERSION_ANNOTATION: &str = "io.kubewarden.kwctl";

/// A real kwctl: `KWCTL_REAL`, else `KWCTL` unless it names our runner.
fn real_kwctl() -> Option<String> {
    let set = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    set("KWCTL_REAL").or_else(|| set("KWCTL").filter(|kwctl| !kwctl.ends_with("policy-runner")))
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("policy-runner-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs kwctl with its XDG folders in the scratch directory (it would write to $HOME).
fn kwctl(kwctl: &str, scratch: &Scratch, args: &[OsString]) -> Output {
    Command::new(kwctl)
        .args(args)
        .env("XDG_CACHE_HOME", scratch.path("cache"))
        .env("XDG_CONFIG_HOME", scratch.path("config"))
        .env("XDG_DATA_HOME", scratch.path("data"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {kwctl}: {e}"))
}

fn runner(args: &[OsString]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_policy-runner"))
        .args(args)
        .output()
        .unwrap()
}

fn section(module: &Path) -> Value {
    let bytes = std::fs::read(module).unwrap();
    let payload = find_custom_section(&bytes, CUSTOM_SECTION)
        .unwrap()
        .unwrap_or_else(|| panic!("{} has no {CUSTOM_SECTION} section", module.display()));
    serde_json::from_slice(payload).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The policy module and whether it is the real one: the repository's `policy.wasm` when it
/// has been built (kwctl then also checks its host calls against the metadata), else a guest
/// that only answers `protocol_version`.
fn module(scratch: &Scratch) -> (PathBuf, bool) {
    let built = repository().join("policy.wasm");
    if built.is_file() {
        return (built, true);
    }
    let guest = scratch.path("guest.wasm");
    std::fs::write(&guest, Guest::new().wasm()).unwrap();
    (guest, false)
}

#[test]
fn annotate_writes_the_metadata_section_kwctl_annotate_writes() {
    let Some(kwctl_path) = real_kwctl() else {
        eprintln!("skipped: set KWCTL_REAL (or KWCTL) to a real kwctl to compare annotate");
        return;
    };
    let scratch = Scratch::new("kwctl-parity");
    let (module, is_the_policy) = module(&scratch);
    let metadata = repository().join("policy-metadata.yaml");
    let readme = repository().join("README.md");
    let by_kwctl = scratch.path("by-kwctl.wasm");
    let by_runner = scratch.path("by-runner.wasm");
    let annotate = |output: &Path| -> Vec<OsString> {
        let paths = [&metadata, &readme, output, &module].map(|path| path.as_os_str().to_owned());
        let [metadata, readme, output, module] = paths;
        [
            "annotate".into(),
            "-m".into(),
            metadata,
            "-u".into(),
            readme,
            "-o".into(),
            output,
            module,
        ]
        .into()
    };

    let kwctl_run = kwctl(&kwctl_path, &scratch, &annotate(&by_kwctl));
    assert!(
        kwctl_run.status.success(),
        "kwctl annotate: {}",
        stderr(&kwctl_run)
    );
    if is_the_policy {
        // The declared hostCapabilities match the calls kwctl finds in the module, and so on.
        assert!(
            !stderr(&kwctl_run).to_lowercase().contains("warn"),
            "kwctl annotate warns on our files: {}",
            stderr(&kwctl_run)
        );
    }
    let runner_run = runner(&annotate(&by_runner));
    assert!(
        runner_run.status.success(),
        "policy-runner annotate: {}",
        stderr(&runner_run)
    );
    assert_eq!(
        stderr(&runner_run),
        "",
        "policy-runner annotate warns on our files"
    );

    let mut expected = section(&by_kwctl);
    let stamp = expected["annotations"]
        .as_object_mut()
        .and_then(|annotations| annotations.remove(KWCTL_VERSION_ANNOTATION));
    assert!(stamp.is_some(), "kwctl stamps {KWCTL_VERSION_ANNOTATION}");
    assert_eq!(
        section(&by_runner),
        expected,
        "the runner's {CUSTOM_SECTION} section differs from kwctl's"
    );

    // And kwctl reads both back alike, with no warning on either.
    let inspect = |module: &Path| -> String {
        let args = [
            "inspect".into(),
            "-o".into(),
            "yaml".into(),
            module.as_os_str().to_owned(),
        ];
        let output = kwctl(&kwctl_path, &scratch, &args);
        assert!(
            output.status.success(),
            "kwctl inspect: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).to_lowercase().contains("warn"),
            "kwctl inspect warns: {}",
            stderr(&output)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with(KWCTL_VERSION_ANNOTATION))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(inspect(&by_runner), inspect(&by_kwctl));
}

/// kwctl annotate takes no questions file (the Rancher form goes into artifacthub-pkg.yml through
/// `kwctl scaffold artifacthub --questions-path`): both tools refuse the flag and write nothing.
#[test]
fn annotate_refuses_a_questions_path_as_kwctl_does() {
    let scratch = Scratch::new("kwctl-questions");
    let (module, _) = module(&scratch);
    let metadata = repository().join("policy-metadata.yaml");
    let questions = repository().join("questions-ui.yml");
    let output = scratch.path("never.wasm");
    let args: Vec<OsString> = vec![
        "annotate".into(),
        "-m".into(),
        metadata.into(),
        "--questions-path".into(),
        questions.into(),
        "-o".into(),
        output.clone().into(),
        module.into(),
    ];

    let by_runner = runner(&args);
    assert!(!by_runner.status.success());
    assert!(
        stderr(&by_runner).contains("--questions-path"),
        "{}",
        stderr(&by_runner)
    );
    assert!(!output.exists());

    if let Some(kwctl_path) = real_kwctl() {
        let by_kwctl = kwctl(&kwctl_path, &scratch, &args);
        assert!(
            !by_kwctl.status.success(),
            "kwctl annotate accepted --questions-path"
        );
        assert!(
            stderr(&by_kwctl).contains("--questions-path"),
            "{}",
            stderr(&by_kwctl)
        );
        assert!(!output.exists());
    }
}
