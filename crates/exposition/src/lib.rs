//! Prometheus text exposition as kube-state-metrics v2.20 writes it: Go `%g` floats, label escaping,
//! HELP escaping, Kubernetes-key → label-name sanitising, `Accept` negotiation, and a strict line
//! checker for tests. Pure functions; no IO.

mod float;
mod labels;
mod negotiate;
mod parse;
mod write;

pub use float::write_float;
pub use labels::{kube_label_names, sanitize_name, sanitize_snake};
pub use negotiate::{Format, TEXT_CONTENT_TYPE, accepts_gzip, negotiate};
pub use parse::{Sample, parse_text};
pub use write::{
    Buckets, write_header, write_histogram, write_histogram_buckets, write_sample, write_sample_after,
    write_sample_rest,
};

/// Appends `k="v"` pairs separated by commas (no braces), values escaped.
pub fn write_label_pairs<K: AsRef<str>, V: AsRef<str>>(out: &mut Vec<u8>, pairs: impl IntoIterator<Item = (K, V)>) {
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(k.as_ref().as_bytes());
        out.extend_from_slice(b"=\"");
        write_label_value(out, v.as_ref());
        out.push(b'"');
    }
}

/// Appends a label value with exactly the three escapes of the text format: `\` `"` and LF.
pub fn write_label_value(out: &mut Vec<u8>, v: &str) {
    let bytes = v.as_bytes();
    // Almost no value needs escaping: one vectorised search, then one copy.
    let Some(first) = memchr::memchr3(b'\\', b'"', b'\n', bytes) else {
        out.extend_from_slice(bytes);
        return;
    };
    out.extend_from_slice(&bytes[..first]);
    let mut start = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            b'\n' => b"\\n",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends HELP text with `\` and LF escaped (quotes stay as they are in HELP lines).
pub fn write_help_text(out: &mut Vec<u8>, v: &str) {
    for &b in v.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_pairs_are_comma_separated_and_escaped() {
        let mut out = Vec::new();
        write_label_pairs(&mut out, [("namespace", "ns"), ("pod", "a\"b\\c\nd")]);
        assert_eq!(String::from_utf8(out).unwrap(), r#"namespace="ns",pod="a\"b\\c\nd""#);
        let mut none = Vec::new();
        write_label_pairs(&mut none, std::iter::empty::<(&str, &str)>());
        assert!(none.is_empty());
    }

    #[test]
    fn label_values_escape_exactly_three_characters() {
        let mut b = Vec::new();
        write_label_value(&mut b, "a\\b\"c\nd\te\ré");
        assert_eq!(String::from_utf8(b).unwrap(), "a\\\\b\\\"c\\nd\te\ré");
    }

    #[test]
    fn label_value_without_specials_is_copied_verbatim() {
        let mut b = b"x=".to_vec();
        write_label_value(&mut b, "plain value ✓");
        assert_eq!(String::from_utf8(b).unwrap(), "x=plain value ✓");
    }

    #[test]
    fn help_escapes_backslash_and_newline_only() {
        let mut b = Vec::new();
        write_help_text(&mut b, "say \"hi\"\\\nbye");
        assert_eq!(String::from_utf8(b).unwrap(), "say \"hi\"\\\\\\nbye");
    }

    #[test]
    fn written_line_round_trips_through_the_checker() {
        let mut b = b"kube_pod_labels{namespace=\"".to_vec();
        write_label_value(&mut b, "we\"ird\\ns\nx");
        b.extend_from_slice(b"\",label_app=\"\"} ");
        write_float(&mut b, 1234567.0);
        b.push(b'\n');
        let body = String::from_utf8(b).unwrap();
        assert_eq!(body, "kube_pod_labels{namespace=\"we\\\"ird\\\\ns\\nx\",label_app=\"\"} 1.234567e+06\n");
        let samples = parse_text(&body).unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].labels[0], ("namespace".to_owned(), "we\"ird\\ns\nx".to_owned()));
        assert_eq!(samples[0].labels[1], ("label_app".to_owned(), String::new()));
        assert_eq!(samples[0].value, 1234567.0);
    }
}
