//! `daemonsets`: kube_daemonset_* families.

use super::common::{annotations, created, deletion_timestamp, generation, labels};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::ObjectMeta;
use crate::{message, object};

message! {
    /// `DaemonSet`: metadata and the status counters.
    pub struct DaemonSet {
        1 => metadata: ObjectMeta,
        3 => status: Option<DaemonSetStatus>,
    }
}
object!(DaemonSet);

message! {
    pub struct DaemonSetStatus {
        1 => current_number_scheduled: i32,
        2 => number_misscheduled: i32,
        3 => desired_number_scheduled: i32,
        4 => number_ready: i32,
        omitempty 5 => observed_generation: Option<i64>,
        omitempty 6 => updated_number_scheduled: Option<i32>,
        omitempty 7 => number_available: Option<i32>,
        omitempty 8 => number_unavailable: Option<i32>,
    }
}

pub struct DaemonSets;

impl Resource for DaemonSets {
    type Obj = DaemonSet;
    type Api = k8s_openapi::api::apps::v1::DaemonSet;
    const NAME: &'static str = "daemonsets";
    const IDENTITY: Identity<DaemonSet> = Identity::namespaced("daemonset");

    fn families() -> &'static [Family<DaemonSet>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<DaemonSet>] = &[
    Family::gauge("kube_daemonset_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_daemonset_status_current_number_scheduled", "The number of nodes running at least one daemon pod and are supposed to.", Stable, current_number_scheduled),
    Family::gauge("kube_daemonset_status_desired_number_scheduled", "The number of nodes that should be running the daemon pod.", Stable, desired_number_scheduled),
    Family::gauge("kube_daemonset_status_number_available", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available", Stable, number_available),
    Family::gauge("kube_daemonset_status_number_misscheduled", "The number of nodes running a daemon pod but are not supposed to.", Stable, number_misscheduled),
    Family::gauge("kube_daemonset_status_number_ready", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.", Stable, number_ready),
    Family::gauge("kube_daemonset_status_number_unavailable", "The number of nodes that should be running the daemon pod and have none of the daemon pod running and available", Stable, number_unavailable),
    Family::gauge("kube_daemonset_status_observed_generation", "The most recent generation observed by the daemon set controller.", Stable, observed_generation),
    Family::gauge("kube_daemonset_status_updated_number_scheduled", "The total number of nodes that are running updated daemon pod", Stable, updated_number_scheduled),
    Family::gauge("kube_daemonset_metadata_generation", "Sequence number representing a specific generation of the desired state.", Stable, generation),
    Family::gauge("kube_daemonset_deletion_timestamp", "Unix deletion timestamp", Alpha, deletion_timestamp),
    Family::gauge("kube_daemonset_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_daemonset_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
];

/// A status number; an absent status or field counts as 0 like the Go zero value.
fn status_value(d: &DaemonSet, s: &mut Samples<'_>, f: fn(&DaemonSetStatus) -> i64) {
    s.push(&[], d.status.as_ref().map_or(0, f) as f64);
}

fn current_number_scheduled(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(d, s, |st| st.current_number_scheduled.into())
}

fn desired_number_scheduled(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(d, s, |st| st.desired_number_scheduled.into())
}

fn number_available(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(d, s, |st| st.number_available.unwrap_or(0).into())
}

fn number_misscheduled(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(d, s, |st| st.number_misscheduled.into())
}

fn number_ready(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(d, s, |st| st.number_ready.into())
}

fn number_unavailable(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(d, s, |st| st.number_unavailable.unwrap_or(0).into())
}

fn observed_generation(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(d, s, |st| st.observed_generation.unwrap_or(0))
}

fn updated_number_scheduled(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(d, s, |st| st.updated_number_scheduled.unwrap_or(0).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let status = pb(|st| {
            for (field, v) in [(1, 3), (2, 1), (3, 4), (4, 2), (5, 9), (6, 3), (7, 2), (8, 2)] {
                st.varint(field, v);
            }
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"selector": {{}}}}, "status": {{"currentNumberScheduled": 3,
                "numberMisscheduled": 1, "desiredNumberScheduled": 4, "numberReady": 2, "observedGeneration": 9,
                "updatedNumberScheduled": 3, "numberAvailable": 2, "numberUnavailable": 2}}}}"#
        );
        let o: DaemonSet = same(&encoded, &json);
        assert_eq!(o.status.unwrap().number_misscheduled, 1);
    }
}
