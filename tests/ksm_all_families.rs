//! Every family of spec/families.tsv, end to end: kube-sim holds one of every golden fixture
//! object of every resource, the real binary runs with every resource, every opt-in family and every
//! label/annotation allowlisted, and the scrape must carry HELP/TYPE for all 336 families and samples for each
//! family that some golden fixture of its resource produces.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{Cluster, spec_families};

/// Store name → (apiVersion, kind) as kube-state-metrics lists them.
const KINDS: &[(&str, &str, &str)] = &[
    ("certificatesigningrequests", "certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("clusterrolebindings", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("clusterroles", "rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("configmaps", "v1", "ConfigMap"),
    ("cronjobs", "batch/v1", "CronJob"),
    ("daemonsets", "apps/v1", "DaemonSet"),
    ("deployments", "apps/v1", "Deployment"),
    ("endpoints", "v1", "Endpoints"),
    ("endpointslices", "discovery.k8s.io/v1", "EndpointSlice"),
    ("horizontalpodautoscalers", "autoscaling/v2", "HorizontalPodAutoscaler"),
    ("ingressclasses", "networking.k8s.io/v1", "IngressClass"),
    ("ingresses", "networking.k8s.io/v1", "Ingress"),
    ("jobs", "batch/v1", "Job"),
    ("leases", "coordination.k8s.io/v1", "Lease"),
    ("limitranges", "v1", "LimitRange"),
    ("mutatingadmissionpolicies", "admissionregistration.k8s.io/v1", "MutatingAdmissionPolicy"),
    ("mutatingadmissionpolicybindings", "admissionregistration.k8s.io/v1", "MutatingAdmissionPolicyBinding"),
    ("mutatingwebhookconfigurations", "admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ("namespaces", "v1", "Namespace"),
    ("networkpolicies", "networking.k8s.io/v1", "NetworkPolicy"),
    ("nodes", "v1", "Node"),
    ("persistentvolumeclaims", "v1", "PersistentVolumeClaim"),
    ("persistentvolumes", "v1", "PersistentVolume"),
    ("poddisruptionbudgets", "policy/v1", "PodDisruptionBudget"),
    ("pods", "v1", "Pod"),
    ("replicasets", "apps/v1", "ReplicaSet"),
    ("replicationcontrollers", "v1", "ReplicationController"),
    ("resourcequotas", "v1", "ResourceQuota"),
    ("rolebindings", "rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("roles", "rbac.authorization.k8s.io/v1", "Role"),
    ("secrets", "v1", "Secret"),
    ("serviceaccounts", "v1", "ServiceAccount"),
    ("services", "v1", "Service"),
    ("statefulsets", "apps/v1", "StatefulSet"),
    ("storageclasses", "storage.k8s.io/v1", "StorageClass"),
    ("validatingadmissionpolicies", "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ("validatingadmissionpolicybindings", "admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
    ("validatingwebhookconfigurations", "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ("volumeattachments", "storage.k8s.io/v1", "VolumeAttachment"),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == ext)).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spec_family_is_served() {
    let fixtures = repo().join("crates/state-metrics/tests/fixtures");
    let kinds: BTreeMap<&str, (&str, &str)> = KINDS.iter().map(|(r, a, k)| (*r, (*a, *k))).collect();
    let spec = spec_families();
    let resources: BTreeSet<&str> = spec.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(resources.len(), KINDS.len(), "every spec resource has a kind here");

    // One object per golden fixture, renamed so that cases of one resource do not collide, plus the
    // families the golden outputs show samples for.
    let mut objects = Vec::new();
    let mut expect_samples: BTreeSet<String> = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    for res in &resources {
        let (api_version, kind) = kinds[res];
        for case in files_with(&fixtures.join(res), "yaml") {
            let mut obj: Value = serde_saphyr::from_str(&std::fs::read_to_string(&case).unwrap()).unwrap();
            let stem = case.file_stem().unwrap().to_string_lossy().replace('_', "-").to_lowercase();
            obj["apiVersion"] = api_version.into();
            obj["kind"] = kind.into();
            let meta = obj.get_mut("metadata").and_then(Value::as_object_mut).expect("fixture has metadata");
            let name = meta.get("name").and_then(Value::as_str).unwrap_or("obj").to_owned();
            meta.insert("name".into(), format!("{name}-{stem}").into());
            // The simulator assigns these, so that two fixtures sharing a uid stay two objects.
            meta.remove("uid");
            meta.remove("resourceVersion");
            // A terminating object without finalizers is gone at its next write (the simulated kubelets
            // write node status), as in a real cluster; hold it like a real terminating object is held.
            if meta.contains_key("deletionTimestamp") && !meta.contains_key("finalizers") {
                meta.insert("finalizers".into(), serde_json::json!(["kubestate.test/hold"]));
            }
            if let Some(ns) = meta.get("namespace").and_then(Value::as_str) {
                namespaces.insert(ns.to_owned());
            }
            objects.push(obj);
        }
        for golden in files_with(&fixtures.join(res), "prom") {
            for line in std::fs::read_to_string(&golden).unwrap().lines().filter(|l| !l.starts_with('#')) {
                if let Some(name) = line.split(['{', ' ']).next() {
                    expect_samples.insert(name.to_owned());
                }
            }
        }
    }
    let cluster = Cluster::start(&[]).await;
    for ns in &namespaces {
        // The simulator starts with the usual namespaces; the others the fixtures live in are made here.
        let _ = cluster
            .sim
            .store()
            .create(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    for o in objects {
        cluster.create(o);
    }
    let all: Vec<&str> = resources.iter().copied().collect();
    let (ksm, body) = support::spawn_with_everything(&cluster.kubeconfig, &all).await;
    let samples = exposition::parse_text(&body).unwrap_or_else(|e| panic!("scrape does not parse: {e}"));
    let with_samples: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    let headers: BTreeSet<&str> =
        body.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();

    let mut missing_header = Vec::new();
    let mut missing_samples = Vec::new();
    for (res, fam) in &spec {
        if !headers.contains(fam.as_str()) {
            missing_header.push(format!("{res}/{fam}"));
        } else if expect_samples.contains(fam) && !with_samples.contains(fam.as_str()) {
            missing_samples.push(format!("{res}/{fam}"));
        }
    }
    assert_eq!(spec.len(), 336, "the spec lists 336 families");
    assert!(
        missing_header.is_empty() && missing_samples.is_empty(),
        "families without HELP/TYPE: {missing_header:?}\nfamilies without the samples their fixtures produce: {missing_samples:?}\nlog:\n{}",
        ksm.log()
    );
    // Nearly every family has a fixture that produces it; the rest must at least be few.
    assert!(expect_samples.len() > 300, "only {} families have golden samples", expect_samples.len());
}
