//! `storageclasses` (storage.k8s.io/v1 StorageClass), cluster-scoped.

use super::common::{annotations, created, labels};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `StorageClass`: metadata, provisioner, reclaim policy and binding mode.
    pub struct StorageClass {
        1 => metadata: ObjectMeta,
        2 => provisioner: Str,
        4 => reclaim_policy: Option<Str>,
        7 => volume_binding_mode: Option<Str>,
    }
}
object!(StorageClass);

pub struct StorageClasses;

impl Resource for StorageClasses {
    type Obj = StorageClass;
    type Api = k8s_openapi::api::storage::v1::StorageClass;
    const NAME: &'static str = "storageclasses";
    const IDENTITY: Identity<StorageClass> = Identity::cluster("storageclass");

    fn families() -> &'static [Family<StorageClass>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<StorageClass>] = &[
    Family::gauge("kube_storageclass_info", "Information about storageclass.", Stable, info),
    Family::gauge("kube_storageclass_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_storageclass_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_storageclass_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
];

fn info(sc: &StorageClass, _: &Ctx, s: &mut Samples<'_>) {
    // The API server defaults these two on admission; objects that skipped defaulting report the defaults.
    let reclaim = sc.reclaim_policy.as_deref().unwrap_or("Delete");
    let binding = sc.volume_binding_mode.as_deref().unwrap_or("Immediate");
    s.push(&[("provisioner", &sc.provisioner), ("reclaim_policy", reclaim), ("volume_binding_mode", binding)], 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, entry, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.string(2, "ebs.csi.aws.com");
            entry(w, 3, "type", "gp3");
            w.string(4, "Retain");
            w.varint(6, 1);
            w.string(7, "WaitForFirstConsumer");
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "provisioner": "ebs.csi.aws.com", "parameters": {{"type": "gp3"}},
                "reclaimPolicy": "Retain", "allowVolumeExpansion": true, "volumeBindingMode": "WaitForFirstConsumer"}}"#
        );
        let o: StorageClass = same(&encoded, &json);
        assert_eq!(o.volume_binding_mode.as_deref(), Some("WaitForFirstConsumer"));
    }
}
