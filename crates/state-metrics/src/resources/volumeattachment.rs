//! `volumeattachments` (storage.k8s.io/v1 VolumeAttachment), cluster-scoped.
//!
//! Two upstream quirks kept on purpose: `kube_volumeattachment_labels` exports every label whatever
//! `--metric-labels-allowlist` says, and the attachment metadata becomes `metadata_*` labels.

use k8s_openapi::api::storage::v1::VolumeAttachment;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, KeyAllow, Samples};

pub struct VolumeAttachments;

impl Resource for VolumeAttachments {
    type Obj = VolumeAttachment;
    const NAME: &'static str = "volumeattachments";

    fn identity(va: &VolumeAttachment) -> Vec<(&'static str, String)> {
        vec![("volumeattachment", va.metadata.name.clone().unwrap_or_default())]
    }

    fn families() -> &'static [Family<VolumeAttachment>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<VolumeAttachment>] = &[
    gauge("kube_volumeattachment_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    gauge("kube_volumeattachment_info", "Information about volumeattachment.", Alpha, info),
    gauge("kube_volumeattachment_created", "Unix creation timestamp", Alpha, created),
    gauge("kube_volumeattachment_spec_source_persistentvolume", "PersistentVolume source reference.", Alpha, source_pv),
    gauge("kube_volumeattachment_status_attached", "Information about volumeattachment.", Alpha, attached),
    gauge("kube_volumeattachment_status_attachment_metadata", "volumeattachment metadata.", Alpha, metadata),
];

fn labels(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    s.push_owned(&util::kube_map_labels("label", va.metadata.labels.as_ref(), &KeyAllow::All), 1.0);
}

fn info(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("attacher", &va.spec.attacher), ("node", &va.spec.node_name)], 1.0);
}

fn created(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&va.metadata, s);
}

fn source_pv(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(pv) = &va.spec.source.persistent_volume_name {
        s.push(&[("volumename", pv)], 1.0);
    }
}

fn attached(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    // A missing status reads as Go's zero value: not attached.
    s.push(&[], util::bool_f64(va.status.as_ref().is_some_and(|st| st.attached)));
}

fn metadata(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    let map = va.status.as_ref().and_then(|st| st.attachment_metadata.as_ref());
    s.push_owned(&util::kube_map_labels("metadata", map, &KeyAllow::All), 1.0);
}
