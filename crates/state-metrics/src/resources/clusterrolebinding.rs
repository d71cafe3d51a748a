//! `clusterrolebindings` (rbac.authorization.k8s.io/v1 ClusterRoleBinding), cluster-scoped.

use k8s_openapi::api::rbac::v1::ClusterRoleBinding;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct ClusterRoleBindings;

impl Resource for ClusterRoleBindings {
    type Obj = ClusterRoleBinding;
    const NAME: &'static str = "clusterrolebindings";

    fn identity(b: &ClusterRoleBinding) -> Vec<(&'static str, String)> {
        vec![("clusterrolebinding", b.metadata.name.clone().unwrap_or_default())]
    }

    fn families() -> &'static [Family<ClusterRoleBinding>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<ClusterRoleBinding>] = &[
    gauge(
        "kube_clusterrolebinding_annotations",
        "Kubernetes annotations converted to Prometheus labels.",
        Alpha,
        annotations,
    ),
    gauge("kube_clusterrolebinding_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    gauge("kube_clusterrolebinding_info", "Information about clusterrolebinding.", Alpha, info),
    gauge("kube_clusterrolebinding_created", "Unix creation timestamp", Alpha, created),
    gauge(
        "kube_clusterrolebinding_metadata_resource_version",
        "Resource version representing a specific version of the clusterrolebinding.",
        Alpha,
        resource_version,
    ),
];

fn annotations(b: &ClusterRoleBinding, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&b.metadata, &ctx.annotations, s);
}

fn labels(b: &ClusterRoleBinding, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&b.metadata, &ctx.labels, s);
}

fn info(b: &ClusterRoleBinding, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("roleref_kind", &b.role_ref.kind), ("roleref_name", &b.role_ref.name)], 1.0);
}

fn created(b: &ClusterRoleBinding, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&b.metadata, s);
}

fn resource_version(b: &ClusterRoleBinding, _: &Ctx, s: &mut Samples<'_>) {
    util::resource_version(&b.metadata, s);
}
