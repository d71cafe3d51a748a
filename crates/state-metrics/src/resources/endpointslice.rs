//! `endpointslices` (discovery.k8s.io/v1 EndpointSlice).
//!
//! Unlike most namespaced resources the identity labels are `endpointslice` THEN `namespace`.

use super::common::{annotations, created, labels, opt_bool_str};
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::core::ObjectReference;
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `EndpointSlice`: metadata, address type, endpoints and ports.
    pub struct EndpointSlice {
        1 => metadata: ObjectMeta,
        2 => endpoints: Option<Vec<Endpoint>>,
        3 => ports: Option<Vec<EndpointPort>>,
        4 => address_type: Str,
    }
}
object!(EndpointSlice);

message! {
    pub struct Endpoint {
        1 => addresses: Vec<Str>,
        2 => conditions: Option<EndpointConditions>,
        3 => hostname: Option<Str>,
        4 => target_ref: Option<ObjectReference>,
        6 => node_name: Option<Str>,
        7 => zone: Option<Str>,
        8 => hints: Option<EndpointHints>,
    }
}

message! {
    pub struct EndpointConditions {
        1 => ready: Option<bool>,
        2 => serving: Option<bool>,
        3 => terminating: Option<bool>,
    }
}

message! {
    pub struct EndpointHints {
        1 => for_zones: Option<Vec<ForZone>>,
    }
}

message! {
    pub struct ForZone {
        1 => name: Str,
    }
}

message! {
    pub struct EndpointPort {
        1 => name: Option<Str>,
        2 => protocol: Option<Str>,
        3 => port: Option<i32>,
    }
}

pub struct EndpointSlices;

impl Resource for EndpointSlices {
    type Obj = EndpointSlice;
    type Api = k8s_openapi::api::discovery::v1::EndpointSlice;
    const NAME: &'static str = "endpointslices";
    const IDENTITY: Identity<EndpointSlice> = Identity::cluster("endpointslice").with(namespace_after_name);

    fn families() -> &'static [Family<EndpointSlice>] {
        FAMILIES
    }
}

fn namespace_after_name(e: &EndpointSlice) -> Vec<(&'static str, Str)> {
    vec![("namespace", e.metadata.namespace.clone().unwrap_or_default())]
}

#[rustfmt::skip]
static FAMILIES: &[Family<EndpointSlice>] = &[
    Family::gauge("kube_endpointslice_info", "Information about endpointslice.", Alpha, info),
    Family::gauge("kube_endpointslice_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_endpointslice_endpoints_hints", "Topology routing hints attached to endpoints", Alpha, hints),
    Family::gauge("kube_endpointslice_endpoints", "Endpoints attached to the endpointslice.", Alpha, endpoints),
    Family::gauge("kube_endpointslice_ports", "Ports attached to the endpointslice.", Alpha, ports),
    Family::gauge("kube_endpointslice_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_endpointslice_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
];

fn info(e: &EndpointSlice, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("addresstype", &e.address_type)], 1.0);
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
        let ready = opt_bool_str(cond.and_then(|c| c.ready));
        let serving = opt_bool_str(cond.and_then(|c| c.serving));
        let terminating = opt_bool_str(cond.and_then(|c| c.terminating));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let target = pb(|t| {
            t.string(1, "Pod");
            t.string(2, "ns");
            t.string(3, "web-0");
            t.string(4, "u-pod");
        });
        let endpoint = pb(|e| {
            e.string(1, "10.1.0.5");
            e.string(1, "10.1.0.6");
            e.message(
                2,
                &pb(|c| {
                    c.varint(1, 1);
                    c.varint(2, 1);
                    c.varint(3, 0);
                }),
            );
            e.string(3, "web-0");
            e.message(4, &target);
            e.string(6, "node-1");
            e.string(7, "zone-a");
            e.message(8, &pb(|h| h.message(1, &pb(|z| z.string(1, "zone-a")))));
        });
        let port = pb(|p| {
            p.string(1, "http");
            p.string(2, "TCP");
            p.varint(3, 8080);
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &endpoint);
            w.message(3, &port);
            w.string(4, "IPv4");
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "addressType": "IPv4", "endpoints": [{{"addresses": ["10.1.0.5", "10.1.0.6"],
                "conditions": {{"ready": true, "serving": true, "terminating": false}}, "hostname": "web-0",
                "targetRef": {{"kind": "Pod", "namespace": "ns", "name": "web-0", "uid": "u-pod"}},
                "nodeName": "node-1", "zone": "zone-a", "hints": {{"forZones": [{{"name": "zone-a"}}]}}}}],
                "ports": [{{"name": "http", "protocol": "TCP", "port": 8080}}]}}"#
        );
        let o: EndpointSlice = same(&encoded, &json);
        let ep = &o.endpoints.unwrap()[0];
        assert_eq!(ep.conditions.as_ref().unwrap().terminating, Some(false));
        assert_eq!(ep.target_ref.as_ref().unwrap().name.as_deref(), Some("web-0"));
    }
}
