//! `persistentvolumes`: kube_persistentvolume_* families (cluster-scoped).

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeSpec};

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct PersistentVolumes;

impl Resource for PersistentVolumes {
    type Obj = PersistentVolume;
    const NAME: &'static str = "persistentvolumes";

    fn identity(o: &PersistentVolume) -> Vec<(&'static str, String)> {
        vec![("persistentvolume", o.metadata.name.clone().unwrap_or_default())]
    }

    fn families() -> &'static [Family<PersistentVolume>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<PersistentVolume>] = &[
    Family { name: "kube_persistentvolume_claim_ref", help: "Information about the Persistent Volume Claim Reference.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: claim_ref },
    Family { name: "kube_persistentvolume_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_persistentvolume_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_persistentvolume_status_phase", help: "The phase indicates if a volume is available, bound to a claim, or released by a claim.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_phase },
    Family { name: "kube_persistentvolume_info", help: "Information about persistentvolume.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: info },
    Family { name: "kube_persistentvolume_capacity_bytes", help: "Persistentvolume capacity in bytes.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: capacity_bytes },
    Family { name: "kube_persistentvolume_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_persistentvolume_deletion_timestamp", help: "Unix deletion timestamp", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: deletion_timestamp },
    Family { name: "kube_persistentvolume_csi_attributes", help: "CSI attributes of the Persistent Volume.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: true, generate: csi_attributes },
    Family { name: "kube_persistentvolume_volume_mode", help: "Volume Mode information for the PersistentVolume.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: volume_mode },
    Family { name: "kube_persistentvolume_access_mode", help: "The access mode(s) specified by the persistent volume.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: access_mode },
];

fn claim_ref(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let Some(r) = o.spec.as_ref().and_then(|sp| sp.claim_ref.as_ref()) else {
        return;
    };
    s.push(
        &[
            ("name", r.name.as_deref().unwrap_or_default()),
            ("claim_namespace", r.namespace.as_deref().unwrap_or_default()),
        ],
        1.0,
    );
}

fn annotations(o: &PersistentVolume, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&o.metadata, &ctx.annotations, s)
}

fn labels(o: &PersistentVolume, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&o.metadata, &ctx.labels, s)
}

fn status_phase(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let phase = o.status.as_ref().and_then(|st| st.phase.as_deref()).unwrap_or_default();
    if phase.is_empty() {
        return;
    }
    for p in ["Pending", "Available", "Bound", "Released", "Failed"] {
        s.push(&[("phase", p)], util::bool_f64(phase == p));
    }
}

/// The volume-source labels of `kube_persistentvolume_info`, in emitted order.
#[derive(Default)]
struct SourceLabels {
    gce_persistent_disk_name: String,
    ebs_volume_id: String,
    azure_disk_name: String,
    fc_wwids: String,
    fc_lun: String,
    fc_target_wwns: String,
    iscsi_target_portal: String,
    iscsi_iqn: String,
    iscsi_lun: String,
    iscsi_initiator_name: String,
    nfs_server: String,
    nfs_path: String,
    csi_driver: String,
    csi_volume_handle: String,
    local_path: String,
    local_fs: String,
    host_path: String,
    host_path_type: String,
}

/// Only the first populated source in upstream's check order fills its labels; a (invalid) spec with two
/// sources therefore reports just one, as upstream does.
fn source_labels(spec: &PersistentVolumeSpec) -> SourceLabels {
    let mut l = SourceLabels::default();
    if let Some(gce) = &spec.gce_persistent_disk {
        l.gce_persistent_disk_name = gce.pd_name.clone();
    } else if let Some(ebs) = &spec.aws_elastic_block_store {
        l.ebs_volume_id = ebs.volume_id.clone();
    } else if let Some(az) = &spec.azure_disk {
        l.azure_disk_name = az.disk_name.clone();
    } else if let Some(fc) = &spec.fc {
        l.fc_lun = fc.lun.map(|n| n.to_string()).unwrap_or_default();
        l.fc_target_wwns = fc.target_wwns.as_deref().unwrap_or_default().join(",");
        l.fc_wwids = fc.wwids.as_deref().unwrap_or_default().join(",");
    } else if let Some(iscsi) = &spec.iscsi {
        l.iscsi_target_portal = iscsi.target_portal.clone();
        l.iscsi_iqn = iscsi.iqn.clone();
        l.iscsi_lun = iscsi.lun.to_string();
        l.iscsi_initiator_name = iscsi.initiator_name.clone().unwrap_or_default();
    } else if let Some(nfs) = &spec.nfs {
        l.nfs_server = nfs.server.clone();
        l.nfs_path = nfs.path.clone();
    } else if let Some(csi) = &spec.csi {
        l.csi_driver = csi.driver.clone();
        l.csi_volume_handle = csi.volume_handle.clone();
    } else if let Some(local) = &spec.local {
        l.local_path = local.path.clone();
        l.local_fs = local.fs_type.clone().unwrap_or_default();
    } else if let Some(hp) = &spec.host_path {
        l.host_path = hp.path.clone();
        l.host_path_type = hp.type_.clone().unwrap_or_default();
    }
    l
}

fn info(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let default_spec = PersistentVolumeSpec::default();
    let spec = o.spec.as_ref().unwrap_or(&default_spec);
    let l = source_labels(spec);
    s.push(
        &[
            ("storageclass", spec.storage_class_name.as_deref().unwrap_or_default()),
            ("gce_persistent_disk_name", &l.gce_persistent_disk_name),
            ("ebs_volume_id", &l.ebs_volume_id),
            ("azure_disk_name", &l.azure_disk_name),
            ("fc_wwids", &l.fc_wwids),
            ("fc_lun", &l.fc_lun),
            ("fc_target_wwns", &l.fc_target_wwns),
            ("iscsi_target_portal", &l.iscsi_target_portal),
            ("iscsi_iqn", &l.iscsi_iqn),
            ("iscsi_lun", &l.iscsi_lun),
            ("iscsi_initiator_name", &l.iscsi_initiator_name),
            ("nfs_server", &l.nfs_server),
            ("nfs_path", &l.nfs_path),
            ("csi_driver", &l.csi_driver),
            ("csi_volume_handle", &l.csi_volume_handle),
            ("local_path", &l.local_path),
            ("local_fs", &l.local_fs),
            ("host_path", &l.host_path),
            ("host_path_type", &l.host_path_type),
            ("reclaim_policy", spec.persistent_volume_reclaim_policy.as_deref().unwrap_or_default()),
        ],
        1.0,
    );
}

/// Always one sample: a missing (or unparsable) storage capacity reads as 0, like Go's zero Quantity.
fn capacity_bytes(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let storage = o.spec.as_ref().and_then(|sp| sp.capacity.as_ref()).and_then(|c| c.get("storage"));
    s.push(&[], storage.and_then(util::quantity_count).unwrap_or(0.0));
}

fn created(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}

fn deletion_timestamp(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&o.metadata, s)
}

/// `mounter` and `mapOptions` are attributes of the Ceph CSI driver; other drivers get empty values.
fn csi_attributes(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let Some(csi) = o.spec.as_ref().and_then(|sp| sp.csi.as_ref()) else {
        return;
    };
    let attr = |k: &str| csi.volume_attributes.as_ref().and_then(|a| a.get(k)).map(String::as_str).unwrap_or_default();
    s.push(&[("csi_mounter", attr("mounter")), ("csi_map_options", attr("mapOptions"))], 1.0);
}

/// A nil volumeMode means the API default, Filesystem.
fn volume_mode(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let mode = o.spec.as_ref().and_then(|sp| sp.volume_mode.as_deref()).unwrap_or("Filesystem");
    s.push(&[("volumemode", mode)], 1.0);
}

fn access_mode(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let modes = o.spec.as_ref().and_then(|sp| sp.access_modes.as_deref()).unwrap_or_default();
    for m in modes {
        s.push(&[("access_mode", m)], 1.0);
    }
}
