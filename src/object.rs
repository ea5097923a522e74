//! Objects read by serde with only the fields the policy looks at. Each module that reads a part
//! of an object declares that part as a [`Keep`] next to the code reading it (`pod_spec::POD_SPEC`,
//! `kinds::METADATA`, `service_accounts::SERVICE_ACCOUNT`); everything else (env, resources,
//! probes, volumes, status, managedFields) is skipped by serde's `IgnoredAny` without being
//! built. A mutation is spliced into the request's own text (`splice`), so nothing skipped here
//! is lost from the answer.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// What of a JSON value the policy reads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Keep {
    /// All of it (pull secret entries, which a mutation copies; annotations; scalars).
    Whole,
    /// Of an object, these fields, each as its own `Keep` says.
    Fields(&'static [(&'static str, Keep)]),
    /// Of a list, every item as the `Keep` says.
    Items(&'static Keep),
}

/// Reads `raw` keeping what `keep` names, or all of it. A value of another shape than `keep`
/// expects (a list where an object belongs) keeps its type, so readers still name the odd
/// field, but not its content.
pub(crate) fn read(raw: &RawValue, keep: Option<&Keep>) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_str(raw.get());
    let value = keep
        .unwrap_or(&Keep::Whole)
        .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

impl<'de> DeserializeSeed<'de> for &Keep {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self {
            Keep::Whole => Value::deserialize(deserializer),
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for &Keep {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let fields = match self {
            Keep::Fields(fields) => *fields,
            _ => &[],
        };
        let mut kept = Map::new();
        while let Some(Text(key)) = map.next_key::<Text>()? {
            match fields.iter().find(|(name, _)| *name == key) {
                Some((_, keep)) => {
                    kept.insert(key.into_owned(), map.next_value_seed(keep)?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut kept = Vec::new();
        match self {
            Keep::Items(item) => {
                while let Some(value) = seq.next_element_seed(*item)? {
                    kept.push(value);
                }
            }
            _ => while seq.next_element::<IgnoredAny>()?.is_some() {},
        }
        Ok(Value::Array(kept))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// A string borrowed from the text where it has no escapes; any other JSON type is an error, as
/// for a `String`. How settings, request fields and object keys are read.
#[derive(Debug, Deserialize)]
pub(crate) struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}
