//! One file per Kubernetes resource: its projection (the fields its families read, decodable from JSON
//! and protobuf) and its table of families, one row per row of the spec table (spec/families.tsv).
//! `common` holds what every resource shares (metadata families, times, quantities, conditions);
//! `naming` the Kubernetes naming rules pod and node share.
//!
//! Adding a resource takes, in code, its file (projection, [`Resource`] impl, family table), its
//! `pub mod` line below and one line in [`crate::registry::RESOURCES`], which says whether it is in the
//! default set; `--resources`, its default and the allowlist flags follow from that list. Around the
//! code: its rows in spec/families.tsv (first), its golden cases in tests/fixtures/<name>/ with one line
//! in the golden test's list, its kind in the end-to-end test's table (tests/ksm_all_families.rs) and
//! in kube-sim's, and list/watch in the ClusterRole of deploy/. Tests fail, naming what is missing,
//! until all of it agrees.

pub mod certificatesigningrequest;
pub mod clusterrole;
pub mod clusterrolebinding;
pub mod common;
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
pub mod naming;
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
pub mod validatingadmissionpolicy;
pub mod validatingadmissionpolicybinding;
pub mod validatingwebhookconfiguration;
pub mod volumeattachment;

use crate::family::Family;
use crate::proj::{Object, Str};

/// A Kubernetes resource kube-state-metrics knows: its store name, projection, identity labels and
/// families.
pub trait Resource: 'static {
    /// What the families read of an object.
    type Obj: Object;
    /// The Kubernetes type, for its API path, group, version and kind (never decoded).
    type Api: kube::Resource<DynamicType = ()>;
    /// The name used by `--resources` and `?resources=` (plural, lowercase).
    const NAME: &'static str;
    /// The labels every sample of this resource starts with.
    const IDENTITY: Identity<Self::Obj>;
    /// The families in exposition order (the order of the spec table).
    fn families() -> &'static [Family<Self::Obj>];
    /// Older group/versions of the same kind, newest first, read where the server does not serve
    /// [`Self::Api`]'s: only versions whose objects carry every field the families read under the same
    /// JSON names and protobuf numbers (tests/ksm_versions.rs renders the same objects read at each alike).
    const OLDER_VERSIONS: &'static [&'static str] = &[];
    /// The families read nothing but `metadata`: lists and watches ask for the objects' metadata only
    /// (`PartialObjectMetadata`), so the rest of each object (a ConfigMap's data) never leaves the API
    /// server. A server that cannot answer so sends whole objects, which decode the same.
    const METADATA_ONLY: bool = false;
}

/// Further identity labels of an object (after namespace, name and uid).
pub type MoreLabels<T> = fn(&T) -> Vec<(&'static str, Str)>;

/// The identity labels of a resource's samples: the namespace (for namespaced resources), the object's
/// name under the resource's label, its uid where upstream adds it, and any further labels.
pub struct Identity<T> {
    namespaced: bool,
    name: &'static str,
    uid: bool,
    more: Option<MoreLabels<T>>,
}

impl<T: Object> Identity<T> {
    /// `namespace="…",<name>="…"`.
    pub const fn namespaced(name: &'static str) -> Self {
        Identity { namespaced: true, name, uid: false, more: None }
    }

    /// `<name>="…"`.
    pub const fn cluster(name: &'static str) -> Self {
        Identity { namespaced: false, name, uid: false, more: None }
    }

    /// … then `uid="…"`.
    pub const fn with_uid(self) -> Self {
        Identity { uid: true, ..self }
    }

    /// … then the labels `more` gives.
    pub const fn with(self, more: MoreLabels<T>) -> Self {
        Identity { more: Some(more), ..self }
    }

    pub fn labels(&self, o: &T) -> Vec<(&'static str, Str)> {
        let m = o.meta();
        let mut out = Vec::with_capacity(4);
        if self.namespaced {
            out.push(("namespace", m.namespace.clone().unwrap_or_default()));
        }
        out.push((self.name, m.name.clone().unwrap_or_default()));
        if self.uid {
            out.push(("uid", m.uid.clone().unwrap_or_default()));
        }
        if let Some(f) = self.more {
            out.extend(f(o));
        }
        out
    }
}
