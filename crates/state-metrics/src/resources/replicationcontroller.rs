//! `replicationcontrollers`: kube_replicationcontroller_* families.

use k8s_openapi::api::core::v1::{ReplicationController, ReplicationControllerStatus};

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct ReplicationControllers;

impl Resource for ReplicationControllers {
    type Obj = ReplicationController;
    const NAME: &'static str = "replicationcontrollers";

    fn identity(o: &ReplicationController) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", o.metadata.namespace.clone().unwrap_or_default()),
            ("replicationcontroller", o.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<ReplicationController>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ReplicationController>] = &[
    Family { name: "kube_replicationcontroller_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_replicationcontroller_status_replicas", help: "The number of replicas per ReplicationController.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_replicas },
    Family { name: "kube_replicationcontroller_status_fully_labeled_replicas", help: "The number of fully labeled replicas per ReplicationController.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_fully_labeled_replicas },
    Family { name: "kube_replicationcontroller_status_ready_replicas", help: "The number of ready replicas per ReplicationController.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_ready_replicas },
    Family { name: "kube_replicationcontroller_status_available_replicas", help: "The number of available replicas per ReplicationController.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_available_replicas },
    Family { name: "kube_replicationcontroller_status_observed_generation", help: "The generation observed by the ReplicationController controller.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_observed_generation },
    Family { name: "kube_replicationcontroller_spec_replicas", help: "Number of desired pods for a ReplicationController.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: spec_replicas },
    Family { name: "kube_replicationcontroller_metadata_generation", help: "Sequence number representing a specific generation of the desired state.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: metadata_generation },
    Family { name: "kube_replicationcontroller_owner", help: "Information about the ReplicationController's owner.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: owner },
];

fn created(o: &ReplicationController, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}

/// Status counters are plain integers upstream, so a missing status (or field) reads as 0.
fn status_value(o: &ReplicationController, s: &mut Samples<'_>, get: fn(&ReplicationControllerStatus) -> f64) {
    s.push(&[], o.status.as_ref().map_or(0.0, get));
}

fn status_replicas(o: &ReplicationController, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| f64::from(st.replicas))
}

fn status_fully_labeled_replicas(o: &ReplicationController, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| f64::from(st.fully_labeled_replicas.unwrap_or(0)))
}

fn status_ready_replicas(o: &ReplicationController, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| f64::from(st.ready_replicas.unwrap_or(0)))
}

fn status_available_replicas(o: &ReplicationController, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| f64::from(st.available_replicas.unwrap_or(0)))
}

fn status_observed_generation(o: &ReplicationController, _: &Ctx, s: &mut Samples<'_>) {
    status_value(o, s, |st| st.observed_generation.unwrap_or(0) as f64)
}

/// Omitted when unset (the API server normally defaults it to 1).
fn spec_replicas(o: &ReplicationController, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(r) = o.spec.as_ref().and_then(|sp| sp.replicas) {
        s.push(&[], f64::from(r));
    }
}

fn metadata_generation(o: &ReplicationController, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], o.metadata.generation.unwrap_or(0) as f64)
}

fn owner(o: &ReplicationController, _: &Ctx, s: &mut Samples<'_>) {
    util::owner_refs_family(&o.metadata, true, s)
}
