//! `daemonsets`: kube_daemonset_* families.

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::{Ctx, Family, Samples, Stability};

pub struct DaemonSets;

impl Resource for DaemonSets {
    type Obj = DaemonSet;
    const NAME: &'static str = "daemonsets";

    fn identity(d: &DaemonSet) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", d.metadata.namespace.clone().unwrap_or_default()),
            ("daemonset", d.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<DaemonSet>] {
        FAMILIES
    }
}

use Stability::{Alpha, Stable};

#[rustfmt::skip]
static FAMILIES: &[Family<DaemonSet>] = &[
    gauge("kube_daemonset_created", "Unix creation timestamp", Stable, created),
    gauge("kube_daemonset_status_current_number_scheduled", "The number of nodes running at least one daemon pod and are supposed to.", Stable, current_number_scheduled),
    gauge("kube_daemonset_status_desired_number_scheduled", "The number of nodes that should be running the daemon pod.", Stable, desired_number_scheduled),
    gauge("kube_daemonset_status_number_available", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available", Stable, number_available),
    gauge("kube_daemonset_status_number_misscheduled", "The number of nodes running a daemon pod but are not supposed to.", Stable, number_misscheduled),
    gauge("kube_daemonset_status_number_ready", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.", Stable, number_ready),
    gauge("kube_daemonset_status_number_unavailable", "The number of nodes that should be running the daemon pod and have none of the daemon pod running and available", Stable, number_unavailable),
    gauge("kube_daemonset_status_observed_generation", "The most recent generation observed by the daemon set controller.", Stable, observed_generation),
    gauge("kube_daemonset_status_updated_number_scheduled", "The total number of nodes that are running updated daemon pod", Stable, updated_number_scheduled),
    gauge("kube_daemonset_metadata_generation", "Sequence number representing a specific generation of the desired state.", Stable, metadata_generation),
    gauge("kube_daemonset_deletion_timestamp", "Unix deletion timestamp", Alpha, deletion_timestamp),
    gauge("kube_daemonset_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_daemonset_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
];

fn created(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&d.metadata, s)
}

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

fn metadata_generation(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], d.metadata.generation.unwrap_or(0) as f64);
}

fn deletion_timestamp(d: &DaemonSet, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&d.metadata, s)
}

fn annotations(d: &DaemonSet, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&d.metadata, &ctx.annotations, s)
}

fn labels(d: &DaemonSet, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&d.metadata, &ctx.labels, s)
}
