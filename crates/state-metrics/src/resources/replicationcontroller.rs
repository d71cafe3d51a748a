//! `replicationcontrollers`: kube_replicationcontroller_* families.

use super::common::{created, generation, owner};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::ObjectMeta;
use crate::{message, object};

message! {
    /// `ReplicationController`: metadata, desired replicas and the status counters.
    pub struct ReplicationController {
        1 => metadata: ObjectMeta,
        2 => spec: Option<ReplicationControllerSpec>,
        3 => status: Option<ReplicationControllerStatus>,
    }
}
object!(ReplicationController);

message! {
    pub struct ReplicationControllerSpec {
        1 => replicas: Option<i32>,
    }
}

message! {
    pub struct ReplicationControllerStatus {
        1 => replicas: i32,
        omitempty 2 => fully_labeled_replicas: Option<i32>,
        omitempty 3 => observed_generation: Option<i64>,
        omitempty 4 => ready_replicas: Option<i32>,
        omitempty 5 => available_replicas: Option<i32>,
    }
}

pub struct ReplicationControllers;

impl Resource for ReplicationControllers {
    type Obj = ReplicationController;
    type Api = k8s_openapi::api::core::v1::ReplicationController;
    const NAME: &'static str = "replicationcontrollers";
    const IDENTITY: Identity<ReplicationController> = Identity::namespaced("replicationcontroller");

    fn families() -> &'static [Family<ReplicationController>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ReplicationController>] = &[
    Family::gauge("kube_replicationcontroller_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_replicationcontroller_status_replicas", "The number of replicas per ReplicationController.", Stable, status_replicas),
    Family::gauge("kube_replicationcontroller_status_fully_labeled_replicas", "The number of fully labeled replicas per ReplicationController.", Stable, status_fully_labeled_replicas),
    Family::gauge("kube_replicationcontroller_status_ready_replicas", "The number of ready replicas per ReplicationController.", Stable, status_ready_replicas),
    Family::gauge("kube_replicationcontroller_status_available_replicas", "The number of available replicas per ReplicationController.", Stable, status_available_replicas),
    Family::gauge("kube_replicationcontroller_status_observed_generation", "The generation observed by the ReplicationController controller.", Stable, status_observed_generation),
    Family::gauge("kube_replicationcontroller_spec_replicas", "Number of desired pods for a ReplicationController.", Stable, spec_replicas),
    Family::gauge("kube_replicationcontroller_metadata_generation", "Sequence number representing a specific generation of the desired state.", Stable, generation),
    Family::gauge("kube_replicationcontroller_owner", "Information about the ReplicationController's owner.", Alpha, owner),
];

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, entry, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let spec = pb(|sp| {
            sp.varint(1, 3);
            entry(sp, 2, "app", "web");
        });
        let status = pb(|st| {
            st.varint(1, 3);
            st.varint(2, 3);
            st.varint(3, 7);
            st.varint(4, 2);
            st.varint(5, 1);
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"replicas": 3, "selector": {{"app": "web"}}}},
                "status": {{"replicas": 3, "fullyLabeledReplicas": 3, "observedGeneration": 7, "readyReplicas": 2,
                "availableReplicas": 1}}}}"#
        );
        let o: ReplicationController = same(&encoded, &json);
        assert_eq!(o.status.unwrap().observed_generation, Some(7));
    }
}
