//! `poddisruptionbudgets`: kube_poddisruptionbudget_* families (policy/v1).

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct PodDisruptionBudgets;

impl Resource for PodDisruptionBudgets {
    type Obj = PodDisruptionBudget;
    const NAME: &'static str = "poddisruptionbudgets";

    fn identity(o: &PodDisruptionBudget) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", o.metadata.namespace.clone().unwrap_or_default()),
            ("poddisruptionbudget", o.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<PodDisruptionBudget>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<PodDisruptionBudget>] = &[
    Family { name: "kube_poddisruptionbudget_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_poddisruptionbudget_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_poddisruptionbudget_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_poddisruptionbudget_status_current_healthy", help: "Current number of healthy pods", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_current_healthy },
    Family { name: "kube_poddisruptionbudget_status_desired_healthy", help: "Minimum desired number of healthy pods", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_desired_healthy },
    Family { name: "kube_poddisruptionbudget_status_pod_disruptions_allowed", help: "Number of pod disruptions that are currently allowed", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_pod_disruptions_allowed },
    Family { name: "kube_poddisruptionbudget_status_expected_pods", help: "Total number of pods counted by this disruption budget", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_expected_pods },
    Family { name: "kube_poddisruptionbudget_status_observed_generation", help: "Most recent generation observed when updating this PDB status", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_observed_generation },
    Family { name: "kube_poddisruptionbudget_deletion_timestamp", help: "Unix deletion timestamp", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: deletion_timestamp },
];

fn annotations(o: &PodDisruptionBudget, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&o.metadata, &ctx.annotations, s)
}

fn labels(o: &PodDisruptionBudget, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&o.metadata, &ctx.labels, s)
}

fn created(o: &PodDisruptionBudget, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}

/// Status counters are plain integers upstream, so a missing status (or field) reads as 0.
fn status_value(o: &PodDisruptionBudget, s: &mut Samples<'_>, get: fn(&PodDisruptionBudgetStatus) -> Option<f64>) {
    s.push(&[], o.status.as_ref().and_then(get).unwrap_or(0.0));
}

fn status_current_healthy(o: &PodDisruptionBudget, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| st.current_healthy.map(f64::from))
}

fn status_desired_healthy(o: &PodDisruptionBudget, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| st.desired_healthy.map(f64::from))
}

fn status_pod_disruptions_allowed(o: &PodDisruptionBudget, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| st.disruptions_allowed.map(f64::from))
}

fn status_expected_pods(o: &PodDisruptionBudget, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| st.expected_pods.map(f64::from))
}

fn status_observed_generation(o: &PodDisruptionBudget, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| st.observed_generation.map(|g| g as f64))
}

fn deletion_timestamp(o: &PodDisruptionBudget, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&o.metadata, s)
}
