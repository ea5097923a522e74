//! What the packaging tests share: the repository's files, a scratch folder, and the real kwctl
//! when one is at hand (`KWCTL`; `make unit-tests` finds it). Each test binary uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod form;

pub const METADATA: &str = "policy-metadata.yaml";

pub fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(file: &str) -> String {
    let path = repository().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn yaml(file: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&read(file)).unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"))
}

/// The real kwctl to check against: `KWCTL`.
pub fn real_kwctl() -> Option<String> {
    std::env::var("KWCTL")
        .ok()
        .filter(|kwctl| !kwctl.is_empty())
}

/// Says which check did not run, on stderr (shown by `cargo test -- --nocapture` and in
/// `make test`'s failure output): a missing kwctl must never look like a pass.
pub fn not_run(what: &str) {
    eprintln!("NOT RUN: {what}: set KWCTL to the real kwctl (make unit-tests finds it)");
}

/// A scratch directory, removed on drop; kwctl's XDG folders live in it.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ips-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Runs kwctl or helm from the repository root with their XDG folders here (they would
    /// write to $HOME).
    pub fn run<I, S>(&self, program: impl AsRef<std::ffi::OsStr>, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let program = program.as_ref();
        Command::new(program)
            .current_dir(repository())
            .args(args)
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", Path::new(program).display()))
    }

    /// The module as distributed: `policy.wasm` annotated by kwctl with the metadata as it is
    /// now. `make unit-tests` builds `policy.wasm` first when it has a real kwctl.
    pub fn annotated_module(&self, kwctl: &str) -> PathBuf {
        let built = repository().join("policy.wasm");
        assert!(
            built.is_file(),
            "{} is missing: run `make policy.wasm` (make unit-tests does)",
            built.display()
        );
        let annotated = self.path("annotated-policy.wasm");
        let output = self.run(
            kwctl,
            [
                "annotate".as_ref(),
                "-m".as_ref(),
                METADATA.as_ref(),
                "-o".as_ref(),
                annotated.as_os_str(),
                built.as_os_str(),
            ],
        );
        assert!(
            output.status.success(),
            "{kwctl} annotate failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        annotated
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub const QUESTIONS: &str = "questions-ui.yml";

/// Every setting path the Rancher form asks for: `rules`, `rules[].secret`,
/// `rules[].namespaceSelector.matchExpressions[].key`, ... A `sequence[` question's items are
/// under `path[]`; a `map[` question's sub-questions carry the dotted path from the question's
/// own container (`namespaceSelector.matchLabels` inside a rule).
pub fn question_paths(questions: &serde_yaml::Value, prefix: &str, into: &mut Vec<String>) {
    let questions = questions
        .as_sequence()
        .unwrap_or_else(|| panic!("{QUESTIONS}: questions must be a list, found {questions:?}"));
    for question in questions {
        let variable = question["variable"]
            .as_str()
            .unwrap_or_else(|| panic!("{QUESTIONS}: a question without a variable: {question:?}"));
        let path = format!("{prefix}{variable}");
        assert!(!into.contains(&path), "{QUESTIONS}: {path} is asked twice");
        into.push(path.clone());
        if !question["sequence_questions"].is_null() {
            question_paths(&question["sequence_questions"], &format!("{path}[]."), into);
        }
        if !question["subquestions"].is_null() {
            question_paths(&question["subquestions"], prefix, into);
        }
    }
}

/// Helm 4 for the chart's tests: `HELM` (the Makefile sets it from `KUBEBUILDER_ASSETS` or PATH),
/// else `$KUBEBUILDER_ASSETS/helm`.
pub fn helm() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    set("HELM").map(PathBuf::from).or_else(|| {
        set("KUBEBUILDER_ASSETS")
            .map(|dir| Path::new(&dir).join("helm"))
            .filter(|helm| helm.is_file())
    })
}

/// Says which chart check did not run, and how to get helm: never a silent pass.
pub fn not_run_without_helm(what: &str) {
    eprintln!(
        "NOT RUN: {what}: set HELM to helm 4, or KUBEBUILDER_ASSETS to a folder holding it \
         (../shared/kubernetes/unpack DIR; .ci/run does)"
    );
}

/// The ```yaml blocks of a Markdown text that are applied as they stand (manifests and
/// `policies.yml`: those naming an `apiVersion` or a `module`), with their 1-based index among
/// all the text's yaml blocks. Settings, values, requests and sketches are not applied.
pub fn applied_yaml_blocks(text: &str) -> Vec<(usize, &str)> {
    text.split("```yaml\n")
        .skip(1)
        .map(|block| block.split("\n```").next().unwrap_or_default())
        .enumerate()
        .filter(|(_, block)| {
            block.lines().any(|line| {
                line.starts_with("apiVersion:") || line.trim_start().starts_with("module:")
            })
        })
        .map(|(index, block)| (index + 1, block))
        .collect()
}

/// The first ```yaml block after `marker` in `file` (the README's settings example and values).
pub fn yaml_block_after(file: &str, marker: &str) -> String {
    let text = read(file);
    text.split_once(marker)
        .and_then(|(_, after)| after.split_once("```yaml\n"))
        .and_then(|(_, block)| block.split_once("\n```"))
        .unwrap_or_else(|| panic!("{file}: no ```yaml block after {marker:?}"))
        .0
        .to_string()
}

/// The non-empty documents of a multi-document YAML text.
pub fn documents(what: &str, text: &str) -> Vec<serde_yaml::Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| {
            serde::Deserialize::deserialize(document)
                .unwrap_or_else(|e| panic!("{what}: a document is not YAML: {e}"))
        })
        .filter(|document: &serde_yaml::Value| !document.is_null())
        .collect()
}

/// Panics, naming `what`, unless the policy accepts `settings`.
pub fn assert_accepted(what: &str, settings: &serde_yaml::Value) {
    let json: serde_json::Value = serde_yaml::from_value(settings.clone()).unwrap();
    if let Err(e) = image_pull_secrets::Settings::from_slice(json.to_string().as_bytes()) {
        panic!("{what}: the policy refuses these settings: {e}");
    }
}

/// A `policy-metadata.yaml` annotation.
pub fn annotation(key: &str) -> String {
    yaml(METADATA)["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("{METADATA}: annotation {key} must be a string"))
        .to_string()
}

/// Every path a value reaches (`rules[].namespaceSelector.matchLabels.team`, ...): a mapping's
/// own path too, list items under `path[]`.
pub fn field_paths(value: &serde_json::Value, prefix: &str, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = format!("{prefix}{key}");
                into.push(path.clone());
                field_paths(inner, &format!("{path}."), into);
            }
        }
        serde_json::Value::Array(items) => {
            let path = prefix.trim_end_matches('.');
            for item in items {
                field_paths(item, &format!("{path}[]."), into);
            }
        }
        _ => {}
    }
}

/// A text an operator copies from us: an applied yaml block of the README or of a `docs/` page
/// (`index`: its place among the page's yaml blocks), or a file of `examples/install/`.
pub struct Copyable {
    pub file: String,
    pub index: Option<usize>,
    pub text: String,
}

impl Copyable {
    /// `README.md, yaml block 3` or the file's path.
    pub fn source(&self) -> String {
        match self.index {
            Some(index) => format!("{}, yaml block {index}", self.file),
            None => self.file.clone(),
        }
    }
}

/// Everything an operator copies from us, file by file in a stable order.
pub fn copyables() -> Vec<Copyable> {
    let listed = |dir: &str, ext: &str| {
        let mut found: Vec<String> = std::fs::read_dir(repository().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(ext))
            .map(|name| format!("{dir}/{name}"))
            .collect();
        found.sort();
        found
    };
    let mut pages = vec!["README.md".to_string()];
    pages.extend(listed("docs", ".md"));
    let mut all = Vec::new();
    for page in pages {
        let text = read(&page);
        all.extend(
            applied_yaml_blocks(&text)
                .into_iter()
                .map(|(index, block)| Copyable {
                    file: page.clone(),
                    index: Some(index),
                    text: format!("{block}\n"),
                }),
        );
    }
    all.extend(
        listed("examples/install", ".yaml")
            .into_iter()
            .map(|file| Copyable {
                text: read(&file),
                file,
                index: None,
            }),
    );
    all
}
