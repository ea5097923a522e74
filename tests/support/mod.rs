//! What the packaging tests share: the repository's files, what an operator copies from us, a
//! scratch folder, and the real kwctl and helm (`KWCTL`, `HELM`; the Makefile sets both). Each
//! test binary uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use serde_yaml::Value;

pub mod form;

pub const METADATA: &str = "policy-metadata.yaml";
pub const QUESTIONS: &str = "questions-ui.yml";

pub fn read(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `text` as YAML, or a panic naming `what`.
pub fn parse(what: &str, text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{what} is not valid YAML ({e}): {text}"))
}

pub fn yaml(file: &str) -> Value {
    parse(file, &read(file))
}

/// A `policy-metadata.yaml` annotation.
pub fn annotation(key: &str) -> String {
    let value = &yaml(METADATA)["annotations"][key];
    let text = value.as_str();
    text.unwrap_or_else(|| panic!("{METADATA}: annotation {key} must be a string, found {value:?}"))
        .to_string()
}

/// The program `var` names, or `None` after saying on stderr which check did not run: a missing
/// kwctl or helm must never look like a pass.
pub fn program(var: &str, check: &str) -> Option<String> {
    let found = std::env::var(var)
        .ok()
        .filter(|program| !program.is_empty());
    if found.is_none() {
        eprintln!(
            "NOT RUN: {check}: set {var} (the Makefile sets KWCTL to kwctl 1.36, HELM to helm 4)"
        );
    }
    found
}

/// A scratch directory, removed on drop; kwctl's and helm's XDG folders live in it.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    pub fn path(&self, name: &str) -> String {
        self.0
            .path()
            .join(name)
            .to_str()
            .expect("a UTF-8 temp dir")
            .to_string()
    }

    /// Runs `program` from the repository root with its XDG folders here (it would write to $HOME).
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// What `program` prints on stdout; a failure panics with all it printed.
    pub fn ok(&self, program: &str, args: &[&str]) -> String {
        let output = self.run(program, args);
        let printed =
            String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{program} {}: {printed}",
            args.join(" ")
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// The module as distributed: `policy.wasm` annotated by kwctl with the metadata as it is now.
    pub fn annotated_module(&self, kwctl: &str) -> String {
        let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy.wasm");
        assert!(
            built.is_file(),
            "{} is missing: run `make policy.wasm`",
            built.display()
        );
        let annotated = self.path("annotated-policy.wasm");
        self.ok(
            kwctl,
            &["annotate", "-m", METADATA, "-o", &annotated, "policy.wasm"],
        );
        annotated
    }
}

/// Every setting path the Rancher form asks for: `rules`, `rules[].secret`,
/// `rules[].namespaceSelector.matchExpressions[].key`, ... A `sequence[` question's items are
/// under `path[]`; a `map[` question's sub-questions carry the dotted path from the question's
/// own container (`namespaceSelector.matchLabels` inside a rule).
pub fn question_paths(questions: &Value, prefix: &str, into: &mut Vec<String>) {
    for question in questions.as_sequence().expect("questions are a list") {
        let path = format!(
            "{prefix}{}",
            question["variable"].as_str().expect("a variable")
        );
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

/// The first ```yaml block after `marker` in `file` (the README's settings example and values).
pub fn yaml_block_after(file: &str, marker: &str) -> String {
    let text = read(file);
    let block = text
        .split_once(marker)
        .and_then(|(_, after)| after.split_once("```yaml\n"))
        .and_then(|(_, block)| block.split_once("\n```"));
    block
        .unwrap_or_else(|| panic!("{file}: no ```yaml block after {marker:?}"))
        .0
        .to_string()
}

/// The non-empty documents of a multi-document YAML text.
pub fn documents(what: &str, text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| {
            serde::Deserialize::deserialize(document)
                .unwrap_or_else(|e| panic!("{what}: a document is not YAML: {e}"))
        })
        .filter(|document: &Value| !document.is_null())
        .collect()
}

/// The policy's `validate_settings` answer to `settings`: `Err` holds its message.
pub fn validate_settings(settings: &impl serde::Serialize) -> Result<(), String> {
    let settings = serde_json::to_vec(settings).unwrap();
    let answer = image_pull_secrets::validate_settings(&settings).unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    match answer["valid"].as_bool() {
        Some(true) => Ok(()),
        _ => Err(answer["message"].as_str().unwrap_or_default().to_string()),
    }
}

/// Panics, naming `what`, unless the policy accepts `settings`.
pub fn assert_accepted(what: &str, settings: &Value) {
    if let Err(e) = validate_settings(settings) {
        panic!("{what}: the policy refuses these settings: {e}");
    }
}

/// A text an operator copies from us: an applied yaml block of the README or of a `docs/` page,
/// or a file of `examples/install/`.
pub struct Copyable {
    /// The page or file it comes from.
    pub file: String,
    /// `README.md, yaml block 3` (its place among the page's yaml blocks), or the file.
    pub source: String,
    pub text: String,
}

/// Everything an operator copies from us, file by file in a stable order. A page's yaml blocks
/// are copied when applied as they stand (those naming an `apiVersion` or a `module`: manifests
/// and `policies.yml`); settings, values, requests and sketches are not.
pub fn copyables() -> Vec<Copyable> {
    let listed = |dir: &str, ext: &str| {
        let entries = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).unwrap();
        let names = entries.map(|entry| entry.unwrap().file_name().into_string().unwrap());
        let mut found: Vec<String> = names
            .filter(|name| name.ends_with(ext))
            .map(|name| format!("{dir}/{name}"))
            .collect();
        found.sort();
        found
    };
    let mut all = Vec::new();
    for page in std::iter::once("README.md".to_string()).chain(listed("docs", ".md")) {
        let text = read(&page);
        let blocks = text
            .split("```yaml\n")
            .skip(1)
            .map(|block| block.split("\n```").next());
        for (index, block) in blocks.map(Option::unwrap_or_default).enumerate() {
            let applied = |line: &str| {
                line.starts_with("apiVersion:") || line.trim_start().starts_with("module:")
            };
            if block.lines().any(applied) {
                let source = format!("{page}, yaml block {}", index + 1);
                all.push(Copyable {
                    file: page.clone(),
                    source,
                    text: format!("{block}\n"),
                });
            }
        }
    }
    for file in listed("examples/install", ".yaml") {
        all.push(Copyable {
            source: file.clone(),
            text: read(&file),
            file,
        });
    }
    all
}
