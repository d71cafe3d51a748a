//! End to end: `kubestate kube-state-metrics` with `--tls-config` (TLS, client certificates, basic auth,
//! headers) and `--auth-filter` (TokenReview + SubjectAccessReview), against kube-sim.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use kube_sim::tls::TlsMaterial;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use support::{Cluster, Ksm, TempDir, get, try_get};

/// `scrape-pw` hashed with bcrypt cost 4 by libxcrypt (not by the crate under test).
const SCRAPE_PW_HASH: &str = "$2b$04$U8bCVva5oW1Woui0eWZRLOBCSafMBZUdDGw344s1fqI7I9dGKnmQu";

fn cm(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2024-01-02T03:04:05Z"},
        "data": {"k": "v"}
    })
}

struct HttpsResp {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

/// A TLS client trusting `ca_pem`, presenting `client` (cert PEM, key PEM) when given.
fn tls_client(ca_pem: &str, client: Option<(&str, &str)>) -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let cfg = match client {
        Some((cert, key)) => b
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<_, _>>().map_err(|e| e.to_string())?,
                PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?,
        None => b.with_no_client_auth(),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// One GET over TLS trusting `ca_pem`, presenting `client` (cert PEM, key PEM) when given.
async fn https_get(
    port: u16,
    path: &str,
    ca_pem: &str,
    client: Option<(&str, &str)>,
    headers: &[(&str, &str)],
) -> Result<HttpsResp, String> {
    let cfg = tls_client(ca_pem, client)?;
    let fut = async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
        let tls = cfg.connect(name, tcp).await.map_err(|e| format!("handshake: {e}"))?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| format!("http: {e}"))?;
        tokio::spawn(conn);
        let mut req = http::Request::get(path).header("host", format!("127.0.0.1:{port}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = send
            .send_request(req.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
        Ok(HttpsResp { status, headers: parts.headers, body: String::from_utf8_lossy(&body).into_owned() })
    };
    tokio::time::timeout(Duration::from_secs(20), fut).await.map_err(|_| "timed out".to_string())?
}

/// Waits until `/readyz` answers 200 over TLS.
async fn wait_ready_tls(k: &mut Ksm, ca: &str, client: Option<(&str, &str)>, headers: &[(&str, &str)]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        k.assert_running();
        if let Ok(r) = https_get(k.port, "/readyz", ca, client, headers).await
            && r.status == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "not ready over TLS after 30 s; log:\n{}", k.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Server certificate (from a kube-sim CA, valid for 127.0.0.1) written next to a web config.
fn write_server_pki(dir: &TempDir) -> TlsMaterial {
    let m = TlsMaterial::generate(&[]).unwrap();
    std::fs::write(dir.path().join("server.crt"), &m.cert_pem).unwrap();
    std::fs::write(dir.path().join("server.key"), &m.key_pem).unwrap();
    m
}

#[tokio::test]
async fn tls_requires_client_certificates_on_both_ports() {
    let cluster = Cluster::start(&[cm("one")]).await;
    let dir = TempDir::new("ksm-mtls");
    let server = write_server_pki(&dir);
    // A CA with a client-auth certificate: kube-sim's front-proxy PKI.
    let clients = TlsMaterial::front_proxy(None).unwrap();
    std::fs::write(dir.path().join("clients-ca.crt"), &clients.ca_pem).unwrap();
    let web = dir.path().join("web.yaml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: clients-ca.crt\n  \
         client_auth_type: RequireAndVerifyClientCert\n",
    )
    .unwrap();
    let mut k =
        Ksm::spawn(&cluster.kubeconfig, &[&format!("--tls-config={}", web.display()), "--resources=configmaps"]);
    let cert = Some((clients.cert_pem.as_str(), clients.key_pem.as_str()));
    wait_ready_tls(&mut k, &server.ca_pem, cert, &[]).await;

    let r = https_get(k.port, "/metrics", &server.ca_pem, cert, &[]).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("kube_configmap_info{namespace=\"default\",configmap=\"one\"} 1"), "{}", r.body);
    let t = https_get(k.telemetry_port, "/metrics", &server.ca_pem, cert, &[]).await.unwrap();
    assert_eq!(t.status, 200);
    assert!(t.body.contains("kube_state_metrics_total_shards 1"), "{}", t.body);

    // No client certificate: refused during the handshake, on both ports.
    for port in [k.port, k.telemetry_port] {
        let e = https_get(port, "/metrics", &server.ca_pem, None, &[]).await.err();
        assert!(e.is_some(), "port {port} answered without a client certificate");
    }
    // A certificate from another CA is refused too (the server's own CA signs no client certs here).
    let stranger = TlsMaterial::front_proxy(None).unwrap();
    let e = https_get(k.port, "/metrics", &server.ca_pem, Some((&stranger.cert_pem, &stranger.key_pem)), &[]).await;
    assert!(e.is_err(), "accepted a client certificate of an unknown CA");
    // Plain HTTP gets no answer.
    assert!(try_get(&k.url("/metrics"), &[]).await.is_err());
}

#[tokio::test]
async fn basic_auth_and_headers_over_tls() {
    let cluster = Cluster::start(&[cm("one")]).await;
    let dir = TempDir::new("ksm-basic");
    let server = write_server_pki(&dir);
    let web = dir.path().join("web.yaml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\n\
             basic_auth_users:\n  prometheus: '{SCRAPE_PW_HASH}'\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n    \
             Content-Security-Policy: default-src 'none'\n"
        ),
    )
    .unwrap();
    let mut k =
        Ksm::spawn(&cluster.kubeconfig, &[&format!("--tls-config={}", web.display()), "--resources=configmaps"]);
    // prometheus:scrape-pw
    let good = [("authorization", "Basic cHJvbWV0aGV1czpzY3JhcGUtcHc=")];
    wait_ready_tls(&mut k, &server.ca_pem, None, &good).await;

    let r = https_get(k.port, "/metrics", &server.ca_pem, None, &good).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("kube_configmap_info{namespace=\"default\",configmap=\"one\"} 1"), "{}", r.body);
    assert_eq!(r.headers.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(r.headers.get("content-security-policy").unwrap(), "default-src 'none'");

    // prometheus:wrong, and no credentials: 401 on every path of both ports, headers still set.
    let wrong = [("authorization", "Basic cHJvbWV0aGV1czp3cm9uZw==")];
    for (port, path) in [(k.port, "/metrics"), (k.port, "/healthz"), (k.telemetry_port, "/metrics")] {
        for h in [&wrong[..], &[]] {
            let r = https_get(port, path, &server.ca_pem, None, h).await.unwrap();
            assert_eq!(r.status, 401, "{port}{path} {h:?}");
            assert_eq!(r.headers.get("www-authenticate").unwrap(), "Basic");
            assert_eq!(r.headers.get("x-content-type-options").unwrap(), "nosniff");
        }
    }
    let t = https_get(k.telemetry_port, "/metrics", &server.ca_pem, None, &good).await.unwrap();
    assert_eq!(t.status, 200);
    assert!(t.body.contains("kube_state_metrics_shard_ordinal"), "{}", t.body);
}

#[tokio::test]
async fn bad_web_config_fails_startup_naming_file_and_field() {
    let cluster = Cluster::start(&[]).await;
    let dir = TempDir::new("ksm-badweb");
    write_server_pki(&dir);
    let web = dir.path().join("web.yaml");
    std::fs::write(&web, "tls_server_config:\n  cert_file: server.crt\n  key_file: missing.key\n").unwrap();
    let mut k = Ksm::spawn(&cluster.kubeconfig, &[&format!("--tls-config={}", web.display())]);
    let (code, log) = k.wait_exit(Duration::from_secs(20));
    assert_ne!(code, Some(0), "{log}");
    assert!(log.contains(&web.display().to_string()), "{log}");
    assert!(log.contains("tls_server_config.key_file"), "{log}");
}

/// Answers TokenReviews (`alice-token` → alice, `bob-token` → bob, `broken-token` → HTTP 500, anything
/// else unauthenticated) and SubjectAccessReviews (only alice, only `get` on `/metrics`).
struct Reviews {
    token_reviews: AtomicUsize,
}

fn created(v: Value) -> http::Response<kube_sim::Body> {
    let mut r = http::Response::new(Full::new(Bytes::from(v.to_string())).map_err(|e| match e {}).boxed());
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    *r.status_mut() = http::StatusCode::CREATED;
    r
}

impl kube_sim::RouteHook for Reviews {
    fn route(
        &self,
        req: &kube_sim::HookRequest,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = http::Response<kube_sim::Body>> + Send>>> {
        if req.method != http::Method::POST {
            return None;
        }
        let body: Value = serde_json::from_slice(&req.body).ok()?;
        if req.path == "/apis/authentication.k8s.io/v1/tokenreviews" {
            self.token_reviews.fetch_add(1, Ordering::SeqCst);
            let token = body["spec"]["token"].as_str().unwrap_or("");
            if token == "broken-token" {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "etcd is down", "reason": "InternalError", "code": 500});
                let mut r = created(status);
                *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                return Some(Box::pin(async move { r }));
            }
            let status = match token {
                "alice-token" => json!({"authenticated": true, "user": {"username": "alice", "groups": ["scrapers"]}}),
                "bob-token" => json!({"authenticated": true, "user": {"username": "bob", "groups": ["devs"]}}),
                _ => json!({"authenticated": false, "error": "unknown token"}),
            };
            let out = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                "metadata": {}, "spec": body["spec"], "status": status});
            return Some(Box::pin(async move { created(out) }));
        }
        if req.path == "/apis/authorization.k8s.io/v1/subjectaccessreviews" {
            let spec = &body["spec"];
            let allowed = spec["user"] == "alice"
                && spec["groups"] == json!(["scrapers"])
                && spec["nonResourceAttributes"] == json!({"path": "/metrics", "verb": "get"})
                && spec["resourceAttributes"].is_null();
            let out = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "metadata": {}, "spec": spec, "status": {"allowed": allowed}});
            return Some(Box::pin(async move { created(out) }));
        }
        None
    }
}

/// kube-sim answering reviews as [`Reviews`] does, and a ready kube-state-metrics with `--auth-filter`.
async fn with_auth_filter() -> (Arc<Reviews>, Cluster, Ksm) {
    let reviews = Arc::new(Reviews { token_reviews: AtomicUsize::new(0) });
    let cfg = kube_sim::SimConfig { hooks: vec![reviews.clone()], ..kube_sim::SimConfig::default() };
    let cluster = Cluster::start_with(cfg, &[cm("one")]).await;
    let mut k = Ksm::spawn(&cluster.kubeconfig, &["--auth-filter", "--resources=configmaps"]);
    k.wait_ready().await;
    (reviews, cluster, k)
}

#[tokio::test]
async fn auth_filter_guards_both_metrics_endpoints() {
    let (reviews, _cluster, k) = with_auth_filter().await;

    let bearer = |t: &str| format!("Bearer {t}");
    // The overview page and its JSON show what /metrics holds: guarded, and authorized, as /metrics.
    for url in [k.url("/metrics"), k.telemetry_url("/metrics"), k.url("/"), k.url("/overview.json")] {
        assert_eq!(get(&url, &[]).await.status, 401, "{url} without a token");
        let r = get(&url, &[("authorization", bearer("nobody-token").as_str())]).await;
        assert_eq!(r.status, 401, "{url} unknown token");
        let r = get(&url, &[("authorization", bearer("bob-token").as_str())]).await;
        assert_eq!(r.status, 403, "{url} denied user");
        let r = get(&url, &[("authorization", bearer("alice-token").as_str())]).await;
        assert_eq!(r.status, 200, "{url} allowed user");
        assert!(!r.text().is_empty());
        let r = get(&url, &[("authorization", bearer("broken-token").as_str())]).await;
        assert_eq!(r.status, 503, "{url} API failure");
        assert!(r.text().contains("auth filter unavailable"), "{}", r.text());
    }
    let alice = [("authorization", "Bearer alice-token")];
    let r = get(&k.url("/metrics"), &alice).await;
    assert!(r.text().contains("kube_configmap_info{namespace=\"default\",configmap=\"one\"} 1"), "{}", r.text());
    // Health endpoints stay open for probes.
    assert_eq!(get(&k.url("/healthz"), &[]).await.status, 200);
    assert_eq!(get(&k.telemetry_url("/readyz"), &[]).await.status, 200);

    // Decisions are cached: more scrapes with known tokens cost no more TokenReviews, while the
    // failing one (never cached) is asked again.
    let before = reviews.token_reviews.load(Ordering::SeqCst);
    for _ in 0..3 {
        assert_eq!(get(&k.url("/metrics"), &alice).await.status, 200);
        assert_eq!(get(&k.url("/metrics"), &[("authorization", "Bearer bob-token")]).await.status, 403);
    }
    assert_eq!(reviews.token_reviews.load(Ordering::SeqCst), before);
    assert_eq!(get(&k.url("/metrics"), &[("authorization", "Bearer broken-token")]).await.status, 503);
    assert_eq!(reviews.token_reviews.load(Ordering::SeqCst), before + 1);
}

/// 1,000 unauthenticated clients, each with its own 200 KiB bearer token: the decision cache keeps a
/// fixed-size digest per token, so the server's memory does not grow by the tokens' size (keyed by
/// the raw token it grew by 211 MiB).
#[tokio::test]
async fn auth_filter_memory_does_not_grow_with_distinct_large_tokens() {
    let (reviews, _cluster, mut k) = with_auth_filter().await;
    let url = Arc::new(k.url("/metrics"));
    let padding = Arc::new("x".repeat(200 * 1024));
    let flood = |from: usize, to: usize| {
        let (url, padding) = (url.clone(), padding.clone());
        async move {
            let next = Arc::new(AtomicUsize::new(from));
            let mut clients = tokio::task::JoinSet::new();
            for _ in 0..8 {
                let (url, padding, next) = (url.clone(), padding.clone(), next.clone());
                clients.spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= to {
                            return;
                        }
                        let h = format!("Bearer t{i:06}{padding}");
                        assert_eq!(get(&url, &[("authorization", h.as_str())]).await.status, 401);
                    }
                });
            }
            while let Some(r) = clients.join_next().await {
                r.unwrap();
            }
        }
    };
    // A first round brings the request path's own buffers to their working size.
    flood(0, 50).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = support::rss_kib(k.pid());
    flood(50, 1050).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = support::rss_kib(k.pid());
    k.assert_running();
    // Every token was really reviewed (none answered from a cache by mistake).
    assert_eq!(reviews.token_reviews.load(Ordering::SeqCst), 1050);
    let grown_mib = after.saturating_sub(before) / 1024;
    eprintln!("RSS {before} → {after} KiB after 1,000 distinct 200 KiB tokens");
    assert!(grown_mib < 40, "RSS grew by {grown_mib} MiB ({before} → {after} KiB) for 1,000 distinct tokens");
}

/// Opens `n` connections to `port` that never send a byte; returns how long each stayed open (or 30 s
/// if the server kept it that long).
async fn silent_connections(port: u16, n: usize, tls: Option<tokio_rustls::TlsConnector>) -> Vec<Duration> {
    use tokio::io::AsyncReadExt;
    let mut conns = tokio::task::JoinSet::new();
    for _ in 0..n {
        let tls = tls.clone();
        conns.spawn(async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
            let opened = Instant::now();
            let mut buf = [0u8; 256];
            let wait = async {
                match tls {
                    // Finish the handshake, then stay silent.
                    Some(c) => {
                        let name = ServerName::try_from("127.0.0.1").unwrap();
                        let mut s = c.connect(name, tcp).await.expect("handshake");
                        while let Ok(n) = s.read(&mut buf).await
                            && n > 0
                        {}
                    }
                    None => {
                        let mut s = tcp;
                        while let Ok(n) = s.read(&mut buf).await
                            && n > 0
                        {}
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(30), wait).await;
            opened.elapsed()
        });
    }
    let mut held = Vec::new();
    while let Some(r) = conns.join_next().await {
        held.push(r.unwrap());
    }
    held.sort();
    held
}

fn assert_closed_within(what: &str, held: &[Duration], min: Duration, max: Duration) {
    let (first, last) = (held[0], held[held.len() - 1]);
    assert!(first >= min, "{what}: a silent connection was closed after {first:?}, before the {min:?} timeout");
    assert!(last <= max, "{what}: a silent connection was held {last:?} (bound {max:?})");
}

/// Connections that never send a byte are closed at the header timeout on both ports (upstream: 5 s by
/// default on the main port, a fixed 5 s on telemetry), not held for the idle timeout or forever.
#[tokio::test]
async fn silent_connections_are_closed_at_the_header_timeout() {
    let cluster = Cluster::start(&[cm("one")]).await;
    let mut k = Ksm::spawn(&cluster.kubeconfig, &["--resources=configmaps"]);
    k.wait_ready().await;
    let (main, tel) =
        tokio::join!(silent_connections(k.port, 200, None), silent_connections(k.telemetry_port, 200, None));
    let five = Duration::from_secs(5);
    assert_closed_within("main", &main, five - Duration::from_millis(100), five + Duration::from_secs(3));
    assert_closed_within("telemetry", &tel, five - Duration::from_millis(100), five + Duration::from_secs(3));
    // The server still answers afterwards.
    assert_eq!(get(&k.url("/metrics"), &[]).await.status, 200);
}

/// Over TLS, a client that completes the handshake and then sends nothing is closed at the header
/// timeout too (`--server-read-header-timeout` on the main port, 5 s on telemetry).
#[tokio::test]
async fn silent_tls_connections_are_closed_at_the_header_timeout() {
    let cluster = Cluster::start(&[cm("one")]).await;
    let dir = TempDir::new("ksm-silent-tls");
    let server = write_server_pki(&dir);
    let web = dir.path().join("web.yaml");
    std::fs::write(&web, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n").unwrap();
    let mut k = Ksm::spawn(
        &cluster.kubeconfig,
        &[&format!("--tls-config={}", web.display()), "--resources=configmaps", "--server-read-header-timeout=2s"],
    );
    wait_ready_tls(&mut k, &server.ca_pem, None, &[]).await;
    let c = tls_client(&server.ca_pem, None).unwrap();
    let (main, tel) = tokio::join!(
        silent_connections(k.port, 50, Some(c.clone())),
        silent_connections(k.telemetry_port, 50, Some(c))
    );
    let two = Duration::from_secs(2);
    assert_closed_within("main/TLS", &main, two - Duration::from_millis(100), two + Duration::from_secs(3));
    let five = Duration::from_secs(5);
    assert_closed_within("telemetry/TLS", &tel, five - Duration::from_millis(100), five + Duration::from_secs(3));
    // Raw TCP that never starts the handshake is bounded the same way.
    let raw = silent_connections(k.port, 20, None).await;
    assert_closed_within("main/no handshake", &raw, two - Duration::from_millis(100), two + Duration::from_secs(3));
}
