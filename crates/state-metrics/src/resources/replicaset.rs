//! `replicasets`: kube_replicaset_* families.

use super::common::{annotations, created, generation, labels, owner};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::ObjectMeta;
use crate::{message, object};

message! {
    /// `ReplicaSet`: metadata, desired replicas and the status counters.
    pub struct ReplicaSet {
        1 => metadata: ObjectMeta,
        2 => spec: Option<ReplicaSetSpec>,
        3 => status: Option<ReplicaSetStatus>,
    }
}
object!(ReplicaSet);

message! {
    pub struct ReplicaSetSpec {
        1 => replicas: Option<i32>,
    }
}

message! {
    pub struct ReplicaSetStatus {
        1 => replicas: i32,
        omitempty 2 => fully_labeled_replicas: Option<i32>,
        omitempty 3 => observed_generation: Option<i64>,
        omitempty 4 => ready_replicas: Option<i32>,
        7 => terminating_replicas: Option<i32>,
    }
}

pub struct ReplicaSets;

impl Resource for ReplicaSets {
    type Obj = ReplicaSet;
    type Api = k8s_openapi::api::apps::v1::ReplicaSet;
    const NAME: &'static str = "replicasets";
    const IDENTITY: Identity<ReplicaSet> = Identity::namespaced("replicaset");

    fn families() -> &'static [Family<ReplicaSet>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ReplicaSet>] = &[
    Family::gauge("kube_replicaset_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_replicaset_status_replicas", "The number of replicas per ReplicaSet.", Stable, status_replicas),
    Family::gauge("kube_replicaset_status_fully_labeled_replicas", "The number of fully labeled replicas per ReplicaSet.", Stable, status_fully_labeled_replicas),
    Family::gauge("kube_replicaset_status_ready_replicas", "The number of ready replicas per ReplicaSet.", Stable, status_ready_replicas),
    Family::gauge("kube_replicaset_status_terminating_replicas", "The number of terminating replicas per ReplicaSet.", Alpha, status_terminating_replicas),
    Family::gauge("kube_replicaset_status_observed_generation", "The generation observed by the ReplicaSet controller.", Stable, status_observed_generation),
    Family::gauge("kube_replicaset_spec_replicas", "Number of desired pods for a ReplicaSet.", Stable, spec_replicas),
    Family::gauge("kube_replicaset_metadata_generation", "Sequence number representing a specific generation of the desired state.", Stable, generation),
    Family::gauge("kube_replicaset_owner", "Information about the ReplicaSet's owner.", Stable, owner),
    Family::gauge("kube_replicaset_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_replicaset_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
];

fn status_replicas(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(r.status.as_ref().map_or(0, |st| st.replicas)));
}

fn status_fully_labeled_replicas(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(r.status.as_ref().and_then(|st| st.fully_labeled_replicas).unwrap_or(0)));
}

fn status_ready_replicas(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(r.status.as_ref().and_then(|st| st.ready_replicas).unwrap_or(0)));
}

/// A pointer upstream: nothing when unset.
fn status_terminating_replicas(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = r.status.as_ref().and_then(|st| st.terminating_replicas) {
        s.push(&[], f64::from(v));
    }
}

fn status_observed_generation(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], r.status.as_ref().and_then(|st| st.observed_generation).unwrap_or(0) as f64);
}

fn spec_replicas(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = r.spec.as_ref().and_then(|sp| sp.replicas) {
        s.push(&[], f64::from(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let status = pb(|st| {
            for (field, v) in [(1, 3), (2, 3), (3, 6), (4, 2), (5, 2), (7, 1)] {
                st.varint(field, v);
            }
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &pb(|sp| sp.varint(1, 3)));
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"replicas": 3}}, "status": {{"replicas": 3, "fullyLabeledReplicas": 3,
                "observedGeneration": 6, "readyReplicas": 2, "availableReplicas": 2, "terminatingReplicas": 1}}}}"#
        );
        let o: ReplicaSet = same(&encoded, &json);
        assert_eq!(o.status.unwrap().terminating_replicas, Some(1));
    }
}
