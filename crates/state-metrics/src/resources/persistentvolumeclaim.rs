//! `persistentvolumeclaims`: kube_persistentvolumeclaim_* families.

use std::collections::BTreeMap;

use super::common::{annotations, bool_f64, condition_values, created, deletion_timestamp, labels, quantity_count};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Quantity, Str};
use crate::{message, object};

message! {
    /// `PersistentVolumeClaim`: metadata, the spec's class, volume, mode, access modes and requested
    /// storage, the status phase and conditions.
    pub struct PersistentVolumeClaim {
        1 => metadata: ObjectMeta,
        2 => spec: Option<PersistentVolumeClaimSpec>,
        3 => status: Option<PersistentVolumeClaimStatus>,
    }
}
object!(PersistentVolumeClaim);

message! {
    pub struct PersistentVolumeClaimSpec {
        1 => access_modes: Option<Vec<Str>>,
        2 => resources: Option<VolumeResourceRequirements>,
        omitempty 3 => volume_name: Option<Str>,
        5 => storage_class_name: Option<Str>,
        6 => volume_mode: Option<Str>,
    }
}

message! {
    pub struct VolumeResourceRequirements {
        2 => requests: Option<BTreeMap<Str, Quantity>>,
    }
}

message! {
    pub struct PersistentVolumeClaimStatus {
        omitempty 1 => phase: Option<Str>,
        4 => conditions: Option<Vec<PersistentVolumeClaimCondition>>,
    }
}

message! {
    pub struct PersistentVolumeClaimCondition {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => status: Str,
    }
}

pub struct PersistentVolumeClaims;

impl Resource for PersistentVolumeClaims {
    type Obj = PersistentVolumeClaim;
    type Api = k8s_openapi::api::core::v1::PersistentVolumeClaim;
    const NAME: &'static str = "persistentvolumeclaims";
    const IDENTITY: Identity<PersistentVolumeClaim> = Identity::namespaced("persistentvolumeclaim");

    fn families() -> &'static [Family<PersistentVolumeClaim>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<PersistentVolumeClaim>] = &[
    Family::gauge("kube_persistentvolumeclaim_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_persistentvolumeclaim_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_persistentvolumeclaim_info", "Information about persistent volume claim.", Stable, info),
    Family::gauge("kube_persistentvolumeclaim_status_phase", "The phase the persistent volume claim is currently in.", Stable, status_phase),
    Family::gauge("kube_persistentvolumeclaim_resource_requests_storage_bytes", "The capacity of storage requested by the persistent volume claim.", Stable, resource_requests_storage_bytes),
    Family::gauge("kube_persistentvolumeclaim_access_mode", "The access mode(s) specified by the persistent volume claim.", Stable, access_mode),
    Family::gauge("kube_persistentvolumeclaim_status_condition", "Information about status of different conditions of persistent volume claim.", Alpha, status_condition),
    Family::gauge("kube_persistentvolumeclaim_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_persistentvolumeclaim_deletion_timestamp", "Unix deletion timestamp", Alpha, deletion_timestamp),
];

/// The legacy beta annotation still wins over spec.storageClassName, as in the Kubernetes helper upstream uses.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

fn info(o: &PersistentVolumeClaim, _: &Ctx, s: &mut Samples<'_>) {
    let spec = o.spec.as_ref();
    let storage_class = o
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BETA_STORAGE_CLASS_ANNOTATION))
        .or_else(|| spec.and_then(|sp| sp.storage_class_name.as_ref()))
        .map(Str::as_str)
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
        s.push(&[("phase", p)], bool_f64(phase == p));
    }
}

fn resource_requests_storage_bytes(o: &PersistentVolumeClaim, _: &Ctx, s: &mut Samples<'_>) {
    let storage = o
        .spec
        .as_ref()
        .and_then(|sp| sp.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"));
    if let Some(v) = storage.and_then(quantity_count) {
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
        for (status, v) in condition_values(&c.status) {
            s.push(&[("condition", &c.type_), ("status", status)], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, entry_msg, meta, pb, quantity, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let spec = pb(|sp| {
            sp.string(1, "ReadWriteOnce");
            sp.string(1, "ReadOnlyMany");
            sp.message(2, &pb(|r| entry_msg(r, 2, "storage", &quantity("10Gi"))));
            sp.string(3, "pv-1");
            sp.string(5, "fast");
            sp.string(6, "Block");
        });
        let condition = pb(|c| {
            c.string(1, "Resizing");
            c.string(2, "True");
        });
        let status = pb(|st| {
            st.string(1, "Bound");
            st.message(4, &condition);
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                "resources": {{"requests": {{"storage": "10Gi"}}}}, "volumeName": "pv-1", "storageClassName": "fast",
                "volumeMode": "Block"}}, "status": {{"phase": "Bound", "conditions": [{{"type": "Resizing", "status": "True"}}]}}}}"#
        );
        let o: PersistentVolumeClaim = same(&encoded, &json);
        assert_eq!(o.spec.unwrap().access_modes.unwrap().len(), 2);
    }
}
