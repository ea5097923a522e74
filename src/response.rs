//! The answer `validate` returns: the SDK's `ValidationResponse` for a decision, and for a
//! mutation the same JSON written around the object spliced from the request's own text.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::value::RawValue;

use crate::outcome::Decision;
use crate::splice::splice;

/// The JSON the host reads for `decision`; a mutation is spliced into `object`, the request's
/// object text.
pub(crate) fn write(decision: Decision, object: Option<&RawValue>) -> Vec<u8> {
    let written = match decision {
        Decision::Mutate { edits, warnings } => {
            match object.and_then(|object| splice(object.get(), &edits)) {
                Some(mutated) => mutation(&mutated, &warnings),
                None => serde_json::to_vec(&response_of(Decision::bad_request(
                    "internal error: the mutated object could not be written".to_string(),
                ))),
            }
        }
        decision => serde_json::to_vec(&response_of(decision)),
    };
    written.unwrap_or_else(|error| {
        format!(r#"{{"accepted":false,"message":"internal error: the answer does not serialise: {error}","code":500}}"#).into_bytes()
    })
}

/// The SDK's response for a decision other than a mutation.
fn response_of(decision: Decision) -> ValidationResponse {
    let (accepted, message, code, warnings) = match decision {
        Decision::Accept { warnings } | Decision::Mutate { warnings, .. } => {
            (true, None, None, warnings)
        }
        Decision::Reject {
            message,
            code,
            warnings,
        } => (false, Some(message), code, warnings),
    };
    ValidationResponse {
        accepted,
        message,
        code,
        mutated_object: None,
        audit_annotations: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
    }
}

/// `ValidationResponse`'s JSON for a mutation, its fields in the SDK's order, written around the
/// mutated object's text. That text is the request's own object (valid JSON, since it was read)
/// with the edited fields spliced in, so it is copied as is rather than checked again.
fn mutation(object: &str, warnings: &[String]) -> Result<Vec<u8>, serde_json::Error> {
    const HEAD: &str = r#"{"accepted":true,"message":null,"code":null,"mutated_object":"#;
    const AUDIT: &str = r#","audit_annotations":null,"warnings":"#;
    let warnings = serde_json::to_string(&(!warnings.is_empty()).then_some(warnings))?;
    Ok([HEAD, object, AUDIT, &warnings, "}"].concat().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The hand-written mutation answer is byte for byte what the SDK's `ValidationResponse`
    /// serialises to (for an object whose keys are in serde_json's order).
    #[test]
    fn the_mutation_answer_is_the_sdks_response() {
        let object = json!({"kind": "Pod", "spec": {"imagePullSecrets": [{"name": "corp"}]}});
        for warnings in [
            vec![],
            vec!["a \"quoted\" warning".to_string(), "b".to_string()],
        ] {
            let sdk = ValidationResponse {
                accepted: true,
                message: None,
                code: None,
                mutated_object: Some(object.clone()),
                audit_annotations: None,
                warnings: (!warnings.is_empty()).then(|| warnings.clone()),
            };
            assert_eq!(
                String::from_utf8(mutation(&object.to_string(), &warnings).unwrap()),
                String::from_utf8(serde_json::to_vec(&sdk).unwrap())
            );
        }
    }
}
