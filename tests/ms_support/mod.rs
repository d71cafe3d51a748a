//! Helpers for the metrics-server end-to-end tests: an HTTPS client that can present a front-proxy
//! certificate or a bearer token, and a kube-sim hook answering TokenReview / SubjectAccessReview.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use kubelet_sim::insecure::AnyServerCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// How a test request authenticates.
pub enum Cred<'a> {
    None,
    Bearer(&'a str),
    /// Front-proxy client certificate plus identity headers (user, group).
    FrontProxy(&'a str, &'a str),
}

/// The front-proxy client certificate used by [`Cred::FrontProxy`].
pub struct FrontProxyCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// GET `path` from the server on 127.0.0.1:`port`; returns (status, body).
pub async fn get(port: u16, path: &str, cred: Cred<'_>, front: &FrontProxyCert) -> anyhow::Result<(u16, String)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)));
    let cfg = match cred {
        Cred::FrontProxy(..) => builder.with_client_auth_cert(front.chain.clone(), front.key.clone_key())?,
        _ => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(ServerName::try_from("127.0.0.1")?, tcp).await?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    let mut req = http::Request::get(path).header("host", format!("127.0.0.1:{port}"));
    match cred {
        Cred::None => {}
        Cred::Bearer(t) => req = req.header("authorization", format!("Bearer {t}")),
        Cred::FrontProxy(user, group) => req = req.header("x-remote-user", user).header("x-remote-group", group),
    }
    let resp =
        tokio::time::timeout(Duration::from_secs(10), send.send_request(req.body(Empty::<Bytes>::new())?)).await??;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// A kube-sim cluster of `nodes` synthetic nodes × `pods_per_node`, every node Ready and served by a
/// simulated kubelet, with `hooks` in front of the simulator's own routes.
pub async fn synthetic_cluster(
    nodes: usize,
    pods_per_node: usize,
    hooks: Vec<Arc<dyn kube_sim::RouteHook>>,
) -> kube_sim::SimHandle {
    kube_sim::start(kube_sim::SimConfig {
        seed: 11,
        kubelets: true,
        hooks,
        synthetic: Some(kube_sim::SyntheticConfig {
            nodes,
            pods_per_node,
            namespaces: 10,
            not_ready_fraction: 0.0,
            jobs_per_namespace: 0,
            configmaps_per_namespace: 0,
        }),
        ..Default::default()
    })
    .await
    .expect("start kube-sim")
}

/// TokenReview: `alice-token` → alice, `bob-token` → bob, anything else unauthenticated.
/// SubjectAccessReview: alice may do anything, everyone else is denied.
pub struct ReviewHook;

fn json_response(v: serde_json::Value) -> http::Response<kube_sim::Body> {
    let body = Full::new(Bytes::from(v.to_string())).map_err(|e| match e {}).boxed();
    let mut r = http::Response::new(body);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    *r.status_mut() = http::StatusCode::CREATED;
    r
}

impl kube_sim::RouteHook for ReviewHook {
    fn route(
        &self,
        req: &kube_sim::HookRequest,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = http::Response<kube_sim::Body>> + Send>>> {
        if req.method != http::Method::POST {
            return None;
        }
        let body: serde_json::Value = serde_json::from_slice(&req.body).ok()?;
        if req.path == "/apis/authentication.k8s.io/v1/tokenreviews" {
            let token = body["spec"]["token"].as_str().unwrap_or("");
            let user = match token {
                "alice-token" => Some("alice"),
                "bob-token" => Some("bob"),
                _ => None,
            };
            let status = match user {
                Some(u) => serde_json::json!({"authenticated": true, "user": {"username": u, "groups": ["devs"]}}),
                None => serde_json::json!({"authenticated": false}),
            };
            let out = serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                "metadata": {}, "spec": body["spec"], "status": status});
            return Some(Box::pin(async move { json_response(out) }));
        }
        if req.path == "/apis/authorization.k8s.io/v1/subjectaccessreviews" {
            let allowed = body["spec"]["user"].as_str() == Some("alice");
            let out = serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "metadata": {}, "spec": body["spec"],
                "status": {"allowed": allowed, "reason": if allowed { "" } else { "test policy denies" }}});
            return Some(Box::pin(async move { json_response(out) }));
        }
        None
    }
}

/// A TLS connection to the server on 127.0.0.1:`port`, presenting `client` as client certificate if given.
pub async fn tls_connect(
    port: u16,
    client: Option<&FrontProxyCert>,
) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)));
    let mut cfg = match client {
        Some(c) => builder.with_client_auth_cert(c.chain.clone(), c.key.clone_key())?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(ServerName::try_from("127.0.0.1")?, tcp).await?)
}

/// GET over one new connection, presenting `cert` if given, with extra request headers.
pub async fn request(
    port: u16,
    path: &str,
    cert: Option<&FrontProxyCert>,
    headers: &[(&str, &str)],
) -> http::Response<Bytes> {
    let tls = tls_connect(port, cert).await.expect("TLS handshake (a client certificate must not abort it)");
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::get(path).header("host", format!("127.0.0.1:{port}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp =
        tokio::time::timeout(Duration::from_secs(20), send.send_request(req.body(Empty::<Bytes>::new()).unwrap()))
            .await
            .unwrap()
            .unwrap();
    let (parts, body) = resp.into_parts();
    http::Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

/// The real `kubestate metrics-server` registered with kube-sim's aggregation as kube-apiserver
/// would have it: an ExternalName Service and the `v1beta1.metrics.k8s.io` APIService, the simulator
/// publishing its own front-proxy CA, and metrics-server reading it with the admin kubeconfig.
/// Requests to `/apis/metrics.k8s.io` on the simulator reach it. Killed on drop.
pub struct AggregatedMetricsServer {
    pub port: u16,
    /// Where metrics-server writes its self-signed serving certificate (`apiserver.crt`).
    pub cert_dir: std::path::PathBuf,
    log: std::path::PathBuf,
    child: tokio::process::Child,
}

impl AggregatedMetricsServer {
    /// Registers and starts it; `dir` holds the kubeconfig, the kubelet CA and the certificates.
    pub async fn start(sim: &kube_sim::SimHandle, dir: &std::path::Path) -> AggregatedMetricsServer {
        let port = crate::support::free_port();
        let admin_kc = dir.join("ms-admin.kubeconfig");
        sim.write_kubeconfig(&admin_kc).unwrap();
        let ca = dir.join("ms-kubelet-ca.crt");
        std::fs::write(&ca, sim.ca_pem().expect("kube-sim with TLS")).unwrap();
        sim.store()
            .create(serde_json::json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "metrics-server", "namespace": "kube-system"},
                "spec": {"type": "ExternalName", "externalName": "127.0.0.1"}}))
            .unwrap();
        sim.store()
            .create(serde_json::json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "metadata": {"name": "v1beta1.metrics.k8s.io"},
                "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true,
                    "groupPriorityMinimum": 100, "versionPriority": 100,
                    "service": {"namespace": "kube-system", "name": "metrics-server", "port": port}}}))
            .unwrap();
        // The front-proxy settings appear once an APIService delegates to a Service.
        let start = std::time::Instant::now();
        while sim.store().get("v1", "ConfigMap", Some("kube-system"), "extension-apiserver-authentication").is_none() {
            assert!(start.elapsed() < Duration::from_secs(5), "extension-apiserver-authentication not published");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let cert_dir = dir.join("ms");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubestate"))
            .arg("metrics-server")
            .arg(format!("--kubeconfig={}", admin_kc.display()))
            .arg(format!("--secure-port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--cert-dir={}", cert_dir.display()))
            .arg("--metric-resolution=10s")
            .arg("--kubelet-request-timeout=2s")
            .arg("--kubelet-use-node-status-port")
            .arg("--kubelet-preferred-address-types=InternalIP")
            .arg(format!("--kubelet-certificate-authority={}", ca.display()))
            .env_remove("RUST_LOG")
            .stderr(std::fs::File::create(dir.join("ms-stderr.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        AggregatedMetricsServer { port, cert_dir, log: dir.join("ms-stderr.log"), child }
    }

    /// Fails (with the log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "metrics-server exited with {status}; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

impl Drop for AggregatedMetricsServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            print_log_tail(&std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }
}

/// The last lines of a metrics-server log, for a failing test's output.
fn print_log_tail(log: &str) {
    let tail: Vec<&str> = log.lines().rev().take(60).collect();
    eprintln!("---- metrics-server log (tail) ----");
    for l in tail.iter().rev() {
        eprintln!("{l}");
    }
}

/// The real `kubestate metrics-server` started against a kube-sim that runs its own simulated kubelets
/// (`SimConfig::kubelets`), trusting a front-proxy CA of its own; stderr goes to a file. Killed on drop,
/// printing the log tail if the test is failing.
pub struct SimMetricsServer {
    pub port: u16,
    pub pid: u32,
    pub front: FrontProxyCert,
    child: tokio::process::Child,
    dir: std::path::PathBuf,
}

impl SimMetricsServer {
    /// Publishes the front-proxy ConfigMap, starts the binary with `extra` flags and waits for /healthz.
    pub async fn start(sim: &kube_sim::SimHandle, extra: &[&str]) -> SimMetricsServer {
        Self::start_with_probe(sim, extra, 200).await
    }

    /// As [`SimMetricsServer::start`], waiting for an unauthenticated /healthz to answer `probe`.
    pub async fn start_with_probe(sim: &kube_sim::SimHandle, extra: &[&str], probe: u16) -> SimMetricsServer {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kubestate-simms-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).unwrap();
        // The simulator's kubelets serve certificates from its own CA.
        let kubelet_ca = dir.join("kubelet-ca.crt");
        std::fs::write(&kubelet_ca, sim.ca_pem().expect("kube-sim with TLS")).unwrap();
        let front_ca = kubelet_sim::pki::TestCa::new("load-front-proxy-ca").unwrap();
        let cm = front_proxy_configmap(front_ca.ca_pem());
        if sim.store().create(cm.clone()).is_err() {
            sim.store().update(cm).unwrap();
        }
        let client = front_ca.issue_client("front-proxy-client", None).unwrap();
        let front = FrontProxyCert { chain: vec![client.cert_der.clone()], key: client.key_der() };

        // Test binaries using this helper also declare `mod support;` (for its port allocation).
        let port = crate::support::free_port();
        let log = std::fs::File::create(dir.join("stderr.log")).unwrap();
        // A flag given in `extra` replaces the default instead of repeating it.
        let defaults: Vec<&str> = ["--metric-resolution=10s", "--kubelet-request-timeout=5s"]
            .into_iter()
            .filter(|d| !extra.iter().any(|e| e.split('=').next() == d.split('=').next()))
            .collect();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubestate"))
            .arg("metrics-server")
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--secure-port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--cert-dir={}", dir.display()))
            .args(defaults)
            .arg("--kubelet-preferred-address-types=InternalIP")
            .arg("--kubelet-use-node-status-port")
            // Unless the test chose another way to talk to kubelets.
            .args(
                (!extra
                    .iter()
                    .any(|e| e.starts_with("--kubelet-insecure-tls") || e.starts_with("--deprecated-kubelet")))
                .then(|| format!("--kubelet-certificate-authority={}", kubelet_ca.display())),
            )
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let mut ms = SimMetricsServer { port, pid, front, child, dir };
        let start = std::time::Instant::now();
        loop {
            ms.assert_running();
            if let Ok((status, _)) = get(port, "/healthz", Cred::None, &ms.front).await
                && status == probe
            {
                return ms;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "metrics-server did not start serving");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// GET as a front-proxied cluster admin.
    pub async fn admin(&self, path: &str) -> anyhow::Result<(u16, String)> {
        get(self.port, path, Cred::FrontProxy("admin", "system:masters"), &self.front).await
    }

    /// GET as admin that must answer 200 with JSON.
    pub async fn admin_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.admin(path).await.unwrap_or_else(|e| panic!("GET {path}: {e:#}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Polls the list at `path` until `want` holds for its items, failing after `limit`.
    pub async fn wait_items(
        &self,
        path: &str,
        limit: Duration,
        want: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let start = std::time::Instant::now();
        loop {
            let v = self.admin_json(path).await;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            if want(&items) {
                return items;
            }
            assert!(start.elapsed() < limit, "{path}: condition not met within {limit:?}; {} items", items.len());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// Fails (with the log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("metrics-server exited with {status}; log:\n{}", self.log());
        }
    }
}

impl Drop for SimMetricsServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            print_log_tail(&self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The ConfigMap kube-apiserver publishes for aggregated servers: trust `ca_pem` for front-proxy client
/// certificates named `front-proxy-client`, with the usual X-Remote-* headers.
pub fn front_proxy_configmap(ca_pem: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
        "data": {
            "requestheader-client-ca-file": ca_pem,
            "requestheader-allowed-names": "[\"front-proxy-client\"]",
            "requestheader-username-headers": "[\"X-Remote-User\"]",
            "requestheader-group-headers": "[\"X-Remote-Group\"]",
            "requestheader-extra-headers-prefix": "[\"X-Remote-Extra-\"]"
        }
    })
}
