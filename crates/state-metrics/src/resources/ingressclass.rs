//! `ingressclasses` (networking.k8s.io/v1 IngressClass), cluster-scoped.

use super::common::{annotations, created, labels};
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `IngressClass`: metadata and controller.
    pub struct IngressClass {
        1 => metadata: ObjectMeta,
        2 => spec: Option<IngressClassSpec>,
    }
}
object!(IngressClass);

message! {
    pub struct IngressClassSpec {
        omitempty 1 => controller: Option<Str>,
    }
}

pub struct IngressClasses;

impl Resource for IngressClasses {
    type Obj = IngressClass;
    type Api = k8s_openapi::api::networking::v1::IngressClass;
    const NAME: &'static str = "ingressclasses";
    const IDENTITY: Identity<IngressClass> = Identity::cluster("ingressclass");

    fn families() -> &'static [Family<IngressClass>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<IngressClass>] = &[
    Family::gauge("kube_ingressclass_info", "Information about ingressclass.", Alpha, info),
    Family::gauge("kube_ingressclass_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_ingressclass_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_ingressclass_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
];

fn info(c: &IngressClass, _: &Ctx, s: &mut Samples<'_>) {
    let controller = c.spec.as_ref().and_then(|sp| sp.controller.as_deref()).unwrap_or_default();
    s.push(&[("controller", controller)], 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &pb(|sp| sp.string(1, "k8s.io/ingress-nginx")));
        });
        let json = format!(r#"{{"metadata": {META_JSON}, "spec": {{"controller": "k8s.io/ingress-nginx"}}}}"#);
        let o: IngressClass = same(&encoded, &json);
        assert_eq!(o.spec.unwrap().controller.as_deref(), Some("k8s.io/ingress-nginx"));
    }
}
