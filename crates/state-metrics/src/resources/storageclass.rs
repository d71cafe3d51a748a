//! `storageclasses` (storage.k8s.io/v1 StorageClass), cluster-scoped.

use k8s_openapi::api::storage::v1::StorageClass;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};

pub struct StorageClasses;

impl Resource for StorageClasses {
    type Obj = StorageClass;
    const NAME: &'static str = "storageclasses";

    fn identity(sc: &StorageClass) -> Vec<(&'static str, String)> {
        vec![("storageclass", sc.metadata.name.clone().unwrap_or_default())]
    }

    fn families() -> &'static [Family<StorageClass>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<StorageClass>] = &[
    gauge("kube_storageclass_info", "Information about storageclass.", Stable, info),
    gauge("kube_storageclass_created", "Unix creation timestamp", Stable, created),
    gauge(
        "kube_storageclass_annotations",
        "Kubernetes annotations converted to Prometheus labels.",
        Alpha,
        annotations,
    ),
    gauge("kube_storageclass_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
];

fn info(sc: &StorageClass, _: &Ctx, s: &mut Samples<'_>) {
    // The API server defaults these two on admission; objects that skipped defaulting report the defaults.
    let reclaim = sc.reclaim_policy.as_deref().unwrap_or("Delete");
    let binding = sc.volume_binding_mode.as_deref().unwrap_or("Immediate");
    s.push(&[("provisioner", &sc.provisioner), ("reclaim_policy", reclaim), ("volume_binding_mode", binding)], 1.0);
}

fn created(sc: &StorageClass, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&sc.metadata, s);
}

fn annotations(sc: &StorageClass, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&sc.metadata, &ctx.annotations, s);
}

fn labels(sc: &StorageClass, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&sc.metadata, &ctx.labels, s);
}
