//! The mutated object, written by splicing the new `imagePullSecrets` lists into the request's
//! own object text: every other byte stays as the API server sent it, and the object is neither
//! cloned nor serialised again. PolicyServer diffs the original object against this one, so the
//! patch holds exactly the list changes. Pure: no I/O.

use std::borrow::Cow;

use serde::de::DeserializeSeed;
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
        let list = serde_json::to_string(&edit.list).ok()?;
        let cut = match descend(raw, &edit.pointer) {
            Some(target) => cut_at_target(raw, target, list)?,
            // A path through an array, or a target with no key to insert before: the general way.
            None => cut_by_locating(raw, &edit.pointer, list)?,
        };
        cuts.push(cut);
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

/// The cut for a target object found in one pass: replace the list, or insert it before the
/// object's first key (the key's opening quote sits right before its borrowed text).
fn cut_at_target(raw: &str, target: Target, list: String) -> Option<(usize, usize, String)> {
    match (target.found, target.first_key) {
        (Some(value), _) => Some(replacing(raw, value, list)),
        (None, Some(first_key)) => {
            let quote = first_key.checked_sub(1)?;
            Some((quote, quote, format!("\"{FIELD}\":{list},")))
        }
        (None, None) => None,
    }
}

/// The cut found by reading the text at the pointer, level by level.
fn cut_by_locating(raw: &str, pointer: &str, list: String) -> Option<(usize, usize, String)> {
    let target = locate(raw, pointer)?;
    let fields = find_field(target, FIELD)?;
    let start = offset(raw, target);
    match fields.found {
        Some(value) => Some(replacing(raw, value, list)),
        None => {
            // Right after the object's `{`.
            let open = start + target.find('{')? + 1;
            let comma = if fields.count == 0 { "" } else { "," };
            Some((open, open, format!("\"{FIELD}\":{list}{comma}")))
        }
    }
}

/// What one pass found at the object a pointer leads to.
#[derive(Clone, Copy)]
struct Target<'a> {
    /// The last `imagePullSecrets` value of the object.
    found: Option<&'a RawValue>,
    /// Where the object's first key's text starts in `raw`, if that key is written unescaped.
    first_key: Option<usize>,
}

/// Follows `pointer` (object keys only) through `raw` in one pass and reads the object it leads
/// to; `None` if the way passes through an array, or does not lead to an object with a key.
fn descend<'a>(raw: &'a str, pointer: &str) -> Option<Target<'a>> {
    let tokens: Vec<Cow<str>> = match pointer {
        "" => Vec::new(),
        _ => pointer
            .strip_prefix('/')?
            .split('/')
            .map(|token| match token.contains('~') {
                true => Cow::Owned(token.replace("~1", "/").replace("~0", "~")),
                false => Cow::Borrowed(token),
            })
            .collect(),
    };
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    let target = Descend {
        raw,
        tokens: &tokens,
    }
    .deserialize(&mut deserializer)
    .ok()??;
    deserializer.end().ok()?;
    target.first_key.is_some().then_some(target)
}

/// Reads a value on the way down a pointer: `tokens` are the keys still to follow.
struct Descend<'r, 't> {
    raw: &'r str,
    tokens: &'t [Cow<'t, str>],
}

impl<'de, 't> serde::de::DeserializeSeed<'de> for Descend<'de, 't> {
    type Value = Option<Target<'de>>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 't> serde::de::Visitor<'de> for Descend<'de, 't> {
    type Value = Option<Target<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut below: Option<Target<'de>> = None;
        let mut here = Target {
            found: None,
            first_key: None,
        };
        let mut first = true;
        while let Some(Key(key)) = map.next_key::<Key>()? {
            if std::mem::take(&mut first) {
                if let Cow::Borrowed(text) = key {
                    here.first_key = Some(offset(self.raw, text));
                }
            }
            match self.tokens.split_first() {
                // Duplicate keys: the last one counts, as JSON parsers keep it.
                Some((token, rest)) if key == token.as_ref() => {
                    below = map.next_value_seed(Descend {
                        raw: self.raw,
                        tokens: rest,
                    })?;
                }
                None if key == FIELD => here.found = Some(map.next_value::<&RawValue>()?),
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(match self.tokens {
            [] => Some(here),
            _ => below,
        })
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// The cut that puts `list` where the old list `value` (a sub-slice of `raw`) was.
fn replacing(raw: &str, value: &RawValue, list: String) -> (usize, usize, String) {
    let at = offset(raw, value.get());
    (at, at + value.get().len(), list)
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

/// An object's key, borrowed from the text when it has no escapes.
pub(crate) struct Key<'a>(pub Cow<'a, str>);

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
    fn inserts_before_the_first_key_in_one_pass() {
        let raw = "{\"spec\": {\n  \"containers\": []}}";
        assert_eq!(
            same_as_apply(raw, &[edit("/spec", &["corp"])]),
            "{\"spec\": {\n  \"imagePullSecrets\":[{\"name\":\"corp\"}],\"containers\": []}}"
        );
    }

    #[test]
    fn one_pass_finds_the_target_or_leaves_it_to_the_general_way() {
        assert!(descend(r#"{"spec":{"containers":[]}}"#, "/spec").is_some());
        let found = descend(r#"{"spec":{"x":1,"imagePullSecrets":[]}}"#, "/spec").unwrap();
        assert_eq!(found.found.map(RawValue::get), Some("[]"));
        assert!(descend(r#"{"a":[{"b":{"c":1}}]}"#, "/a/0/b").is_none());
        assert!(descend(r#"{"spec":{}}"#, "/spec").is_none());
        assert!(descend(r#"{"spec":{"\u0041":1}}"#, "/spec").is_none());
        assert!(descend(r#"{"spec":3}"#, "/spec").is_none());
    }

    #[test]
    fn a_first_key_with_escapes_is_spliced_the_general_way() {
        same_as_apply(r#"{"spec":{"a\"b":1,"c":2}}"#, &[edit("/spec", &["corp"])]);
        same_as_apply(r#"{"spec":{"\u0041":1}}"#, &[edit("/spec", &["corp"])]);
    }

    #[test]
    fn duplicate_keys_the_last_one_counts() {
        same_as_apply(
            r#"{"spec":{"x":1,"imagePullSecrets":[]},"spec":{"y":2,"imagePullSecrets":[{"name":"a"}],"imagePullSecrets":null}}"#,
            &[edit("/spec", &["corp"])],
        );
    }

    #[test]
    fn workload_templates() {
        let raw = r#"{"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"metadata":{},"spec":{"containers":[{"image":"a"}]}}}}}}"#;
        same_as_apply(
            raw,
            &[edit("/spec/jobTemplate/spec/template/spec", &["corp"])],
        );
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

        /// The same through a workload's template, where the way down passes other fields.
        #[test]
        fn splice_equals_apply_in_templates(
            spec in prop::collection::btree_map("[a-zA-Z]{1,8}", json_value(), 1..5),
            sibling in json_value(),
            names in prop::collection::vec("[a-z]{1,4}", 0..3),
        ) {
            let spec: serde_json::Map<String, Value> = spec.into_iter().collect();
            let object = json!({"kind": "Deployment", "spec": {"a": sibling, "template": {"spec": spec}, "z": sibling}});
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            same_as_apply(&object.to_string(), &[edit("/spec/template/spec", &names)]);
        }
    }
}
