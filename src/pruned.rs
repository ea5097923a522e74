//! A built-in object parsed into a `serde_json::Value` with only the fields the policy reads: of
//! each container its `name` and `image`; elsewhere the fields named in [`READ_FIELDS`] (the way
//! down to the pod specs, the pull secrets and the annotations whole, the ServiceAccount name,
//! the owner references). Most of a real Pod's bytes (env, resources, probes, volumes, status,
//! managedFields) are skipped without building anything. Safe because the answer never comes
//! from this tree: a mutation is spliced into the request's own text (`splice`).

#[cfg(test)]
use std::fmt;

#[cfg(test)]
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

#[cfg(test)]
use crate::splice::Key;

/// The lists whose items are containers.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
/// The only fields of a container the policy reads.
const CONTAINER_FIELDS: [&str; 2] = ["name", "image"];
/// The fields the policy reads at any other level of a built-in object (`src/kinds.rs`,
/// `src/pod_spec.rs`, `src/evaluate.rs`, `src/service_accounts.rs`): the way down to each pod
/// spec (`spec`, `template`, `jobTemplate`), a spec's containers, pull secrets and ServiceAccount,
/// a ServiceAccount's own `imagePullSecrets`, and of `metadata` the name, namespace, annotations
/// (mirror pods) and owner references (`controller`).
const READ_FIELDS: [&str; 17] = [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "template",
    "jobTemplate",
    "containers",
    "initContainers",
    "ephemeralContainers",
    "imagePullSecrets",
    "serviceAccountName",
    "serviceAccount",
    "name",
    "namespace",
    "annotations",
    "ownerReferences",
    "controller",
];

/// Where in the document the value being read sits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Outside containers: only [`READ_FIELDS`] are kept.
    Anywhere,
    /// Below `annotations`: everything is kept.
    Whole,
    /// An item of a container list.
    Container,
    /// A container list.
    ContainerList,
}

/// Where a field's value goes: `None` if the policy never reads it, else the place it sits in.
fn field_place(parent: Place, key: &str) -> Option<Place> {
    let kept = match parent {
        Place::Container => CONTAINER_FIELDS.contains(&key),
        Place::Whole => true,
        _ => READ_FIELDS.contains(&key),
    };
    kept.then(|| match parent {
        Place::Whole => Place::Whole,
        // A container's name and image: kept as they are, whatever their type.
        Place::Container => Place::Whole,
        // Annotations are looked up by any key; pull secret entries are copied whole into the
        // merged list a mutation writes.
        _ if key == "annotations" || key == "imagePullSecrets" => Place::Whole,
        _ if CONTAINER_LISTS.contains(&key) => Place::ContainerList,
        _ => Place::Anywhere,
    })
}

/// The place of a list's items.
fn item_place(list: Place) -> Place {
    match list {
        Place::ContainerList => Place::Container,
        Place::Whole => Place::Whole,
        _ => Place::Anywhere,
    }
}

/// Parses an object with the never-read parts left out. The text is known to be valid JSON (it
/// is a `RawValue`), so what is left out is skipped by bracket counting, without being parsed;
/// what is kept is parsed by serde_json, piece by piece.
pub(crate) fn parse(raw: &RawValue) -> serde_json::Result<Value> {
    parse_text(raw.get())
}

/// [`parse`] on any text: what is not JSON is an error, never a panic.
fn parse_text(text: &str) -> serde_json::Result<Value> {
    let mut reader = Reader { text, at: 0 };
    let value = reader.value(Place::Anywhere)?;
    reader.whitespace();
    match reader.at == reader.text.len() {
        true => Ok(value),
        false => Err(malformed("trailing characters")),
    }
}

fn malformed(what: &str) -> serde_json::Error {
    serde::de::Error::custom(format!("the object does not read: {what}"))
}

/// A cursor over valid JSON text.
struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> serde_json::Result<()> {
        self.whitespace();
        match self.peek() == Some(byte) {
            true => {
                self.at += 1;
                Ok(())
            }
            false => Err(malformed("unexpected character")),
        }
    }

    fn value(&mut self, place: Place) -> serde_json::Result<Value> {
        self.whitespace();
        match self.peek() {
            Some(b'{') => self.object(place),
            Some(b'[') => self.array(place),
            _ => {
                let start = self.at;
                self.skip_value()?;
                let text = &self.text[start..self.at];
                match text.as_bytes() {
                    // A string without escapes is its own text (valid JSON has no raw control
                    // characters in strings); anything else is serde_json's to read.
                    [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => {
                        Ok(Value::String(text[1..text.len() - 1].to_owned()))
                    }
                    b"true" => Ok(Value::Bool(true)),
                    b"false" => Ok(Value::Bool(false)),
                    b"null" => Ok(Value::Null),
                    _ => serde_json::from_str(text),
                }
            }
        }
    }

    fn object(&mut self, place: Place) -> serde_json::Result<Value> {
        let mut fields = Map::new();
        self.delimited(b'{', b'}', |reader| {
            reader.whitespace();
            let start = reader.at;
            reader.skip_string()?;
            let quoted = &reader.text[start..reader.at];
            let key: std::borrow::Cow<str> = match quoted.contains('\\') {
                true => std::borrow::Cow::Owned(serde_json::from_str(quoted)?),
                false => std::borrow::Cow::Borrowed(&quoted[1..quoted.len() - 1]),
            };
            reader.expect(b':')?;
            match field_place(place, &key) {
                Some(child) => {
                    let value = reader.value(child)?;
                    fields.insert(key.into_owned(), value);
                }
                None => {
                    reader.whitespace();
                    reader.skip_value()?;
                }
            }
            Ok(())
        })?;
        Ok(Value::Object(fields))
    }

    fn array(&mut self, place: Place) -> serde_json::Result<Value> {
        let mut items = Vec::new();
        self.delimited(b'[', b']', |reader| {
            items.push(reader.value(item_place(place))?);
            Ok(())
        })?;
        Ok(Value::Array(items))
    }

    /// `open`, the items (`item` reads each) separated by commas, `close`.
    fn delimited(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> serde_json::Result<()>,
    ) -> serde_json::Result<()> {
        self.expect(open)?;
        self.whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            self.whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(byte) if byte == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(malformed("expected ',' or the closing bracket")),
            }
        }
    }

    /// Past a string, from its opening quote.
    fn skip_string(&mut self) -> serde_json::Result<()> {
        if self.peek() != Some(b'"') {
            return Err(malformed("expected a string"));
        }
        self.at = string_end(self.text.as_bytes(), self.at + 1)
            .ok_or_else(|| malformed("unterminated string"))?;
        Ok(())
    }

    /// Past any value, from its first character: containers by counting brackets outside strings.
    fn skip_value(&mut self) -> serde_json::Result<()> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{' | b'[') => {
                self.at = container_end(self.text.as_bytes(), self.at)
                    .ok_or_else(|| malformed("unterminated value"))?;
                Ok(())
            }
            Some(_) => {
                // A number, true, false or null: up to the next delimiter.
                let start = self.at;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.at += 1;
                }
                match self.at > start {
                    true => Ok(()),
                    false => Err(malformed("expected a value")),
                }
            }
            None => Err(malformed("unexpected end")),
        }
    }
}

/// Where the string whose text starts at `from` (after its opening quote) ends: just past its
/// closing quote.
fn string_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let rest = bytes.get(at..)?;
        let next = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
        match rest[next] {
            b'"' => return Some(at + next + 1),
            _ => at += next + 2,
        }
    }
}

/// Where the object or array opening at `from` ends: just past its closing bracket.
fn container_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = from;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => {
                at = string_end(bytes, at + 1)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The same pruning by serde_json's own reading: the reference the reader is held to in tests.
#[cfg(test)]
fn parse_with_serde(text: &str) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Seed(Place::Anywhere).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

#[cfg(test)]
struct Seed(Place);

#[cfg(test)]
impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

#[cfg(test)]
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
        let mut items = Vec::new();
        while let Some(value) = seq.next_element_seed(Seed(item_place(self.0)))? {
            items.push(value);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            match field_place(self.0, &key) {
                Some(place) => {
                    let value = map.next_value_seed(Seed(place))?;
                    fields.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The reader's tree, checked against serde_json's reading of the same text.
    fn read(text: &str) -> Value {
        let raw = RawValue::from_string(text.to_string()).expect("valid JSON");
        let value = parse(&raw).expect("read");
        assert_eq!(value, parse_with_serde(text).unwrap(), "{text}");
        value
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            proptest::sample::select(READ_FIELDS.to_vec()).prop_map(str::to_string),
            proptest::sample::select(vec![
                "image",
                "env",
                "volumes",
                "managedFields",
                "status",
                "a\"b",
                "é\\",
                "x y"
            ])
            .prop_map(str::to_string),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            "[a-z\"\\\\é\\]\\[{} ,:]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Skipping by bracket counting keeps exactly what serde_json's reading keeps, compact
        /// or pretty-printed.
        #[test]
        fn the_reader_keeps_what_serde_keeps(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&value).unwrap() } else { value.to_string() };
            read(&text);
        }
    }

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
            read(&text),
            json!({"metadata": {"name": "p", "annotations": {"a": "b"}},
                "spec": {"serviceAccountName": "sa", "imagePullSecrets": [{"name": "x"}],
                    "containers": [{"name": "c", "image": "reg/a"}],
                    "initContainers": [{"name": "i", "image": "reg/i"}],
                    "ephemeralContainers": [{"name": "d", "image": "reg/d"}]}})
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
            assert_eq!(read(text), full, "{text}");
        }
    }

    #[test]
    fn text_that_is_not_json_is_an_error_never_a_panic() {
        for text in [
            r#"{"spec": "#,
            r#"{} trailing"#,
            r#"{"a": [1, {"#,
            r#"{"a"#,
            r#"{"a\"#,
            "",
            "}",
            r#"{"a" 1}"#,
            r#"{"a": 1 "b": 2}"#,
            r#"[1 2]"#,
        ] {
            assert!(parse_text(text).is_err(), "{text}");
        }
    }
}
