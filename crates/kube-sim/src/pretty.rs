//! Indented JSON for people: kube-apiserver indents its JSON answers (two spaces, Go's
//! `json.MarshalIndent`, no newline after the document) when `?pretty=` says true, or when there is no
//! such parameter and the User-Agent is curl's, Wget's or a browser's. Clients such as client-go, kube-rs,
//! kubectl and kubestate get compact JSON. Watch streams are never indented.
//!
//! The difference matters beyond looks: an indented pod list is about twice the bytes of the compact
//! one, so a size measured with plain `curl` is not what a client receives.

use std::collections::HashMap;

/// Whether the answer to a request is indented, as the apiserver decides it.
pub fn requested(query: &HashMap<String, String>, user_agent: Option<&str>) -> bool {
    match query.get("pretty").map(String::as_str).filter(|v| !v.is_empty()) {
        // Go's strconv.ParseBool; a value it does not read means false.
        Some(v) => matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True"),
        None => user_agent.is_some_and(|ua| ["curl", "Wget", "Mozilla/5.0"].iter().any(|p| ua.starts_with(p))),
    }
}

/// Re-indent a JSON document the way `json.MarshalIndent(v, "", "  ")` writes it: one member or element
/// a line, `": "` after keys, empty objects and arrays kept as `{}` and `[]`, nothing after the last
/// brace. Whitespace outside strings in the input is dropped; the bytes of strings are kept as they are.
pub fn indent(doc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    // An opening bracket not yet followed by anything: its newline waits for the first member.
    let mut open = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    };
    for &c in doc {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        if open && c != b'}' && c != b']' {
            newline(&mut out, depth);
        }
        let was_open = std::mem::take(&mut open);
        match c {
            b'{' | b'[' => {
                out.push(c);
                depth += 1;
                open = true;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if !was_open {
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b'"' => {
                out.push(c);
                in_string = true;
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn who_gets_indented_json() {
        assert!(requested(&q(&[]), Some("curl/8.5.0")));
        assert!(requested(&q(&[]), Some("Wget/1.21")));
        assert!(requested(&q(&[]), Some("Mozilla/5.0 (X11; Linux x86_64)")));
        assert!(!requested(&q(&[]), Some("kubectl/v1.36.0 (linux/amd64) kubernetes/abcdef")));
        assert!(!requested(&q(&[]), Some("kube-state-metrics/v2.20.0")));
        assert!(!requested(&q(&[]), None));
        // The parameter decides when it has a value, whoever asks.
        assert!(!requested(&q(&[("pretty", "false")]), Some("curl/8.5.0")));
        assert!(!requested(&q(&[("pretty", "yes")]), Some("curl/8.5.0")));
        assert!(requested(&q(&[("pretty", "1")]), Some("kubectl/v1.36.0")));
        assert!(requested(&q(&[("pretty", "True")]), None));
        assert!(requested(&q(&[("pretty", "")]), Some("curl/8.5.0")));
        assert!(!requested(&q(&[("pretty", "")]), None));
    }

    #[test]
    fn indents_as_go_marshal_indent() {
        let compact = br#"{"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[{"a":[1,2],"b":{},"c":[],"d":"x, {y}: \"z\" \\"}]}"#;
        let want = "{\n  \"kind\": \"PodList\",\n  \"metadata\": {\n    \"resourceVersion\": \"7\"\n  },\n  \
                    \"items\": [\n    {\n      \"a\": [\n        1,\n        2\n      ],\n      \"b\": {},\n      \
                    \"c\": [],\n      \"d\": \"x, {y}: \\\"z\\\" \\\\\"\n    }\n  ]\n}";
        assert_eq!(String::from_utf8(indent(compact)).unwrap(), want);
        // A compact document ends with the encoder's newline; the indented one ends at its brace. Indenting
        // twice changes nothing.
        let mut with_newline = compact.to_vec();
        with_newline.push(b'\n');
        assert_eq!(indent(&with_newline), indent(compact));
        assert_eq!(indent(&indent(compact)), indent(compact));
    }

    #[test]
    fn indented_is_the_same_document() {
        let compact = br#"{"items":[{"metadata":{"name":"p\u003c1","labels":{"a":"b"}},"spec":{"containers":[{"name":"c"}]}}],"n":null,"t":true,"f":-1.5e3}"#;
        let a: serde_json::Value = serde_json::from_slice(compact).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&indent(compact)).unwrap();
        assert_eq!(a, b);
        // Escapes are kept as sent, not decoded.
        assert!(indent(compact).windows(6).any(|w| w == br"\u003c"));
    }
}
