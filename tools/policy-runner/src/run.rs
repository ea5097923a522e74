//! `run`: evaluate one request against an annotated policy, as `kwctl run` does.
//!
//! Mirrors kwctl's `command/run.rs` and `command/run/evaluator.rs`: build the request, check
//! the settings with the guest, evaluate, and hand back the AdmissionResponse line.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::engine::Limits;
use crate::evaluate::{Evaluator, Settings};
use crate::host::{Cluster, Host};
use crate::metadata::{ExecutionMode, Metadata, PolicyType};
use crate::request::{parse_document, read_input, ValidateRequest};
use crate::session::Session;

#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    pub module_path: String,
    pub request_path: String,
    pub settings: SettingsSource,
    pub allow_context_aware: bool,
    pub replay_path: Option<String>,
    /// Defaults to the module's file stem.
    pub policy_id: Option<String>,
    pub limits: Limits,
    /// Echo the policy's log events and the runner's notes on stderr.
    pub verbose: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SettingsSource {
    #[default]
    Empty,
    Json(String),
    /// A YAML or JSON file, as kwctl's `--settings-path`.
    Path(String),
}

/// The outcome kwctl prints, plus notes meant for stderr.
#[derive(Debug)]
pub struct RunOutput {
    /// The AdmissionResponse as one line of JSON.
    pub response_line: String,
    pub notes: Vec<String>,
}

pub fn run(options: &RunOptions) -> Result<RunOutput> {
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
    let settings = load_settings(&options.settings)?;

    let cluster = match &options.replay_path {
        Some(path) => Cluster::Replay(Session::load(path)?),
        None => Cluster::Unavailable,
    };
    let allowed = Host::allowed_resources(metadata.as_ref(), options.allow_context_aware);
    let host = Arc::new(Host::new(allowed, cluster, options.verbose));
    let policy_id = options
        .policy_id
        .clone()
        .unwrap_or_else(|| file_stem(&options.module_path));
    let evaluator = Evaluator::new(&module, options.limits, host, policy_id, metadata)?;

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

fn load_settings(source: &SettingsSource) -> Result<Settings> {
    let (value, origin) = match source {
        SettingsSource::Empty => return Ok(Settings::new()),
        SettingsSource::Json(text) => (
            serde_json::from_str::<Value>(text).context("--settings-json is not valid JSON")?,
            "--settings-json".to_owned(),
        ),
        SettingsSource::Path(path) => {
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
        assert_eq!(
            load_settings(&SettingsSource::Empty).unwrap(),
            Settings::new()
        );
        let settings = load_settings(&SettingsSource::Json(r#"{"a": [1]}"#.into())).unwrap();
        assert_eq!(Value::Object(settings), serde_json::json!({"a": [1]}));
        let err = load_settings(&SettingsSource::Json("[1]".into()))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
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
