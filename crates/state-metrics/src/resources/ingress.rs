//! `ingresses` (networking.k8s.io/v1 Ingress).

use k8s_openapi::api::networking::v1::Ingress;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};

pub struct Ingresses;

impl Resource for Ingresses {
    type Obj = Ingress;
    const NAME: &'static str = "ingresses";

    fn identity(i: &Ingress) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", i.metadata.namespace.clone().unwrap_or_default()),
            ("ingress", i.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<Ingress>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<Ingress>] = &[
    gauge("kube_ingress_info", "Information about ingress.", Stable, info),
    gauge("kube_ingress_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_ingress_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    gauge("kube_ingress_created", "Unix creation timestamp", Stable, created),
    gauge(
        "kube_ingress_metadata_resource_version",
        "Resource version representing a specific version of ingress.",
        Alpha,
        resource_version,
    ),
    gauge("kube_ingress_path", "Ingress host, paths and backend service information.", Stable, path),
    gauge("kube_ingress_tls", "Ingress TLS host and secret information.", Stable, tls),
];

/// The legacy annotation still wins over `spec.ingressClassName`, as it does for most controllers.
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

fn info(i: &Ingress, _: &Ctx, s: &mut Samples<'_>) {
    let from_annotation = i.metadata.annotations.as_ref().and_then(|a| a.get(CLASS_ANNOTATION));
    let from_spec = i.spec.as_ref().and_then(|sp| sp.ingress_class_name.as_ref());
    let class = from_annotation.or(from_spec).map_or("_default", String::as_str);
    s.push(&[("ingressclass", class)], 1.0);
}

fn annotations(i: &Ingress, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&i.metadata, &ctx.annotations, s);
}

fn labels(i: &Ingress, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&i.metadata, &ctx.labels, s);
}

fn created(i: &Ingress, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&i.metadata, s);
}

fn resource_version(i: &Ingress, _: &Ctx, s: &mut Samples<'_>) {
    util::resource_version(&i.metadata, s);
}

fn path(i: &Ingress, _: &Ctx, s: &mut Samples<'_>) {
    let rules = i.spec.as_ref().and_then(|sp| sp.rules.as_deref()).unwrap_or_default();
    for rule in rules {
        let Some(http) = &rule.http else { continue };
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
