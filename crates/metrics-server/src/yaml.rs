//! `application/yaml` answers. The apiserver writes YAML by converting its JSON: keys sorted, block
//! style, sequences not indented under their key, strings quoted only where a plain scalar would read
//! back as something else. This writer does the same for the JSON values this server produces.

use serde_json::Value;

pub fn to_yaml(v: &Value) -> Vec<u8> {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => seq(&mut out, a, 0),
        other => {
            scalar(&mut out, other);
            out.push('\n');
        }
    }
    out.into_bytes()
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn map(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for (i, k) in keys.into_iter().enumerate() {
        // The first key of a map inside a sequence item follows the "- " already written.
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        string(out, k);
        out.push(':');
        value_after_key(out, &m[k], indent);
    }
}

fn value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            seq(out, a, indent);
        }
        other => {
            out.push(' ');
            scalar(out, other);
            out.push('\n');
        }
    }
}

fn seq(out: &mut String, a: &[Value], indent: usize) {
    for item in a {
        if !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => map(out, m, indent + 2),
            Value::Array(inner) if !inner.is_empty() => seq(out, inner, indent + 2),
            other => {
                scalar(out, other);
                out.push('\n');
            }
        }
    }
}

fn scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(out, s),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
}

fn string(out: &mut String, s: &str) {
    if s.is_empty() || reads_as_other_type(s) || s.contains(|c: char| c.is_control()) {
        double_quoted(out, s);
    } else if !plain_allowed(s) {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    } else {
        out.push_str(s);
    }
}

fn double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Plain scalars YAML 1.1 resolves to null, a boolean, a number or a timestamp.
fn reads_as_other_type(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
        "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "<<", ".inf", ".Inf", ".INF", "+.inf",
        "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let digits = s.trim_start_matches(['+', '-']);
    let b = digits.as_bytes();
    if b.first().is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
        // Integers in any base, floats with exponents, sexagesimal "1:20", dates.
        let numeric = digits.bytes().all(|c| {
            c.is_ascii_hexdigit() || matches!(c, b'_' | b'.' | b'x' | b'o' | b'e' | b'E' | b'+' | b'-' | b':')
        });
        let date = b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-';
        return numeric || date;
    }
    false
}

fn plain_allowed(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    if matches!(first, ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`') {
        return false;
    }
    if matches!(first, '-' | '?' | ':') && second.is_none_or(|c| c == ' ') {
        return false;
    }
    !(s.starts_with(' ') || s.ends_with(' ') || s.ends_with(':') || s.contains(": ") || s.contains(" #"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_style_like_the_apiserver() {
        let v = serde_json::json!({
            "kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {},
            "items": [{"metadata": {"name": "p", "namespace": "default", "creationTimestamp": "2026-08-04T10:00:07Z",
                                    "labels": {"app": "web", "on": "true", "n": "0"}},
                       "timestamp": null, "window": "0s",
                       "containers": [{"name": "c", "usage": {"cpu": "0", "memory": "12240Ki"}}]}],
        });
        let want = "apiVersion: metrics.k8s.io/v1beta1
items:
- containers:
  - name: c
    usage:
      cpu: \"0\"
      memory: 12240Ki
  metadata:
    creationTimestamp: \"2026-08-04T10:00:07Z\"
    labels:
      app: web
      \"n\": \"0\"
      \"on\": \"true\"
    name: p
    namespace: default
  timestamp: null
  window: 0s
kind: PodMetricsList
metadata: {}
";
        assert_eq!(String::from_utf8(to_yaml(&v)).unwrap(), want);
        let e = serde_json::json!({"items": [], "message": "pods \"x\" is forbidden: User \"a\"", "s": "- x", "t": "-x", "q": ""});
        assert_eq!(
            String::from_utf8(to_yaml(&e)).unwrap(),
            "items: []\nmessage: 'pods \"x\" is forbidden: User \"a\"'\nq: \"\"\ns: '- x'\nt: -x\n"
        );
    }
}
