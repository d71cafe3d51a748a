//! `persistentvolumeclaims`: kube_persistentvolumeclaim_* families.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct PersistentVolumeClaims;

impl Resource for PersistentVolumeClaims {
    type Obj = PersistentVolumeClaim;
    const NAME: &'static str = "persistentvolumeclaims";

    fn identity(o: &PersistentVolumeClaim) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", o.metadata.namespace.clone().unwrap_or_default()),
            ("persistentvolumeclaim", o.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<PersistentVolumeClaim>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<PersistentVolumeClaim>] = &[
    Family { name: "kube_persistentvolumeclaim_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_persistentvolumeclaim_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_persistentvolumeclaim_info", help: "Information about persistent volume claim.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: info },
    Family { name: "kube_persistentvolumeclaim_status_phase", help: "The phase the persistent volume claim is currently in.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_phase },
    Family { name: "kube_persistentvolumeclaim_resource_requests_storage_bytes", help: "The capacity of storage requested by the persistent volume claim.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: resource_requests_storage_bytes },
    Family { name: "kube_persistentvolumeclaim_access_mode", help: "The access mode(s) specified by the persistent volume claim.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: access_mode },
    Family { name: "kube_persistentvolumeclaim_status_condition", help: "Information about status of different conditions of persistent volume claim.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: status_condition },
    Family { name: "kube_persistentvolumeclaim_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_persistentvolumeclaim_deletion_timestamp", help: "Unix deletion timestamp", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: deletion_timestamp },
];

/// The legacy beta annotation still wins over spec.storageClassName, as in the Kubernetes helper upstream uses.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

fn labels(o: &PersistentVolumeClaim, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&o.metadata, &ctx.labels, s)
}

fn annotations(o: &PersistentVolumeClaim, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&o.metadata, &ctx.annotations, s)
}

fn info(o: &PersistentVolumeClaim, _: &Ctx, s: &mut Samples<'_>) {
    let spec = o.spec.as_ref();
    let storage_class = o
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BETA_STORAGE_CLASS_ANNOTATION))
        .or_else(|| spec.and_then(|sp| sp.storage_class_name.as_ref()))
        .map(String::as_str)
        .unwrap_or_default();
    let volume_name = spec.and_then(|sp| sp.volume_name.as_deref()).unwrap_or_default();
    let volume_mode = spec.and_then(|sp| sp.volume_mode.as_deref()).unwrap_or_default();
    s.push(&[("storageclass", storage_class), ("volumename", volume_name), ("volumemode", volume_mode)], 1.0);
}

fn status_phase(o: &PersistentVolumeClaim, _: &Ctx, s: &mut Samples<'_>) {
    let phase = o.status.as_ref().and_then(|st| st.phase.as_deref()).unwrap_or_default();
    if phase.is_empty() {
        return;
    }
    for p in ["Lost", "Bound", "Pending"] {
        s.push(&[("phase", p)], util::bool_f64(phase == p));
    }
}

fn resource_requests_storage_bytes(o: &PersistentVolumeClaim, _: &Ctx, s: &mut Samples<'_>) {
    let storage = o
        .spec
        .as_ref()
        .and_then(|sp| sp.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"));
    if let Some(v) = storage.and_then(util::quantity_count) {
        s.push(&[], v);
    }
}

fn access_mode(o: &PersistentVolumeClaim, _: &Ctx, s: &mut Samples<'_>) {
    let modes = o.spec.as_ref().and_then(|sp| sp.access_modes.as_deref()).unwrap_or_default();
    for m in modes {
        s.push(&[("access_mode", m)], 1.0);
    }
}

fn status_condition(o: &PersistentVolumeClaim, _: &Ctx, s: &mut Samples<'_>) {
    let conditions = o.status.as_ref().and_then(|st| st.conditions.as_deref()).unwrap_or_default();
    for c in conditions {
        for (status, v) in util::condition_values(&c.status) {
            s.push(&[("condition", &c.type_), ("status", status)], v);
        }
    }
}

fn created(o: &PersistentVolumeClaim, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}

fn deletion_timestamp(o: &PersistentVolumeClaim, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&o.metadata, s)
}
