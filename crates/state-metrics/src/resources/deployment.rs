//! `deployments`: kube_deployment_* families.

use super::common::{
    annotations, bool_f64, condition_values, created, deletion_timestamp, generation, labels, owner_without_controller,
};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{IntOrString, ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `Deployment`: metadata, the spec's replicas, pause and rolling-update bounds, the status.
    pub struct Deployment {
        1 => metadata: ObjectMeta,
        2 => spec: Option<DeploymentSpec>,
        3 => status: Option<DeploymentStatus>,
    }
}
object!(Deployment);

message! {
    pub struct DeploymentSpec {
        1 => replicas: Option<i32>,
        4 => strategy: Option<DeploymentStrategy>,
        omitempty 7 => paused: Option<bool>,
    }
}

message! {
    pub struct DeploymentStrategy {
        2 => rolling_update: Option<RollingUpdateDeployment>,
    }
}

message! {
    pub struct RollingUpdateDeployment {
        1 => max_unavailable: Option<IntOrString>,
        2 => max_surge: Option<IntOrString>,
    }
}

message! {
    pub struct DeploymentStatus {
        omitempty 1 => observed_generation: Option<i64>,
        omitempty 2 => replicas: Option<i32>,
        omitempty 3 => updated_replicas: Option<i32>,
        omitempty 4 => available_replicas: Option<i32>,
        omitempty 5 => unavailable_replicas: Option<i32>,
        6 => conditions: Option<Vec<DeploymentCondition>>,
        omitempty 7 => ready_replicas: Option<i32>,
        9 => terminating_replicas: Option<i32>,
    }
}

message! {
    pub struct DeploymentCondition {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => status: Str,
        omitempty 4 => reason: Option<Str>,
    }
}

pub struct Deployments;

impl Resource for Deployments {
    type Obj = Deployment;
    type Api = k8s_openapi::api::apps::v1::Deployment;
    const NAME: &'static str = "deployments";
    const IDENTITY: Identity<Deployment> = Identity::namespaced("deployment");

    fn families() -> &'static [Family<Deployment>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Deployment>] = &[
    Family::gauge("kube_deployment_owner", "Information about the Deployment's owner.", Alpha, owner_without_controller),
    Family::gauge("kube_deployment_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_deployment_status_replicas", "The number of replicas per deployment.", Stable, status_replicas),
    Family::gauge("kube_deployment_status_replicas_ready", "The number of ready replicas per deployment.", Stable, status_replicas_ready),
    Family::gauge("kube_deployment_status_replicas_available", "The number of available replicas per deployment.", Stable, status_replicas_available),
    Family::gauge("kube_deployment_status_replicas_unavailable", "The number of unavailable replicas per deployment.", Stable, status_replicas_unavailable),
    Family::gauge("kube_deployment_status_replicas_updated", "The number of updated replicas per deployment.", Stable, status_replicas_updated),
    Family::gauge("kube_deployment_status_terminating_replicas", "The number of terminating replicas per deployment.", Alpha, status_terminating_replicas),
    Family::gauge("kube_deployment_status_observed_generation", "The generation observed by the deployment controller.", Stable, status_observed_generation),
    Family::gauge("kube_deployment_status_condition", "The current status conditions of a deployment.", Stable, status_condition),
    Family::gauge("kube_deployment_spec_replicas", "Number of desired pods for a deployment.", Stable, spec_replicas),
    Family::gauge("kube_deployment_spec_paused", "Whether the deployment is paused and will not be processed by the deployment controller.", Stable, spec_paused),
    Family::gauge("kube_deployment_spec_strategy_rollingupdate_max_unavailable", "Maximum number of unavailable replicas during a rolling update of a deployment.", Stable, max_unavailable),
    Family::gauge("kube_deployment_spec_strategy_rollingupdate_max_surge", "Maximum number of replicas that can be scheduled above the desired number of replicas during a rolling update of a deployment.", Stable, max_surge),
    Family::gauge("kube_deployment_metadata_generation", "Sequence number representing a specific generation of the desired state.", Stable, generation),
    Family::gauge("kube_deployment_deletion_timestamp", "Unix deletion timestamp", Alpha, deletion_timestamp),
    Family::gauge("kube_deployment_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_deployment_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
];

/// Condition reasons exported as they are; any other reason becomes "unknown" to bound cardinality.
const KNOWN_REASONS: &[&str] = &[
    "ReplicaSetUpdated",
    "ReplicaSetCreateError",
    "NewReplicaSetCreated",
    "FoundNewReplicaSet",
    "NewReplicaSetAvailable",
    "ProgressDeadlineExceeded",
    "DeploymentPaused",
    "DeploymentResumed",
    "MinimumReplicasAvailable",
    "MinimumReplicasUnavailable",
    "",
];

/// A status counter; an absent status or field counts as 0 like the Go zero value.
fn status_count(d: &Deployment, s: &mut Samples<'_>, f: fn(&DeploymentStatus) -> Option<i32>) {
    s.push(&[], f64::from(d.status.as_ref().and_then(f).unwrap_or(0)));
}

fn status_replicas(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    status_count(d, s, |st| st.replicas)
}

fn status_replicas_ready(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    status_count(d, s, |st| st.ready_replicas)
}

fn status_replicas_available(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    status_count(d, s, |st| st.available_replicas)
}

fn status_replicas_unavailable(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    status_count(d, s, |st| st.unavailable_replicas)
}

fn status_replicas_updated(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    status_count(d, s, |st| st.updated_replicas)
}

/// A pointer upstream: nothing when unset.
fn status_terminating_replicas(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = d.status.as_ref().and_then(|st| st.terminating_replicas) {
        s.push(&[], f64::from(v));
    }
}

fn status_observed_generation(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    let v = d.status.as_ref().and_then(|st| st.observed_generation).unwrap_or(0);
    s.push(&[], v as f64);
}

fn status_condition(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    let conditions = d.status.as_ref().and_then(|st| st.conditions.as_deref()).unwrap_or_default();
    for c in conditions {
        let reason = c.reason.as_deref().unwrap_or_default();
        let reason = if KNOWN_REASONS.contains(&reason) { reason } else { "unknown" };
        for (status, v) in condition_values(&c.status) {
            s.push(&[("reason", reason), ("condition", c.type_.as_str()), ("status", status)], v);
        }
    }
}

fn spec_replicas(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(r) = d.spec.as_ref().and_then(|sp| sp.replicas) {
        s.push(&[], f64::from(r));
    }
}

fn spec_paused(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], bool_f64(d.spec.as_ref().and_then(|sp| sp.paused).unwrap_or(false)));
}

/// apimachinery's `GetScaledValueFromIntOrPercent`: an integer as is, "N%" of `total` rounded up or
/// down; `None` for anything else (a string without "%", a non-integer percentage).
fn scaled_int_or_percent(v: &IntOrString, total: i32, round_up: bool) -> Option<i64> {
    match v {
        IntOrString::Int(i) => Some(i64::from(*i)),
        IntOrString::String(s) => {
            let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
            let scaled = pct as f64 * f64::from(total) / 100.0;
            Some(if round_up { scaled.ceil() } else { scaled.floor() } as i64)
        }
    }
}

/// A rolling-update bound resolved against spec.replicas; nothing when there is no rollingUpdate, no
/// replicas, no value or an unusable value.
fn rolling_update_bound(d: &Deployment, s: &mut Samples<'_>, surge: bool) {
    let Some(spec) = d.spec.as_ref() else { return };
    let Some(ru) = spec.strategy.as_ref().and_then(|st| st.rolling_update.as_ref()) else { return };
    let Some(replicas) = spec.replicas else { return };
    let value = if surge { ru.max_surge.as_ref() } else { ru.max_unavailable.as_ref() };
    if let Some(v) = value.and_then(|v| scaled_int_or_percent(v, replicas, surge)) {
        s.push(&[], v as f64);
    }
}

fn max_unavailable(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    rolling_update_bound(d, s, false)
}

fn max_surge(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    rolling_update_bound(d, s, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same, time};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let int_or_string = |w: &mut kwire::Writer, field: u32, pct: &str| {
            w.message(
                field,
                &pb(|v| {
                    v.varint(1, 1);
                    v.string(3, pct);
                }),
            )
        };
        let rolling = pb(|r| {
            int_or_string(r, 1, "25%");
            r.message(
                2,
                &pb(|v| {
                    v.varint(1, 0);
                    v.varint(2, 2);
                }),
            );
        });
        let spec = pb(|sp| {
            sp.varint(1, 4);
            sp.message(
                4,
                &pb(|st| {
                    st.string(1, "RollingUpdate");
                    st.message(2, &rolling);
                }),
            );
            sp.varint(7, 1);
        });
        let condition = pb(|c| {
            c.string(1, "Available");
            c.string(2, "True");
            c.string(4, "MinimumReplicasAvailable");
            c.message(6, &time(1_700_000_100));
        });
        let status = pb(|st| {
            st.varint(1, 5);
            st.varint(2, 4);
            st.varint(3, 3);
            st.varint(4, 2);
            st.varint(5, 1);
            st.message(6, &condition);
            st.varint(7, 2);
            st.varint(9, 0);
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"replicas": 4, "paused": true, "strategy": {{"type": "RollingUpdate",
                "rollingUpdate": {{"maxUnavailable": "25%", "maxSurge": 2}}}}}},
                "status": {{"observedGeneration": 5, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 2,
                "unavailableReplicas": 1, "readyReplicas": 2, "terminatingReplicas": 0,
                "conditions": [{{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                "lastUpdateTime": "2023-11-14T22:15:00Z"}}]}}}}"#
        );
        let o: Deployment = same(&encoded, &json);
        let ru = o.spec.unwrap().strategy.unwrap().rolling_update.unwrap();
        assert_eq!(
            (ru.max_unavailable, ru.max_surge),
            (Some(IntOrString::String("25%".into())), Some(IntOrString::Int(2)))
        );
        assert_eq!(o.status.unwrap().terminating_replicas, Some(0));
    }
}
