//! `clusterroles` (rbac.authorization.k8s.io/v1 ClusterRole), cluster-scoped.

use super::common::{annotations, created, labels, one, resource_version};
use super::{Identity, Resource};
use crate::family::Family;
use crate::family::Stability::Alpha;
use crate::proj::ObjectMeta;
use crate::{message, object};

message! {
    /// `ClusterRole`: the families read its metadata only.
    pub struct ClusterRole {
        1 => metadata: ObjectMeta,
    }
}
object!(ClusterRole);

pub struct ClusterRoles;

impl Resource for ClusterRoles {
    type Obj = ClusterRole;
    type Api = k8s_openapi::api::rbac::v1::ClusterRole;
    const NAME: &'static str = "clusterroles";
    const IDENTITY: Identity<ClusterRole> = Identity::cluster("clusterrole");
    const METADATA_ONLY: bool = true;

    fn families() -> &'static [Family<ClusterRole>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ClusterRole>] = &[
    Family::gauge("kube_clusterrole_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_clusterrole_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    Family::gauge("kube_clusterrole_info", "Information about cluster role.", Alpha, one),
    Family::gauge("kube_clusterrole_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_clusterrole_metadata_resource_version", "Resource version representing a specific version of the cluster role.", Alpha, resource_version),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let o: ClusterRole =
            same(&pb(|w| w.message(1, &meta())), &format!(r#"{{"metadata": {META_JSON}, "rules": []}}"#));
        assert_eq!(o.metadata.name.as_deref(), Some("obj"));
    }
}
