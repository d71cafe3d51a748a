//! Load and abuse: the real `kubestate kube-state-metrics` binary against a synthetic kube-sim cluster under
//! concurrent scrapes, slow or vanishing readers, and malformed requests on the main port.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::{Cluster, Ksm, get, rejected, rss_kib, send_and_read, try_get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A synthetic cluster of `nodes * pods_per_node` pods without simulated kubelets.
async fn synthetic_cluster(nodes: usize, pods_per_node: usize) -> Cluster {
    let cfg = kube_sim::SimConfig {
        kubelets: false,
        seed: 7,
        synthetic: Some(kube_sim::SyntheticConfig { nodes, pods_per_node, namespaces: 5, ..Default::default() }),
        ..Default::default()
    };
    Cluster::start_with(cfg, &[]).await
}

/// Series identities (name and labels, values ignored) of an exposition body.
fn series_set(body: &str) -> BTreeSet<(String, Vec<(String, String)>)> {
    let samples = exposition::parse_text(body).unwrap_or_else(|e| panic!("scrape does not parse: {e}"));
    samples.into_iter().map(|s| (s.name, s.labels)).collect()
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM` for the peak).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':'))).expect("field");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// 50 concurrent scrapes of a `nodes * pods_per_node`-pod cluster served with `args`: every scrape names
/// the same series as a single one, none takes long, and the process does not keep the bodies.
async fn concurrent_scrapes(nodes: usize, pods_per_node: usize, args: &[&str]) {
    let t0 = Instant::now();
    let c = synthetic_cluster(nodes, pods_per_node).await;
    let mut k = Ksm::spawn(&c.kubeconfig, args);
    k.wait_ready().await;
    let pid = k.pid();

    let single = k.scrape("/metrics").await;
    let want = series_set(&single);
    eprintln!("ready, scraped and parsed after {:?}", t0.elapsed());
    let pods: BTreeSet<(&str, &str)> = want
        .iter()
        .filter(|(n, _)| n == "kube_pod_info")
        .map(|(_, l)| {
            let get = |k: &str| l.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap();
            (get("namespace"), get("pod"))
        })
        .collect();
    assert_eq!(pods.len(), nodes * pods_per_node, "every synthetic pod has a kube_pod_info series");
    let rss_before = rss_kib(pid);

    let started = Instant::now();
    let url = k.url("/metrics");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { get_patiently(&url).await })
        })
        .collect();
    let mut reparsed = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200);
        // Byte-identical bodies parse to identical series, and parsing megabytes in a debug build takes
        // most of a second, so only a body that differs in bytes is parsed and compared as a set (values
        // and order may legitimately differ; names and labels may not).
        if r.body != single.as_bytes() {
            reparsed += 1;
            assert!(series_set(&r.text()) == want, "a concurrent scrape differs from the single one");
        }
    }
    let burst = started.elapsed();
    eprintln!(
        "{} pods: body {} bytes, {} series; 50 scrapes in {burst:?}, {reparsed} differed in bytes",
        pods.len(),
        single.len(),
        want.len()
    );
    assert!(burst < Duration::from_secs(150), "50 scrapes took {burst:?}");

    // Each in-flight scrape may hold one rendered body, but once the burst is over the process must not
    // keep them: 3x the settled size plus 64 MiB of allocator slack stays far below 50 retained bodies,
    // yet is loose enough for allocator arenas that keep freed memory.
    let rss_after = rss_kib(pid);
    let body_kib = single.len() as u64 / 1024;
    let bound = (3 * rss_before).min(rss_before + 3 * body_kib) + 64 * 1024;
    assert!(
        rss_after < bound,
        "VmRSS {rss_after} KiB after the burst, {rss_before} KiB before (bound {bound} KiB); body {body_kib} KiB"
    );
    // During the burst: 50 scrapes in flight must not mean 50 bodies in memory at once.
    let peak = status_kib(pid, "VmHWM");
    let peak_bound = rss_before + 8 * body_kib + 128 * 1024;
    assert!(peak < peak_bound, "peak VmRSS {peak} KiB during 50 scrapes (bound {peak_bound} KiB); body {body_kib} KiB");
    k.assert_running();
    eprintln!("RSS {rss_before} KiB before, {rss_after} KiB after, peak {peak} KiB; whole test {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_agree_and_memory_stays_bounded() {
    // 40 nodes x 50 pods = 2,000 pods.
    concurrent_scrapes(40, 50, &["--resources=pods,nodes,namespaces"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_at_10000_pods() {
    // 100 nodes x 100 pods = 10,000 pods. Pods alone: the other resources add nothing per pod, and every
    // pod family would make a body of about 70 MB that a debug build takes minutes to serve 50 times.
    concurrent_scrapes(100, 100, &["--resources=pods"]).await;
}

/// A whole GET with a generous limit: with 50 scrapes of tens of megabytes competing for two cores (and
/// a debug build), a scrape's headers can take longer than the usual client allows.
async fn get_patiently(url: &str) -> support::Resp {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let run = async {
        let resp = client.get(url.parse().unwrap()).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap_or_else(|e| panic!("GET {url}: body: {e}")).to_bytes();
        support::Resp { status: parts.status.as_u16(), headers: parts.headers, body }
    };
    tokio::time::timeout(Duration::from_secs(150), run).await.unwrap_or_else(|_| panic!("GET {url}: over 150 s"))
}

/// Sends a GET for `path` on a raw connection.
async fn raw_request(port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_and_hang_ups_do_not_block_others() {
    let c = synthetic_cluster(10, 50).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=pods,nodes"]);
    k.wait_ready().await;
    let full = k.scrape("/metrics").await;
    // The body must be far bigger than what the socket buffers absorb, or a stalled reader would never
    // make a writer wait.
    assert!(full.len() > 1 << 20, "body only {} bytes", full.len());

    let mut stalled = Vec::new();
    for _ in 0..10 {
        let mut s = raw_request(k.port, "/metrics").await;
        let mut buf = [0u8; 1024];
        s.read_exact(&mut buf).await.unwrap();
        assert!(buf.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..64]));
        stalled.push(s);
    }
    for _ in 0..10 {
        let mut s = raw_request(k.port, "/metrics").await;
        let mut buf = [0u8; 1024];
        s.read_exact(&mut buf).await.unwrap();
        drop(s);
    }

    let r = tokio::time::timeout(Duration::from_secs(15), get(&k.url("/metrics"), &[]))
        .await
        .expect("a normal scrape completes while 10 readers stall");
    assert_eq!(r.status, 200);
    assert_eq!(series_set(&r.text()), series_set(&full));
    let h = get(&k.url("/healthz"), &[]).await;
    assert_eq!((h.status, h.text().as_str()), (200, "OK"));
    k.assert_running();
    drop(stalled);
    k.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_rejected_without_a_crash() {
    let c = synthetic_cluster(2, 5).await;
    let mut k = Ksm::spawn(&c.kubeconfig, &["--resources=pods"]);
    k.wait_ready().await;

    rejected("garbage", send_raw(k.port, b"\x00\xff\x13 not http at all\r\n\r\n").await);

    let long = format!("GET /metrics?{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100 * 1024));
    rejected("100 KiB request line", send_raw(k.port, long.as_bytes()).await);

    let mut many = String::from("GET /metrics HTTP/1.1\r\nHost: x\r\n");
    for i in 0..10_000 {
        many += &format!("X-H{i}: v\r\n");
    }
    many += "\r\n";
    rejected("10,000 headers", send_raw(k.port, many.as_bytes()).await);

    let overflow = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    rejected("Content-Length beyond u64", send_raw(k.port, overflow).await);

    // A valid but huge length on a GET: the server may answer before reading the body (it has no use for
    // it) or refuse; either way it must not hang waiting for 1 TB.
    let huge = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n";
    let resp = send_raw(k.port, huge).await;
    let resp = resp.expect("huge Content-Length: no answer and connection left open for 10 s");
    let head = String::from_utf8_lossy(&resp[..resp.len().min(200)]).into_owned();
    assert!(
        resp.is_empty() || head.starts_with("HTTP/1.1 4") || head.starts_with("HTTP/1.1 200"),
        "huge Content-Length: {head}"
    );

    k.assert_running();
    let r = try_get(&k.url("/metrics"), &[]).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("kube_pod_info{"), "{}", r.text());
}

/// Writes `bytes` on a fresh connection to `port` (see [`send_and_read`]).
async fn send_raw(port: u16, bytes: &[u8]) -> Option<Vec<u8>> {
    send_and_read(TcpStream::connect(("127.0.0.1", port)).await.unwrap(), bytes).await
}
