//! The synthetic cluster: deterministic, realistic, and kept moving by churn.

use std::collections::BTreeSet;
use std::time::Duration;

use kube_sim::{SimConfig, SyntheticConfig};

fn cfg(seed: u64, churn: f64) -> SimConfig {
    SimConfig {
        tls: false,
        seed,
        churn_per_sec: churn,
        synthetic: Some(SyntheticConfig { nodes: 30, pods_per_node: 10, namespaces: 4, ..Default::default() }),
        ..Default::default()
    }
}

fn ids(sim: &kube_sim::SimHandle, av: &str, kind: &str) -> BTreeSet<(String, String)> {
    sim.store()
        .list(av, kind, None)
        .iter()
        .map(|o| {
            (o["metadata"]["name"].as_str().unwrap().to_string(), o["metadata"]["uid"].as_str().unwrap().to_string())
        })
        .collect()
}

#[tokio::test]
async fn same_seed_same_cluster() {
    let a = kube_sim::start(cfg(7, 0.0)).await.unwrap();
    let b = kube_sim::start(cfg(7, 0.0)).await.unwrap();
    let c = kube_sim::start(cfg(8, 0.0)).await.unwrap();
    for (av, kind) in [("v1", "Pod"), ("v1", "Node"), ("apps/v1", "Deployment"), ("batch/v1", "Job")] {
        assert_eq!(ids(&a, av, kind), ids(&b, av, kind), "{kind}");
    }
    assert_ne!(ids(&a, "v1", "Pod"), ids(&c, "v1", "Pod"));
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn realistic_mix() {
    let sim = kube_sim::start(cfg(1, 0.0)).await.unwrap();
    let st = sim.store();
    let pods = st.list("v1", "Pod", None);
    assert_eq!(pods.len(), 300);
    let phases: BTreeSet<&str> = pods.iter().filter_map(|p| p["status"]["phase"].as_str()).collect();
    for ph in ["Running", "Pending", "Succeeded", "Failed"] {
        assert!(phases.contains(ph), "no {ph} pod: {phases:?}");
    }
    let waiting: BTreeSet<&str> = pods
        .iter()
        .flat_map(|p| p["status"]["containerStatuses"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["state"]["waiting"]["reason"].as_str().map(|s| s.to_string()))
        .map(|s| if s == "CrashLoopBackOff" { "CrashLoopBackOff" } else { "other" })
        .collect();
    assert!(waiting.contains("CrashLoopBackOff"));
    assert!(pods.iter().any(|p| p["status"]["containerStatuses"][0]["restartCount"].as_i64().unwrap_or(0) > 0));
    // Owner chain pod -> replicaset -> deployment resolves.
    let rs = st.list("apps/v1", "ReplicaSet", None);
    let deps = st.list("apps/v1", "Deployment", None);
    let owned = pods.iter().find(|p| p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet").unwrap();
    let owner = rs.iter().find(|r| r["metadata"]["uid"] == owned["metadata"]["ownerReferences"][0]["uid"]).unwrap();
    assert!(deps.iter().any(|d| d["metadata"]["uid"] == owner["metadata"]["ownerReferences"][0]["uid"]));
    let nodes = st.list("v1", "Node", None);
    let not_ready = nodes
        .iter()
        .filter(|n| {
            n["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Ready" && c["status"] != "True")
        })
        .count();
    assert!(not_ready > 0 && not_ready < nodes.len() / 2, "{not_ready}");
    assert!(nodes[0]["status"]["allocatable"]["cpu"].is_string());
    for (av, kind) in [
        ("v1", "Service"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("batch/v1", "CronJob"),
        ("v1", "PersistentVolumeClaim"),
        ("v1", "PersistentVolume"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ] {
        assert!(st.count(av, kind) > 0, "no {kind}");
    }
    let jobs = st.list("batch/v1", "Job", None);
    assert!(jobs.iter().any(|j| j["status"]["succeeded"] == 1) && jobs.iter().any(|j| j["status"]["failed"] == 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn churn_keeps_changing_the_cluster() {
    let sim = kube_sim::start(cfg(3, 200.0)).await.unwrap();
    let rv0 = sim.store().current_rv();
    let before = ids(&sim, "v1", "Pod");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let rv1 = sim.store().current_rv();
    assert!(rv1 > rv0 + 20, "only {} changes", rv1 - rv0);
    let after = ids(&sim, "v1", "Pod");
    assert_ne!(after, before, "some pods were recreated");
    // Their consistency under churn is checked object by object in demo_consistency.rs.
    sim.shutdown().await;
}

/// Every kind kube-state-metrics reads, as (apiVersion, kind).
const KSM_KINDS: &[(&str, &str)] = &[
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("v1", "ConfigMap"),
    ("batch/v1", "CronJob"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "Deployment"),
    ("v1", "Endpoints"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1", "Ingress"),
    ("batch/v1", "Job"),
    ("coordination.k8s.io/v1", "Lease"),
    ("v1", "LimitRange"),
    ("admissionregistration.k8s.io/v1", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "MutatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ("v1", "Namespace"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "Node"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "PersistentVolume"),
    ("policy/v1", "PodDisruptionBudget"),
    ("v1", "Pod"),
    ("apps/v1", "ReplicaSet"),
    ("v1", "ReplicationController"),
    ("v1", "ResourceQuota"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("v1", "Service"),
    ("apps/v1", "StatefulSet"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
];

#[tokio::test]
async fn every_kube_state_metrics_kind_is_generated_deterministically() {
    let a = kube_sim::start(cfg(5, 0.0)).await.unwrap();
    let b = kube_sim::start(cfg(5, 0.0)).await.unwrap();
    assert_eq!(KSM_KINDS.len(), 39);
    for (av, kind) in KSM_KINDS {
        assert!(a.store().count(av, kind) > 0, "no {kind}");
        // The simulator itself makes `default` and `kube-system` with fresh uids; only their names repeat.
        if *kind == "Namespace" {
            let names = |s: &kube_sim::SimHandle| ids(s, av, kind).into_iter().map(|x| x.0).collect::<Vec<_>>();
            assert_eq!(names(&a), names(&b));
        } else {
            assert_eq!(ids(&a, av, kind), ids(&b, av, kind), "{kind} differs for one seed");
        }
    }
    let st = a.store();
    // The kinds made before stay as they were: one service account and one storage class each.
    assert_eq!(st.count("v1", "ServiceAccount"), 4);
    assert_eq!(st.count("storage.k8s.io/v1", "StorageClass"), 1);
    assert_eq!(st.count("v1", "Pod"), 300);
    // Scaled with the cluster: a disruption budget per multi-replica deployment, endpoints per service.
    assert_eq!(st.count("v1", "Endpoints"), st.count("v1", "Service"));
    let multi =
        st.list("apps/v1", "Deployment", None).iter().filter(|d| d["spec"]["replicas"].as_i64() >= Some(2)).count();
    assert_eq!(st.count("policy/v1", "PodDisruptionBudget"), multi + 1);
    // Statuses and owners the exporters read are filled in.
    let sts = st.list("apps/v1", "StatefulSet", None);
    assert!(sts.iter().all(|s| s["status"]["currentRevision"].is_string() && s["status"]["readyReplicas"].is_number()));
    for (av, kind) in [("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"), ("policy/v1", "PodDisruptionBudget")] {
        assert!(
            st.list(av, kind, None).iter().any(|o| o["metadata"]["deletionTimestamp"].is_string()),
            "no terminating {kind}"
        );
    }
    let deps = st.list("apps/v1", "Deployment", None);
    for rc in st.list("v1", "ReplicationController", None) {
        let uid = &rc["metadata"]["ownerReferences"][0]["uid"];
        assert!(deps.iter().any(|d| &d["metadata"]["uid"] == uid), "replication controller owner resolves");
    }
    let ds = st.list("apps/v1", "DaemonSet", None);
    assert!(ds.iter().all(|d| d["status"]["desiredNumberScheduled"] == 30));
    let csrs = st.list("certificates.k8s.io/v1", "CertificateSigningRequest", None);
    assert!(csrs.iter().any(|c| c["status"]["certificate"].is_string()));
    assert!(csrs.iter().any(|c| c["status"]["conditions"][0]["type"] == "Denied"));
    let eps = st.list("v1", "Endpoints", None);
    assert!(eps.iter().any(|e| e["subsets"][0]["addresses"][0]["ip"].is_string()));
    for s in [a, b] {
        s.shutdown().await;
    }
}
