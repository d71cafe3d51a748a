//! Label and field selectors, parsed once per request and matched against stored objects. The
//! grammar lives in the shared `labelselector` crate; this module adds the API server's error type
//! and the per-kind field tables.

use crate::error::SimError;

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(labelselector::Selector);

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, SimError> {
        labelselector::Selector::parse(s).map(Self).map_err(|e| SimError::bad_request(e.to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `labels` is a list of (key, value) pairs.
    pub fn matches(&self, labels: &[(String, String)]) -> bool {
        self.0.matches(labels)
    }
}

/// A parsed field selector (`=`, `==`, `!=`); fields not indexed on an object count as "".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(labelselector::FieldSelector);

impl FieldSelector {
    /// `supported` lists the field paths the resource allows.
    pub fn parse(s: &str, supported: &[&str]) -> Result<Self, SimError> {
        let sel = labelselector::FieldSelector::parse(s).map_err(|e| SimError::bad_request(e.to_string()))?;
        if let Some(k) = sel.fields().find(|k| !supported.contains(k)) {
            return Err(SimError::bad_request(format!("field label not supported: {k}")));
        }
        Ok(Self(sel))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, fields: &[(&'static str, String)]) -> bool {
        self.matches_with(|k| fields.iter().find(|(fk, _)| *fk == k).map(|(_, fv)| fv.as_str()))
    }

    /// Match with a lookup function, so callers need not build a field list per object.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.matches_with(get)
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
        let e = LabelSelector::parse("x=#").unwrap_err();
        assert_eq!(e.code, 400);
    }

    #[test]
    fn field_selectors() {
        let f = vec![("spec.nodeName", "n1".to_string())];
        let sup = supported_fields("Pod");
        assert!(FieldSelector::parse("spec.nodeName=n1", sup).unwrap().matches(&f));
        assert!(!FieldSelector::parse("spec.nodeName!=n1", sup).unwrap().matches(&f));
        assert!(FieldSelector::parse("status.phase=", sup).unwrap().matches(&f));
        assert!(FieldSelector::parse("spec.bogus=1", sup).is_err());
        assert!(FieldSelector::parse("spec.nodeName", sup).is_err());
        let f = FieldSelector::parse("metadata.name=a", sup).unwrap();
        assert!(f.matches_with(|k| (k == "metadata.name").then_some("a")));
        assert!(!f.matches_with(|_| None));
    }
}
