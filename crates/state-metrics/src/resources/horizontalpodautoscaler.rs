//! `horizontalpodautoscalers`: kube_horizontalpodautoscaler_* families, read from autoscaling/v2.

use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscaler, MetricSpec, MetricStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct HorizontalPodAutoscalers;

impl Resource for HorizontalPodAutoscalers {
    type Obj = HorizontalPodAutoscaler;
    const NAME: &'static str = "horizontalpodautoscalers";

    fn identity(o: &HorizontalPodAutoscaler) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", o.metadata.namespace.clone().unwrap_or_default()),
            ("horizontalpodautoscaler", o.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<HorizontalPodAutoscaler>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<HorizontalPodAutoscaler>] = &[
    Family { name: "kube_horizontalpodautoscaler_info", help: "Information about this autoscaler.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: info },
    Family { name: "kube_horizontalpodautoscaler_metadata_generation", help: "The generation observed by the HorizontalPodAutoscaler controller.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: metadata_generation },
    Family { name: "kube_horizontalpodautoscaler_spec_max_replicas", help: "Upper limit for the number of pods that can be set by the autoscaler; cannot be smaller than MinReplicas.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: spec_max_replicas },
    Family { name: "kube_horizontalpodautoscaler_spec_min_replicas", help: "Lower limit for the number of pods that can be set by the autoscaler, default 1.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: spec_min_replicas },
    Family { name: "kube_horizontalpodautoscaler_spec_target_metric", help: "The metric specifications used by this autoscaler when calculating the desired replica count.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: spec_target_metric },
    Family { name: "kube_horizontalpodautoscaler_spec_behavior_scale_down_tolerance", help: "The tolerance on the ratio between the current and desired metric value below which no scale down occurs.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: spec_behavior_scale_down_tolerance },
    Family { name: "kube_horizontalpodautoscaler_spec_behavior_scale_up_tolerance", help: "The tolerance on the ratio between the current and desired metric value below which no scale up occurs.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: spec_behavior_scale_up_tolerance },
    Family { name: "kube_horizontalpodautoscaler_status_target_metric", help: "The current metric status used by this autoscaler when calculating the desired replica count.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_target_metric },
    Family { name: "kube_horizontalpodautoscaler_status_current_replicas", help: "Current number of replicas of pods managed by this autoscaler.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_current_replicas },
    Family { name: "kube_horizontalpodautoscaler_status_desired_replicas", help: "Desired number of replicas of pods managed by this autoscaler.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_desired_replicas },
    Family { name: "kube_horizontalpodautoscaler_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_horizontalpodautoscaler_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_horizontalpodautoscaler_status_condition", help: "The condition of this autoscaler.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_condition },
    Family { name: "kube_horizontalpodautoscaler_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_horizontalpodautoscaler_deletion_timestamp", help: "Unix deletion timestamp", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: deletion_timestamp },
];

/// `scaletargetref_api_version` is only added (right after the identity labels) when it is non-empty.
fn info(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    let target = &o.spec.scale_target_ref;
    let (kind, name) = (target.kind.as_str(), target.name.as_str());
    match target.api_version.as_deref().filter(|v| !v.is_empty()) {
        Some(api_version) => s.push(
            &[
                ("scaletargetref_api_version", api_version),
                ("scaletargetref_kind", kind),
                ("scaletargetref_name", name),
            ],
            1.0,
        ),
        None => s.push(&[("scaletargetref_kind", kind), ("scaletargetref_name", name)], 1.0),
    }
}

fn metadata_generation(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], o.metadata.generation.unwrap_or(0) as f64)
}

fn spec_max_replicas(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(o.spec.max_replicas))
}

/// The API server defaults minReplicas to 1; an object without it is reported with that default.
fn spec_min_replicas(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(o.spec.min_replicas.unwrap_or(1)))
}

/// Value, average value and utilization of one target or current metric, with its name and container.
struct MetricValues<'a> {
    name: &'a str,
    container: &'a str,
    value: Option<&'a Quantity>,
    average_value: Option<&'a Quantity>,
    average_utilization: Option<i32>,
}

/// One sample per set field. Upstream iterates a Go map here (random order); this fixed order is
/// value, utilization, average.
fn push_metric_values(m: &MetricValues<'_>, s: &mut Samples<'_>) {
    let quantity = |q: Option<&Quantity>| q.and_then(util::quantity_cores);
    let values = [
        ("value", quantity(m.value)),
        ("utilization", m.average_utilization.map(f64::from)),
        ("average", quantity(m.average_value)),
    ];
    for (target_type, v) in values {
        if let Some(v) = v {
            s.push(&[("metric_name", m.name), ("metric_target_type", target_type), ("container", m.container)], v);
        }
    }
}

/// The target of a spec entry; `None` for unknown types and for entries whose source struct is missing.
fn spec_metric_values(m: &MetricSpec) -> Option<MetricValues<'_>> {
    let (name, container, target) = match m.type_.as_str() {
        "Object" => m.object.as_ref().map(|o| (o.metric.name.as_str(), "", &o.target))?,
        "Pods" => m.pods.as_ref().map(|p| (p.metric.name.as_str(), "", &p.target))?,
        "Resource" => m.resource.as_ref().map(|r| (r.name.as_str(), "", &r.target))?,
        "ContainerResource" => {
            m.container_resource.as_ref().map(|c| (c.name.as_str(), c.container.as_str(), &c.target))?
        }
        "External" => m.external.as_ref().map(|e| (e.metric.name.as_str(), "", &e.target))?,
        _ => return None,
    };
    Some(MetricValues {
        name,
        container,
        value: target.value.as_ref(),
        average_value: target.average_value.as_ref(),
        average_utilization: target.average_utilization,
    })
}

/// Like [`spec_metric_values`] for a status.currentMetrics entry.
fn status_metric_values(m: &MetricStatus) -> Option<MetricValues<'_>> {
    let (name, container, current) = match m.type_.as_str() {
        "Object" => m.object.as_ref().map(|o| (o.metric.name.as_str(), "", &o.current))?,
        "Pods" => m.pods.as_ref().map(|p| (p.metric.name.as_str(), "", &p.current))?,
        "Resource" => m.resource.as_ref().map(|r| (r.name.as_str(), "", &r.current))?,
        "ContainerResource" => {
            m.container_resource.as_ref().map(|c| (c.name.as_str(), c.container.as_str(), &c.current))?
        }
        "External" => m.external.as_ref().map(|e| (e.metric.name.as_str(), "", &e.current))?,
        _ => return None,
    };
    Some(MetricValues {
        name,
        container,
        value: current.value.as_ref(),
        average_value: current.average_value.as_ref(),
        average_utilization: current.average_utilization,
    })
}

fn spec_target_metric(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    for m in o.spec.metrics.as_deref().unwrap_or_default() {
        if let Some(values) = spec_metric_values(m) {
            push_metric_values(&values, s);
        }
    }
}

fn tolerance(rules: Option<&HPAScalingRules>, s: &mut Samples<'_>) {
    if let Some(v) = rules.and_then(|r| r.tolerance.as_ref()).and_then(util::quantity_cores) {
        s.push(&[], v);
    }
}

fn spec_behavior_scale_down_tolerance(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    tolerance(o.spec.behavior.as_ref().and_then(|b| b.scale_down.as_ref()), s)
}

fn spec_behavior_scale_up_tolerance(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    tolerance(o.spec.behavior.as_ref().and_then(|b| b.scale_up.as_ref()), s)
}

fn status_target_metric(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    for m in o.status.as_ref().and_then(|st| st.current_metrics.as_deref()).unwrap_or_default() {
        if let Some(values) = status_metric_values(m) {
            push_metric_values(&values, s);
        }
    }
}

fn status_current_replicas(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(o.status.as_ref().and_then(|st| st.current_replicas).unwrap_or(0)))
}

fn status_desired_replicas(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], f64::from(o.status.as_ref().map(|st| st.desired_replicas).unwrap_or(0)))
}

fn annotations(o: &HorizontalPodAutoscaler, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&o.metadata, &ctx.annotations, s)
}

fn labels(o: &HorizontalPodAutoscaler, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&o.metadata, &ctx.labels, s)
}

fn status_condition(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    for c in o.status.as_ref().and_then(|st| st.conditions.as_deref()).unwrap_or_default() {
        for (status, v) in util::condition_values(&c.status) {
            s.push(&[("condition", &c.type_), ("status", status)], v);
        }
    }
}

fn created(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}

fn deletion_timestamp(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&o.metadata, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_keep_milli_precision_and_do_not_overflow() {
        let q = |s: &str| util::quantity_cores(&Quantity(s.to_owned()));
        assert_eq!(q("250m"), Some(0.25));
        assert_eq!(q("1k"), Some(1000.0));
        // 1e16 thousandths do not fit in an i64, so the plain value is used.
        assert_eq!(q("10P"), Some(1e16));
        assert_eq!(q("not a number"), None);
    }
}
