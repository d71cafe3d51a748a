//! `namespaces`: kube_namespace_* families.

use k8s_openapi::api::core::v1::Namespace;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct Namespaces;

impl Resource for Namespaces {
    type Obj = Namespace;
    const NAME: &'static str = "namespaces";

    fn identity(n: &Namespace) -> Vec<(&'static str, String)> {
        vec![("namespace", n.metadata.name.clone().unwrap_or_default())]
    }

    fn families() -> &'static [Family<Namespace>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Namespace>] = &[
    Family { name: "kube_namespace_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_namespace_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_namespace_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_namespace_status_phase", help: "kubernetes namespace status phase.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_phase },
    Family { name: "kube_namespace_status_condition", help: "The condition of a namespace.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: status_condition },
];

fn created(n: &Namespace, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&n.metadata, s)
}

fn annotations(n: &Namespace, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&n.metadata, &ctx.annotations, s)
}

fn labels(n: &Namespace, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&n.metadata, &ctx.labels, s)
}

/// Unlike other phase families, both series are written even when the phase is unset (then both are 0).
fn status_phase(n: &Namespace, _: &Ctx, s: &mut Samples<'_>) {
    let phase = n.status.as_ref().and_then(|st| st.phase.as_deref()).unwrap_or_default();
    for p in ["Active", "Terminating"] {
        s.push(&[("phase", p)], util::bool_f64(phase == p));
    }
}

fn status_condition(n: &Namespace, _: &Ctx, s: &mut Samples<'_>) {
    let conditions = n.status.as_ref().and_then(|st| st.conditions.as_deref()).unwrap_or_default();
    for c in conditions {
        for (status, v) in util::condition_values(&c.status) {
            s.push(&[("condition", &c.type_), ("status", status)], v);
        }
    }
}
