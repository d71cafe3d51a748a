//! `kubectl top pods -A` through kube-sim's aggregation: metrics-server registered as an APIService of the
//! simulator, which proxies kubectl's requests to it; the same pods fetched with protobuf (kubectl's
//! default) and with JSON.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::Config;
use crate::ms::{Kubelets, metrics_server_args};
use crate::report::{Latency, TopReport};
use crate::sim::{Proc, Scratch, Sim, TOKEN, free_port};

const PODS: &str = "/apis/metrics.k8s.io/v1beta1/pods";
const RUNS: usize = 7;

fn kubectl() -> anyhow::Result<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow::anyhow!("--top-pods needs kubectl in PATH (Debian package kubernetes-client)"))
}

/// A TLS listener on 127.0.0.1 whose connections are piped to `upstream` (host:port); its address.
/// Lives as long as the runtime.
async fn tls_front(upstream: &str) -> anyhow::Result<std::net::SocketAddr> {
    let ca = kubelet_sim::pki::TestCa::new("bench-kubectl-front")?;
    let cert = ca.issue_server(&["127.0.0.1", "localhost"])?;
    let cfg =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert_der.clone()], cert.key_der())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let upstream = upstream.to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let (Ok(mut tls), Ok(mut plain)) =
                    (acceptor.accept(tcp).await, tokio::net::TcpStream::connect(&upstream).await)
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    Ok(addr)
}

pub async fn bench(cfg: &Config, pods: usize) -> anyhow::Result<TopReport> {
    let kubectl = kubectl()?;
    let dir = Scratch::new("top")?;
    let per_node = cfg.ms_pods_per_node.max(1);
    // About 93 % of synthetic pods run; size the cluster so that `pods` of them do.
    let nodes = (pods as f64 / (per_node as f64 * 0.93)).ceil() as usize;
    tracing::info!(nodes, "starting kube-sim for kubectl top");
    let mut sim = Sim::start(&cfg.kubestate, &dir.0, nodes, per_node, 10).await?;
    let (_, pod_list) = sim.initial_lists().await?;
    let kubelets = Kubelets::start(&mut sim, &pod_list, &dir.0).await?;
    drop(pod_list);

    // Registering the APIService makes the simulator publish its own front-proxy CA, which
    // metrics-server then trusts: the requests it proxies carry the caller's identity.
    let port = free_port()?;
    let svc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "metrics-server", "namespace": "kube-system"},
        "spec": {"type": "ExternalName", "externalName": "127.0.0.1"}});
    let apisvc = json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true,
                 "groupPriorityMinimum": 100, "versionPriority": 100,
                 "service": {"namespace": "kube-system", "name": "metrics-server", "port": port}}});
    for (path, obj) in
        [("/api/v1/namespaces/kube-system/services", svc), ("/apis/apiregistration.k8s.io/v1/apiservices", apisvc)]
    {
        let r = sim
            .api
            .request(http::Method::POST, path, &[], Some(("application/json", obj.to_string().into_bytes())))
            .await?;
        anyhow::ensure!(r.status < 300, "creating {path}: status {}", r.status);
    }
    let cm = "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication";
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.api.get(cm, &[]).await?.status != 200 {
        anyhow::ensure!(Instant::now() < deadline, "kube-sim did not publish its front-proxy CA");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let args = metrics_server_args(cfg, &sim, &dir.0, port, &kubelets.ca);
    let mut ms = Proc::spawn("metrics-server", cfg.ms_binary.as_ref().unwrap_or(&cfg.kubestate), &args, &dir.0)?;
    // kubectl sends no credentials to a plain-HTTP server, and the bench's simulator speaks plain
    // HTTP: kubectl reaches it through a TLS front that passes the bytes on.
    let front = tls_front(sim.api.base().trim_start_matches("http://")).await?;
    let kubeconfig = dir.0.join("kubectl.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: https://{front}\n    \
             insecure-skip-tls-verify: true\ncontexts:\n- name: sim\n  context: {{cluster: sim, user: admin}}\n\
             current-context: sim\nusers:\n- name: admin\n  user: {{token: {TOKEN}}}\n"
        ),
    )?;
    let cache = dir.0.join("kubectl-cache");
    let run = |args: &[&str]| {
        std::process::Command::new(&kubectl)
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--cache-dir={}", cache.display()))
            .args(args)
            .output()
    };
    // Until metrics-server serves nearly every running pod (two scrapes).
    let want = kubelets.running * 95 / 100;
    let deadline = Instant::now() + Duration::from_secs(300);
    let items = loop {
        ms.check_alive()?;
        let out = run(&["get", "--raw", PODS])?;
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let n = v["items"].as_array().map_or(0, Vec::len);
            if n >= want {
                break n;
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "metrics-server did not serve {want} pods within 5 minutes");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let time = |protobuf: bool| -> anyhow::Result<Latency> {
        let flag = format!("--use-protocol-buffers={protobuf}");
        let mut samples = Vec::new();
        for i in 0..=RUNS {
            let t0 = Instant::now();
            let out = run(&["top", "pods", "-A", &flag])?;
            let took = t0.elapsed().as_secs_f64();
            anyhow::ensure!(out.status.success(), "kubectl top: {}", String::from_utf8_lossy(&out.stderr));
            let lines = out.stdout.iter().filter(|b| **b == b'\n').count();
            anyhow::ensure!(lines > items / 2, "kubectl top printed {lines} lines for {items} pods");
            // The first run warms kubectl's discovery cache.
            if i > 0 {
                samples.push(took);
            }
        }
        Ok(Latency::of(samples))
    };
    let protobuf = time(true)?;
    let json_lat = time(false)?;
    let size = |accept: &'static str| {
        let api = &sim.api;
        async move { api.get_ok(PODS, &[("accept", accept)]).await.map(|r| r.body.len()) }
    };
    let protobuf_bytes = size("application/vnd.kubernetes.protobuf").await?;
    let json_bytes = size("application/json").await?;
    ms.check_alive()?;
    drop(kubelets);
    Ok(TopReport { pods: items, runs: RUNS, protobuf, json: json_lat, protobuf_bytes, json_bytes })
}
