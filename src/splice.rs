//! The mutated object, written by splicing the new `imagePullSecrets` lists into the request's
//! own object text: every other byte stays as the API server sent it, and the object is neither
//! cloned nor serialised again. PolicyServer diffs the original object against this one, so the
//! patch holds exactly the list changes. Pure: no I/O.

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::Value;

/// A new `imagePullSecrets` list for the JSON object at `pointer` (a pod spec, or a
/// ServiceAccount's root, `""`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Edit {
    pub pointer: String,
    pub list: Vec<Value>,
}

const FIELD: &str = "imagePullSecrets";

/// The edits applied to a parsed object: the reference the splice is held to in tests.
pub(crate) fn apply(object: &mut Value, edits: &[Edit]) {
    for edit in edits {
        if let Some(target) = object
            .pointer_mut(&edit.pointer)
            .and_then(Value::as_object_mut)
        {
            target.insert(FIELD.to_string(), Value::Array(edit.list.clone()));
        }
    }
}

/// `raw` (a JSON object's text) with each edit spliced in; `None` if a pointer does not lead to
/// an object in `raw`, which the caller answers by applying the edits to the parsed object.
pub(crate) fn splice(raw: &str, edits: &[Edit]) -> Option<String> {
    // (start, end, replacement), by position in `raw`.
    let mut cuts: Vec<(usize, usize, String)> = Vec::with_capacity(edits.len());
    for edit in edits {
        let target = locate(raw, &edit.pointer)?;
        let list = serde_json::to_string(&edit.list).ok()?;
        let fields = find_field(target, FIELD)?;
        let start = offset(raw, target);
        match fields.found {
            Some(value) => {
                let at = offset(raw, value.get());
                cuts.push((at, at + value.get().len(), list));
            }
            None => {
                // Right after the object's `{`.
                let open = start + target.find('{')? + 1;
                let comma = if fields.count == 0 { "" } else { "," };
                cuts.push((open, open, format!("\"{FIELD}\":{list}{comma}")));
            }
        }
    }
    cuts.sort_by_key(|(start, _, _)| *start);
    if cuts.windows(2).any(|pair| pair[0].1 > pair[1].0) {
        return None;
    }
    let mut out = String::with_capacity(raw.len() + cuts.iter().map(|c| c.2.len()).sum::<usize>());
    let mut at = 0;
    for (start, end, replacement) in &cuts {
        out.push_str(&raw[at..*start]);
        out.push_str(replacement);
        at = *end;
    }
    out.push_str(&raw[at..]);
    Some(out)
}

/// Where `inner`, a sub-slice of `outer`, starts in it.
fn offset(outer: &str, inner: &str) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// The text of the JSON value at `pointer` (RFC 6901) inside `raw`, as a sub-slice of it.
fn locate<'a>(raw: &'a str, pointer: &str) -> Option<&'a str> {
    let mut current: &'a str = raw;
    if pointer.is_empty() {
        return Some(current);
    }
    for token in pointer.strip_prefix('/')?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        let next: &'a RawValue = match current.trim_start().as_bytes().first()? {
            b'{' => find_field(current, &token)?.found?,
            b'[' => {
                let items: Vec<&'a RawValue> = serde_json::from_str(current).ok()?;
                items.get(token.parse::<usize>().ok()?).copied()?
            }
            _ => return None,
        };
        current = next.get();
    }
    Some(current)
}

/// One field of an object's text, found in one pass without building the object.
struct Field<'a> {
    /// The last value under the name, as JSON parsers keep it.
    found: Option<&'a RawValue>,
    /// How many fields the object has.
    count: usize,
}

fn find_field<'a>(object: &'a str, name: &str) -> Option<Field<'a>> {
    let mut deserializer = serde_json::Deserializer::from_str(object);
    let field =
        serde::Deserializer::deserialize_map(&mut deserializer, FieldFinder { name }).ok()?;
    deserializer.end().ok()?;
    Some(field)
}

struct FieldFinder<'n> {
    name: &'n str,
}

/// A key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de, 'n> serde::de::Visitor<'de> for FieldFinder<'n> {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Field<'de>, A::Error> {
        let mut field = Field {
            found: None,
            count: 0,
        };
        while let Some(Key(key)) = map.next_key::<Key>()? {
            field.count += 1;
            if key == self.name {
                field.found = Some(map.next_value::<&RawValue>()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn edit(pointer: &str, names: &[&str]) -> Edit {
        Edit {
            pointer: pointer.to_string(),
            list: names.iter().map(|n| json!({ "name": n })).collect(),
        }
    }

    /// The splice gives the same object as applying the edits to the parsed one.
    fn same_as_apply(raw: &str, edits: &[Edit]) -> String {
        let spliced = splice(raw, edits).expect("spliced");
        let mut expected: Value = serde_json::from_str(raw).unwrap();
        apply(&mut expected, edits);
        assert_eq!(
            serde_json::from_str::<Value>(&spliced).unwrap(),
            expected,
            "{spliced}"
        );
        spliced
    }

    #[test]
    fn inserts_into_a_spec_without_a_list_and_keeps_every_other_byte() {
        let raw = r#"{"kind":"Pod", "spec": {"containers": [{"image": "a"}], "x": 1.50}}"#;
        let spliced = same_as_apply(raw, &[edit("/spec", &["corp"])]);
        assert_eq!(
            spliced,
            r#"{"kind":"Pod", "spec": {"imagePullSecrets":[{"name":"corp"}],"containers": [{"image": "a"}], "x": 1.50}}"#
        );
    }

    #[test]
    fn replaces_an_existing_list_in_place() {
        let raw = r#"{"spec":{"imagePullSecrets": [ {"name":"own"} ], "containers":[]}}"#;
        let spliced = same_as_apply(raw, &[edit("/spec", &["own", "corp"])]);
        assert_eq!(
            spliced,
            r#"{"spec":{"imagePullSecrets": [{"name":"own"},{"name":"corp"}], "containers":[]}}"#
        );
    }

    #[test]
    fn an_empty_object_gets_no_trailing_comma() {
        same_as_apply(r#"{"spec": { }}"#, &[edit("/spec", &["corp"])]);
    }

    #[test]
    fn several_specs_and_escaped_tokens() {
        let raw = r#"{"spec":{"a/b":[{"template":{"spec":{}}},{"template":{"spec":{"imagePullSecrets":null}}}]}}"#;
        same_as_apply(
            raw,
            &[
                edit("/spec/a~1b/1/template/spec", &["x"]),
                edit("/spec/a~1b/0/template/spec", &["y"]),
            ],
        );
    }

    #[test]
    fn the_root_object_for_service_accounts() {
        same_as_apply(r#"{"metadata":{"name":"default"}}"#, &[edit("", &["hub"])]);
    }

    #[test]
    fn a_pointer_that_leads_nowhere_is_refused() {
        assert_eq!(splice(r#"{"spec": 3}"#, &[edit("/spec", &["c"])]), None);
        assert_eq!(splice(r#"{"spec": {}}"#, &[edit("/other", &["c"])]), None);
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-z\"\\\\é ]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z/~]{1,5}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Spliced text parses to exactly what today's clone-and-insert produces.
        #[test]
        fn splice_equals_apply(
            spec in prop::collection::btree_map("[a-zA-Z]{1,8}", json_value(), 0..5),
            existing in prop::option::of(json_value()),
            names in prop::collection::vec("[a-z]{1,4}", 0..3),
            pretty in any::<bool>(),
        ) {
            let mut spec: serde_json::Map<String, Value> = spec.into_iter().collect();
            if let Some(existing) = existing {
                spec.insert(FIELD.to_string(), existing);
            }
            let object = json!({"apiVersion": "v1", "kind": "Pod", "spec": spec});
            let raw = if pretty { serde_json::to_string_pretty(&object).unwrap() } else { object.to_string() };
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            same_as_apply(&raw, &[edit("/spec", &names)]);
        }
    }
}
