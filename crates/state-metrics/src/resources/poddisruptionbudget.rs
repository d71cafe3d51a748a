//! `poddisruptionbudgets`: kube_poddisruptionbudget_* families (policy/v1).

use super::common::{annotations, created, deletion_timestamp, labels};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::ObjectMeta;
use crate::{message, object};

message! {
    /// `PodDisruptionBudget`: metadata and the status counters.
    pub struct PodDisruptionBudget {
        1 => metadata: ObjectMeta,
        3 => status: Option<PodDisruptionBudgetStatus>,
    }
}
object!(PodDisruptionBudget);

message! {
    pub struct PodDisruptionBudgetStatus {
        omitempty 1 => observed_generation: Option<i64>,
        3 => disruptions_allowed: Option<i32>,
        4 => current_healthy: Option<i32>,
        5 => desired_healthy: Option<i32>,
        6 => expected_pods: Option<i32>,
    }
}

pub struct PodDisruptionBudgets;

impl Resource for PodDisruptionBudgets {
    type Obj = PodDisruptionBudget;
    type Api = k8s_openapi::api::policy::v1::PodDisruptionBudget;
    const NAME: &'static str = "poddisruptionbudgets";
    const IDENTITY: Identity<PodDisruptionBudget> = Identity::namespaced("poddisruptionbudget");

    fn families() -> &'static [Family<PodDisruptionBudget>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<PodDisruptionBudget>] = &[
    Family::gauge("kube_poddisruptionbudget_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_poddisruptionbudget_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    Family::gauge("kube_poddisruptionbudget_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_poddisruptionbudget_status_current_healthy", "Current number of healthy pods", Stable, status_current_healthy),
    Family::gauge("kube_poddisruptionbudget_status_desired_healthy", "Minimum desired number of healthy pods", Stable, status_desired_healthy),
    Family::gauge("kube_poddisruptionbudget_status_pod_disruptions_allowed", "Number of pod disruptions that are currently allowed", Stable, status_pod_disruptions_allowed),
    Family::gauge("kube_poddisruptionbudget_status_expected_pods", "Total number of pods counted by this disruption budget", Stable, status_expected_pods),
    Family::gauge("kube_poddisruptionbudget_status_observed_generation", "Most recent generation observed when updating this PDB status", Stable, status_observed_generation),
    Family::gauge("kube_poddisruptionbudget_deletion_timestamp", "Unix deletion timestamp", Alpha, deletion_timestamp),
];

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let status = pb(|st| {
            for (field, v) in [(1, 2), (3, 1), (4, 3), (5, 2), (6, 3)] {
                st.varint(field, v);
            }
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "status": {{"observedGeneration": 2, "disruptionsAllowed": 1,
                "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3}}}}"#
        );
        let o: PodDisruptionBudget = same(&encoded, &json);
        assert_eq!(o.status.unwrap().disruptions_allowed, Some(1));
    }
}
