//! `networkpolicies`: kube_networkpolicy_* families (networking/v1).

use k8s_openapi::api::networking::v1::NetworkPolicy;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct NetworkPolicies;

impl Resource for NetworkPolicies {
    type Obj = NetworkPolicy;
    const NAME: &'static str = "networkpolicies";

    fn identity(o: &NetworkPolicy) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", o.metadata.namespace.clone().unwrap_or_default()),
            ("networkpolicy", o.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<NetworkPolicy>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<NetworkPolicy>] = &[
    Family { name: "kube_networkpolicy_created", help: "Unix creation timestamp of network policy", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_networkpolicy_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_networkpolicy_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_networkpolicy_spec_ingress_rules", help: "Number of ingress rules on the networkpolicy", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: spec_ingress_rules },
    Family { name: "kube_networkpolicy_spec_egress_rules", help: "Number of egress rules on the networkpolicy", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: spec_egress_rules },
];

/// Unlike other `_created` families this one has no zero check upstream, so an object without a
/// creationTimestamp reports Go's zero time.
fn created(o: &NetworkPolicy, _: &Ctx, s: &mut Samples<'_>) {
    let v = o.metadata.creation_timestamp.as_ref().map_or(util::GO_ZERO_TIME_UNIX, util::unix_seconds);
    s.push(&[], v);
}

fn annotations(o: &NetworkPolicy, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&o.metadata, &ctx.annotations, s)
}

fn labels(o: &NetworkPolicy, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&o.metadata, &ctx.labels, s)
}

fn spec_ingress_rules(o: &NetworkPolicy, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], o.spec.as_ref().and_then(|sp| sp.ingress.as_ref()).map_or(0, Vec::len) as f64);
}

fn spec_egress_rules(o: &NetworkPolicy, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], o.spec.as_ref().and_then(|sp| sp.egress.as_ref()).map_or(0, Vec::len) as f64);
}
