//! One file per Kubernetes resource, each a table of families checked against
//! spec/families.tsv. `util` holds what several resources share.

pub mod certificatesigningrequest;
pub mod clusterrole;
pub mod clusterrolebinding;
pub mod configmap;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoint;
pub mod endpointslice;
pub mod horizontalpodautoscaler;
pub mod ingress;
pub mod ingressclass;
pub mod job;
pub mod lease;
pub mod limitrange;
pub mod mutatingadmissionpolicy;
pub mod mutatingadmissionpolicybinding;
pub mod mutatingwebhookconfiguration;
pub mod namespace;
pub mod networkpolicy;
pub mod node;
pub mod persistentvolume;
pub mod persistentvolumeclaim;
pub mod pod;
pub mod poddisruptionbudget;
pub mod replicaset;
pub mod replicationcontroller;
pub mod resourcequota;
pub mod role;
pub mod rolebinding;
pub mod secret;
pub mod service;
pub mod serviceaccount;
pub mod statefulset;
pub mod storageclass;
pub mod util;
pub mod validatingadmissionpolicy;
pub mod validatingadmissionpolicybinding;
pub mod validatingwebhookconfiguration;
pub mod volumeattachment;

use crate::family::{Ctx, Family};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A Kubernetes resource kube-state-metrics knows: its store name, identity labels and families.
pub trait Resource: 'static {
    type Obj: kube::Resource<DynamicType = ()>
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + 'static;
    /// The name used by `--resources` and `?resources=` (plural, lowercase).
    const NAME: &'static str;
    /// The labels every sample of this resource starts with, e.g. `namespace`, `pod`, `uid`.
    fn identity(obj: &Self::Obj) -> Vec<(&'static str, String)>;
    /// The families in exposition order (the order of ksm-metrics.tsv).
    fn families() -> &'static [Family<Self::Obj>];
}

/// Renders one object as a whole scrape would show it if it were the only object: HELP/TYPE for every
/// non-opt-in family followed by its samples. Used by golden tests.
pub fn render_text<R: Resource>(obj: &R::Obj, ctx: &Ctx) -> String {
    let families = R::families();
    let enabled: Vec<usize> = (0..families.len()).filter(|&i| !families[i].opt_in).collect();
    render_text_with::<R>(obj, ctx, &enabled)
}

/// Like [`render_text`] with an explicit list of enabled family indexes.
pub fn render_text_with<R: Resource>(obj: &R::Obj, ctx: &Ctx, enabled: &[usize]) -> String {
    let families = R::families();
    let ident = R::identity(obj);
    let rendered = crate::family::render(obj, &ident, families, enabled, ctx);
    let mut out = Vec::new();
    for (pos, &i) in enabled.iter().enumerate() {
        families[i].write_header(&mut out, false);
        out.extend_from_slice(rendered.family(pos));
    }
    String::from_utf8_lossy(&out).into_owned()
}
