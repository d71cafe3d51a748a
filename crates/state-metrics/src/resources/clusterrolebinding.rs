//! `clusterrolebindings` (rbac.authorization.k8s.io/v1 ClusterRoleBinding), cluster-scoped.

use super::common::{annotations, created, labels, resource_version};
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::ObjectMeta;
use crate::proj::rbac::RoleRef;
use crate::{message, object};

message! {
    /// `ClusterRoleBinding`: metadata and the role it grants.
    pub struct ClusterRoleBinding {
        1 => metadata: ObjectMeta,
        3 => role_ref: RoleRef,
    }
}
object!(ClusterRoleBinding);

pub struct ClusterRoleBindings;

impl Resource for ClusterRoleBindings {
    type Obj = ClusterRoleBinding;
    type Api = k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    const NAME: &'static str = "clusterrolebindings";
    const IDENTITY: Identity<ClusterRoleBinding> = Identity::cluster("clusterrolebinding");

    fn families() -> &'static [Family<ClusterRoleBinding>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ClusterRoleBinding>] = &[
    Family::gauge("kube_clusterrolebinding_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_clusterrolebinding_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    Family::gauge("kube_clusterrolebinding_info", "Information about clusterrolebinding.", Alpha, info),
    Family::gauge("kube_clusterrolebinding_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_clusterrolebinding_metadata_resource_version", "Resource version representing a specific version of the clusterrolebinding.", Alpha, resource_version),
];

fn info(b: &ClusterRoleBinding, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("roleref_kind", &b.role_ref.kind), ("roleref_name", &b.role_ref.name)], 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let role_ref = pb(|r| {
            r.string(1, "rbac.authorization.k8s.io");
            r.string(2, "ClusterRole");
            r.string(3, "view");
        });
        let subject = pb(|s| s.string(2, "User"));
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &subject);
            w.message(3, &role_ref);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "subjects": [{{"kind": "User"}}],
                "roleRef": {{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}}}}"#
        );
        let o: ClusterRoleBinding = same(&encoded, &json);
        assert_eq!((o.role_ref.kind.as_str(), o.role_ref.name.as_str()), ("ClusterRole", "view"));
    }
}
