//! `services`: kube_service_* families. Identity includes the uid, unlike most namespaced resources.

use k8s_openapi::api::core::v1::Service;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct Services;

impl Resource for Services {
    type Obj = Service;
    const NAME: &'static str = "services";

    fn identity(o: &Service) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", o.metadata.namespace.clone().unwrap_or_default()),
            ("service", o.metadata.name.clone().unwrap_or_default()),
            ("uid", o.metadata.uid.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<Service>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Service>] = &[
    Family { name: "kube_service_info", help: "Information about service.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: info },
    Family { name: "kube_service_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_service_spec_type", help: "Type about service.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: spec_type },
    Family { name: "kube_service_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_service_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_service_spec_external_ip", help: "Service external ips. One series for each ip", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: spec_external_ip },
    Family { name: "kube_service_status_load_balancer_ingress", help: "Service load balancer ingress status", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_load_balancer_ingress },
    Family { name: "kube_service_deletion_timestamp", help: "Unix deletion timestamp", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: deletion_timestamp },
];

fn info(o: &Service, _: &Ctx, s: &mut Samples<'_>) {
    let spec = o.spec.as_ref();
    let field = |f: fn(&k8s_openapi::api::core::v1::ServiceSpec) -> Option<&String>| {
        spec.and_then(f).map(String::as_str).unwrap_or_default()
    };
    s.push(
        &[
            ("cluster_ip", field(|sp| sp.cluster_ip.as_ref())),
            ("external_name", field(|sp| sp.external_name.as_ref())),
            ("load_balancer_ip", field(|sp| sp.load_balancer_ip.as_ref())),
            ("external_traffic_policy", field(|sp| sp.external_traffic_policy.as_ref())),
        ],
        1.0,
    );
}

fn created(o: &Service, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}

/// Written even when the type is unset (empty value), as upstream reads the plain string field.
fn spec_type(o: &Service, _: &Ctx, s: &mut Samples<'_>) {
    let t = o.spec.as_ref().and_then(|sp| sp.type_.as_deref()).unwrap_or_default();
    s.push(&[("type", t)], 1.0);
}

fn annotations(o: &Service, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&o.metadata, &ctx.annotations, s)
}

fn labels(o: &Service, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&o.metadata, &ctx.labels, s)
}

fn spec_external_ip(o: &Service, _: &Ctx, s: &mut Samples<'_>) {
    let ips = o.spec.as_ref().and_then(|sp| sp.external_ips.as_deref()).unwrap_or_default();
    for ip in ips {
        s.push(&[("external_ip", ip)], 1.0);
    }
}

fn status_load_balancer_ingress(o: &Service, _: &Ctx, s: &mut Samples<'_>) {
    let ingress = o
        .status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or_default();
    for i in ingress {
        s.push(
            &[("ip", i.ip.as_deref().unwrap_or_default()), ("hostname", i.hostname.as_deref().unwrap_or_default())],
            1.0,
        );
    }
}

fn deletion_timestamp(o: &Service, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&o.metadata, s)
}
