//! The request parsed into a `serde_json::Value` without the parts the policy never reads: of
//! each container only its `name` and `image`, and no `managedFields`. Most of a real Pod's bytes
//! (env, resources, probes, volume mounts) are never built into a tree. Safe because the answer
//! never comes from this tree: a mutation is spliced into the request's own text (`splice`).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::splice::Key;

/// The lists whose items are containers.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
/// The only fields of a container the policy reads.
const CONTAINER_FIELDS: [&str; 2] = ["name", "image"];

/// Where in the document the value being read sits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Anywhere,
    /// An item of a container list.
    Container,
    /// A container list.
    ContainerList,
}

/// Parses `text` with the never-read parts left out.
pub(crate) fn parse(text: &str) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Seed(Place::Anywhere).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

struct Seed(Place);

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
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
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let item = match self.0 {
            Place::ContainerList => Place::Container,
            _ => Place::Anywhere,
        };
        let mut items = Vec::new();
        while let Some(value) = seq.next_element_seed(Seed(item))? {
            items.push(value);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        // Keys are borrowed from the text (owned only when escaped) and copied only when kept.
        while let Some(Key(key)) = map.next_key::<Key>()? {
            let kept = match self.0 {
                Place::Container => CONTAINER_FIELDS.contains(&key.as_ref()),
                _ => key != "managedFields",
            };
            if !kept {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let place = if self.0 != Place::Container && CONTAINER_LISTS.contains(&key.as_ref()) {
                Place::ContainerList
            } else {
                Place::Anywhere
            };
            let value = map.next_value_seed(Seed(place))?;
            fields.insert(key.into_owned(), value);
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_what_the_policy_reads() {
        let text = json!({"metadata": {"name": "p", "managedFields": [{"manager": "kubectl"}], "annotations": {"a": "b"}},
            "spec": {"serviceAccountName": "sa", "imagePullSecrets": [{"name": "x"}],
                "containers": [{"name": "c", "image": "reg/a", "env": [{"name": "E", "value": "1"}], "resources": {}}],
                "initContainers": [{"name": "i", "image": "reg/i", "command": ["sh"]}],
                "ephemeralContainers": [{"name": "d", "image": "reg/d", "targetContainerName": "c"}],
                "volumes": [{"name": "v", "emptyDir": {}}]}})
        .to_string();
        assert_eq!(
            parse(&text).unwrap(),
            json!({"metadata": {"name": "p", "annotations": {"a": "b"}},
                "spec": {"serviceAccountName": "sa", "imagePullSecrets": [{"name": "x"}],
                    "containers": [{"name": "c", "image": "reg/a"}],
                    "initContainers": [{"name": "i", "image": "reg/i"}],
                    "ephemeralContainers": [{"name": "d", "image": "reg/d"}],
                    "volumes": [{"name": "v", "emptyDir": {}}]}})
        );
    }

    #[test]
    fn odd_shapes_are_kept_for_the_policy_to_judge() {
        for text in [
            r#"{"spec": {"containers": 3}}"#,
            r#"{"spec": {"containers": [null, 7, "x", {"image": 42}]}}"#,
            r#"{"spec": {"containers": [{"name": "c", "containers": [{"env": 1}]}]}}"#,
        ] {
            let mut full: Value = serde_json::from_str(text).unwrap();
            if let Some(list) = full
                .pointer_mut("/spec/containers/0")
                .and_then(Value::as_object_mut)
            {
                list.retain(|k, _| CONTAINER_FIELDS.contains(&k.as_str()));
            }
            assert_eq!(parse(text).unwrap(), full, "{text}");
        }
    }

    #[test]
    fn invalid_json_is_an_error() {
        assert!(parse(r#"{"spec": "#).is_err());
        assert!(parse(r#"{} trailing"#).is_err());
    }
}
