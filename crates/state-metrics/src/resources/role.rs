//! `roles` (rbac.authorization.k8s.io/v1 Role).

use super::common::{annotations, created, labels, one, resource_version};
use super::{Identity, Resource};
use crate::family::Family;
use crate::family::Stability::Alpha;
use crate::proj::ObjectMeta;
use crate::{message, object};

message! {
    /// `Role`: the families read its metadata only.
    pub struct Role {
        1 => metadata: ObjectMeta,
    }
}
object!(Role);

pub struct Roles;

impl Resource for Roles {
    type Obj = Role;
    type Api = k8s_openapi::api::rbac::v1::Role;
    const NAME: &'static str = "roles";
    const IDENTITY: Identity<Role> = Identity::namespaced("role");
    const METADATA_ONLY: bool = true;

    fn families() -> &'static [Family<Role>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Role>] = &[
    Family::gauge("kube_role_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_role_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    Family::gauge("kube_role_info", "Information about role.", Alpha, one),
    Family::gauge("kube_role_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_role_metadata_resource_version", "Resource version representing a specific version of the role.", Alpha, resource_version),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let o: Role = same(&pb(|w| w.message(1, &meta())), &format!(r#"{{"metadata": {META_JSON}, "rules": []}}"#));
        assert_eq!(o.metadata.namespace.as_deref(), Some("ns"));
    }
}
