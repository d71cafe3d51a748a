//! `namespaces`: kube_namespace_* families.

use super::common::{annotations, bool_f64, condition_values, created, labels};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `Namespace`: metadata, phase and conditions.
    pub struct Namespace {
        1 => metadata: ObjectMeta,
        3 => status: Option<NamespaceStatus>,
    }
}
object!(Namespace);

message! {
    pub struct NamespaceStatus {
        omitempty 1 => phase: Option<Str>,
        2 => conditions: Option<Vec<NamespaceCondition>>,
    }
}

message! {
    pub struct NamespaceCondition {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => status: Str,
    }
}

pub struct Namespaces;

impl Resource for Namespaces {
    type Obj = Namespace;
    type Api = k8s_openapi::api::core::v1::Namespace;
    const NAME: &'static str = "namespaces";
    // A namespace's own name is its `namespace` label.
    const IDENTITY: Identity<Namespace> = Identity::cluster("namespace");

    fn families() -> &'static [Family<Namespace>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Namespace>] = &[
    Family::gauge("kube_namespace_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_namespace_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_namespace_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_namespace_status_phase", "kubernetes namespace status phase.", Stable, status_phase),
    Family::gauge("kube_namespace_status_condition", "The condition of a namespace.", Alpha, status_condition),
];

/// Unlike other phase families, both series are written even when the phase is unset (then both are 0).
fn status_phase(n: &Namespace, _: &Ctx, s: &mut Samples<'_>) {
    let phase = n.status.as_ref().and_then(|st| st.phase.as_deref()).unwrap_or_default();
    for p in ["Active", "Terminating"] {
        s.push(&[("phase", p)], bool_f64(phase == p));
    }
}

fn status_condition(n: &Namespace, _: &Ctx, s: &mut Samples<'_>) {
    let conditions = n.status.as_ref().and_then(|st| st.conditions.as_deref()).unwrap_or_default();
    for c in conditions {
        for (status, v) in condition_values(&c.status) {
            s.push(&[("condition", &c.type_), ("status", status)], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same, time};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let condition = pb(|c| {
            c.string(1, "NamespaceDeletionContentFailure");
            c.string(2, "False");
            c.message(4, &time(1_700_000_100));
            c.string(5, "ContentDeleted");
        });
        let status = pb(|st| {
            st.string(1, "Terminating");
            st.message(2, &condition);
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &pb(|sp| sp.string(1, "kubernetes")));
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"finalizers": ["kubernetes"]}}, "status": {{"phase": "Terminating",
                "conditions": [{{"type": "NamespaceDeletionContentFailure", "status": "False",
                "lastTransitionTime": "2023-11-14T22:15:00Z", "reason": "ContentDeleted"}}]}}}}"#
        );
        let o: Namespace = same(&encoded, &json);
        assert_eq!(o.status.unwrap().conditions.unwrap()[0].status, "False");
    }
}
