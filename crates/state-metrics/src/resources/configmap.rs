//! `configmaps`: kube_configmap_* families.

use super::common::{annotations, created, labels, one, resource_version};
use super::{Identity, Resource};
use crate::family::Family;
use crate::family::Stability::{Alpha, Stable};
use crate::proj::ObjectMeta;
use crate::{message, object};

message! {
    /// `core/v1 ConfigMap`: the families read its metadata only.
    pub struct ConfigMap {
        1 => metadata: ObjectMeta,
    }
}
object!(ConfigMap);

pub struct ConfigMaps;

impl Resource for ConfigMaps {
    type Obj = ConfigMap;
    type Api = k8s_openapi::api::core::v1::ConfigMap;
    const NAME: &'static str = "configmaps";
    const IDENTITY: Identity<ConfigMap> = Identity::namespaced("configmap");
    const METADATA_ONLY: bool = true;

    fn families() -> &'static [Family<ConfigMap>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ConfigMap>] = &[
    Family::gauge("kube_configmap_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_configmap_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_configmap_info", "Information about configmap.", Stable, one),
    Family::gauge("kube_configmap_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_configmap_metadata_resource_version", "Resource version representing a specific version of the configmap.", Alpha, resource_version),
];
