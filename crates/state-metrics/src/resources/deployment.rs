//! `deployments`: kube_deployment_* families.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::{Ctx, Family, Samples, Stability};

pub struct Deployments;

impl Resource for Deployments {
    type Obj = Deployment;
    const NAME: &'static str = "deployments";

    fn identity(d: &Deployment) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", d.metadata.namespace.clone().unwrap_or_default()),
            ("deployment", d.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<Deployment>] {
        FAMILIES
    }
}

use Stability::{Alpha, Stable};

#[rustfmt::skip]
static FAMILIES: &[Family<Deployment>] = &[
    gauge("kube_deployment_owner", "Information about the Deployment's owner.", Alpha, owner),
    gauge("kube_deployment_created", "Unix creation timestamp", Stable, created),
    gauge("kube_deployment_status_replicas", "The number of replicas per deployment.", Stable, status_replicas),
    gauge("kube_deployment_status_replicas_ready", "The number of ready replicas per deployment.", Stable, status_replicas_ready),
    gauge("kube_deployment_status_replicas_available", "The number of available replicas per deployment.", Stable, status_replicas_available),
    gauge("kube_deployment_status_replicas_unavailable", "The number of unavailable replicas per deployment.", Stable, status_replicas_unavailable),
    gauge("kube_deployment_status_replicas_updated", "The number of updated replicas per deployment.", Stable, status_replicas_updated),
    gauge("kube_deployment_status_terminating_replicas", "The number of terminating replicas per deployment.", Alpha, status_terminating_replicas),
    gauge("kube_deployment_status_observed_generation", "The generation observed by the deployment controller.", Stable, status_observed_generation),
    gauge("kube_deployment_status_condition", "The current status conditions of a deployment.", Stable, status_condition),
    gauge("kube_deployment_spec_replicas", "Number of desired pods for a deployment.", Stable, spec_replicas),
    gauge("kube_deployment_spec_paused", "Whether the deployment is paused and will not be processed by the deployment controller.", Stable, spec_paused),
    gauge("kube_deployment_spec_strategy_rollingupdate_max_unavailable", "Maximum number of unavailable replicas during a rolling update of a deployment.", Stable, max_unavailable),
    gauge("kube_deployment_spec_strategy_rollingupdate_max_surge", "Maximum number of replicas that can be scheduled above the desired number of replicas during a rolling update of a deployment.", Stable, max_surge),
    gauge("kube_deployment_metadata_generation", "Sequence number representing a specific generation of the desired state.", Stable, metadata_generation),
    gauge("kube_deployment_deletion_timestamp", "Unix deletion timestamp", Alpha, deletion_timestamp),
    gauge("kube_deployment_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_deployment_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
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

fn owner(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    util::owner_refs_family(&d.metadata, false, s)
}

fn created(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&d.metadata, s)
}

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
        for (status, v) in util::condition_values(&c.status) {
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
    s.push(&[], util::bool_f64(d.spec.as_ref().and_then(|sp| sp.paused).unwrap_or(false)));
}

/// apimachinery's `GetScaledValueFromIntOrPercent`: an integer as is, "N%" of `total` rounded up or
/// down; `None` for anything else (a string without "%", a non-integer percentage).
pub fn scaled_int_or_percent(v: &IntOrString, total: i32, round_up: bool) -> Option<i64> {
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

fn metadata_generation(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], d.metadata.generation.unwrap_or(0) as f64);
}

fn deletion_timestamp(d: &Deployment, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&d.metadata, s)
}

fn annotations(d: &Deployment, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&d.metadata, &ctx.annotations, s)
}

fn labels(d: &Deployment, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&d.metadata, &ctx.labels, s)
}
