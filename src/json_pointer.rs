//! JSON pointers (RFC 6901): the value one leads to, its tokens, and how a user reads one.

use std::borrow::Cow;

use serde_json::Value;

/// The value at a JSON pointer (RFC 6901), as `serde_json::Value::pointer` finds it, without
/// allocating for tokens that need no unescaping (every built-in kind's pointer).
pub(crate) fn value_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    pointer_tokens(pointer)?.try_fold(value, |target, token| match target {
        Value::Object(fields) => fields.get(token.as_ref()),
        Value::Array(items) => array_index(&token).and_then(|index| items.get(index)),
        _ => None,
    })
}

/// The unescaped tokens of a JSON pointer (RFC 6901); `None` if it is neither empty nor starts
/// with `/`. Tokens without escapes are borrowed.
pub(crate) fn pointer_tokens(pointer: &str) -> Option<impl Iterator<Item = Cow<'_, str>>> {
    let rest = match pointer {
        "" => None,
        pointer => Some(pointer.strip_prefix('/')?),
    };
    Some(
        rest.into_iter()
            .flat_map(|rest| rest.split('/'))
            .map(|token| match token.contains('~') {
                true => Cow::Owned(token.replace("~1", "/").replace("~0", "~")),
                false => Cow::Borrowed(token),
            }),
    )
}

/// An array index token: digits without a leading zero (or `+`), as serde_json reads them.
pub(crate) fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// `/spec/template/spec` as `spec.template.spec`, the way users read it.
pub fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    proptest::proptest! {
        /// `value_at` finds exactly what serde_json's `Value::pointer` finds.
        #[test]
        fn value_at_is_serde_jsons_pointer(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec!["spec", "a/b", "a~b", "~01", "0", "1", "01", "+1", "", "x"]),
                0..4,
            ),
            root in proptest::sample::select(vec![0usize, 1, 2]),
        ) {
            let documents = [
                json!({"spec": {"a/b": [{"x": 1}, {"0": 2}], "a~b": {"~01": 3, "": 4}, "0": [5]}, "": {"x": 6}}),
                json!([{"spec": 1}, [{"a/b": 2}], {"01": 3, "+1": 4}]),
                json!({"spec": {"spec": {"spec": {"x": [1, 2]}}}}),
            ];
            let escaped: Vec<String> = tokens.iter().map(|t| t.replace('~', "~0").replace('/', "~1")).collect();
            let pointer: String = escaped.iter().map(|t| format!("/{t}")).collect();
            for pointer in [pointer.clone(), pointer.trim_start_matches('/').to_string()] {
                proptest::prop_assert_eq!(value_at(&documents[root], &pointer), documents[root].pointer(&pointer), "{}", pointer);
            }
        }
    }
}
