//! `clusterroles` (rbac.authorization.k8s.io/v1 ClusterRole), cluster-scoped.

use k8s_openapi::api::rbac::v1::ClusterRole;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct ClusterRoles;

impl Resource for ClusterRoles {
    type Obj = ClusterRole;
    const NAME: &'static str = "clusterroles";

    fn identity(r: &ClusterRole) -> Vec<(&'static str, String)> {
        vec![("clusterrole", r.metadata.name.clone().unwrap_or_default())]
    }

    fn families() -> &'static [Family<ClusterRole>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<ClusterRole>] = &[
    gauge("kube_clusterrole_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_clusterrole_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    gauge("kube_clusterrole_info", "Information about cluster role.", Alpha, info),
    gauge("kube_clusterrole_created", "Unix creation timestamp", Alpha, created),
    gauge(
        "kube_clusterrole_metadata_resource_version",
        "Resource version representing a specific version of the cluster role.",
        Alpha,
        resource_version,
    ),
];

fn annotations(r: &ClusterRole, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&r.metadata, &ctx.annotations, s);
}

fn labels(r: &ClusterRole, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&r.metadata, &ctx.labels, s);
}

fn info(_: &ClusterRole, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], 1.0);
}

fn created(r: &ClusterRole, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&r.metadata, s);
}

fn resource_version(r: &ClusterRole, _: &Ctx, s: &mut Samples<'_>) {
    util::resource_version(&r.metadata, s);
}
