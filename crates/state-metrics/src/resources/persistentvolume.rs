//! `persistentvolumes`: kube_persistentvolume_* families (cluster-scoped).

use std::collections::BTreeMap;

use super::common::{annotations, bool_f64, created, deletion_timestamp, labels, quantity_count};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::core::ObjectReference;
use crate::proj::{ObjectMeta, Quantity, Str};
use crate::{message, object};

message! {
    /// `PersistentVolume`: metadata, the spec's capacity, source, claim and modes, the status phase.
    pub struct PersistentVolume {
        1 => metadata: ObjectMeta,
        2 => spec: Option<PersistentVolumeSpec>,
        3 => status: Option<PersistentVolumeStatus>,
    }
}
object!(PersistentVolume);

message! {
    pub struct PersistentVolumeSpec {
        1 => capacity: Option<BTreeMap<Str, Quantity>>,
        // Inline in JSON (the source's fields sit in the spec), an embedded message in protobuf.
        #[serde(flatten)]
        2 => persistent_volume_source: PersistentVolumeSource,
        3 => access_modes: Option<Vec<Str>>,
        4 => claim_ref: Option<ObjectReference>,
        omitempty 5 => persistent_volume_reclaim_policy: Option<Str>,
        omitempty 6 => storage_class_name: Option<Str>,
        8 => volume_mode: Option<Str>,
    }
}

message! {
    /// The volume sources `kube_persistentvolume_info` names.
    pub struct PersistentVolumeSource {
        1 => gce_persistent_disk: Option<GCEPersistentDiskVolumeSource>,
        2 => aws_elastic_block_store: Option<AWSElasticBlockStoreVolumeSource>,
        3 => host_path: Option<HostPathVolumeSource>,
        5 => nfs: Option<NFSVolumeSource>,
        7 => iscsi: Option<ISCSIPersistentVolumeSource>,
        10 => fc: Option<FCVolumeSource>,
        16 => azure_disk: Option<AzureDiskVolumeSource>,
        20 => local: Option<LocalVolumeSource>,
        22 => csi: Option<CSIPersistentVolumeSource>,
    }
}

message! {
    pub struct GCEPersistentDiskVolumeSource {
        1 => pd_name: Str,
    }
}

message! {
    pub struct AWSElasticBlockStoreVolumeSource {
        #[serde(rename = "volumeID")]
        1 => volume_id: Str,
    }
}

message! {
    pub struct HostPathVolumeSource {
        1 => path: Str,
        #[serde(rename = "type")]
        2 => type_: Option<Str>,
    }
}

message! {
    pub struct NFSVolumeSource {
        1 => server: Str,
        2 => path: Str,
    }
}

message! {
    pub struct ISCSIPersistentVolumeSource {
        1 => target_portal: Str,
        2 => iqn: Str,
        3 => lun: i32,
        12 => initiator_name: Option<Str>,
    }
}

message! {
    pub struct FCVolumeSource {
        #[serde(rename = "targetWWNs")]
        1 => target_wwns: Option<Vec<Str>>,
        2 => lun: Option<i32>,
        5 => wwids: Option<Vec<Str>>,
    }
}

message! {
    pub struct AzureDiskVolumeSource {
        1 => disk_name: Str,
    }
}

message! {
    pub struct LocalVolumeSource {
        1 => path: Str,
        2 => fs_type: Option<Str>,
    }
}

message! {
    pub struct CSIPersistentVolumeSource {
        1 => driver: Str,
        2 => volume_handle: Str,
        5 => volume_attributes: Option<BTreeMap<Str, Str>>,
    }
}

message! {
    pub struct PersistentVolumeStatus {
        omitempty 1 => phase: Option<Str>,
    }
}

pub struct PersistentVolumes;

impl Resource for PersistentVolumes {
    type Obj = PersistentVolume;
    type Api = k8s_openapi::api::core::v1::PersistentVolume;
    const NAME: &'static str = "persistentvolumes";
    const IDENTITY: Identity<PersistentVolume> = Identity::cluster("persistentvolume");

    fn families() -> &'static [Family<PersistentVolume>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<PersistentVolume>] = &[
    Family::gauge("kube_persistentvolume_claim_ref", "Information about the Persistent Volume Claim Reference.", Stable, claim_ref),
    Family::gauge("kube_persistentvolume_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_persistentvolume_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_persistentvolume_status_phase", "The phase indicates if a volume is available, bound to a claim, or released by a claim.", Stable, status_phase),
    Family::gauge("kube_persistentvolume_info", "Information about persistentvolume.", Stable, info),
    Family::gauge("kube_persistentvolume_capacity_bytes", "Persistentvolume capacity in bytes.", Stable, capacity_bytes),
    Family::gauge("kube_persistentvolume_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_persistentvolume_deletion_timestamp", "Unix deletion timestamp", Alpha, deletion_timestamp),
    Family::gauge("kube_persistentvolume_csi_attributes", "CSI attributes of the Persistent Volume.", Alpha, csi_attributes).opt_in(),
    Family::gauge("kube_persistentvolume_volume_mode", "Volume Mode information for the PersistentVolume.", Alpha, volume_mode),
    Family::gauge("kube_persistentvolume_access_mode", "The access mode(s) specified by the persistent volume.", Alpha, access_mode),
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

fn status_phase(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let phase = o.status.as_ref().and_then(|st| st.phase.as_deref()).unwrap_or_default();
    if phase.is_empty() {
        return;
    }
    for p in ["Pending", "Available", "Bound", "Released", "Failed"] {
        s.push(&[("phase", p)], bool_f64(phase == p));
    }
}

/// The volume-source labels of `kube_persistentvolume_info`, in emitted order.
#[derive(Default)]
struct SourceLabels {
    gce_persistent_disk_name: Str,
    ebs_volume_id: Str,
    azure_disk_name: Str,
    fc_wwids: Str,
    fc_lun: Str,
    fc_target_wwns: Str,
    iscsi_target_portal: Str,
    iscsi_iqn: Str,
    iscsi_lun: Str,
    iscsi_initiator_name: Str,
    nfs_server: Str,
    nfs_path: Str,
    csi_driver: Str,
    csi_volume_handle: Str,
    local_path: Str,
    local_fs: Str,
    host_path: Str,
    host_path_type: Str,
}

/// Only the first populated source in upstream's check order fills its labels; a (invalid) spec with two
/// sources therefore reports just one, as upstream does.
fn source_labels(src: &PersistentVolumeSource) -> SourceLabels {
    let mut l = SourceLabels::default();
    if let Some(gce) = &src.gce_persistent_disk {
        l.gce_persistent_disk_name = gce.pd_name.clone();
    } else if let Some(ebs) = &src.aws_elastic_block_store {
        l.ebs_volume_id = ebs.volume_id.clone();
    } else if let Some(az) = &src.azure_disk {
        l.azure_disk_name = az.disk_name.clone();
    } else if let Some(fc) = &src.fc {
        l.fc_lun = fc.lun.map(|n| n.to_string().into()).unwrap_or_default();
        l.fc_target_wwns = fc.target_wwns.as_deref().unwrap_or_default().join(",").into();
        l.fc_wwids = fc.wwids.as_deref().unwrap_or_default().join(",").into();
    } else if let Some(iscsi) = &src.iscsi {
        l.iscsi_target_portal = iscsi.target_portal.clone();
        l.iscsi_iqn = iscsi.iqn.clone();
        l.iscsi_lun = iscsi.lun.to_string().into();
        l.iscsi_initiator_name = iscsi.initiator_name.clone().unwrap_or_default();
    } else if let Some(nfs) = &src.nfs {
        l.nfs_server = nfs.server.clone();
        l.nfs_path = nfs.path.clone();
    } else if let Some(csi) = &src.csi {
        l.csi_driver = csi.driver.clone();
        l.csi_volume_handle = csi.volume_handle.clone();
    } else if let Some(local) = &src.local {
        l.local_path = local.path.clone();
        l.local_fs = local.fs_type.clone().unwrap_or_default();
    } else if let Some(hp) = &src.host_path {
        l.host_path = hp.path.clone();
        l.host_path_type = hp.type_.clone().unwrap_or_default();
    }
    l
}

fn info(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let default_spec = PersistentVolumeSpec::default();
    let spec = o.spec.as_ref().unwrap_or(&default_spec);
    let l = source_labels(&spec.persistent_volume_source);
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
    s.push(&[], storage.and_then(quantity_count).unwrap_or(0.0));
}

/// `mounter` and `mapOptions` are attributes of the Ceph CSI driver; other drivers get empty values.
fn csi_attributes(o: &PersistentVolume, _: &Ctx, s: &mut Samples<'_>) {
    let Some(csi) = o.spec.as_ref().and_then(|sp| sp.persistent_volume_source.csi.as_ref()) else {
        return;
    };
    let attr = |k: &str| csi.volume_attributes.as_ref().and_then(|a| a.get(k)).map(Str::as_str).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, entry, entry_msg, meta, pb, quantity, same};

    fn spec_with(source_field: u32, source: &[u8]) -> Vec<u8> {
        pb(|sp| {
            entry_msg(sp, 1, "storage", &quantity("5Gi"));
            sp.message(2, &pb(|src| src.message(source_field, source)));
            sp.string(3, "ReadWriteOnce");
            sp.message(
                4,
                &pb(|r| {
                    r.string(1, "PersistentVolumeClaim");
                    r.string(2, "apps");
                    r.string(3, "data");
                }),
            );
            sp.string(5, "Retain");
            sp.string(6, "slow");
            sp.string(8, "Filesystem");
        })
    }

    const SPEC_JSON: &str = r#""capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
        "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "apps", "name": "data"},
        "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "slow", "volumeMode": "Filesystem""#;

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let csi = pb(|c| {
            c.string(1, "rbd.csi.ceph.com");
            c.string(2, "vol-1");
            entry(c, 5, "mounter", "rbd");
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec_with(22, &csi));
            w.message(3, &pb(|st| st.string(1, "Bound")));
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{{SPEC_JSON}, "csi": {{"driver": "rbd.csi.ceph.com",
                "volumeHandle": "vol-1", "volumeAttributes": {{"mounter": "rbd"}}}}}}, "status": {{"phase": "Bound"}}}}"#
        );
        let o: PersistentVolume = same(&encoded, &json);
        let spec = o.spec.unwrap();
        assert_eq!(spec.persistent_volume_source.csi.unwrap().volume_handle, "vol-1");
        assert_eq!(spec.claim_ref.unwrap().namespace.as_deref(), Some("apps"));
    }

    /// Every source the info family reads, each in its own spec.
    #[test]
    fn every_source_decodes_alike() {
        let cases: [(u32, Vec<u8>, &str); 8] = [
            (1, pb(|s| s.string(1, "pd")), r#""gcePersistentDisk": {"pdName": "pd"}"#),
            (2, pb(|s| s.string(1, "vol-a")), r#""awsElasticBlockStore": {"volumeID": "vol-a"}"#),
            (
                3,
                pb(|s| {
                    s.string(1, "/data");
                    s.string(2, "Directory");
                }),
                r#""hostPath": {"path": "/data", "type": "Directory"}"#,
            ),
            (
                5,
                pb(|s| {
                    s.string(1, "nfs.local");
                    s.string(2, "/export");
                }),
                r#""nfs": {"server": "nfs.local", "path": "/export"}"#,
            ),
            (
                7,
                pb(|s| {
                    s.string(1, "10.0.0.9:3260");
                    s.string(2, "iqn.x");
                    s.varint(3, 2);
                    s.string(12, "iqn.init");
                }),
                r#""iscsi": {"targetPortal": "10.0.0.9:3260", "iqn": "iqn.x", "lun": 2, "initiatorName": "iqn.init"}"#,
            ),
            (
                10,
                pb(|s| {
                    s.string(1, "wwn1");
                    s.varint(2, 4);
                    s.string(5, "id1");
                }),
                r#""fc": {"targetWWNs": ["wwn1"], "lun": 4, "wwids": ["id1"]}"#,
            ),
            (16, pb(|s| s.string(1, "disk")), r#""azureDisk": {"diskName": "disk", "diskURI": "u"}"#),
            (
                20,
                pb(|s| {
                    s.string(1, "/mnt");
                    s.string(2, "ext4");
                }),
                r#""local": {"path": "/mnt", "fsType": "ext4"}"#,
            ),
        ];
        for (field, source, source_json) in cases {
            let encoded = pb(|w| w.message(2, &spec_with(field, &source)));
            let json = format!(r#"{{"spec": {{{SPEC_JSON}, {source_json}}}}}"#);
            let o: PersistentVolume = same(&encoded, &json);
            assert_ne!(o.spec.unwrap().persistent_volume_source, PersistentVolumeSource::default(), "{source_json}");
        }
    }
}
