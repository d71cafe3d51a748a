//! `endpointslices` (discovery.k8s.io/v1 EndpointSlice).
//!
//! Unlike most namespaced resources the identity labels are `endpointslice` THEN `namespace`.

use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct EndpointSlices;

impl Resource for EndpointSlices {
    type Obj = EndpointSlice;
    const NAME: &'static str = "endpointslices";

    fn identity(e: &EndpointSlice) -> Vec<(&'static str, String)> {
        vec![
            ("endpointslice", e.metadata.name.clone().unwrap_or_default()),
            ("namespace", e.metadata.namespace.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<EndpointSlice>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<EndpointSlice>] = &[
    gauge("kube_endpointslice_info", "Information about endpointslice.", Alpha, info),
    gauge("kube_endpointslice_created", "Unix creation timestamp", Alpha, created),
    gauge("kube_endpointslice_endpoints_hints", "Topology routing hints attached to endpoints", Alpha, hints),
    gauge("kube_endpointslice_endpoints", "Endpoints attached to the endpointslice.", Alpha, endpoints),
    gauge("kube_endpointslice_ports", "Ports attached to the endpointslice.", Alpha, ports),
    gauge(
        "kube_endpointslice_annotations",
        "Kubernetes annotations converted to Prometheus labels.",
        Alpha,
        annotations,
    ),
    gauge("kube_endpointslice_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
];

fn info(e: &EndpointSlice, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("addresstype", &e.address_type)], 1.0);
}

fn created(e: &EndpointSlice, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&e.metadata, s);
}

fn hints(e: &EndpointSlice, _: &Ctx, s: &mut Samples<'_>) {
    for ep in e.endpoints.iter().flatten() {
        let zones = ep.hints.as_ref().and_then(|h| h.for_zones.as_deref()).unwrap_or_default();
        // Addresses are fungible and consumers may use only the first one, so upstream reports just that;
        // an endpoint without any address has nothing to report.
        let Some(address) = ep.addresses.first() else { continue };
        for zone in zones {
            s.push(&[("address", address), ("for_zone", &zone.name)], 1.0);
        }
    }
}

fn endpoints(e: &EndpointSlice, _: &Ctx, s: &mut Samples<'_>) {
    for ep in e.endpoints.iter().flatten() {
        let cond = ep.conditions.as_ref();
        let ready = util::opt_bool_str(cond.and_then(|c| c.ready));
        let serving = util::opt_bool_str(cond.and_then(|c| c.serving));
        let terminating = util::opt_bool_str(cond.and_then(|c| c.terminating));
        let target = ep.target_ref.as_ref();
        let target_kind = target.and_then(|t| t.kind.as_deref()).unwrap_or_default();
        let target_name = target.and_then(|t| t.name.as_deref()).unwrap_or_default();
        let target_ns = target.and_then(|t| t.namespace.as_deref()).unwrap_or_default();
        for address in &ep.addresses {
            s.push(
                &[
                    ("ready", ready),
                    ("serving", serving),
                    ("hostname", ep.hostname.as_deref().unwrap_or_default()),
                    ("terminating", terminating),
                    ("targetref_kind", target_kind),
                    ("targetref_name", target_name),
                    ("targetref_namespace", target_ns),
                    ("endpoint_nodename", ep.node_name.as_deref().unwrap_or_default()),
                    ("endpoint_zone", ep.zone.as_deref().unwrap_or_default()),
                    ("address", address),
                ],
                1.0,
            );
        }
    }
}

fn ports(e: &EndpointSlice, _: &Ctx, s: &mut Samples<'_>) {
    for p in e.ports.iter().flatten() {
        let number = p.port.map(|n| n.to_string()).unwrap_or_default();
        s.push(
            &[
                ("port_name", p.name.as_deref().unwrap_or_default()),
                ("port_protocol", p.protocol.as_deref().unwrap_or_default()),
                ("port_number", &number),
            ],
            1.0,
        );
    }
}

fn annotations(e: &EndpointSlice, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&e.metadata, &ctx.annotations, s);
}

fn labels(e: &EndpointSlice, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&e.metadata, &ctx.labels, s);
}
