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
    assert_eq!(after.len(), before.len(), "pods are replaced, not lost");
    assert_ne!(after, before, "some pods were recreated");
    sim.shutdown().await;
}
