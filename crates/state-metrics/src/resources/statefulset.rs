//! `statefulsets`: kube_statefulset_* families.

use super::common::{annotations, created, deletion_timestamp, generation, labels};
use super::{Identity, Resource};
use crate::family::Stability::Stable;
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `StatefulSet`: metadata, the spec's replicas, ordinals and PVC retention, the status.
    pub struct StatefulSet {
        1 => metadata: ObjectMeta,
        2 => spec: Option<StatefulSetSpec>,
        3 => status: Option<StatefulSetStatus>,
    }
}
object!(StatefulSet);

message! {
    pub struct StatefulSetSpec {
        1 => replicas: Option<i32>,
        10 => persistent_volume_claim_retention_policy: Option<StatefulSetPersistentVolumeClaimRetentionPolicy>,
        11 => ordinals: Option<StatefulSetOrdinals>,
    }
}

message! {
    pub struct StatefulSetPersistentVolumeClaimRetentionPolicy {
        omitempty 1 => when_deleted: Option<Str>,
        omitempty 2 => when_scaled: Option<Str>,
    }
}

message! {
    pub struct StatefulSetOrdinals {
        1 => start: Option<i32>,
    }
}

message! {
    pub struct StatefulSetStatus {
        omitempty 1 => observed_generation: Option<i64>,
        2 => replicas: i32,
        omitempty 3 => ready_replicas: Option<i32>,
        omitempty 4 => current_replicas: Option<i32>,
        omitempty 5 => updated_replicas: Option<i32>,
        omitempty 6 => current_revision: Option<Str>,
        omitempty 7 => update_revision: Option<Str>,
        11 => available_replicas: Option<i32>,
    }
}

pub struct StatefulSets;

impl Resource for StatefulSets {
    type Obj = StatefulSet;
    type Api = k8s_openapi::api::apps::v1::StatefulSet;
    const NAME: &'static str = "statefulsets";
    const IDENTITY: Identity<StatefulSet> = Identity::namespaced("statefulset");

    fn families() -> &'static [Family<StatefulSet>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<StatefulSet>] = &[
    Family::gauge("kube_statefulset_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_statefulset_status_replicas", "The number of replicas per StatefulSet.", Stable, status_replicas),
    Family::gauge("kube_statefulset_status_replicas_available", "The number of available replicas per StatefulSet.", Stable, status_replicas_available),
    Family::gauge("kube_statefulset_status_replicas_current", "The number of current replicas per StatefulSet.", Stable, status_replicas_current),
    Family::gauge("kube_statefulset_status_replicas_ready", "The number of ready replicas per StatefulSet.", Stable, status_replicas_ready),
    Family::gauge("kube_statefulset_status_replicas_updated", "The number of updated replicas per StatefulSet.", Stable, status_replicas_updated),
    Family::gauge("kube_statefulset_status_observed_generation", "The generation observed by the StatefulSet controller.", Stable, status_observed_generation),
    Family::gauge("kube_statefulset_replicas", "Number of desired pods for a StatefulSet.", Stable, replicas),
    Family::gauge("kube_statefulset_ordinals_start", "Start ordinal of the StatefulSet.", Stable, ordinals_start),
    Family::gauge("kube_statefulset_metadata_generation", "Sequence number representing a specific generation of the desired state for the StatefulSet.", Stable, generation),
    Family::gauge("kube_statefulset_persistentvolumeclaim_retention_policy", "Count of retention policy for StatefulSet template PVCs", Stable, pvc_retention_policy),
    Family::gauge("kube_statefulset_annotations", "Kubernetes annotations converted to Prometheus labels.", Stable, annotations),
    Family::gauge("kube_statefulset_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_statefulset_status_current_revision", "Indicates the version of the StatefulSet used to generate Pods in the sequence [0,currentReplicas).", Stable, current_revision),
    Family::gauge("kube_statefulset_status_update_revision", "Indicates the version of the StatefulSet used to generate Pods in the sequence [replicas-updatedReplicas,replicas)", Stable, update_revision),
    Family::gauge("kube_statefulset_deletion_timestamp", "Unix deletion timestamp", Stable, deletion_timestamp),
];

/// A status number; an absent status or field counts as 0 like the Go zero value.
fn status_value(st: &StatefulSet, s: &mut Samples<'_>, f: fn(&StatefulSetStatus) -> i64) {
    s.push(&[], st.status.as_ref().map_or(0, f) as f64);
}

fn status_replicas(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(st, s, |x| x.replicas.into())
}

fn status_replicas_available(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(st, s, |x| x.available_replicas.unwrap_or(0).into())
}

fn status_replicas_current(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(st, s, |x| x.current_replicas.unwrap_or(0).into())
}

fn status_replicas_ready(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(st, s, |x| x.ready_replicas.unwrap_or(0).into())
}

fn status_replicas_updated(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(st, s, |x| x.updated_replicas.unwrap_or(0).into())
}

fn status_observed_generation(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    status_value(st, s, |x| x.observed_generation.unwrap_or(0))
}

fn replicas(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(r) = st.spec.as_ref().and_then(|sp| sp.replicas) {
        s.push(&[], f64::from(r));
    }
}

fn ordinals_start(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(o) = st.spec.as_ref().and_then(|sp| sp.ordinals.as_ref()) {
        s.push(&[], f64::from(o.start.unwrap_or(0)));
    }
}

fn pvc_retention_policy(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    let Some(p) = st.spec.as_ref().and_then(|sp| sp.persistent_volume_claim_retention_policy.as_ref()) else {
        return;
    };
    let deleted = p.when_deleted.as_deref().unwrap_or_default();
    let scaled = p.when_scaled.as_deref().unwrap_or_default();
    if !deleted.is_empty() || !scaled.is_empty() {
        s.push(&[("when_deleted", deleted), ("when_scaled", scaled)], 1.0);
    }
}

fn current_revision(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    let rev = st.status.as_ref().and_then(|x| x.current_revision.as_deref()).unwrap_or_default();
    s.push(&[("revision", rev)], 1.0);
}

fn update_revision(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    let rev = st.status.as_ref().and_then(|x| x.update_revision.as_deref()).unwrap_or_default();
    s.push(&[("revision", rev)], 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let spec = pb(|sp| {
            sp.varint(1, 3);
            sp.string(5, "db");
            sp.message(
                10,
                &pb(|p| {
                    p.string(1, "Retain");
                    p.string(2, "Delete");
                }),
            );
            sp.message(11, &pb(|o| o.varint(1, 5)));
        });
        let status = pb(|st| {
            for (field, v) in [(1, 4), (2, 3), (3, 2), (4, 1), (5, 1), (11, 2)] {
                st.varint(field, v);
            }
            st.string(6, "db-1");
            st.string(7, "db-2");
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"replicas": 3, "serviceName": "db",
                "persistentVolumeClaimRetentionPolicy": {{"whenDeleted": "Retain", "whenScaled": "Delete"}},
                "ordinals": {{"start": 5}}}}, "status": {{"observedGeneration": 4, "replicas": 3, "readyReplicas": 2,
                "currentReplicas": 1, "updatedReplicas": 1, "availableReplicas": 2, "currentRevision": "db-1",
                "updateRevision": "db-2"}}}}"#
        );
        let o: StatefulSet = same(&encoded, &json);
        assert_eq!(o.spec.unwrap().ordinals.unwrap().start, Some(5));
    }
}
