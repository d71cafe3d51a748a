//! `horizontalpodautoscalers`: kube_horizontalpodautoscaler_* families, read from autoscaling/v2.

use super::common::{annotations, condition_values, created, deletion_timestamp, generation, labels, quantity_cores};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Quantity, Str};
use crate::{message, object};

message! {
    /// `HorizontalPodAutoscaler`: metadata, the spec's target, bounds, metrics and tolerances, the
    /// status replicas, current metrics and conditions.
    pub struct HorizontalPodAutoscaler {
        1 => metadata: ObjectMeta,
        2 => spec: HorizontalPodAutoscalerSpec,
        3 => status: Option<HorizontalPodAutoscalerStatus>,
    }
}
object!(HorizontalPodAutoscaler);

message! {
    pub struct HorizontalPodAutoscalerSpec {
        1 => scale_target_ref: CrossVersionObjectReference,
        2 => min_replicas: Option<i32>,
        3 => max_replicas: i32,
        4 => metrics: Option<Vec<MetricSpec>>,
        5 => behavior: Option<HorizontalPodAutoscalerBehavior>,
    }
}

message! {
    pub struct CrossVersionObjectReference {
        1 => kind: Str,
        2 => name: Str,
        omitempty 3 => api_version: Option<Str>,
    }
}

message! {
    pub struct MetricSpec {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => object: Option<ObjectMetricSource>,
        3 => pods: Option<PodsMetricSource>,
        4 => resource: Option<ResourceMetricSource>,
        5 => external: Option<ExternalMetricSource>,
        7 => container_resource: Option<ContainerResourceMetricSource>,
    }
}

message! {
    pub struct ObjectMetricSource {
        2 => target: MetricTarget,
        3 => metric: MetricIdentifier,
    }
}

message! {
    pub struct PodsMetricSource {
        1 => metric: MetricIdentifier,
        2 => target: MetricTarget,
    }
}

/// The same fields, numbered alike.
pub type ExternalMetricSource = PodsMetricSource;

message! {
    pub struct ResourceMetricSource {
        1 => name: Str,
        2 => target: MetricTarget,
    }
}

message! {
    pub struct ContainerResourceMetricSource {
        1 => name: Str,
        2 => target: MetricTarget,
        3 => container: Str,
    }
}

message! {
    pub struct MetricIdentifier {
        1 => name: Str,
    }
}

message! {
    pub struct MetricTarget {
        2 => value: Option<Quantity>,
        3 => average_value: Option<Quantity>,
        4 => average_utilization: Option<i32>,
    }
}

message! {
    pub struct HorizontalPodAutoscalerBehavior {
        1 => scale_up: Option<HPAScalingRules>,
        2 => scale_down: Option<HPAScalingRules>,
    }
}

message! {
    pub struct HPAScalingRules {
        4 => tolerance: Option<Quantity>,
    }
}

message! {
    pub struct HorizontalPodAutoscalerStatus {
        omitempty 3 => current_replicas: Option<i32>,
        4 => desired_replicas: i32,
        5 => current_metrics: Option<Vec<MetricStatus>>,
        6 => conditions: Option<Vec<HorizontalPodAutoscalerCondition>>,
    }
}

message! {
    pub struct MetricStatus {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => object: Option<ObjectMetricStatus>,
        3 => pods: Option<PodsMetricStatus>,
        4 => resource: Option<ResourceMetricStatus>,
        5 => external: Option<ExternalMetricStatus>,
        7 => container_resource: Option<ContainerResourceMetricStatus>,
    }
}

message! {
    pub struct ObjectMetricStatus {
        1 => metric: MetricIdentifier,
        2 => current: MetricValueStatus,
    }
}

/// The same fields, numbered alike.
pub type PodsMetricStatus = ObjectMetricStatus;
/// The same fields, numbered alike.
pub type ExternalMetricStatus = ObjectMetricStatus;

message! {
    pub struct ResourceMetricStatus {
        1 => name: Str,
        2 => current: MetricValueStatus,
    }
}

message! {
    pub struct ContainerResourceMetricStatus {
        1 => name: Str,
        2 => current: MetricValueStatus,
        3 => container: Str,
    }
}

message! {
    pub struct MetricValueStatus {
        1 => value: Option<Quantity>,
        2 => average_value: Option<Quantity>,
        3 => average_utilization: Option<i32>,
    }
}

message! {
    pub struct HorizontalPodAutoscalerCondition {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => status: Str,
    }
}

pub struct HorizontalPodAutoscalers;

impl Resource for HorizontalPodAutoscalers {
    type Obj = HorizontalPodAutoscaler;
    type Api = k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    const NAME: &'static str = "horizontalpodautoscalers";
    const IDENTITY: Identity<HorizontalPodAutoscaler> = Identity::namespaced("horizontalpodautoscaler");

    fn families() -> &'static [Family<HorizontalPodAutoscaler>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<HorizontalPodAutoscaler>] = &[
    Family::gauge("kube_horizontalpodautoscaler_info", "Information about this autoscaler.", Alpha, info),
    Family::gauge("kube_horizontalpodautoscaler_metadata_generation", "The generation observed by the HorizontalPodAutoscaler controller.", Stable, generation),
    Family::gauge("kube_horizontalpodautoscaler_spec_max_replicas", "Upper limit for the number of pods that can be set by the autoscaler; cannot be smaller than MinReplicas.", Stable, spec_max_replicas),
    Family::gauge("kube_horizontalpodautoscaler_spec_min_replicas", "Lower limit for the number of pods that can be set by the autoscaler, default 1.", Stable, spec_min_replicas),
    Family::gauge("kube_horizontalpodautoscaler_spec_target_metric", "The metric specifications used by this autoscaler when calculating the desired replica count.", Alpha, spec_target_metric),
    Family::gauge("kube_horizontalpodautoscaler_spec_behavior_scale_down_tolerance", "The tolerance on the ratio between the current and desired metric value below which no scale down occurs.", Alpha, spec_behavior_scale_down_tolerance),
    Family::gauge("kube_horizontalpodautoscaler_spec_behavior_scale_up_tolerance", "The tolerance on the ratio between the current and desired metric value below which no scale up occurs.", Alpha, spec_behavior_scale_up_tolerance),
    Family::gauge("kube_horizontalpodautoscaler_status_target_metric", "The current metric status used by this autoscaler when calculating the desired replica count.", Stable, status_target_metric),
    Family::gauge("kube_horizontalpodautoscaler_status_current_replicas", "Current number of replicas of pods managed by this autoscaler.", Stable, status_current_replicas),
    Family::gauge("kube_horizontalpodautoscaler_status_desired_replicas", "Desired number of replicas of pods managed by this autoscaler.", Stable, status_desired_replicas),
    Family::gauge("kube_horizontalpodautoscaler_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_horizontalpodautoscaler_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_horizontalpodautoscaler_status_condition", "The condition of this autoscaler.", Stable, status_condition),
    Family::gauge("kube_horizontalpodautoscaler_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_horizontalpodautoscaler_deletion_timestamp", "Unix deletion timestamp", Alpha, deletion_timestamp),
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
    let quantity = |q: Option<&Quantity>| q.and_then(quantity_cores);
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
    if let Some(v) = rules.and_then(|r| r.tolerance.as_ref()).and_then(quantity_cores) {
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

fn status_condition(o: &HorizontalPodAutoscaler, _: &Ctx, s: &mut Samples<'_>) {
    for c in o.status.as_ref().and_then(|st| st.conditions.as_deref()).unwrap_or_default() {
        for (status, v) in condition_values(&c.status) {
            s.push(&[("condition", &c.type_), ("status", status)], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, quantity, same};

    #[test]
    fn quantities_keep_milli_precision_and_do_not_overflow() {
        let q = |s: &str| quantity_cores(&Quantity(s.into()));
        assert_eq!(q("250m"), Some(0.25));
        assert_eq!(q("1k"), Some(1000.0));
        // 1e16 thousandths do not fit in an i64, so the plain value is used.
        assert_eq!(q("10P"), Some(1e16));
        assert_eq!(q("not a number"), None);
    }

    fn named(name: &str) -> Vec<u8> {
        pb(|m| m.string(1, name))
    }

    /// A spec entry of every metric type and a status entry of every type, in both encodings.
    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let target = |field: u32, value: &str| {
            pb(|t| {
                t.string(1, "Value");
                t.message(field, &quantity(value));
            })
        };
        let utilization = pb(|t| {
            t.string(1, "Utilization");
            t.varint(4, 60);
        });
        let metric = |type_: &str, field: u32, source: Vec<u8>| {
            pb(|m| {
                m.string(1, type_);
                m.message(field, &source);
            })
        };
        let spec = pb(|sp| {
            sp.message(
                1,
                &pb(|r| {
                    r.string(1, "Deployment");
                    r.string(2, "web");
                    r.string(3, "apps/v1");
                }),
            );
            sp.varint(2, 2);
            sp.varint(3, 10);
            sp.message(
                4,
                &metric(
                    "Resource",
                    4,
                    pb(|s| {
                        s.string(1, "cpu");
                        s.message(2, &utilization);
                    }),
                ),
            );
            sp.message(
                4,
                &metric(
                    "ContainerResource",
                    7,
                    pb(|s| {
                        s.string(1, "memory");
                        s.message(2, &target(3, "500Mi"));
                        s.string(3, "app");
                    }),
                ),
            );
            sp.message(
                4,
                &metric(
                    "Pods",
                    3,
                    pb(|s| {
                        s.message(1, &named("pps"));
                        s.message(2, &target(3, "1k"));
                    }),
                ),
            );
            sp.message(
                4,
                &metric(
                    "Object",
                    2,
                    pb(|s| {
                        s.message(1, &pb(|d| d.string(1, "Ingress")));
                        s.message(2, &target(2, "10k"));
                        s.message(3, &named("rps"));
                    }),
                ),
            );
            sp.message(
                4,
                &metric(
                    "External",
                    5,
                    pb(|s| {
                        s.message(1, &named("queue"));
                        s.message(2, &target(2, "250m"));
                    }),
                ),
            );
            sp.message(
                5,
                &pb(|b| {
                    b.message(1, &pb(|r| r.message(4, &quantity("0.05"))));
                    b.message(
                        2,
                        &pb(|r| {
                            r.varint(3, 300);
                            r.message(4, &quantity("100m"));
                        }),
                    );
                }),
            );
        });
        let current = |field: u32, value: &str| pb(|c| c.message(field, &quantity(value)));
        let status = pb(|st| {
            st.varint(3, 3);
            st.varint(4, 4);
            st.message(
                5,
                &metric(
                    "Resource",
                    4,
                    pb(|s| {
                        s.string(1, "cpu");
                        s.message(
                            2,
                            &pb(|c| {
                                c.message(2, &quantity("250m"));
                                c.varint(3, 55);
                            }),
                        );
                    }),
                ),
            );
            st.message(
                5,
                &metric(
                    "ContainerResource",
                    7,
                    pb(|s| {
                        s.string(1, "cpu");
                        s.message(2, &current(2, "100m"));
                        s.string(3, "app");
                    }),
                ),
            );
            st.message(
                5,
                &metric(
                    "Pods",
                    3,
                    pb(|s| {
                        s.message(1, &named("pps"));
                        s.message(2, &current(2, "2k"));
                    }),
                ),
            );
            st.message(
                5,
                &metric(
                    "Object",
                    2,
                    pb(|s| {
                        s.message(1, &named("rps"));
                        s.message(2, &current(1, "12k"));
                        s.message(3, &pb(|d| d.string(1, "Ingress")));
                    }),
                ),
            );
            st.message(
                5,
                &metric(
                    "External",
                    5,
                    pb(|s| {
                        s.message(1, &named("queue"));
                        s.message(2, &current(1, "3"));
                    }),
                ),
            );
            st.message(
                6,
                &pb(|c| {
                    c.string(1, "AbleToScale");
                    c.string(2, "True");
                    c.string(4, "ReadyForNewScale");
                }),
            );
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{
                "scaleTargetRef": {{"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"}},
                "minReplicas": 2, "maxReplicas": 10, "metrics": [
                  {{"type": "Resource", "resource": {{"name": "cpu", "target": {{"type": "Utilization", "averageUtilization": 60}}}}}},
                  {{"type": "ContainerResource", "containerResource": {{"name": "memory", "container": "app",
                    "target": {{"type": "Value", "averageValue": "500Mi"}}}}}},
                  {{"type": "Pods", "pods": {{"metric": {{"name": "pps"}}, "target": {{"type": "Value", "averageValue": "1k"}}}}}},
                  {{"type": "Object", "object": {{"describedObject": {{"kind": "Ingress"}}, "metric": {{"name": "rps"}},
                    "target": {{"type": "Value", "value": "10k"}}}}}},
                  {{"type": "External", "external": {{"metric": {{"name": "queue"}}, "target": {{"type": "Value", "value": "250m"}}}}}}],
                "behavior": {{"scaleUp": {{"tolerance": "0.05"}}, "scaleDown": {{"stabilizationWindowSeconds": 300,
                  "tolerance": "100m"}}}}}},
              "status": {{"currentReplicas": 3, "desiredReplicas": 4, "currentMetrics": [
                  {{"type": "Resource", "resource": {{"name": "cpu", "current": {{"averageValue": "250m", "averageUtilization": 55}}}}}},
                  {{"type": "ContainerResource", "containerResource": {{"name": "cpu", "container": "app",
                    "current": {{"averageValue": "100m"}}}}}},
                  {{"type": "Pods", "pods": {{"metric": {{"name": "pps"}}, "current": {{"averageValue": "2k"}}}}}},
                  {{"type": "Object", "object": {{"metric": {{"name": "rps"}}, "current": {{"value": "12k"}},
                    "describedObject": {{"kind": "Ingress"}}}}}},
                  {{"type": "External", "external": {{"metric": {{"name": "queue"}}, "current": {{"value": "3"}}}}}}],
                "conditions": [{{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"}}]}}}}"#
        );
        let o: HorizontalPodAutoscaler = same(&encoded, &json);
        let spec_values: Vec<_> = o.spec.metrics.as_deref().unwrap().iter().filter_map(spec_metric_values).collect();
        let status = o.status.as_ref().unwrap();
        let status_values: Vec<_> =
            status.current_metrics.as_deref().unwrap().iter().filter_map(status_metric_values).collect();
        assert_eq!((spec_values.len(), status_values.len()), (5, 5));
        assert_eq!(spec_values[3].value, Some(&Quantity("10k".into())));
        assert_eq!(status_values[4].value, Some(&Quantity("3".into())));
    }
}
