//! End to end: the real `kubestate metrics-server` binary against kube-sim (Nodes, Running pods,
//! TokenReview/SubjectAccessReview through a test hook) and simulated kubelets over HTTPS.

mod support;
use support::free_port;

mod ms_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use kubelet_sim::{Fault, KubeletSim, PodInfo, pki::TestCa};
use ms_support::{Cred, FrontProxyCert, ReviewHook, get};

const NODES: [&str; 4] = ["n1", "n2", "n3", "n4"];

struct Harness {
    port: u16,
    front: FrontProxyCert,
    /// Signed by the front-proxy CA but with a CN outside requestheader-allowed-names.
    intruder: FrontProxyCert,
    _child: tokio::process::Child,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Harness {
    async fn get(&self, path: &str, cred: Cred<'_>) -> (u16, String) {
        get(self.port, path, cred, &self.front).await.unwrap()
    }

    async fn admin(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path, Cred::FrontProxy("admin", "system:masters")).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn node_names(&self) -> Vec<String> {
        let v = self.admin("/apis/metrics.k8s.io/v1beta1/nodes").await;
        v["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
    }

    /// Poll until `want` holds for the node list, or fail after `limit`.
    async fn wait_nodes(&self, limit: Duration, want: impl Fn(&[String]) -> bool) -> Vec<String> {
        let start = Instant::now();
        loop {
            let names = self.node_names().await;
            if want(&names) {
                return names;
            }
            assert!(start.elapsed() < limit, "timed out; last node list {names:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

async fn setup(sim: &kube_sim::SimHandle, kubelets: &KubeletSim) -> Harness {
    let dir = std::env::temp_dir().join(format!("ms-e2e-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).unwrap();
    let kubelet_ca = dir.join("kubelet-ca.crt");
    std::fs::write(&kubelet_ca, kubelets.ca_pem()).unwrap();
    let front_ca = TestCa::new("front-proxy-ca").unwrap();
    // The front-proxy settings come from the ConfigMap kube-apiserver publishes, as in a real cluster.
    sim.store().create(ms_support::front_proxy_configmap(front_ca.ca_pem())).unwrap();
    let client = front_ca.issue_client("front-proxy-client", None).unwrap();
    let front = FrontProxyCert { chain: vec![client.cert_der.clone()], key: client.key_der() };
    let other = front_ca.issue_client("someone-else", None).unwrap();
    let intruder = FrontProxyCert { chain: vec![other.cert_der.clone()], key: other.key_der() };

    for (i, node) in NODES.iter().enumerate() {
        let addr = kubelets.add_node(node).unwrap();
        sim.store()
            .create(serde_json::json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node, "zone": if i % 2 == 0 { "a" } else { "b" }}},
                "status": {
                    "addresses": [{"type": "Hostname", "address": format!("{node}.invalid")},
                                  {"type": "InternalIP", "address": addr.ip().to_string()}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": addr.port()}}
                }
            }))
            .unwrap();
        sim.store()
            .create(serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("web-{node}"), "namespace": "default", "labels": {"app": "web"}},
                "spec": {"nodeName": node, "containers": [{"name": "app", "image": "x"}, {"name": "sidecar", "image": "y"}]},
                "status": {"phase": "Running"}
            }))
            .unwrap();
    }

    let port = free_port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubestate"))
        .arg("metrics-server")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--secure-port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--cert-dir={}", dir.display()))
        .arg("--metric-resolution=10s")
        .arg("--kubelet-request-timeout=2s")
        .arg("--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname")
        .arg("--kubelet-use-node-status-port")
        .arg(format!("--kubelet-certificate-authority={}", kubelet_ca.display()))
        // Generic apiserver flags from upstream manifests are accepted and ignored.
        .arg("--profiling=false")
        .arg("--tls-min-version=VersionTLS12")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let h = Harness { port, front, intruder, _child: child, _dir: TempDir(dir) };
    let start = Instant::now();
    loop {
        if let Ok((200, _)) = get(port, "/healthz", Cred::None, &h.front).await {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "metrics-server did not start serving");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_server_end_to_end() {
    let sim =
        kube_sim::start(kube_sim::SimConfig { hooks: vec![Arc::new(ReviewHook)], ..Default::default() }).await.unwrap();
    let started = SystemTime::now() - Duration::from_secs(3600);
    let placement: Arc<Mutex<HashMap<String, Vec<PodInfo>>>> = Arc::new(Mutex::new(
        NODES
            .iter()
            .map(|n| {
                let pod = PodInfo {
                    namespace: "default".into(),
                    name: format!("web-{n}"),
                    containers: vec!["app".into(), "sidecar".into()],
                    start_time: started,
                };
                (n.to_string(), vec![pod])
            })
            .collect(),
    ));
    let source = placement.clone();
    let kubelets = KubeletSim::start(
        kubelet_sim::Config::new(Arc::new(move |node: &str| {
            source.lock().unwrap().get(node).cloned().unwrap_or_default()
        }))
        .with_token(sim.token()),
    )
    .await
    .unwrap();
    let h = setup(&sim, &kubelets).await;

    // Requests without credentials are system:anonymous, which the SubjectAccessReview denies here;
    // health endpoints skip authorization.
    let (s, body) = h.get("/apis/metrics.k8s.io/v1beta1/nodes", Cred::None).await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("User \\\"system:anonymous\\\" cannot list resource \\\"nodes\\\""), "{body}");
    assert_eq!(h.get("/livez", Cred::None).await.0, 200);
    // A certificate from the right CA but with a CN that is not allowed cannot assert identities: the
    // request fails authentication (no fallback to anonymous).
    let (s, _) =
        get(h.port, "/apis/metrics.k8s.io/v1beta1/nodes", Cred::FrontProxy("admin", "system:masters"), &h.intruder)
            .await
            .unwrap();
    assert_eq!(s, 401);
    let (s, body) = h.get("/readyz?verbose", Cred::None).await;
    assert_eq!(s, 500, "not ready before two scrapes: {body}");
    assert!(body.contains("[-]metric-storage-ready failed: reason withheld"));

    // Discovery is served at once.
    let disc = h.admin("/apis/metrics.k8s.io/v1beta1").await;
    assert_eq!(disc["resources"][0]["name"], "nodes");

    // Second scrape (≈10 s) makes every node servable.
    h.wait_nodes(Duration::from_secs(30), |n| n.len() == NODES.len()).await;
    let (s, body) = h.get("/readyz?verbose", Cred::None).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.ends_with("readyz check passed\n"));

    let n1 = h.admin("/apis/metrics.k8s.io/v1beta1/nodes/n1").await;
    assert_eq!(n1["kind"], "NodeMetrics");
    assert_eq!(n1["metadata"]["labels"]["zone"], "a");
    let cpu = n1["usage"]["cpu"].as_str().unwrap();
    assert!(cpu.ends_with('n') || cpu.ends_with('u') || cpu.ends_with('m'), "{cpu}");
    let window = n1["window"].as_str().unwrap();
    assert!(window.ends_with('s') && window.starts_with(|c: char| c.is_ascii_digit()), "{window}");

    let pods = h.admin("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dweb").await;
    let items = pods["items"].as_array().unwrap();
    assert_eq!(items.len(), NODES.len());
    assert_eq!(items[0]["metadata"]["name"], "web-n1");
    assert_eq!(items[0]["containers"].as_array().unwrap().len(), 2);
    let app = items[0]["containers"].as_array().unwrap().iter().find(|c| c["name"] == "app").unwrap();
    let (cores, _) = kubelet_sim::container_profile("default", "web-n1", "app");
    let reported = parse_cpu(app["usage"]["cpu"].as_str().unwrap());
    assert!((reported - cores).abs() < 0.01, "app cpu {reported} cores vs simulated {cores}");

    // Selectors, field selectors and errors over the wire.
    let zone_b = h.admin("/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=zone%3Db").await;
    assert_eq!(zone_b["items"].as_array().unwrap().len(), 2);
    let (s, body) = h
        .get(
            "/apis/metrics.k8s.io/v1beta1/pods?fieldSelector=spec.nodeName%3Dn1",
            Cred::FrontProxy("admin", "system:masters"),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = h
        .get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope", Cred::FrontProxy("admin", "system:masters"))
        .await;
    assert_eq!(s, 404);
    assert!(body.contains(r#""message":"pods \"nope\" not found""#), "{body}");

    // Bearer tokens go through TokenReview, then SubjectAccessReview.
    assert_eq!(h.get("/apis/metrics.k8s.io/v1beta1/nodes", Cred::Bearer("alice-token")).await.0, 200);
    let (s, body) = h.get("/apis/metrics.k8s.io/v1beta1/nodes", Cred::Bearer("bob-token")).await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("User \\\"bob\\\" cannot list resource \\\"nodes\\\""), "{body}");
    assert_eq!(h.get("/apis/metrics.k8s.io/v1beta1/nodes", Cred::Bearer("wrong")).await.0, 401);

    // Faults: n2 hangs, n3 speaks garbage, n4 dies. n1 keeps being served, the others leave.
    kubelets.set_fault("n2", Fault::Hang).unwrap();
    kubelets.set_fault("n3", Fault::Garbage).unwrap();
    kubelets.set_fault("n4", Fault::Die).unwrap();
    let ts_before = n1["timestamp"].as_str().unwrap().to_string();
    let names = h.wait_nodes(Duration::from_secs(25), |n| n == ["n1"]).await;
    assert_eq!(names, ["n1"]);
    let pods = h.admin("/apis/metrics.k8s.io/v1beta1/pods").await;
    let pod_names: Vec<&str> =
        pods["items"].as_array().unwrap().iter().map(|p| p["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(pod_names, ["web-n1"]);
    let n1_now = h.admin("/apis/metrics.k8s.io/v1beta1/nodes/n1").await;
    assert_ne!(n1_now["timestamp"].as_str().unwrap(), ts_before, "n1 was scraped again");
    let (s, body) = h.get("/apis/metrics.k8s.io/v1beta1/nodes/n2", Cred::FrontProxy("admin", "system:masters")).await;
    assert_eq!(s, 404);
    assert!(body.contains(r#"nodemetrics.metrics.k8s.io \"n2\" not found"#), "{body}");
    // The hung kubelet did not slow n1's request down.
    let (_, metrics) = h.get("/metrics", Cred::FrontProxy("admin", "system:masters")).await;
    let count = metric(&metrics, "metrics_server_kubelet_request_duration_seconds_count{node=\"n1\"}");
    let fast = metric(&metrics, "metrics_server_kubelet_request_duration_seconds_bucket{node=\"n1\",le=\"1\"}");
    assert!(count >= 3.0 && fast == count, "n1 requests: {fast} of {count} under 1s");
    assert!(metric(&metrics, "metrics_server_kubelet_request_total{success=\"false\"}") >= 3.0);

    // Recovery: all nodes come back after two good scrapes.
    for n in ["n2", "n3", "n4"] {
        kubelets.set_fault(n, Fault::None).unwrap();
    }
    h.wait_nodes(Duration::from_secs(35), |n| n.len() == NODES.len()).await;
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).map(|v| v.trim().parse::<f64>().unwrap()))
        .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
}

fn parse_cpu(s: &str) -> f64 {
    let (num, scale) = match s.as_bytes().last() {
        Some(b'n') => (&s[..s.len() - 1], 1e-9),
        Some(b'u') => (&s[..s.len() - 1], 1e-6),
        Some(b'm') => (&s[..s.len() - 1], 1e-3),
        _ => (s, 1.0),
    };
    num.parse::<f64>().unwrap() * scale
}
