//! `statefulsets`: kube_statefulset_* families.

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::{Ctx, Family, Samples, Stability};

pub struct StatefulSets;

impl Resource for StatefulSets {
    type Obj = StatefulSet;
    const NAME: &'static str = "statefulsets";

    fn identity(st: &StatefulSet) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", st.metadata.namespace.clone().unwrap_or_default()),
            ("statefulset", st.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<StatefulSet>] {
        FAMILIES
    }
}

use Stability::Stable;

#[rustfmt::skip]
static FAMILIES: &[Family<StatefulSet>] = &[
    gauge("kube_statefulset_created", "Unix creation timestamp", Stable, created),
    gauge("kube_statefulset_status_replicas", "The number of replicas per StatefulSet.", Stable, status_replicas),
    gauge("kube_statefulset_status_replicas_available", "The number of available replicas per StatefulSet.", Stable, status_replicas_available),
    gauge("kube_statefulset_status_replicas_current", "The number of current replicas per StatefulSet.", Stable, status_replicas_current),
    gauge("kube_statefulset_status_replicas_ready", "The number of ready replicas per StatefulSet.", Stable, status_replicas_ready),
    gauge("kube_statefulset_status_replicas_updated", "The number of updated replicas per StatefulSet.", Stable, status_replicas_updated),
    gauge("kube_statefulset_status_observed_generation", "The generation observed by the StatefulSet controller.", Stable, status_observed_generation),
    gauge("kube_statefulset_replicas", "Number of desired pods for a StatefulSet.", Stable, replicas),
    gauge("kube_statefulset_ordinals_start", "Start ordinal of the StatefulSet.", Stable, ordinals_start),
    gauge("kube_statefulset_metadata_generation", "Sequence number representing a specific generation of the desired state for the StatefulSet.", Stable, metadata_generation),
    gauge("kube_statefulset_persistentvolumeclaim_retention_policy", "Count of retention policy for StatefulSet template PVCs", Stable, pvc_retention_policy),
    gauge("kube_statefulset_annotations", "Kubernetes annotations converted to Prometheus labels.", Stable, annotations),
    gauge("kube_statefulset_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    gauge("kube_statefulset_status_current_revision", "Indicates the version of the StatefulSet used to generate Pods in the sequence [0,currentReplicas).", Stable, current_revision),
    gauge("kube_statefulset_status_update_revision", "Indicates the version of the StatefulSet used to generate Pods in the sequence [replicas-updatedReplicas,replicas)", Stable, update_revision),
    gauge("kube_statefulset_deletion_timestamp", "Unix deletion timestamp", Stable, deletion_timestamp),
];

fn created(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&st.metadata, s)
}

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

fn metadata_generation(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], st.metadata.generation.unwrap_or(0) as f64);
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

fn annotations(st: &StatefulSet, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&st.metadata, &ctx.annotations, s)
}

fn labels(st: &StatefulSet, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&st.metadata, &ctx.labels, s)
}

fn current_revision(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    let rev = st.status.as_ref().and_then(|x| x.current_revision.as_deref()).unwrap_or_default();
    s.push(&[("revision", rev)], 1.0);
}

fn update_revision(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    let rev = st.status.as_ref().and_then(|x| x.update_revision.as_deref()).unwrap_or_default();
    s.push(&[("revision", rev)], 1.0);
}

fn deletion_timestamp(st: &StatefulSet, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&st.metadata, s)
}
