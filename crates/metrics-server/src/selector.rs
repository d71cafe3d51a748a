//! Kubernetes label selectors (full string grammar) and the field selectors metrics.k8s.io accepts.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let part = part.trim();
            if part.is_empty() {
                if s.trim().is_empty() {
                    continue;
                }
                return Err(SelectorError("found ',', expected: identifier".into()));
            }
            reqs.push(parse_req(part)?);
        }
        Ok(LabelSelector { reqs })
    }

    /// AND of two selectors.
    pub fn and(mut self, other: &LabelSelector) -> Self {
        self.reqs.extend(other.reqs.iter().cloned());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.reqs.iter().all(|r| {
            let v = labels.get(&r.key);
            match &r.op {
                Op::Eq(x) => v == Some(x),
                Op::NotEq(x) => v != Some(x),
                Op::In(xs) => v.is_some_and(|v| xs.contains(v)),
                Op::NotIn(xs) => v.is_none_or(|v| !xs.contains(v)),
                Op::Exists => v.is_some(),
                Op::NotExists => v.is_none(),
                Op::Gt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
                Op::Lt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
            }
        })
    }
}

/// Split on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
    });
    name_ok && prefix_ok
}

fn valid_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

fn check_key(k: &str) -> Result<String, SelectorError> {
    if valid_key(k) { Ok(k.to_string()) } else { Err(SelectorError(format!("invalid label key \"{k}\""))) }
}

fn check_value(v: &str) -> Result<String, SelectorError> {
    if valid_value(v) { Ok(v.to_string()) } else { Err(SelectorError(format!("invalid label value: \"{v}\""))) }
}

fn parse_req(p: &str) -> Result<Requirement, SelectorError> {
    if let Some(k) = p.strip_prefix('!') {
        return Ok(Requirement { key: check_key(k.trim())?, op: Op::NotExists });
    }
    for (tok, is_in) in [(" notin ", false), (" in ", true)] {
        if let Some(idx) = p.find(tok) {
            let key = check_key(p[..idx].trim())?;
            let set = p[idx + tok.len()..].trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| SelectorError(format!("found '{set}', expected: '('")))?;
            let vals = inner.split(',').map(|v| check_value(v.trim())).collect::<Result<Vec<_>, _>>()?;
            let op = if is_in { Op::In(vals) } else { Op::NotIn(vals) };
            return Ok(Requirement { key, op });
        }
    }
    for (tok, kind) in [("==", 0), ("!=", 1), ("=", 0), (">", 2), ("<", 3)] {
        if let Some(idx) = p.find(tok) {
            let key = check_key(p[..idx].trim())?;
            let raw = p[idx + tok.len()..].trim();
            let op = match kind {
                0 => Op::Eq(check_value(raw)?),
                1 => Op::NotEq(check_value(raw)?),
                _ => {
                    let n: i64 = raw.parse().map_err(|_| {
                        SelectorError(format!("for 'Gt', 'Lt' operators, the value must be an integer: {raw}"))
                    })?;
                    if kind == 2 { Op::Gt(n) } else { Op::Lt(n) }
                }
            };
            return Ok(Requirement { key, op });
        }
    }
    Ok(Requirement { key: check_key(p)?, op: Op::Exists })
}

/// The only fields metrics.k8s.io objects can be selected by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// (field, value, equal?)
    reqs: Vec<(Field, String, bool)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Name,
    Namespace,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldSelectorError {
    #[error("\"{0}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")]
    UnknownField(String),
    #[error("invalid selector: '{0}'; can't understand '{1}'")]
    Syntax(String, String),
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, FieldSelectorError> {
        let mut reqs = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, value, eq) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, true)
            } else {
                return Err(FieldSelectorError::Syntax(s.to_string(), part.to_string()));
            };
            let field = match field.trim() {
                "metadata.name" => Field::Name,
                "metadata.namespace" => Field::Namespace,
                other => return Err(FieldSelectorError::UnknownField(other.to_string())),
            };
            reqs.push((field, value.trim().to_string(), eq));
        }
        Ok(FieldSelector { reqs })
    }

    /// `namespace` is `None` for nodes, which expose only `metadata.name` (a namespace requirement then
    /// compares against the empty string, as upstream's field set has no namespace key).
    pub fn matches(&self, name: &str, namespace: Option<&str>) -> bool {
        self.reqs.iter().all(|(f, v, eq)| {
            let actual = match f {
                Field::Name => Some(name),
                Field::Namespace => namespace,
            };
            let same = actual.unwrap_or("") == v;
            same == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selector_grammar() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        for (sel, want) in [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier=back", false),
            ("app=web,tier in (front,back)", true),
            ("n>3", true),
            ("n<3", false),
            ("example.com/app", false),
        ] {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
    }

    #[test]
    fn label_selector_errors() {
        for sel in ["app=web,", "a b=c", "app in web", "x=#", "n>x"] {
            assert!(LabelSelector::parse(sel).is_err(), "{sel}");
        }
    }

    #[test]
    fn field_selectors() {
        let f = FieldSelector::parse("metadata.name=p1,metadata.namespace!=kube-system").unwrap();
        assert!(f.matches("p1", Some("default")));
        assert!(!f.matches("p1", Some("kube-system")));
        assert!(!f.matches("p2", Some("default")));
        let e = FieldSelector::parse("spec.nodeName=n1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"spec.nodeName\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
