//! kube-sim as an aggregating API server: the real `kubestate metrics-server` binary scrapes kube-sim's
//! simulated kubelets and is reached through an APIService + ExternalName Service, so Debian's
//! kubectl runs `kubectl top` against the simulator. Authentication and authorization come from the
//! simulator's token file and rule file (TokenReview / SubjectAccessReview).

mod ms_support;
mod support;
mod tools;
use ms_support::AggregatedMetricsServer;
use support::free_port;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube_sim::{AuthzRules, SimConfig, SyntheticConfig};

const RULES: &str = r#"
- users: [alice]
  verbs: [get, list, watch]
  apiGroups: ["", metrics.k8s.io]
  resources: [nodes, pods, namespaces]
- groups: [system:authenticated, system:unauthenticated]
  verbs: [get]
  nonResourceURLs: [/version, /openapi, /openapi/*]
"#;

const TOKENS: &str = "alice-token,alice,1001,\"viewers\"\nmallory-token,mallory,1002\n";

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A kubeconfig for `server` with an optional token; the CA is verified when given.
fn kubeconfig(path: &Path, server: &str, ca: Option<&Path>, token: Option<&str>) {
    let cluster = match ca {
        Some(ca) => format!("    certificate-authority: {}\n", ca.display()),
        None => "    insecure-skip-tls-verify: true\n".to_string(),
    };
    let user = match token {
        Some(t) => format!("    token: {t}\n"),
        None => "    {}\n".to_string(),
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n{cluster}contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n{user}"
    );
    std::fs::write(path, text).unwrap();
}

async fn kubectl(dir: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    let bin = tools::tool("kubectl").expect("the test checked for kubectl first");
    tokio::process::Command::new(bin)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args)
        .output()
        .await
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
}

/// Parse a kubectl quantity column ("123m", "45Mi") into a number, for "non-zero" checks.
fn leading_number(s: &str) -> u64 {
    s.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)
}

/// GET without credentials from https://127.0.0.1:`port`, trusting `ca_pem`.
async fn anonymous_get(ca_pem: &str, port: u16, path: &str) -> (u16, String) {
    use http_body_util::BodyExt;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(path)
        .header("Host", format!("127.0.0.1:{port}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_top_through_aggregated_metrics_server() {
    if tools::tool("kubectl").is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sim-aggregation-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    let token_file = dir.join("tokens.csv");
    std::fs::write(&token_file, TOKENS).unwrap();

    let sim = kube_sim::start(SimConfig {
        token_auth_file: Some(token_file),
        authz: Some(AuthzRules::parse(RULES).unwrap()),
        synthetic: Some(SyntheticConfig { nodes: 3, pods_per_node: 4, namespaces: 2, ..SyntheticConfig::default() }),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let nodes = support::node_names(&sim);
    assert_eq!(nodes.len(), 3);
    // Every node points at its simulated kubelet.
    for n in &nodes {
        let node = sim.store().get("v1", "Node", None, n).unwrap();
        let port = sim.kubelet_port(n).expect("node has a kubelet");
        assert_eq!(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], port);
        assert_eq!(node["status"]["addresses"][0], serde_json::json!({"type": "InternalIP", "address": "127.0.0.1"}));
    }

    let admin_kc = dir.join("admin.kubeconfig");
    sim.write_kubeconfig(&admin_kc).unwrap();
    let ca = dir.join("ca.crt");
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    let mut ms = AggregatedMetricsServer::start(&sim, &dir).await;
    let ms_port = ms.port;
    let cm = sim.store().get("v1", "ConfigMap", Some("kube-system"), "extension-apiserver-authentication").unwrap();
    assert_eq!(cm["data"]["requestheader-allowed-names"], "[\"front-proxy-client\"]");
    assert_eq!(cm["data"]["requestheader-client-ca-file"], sim.front_proxy_ca_pem());

    // Discovery through the simulator lists the aggregated group.
    let out = kubectl(&dir, &admin_kc, &["get", "--raw", "/apis"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("\"metrics.k8s.io\""), "{stdout}");

    // Two scrapes (≈10 s apart) before metrics-server serves node metrics.
    let start = Instant::now();
    let top = loop {
        let out = kubectl(&dir, &admin_kc, &["top", "nodes"]).await;
        let (stdout, stderr) = text(&out);
        if out.status.success() && nodes.iter().all(|n| stdout.contains(n.as_str())) {
            break stdout;
        }
        ms.assert_running();
        assert!(start.elapsed() < Duration::from_secs(60), "kubectl top nodes never worked: {stderr}{stdout}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("{top}");
    for n in &nodes {
        let row = top.lines().find(|l| l.starts_with(n.as_str())).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert!(leading_number(cols[1]) > 0, "no CPU usage for {n}: {row}");
        assert!(leading_number(cols[3]) > 0, "no memory usage for {n}: {row}");
    }

    // The caller's identity travels to metrics-server, which authorizes alice with a SubjectAccessReview.
    let alice_kc = dir.join("alice.kubeconfig");
    kubeconfig(&alice_kc, &sim.url(), Some(&ca), Some("alice-token"));
    let out = kubectl(&dir, &alice_kc, &["top", "pods", "-A"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    println!("{stdout}");
    let running: Vec<String> = sim
        .store()
        .list("v1", "Pod", None)
        .iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(running.iter().any(|p| stdout.contains(p.as_str())), "{stdout}");
    let out = kubectl(&dir, &alice_kc, &["get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let pods: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let items = pods["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|p| running.iter().any(|r| p["metadata"]["name"] == r.as_str())));
    let cpu = items[0]["containers"][0]["usage"]["cpu"].as_str().unwrap();
    assert!(leading_number(cpu) > 0, "{cpu}");

    // kubectl's protobuf requests (top above) decode; its Table request lists every running pod.
    let out = kubectl(&dir, &alice_kc, &["get", "podmetrics", "-A"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("WINDOW") && running.iter().all(|p| stdout.contains(p.as_str())), "{stdout}");

    // The schema comes through the simulator's aggregation the way kube-apiserver downloads it (the
    // backend's /openapi/v3 root, then the document it names), and kubectl explains the kinds from it.
    let out = kubectl(&dir, &admin_kc, &["explain", "nodemetrics"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "kubectl explain nodemetrics: {stderr}");
    for want in ["NodeMetrics", "metrics.k8s.io", "Resource usage of one node", "window", "usage", "timestamp"] {
        assert!(stdout.contains(want), "explain lacks {want:?}:\n{stdout}");
    }
    let out = kubectl(&dir, &admin_kc, &["explain", "podmetrics.containers.usage"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "kubectl explain podmetrics.containers.usage: {stderr}");
    assert!(stdout.contains("Resource usage of the container"), "{stdout}");
    let out = kubectl(&dir, &admin_kc, &["get", "--raw", "/openapi/v3"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("apis/metrics.k8s.io/v1beta1"), "{stdout}");

    // mallory has no rule: the simulator itself refuses her with a real Status.
    let mallory_kc = dir.join("mallory.kubeconfig");
    kubeconfig(&mallory_kc, &sim.url(), Some(&ca), Some("mallory-token"));
    let out = kubectl(&dir, &mallory_kc, &["get", "pods", "-A"]).await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "pods is forbidden: User \"mallory\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
        ),
        "{stderr}"
    );

    // Straight to metrics-server: its TokenReview and SubjectAccessReview go to the simulator.
    let direct = format!("https://127.0.0.1:{ms_port}");
    let ms_mallory = dir.join("ms-mallory.kubeconfig");
    kubeconfig(&ms_mallory, &direct, None, Some("mallory-token"));
    let out = kubectl(&dir, &ms_mallory, &["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"]).await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("Forbidden") && stderr.contains("mallory"), "{stderr}");
    let ms_alice = dir.join("ms-alice.kubeconfig");
    kubeconfig(&ms_alice, &direct, None, Some("alice-token"));
    let out = kubectl(&dir, &ms_alice, &["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(nodes.iter().all(|n| stdout.contains(n.as_str())), "{stdout}");
    // kubectl prompts for a password when it has no credentials, so these go without it.
    let ms_cert = std::fs::read_to_string(ms.cert_dir.join("apiserver.crt")).unwrap();
    // Without credentials metrics-server sees system:anonymous and asks the simulator, as upstream: no
    // rule for the API (403), the public /version rule (200).
    let (s, body) = anonymous_get(&ms_cert, ms_port, "/apis/metrics.k8s.io/v1beta1/nodes").await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("User \\\"system:anonymous\\\" cannot list resource \\\"nodes\\\""), "{body}");
    let (s, body) = anonymous_get(&ms_cert, ms_port, "/version").await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("\"gitVersion\""), "{body}");
    // And without credentials the simulator answers 401 before proxying anything.
    let (s, body) =
        anonymous_get(&sim.ca_pem().unwrap(), sim.addr().port(), "/apis/metrics.k8s.io/v1beta1/nodes").await;
    assert_eq!(s, 401, "{body}");

    // A dead kubelet drops out of the node metrics after the next scrape.
    let kubelets = sim.kubelets().unwrap();
    kubelets.set_fault(&nodes[0], kube_sim::KubeletFault::Die).unwrap();
    let start = Instant::now();
    loop {
        let out = kubectl(&dir, &admin_kc, &["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"]).await;
        let (stdout, _) = text(&out);
        if out.status.success() && !stdout.contains(nodes[0].as_str()) && stdout.contains(nodes[1].as_str()) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(40), "dead kubelet still reported: {stdout}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    sim.shutdown().await;
}
