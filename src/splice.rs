//! The mutated object, written by splicing the edited fields (`imagePullSecrets` lists and
//! containers' `imagePullPolicy`) into the request's own object text: every other byte stays as
//! the API server sent it, and the object is neither cloned nor serialised again. PolicyServer
//! diffs the original object against this one, so the patch holds exactly those fields. Pure: no
//! I/O.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::json_pointer::{array_index, pointer_tokens};
use crate::object::Text;

/// A new value for one field of the JSON object at `pointer`: a pod spec's (or a
/// ServiceAccount's, at the root `""`) `imagePullSecrets`, or a container's `imagePullPolicy`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Edit {
    pub pointer: String,
    pub field: &'static str,
    pub value: Value,
}

/// The field of a pod spec and a ServiceAccount that lists pull secrets.
pub(crate) const PULL_SECRETS: &str = "imagePullSecrets";
/// The field of a container that says when the kubelet pulls its image.
pub(crate) const PULL_POLICY: &str = "imagePullPolicy";

/// `raw` (a JSON object's text, as a `RawValue` holds it) with each edit spliced in, all found
/// in one pass; `None` if a pointer does not lead to an object that can take its field.
pub(crate) fn splice(raw: &str, edits: &[Edit]) -> Option<String> {
    let tokens: Vec<Vec<Cow<str>>> = edits
        .iter()
        .map(|edit| Some(pointer_tokens(&edit.pointer)?.collect()))
        .collect::<Option<_>>()?;
    let walking: Vec<Walk> = tokens.iter().map(Vec::as_slice).enumerate().collect();
    let mut targets: Vec<Option<Target>> = vec![None; edits.len()];
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    Descend {
        raw,
        edits,
        walking: &walking,
        targets: &mut targets,
    }
    .deserialize(&mut deserializer)
    .ok()?;
    deserializer.end().ok()?;
    // (start, end, replacement), by position in `raw`.
    let mut cuts: Vec<(usize, usize, String)> = Vec::with_capacity(edits.len());
    for (edit, target) in edits.iter().zip(&targets) {
        let value = serde_json::to_string(&edit.value).ok()?;
        let field = edit.field;
        // `None` where the pointer did not lead to an object.
        let Target {
            found,
            last_value_end,
        } = (*target)?;
        let cut = match (found, last_value_end) {
            // The value replaces the old one where it stands.
            (Some(old), _) => {
                let at = offset(raw, old.get());
                (at, at + old.get().len(), value)
            }
            // After the object's last value.
            (None, Some(end)) => (end, end, format!(",\"{field}\":{value}")),
            // An empty object can only be the root here: pod specs and containers that get a
            // field have containers and images. The root's text starts with its `{`.
            (None, None) if edit.pointer.is_empty() => (1, 1, format!("\"{field}\":{value}")),
            (None, None) => return None,
        };
        cuts.push(cut);
    }
    cuts.sort_by_key(|(start, _, _)| *start);
    if cuts.windows(2).any(|pair| pair[0].1 > pair[1].0) {
        return None;
    }
    let mut pieces = Vec::with_capacity(2 * cuts.len() + 1);
    let mut at = 0;
    for (start, end, replacement) in &cuts {
        pieces.extend([&raw[at..*start], replacement]);
        at = *end;
    }
    pieces.push(&raw[at..]);
    Some(pieces.concat())
}

/// What the pass found at the object an edit's pointer leads to, if it leads to one.
#[derive(Clone, Copy, Default)]
struct Target<'a> {
    /// The field's value in the object, if it has the field.
    found: Option<&'a RawValue>,
    /// Where the object's last value ends in `raw`; `None` for an empty object.
    last_value_end: Option<usize>,
}

/// An edit on its way down: its index among the edits, and the steps still to take.
type Walk<'t> = (usize, &'t [Cow<'t, str>]);

/// Reads a value with the edits whose way passes through it.
struct Descend<'r, 'w, 'x> {
    raw: &'r str,
    edits: &'w [Edit],
    walking: &'w [Walk<'w>],
    targets: &'x mut [Option<Target<'r>>],
}

impl<'de> DeserializeSeed<'de> for Descend<'de, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.walking.is_empty() {
            true => IgnoredAny::deserialize(deserializer).map(drop),
            false => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Descend<'de, '_, '_> {
    /// The edits that take `step` next, one step further down.
    fn next<'w>(&self, step: impl Fn(&str) -> bool) -> Vec<Walk<'w>>
    where
        Self: 'w,
    {
        self.walking
            .iter()
            .filter_map(|(index, tokens)| match tokens.split_first() {
                Some((token, rest)) if step(token) => Some((*index, rest)),
                _ => None,
            })
            .collect()
    }

    /// The same pass, for a value that only the edits on `walking` pass through.
    fn below<'b>(&'b mut self, walking: &'b [Walk<'b>]) -> Descend<'de, 'b, 'b> {
        Descend {
            raw: self.raw,
            edits: self.edits,
            walking,
            targets: self.targets,
        }
    }
}

impl<'de> Visitor<'de> for Descend<'de, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let here: Vec<usize> = self
            .walking
            .iter()
            .filter(|(_, tokens)| tokens.is_empty())
            .map(|(index, _)| *index)
            .collect();
        for index in &here {
            self.targets[*index] = Some(Target::default());
        }
        while let Some(Text(key)) = map.next_key::<Text>()? {
            let below = self.next(|token| token == key);
            if here.is_empty() {
                map.next_value_seed(self.below(&below))?;
                continue;
            }
            // At a target every value is read as its text, for where it ends; one that edits
            // lead further into is then read again, alone.
            let value = map.next_value::<&RawValue>()?;
            if !below.is_empty() {
                let mut inner = serde_json::Deserializer::from_str(value.get());
                let read = self.below(&below).deserialize(&mut inner);
                read.map_err(serde::de::Error::custom)?;
            }
            let end = offset(self.raw, value.get()) + value.get().len();
            for index in &here {
                // Set above: walks that end here go no further down.
                let target = self.targets[*index].get_or_insert_default();
                target.last_value_end = Some(end);
                if self.edits[*index].field == key {
                    target.found = Some(value);
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        for index in 0.. {
            let below = self.next(|token| array_index(token) == Some(index));
            if seq.next_element_seed(self.below(&below))?.is_none() {
                break;
            }
        }
        Ok(())
    }
}

/// Where `inner`, a sub-slice of `outer`, starts in it.
fn offset(outer: &str, inner: &str) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::apply;
    use proptest::prelude::*;
    use rstest::rstest;
    use serde_json::json;

    fn edit(pointer: &str, names: &[&str]) -> Edit {
        Edit {
            pointer: pointer.to_string(),
            field: PULL_SECRETS,
            value: names.iter().map(|n| json!({ "name": n })).collect(),
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
    fn appends_to_a_spec_without_a_list_and_keeps_every_other_byte() {
        let raw = r#"{"kind":"Pod", "spec": {"containers": [{"image": "a"}], "x": 1.50} }"#;
        let spliced = same_as_apply(raw, &[edit("/spec", &["corp"])]);
        assert_eq!(
            spliced,
            r#"{"kind":"Pod", "spec": {"containers": [{"image": "a"}], "x": 1.50,"imagePullSecrets":[{"name":"corp"}]} }"#
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

    fn policy(index: usize) -> Edit {
        Edit {
            pointer: format!("/spec/containers/{index}"),
            field: "imagePullPolicy",
            value: json!("Always"),
        }
    }

    const CONTAINERS: &str =
        r#"{"spec":{"containers":[{"image":"a","imagePullPolicy":"IfNotPresent"},{"image":"b"}]}}"#;

    /// Escaped keys and tokens, pretty text, several specs, the root object (ServiceAccounts),
    /// targets inside arrays and under a workload's template.
    #[rstest]
    #[case::empty_root("{ }", vec![edit("", &["corp"])])]
    #[case::root_object(r#"{"metadata":{"name":"default"}}"#, vec![edit("", &["hub"])])]
    #[case::escaped_quote(r#"{"spec":{"a\"b":1,"c":2}}"#, vec![edit("/spec", &["corp"])])]
    #[case::unicode_escapes(r#"{"sp\u0065c":{"\u0041":1}}"#, vec![edit("/spec", &["corp"])])]
    #[case::pretty("{\n  \"spec\": {\n    \"containers\": []\n  }\n}", vec![edit("/spec", &["corp"])])]
    #[case::several_specs_escaped_tokens(r#"{"spec":{"a/b":[{"template":{"spec":{"containers":[]}}},{"template":{"spec":{"imagePullSecrets":null}}}]}}"#, vec![edit("/spec/a~1b/1/template/spec", &["x"]), edit("/spec/a~1b/0/template/spec", &["y"])])]
    #[case::inside_an_array(r#"{"a":[{"b":{"c":1}},{"b":{"c":2}}]}"#, vec![edit("/a/1/b", &["corp"])])]
    #[case::one_container(CONTAINERS, vec![policy(1)])]
    fn splices_as_the_parsed_object_would_change(#[case] raw: &str, #[case] edits: Vec<Edit>) {
        same_as_apply(raw, &edits);
    }

    /// A pointer that does not lead to an object that can take its field, or leads to an empty
    /// object other than the root, gives `None`.
    #[rstest]
    #[case::empty_inner_object(r#"{"spec": { }}"#, edit("/spec", &["corp"]))]
    #[case::not_an_object(r#"{"spec": 3}"#, edit("/spec", &["c"]))]
    #[case::absent(r#"{"spec": {}}"#, edit("/other", &["c"]))]
    #[case::index_with_a_leading_zero(r#"{"a":[{"b":{"c":1}}]}"#, edit("/a/01/b", &["c"]))]
    #[case::index_past_the_end(r#"{"a":[{"b":{"c":1}}]}"#, edit("/a/3/b", &["c"]))]
    #[case::container_past_the_end(CONTAINERS, policy(2))]
    fn refused(#[case] raw: &str, #[case] edit: Edit) {
        assert_eq!(splice(raw, &[edit]), None);
    }

    #[test]
    fn containers_and_their_spec_in_one_pass() {
        let spliced = same_as_apply(
            CONTAINERS,
            &[edit("/spec", &["corp"]), policy(0), policy(1)],
        );
        assert_eq!(
            spliced,
            r#"{"spec":{"containers":[{"image":"a","imagePullPolicy":"Always"},{"image":"b","imagePullPolicy":"Always"}],"imagePullSecrets":[{"name":"corp"}]}}"#
        );
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
        /// Spliced text parses to exactly what applying the edit to the parsed object gives, for
        /// a Pod's spec and for a Deployment's template, where the way down passes other fields.
        #[test]
        fn splice_equals_apply(
            spec in prop::collection::btree_map("[a-zA-Z]{1,8}", json_value(), 1..5),
            existing in prop::option::of(json_value()),
            sibling in json_value(),
            names in prop::collection::vec("[a-z]{1,4}", 0..3),
            pretty in any::<bool>(),
        ) {
            let mut spec: serde_json::Map<String, Value> = spec.into_iter().collect();
            if let Some(existing) = existing {
                spec.insert(PULL_SECRETS.to_string(), existing);
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": spec});
            let deployment = json!({"kind": "Deployment", "spec": {"a": sibling, "template": {"spec": spec}, "z": sibling}});
            for (object, pointer) in [(pod, "/spec"), (deployment, "/spec/template/spec")] {
                let raw = if pretty { serde_json::to_string_pretty(&object).unwrap() } else { object.to_string() };
                same_as_apply(&raw, &[edit(pointer, &names)]);
            }
        }
    }
}
