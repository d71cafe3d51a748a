//! Compiled `path` expressions walked over a dynamic (JSON) object.

use serde_json::Value;

use super::config::PathSegment;
use super::value::go_print;

/// One step of a path.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Map key, or an index when the current value is an array (negative counts from the end).
    Key(String),
    /// `key=value` on a map: the map's `key` entry, but only when its text equals `value`.
    KeyEquals { key: String, value: String },
    /// `[key=value]` on an array: the first map element whose `key` matches `value`.
    Select { key: String, value: String, num: Option<f64>, boolean: Option<bool> },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Path {
    ops: Vec<Op>,
    text: Vec<String>,
}

impl Path {
    /// Compiles segments; an error names the offending segment.
    pub fn compile(segments: &[String]) -> Result<Path, String> {
        let mut ops = Vec::with_capacity(segments.len());
        for seg in segments {
            ops.push(compile_segment(seg)?);
        }
        Ok(Path { ops, text: segments.to_vec() })
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The first segment when it is a plain key.
    pub fn first_key(&self) -> Option<&str> {
        match self.ops.first() {
            Some(Op::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// The segments as written, for error messages.
    pub fn display(&self) -> String {
        format!("[{}]", self.text.join(","))
    }

    /// Walks the path; `None` is upstream's nil (missing key, out-of-range index, failed filter).
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut cur = root;
        for op in &self.ops {
            cur = step(op, cur)?;
            if cur.is_null() {
                return None;
            }
        }
        Some(cur)
    }
}

fn compile_segment(seg: &str) -> Result<Op, String> {
    let opens = seg.starts_with('[');
    let closes = seg.ends_with(']');
    if opens || closes {
        if !(opens && closes) || seg.len() < 2 {
            return Err(format!("path segment {seg:?}: unbalanced brackets (a list lookup is written [key=value])"));
        }
        let inner = &seg[1..seg.len() - 1];
        let Some((key, value)) = inner.split_once('=') else {
            return Err(format!("path segment {seg:?}: invalid list lookup, expected [key=value]"));
        };
        if key.is_empty() {
            return Err(format!("path segment {seg:?}: invalid list lookup, empty key"));
        }
        let num = parse_go_float(value);
        let boolean = parse_go_bool(value);
        return Ok(Op::Select { key: key.to_owned(), value: value.to_owned(), num, boolean });
    }
    // Exactly one `=` makes a filter; more than one is an ordinary (odd) map key, as upstream.
    let mut parts = seg.split('=');
    if let (Some(k), Some(v), None) = (parts.next(), parts.next(), parts.next()) {
        return Ok(Op::KeyEquals { key: k.to_owned(), value: v.to_owned() });
    }
    Ok(Op::Key(seg.to_owned()))
}

fn step<'v>(op: &Op, cur: &'v Value) -> Option<&'v Value> {
    match (op, cur) {
        (Op::Key(k), Value::Object(m)) => m.get(k),
        (Op::Key(k), Value::Array(a)) => {
            let i: i64 = k.parse().ok()?;
            let len = i64::try_from(a.len()).ok()?;
            let i = if i < 0 { len + i } else { i };
            if i < 0 || i >= len { None } else { a.get(usize::try_from(i).ok()?) }
        }
        (Op::KeyEquals { key, value }, Value::Object(m)) => match m.get(key) {
            Some(Value::String(s)) if s == value => m.get(key),
            _ => None,
        },
        (Op::Select { key, value, num, boolean }, Value::Array(a)) => a.iter().find(|el| {
            let Some(candidate) = el.as_object().and_then(|m| m.get(key)) else {
                return false;
            };
            match candidate {
                Value::String(s) => {
                    s == value || num.is_some_and(|n| super::value::to_f64(Some(candidate), false).ok() == Some(n))
                }
                Value::Number(_) => num.is_some_and(|n| candidate.as_f64() == Some(n)),
                // Upstream also tries the numeric form, in which booleans are 1 and 0.
                Value::Bool(b) => boolean == &Some(*b) || *num == Some(if *b { 1.0 } else { 0.0 }),
                _ => false,
            }
        }),
        _ => None,
    }
}

/// Go `strconv.ParseFloat` closely enough for filter values.
fn parse_go_float(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

/// Go `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A `labelsFromPath` map compiled: star entries copy whole maps, the rest resolve one value each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelPaths {
    /// (prefix, suffix, path) for `prefix_*` / `*_suffix` / `*`, sorted by the written key.
    stars: Vec<(String, String, Path)>,
    /// (label name, sanitised, path), sorted by the name as written.
    plain: Vec<(String, Path)>,
}

/// A label name from the config, sanitised; an error when even that is not a valid Prometheus label
/// name (empty, or starting with a digit), which would make every scrape unparseable.
pub fn config_label_name(raw: &str) -> Result<String, String> {
    let name = exposition::sanitize_name(raw);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "{raw:?} is not a valid label name (sanitised: {name:?}): it must start with a letter or underscore"
        ));
    }
    Ok(name)
}

/// A label name made from object data (a `*` entry's map keys): sanitised, with a `_` in front when it
/// would start with a digit; `None` when nothing is left.
fn data_label_name(raw: &str) -> Option<String> {
    let name = exposition::sanitize_name(raw);
    match name.chars().next() {
        None => None,
        Some(c) if c.is_ascii_digit() => Some(format!("_{name}")),
        Some(_) => Some(name),
    }
}

impl LabelPaths {
    pub fn compile(map: &std::collections::BTreeMap<String, Vec<PathSegment>>) -> Result<LabelPaths, (String, String)> {
        let mut lp = LabelPaths::default();
        for (name, segs) in map {
            let path = Path::compile(&strings(segs)).map_err(|e| (name.clone(), e))?;
            if let Some(prefix) = name.strip_suffix('*') {
                if !prefix.is_empty() {
                    config_label_name(prefix).map_err(|e| (name.clone(), e))?;
                }
                lp.stars.push((prefix.to_owned(), String::new(), path));
            } else if let Some(suffix) = name.strip_prefix('*') {
                lp.stars.push((String::new(), suffix.to_owned(), path));
            } else {
                lp.plain.push((config_label_name(name).map_err(|e| (name.clone(), e))?, path));
            }
        }
        Ok(lp)
    }

    /// Adds the labels resolved against `v` to `out` (later writes win, so explicit keys override
    /// map copies). Names are sanitised here; nil values are skipped.
    pub fn apply(&self, v: &Value, out: &mut Vec<(String, String)>) {
        for (prefix, suffix, path) in &self.stars {
            if let Some(Value::Object(m)) = path.get(v) {
                for (k, val) in m {
                    if val.is_null() {
                        continue;
                    }
                    if let Some(name) = data_label_name(&format!("{prefix}{k}{suffix}")) {
                        set(out, name, go_print(val));
                    }
                }
            }
        }
        for (name, path) in &self.plain {
            if let Some(val) = path.get(v) {
                set(out, name.clone(), go_print(val));
            }
        }
    }
}

/// Inserts or overwrites one label.
pub fn set(out: &mut Vec<(String, String)>, name: String, value: String) {
    if let Some(slot) = out.iter_mut().find(|(k, _)| *k == name) {
        slot.1 = value;
    } else {
        out.push((name, value));
    }
}

/// Inserts a label only when the name is not taken yet (defaults from outer levels).
pub fn set_default(out: &mut Vec<(String, String)>, name: &str, value: &str) {
    if !out.iter().any(|(k, _)| k == name) {
        out.push((name.to_owned(), value.to_owned()));
    }
}

pub fn strings(segs: &[PathSegment]) -> Vec<String> {
    segs.iter().map(|s| s.0.clone()).collect()
}
