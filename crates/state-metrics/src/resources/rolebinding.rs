//! `rolebindings` (rbac.authorization.k8s.io/v1 RoleBinding).

use super::common::{annotations, created, labels, resource_version};
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::ObjectMeta;
use crate::proj::rbac::RoleRef;
use crate::{message, object};

message! {
    /// `RoleBinding`: metadata and the role it grants.
    pub struct RoleBinding {
        1 => metadata: ObjectMeta,
        3 => role_ref: RoleRef,
    }
}
object!(RoleBinding);

pub struct RoleBindings;

impl Resource for RoleBindings {
    type Obj = RoleBinding;
    type Api = k8s_openapi::api::rbac::v1::RoleBinding;
    const NAME: &'static str = "rolebindings";
    const IDENTITY: Identity<RoleBinding> = Identity::namespaced("rolebinding");

    fn families() -> &'static [Family<RoleBinding>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<RoleBinding>] = &[
    Family::gauge("kube_rolebinding_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_rolebinding_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    Family::gauge("kube_rolebinding_info", "Information about rolebinding.", Alpha, info),
    Family::gauge("kube_rolebinding_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_rolebinding_metadata_resource_version", "Resource version representing a specific version of the rolebinding.", Alpha, resource_version),
];

fn info(b: &RoleBinding, _: &Ctx, s: &mut Samples<'_>) {
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
        let o: RoleBinding = same(&encoded, &json);
        assert_eq!((o.role_ref.kind.as_str(), o.role_ref.name.as_str()), ("ClusterRole", "view"));
    }
}
