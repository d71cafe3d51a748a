//! `endpoints` (core/v1 Endpoints). Not in the default resource set since v2.18 (EndpointSlices are).

use super::common::{annotations, created, labels, one};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `Endpoints`: metadata and the subsets' addresses and ports.
    pub struct Endpoints {
        1 => metadata: ObjectMeta,
        2 => subsets: Option<Vec<EndpointSubset>>,
    }
}
object!(Endpoints);

message! {
    pub struct EndpointSubset {
        1 => addresses: Option<Vec<EndpointAddress>>,
        2 => not_ready_addresses: Option<Vec<EndpointAddress>>,
        3 => ports: Option<Vec<EndpointPort>>,
    }
}

message! {
    pub struct EndpointAddress {
        1 => ip: Str,
    }
}

message! {
    pub struct EndpointPort {
        omitempty 1 => name: Option<Str>,
        2 => port: i32,
        omitempty 3 => protocol: Option<Str>,
    }
}

pub struct EndpointsResource;

impl Resource for EndpointsResource {
    type Obj = Endpoints;
    type Api = k8s_openapi::api::core::v1::Endpoints;
    const NAME: &'static str = "endpoints";
    const IDENTITY: Identity<Endpoints> = Identity::namespaced("endpoint");

    fn families() -> &'static [Family<Endpoints>] {
        FAMILIES
    }
}

// kube_endpoint_ports is superseded by kube_endpoint_address, which carries the same port labels per
// address.
#[rustfmt::skip]
static FAMILIES: &[Family<Endpoints>] = &[
    Family::gauge("kube_endpoint_info", "Information about endpoint.", Stable, one),
    Family::gauge("kube_endpoint_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_endpoint_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_endpoint_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_endpoint_address", "Information about Endpoint available and non available addresses.", Stable, address),
    Family::gauge("kube_endpoint_ports", "Information about the Endpoint ports.", Stable, ports).deprecated("v2.14.0"),
];

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let address = |ip: &str| {
            pb(|a| {
                a.string(1, ip);
                a.string(4, "node-1");
            })
        };
        let port = pb(|p| {
            p.string(1, "http");
            p.varint(2, 8080);
            p.string(3, "TCP");
        });
        let subset = pb(|s| {
            s.message(1, &address("10.0.0.1"));
            s.message(2, &address("10.0.0.2"));
            s.message(3, &port);
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &subset);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "subsets": [{{"addresses": [{{"ip": "10.0.0.1", "nodeName": "node-1"}}],
                "notReadyAddresses": [{{"ip": "10.0.0.2", "nodeName": "node-1"}}],
                "ports": [{{"name": "http", "port": 8080, "protocol": "TCP"}}]}}]}}"#
        );
        let o: Endpoints = same(&encoded, &json);
        let subset = &o.subsets.unwrap()[0];
        assert_eq!(subset.ports.as_ref().unwrap()[0].port, 8080);
        assert_eq!(subset.not_ready_addresses.as_ref().unwrap()[0].ip, "10.0.0.2");
    }
}
