//! Label and field selectors, parsed once per request and matched against stored objects.

use crate::error::SimError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Req>);

/// Split on commas that are not inside parentheses.
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

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, SimError> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| SimError::bad_request(format!("unable to parse requirement: {whole}")))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, SimError> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            let bad = || SimError::bad_request(format!("unable to parse requirement: {p}"));
            if let Some(k) = p.strip_prefix('!') {
                reqs.push(Req::NotExists(k.trim().to_string()));
            } else if let Some((k, v)) = p.split_once("!=") {
                reqs.push(Req::NotEq(k.trim().to_string(), v.trim().to_string()));
            } else if let Some((k, v)) = p.split_once("==") {
                reqs.push(Req::Eq(k.trim().to_string(), v.trim().to_string()));
            } else if let Some((k, v)) = p.split_once('=') {
                reqs.push(Req::Eq(k.trim().to_string(), v.trim().to_string()));
            } else if let Some(idx) = p.find(" notin ") {
                let key = p[..idx].trim().to_string();
                reqs.push(Req::NotIn(key, parse_set(&p[idx + 7..], p)?));
            } else if let Some(idx) = p.find(" in ") {
                let key = p[..idx].trim().to_string();
                reqs.push(Req::In(key, parse_set(&p[idx + 4..], p)?));
            } else if p.contains(' ') || p.contains('(') {
                return Err(bad());
            } else {
                reqs.push(Req::Exists(p.to_string()));
            }
        }
        Ok(Self(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `labels` is a list of (key, value) pairs.
    pub fn matches(&self, labels: &[(String, String)]) -> bool {
        let get = |k: &str| labels.iter().find(|(lk, _)| lk == k).map(|(_, v)| v.as_str());
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::NotEq(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector (`=`, `==`, `!=`); fields not indexed on an object count as "".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// `supported` lists the field paths the resource allows.
    pub fn parse(s: &str, supported: &[&str]) -> Result<Self, SimError> {
        let mut reqs = Vec::new();
        for p in s.split(',') {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let (k, eq, v) = if let Some((k, v)) = p.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = p.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = p.split_once('=') {
                (k, true, v)
            } else {
                return Err(SimError::bad_request(format!("invalid selector: '{p}'; can't understand '{p}'")));
            };
            let k = k.trim();
            if !supported.contains(&k) {
                return Err(SimError::bad_request(format!("field label not supported: {k}")));
            }
            reqs.push((k.to_string(), eq, v.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, fields: &[(&'static str, String)]) -> bool {
        self.matches_with(|k| fields.iter().find(|(fk, _)| *fk == k).map(|(_, fv)| fv.as_str()))
    }

    /// Match with a lookup function, so callers need not build a field list per object.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|(k, eq, v)| (get(k).unwrap_or("") == v) == *eq)
    }
}

/// The field paths a kind supports in field selectors.
pub fn supported_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "Event" => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
        ],
        "Secret" => &["metadata.name", "metadata.namespace", "type"],
        "Namespace" => &["metadata.name", "metadata.namespace", "status.phase"],
        "Node" => &["metadata.name", "metadata.namespace", "spec.unschedulable"],
        _ => &["metadata.name", "metadata.namespace"],
    }
}

/// Extract the indexed field values of an object (beyond name and namespace).
pub fn extract_fields(kind: &str, obj: &serde_json::Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for f in supported_fields(kind) {
        if f.starts_with("metadata.") {
            continue;
        }
        let mut cur = obj;
        for seg in f.split('.') {
            cur = &cur[seg];
        }
        let v = match cur {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => {
                if *f == "spec.unschedulable" {
                    "false".to_string()
                } else {
                    String::new()
                }
            }
            other => other.to_string(),
        };
        // Absent and empty match alike, so only non-empty values are kept.
        if !v.is_empty() {
            out.push((*f, v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn label_operators() {
        let labels = l(&[("app", "web"), ("tier", "front")]);
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&labels);
        assert!(m("app=web"));
        assert!(m("app==web"));
        assert!(!m("app!=web"));
        assert!(m("app in (web, db)"));
        assert!(!m("app notin (web,db)"));
        assert!(m("tier,app=web"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(m("missing notin (x)"));
        assert!(!m("missing in (x)"));
        assert!(m(""));
        assert!(LabelSelector::parse("app in web").is_err());
    }

    #[test]
    fn field_selectors() {
        let f = vec![("spec.nodeName", "n1".to_string())];
        let sup = supported_fields("Pod");
        assert!(FieldSelector::parse("spec.nodeName=n1", sup).unwrap().matches(&f));
        assert!(!FieldSelector::parse("spec.nodeName!=n1", sup).unwrap().matches(&f));
        assert!(FieldSelector::parse("status.phase=", sup).unwrap().matches(&f));
        assert!(FieldSelector::parse("spec.bogus=1", sup).is_err());
    }
}
