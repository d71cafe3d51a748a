//! `volumeattachments` (storage.k8s.io/v1 VolumeAttachment), cluster-scoped.
//!
//! Two upstream quirks kept on purpose: `kube_volumeattachment_labels` exports every label whatever
//! `--metric-labels-allowlist` says, and the attachment metadata becomes `metadata_*` labels.

use std::collections::BTreeMap;

use super::common::kube_map_labels;
use super::common::{bool_f64, created};
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, KeyAllow, Samples};
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `VolumeAttachment`: metadata, attacher, node, source volume and attachment status.
    pub struct VolumeAttachment {
        1 => metadata: ObjectMeta,
        2 => spec: VolumeAttachmentSpec,
        3 => status: Option<VolumeAttachmentStatus>,
    }
}
object!(VolumeAttachment);

message! {
    pub struct VolumeAttachmentSpec {
        1 => attacher: Str,
        2 => source: VolumeAttachmentSource,
        3 => node_name: Str,
    }
}

message! {
    pub struct VolumeAttachmentSource {
        1 => persistent_volume_name: Option<Str>,
    }
}

message! {
    pub struct VolumeAttachmentStatus {
        1 => attached: bool,
        2 => attachment_metadata: Option<BTreeMap<Str, Str>>,
    }
}

pub struct VolumeAttachments;

impl Resource for VolumeAttachments {
    type Obj = VolumeAttachment;
    type Api = k8s_openapi::api::storage::v1::VolumeAttachment;
    const NAME: &'static str = "volumeattachments";
    const IDENTITY: Identity<VolumeAttachment> = Identity::cluster("volumeattachment");

    fn families() -> &'static [Family<VolumeAttachment>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<VolumeAttachment>] = &[
    Family::gauge("kube_volumeattachment_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    Family::gauge("kube_volumeattachment_info", "Information about volumeattachment.", Alpha, info),
    Family::gauge("kube_volumeattachment_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_volumeattachment_spec_source_persistentvolume", "PersistentVolume source reference.", Alpha, source_pv),
    Family::gauge("kube_volumeattachment_status_attached", "Information about volumeattachment.", Alpha, attached),
    Family::gauge("kube_volumeattachment_status_attachment_metadata", "volumeattachment metadata.", Alpha, metadata),
];

/// Every label, whatever the allowlist says.
fn labels(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    s.push_owned(&kube_map_labels("label", va.metadata.labels.as_ref(), &KeyAllow::All), 1.0);
}

fn info(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("attacher", &va.spec.attacher), ("node", &va.spec.node_name)], 1.0);
}

fn source_pv(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(pv) = &va.spec.source.persistent_volume_name {
        s.push(&[("volumename", pv)], 1.0);
    }
}

/// A missing status reads as Go's zero value: not attached.
fn attached(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], bool_f64(va.status.as_ref().is_some_and(|st| st.attached)));
}

fn metadata(va: &VolumeAttachment, _: &Ctx, s: &mut Samples<'_>) {
    let map = va.status.as_ref().and_then(|st| st.attachment_metadata.as_ref());
    s.push_owned(&kube_map_labels("metadata", map, &KeyAllow::All), 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, entry, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let spec = pb(|sp| {
            sp.string(1, "csi.example.com");
            sp.message(2, &pb(|src| src.string(1, "pv-1")));
            sp.string(3, "node-1");
        });
        let status = pb(|st| {
            st.varint(1, 1);
            entry(st, 2, "devicePath", "/dev/xvdb");
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"attacher": "csi.example.com", "source": {{"persistentVolumeName": "pv-1"}},
                "nodeName": "node-1"}}, "status": {{"attached": true, "attachmentMetadata": {{"devicePath": "/dev/xvdb"}}}}}}"#
        );
        let o: VolumeAttachment = same(&encoded, &json);
        assert!(o.status.unwrap().attached);
        assert_eq!(o.spec.source.persistent_volume_name.as_deref(), Some("pv-1"));
    }
}
