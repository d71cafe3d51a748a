//! The Kubernetes protobuf messages as data: for every message reachable from the built-in kinds
//! kubestate reads, its fields with JSON name, number, type and cardinality. The table itself
//! (`schema_gen.rs`) is generated from the Kubernetes `generated.proto` files by
//! `tools/proto-schema.py` in the types of `schema_def.rs`; this module holds the look-ups.

pub use crate::schema_def::{FieldDef, Form, Kind, MessageDef, MsgId, Shape};
use crate::schema_gen::{KINDS, MESSAGES};

impl MessageDef {
    /// The field with this number.
    pub fn field(&self, number: u32) -> Option<&'static FieldDef> {
        let fields: &'static [FieldDef] = self.fields;
        fields.binary_search_by_key(&number, |f| f.number).ok().map(|at| &fields[at])
    }

    /// The field with this JSON name, looking into inlined members too: the path of fields to it.
    pub fn field_by_json(&self, name: &str) -> Option<Vec<&'static FieldDef>> {
        let fields: &'static [FieldDef] = self.fields;
        for f in fields {
            if f.inline {
                if let Some(mut rest) = f.kind.message().and_then(|m| m.field_by_json(name)) {
                    rest.insert(0, f);
                    return Some(rest);
                }
            } else if f.json == name {
                return Some(vec![f]);
            }
        }
        None
    }
}

impl Kind {
    /// The message a message-typed field holds.
    pub fn message(self) -> Option<&'static MessageDef> {
        match self {
            Kind::Message(id) => MESSAGES.get(usize::from(id)),
            _ => None,
        }
    }
}

/// Every message of the table, sorted by name.
pub fn messages() -> &'static [MessageDef] {
    MESSAGES
}

/// A message by its full protobuf name (`api.core.v1.Pod`, `apimachinery.pkg.apis.meta.v1.Status`).
pub fn message(name: &str) -> Option<&'static MessageDef> {
    let name = name.strip_prefix("k8s.io.").unwrap_or(name);
    MESSAGES.binary_search_by(|m| m.name.cmp(name)).ok().map(|at| &MESSAGES[at])
}

/// The message of a kind (or list kind) as an envelope's typeMeta names it: `("apps/v1", "Deployment")`.
pub fn for_kind(api_version: &str, kind: &str) -> Option<&'static MessageDef> {
    let api_version = same_as_ga(api_version, kind).unwrap_or(api_version);
    KINDS.iter().find(|(v, k, _)| *v == api_version && *k == kind).and_then(|(_, _, id)| MESSAGES.get(usize::from(*id)))
}

/// Beta kinds whose messages carry the same fields under the same numbers as their GA version, so the
/// GA table serves for them: the admission policies and their bindings at
/// `admissionregistration.k8s.io/v1beta1` (compared field by field with the v1beta1 bindings of the
/// k8s-pb 0.9.0 crate, Kubernetes 1.35: every v1beta1 field has the v1 number, type and name).
const SAME_AS_GA: &[(&str, &str, &[&str])] = &[(
    "admissionregistration.k8s.io/v1beta1",
    "admissionregistration.k8s.io/v1",
    &[
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    ],
)];

/// The GA group/version whose messages a beta kind (or its list kind) is encoded with, if any.
fn same_as_ga(api_version: &str, kind: &str) -> Option<&'static str> {
    let base = kind.strip_suffix("List").unwrap_or(kind);
    SAME_AS_GA.iter().find(|(beta, _, kinds)| *beta == api_version && kinds.contains(&base)).map(|(_, ga, _)| *ga)
}

/// Every (apiVersion, kind) the table has a message for, list kinds included.
pub fn kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    KINDS.iter().map(|(v, k, _)| (*v, *k))
}

/// The field numbers along a JSON path from a message (`["status", "phase"]` of `api.core.v1.Pod` is
/// `[3, 1]`), inlined members included: what a hand-written decoder has to follow.
pub fn field_numbers(message_name: &str, path: &[&str]) -> Option<Vec<u32>> {
    let mut msg = message(message_name)?;
    let mut out = Vec::new();
    for (at, name) in path.iter().enumerate() {
        let chain = msg.field_by_json(name)?;
        out.extend(chain.iter().map(|f| f.number));
        let last = chain.last()?;
        if at + 1 < path.len() {
            msg = last.kind.message()?;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_admission_policies_use_the_ga_messages() {
        let beta = "admissionregistration.k8s.io/v1beta1";
        let ga = "admissionregistration.k8s.io/v1";
        for kind in ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBindingList", "MutatingAdmissionPolicy"] {
            assert_eq!(for_kind(beta, kind).map(|m| m.name), for_kind(ga, kind).map(|m| m.name), "{kind}");
            assert!(for_kind(beta, kind).is_some(), "{kind}");
        }
        // Only those kinds, only that version.
        assert!(for_kind(beta, "ValidatingWebhookConfiguration").is_none());
        assert!(for_kind("admissionregistration.k8s.io/v1alpha1", "ValidatingAdmissionPolicy").is_none());
    }

    #[test]
    fn table_is_sorted_and_every_reference_resolves() {
        assert!(MESSAGES.windows(2).all(|w| w[0].name < w[1].name), "messages sorted by name");
        for m in MESSAGES {
            assert!(m.fields.windows(2).all(|w| w[0].number < w[1].number), "{}: fields by number", m.name);
            for f in m.fields {
                if let Kind::Message(id) = f.kind {
                    assert!(usize::from(id) < MESSAGES.len(), "{}.{}", m.name, f.json);
                }
                if f.inline {
                    assert!(f.kind.message().is_some_and(|m| m.form == Form::Object), "{}.{}", m.name, f.json);
                }
            }
        }
    }

    #[test]
    fn looks_up_kinds_messages_and_paths() {
        assert_eq!(for_kind("v1", "Pod").map(|m| m.name), Some("api.core.v1.Pod"));
        assert_eq!(for_kind("apps/v1", "DeploymentList").map(|m| m.name), Some("api.apps.v1.DeploymentList"));
        assert_eq!(for_kind("v1", "Status").map(|m| m.name), Some("apimachinery.pkg.apis.meta.v1.Status"));
        assert!(for_kind("ops.example.com/v1", "Backup").is_none());
        assert_eq!(kinds().filter(|(_, k)| !k.ends_with("List")).count(), 45);
        assert_eq!(message("k8s.io.api.core.v1.PodSpec").map(|m| m.name), Some("api.core.v1.PodSpec"));
        assert_eq!(field_numbers("api.core.v1.Pod", &["status", "phase"]), Some(vec![3, 1]));
        assert_eq!(field_numbers("api.core.v1.Pod", &["metadata", "labels"]), Some(vec![1, 11]));
        // `exec` of a probe sits in its inlined ProbeHandler (field 1).
        assert_eq!(field_numbers("api.core.v1.Container", &["livenessProbe", "exec"]), Some(vec![10, 1, 1]));
        assert_eq!(field_numbers("api.core.v1.Pod", &["status", "nope"]), None);
        let time = message("apimachinery.pkg.apis.meta.v1.Time").map(|m| m.form);
        assert_eq!(time, Some(Form::Time));
    }
}
