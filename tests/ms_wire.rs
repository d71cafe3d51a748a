//! metrics-server on the wire, as the real binary answers: TLS flags, client certificates verified after
//! the handshake, encodings and compression, and hostile clients and kubelets that must not grow its
//! memory for good.

mod support;

mod ms_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kubelet_sim::insecure::AnyServerCert;
use kubelet_sim::pki::TestCa;
use ms_support::{FrontProxyCert, ReviewHook, SimMetricsServer, request};
use rustls::pki_types::ServerName;
use support::rss_kib;

const NODES: &str = "/apis/metrics.k8s.io/v1beta1/nodes";
const PODS: &str = "/apis/metrics.k8s.io/v1beta1/pods";

/// A synthetic cluster whose TokenReviews and SubjectAccessReviews go to [`ReviewHook`].
async fn cluster(nodes: usize, pods_per_node: usize) -> kube_sim::SimHandle {
    ms_support::synthetic_cluster(nodes, pods_per_node, vec![Arc::new(ReviewHook)]).await
}

fn admin_headers() -> [(&'static str, &'static str); 2] {
    [("x-remote-user", "admin"), ("x-remote-group", "system:masters")]
}

/// A TLS handshake with a client limited to `versions` and `suites`; returns the server's leaf
/// certificate, or `None` when the server refused.
async fn handshake(
    port: u16,
    sni: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    suites: Option<Vec<rustls::SupportedCipherSuite>>,
) -> Option<rustls::pki_types::CertificateDer<'static>> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(s) = suites {
        provider.cipher_suites = s;
    }
    let provider = Arc::new(provider);
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.ok()?;
    tls.get_ref().1.peer_certificates().map(|c| c[0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_flags_client_certificates_and_encodings() {
    let sim = cluster(2, 3).await;
    let dir = std::env::temp_dir().join(format!("ms-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = scopeguard(dir.clone());

    // Bad TLS flags stop the start with one clear error each (exit 1).
    for (flag, want) in [
        ("--tls-min-version=VersionTLS99", "unknown tls version \"VersionTLS99\""),
        ("--tls-min-version=VersionTLS10", "TLS 1.2 and 1.3 only"),
        (
            "--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_128_CBC_SHA is not served by this server",
        ),
        ("--tls-cipher-suites=TLS_NOT_A_SUITE", "cipher suite TLS_NOT_A_SUITE not supported or doesn't exist"),
        ("--tls-sni-cert-key=only-one-file.crt", "expected comma separated certificate and key file paths"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubestate"))
            .args(["metrics-server", flag])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag}: {stderr}");
        assert!(stderr.contains(want), "{flag}: {stderr}");
    }

    // --tls-min-version=VersionTLS13, a cipher list, and an SNI certificate, on one server.
    let sni_ca = TestCa::new("sni-ca").unwrap();
    let sni = sni_ca.issue_server(&["metrics.example.com"]).unwrap();
    std::fs::write(dir.join("sni.crt"), &sni.cert_pem).unwrap();
    std::fs::write(dir.join("sni.key"), &sni.key_pem).unwrap();
    let sni_flag = format!("--tls-sni-cert-key={},{}", dir.join("sni.crt").display(), dir.join("sni.key").display());
    let ms13 = SimMetricsServer::start(&sim, &["--tls-min-version=VersionTLS13", &sni_flag]).await;
    let tls12 = [&rustls::version::TLS12];
    let tls13 = [&rustls::version::TLS13];
    assert!(handshake(ms13.port, "localhost", &tls12, None).await.is_none(), "TLS 1.2 accepted");
    let default_cert = handshake(ms13.port, "localhost", &tls13, None).await.expect("TLS 1.3 refused");
    let by_sni = handshake(ms13.port, "metrics.example.com", &tls13, None).await.unwrap();
    assert_eq!(by_sni, sni.cert_der, "SNI certificate not served");
    assert_ne!(default_cert, sni.cert_der);
    drop(ms13);

    use rustls::crypto::ring::cipher_suite as cs;
    let ms12 = SimMetricsServer::start(&sim, &["--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]).await;
    let only = |s: rustls::SupportedCipherSuite| Some(vec![s]);
    assert!(
        handshake(ms12.port, "localhost", &tls12, only(cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)).await.is_none()
    );
    assert!(
        handshake(ms12.port, "localhost", &tls12, only(cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)).await.is_some()
    );
    // TLS 1.3 suites are not restricted, as in Go.
    assert!(handshake(ms12.port, "localhost", &tls13, only(cs::TLS13_AES_128_GCM_SHA256)).await.is_some());
    drop(ms12);

    let ms = SimMetricsServer::start(&sim, &[]).await;
    // A client certificate from a CA nobody trusts: the handshake completes, the token still works,
    // and without a token the request fails authentication (401, never anonymous).
    let stranger_ca = TestCa::new("stranger-ca").unwrap();
    let c = stranger_ca.issue_client("front-proxy-client", None).unwrap();
    let stranger = FrontProxyCert { chain: vec![c.cert_der.clone()], key: c.key_der() };
    let r = request(ms.port, NODES, Some(&stranger), &[("authorization", "Bearer alice-token")]).await;
    assert_eq!(r.status(), 200, "{:?}", r.body());
    let r = request(ms.port, "/healthz", Some(&stranger), &[]).await;
    assert_eq!(r.status(), 401);
    assert!(String::from_utf8_lossy(r.body()).contains("\"reason\":\"Unauthorized\""));
    let r = request(ms.port, NODES, Some(&stranger), &admin_headers()).await;
    assert_eq!(r.status(), 401, "identity headers from an untrusted certificate");
    // Without any certificate, /healthz is anonymous and always allowed.
    assert_eq!(request(ms.port, "/healthz", None, &[]).await.status(), 200);

    // Encodings over the wire (front-proxied admin).
    let front = Some(&ms.front);
    let r = request(
        ms.port,
        NODES,
        front,
        &[admin_headers()[0], admin_headers()[1], ("accept", "application/vnd.kubernetes.protobuf, */*")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/vnd.kubernetes.protobuf");
    assert!(r.body().starts_with(b"k8s\0\x0a"), "no protobuf envelope");
    assert_eq!(r.headers()["cache-control"], "no-cache, private");
    let r = request(ms.port, NODES, front, &[admin_headers()[0], admin_headers()[1], ("accept", "text/html")]).await;
    assert_eq!(r.status(), 406);
    assert!(String::from_utf8_lossy(r.body()).contains("only the following media types are accepted"));
    let r =
        request(ms.port, NODES, front, &[admin_headers()[0], admin_headers()[1], ("accept", "application/json")]).await;
    assert!(r.body().ends_with(b"}\n"), "JSON without its trailing newline");

    // OpenAPI as the aggregator downloads it: JSON with an ETag, then 304 for the same ETag.
    let r = request(
        ms.port,
        "/openapi/v2",
        front,
        &[admin_headers()[0], admin_headers()[1], ("accept", "application/json")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let v2: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v2["swagger"], "2.0");
    assert!(v2["definitions"]["io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"].is_object());
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = request(ms.port, "/openapi/v2", front, &[admin_headers()[0], admin_headers()[1], ("if-none-match", &etag)])
        .await;
    assert_eq!(r.status(), 304);
    drop(ms);

    // --anonymous-auth=false: no credentials, no answer but 401, probes included.
    let strict = SimMetricsServer::start_with_probe(&sim, &["--anonymous-auth=false"], 401).await;
    let r = request(strict.port, "/healthz", None, &[]).await;
    assert_eq!(r.status(), 401);
    assert_eq!(request(strict.port, NODES, None, &[("authorization", "Bearer alice-token")]).await.status(), 200);
}

/// Removes a directory when dropped.
fn scopeguard(dir: std::path::PathBuf) -> impl Drop {
    struct D(std::path::PathBuf);
    impl Drop for D {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    D(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_lists_are_gzipped_for_clients_that_take_it() {
    // About 1,000 running pods: the pod list is well over the 128 KiB threshold.
    let sim = cluster(10, 100).await;
    let ms = SimMetricsServer::start(&sim, &[]).await;
    ms.wait_items(PODS, Duration::from_secs(60), |items| items.len() > 500).await;
    let front = Some(&ms.front);
    let plain = request(ms.port, PODS, front, &admin_headers()).await;
    assert!(plain.body().len() > 128 * 1024, "{} bytes", plain.body().len());
    assert!(plain.headers().get("content-encoding").is_none());
    let zipped =
        request(ms.port, PODS, front, &[admin_headers()[0], admin_headers()[1], ("accept-encoding", "gzip")]).await;
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "Accept-Encoding");
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(zipped.body().as_ref()), &mut text).unwrap();
    let a: serde_json::Value = serde_json::from_slice(plain.body()).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(a["items"].as_array().unwrap().len(), b["items"].as_array().unwrap().len());
    assert!(zipped.body().len() * 3 < plain.body().len(), "{} -> {}", plain.body().len(), zipped.body().len());
    // Small answers stay plain.
    let small = request(
        ms.port,
        "/apis/metrics.k8s.io/v1beta1",
        front,
        &[admin_headers()[0], admin_headers()[1], ("accept-encoding", "gzip")],
    )
    .await;
    assert!(small.headers().get("content-encoding").is_none());
}

/// A kubelet on plain HTTP that answers every scrape with an endless stream of distinct pods.
async fn hostile_kubelet() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let mut sent = 0usize;
                let mut n = 0u64;
                while sent < 100 << 20 {
                    let mut chunk = String::with_capacity(64 << 10);
                    while chunk.len() < 60 << 10 {
                        chunk.push_str(&format!(
                            "container_memory_working_set_bytes{{container=\"c\",namespace=\"flood\",pod=\"pod-{n:012}\"}} 1 1\n"
                        ));
                        n += 1;
                    }
                    if s.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tokens_and_kubelets_do_not_grow_memory_for_good() {
    let sim = cluster(2, 3).await;
    let hostile = hostile_kubelet().await;
    // Plain HTTP to kubelets (the simulated ones then fail too; only the hostile one matters).
    let mut ms = SimMetricsServer::start(&sim, &["--deprecated-kubelet-completely-insecure"]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let baseline = rss_kib(ms.pid);

    // 1,000 distinct 200 KiB bearer tokens, none valid: only digests may be cached.
    let mut token = "t".repeat(200 << 10);
    for i in 0..1000 {
        token.truncate(200 << 10);
        token.push_str(&i.to_string());
        let r = request(ms.port, NODES, None, &[("authorization", &format!("Bearer {token}"))]).await;
        assert_eq!(r.status(), 401, "token {i}: {}", String::from_utf8_lossy(r.body()));
    }
    let after_tokens = rss_kib(ms.pid);
    eprintln!("RSS {baseline} KiB -> {after_tokens} KiB after 1,000 distinct 200 KiB tokens");
    assert!(after_tokens < baseline + 40 * 1024, "tokens grew RSS from {baseline} to {after_tokens} KiB");

    // A node whose kubelet streams 100 MB of lines naming ever new pods.
    sim.store()
        .create(serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "hostile"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": hostile}}}
        }))
        .unwrap();
    // Three scrape ticks (10 s each) with the flood, then time for the memory to be handed back.
    let start = Instant::now();
    let metrics = loop {
        let (_, text) = ms.admin("/metrics").await.unwrap();
        let scrapes: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("metrics_server_kubelet_request_duration_seconds_count{node=\"hostile\"} "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if scrapes >= 3.0 {
            break text;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the hostile node was not scraped:\n{text}");
        ms.assert_running();
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(metrics.contains("metrics_server_kubelet_last_request_time_seconds{node=\"hostile\"}"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_flood = rss_kib(ms.pid);
    eprintln!("RSS {after_tokens} KiB -> {after_flood} KiB after three scrapes of a 100 MB hostile kubelet");
    assert!(
        after_flood < after_tokens + 30 * 1024,
        "hostile kubelet grew RSS from {after_tokens} to {after_flood} KiB"
    );
    ms.assert_running();
}
