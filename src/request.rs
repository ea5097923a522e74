//! The `validate` payload (`{"request": AdmissionRequest, "settings": ...}`), read once by serde
//! and borrowed from it, the settings parsed in the same pass. Fields are lenient where an odd
//! shape still gets a precise answer: a string field of another type reads as empty, and a
//! request that is not an object is told apart from a missing one. The objects stay raw text
//! until they are needed.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::object::{visit_as, Text};
use crate::settings::{RawSettings, RequestSettings};

/// The payload PolicyServer and kwctl send to `validate`, its settings read as `S`.
struct Payload<'a, S> {
    request: Shape<AdmissionRequest<'a>>,
    settings: Option<S>,
}

impl<S> Default for Payload<'_, S> {
    fn default() -> Self {
        Payload {
            request: Shape::Absent,
            settings: None,
        }
    }
}

/// The fields of the payload's `AdmissionRequest` the policy reads, as the host sends them.
#[derive(Default)]
pub(crate) struct AdmissionRequest<'a> {
    kind: Shape<GroupVersionKind<'a>>,
    pub operation: Text<'a>,
    sub_resource: Text<'a>,
    /// `sub_resource` and `old_object`: the spellings of older Kubewarden SDKs.
    sub_resource_snake: Text<'a>,
    pub namespace: Text<'a>,
    pub object: Option<&'a RawValue>,
    old_object: Option<&'a RawValue>,
    old_object_snake: Option<&'a RawValue>,
}

#[derive(Default)]
pub(crate) struct GroupVersionKind<'a> {
    group: Text<'a>,
    version: Text<'a>,
    kind: Text<'a>,
}

/// Reads an object's fields into `T`, each by `field`; a repeated key overwrites the earlier
/// value, as serde_json's `Value` keeps the last one. Unknown keys are skipped.
macro_rules! lenient_object {
    ($type:ident $(<$param:ident>)?, |$target:ident, $key:ident, $map:ident| $body:expr) => {
        impl<'de $(, $param: Deserialize<'de>)?> Deserialize<'de> for $type<'de $(, $param)?> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct FieldsVisitor<T>(PhantomData<T>);
                impl<'de $(, $param: Deserialize<'de>)?> Visitor<'de>
                    for FieldsVisitor<$type<'de $(, $param)?>>
                {
                    type Value = $type<'de $(, $param)?>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut $map: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut $target = $type::default();
                        while let Some(Text($key)) = $map.next_key::<Text>()? {
                            $body;
                        }
                        Ok($target)
                    }
                }
                deserializer.deserialize_map(FieldsVisitor(PhantomData))
            }
        }
    };
}

lenient_object!(Payload<S>, |payload, key, map| match key.as_ref() {
    "request" => payload.request = map.next_value()?,
    "settings" => payload.settings = map.next_value()?,
    _ => drop(map.next_value::<IgnoredAny>()?),
});

lenient_object!(AdmissionRequest, |request, key, map| match key.as_ref() {
    "kind" => request.kind = map.next_value()?,
    "operation" => request.operation = map.next_value()?,
    "subResource" => request.sub_resource = map.next_value()?,
    "sub_resource" => request.sub_resource_snake = map.next_value()?,
    "namespace" => request.namespace = map.next_value()?,
    "object" => request.object = map.next_value()?,
    "oldObject" => request.old_object = map.next_value()?,
    "old_object" => request.old_object_snake = map.next_value()?,
    _ => drop(map.next_value::<IgnoredAny>()?),
});

lenient_object!(GroupVersionKind, |gvk, key, map| match key.as_ref() {
    "group" => gvk.group = map.next_value()?,
    "version" => gvk.version = map.next_value()?,
    "kind" => gvk.kind = map.next_value()?,
    _ => drop(map.next_value::<IgnoredAny>()?),
});

impl<'a> AdmissionRequest<'a> {
    /// The request's group, version and kind; empty where they are absent or odd.
    pub fn gvk(&self) -> (&str, &str, &str) {
        match &self.kind {
            Shape::Object(gvk) => (&gvk.group.0, &gvk.version.0, &gvk.kind.0),
            _ => ("", "", ""),
        }
    }

    pub fn sub_resource(&self) -> &str {
        match self.sub_resource.0.as_ref() {
            "" => &self.sub_resource_snake.0,
            sub_resource => sub_resource,
        }
    }

    pub fn old_object(&self) -> Option<&'a RawValue> {
        self.old_object.or(self.old_object_snake)
    }
}

/// A field that should hold an object: absent (or null), the object, or something else.
#[derive(Default)]
pub(crate) enum Shape<T> {
    #[default]
    Absent,
    Object(T),
    Other,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shape<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ShapeVisitor(PhantomData))
    }
}

struct ShapeVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = Shape<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Shape::Object)
    }
    fn visit_unit<E>(self) -> Result<Shape<T>, E> {
        Ok(Shape::Absent)
    }
    visit_as!(Shape::Other; scalars, str, seq);
}

/// A request as the decisions read it: its objects read, its namespace known.
pub(crate) struct Request<'a> {
    pub kind: &'a str,
    pub operation: &'a str,
    pub namespace: &'a str,
    pub object: &'a Value,
    pub old_object: &'a Value,
}

/// Reads a payload: the request, and its settings or the 400 message they get; the error is the
/// message of a 400 answer. Settings that do not parse in the same pass (the host accepted them
/// in `validate_settings`, so hardly ever) are read again from their text, to name the field.
pub(crate) fn read(
    payload: &[u8],
) -> Result<
    (
        Shape<AdmissionRequest<'_>>,
        Result<RequestSettings<'_>, String>,
    ),
    String,
> {
    if let Ok(Payload { request, settings }) = parse::<RawSettings>(payload) {
        return Ok((request, RequestSettings::new(settings)));
    }
    let Payload { request, settings } = parse::<&RawValue>(payload)?;
    let settings = match settings {
        Some(settings) => Err(RequestSettings::unreadable(settings)),
        None => RequestSettings::new(None),
    };
    Ok((request, settings))
}

fn parse<'p, S: Deserialize<'p>>(payload: &'p [u8]) -> Result<Payload<'p, S>, String> {
    // Checked as UTF-8 once (JSON is UTF-8: RFC 8259, 8.1), the strings are borrowed without a
    // check each.
    let text = std::str::from_utf8(payload).map_err(|error| {
        let at = error.valid_up_to();
        format!("the validation payload is not valid JSON: invalid UTF-8 at byte {at}")
    })?;
    match serde_json::from_str::<Shape<Payload<S>>>(text) {
        Ok(Shape::Object(payload)) => Ok(payload),
        Ok(_) => Err("the validation payload is not a JSON object".to_string()),
        Err(error) if error.is_data() => {
            Err("the validation payload is not a JSON object".to_string())
        }
        Err(error) => Err(format!("the validation payload is not valid JSON: {error}")),
    }
}
