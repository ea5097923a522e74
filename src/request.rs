//! The `validate` payload (`{"request": AdmissionRequest, "settings": ...}`), read once by serde
//! and borrowed from it, the settings parsed in the same pass. The hosts send valid JSON with
//! unique keys, the request in the types of Kubernetes' `AdmissionRequest`; a payload that does
//! not read so is a 400 with serde's error. The objects stay raw text until they are needed.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::json_pointer::value_at;
use crate::object::Text;
use crate::settings::{RawSettings, RequestSettings};

/// The payload PolicyServer and kwctl send to `validate`, its settings read as `S`.
#[derive(Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
struct Payload<'a, S> {
    #[serde(borrow)]
    request: Option<AdmissionRequest<'a>>,
    settings: Option<S>,
}

/// The fields of the payload's `AdmissionRequest` the policy reads, as the host sends them;
/// each may be absent or null.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdmissionRequest<'a> {
    #[serde(borrow)]
    kind: Option<GroupVersionKind<'a>>,
    #[serde(borrow)]
    operation: Option<Text<'a>>,
    #[serde(borrow)]
    sub_resource: Option<Text<'a>>,
    #[serde(borrow)]
    namespace: Option<Text<'a>>,
    #[serde(borrow)]
    pub object: Option<&'a RawValue>,
    #[serde(borrow)]
    pub old_object: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct GroupVersionKind<'a> {
    #[serde(borrow)]
    group: Option<Text<'a>>,
    #[serde(borrow)]
    version: Option<Text<'a>>,
    #[serde(borrow)]
    kind: Option<Text<'a>>,
}

/// A field's text; empty where it is absent.
fn text<'t>(field: &'t Option<Text>) -> &'t str {
    field.as_deref().unwrap_or_default()
}

impl AdmissionRequest<'_> {
    /// The request's group, version and kind; empty where they are absent.
    pub fn gvk(&self) -> (&str, &str, &str) {
        match &self.kind {
            Some(gvk) => (text(&gvk.group), text(&gvk.version), text(&gvk.kind)),
            None => ("", "", ""),
        }
    }

    pub fn operation(&self) -> &str {
        text(&self.operation)
    }

    pub fn sub_resource(&self) -> &str {
        text(&self.sub_resource)
    }

    pub fn namespace(&self) -> &str {
        text(&self.namespace)
    }
}

/// A request as the decisions read it: its objects read, its namespace known.
pub(crate) struct Request<'a> {
    pub kind: &'a str,
    pub operation: &'a str,
    pub namespace: &'a str,
    pub object: &'a Value,
    pub old_object: &'a Value,
}

/// Longest object name shown in a message (the API server validates it after webhooks).
const SHOWN_NAME: usize = 253;

impl Request<'_> {
    /// The object's name as a message shows it, at most 253 characters; empty if it has none.
    pub fn shown_name(&self) -> String {
        let name = value_at(self.object, "/metadata/name").and_then(Value::as_str);
        name.unwrap_or_default().chars().take(SHOWN_NAME).collect()
    }
}

/// Reads a payload: the request, and its settings or the 400 message they get; the error is the
/// message of a 400 answer. Settings that do not parse in the same pass (the host accepted them
/// in `validate_settings`, so hardly ever) are read again from their text, to name the field.
pub(crate) fn read(
    payload: &[u8],
) -> Result<(AdmissionRequest<'_>, Result<RequestSettings<'_>, String>), String> {
    let (request, settings) = match parse::<RawSettings>(payload) {
        Ok(Payload { request, settings }) => (request, RequestSettings::new(settings)),
        // The request reads the same either way, so what failed is the settings, which are there.
        Err(_) => {
            let Payload { request, settings } = parse::<&RawValue>(payload)?;
            let message = settings.map(RequestSettings::unreadable);
            (request, Err(message.unwrap_or_default()))
        }
    };
    match request {
        Some(request) => Ok((request, settings)),
        None => Err(settings
            .err()
            .unwrap_or_else(|| "the validation payload has no request".to_string())),
    }
}

fn parse<'p, S: Deserialize<'p>>(payload: &'p [u8]) -> Result<Payload<'p, S>, String> {
    // Checked as UTF-8 once (JSON is UTF-8: RFC 8259, 8.1), the strings are borrowed without a
    // check each.
    let text = std::str::from_utf8(payload).map_err(|error| {
        let at = error.valid_up_to();
        format!("the validation payload is not valid JSON: invalid UTF-8 at byte {at}")
    })?;
    serde_json::from_str(text).map_err(|error| match error.is_data() {
        true => format!("the validation payload does not read: {error}"),
        false => format!("the validation payload is not valid JSON: {error}"),
    })
}
