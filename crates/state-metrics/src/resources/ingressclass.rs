//! `ingressclasses` (networking.k8s.io/v1 IngressClass), cluster-scoped.

use k8s_openapi::api::networking::v1::IngressClass;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct IngressClasses;

impl Resource for IngressClasses {
    type Obj = IngressClass;
    const NAME: &'static str = "ingressclasses";

    fn identity(c: &IngressClass) -> Vec<(&'static str, String)> {
        vec![("ingressclass", c.metadata.name.clone().unwrap_or_default())]
    }

    fn families() -> &'static [Family<IngressClass>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<IngressClass>] = &[
    gauge("kube_ingressclass_info", "Information about ingressclass.", Alpha, info),
    gauge("kube_ingressclass_created", "Unix creation timestamp", Alpha, created),
    gauge(
        "kube_ingressclass_annotations",
        "Kubernetes annotations converted to Prometheus labels.",
        Alpha,
        annotations,
    ),
    gauge("kube_ingressclass_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
];

fn info(c: &IngressClass, _: &Ctx, s: &mut Samples<'_>) {
    let controller = c.spec.as_ref().and_then(|sp| sp.controller.as_deref()).unwrap_or_default();
    s.push(&[("controller", controller)], 1.0);
}

fn created(c: &IngressClass, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&c.metadata, s);
}

fn annotations(c: &IngressClass, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&c.metadata, &ctx.annotations, s);
}

fn labels(c: &IngressClass, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&c.metadata, &ctx.labels, s);
}
