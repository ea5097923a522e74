//! `annotate`: embed validated metadata into a policy module, as `kwctl annotate` does.
//!
//! Mirrors kwctl's `annotate.rs`: the metadata YAML is read, the protocol version is asked
//! of the guest, the usage text becomes an annotation, and the result must validate.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use crate::cli::AnnotateArgs;
use crate::engine::Limits;
use crate::evaluate::Evaluator;
use crate::host::Host;
use crate::metadata::{ExecutionMode, Metadata, ANNOTATION_USAGE, CUSTOM_SECTION};
use crate::wasm_sections;

/// Writes the annotated module; returns warnings for the user (unknown metadata keys).
pub fn annotate(options: &AnnotateArgs) -> Result<Vec<String>> {
    let module = std::fs::read(&options.module_path)
        .with_context(|| format!("cannot read {}", options.module_path))?;
    let metadata_text = std::fs::read_to_string(&options.metadata_path)
        .with_context(|| format!("cannot read {}", options.metadata_path))?;
    let parsed = Metadata::from_yaml(&metadata_text)
        .with_context(|| format!("invalid metadata in {}", options.metadata_path))?;
    let mut warnings: Vec<String> = parsed
        .dropped_legacy_fields
        .iter()
        .map(|field| {
            format!(
                "{}: legacy field {field:?} is dropped, as policy-evaluator drops it",
                options.metadata_path
            )
        })
        .collect();
    warnings.extend(parsed.metadata.extra.keys().map(|field| {
        format!(
            "{}: field {field:?} is not known to policy-runner: kept as written, not validated",
            options.metadata_path
        )
    }));
    let mut metadata = parsed.metadata;

    if metadata.execution_mode == ExecutionMode::KubewardenWapc {
        let evaluator = Evaluator::new(
            &module,
            Limits::default(),
            true,
            Arc::new(Host::isolated()),
            String::new(),
            None,
        )?;
        let version = evaluator
            .protocol_version()
            .map_err(|e| anyhow!("Cannot compute ProtocolVersion used by the policy: {e:#}"))?;
        metadata.protocol_version = Some(version);
    }
    if let Some(usage_path) = &options.usage_path {
        let usage = std::fs::read_to_string(usage_path)
            .with_context(|| format!("cannot read {usage_path}"))?;
        metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION_USAGE.to_owned(), usage);
    }
    let errors = metadata.validation_errors();
    if !errors.is_empty() {
        bail!("Metadata is invalid:\n  {}", errors.join("\n  "));
    }

    let annotated = wasm_sections::replace_custom_section(
        &module,
        CUSTOM_SECTION,
        &metadata.to_section_payload()?,
    )
    .with_context(|| format!("cannot annotate {}", options.module_path))?;
    std::fs::write(&options.output_path, annotated)
        .with_context(|| format!("cannot write {}", options.output_path))?;
    Ok(warnings)
}
