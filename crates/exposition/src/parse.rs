//! A strict reader of kube-state-metrics-style text exposition, for other crates' tests.

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In written order, values unescaped.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses a text-format body the way kube-state-metrics writes it and returns its samples.
///
/// Stricter than Prometheus on purpose, so deviations from upstream's byte layout show up in tests:
/// every line ends in `\n`; no empty lines; `# HELP <name> <text>` and `# TYPE <name> <type>` must be
/// well formed (other `#` lines, like `# EOF`, are skipped); a sample is
/// `name{k="v",...} value` or `name value` with exactly one space, no spaces in braces, no trailing
/// comma, no timestamp; label values use only the `\\`, `\"`, `\n` escapes; label names are unique
/// within a sample. The error names the 1-based line number.
pub fn parse_text(body: &str) -> Result<Vec<Sample>, String> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let Some(body) = body.strip_suffix('\n') else {
        return Err("body does not end with a newline".to_owned());
    };
    let mut samples = Vec::new();
    for (i, line) in body.split('\n').enumerate() {
        let n = i + 1;
        if line.is_empty() {
            return Err(format!("line {n}: empty line"));
        }
        if let Some(comment) = line.strip_prefix('#') {
            check_comment(comment).map_err(|e| format!("line {n}: {e}: {line:?}"))?;
            continue;
        }
        samples.push(parse_sample(line).map_err(|e| format!("line {n}: {e}: {line:?}"))?);
    }
    Ok(samples)
}

fn check_comment(c: &str) -> Result<(), String> {
    if let Some(rest) = c.strip_prefix(" HELP ") {
        let (name, help) = rest.split_once(' ').ok_or("HELP without text")?;
        check_metric_name(name)?;
        // Help text escapes: only `\\` and `\n`.
        let mut chars = help.chars();
        while let Some(ch) = chars.next() {
            if ch == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
                return Err("bad escape in HELP".to_owned());
            }
        }
    } else if let Some(rest) = c.strip_prefix(" TYPE ") {
        let (name, typ) = rest.split_once(' ').ok_or("TYPE without type")?;
        check_metric_name(name)?;
        if !matches!(typ, "gauge" | "counter" | "info" | "stateset" | "untyped" | "unknown" | "histogram" | "summary") {
            return Err(format!("unknown type {typ:?}"));
        }
    }
    Ok(())
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit()));
    if ok { Ok(()) } else { Err(format!("invalid metric name {name:?}")) }
}

fn check_label_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.bytes().enumerate().all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()));
    if ok { Ok(()) } else { Err(format!("invalid label name {name:?}")) }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels: Vec<(String, String)> = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = after_brace;
        if let Some(r) = rest.strip_prefix('}') {
            rest = r;
        } else {
            loop {
                let eq = rest.find('=').ok_or("label without '='")?;
                let key = &rest[..eq];
                check_label_name(key)?;
                if labels.iter().any(|(k, _)| k == key) {
                    return Err(format!("duplicate label {key:?}"));
                }
                let after = rest[eq + 1..].strip_prefix('"').ok_or("label value not quoted")?;
                let (value, consumed) = unescape_value(after)?;
                labels.push((key.to_owned(), value));
                rest = &after[consumed..];
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                    if rest.starts_with('}') {
                        return Err("trailing comma in labels".to_owned());
                    }
                } else if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                } else {
                    return Err("expected ',' or '}' after label value".to_owned());
                }
            }
        }
    }
    let value = rest.strip_prefix(' ').ok_or("expected one space before the value")?;
    if value.is_empty() || value.contains([' ', '\t']) {
        return Err("value missing, or followed by something (timestamp or space)".to_owned());
    }
    let value = parse_go_float(value).ok_or_else(|| format!("bad value {value:?}"))?;
    Ok(Sample { name: name.to_owned(), labels, value })
}

/// Unescapes a label value starting after its opening quote; returns it and the bytes consumed
/// including the closing quote.
fn unescape_value(s: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                _ => return Err("bad escape in label value".to_owned()),
            },
            _ => out.push(c),
        }
    }
    Err("unterminated label value".to_owned())
}

/// The value spellings Go's `ParseFloat` reads and kube-state-metrics writes.
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ if s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_typical_ksm_body() {
        let body = "# HELP kube_pod_info [STABLE] Information about pod.\n\
                    # TYPE kube_pod_info gauge\n\
                    kube_pod_info{namespace=\"default\",pod=\"p1\",uid=\"u1\",node=\"\"} 1\n\
                    # HELP kube_pod_created [STABLE] Unix creation timestamp\n\
                    # TYPE kube_pod_created gauge\n\
                    kube_pod_created{namespace=\"default\",pod=\"p1\",uid=\"u1\"} 1.501777018e+09\n\
                    up 0\n\
                    weird{a=\"x\\\\y\\\"z\\nw\"} -Inf\n\
                    # EOF\n";
        let s = parse_text(body).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].name, "kube_pod_info");
        assert_eq!(s[0].label("node"), Some(""));
        assert_eq!(s[0].labels.len(), 4);
        assert_eq!(s[1].value, 1501777018.0);
        assert!(s[2].labels.is_empty());
        assert_eq!(s[2].value, 0.0);
        assert_eq!(s[3].label("a"), Some("x\\y\"z\nw"));
        assert_eq!(s[3].value, f64::NEG_INFINITY);
        assert!(parse_text("x NaN\n").unwrap()[0].value.is_nan());
        assert!(parse_text("").unwrap().is_empty());
        assert_eq!(parse_text("empty{} 2\n").unwrap()[0].value, 2.0);
    }

    #[test]
    fn rejects_malformed_lines() {
        let bad = [
            ("x 1", "newline"),
            ("x 1\n\ny 2\n", "line 2"),
            ("x  1\n", "line 1"),
            ("x 1 1700000000\n", "timestamp"),
            ("x{a=\"b\",} 1\n", "trailing comma"),
            ("x{a=\"b\" } 1\n", "expected"),
            ("x{a=b} 1\n", "quoted"),
            ("x{a=\"b} 1\n", "unterminated"),
            ("x{a=\"\\t\"} 1\n", "escape"),
            ("x{a=\"1\",a=\"2\"} 1\n", "duplicate"),
            ("x{0a=\"1\"} 1\n", "label name"),
            ("1x 1\n", "metric name"),
            ("x one\n", "bad value"),
            ("x 0x10\n", "bad value"),
            ("x\n", "no value"),
            ("x \n", "value missing"),
            ("# TYPE x histogramm\n", "unknown type"),
            ("# TYPE x\n", "TYPE without type"),
            ("# HELP x\n", "HELP without text"),
            ("# HELP x bad \\t escape\n", "escape"),
        ];
        for (body, want) in bad {
            let err = parse_text(body).expect_err(body);
            assert!(err.contains(want), "{body:?}: error {err:?} should mention {want:?}");
        }
    }
}
