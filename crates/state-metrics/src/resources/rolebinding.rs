//! `rolebindings` (rbac.authorization.k8s.io/v1 RoleBinding).

use k8s_openapi::api::rbac::v1::RoleBinding;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct RoleBindings;

impl Resource for RoleBindings {
    type Obj = RoleBinding;
    const NAME: &'static str = "rolebindings";

    fn identity(b: &RoleBinding) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", b.metadata.namespace.clone().unwrap_or_default()),
            ("rolebinding", b.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<RoleBinding>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<RoleBinding>] = &[
    gauge("kube_rolebinding_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_rolebinding_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    gauge("kube_rolebinding_info", "Information about rolebinding.", Alpha, info),
    gauge("kube_rolebinding_created", "Unix creation timestamp", Alpha, created),
    gauge(
        "kube_rolebinding_metadata_resource_version",
        "Resource version representing a specific version of the rolebinding.",
        Alpha,
        resource_version,
    ),
];

fn annotations(b: &RoleBinding, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&b.metadata, &ctx.annotations, s);
}

fn labels(b: &RoleBinding, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&b.metadata, &ctx.labels, s);
}

fn info(b: &RoleBinding, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("roleref_kind", &b.role_ref.kind), ("roleref_name", &b.role_ref.name)], 1.0);
}

fn created(b: &RoleBinding, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&b.metadata, s);
}

fn resource_version(b: &RoleBinding, _: &Ctx, s: &mut Samples<'_>) {
    util::resource_version(&b.metadata, s);
}
