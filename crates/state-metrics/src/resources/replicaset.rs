//! `replicasets`: kube_replicaset_* families.

use k8s_openapi::api::apps::v1::ReplicaSet;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::{Ctx, Family, Samples, Stability};

pub struct ReplicaSets;

impl Resource for ReplicaSets {
    type Obj = ReplicaSet;
    const NAME: &'static str = "replicasets";

    fn identity(r: &ReplicaSet) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", r.metadata.namespace.clone().unwrap_or_default()),
            ("replicaset", r.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<ReplicaSet>] {
        FAMILIES
    }
}

use Stability::{Alpha, Stable};

#[rustfmt::skip]
static FAMILIES: &[Family<ReplicaSet>] = &[
    gauge("kube_replicaset_created", "Unix creation timestamp", Stable, created),
    gauge("kube_replicaset_status_replicas", "The number of replicas per ReplicaSet.", Stable, status_replicas),
    gauge("kube_replicaset_status_fully_labeled_replicas", "The number of fully labeled replicas per ReplicaSet.", Stable, status_fully_labeled_replicas),
    gauge("kube_replicaset_status_ready_replicas", "The number of ready replicas per ReplicaSet.", Stable, status_ready_replicas),
    gauge("kube_replicaset_status_terminating_replicas", "The number of terminating replicas per ReplicaSet.", Alpha, status_terminating_replicas),
    gauge("kube_replicaset_status_observed_generation", "The generation observed by the ReplicaSet controller.", Stable, status_observed_generation),
    gauge("kube_replicaset_spec_replicas", "Number of desired pods for a ReplicaSet.", Stable, spec_replicas),
    gauge("kube_replicaset_metadata_generation", "Sequence number representing a specific generation of the desired state.", Stable, metadata_generation),
    gauge("kube_replicaset_owner", "Information about the ReplicaSet's owner.", Stable, owner),
    gauge("kube_replicaset_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_replicaset_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
];

fn created(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&r.metadata, s)
}

fn status_replicas(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(r.status.as_ref().map_or(0, |st| st.replicas)));
}

fn status_fully_labeled_replicas(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(r.status.as_ref().and_then(|st| st.fully_labeled_replicas).unwrap_or(0)));
}

fn status_ready_replicas(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(r.status.as_ref().and_then(|st| st.ready_replicas).unwrap_or(0)));
}

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

fn metadata_generation(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], r.metadata.generation.unwrap_or(0) as f64);
}

fn owner(r: &ReplicaSet, _: &Ctx, s: &mut Samples<'_>) {
    util::owner_refs_family(&r.metadata, true, s)
}

fn annotations(r: &ReplicaSet, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&r.metadata, &ctx.annotations, s)
}

fn labels(r: &ReplicaSet, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&r.metadata, &ctx.labels, s)
}
