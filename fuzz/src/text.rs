//! A payload written as text in the ways JSON allows and the typed view of it hides: pretty or
//! compact, keys with `\u` escapes, a key repeated with an earlier value that the last one
//! overrides, and numbers beyond f64's range in fields the policy never reads.

use arbitrary::Arbitrary;
use serde_json::Value;

/// How to write a payload's text.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct TextStyle {
    pretty: bool,
    escape_keys: bool,
    duplicate_keys: bool,
    huge_numbers: bool,
}

impl TextStyle {
    /// `value` as text in this style; it parses (with serde_json) back to `value`, except that
    /// huge numbers make serde_json refuse it.
    pub fn write(&self, value: &Value) -> String {
        let mut out = String::new();
        self.value(value, 0, &mut out);
        out
    }

    fn value(&self, value: &Value, depth: usize, out: &mut String) {
        match value {
            Value::Object(fields) => {
                out.push('{');
                let mut first = true;
                let mut field = |key: &str, write: &mut dyn FnMut(&mut String), out: &mut String| {
                    if !std::mem::take(&mut first) {
                        out.push(',');
                    }
                    self.newline(depth + 1, out);
                    self.key(key, out);
                    out.push(':');
                    if self.pretty {
                        out.push(' ');
                    }
                    write(out);
                };
                if self.huge_numbers && depth > 0 {
                    field("x-fuzz-huge", &mut |out| out.push_str("1e999"), out);
                }
                for (key, item) in fields {
                    if self.duplicate_keys {
                        field(key, &mut |out| out.push_str("{\"overridden\": [1, \"x\"]}"), out);
                    }
                    field(key, &mut |out| self.value(item, depth + 1, out), out);
                }
                self.newline(depth, out);
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    self.newline(depth + 1, out);
                    self.value(item, depth + 1, out);
                }
                self.newline(depth, out);
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }

    fn key(&self, key: &str, out: &mut String) {
        if !self.escape_keys {
            out.push_str(&Value::from(key).to_string());
            return;
        }
        out.push('"');
        for c in key.chars() {
            match c {
                'a'..='z' | 'A'..='Z' => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push_str(&Value::from(c.to_string()).to_string().trim_matches('"').to_string()),
            }
        }
        out.push('"');
    }

    fn newline(&self, depth: usize, out: &mut String) {
        if self.pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        }
    }
}
