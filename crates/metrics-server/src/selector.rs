//! Kubernetes label selectors (full string grammar) and the field selectors metrics.k8s.io accepts.
//! Both grammars live in the shared `labelselector` crate; this module narrows field selectors to
//! the two fields metrics objects have.

pub use labelselector::ParseError as SelectorError;

/// A parsed label selector; the empty selector matches everything.
pub type LabelSelector = labelselector::Selector;

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
    #[error(transparent)]
    Syntax(#[from] SelectorError),
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, FieldSelectorError> {
        let parsed = labelselector::FieldSelector::parse(s)?;
        let mut reqs = Vec::new();
        for r in parsed.requirements() {
            let field = match r.field.as_str() {
                "metadata.name" => Field::Name,
                "metadata.namespace" => Field::Namespace,
                other => return Err(FieldSelectorError::UnknownField(other.to_string())),
            };
            reqs.push((field, r.value.clone(), r.equal));
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
    use std::collections::BTreeMap;

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
        assert!(LabelSelector::parse("x=#").unwrap_err().to_string().starts_with("unable to parse requirement: "));
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
        assert!(matches!(FieldSelector::parse("metadata.name=a=b"), Err(FieldSelectorError::Syntax(_))));
        let nodes = FieldSelector::parse("metadata.namespace=").unwrap();
        assert!(nodes.matches("n1", None));
    }
}
