//! `roles` (rbac.authorization.k8s.io/v1 Role).

use k8s_openapi::api::rbac::v1::Role;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct Roles;

impl Resource for Roles {
    type Obj = Role;
    const NAME: &'static str = "roles";

    fn identity(r: &Role) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", r.metadata.namespace.clone().unwrap_or_default()),
            ("role", r.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<Role>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<Role>] = &[
    gauge("kube_role_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_role_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    gauge("kube_role_info", "Information about role.", Alpha, info),
    gauge("kube_role_created", "Unix creation timestamp", Alpha, created),
    gauge(
        "kube_role_metadata_resource_version",
        "Resource version representing a specific version of the role.",
        Alpha,
        resource_version,
    ),
];

fn annotations(r: &Role, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&r.metadata, &ctx.annotations, s);
}

fn labels(r: &Role, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&r.metadata, &ctx.labels, s);
}

fn info(_: &Role, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], 1.0);
}

fn created(r: &Role, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&r.metadata, s);
}

fn resource_version(r: &Role, _: &Ctx, s: &mut Samples<'_>) {
    util::resource_version(&r.metadata, s);
}
