//! metrics-server against kube-sim pretending to be kube-apiserver 1.28, 1.30, 1.33 and 1.36
//! (`SimConfig::kubernetes_minor`, `kubestate sim --kubernetes-version`): the real binary starts,
//! scrapes every node's kubelet and answers, through each version's aggregation, the requests
//! `kubectl top` makes (discovery, node and pod lists in protobuf and JSON, one namespace's pods);
//! where kubectl is installed (always under CI) `kubectl top nodes` and `kubectl top pods -A` run too.

mod ms_support;
mod support;
mod tools;

use std::time::{Duration, Instant};

use kube_sim::{SimConfig, SyntheticConfig};
use ms_support::{AggregatedMetricsServer, request};
use serde_json::Value;

const GROUP_VERSION: &str = "/apis/metrics.k8s.io/v1beta1";

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// GET from the simulator as its admin; returns (status, content type, body).
async fn get(sim: &kube_sim::SimHandle, path: &str, accept: &str) -> (u16, String, bytes::Bytes) {
    let auth = format!("Bearer {}", sim.token());
    let r = request(sim.addr().port(), path, None, &[("authorization", &auth), ("accept", accept)]).await;
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (r.status().as_u16(), ct, r.into_body())
}

async fn get_json(sim: &kube_sim::SimHandle, path: &str, what: &str) -> Value {
    let (status, _, body) = get(sim, path, "application/json").await;
    assert_eq!(status, 200, "{what} {path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn names(list: &Value) -> Vec<String> {
    let items = list["items"].as_array().expect("a list");
    items.iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

async fn metrics_server_works_against(minor: u32) {
    let what = format!("1.{minor}:");
    let dir = std::env::temp_dir().join(format!("ms-versions-{minor}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    let sim = kube_sim::start(SimConfig {
        kubernetes_minor: minor,
        synthetic: Some(SyntheticConfig {
            nodes: 2,
            pods_per_node: 3,
            namespaces: 2,
            not_ready_fraction: 0.0,
            ..SyntheticConfig::default()
        }),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(get_json(&sim, "/version", &what).await["minor"], minor.to_string());
    let mut ms = AggregatedMetricsServer::start(&sim, &dir).await;

    let nodes = support::node_names(&sim);
    let running: Vec<(String, String)> = sim
        .store()
        .list("v1", "Pod", None)
        .iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .map(|p| {
            let m = &p["metadata"];
            (m["namespace"].as_str().unwrap().to_string(), m["name"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(nodes.len() == 2 && !running.is_empty(), "{what} cluster: {nodes:?} {running:?}");

    // Node metrics need two scrapes (10 s apart).
    let start = Instant::now();
    let node_list = loop {
        let (status, _, body) = get(&sim, &format!("{GROUP_VERSION}/nodes"), "application/json").await;
        if status == 200 {
            let list: Value = serde_json::from_slice(&body).unwrap();
            if nodes.iter().all(|n| names(&list).contains(n)) {
                break list;
            }
        }
        ms.assert_running();
        assert!(start.elapsed() < Duration::from_secs(60), "{what} node metrics never served: {status}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for item in node_list["items"].as_array().unwrap() {
        assert!(item["usage"]["cpu"].is_string() && item["usage"]["memory"].is_string(), "{what} {item}");
    }

    // kubectl top: discovery of the group version, then the lists in protobuf.
    let discovery = get_json(&sim, GROUP_VERSION, &what).await;
    let resources: Vec<&str> =
        discovery["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(resources, ["nodes", "pods"], "{what} {discovery}");
    let protobuf = "application/vnd.kubernetes.protobuf, */*";
    for path in [format!("{GROUP_VERSION}/nodes"), format!("{GROUP_VERSION}/pods")] {
        let (status, ct, body) = get(&sim, &path, protobuf).await;
        assert_eq!((status, ct.as_str()), (200, "application/vnd.kubernetes.protobuf"), "{what} {path}");
        assert!(body.starts_with(b"k8s\0"), "{what} {path}: no protobuf envelope");
    }
    // Pod metrics appear one scrape after the node metrics at most.
    let start = Instant::now();
    loop {
        let pods = get_json(&sim, &format!("{GROUP_VERSION}/pods"), &what).await;
        let listed = pods["items"].as_array().unwrap();
        let got: Vec<(String, String)> = listed
            .iter()
            .map(|p| {
                let m = &p["metadata"];
                (m["namespace"].as_str().unwrap().to_string(), m["name"].as_str().unwrap().to_string())
            })
            .collect();
        if running.iter().all(|p| got.contains(p)) {
            assert!(listed.iter().all(|p| p["containers"][0]["usage"]["cpu"].is_string()), "{what} {pods}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{what} pods missing: {got:?} vs {running:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (ns, pod) = &running[0];
    let one_ns = get_json(&sim, &format!("{GROUP_VERSION}/namespaces/{ns}/pods"), &what).await;
    assert!(names(&one_ns).contains(pod), "{what} {one_ns}");
    let one = get_json(&sim, &format!("{GROUP_VERSION}/namespaces/{ns}/pods/{pod}"), &what).await;
    assert_eq!(one["kind"], "PodMetrics", "{what} {one}");

    if let Some(kubectl) = tools::tool("kubectl") {
        let kc = dir.join("admin.kubeconfig");
        sim.write_kubeconfig(&kc).unwrap();
        for (args, want) in [(["top", "nodes"], nodes[0].as_str()), (["top", "pods"], pod.as_str())] {
            let out = tokio::process::Command::new(&kubectl)
                .arg("--kubeconfig")
                .arg(&kc)
                .arg("--cache-dir")
                .arg(dir.join("cache"))
                .args(args)
                .args(["--all-namespaces"].iter().filter(|_| args[1] == "pods"))
                .output()
                .await
                .unwrap();
            let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && stdout.contains(want), "{what} kubectl {args:?}: {stderr}{stdout}");
        }
    }
    ms.assert_running();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_server_on_kubernetes_1_28() {
    metrics_server_works_against(28).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_server_on_kubernetes_1_30() {
    metrics_server_works_against(30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_server_on_kubernetes_1_33() {
    metrics_server_works_against(33).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_server_on_kubernetes_1_36() {
    metrics_server_works_against(36).await;
}
