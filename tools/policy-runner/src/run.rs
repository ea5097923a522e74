//! `run`: evaluate one request against an annotated policy, as `kwctl run` does.
//!
//! Mirrors kwctl's `command/run.rs` and `command/run/evaluator.rs`: build the request, check
//! the settings with the guest, evaluate, and hand back the AdmissionResponse line.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cli::RunArgs;
use crate::evaluate::{Evaluator, Settings};
use crate::host::{Cluster, Host};
use crate::metadata::{ExecutionMode, Metadata, PolicyType};
use crate::request::{parse_document, read_input, ValidateRequest};
use crate::session::Session;

/// The outcome kwctl prints, plus notes meant for stderr.
#[derive(Debug)]
pub struct RunOutput {
    /// The AdmissionResponse as one line of JSON.
    pub response_line: String,
    pub notes: Vec<String>,
}

pub fn run(options: &RunArgs) -> Result<RunOutput> {
    let mut notes = Vec::new();
    let module = std::fs::read(&options.module_path)
        .with_context(|| format!("cannot read {}", options.module_path))?;
    let metadata = Metadata::from_module(&module)
        .with_context(|| format!("cannot read the metadata of {}", options.module_path))?;
    match &metadata {
        None => notes.push(format!(
            "{} is not annotated: no access to Kubernetes resources, mutations are not checked",
            options.module_path
        )),
        Some(m) if m.execution_mode != ExecutionMode::KubewardenWapc => bail!(
            "{} declares executionMode {:?}; policy-runner runs kubewarden-wapc policies only",
            options.module_path,
            m.execution_mode
        ),
        Some(m) if !m.context_aware_resources.is_empty() && !options.allow_context_aware => notes.push(
            "the policy requires access to Kubernetes resources, denied in this run: pass --allow-context-aware".to_owned(),
        ),
        Some(_) => {}
    }

    let raw = metadata
        .as_ref()
        .is_some_and(|m| m.policy_type == PolicyType::Raw);
    let document = parse_document(&read_input(&options.request_path)?, &options.request_path)?;
    let request = ValidateRequest::from_document(document, raw)?;
    let settings = load_settings(options)?;

    let cluster = match &options.replay_host_capabilities_interactions {
        Some(path) => Cluster::Replay(Session::load(path)?),
        None => Cluster::Unavailable,
    };
    let allowed = Host::allowed_resources(metadata.as_ref(), options.allow_context_aware);
    let host = Arc::new(Host::new(allowed, cluster, options.verbose));
    let policy_id = options
        .policy_id
        .clone()
        .unwrap_or_else(|| file_stem(&options.module_path));
    let limits = options.limits.limits();
    let cache = !options.disable_wasmtime_cache;
    let evaluator = Evaluator::new(&module, limits, cache, host, policy_id, metadata)?;

    let verdict = evaluator.validate_settings(&settings)?;
    if !verdict.valid {
        bail!(
            "Provided settings are not valid: {}",
            verdict.message.unwrap_or_default()
        );
    }
    let response = evaluator.validate(&request, &settings)?;

    let unreplayed = evaluator.host().unreplayed_exchanges();
    if unreplayed > 0 {
        notes.push(format!(
            "{unreplayed} recorded host exchange(s) were not replayed"
        ));
    }
    Ok(RunOutput {
        response_line: serde_json::to_string(&response)?,
        notes,
    })
}

fn load_settings(options: &RunArgs) -> Result<Settings> {
    let (value, origin) = match (&options.settings_json, &options.settings_path) {
        (None, None) => return Ok(Settings::new()),
        (Some(text), _) => (
            serde_json::from_str::<Value>(text).context("--settings-json is not valid JSON")?,
            "--settings-json".to_owned(),
        ),
        (None, Some(path)) => {
            let text = read_input(path)?;
            // An empty file is an empty YAML document: no settings.
            if text.trim().is_empty() {
                return Ok(Settings::new());
            }
            (parse_document(&text, path)?, path.clone())
        }
    };
    match value {
        Value::Object(settings) => Ok(settings),
        Value::Null => Ok(Settings::new()),
        other => bail!("{origin}: settings must be a mapping, found {other}"),
    }
}

fn file_stem(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_must_be_a_mapping() {
        use clap::Parser;
        let args = |extra: &[&str]| {
            let line = ["policy-runner", "run", "-r", "r"]
                .iter()
                .chain(extra)
                .chain(&["m"]);
            match crate::cli::Cli::parse_from(line).command {
                crate::cli::Command::Run(args) => args,
                _ => unreachable!(),
            }
        };
        assert_eq!(load_settings(&args(&[])).unwrap(), Settings::new());
        let settings = load_settings(&args(&["--settings-json", r#"{"a": [1]}"#])).unwrap();
        assert_eq!(Value::Object(settings), serde_json::json!({"a": [1]}));
        let err = load_settings(&args(&["--settings-json", "[1]"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--settings-json: settings must be a mapping, found [1]"
        );
    }

    #[test]
    fn policy_id_defaults_to_the_file_stem() {
        assert_eq!(
            file_stem("target/annotated-policy.wasm"),
            "annotated-policy"
        );
    }
}
