//! `ingresses` (networking.k8s.io/v1 Ingress).

use super::common::{annotations, created, labels, resource_version};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `Ingress`: metadata, the class, the rules' paths and backends, TLS hosts.
    pub struct Ingress {
        1 => metadata: ObjectMeta,
        2 => spec: Option<IngressSpec>,
    }
}
object!(Ingress);

message! {
    pub struct IngressSpec {
        2 => tls: Option<Vec<IngressTLS>>,
        3 => rules: Option<Vec<IngressRule>>,
        4 => ingress_class_name: Option<Str>,
    }
}

message! {
    pub struct IngressTLS {
        1 => hosts: Option<Vec<Str>>,
        omitempty 2 => secret_name: Option<Str>,
    }
}

message! {
    pub struct IngressRule {
        omitempty 1 => host: Option<Str>,
        // Inline in JSON (`http` sits in the rule), an embedded message in protobuf.
        #[serde(flatten)]
        2 => ingress_rule_value: IngressRuleValue,
    }
}

message! {
    pub struct IngressRuleValue {
        1 => http: Option<HTTPIngressRuleValue>,
    }
}

message! {
    pub struct HTTPIngressRuleValue {
        1 => paths: Vec<HTTPIngressPath>,
    }
}

message! {
    pub struct HTTPIngressPath {
        omitempty 1 => path: Option<Str>,
        2 => backend: IngressBackend,
        3 => path_type: Str,
    }
}

message! {
    pub struct IngressBackend {
        3 => resource: Option<TypedLocalObjectReference>,
        4 => service: Option<IngressServiceBackend>,
    }
}

message! {
    pub struct TypedLocalObjectReference {
        1 => api_group: Option<Str>,
        2 => kind: Str,
        3 => name: Str,
    }
}

message! {
    pub struct IngressServiceBackend {
        1 => name: Str,
        2 => port: Option<ServiceBackendPort>,
    }
}

message! {
    pub struct ServiceBackendPort {
        omitempty 2 => number: Option<i32>,
    }
}

pub struct Ingresses;

impl Resource for Ingresses {
    type Obj = Ingress;
    type Api = k8s_openapi::api::networking::v1::Ingress;
    const NAME: &'static str = "ingresses";
    const IDENTITY: Identity<Ingress> = Identity::namespaced("ingress");

    fn families() -> &'static [Family<Ingress>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Ingress>] = &[
    Family::gauge("kube_ingress_info", "Information about ingress.", Stable, info),
    Family::gauge("kube_ingress_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_ingress_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_ingress_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_ingress_metadata_resource_version", "Resource version representing a specific version of ingress.", Alpha, resource_version),
    Family::gauge("kube_ingress_path", "Ingress host, paths and backend service information.", Stable, path),
    Family::gauge("kube_ingress_tls", "Ingress TLS host and secret information.", Stable, tls),
];

/// The legacy annotation still wins over `spec.ingressClassName`, as it does for most controllers.
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

fn info(i: &Ingress, _: &Ctx, s: &mut Samples<'_>) {
    let from_annotation = i.metadata.annotations.as_ref().and_then(|a| a.get(CLASS_ANNOTATION));
    let from_spec = i.spec.as_ref().and_then(|sp| sp.ingress_class_name.as_ref());
    let class = from_annotation.or(from_spec).map_or("_default", Str::as_str);
    s.push(&[("ingressclass", class)], 1.0);
}

fn path(i: &Ingress, _: &Ctx, s: &mut Samples<'_>) {
    let rules = i.spec.as_ref().and_then(|sp| sp.rules.as_deref()).unwrap_or_default();
    for rule in rules {
        let Some(http) = &rule.ingress_rule_value.http else { continue };
        let host = rule.host.as_deref().unwrap_or_default();
        for p in &http.paths {
            let path = p.path.as_deref().unwrap_or_default();
            if let Some(svc) = &p.backend.service {
                // A port given by name has no number; upstream prints the zero value.
                let port = svc.port.as_ref().and_then(|port| port.number).unwrap_or(0).to_string();
                s.push(
                    &[
                        ("host", host),
                        ("path", path),
                        ("path_type", &p.path_type),
                        ("service_name", &svc.name),
                        ("service_port", &port),
                    ],
                    1.0,
                );
            } else {
                // Validation requires a service or a resource backend; a backend with neither is reported
                // as an empty resource reference instead of being dropped.
                let res = p.backend.resource.as_ref();
                s.push(
                    &[
                        ("host", host),
                        ("path", path),
                        ("path_type", &p.path_type),
                        ("resource_api_group", res.and_then(|r| r.api_group.as_deref()).unwrap_or_default()),
                        ("resource_kind", res.map_or("", |r| r.kind.as_str())),
                        ("resource_name", res.map_or("", |r| r.name.as_str())),
                    ],
                    1.0,
                );
            }
        }
    }
}

fn tls(i: &Ingress, _: &Ctx, s: &mut Samples<'_>) {
    for t in i.spec.as_ref().and_then(|sp| sp.tls.as_deref()).unwrap_or_default() {
        let secret = t.secret_name.as_deref().unwrap_or_default();
        for host in t.hosts.iter().flatten() {
            s.push(&[("tls_host", host), ("secret", secret)], 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let service = pb(|b| {
            b.string(1, "web");
            b.message(2, &pb(|p| p.varint(2, 8080)));
        });
        let to_service = pb(|p| {
            p.string(1, "/");
            p.message(2, &pb(|b| b.message(4, &service)));
            p.string(3, "Prefix");
        });
        let resource = pb(|r| {
            r.string(1, "storage.example.com");
            r.string(2, "Bucket");
            r.string(3, "assets");
        });
        let to_resource = pb(|p| {
            p.string(1, "/static");
            p.message(2, &pb(|b| b.message(3, &resource)));
            p.string(3, "Exact");
        });
        let rule = pb(|r| {
            r.string(1, "shop.example.com");
            r.message(
                2,
                &pb(|v| {
                    v.message(
                        1,
                        &pb(|h| {
                            h.message(1, &to_service);
                            h.message(1, &to_resource);
                        }),
                    )
                }),
            );
        });
        let tls = pb(|t| {
            t.string(1, "shop.example.com");
            t.string(2, "shop-tls");
        });
        let spec = pb(|sp| {
            sp.message(2, &tls);
            sp.message(3, &rule);
            sp.string(4, "nginx");
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"ingressClassName": "nginx",
                "tls": [{{"hosts": ["shop.example.com"], "secretName": "shop-tls"}}],
                "rules": [{{"host": "shop.example.com", "http": {{"paths": [
                    {{"path": "/", "pathType": "Prefix", "backend": {{"service": {{"name": "web", "port": {{"number": 8080}}}}}}}},
                    {{"path": "/static", "pathType": "Exact", "backend": {{"resource":
                        {{"apiGroup": "storage.example.com", "kind": "Bucket", "name": "assets"}}}}}}]}}}}]}}}}"#
        );
        let o: Ingress = same(&encoded, &json);
        let rules = o.spec.unwrap().rules.unwrap();
        let paths = &rules[0].ingress_rule_value.http.as_ref().unwrap().paths;
        assert_eq!(paths[1].backend.resource.as_ref().unwrap().name, "assets");
    }
}
