//! `endpoints` (core/v1 Endpoints). Not in the default resource set since v2.18 (EndpointSlices are).

use k8s_openapi::api::core::v1::{EndpointPort, Endpoints};

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, MetricType, Samples};

pub struct EndpointsResource;

impl Resource for EndpointsResource {
    type Obj = Endpoints;
    const NAME: &'static str = "endpoints";

    fn identity(e: &Endpoints) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", e.metadata.namespace.clone().unwrap_or_default()),
            ("endpoint", e.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<Endpoints>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<Endpoints>] = &[
    gauge("kube_endpoint_info", "Information about endpoint.", Stable, info),
    gauge("kube_endpoint_created", "Unix creation timestamp", Stable, created),
    gauge("kube_endpoint_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_endpoint_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    gauge(
        "kube_endpoint_address",
        "Information about Endpoint available and non available addresses.",
        Stable,
        address,
    ),
    Family {
        name: "kube_endpoint_ports",
        help: "Information about the Endpoint ports.",
        kind: MetricType::Gauge,
        stability: Stable,
        // Superseded by kube_endpoint_address, which carries the same port labels per address.
        deprecated_since: Some("v2.14.0"),
        opt_in: false,
        generate: ports,
    },
];

fn info(_: &Endpoints, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], 1.0);
}

fn created(e: &Endpoints, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&e.metadata, s);
}

fn annotations(e: &Endpoints, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&e.metadata, &ctx.annotations, s);
}

fn labels(e: &Endpoints, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&e.metadata, &ctx.labels, s);
}

fn port_labels(p: &EndpointPort) -> (&str, String, &str) {
    (p.protocol.as_deref().unwrap_or_default(), p.port.to_string(), p.name.as_deref().unwrap_or_default())
}

fn address(e: &Endpoints, _: &Ctx, s: &mut Samples<'_>) {
    for subset in e.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            let (protocol, number, name) = port_labels(port);
            let ready = subset.addresses.iter().flatten().map(|a| (a, "true"));
            let not_ready = subset.not_ready_addresses.iter().flatten().map(|a| (a, "false"));
            for (addr, is_ready) in ready.chain(not_ready) {
                s.push(
                    &[
                        ("port_protocol", protocol),
                        ("port_number", &number),
                        ("port_name", name),
                        ("ip", &addr.ip),
                        ("ready", is_ready),
                    ],
                    1.0,
                );
            }
        }
    }
}

fn ports(e: &Endpoints, _: &Ctx, s: &mut Samples<'_>) {
    for port in e.subsets.iter().flatten().flat_map(|sub| sub.ports.iter().flatten()) {
        let (protocol, number, name) = port_labels(port);
        s.push(&[("port_name", name), ("port_protocol", protocol), ("port_number", &number)], 1.0);
    }
}
