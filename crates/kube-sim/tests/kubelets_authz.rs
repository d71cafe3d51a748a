//! Simulated kubelets behind the simulator's CA and tokens; TokenReview, SubjectAccessReview and the
//! rule file applied to ordinary requests.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::Http;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use kube_sim::{AuthzRules, SimConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;

const TOKENS: &str = "alice-token,alice,1001,\"dev\"\nbob-token,bob,1002\n";

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("kube-sim-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

/// GET `path` from a kubelet on 127.0.0.1:`port`, verifying it against `ca_pem`.
async fn kubelet_get(ca_pem: &str, port: u16, path: &str, token: &str) -> Result<(u16, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(path)
        .header("Host", "127.0.0.1")
        .header("Authorization", format!("Bearer {token}"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_get_kubelets_verified_by_the_sim_ca() {
    let tokens = temp_file("kubelet-tokens.csv", TOKENS);
    let sim = kube_sim::start(SimConfig { token_auth_file: Some(tokens.clone()), ..Default::default() }).await.unwrap();
    let ca = sim.ca_pem().unwrap();
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "annotations": {kube_sim::kubelets::KUBELET_ANNOTATION: "true"}},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.1.2.3"}, {"type": "Hostname", "address": "n1"}]}}))
        .unwrap();
    // A node that does not ask keeps its address and gets no kubelet.
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "real"},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.9.9.9"}]}}))
        .unwrap();
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "x"}]},
            "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"}}))
        .unwrap();
    // A node that another kubelet simulator owns (loopback address already set) is left alone.
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "foreign"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}}}}))
        .unwrap();

    let start = Instant::now();
    let port = loop {
        let node = sim.store().get("v1", "Node", None, "n1").unwrap();
        let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"].as_u64();
        if let Some(p) = port.filter(|p| Some(*p) == sim.kubelet_port("n1").map(u64::from)) {
            assert_eq!(node["status"]["addresses"][0]["address"], "127.0.0.1");
            assert_eq!(node["status"]["addresses"][1]["type"], "Hostname");
            break u16::try_from(p).unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(5), "node never got a kubelet: {node}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(sim.kubelet_port("foreign").is_none() && sim.kubelet_port("real").is_none());
    assert_eq!(sim.store().get("v1", "Node", None, "real").unwrap()["status"]["addresses"][0]["address"], "10.9.9.9");
    assert_eq!(
        sim.store().get("v1", "Node", None, "foreign").unwrap()["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"],
        1
    );

    let (s, body) = kubelet_get(&ca, port, "/metrics/resource", sim.token()).await.unwrap();
    assert_eq!(s, 200, "{body}");
    assert!(
        body.contains("container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"web\"}"),
        "{body}"
    );
    let (s, _) = kubelet_get(&ca, port, "/metrics/resource", "alice-token").await.unwrap();
    assert_eq!(s, 200);
    let (s, _) = kubelet_get(&ca, port, "/metrics/resource", "wrong").await.unwrap();
    assert_eq!(s, 401);

    // Faults go through to the front end.
    let kubelets = sim.kubelets().unwrap();
    kubelets.set_fault("n1", kube_sim::KubeletFault::Status(500)).unwrap();
    assert_eq!(kubelet_get(&ca, port, "/metrics/resource", sim.token()).await.unwrap().0, 500);
    kubelets.set_fault("n1", kube_sim::KubeletFault::Die).unwrap();
    assert!(kubelet_get(&ca, port, "/metrics/resource", sim.token()).await.is_err());
    kubelets.set_fault("n1", kube_sim::KubeletFault::None).unwrap();
    assert_eq!(kubelet_get(&ca, port, "/metrics/resource", sim.token()).await.unwrap().0, 200);

    // Deleting the node stops its kubelet.
    sim.store().delete("v1", "Node", None, "n1").unwrap();
    let start = Instant::now();
    while sim.kubelet_port("n1").is_some() {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(kubelet_get(&ca, port, "/metrics/resource", sim.token()).await.is_err());
    sim.shutdown().await;
    let _ = std::fs::remove_file(tokens);
}

#[tokio::test]
async fn kubelets_can_be_turned_off() {
    let sim = kube_sim::start(SimConfig { kubelets: false, tls: false, ..Default::default() }).await.unwrap();
    assert!(sim.kubelets().is_none());
    sim.store().create(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sim.kubelet_port("n1").is_none());
    assert!(sim.store().get("v1", "Node", None, "n1").unwrap()["status"]["daemonEndpoints"].is_null());
    sim.shutdown().await;
}

const RULES: &str = r#"
- users: [alice]
  verbs: [get, list]
  resources: [pods]
  namespaces: [default]
- groups: [dev]
  verbs: [create]
  apiGroups: [""]
  resources: [configmaps]
"#;

#[tokio::test]
async fn rule_file_governs_requests_and_reviews() {
    let tokens = temp_file("authz-tokens.csv", TOKENS);
    let sim = kube_sim::start(SimConfig {
        tls: false,
        kubelets: false,
        token_auth_file: Some(tokens.clone()),
        authz: Some(AuthzRules::parse(RULES).unwrap()),
        ..Default::default()
    })
    .await
    .unwrap();
    let alice = Http::new(&sim.url(), Some("alice-token"));
    let bob = Http::new(&sim.url(), Some("bob-token"));
    let admin = Http::new(&sim.url(), Some(sim.token()));

    assert_eq!(alice.get("/api/v1/namespaces/default/pods").await.0, 200);
    let (s, st) = alice.get("/api/v1/pods").await;
    assert_eq!(s, 403);
    assert_eq!(st["kind"], "Status");
    assert_eq!(st["reason"], "Forbidden");
    assert_eq!(
        st["message"],
        "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
    );
    let (s, st) = bob.get("/api/v1/namespaces/default/pods/x").await;
    assert_eq!(s, 403);
    assert_eq!(
        st["message"],
        "pods \"x\" is forbidden: User \"bob\" cannot get resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert_eq!(alice.post("/api/v1/namespaces/default/configmaps", &cm).await.0, 201);
    assert_eq!(bob.post("/api/v1/namespaces/default/configmaps", &cm).await.0, 403);
    // Discovery stays open; the admin is never refused; no token at all is 401.
    assert_eq!(bob.get("/apis").await.0, 200);
    assert_eq!(admin.get("/api/v1/secrets").await.0, 200);
    assert_eq!(Http::new(&sim.url(), None).get("/api/v1/pods").await.0, 401);

    let (s, tr) = admin
        .post(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "alice-token"}}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(tr["status"]["authenticated"], true);
    assert_eq!(tr["status"]["user"]["username"], "alice");
    assert_eq!(tr["status"]["user"]["groups"], json!(["dev", "system:authenticated"]));
    let (_, tr) = admin
        .post("/apis/authentication.k8s.io/v1/tokenreviews", &json!({"kind": "TokenReview", "spec": {"token": "x"}}))
        .await;
    assert_eq!(tr["status"]["authenticated"], false);
    let (_, tr) = admin
        .post(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            &json!({"kind": "TokenReview", "spec": {"token": sim.token()}}),
        )
        .await;
    assert_eq!(tr["status"]["user"]["username"], "admin");
    assert!(tr["status"]["user"]["groups"].as_array().unwrap().contains(&json!("system:masters")));

    let sar = |user: &str, ns: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": ["system:authenticated"],
                "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": ns}}})
    };
    let (s, r) = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", &sar("alice", "default")).await;
    assert_eq!((s, &r["status"]["allowed"]), (201, &json!(true)));
    let (_, r) = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", &sar("alice", "other")).await;
    assert_eq!(r["status"]["allowed"], false);
    // Asking the review endpoints is itself a request that must be allowed.
    let (s, _) = bob.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", &sar("alice", "default")).await;
    assert_eq!(s, 403);
    sim.shutdown().await;
    let _ = std::fs::remove_file(tokens);
}
