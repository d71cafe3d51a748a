//! `services`: kube_service_* families. Identity includes the uid, unlike most namespaced resources.

use super::common::{annotations, created, deletion_timestamp, labels};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `Service`: metadata, the spec's addresses and type, the load balancer's ingress points.
    pub struct Service {
        1 => metadata: ObjectMeta,
        2 => spec: Option<ServiceSpec>,
        3 => status: Option<ServiceStatus>,
    }
}
object!(Service);

message! {
    pub struct ServiceSpec {
        #[serde(rename = "clusterIP")]
        omitempty 3 => cluster_ip: Option<Str>,
        #[serde(rename = "type")]
        omitempty 4 => type_: Option<Str>,
        #[serde(rename = "externalIPs")]
        5 => external_ips: Option<Vec<Str>>,
        #[serde(rename = "loadBalancerIP")]
        omitempty 8 => load_balancer_ip: Option<Str>,
        omitempty 10 => external_name: Option<Str>,
        omitempty 11 => external_traffic_policy: Option<Str>,
    }
}

message! {
    pub struct ServiceStatus {
        1 => load_balancer: Option<LoadBalancerStatus>,
    }
}

message! {
    pub struct LoadBalancerStatus {
        1 => ingress: Option<Vec<LoadBalancerIngress>>,
    }
}

message! {
    pub struct LoadBalancerIngress {
        omitempty 1 => ip: Option<Str>,
        omitempty 2 => hostname: Option<Str>,
    }
}

pub struct Services;

impl Resource for Services {
    type Obj = Service;
    type Api = k8s_openapi::api::core::v1::Service;
    const NAME: &'static str = "services";
    const IDENTITY: Identity<Service> = Identity::namespaced("service").with_uid();

    fn families() -> &'static [Family<Service>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Service>] = &[
    Family::gauge("kube_service_info", "Information about service.", Stable, info),
    Family::gauge("kube_service_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_service_spec_type", "Type about service.", Stable, spec_type),
    Family::gauge("kube_service_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_service_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_service_spec_external_ip", "Service external ips. One series for each ip", Stable, spec_external_ip),
    Family::gauge("kube_service_status_load_balancer_ingress", "Service load balancer ingress status", Stable, status_load_balancer_ingress),
    Family::gauge("kube_service_deletion_timestamp", "Unix deletion timestamp", Alpha, deletion_timestamp),
];

fn info(o: &Service, _: &Ctx, s: &mut Samples<'_>) {
    let spec = o.spec.as_ref();
    let field = |f: fn(&ServiceSpec) -> Option<&Str>| spec.and_then(f).map(Str::as_str).unwrap_or_default();
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

/// Written even when the type is unset (empty value), as upstream reads the plain string field.
fn spec_type(o: &Service, _: &Ctx, s: &mut Samples<'_>) {
    let t = o.spec.as_ref().and_then(|sp| sp.type_.as_deref()).unwrap_or_default();
    s.push(&[("type", t)], 1.0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let spec = pb(|sp| {
            sp.message(1, &pb(|p| p.varint(3, 80)));
            sp.string(3, "10.96.0.10");
            sp.string(4, "LoadBalancer");
            sp.string(5, "192.0.2.1");
            sp.string(8, "198.51.100.7");
            sp.string(10, "");
            sp.string(11, "Local");
        });
        let ingress = pb(|i| {
            i.string(1, "203.0.113.5");
            i.string(2, "lb.example.com");
        });
        let status = pb(|st| st.message(1, &pb(|lb| lb.message(1, &ingress))));
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"ports": [{{"port": 80}}], "clusterIP": "10.96.0.10",
                "type": "LoadBalancer", "externalIPs": ["192.0.2.1"], "loadBalancerIP": "198.51.100.7",
                "externalName": "", "externalTrafficPolicy": "Local"}},
                "status": {{"loadBalancer": {{"ingress": [{{"ip": "203.0.113.5", "hostname": "lb.example.com"}}]}}}}}}"#
        );
        let o: Service = same(&encoded, &json);
        assert_eq!(o.spec.unwrap().cluster_ip.as_deref(), Some("10.96.0.10"));
    }
}
