//! Load and abuse for metrics-server: the real `kubestate metrics-server` binary scraping the simulated
//! kubelets of a synthetic kube-sim cluster, under concurrent full lists, slow or vanishing readers, and
//! malformed requests on its HTTPS port.

mod support;

mod ms_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ms_support::{SimMetricsServer, tls_connect};
use serde_json::Value;
use support::{peak_rss_kib, rejected, rss_kib};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PODS: &str = "/apis/metrics.k8s.io/v1beta1/pods";
const NODES: &str = "/apis/metrics.k8s.io/v1beta1/nodes";

/// kube-sim and its kubelets on a runtime of their own: the test's clients parse megabytes of JSON, and
/// kubelets starved by them would miss metrics-server's scrapes and drop pods from the lists under test.
struct SimThread {
    sim: Option<kube_sim::SimHandle>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimThread {
    fn start(nodes: usize, pods_per_node: usize) -> SimThread {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                tx.send(cluster(nodes, pods_per_node).await).unwrap();
                let _ = stopped.await;
            });
        });
        SimThread { sim: Some(rx.recv().unwrap()), stop: Some(stop), thread: Some(thread) }
    }

    fn sim(&self) -> &kube_sim::SimHandle {
        self.sim.as_ref().unwrap()
    }
}

impl Drop for SimThread {
    fn drop(&mut self) {
        drop(self.sim.take());
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A synthetic cluster whose nodes all get simulated kubelets; every node is Ready.
async fn cluster(nodes: usize, pods_per_node: usize) -> kube_sim::SimHandle {
    ms_support::synthetic_cluster(nodes, pods_per_node, Vec::new()).await
}

/// (namespace, name) of every pod the simulated kubelets report: Running and bound to a node.
fn running_pods(sim: &kube_sim::SimHandle) -> BTreeSet<(String, String)> {
    sim.store()
        .list("v1", "Pod", None)
        .iter()
        .filter(|p| p["status"]["phase"] == "Running" && p["spec"]["nodeName"].is_string())
        .map(|p| (p["metadata"]["namespace"].as_str().unwrap().into(), p["metadata"]["name"].as_str().unwrap().into()))
        .collect()
}

fn pod_key(item: &Value) -> (String, String) {
    let m = &item["metadata"];
    (m["namespace"].as_str().unwrap_or_default().into(), m["name"].as_str().unwrap_or_default().into())
}

/// Identity of a list item: its key plus, for pods, the sorted container names.
fn identity(item: &Value) -> (String, String, Vec<String>) {
    let (ns, name) = pod_key(item);
    let mut cs: Vec<String> = item["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    cs.sort();
    (ns, name, cs)
}

/// Checks that `lists` (bodies of the same list endpoint) name the same items, and that items carrying
/// the same timestamp (the same scrape) report the same usage: a list is one consistent snapshot.
fn assert_lists_agree(what: &str, lists: &[Value]) -> BTreeSet<(String, String, Vec<String>)> {
    let first: BTreeSet<_> = lists[0]["items"].as_array().unwrap().iter().map(identity).collect();
    let mut usage_by_point: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for (i, l) in lists.iter().enumerate() {
        let items = l["items"].as_array().unwrap();
        let ids: BTreeSet<_> = items.iter().map(identity).collect();
        assert_eq!(ids.len(), items.len(), "{what} #{i}: duplicate items");
        assert!(ids == first, "{what} #{i}: item set differs from the first list");
        for it in items {
            let (ns, name) = pod_key(it);
            let ts = it["timestamp"].as_str().unwrap_or_else(|| panic!("{what}: no timestamp in {it}")).to_string();
            let usage =
                if it["containers"].is_array() { it["containers"].to_string() } else { it["usage"].to_string() };
            assert!(usage.contains("\"cpu\"") && usage.contains("\"memory\""), "{what}: usage of {it}");
            let prev = usage_by_point.entry((ns, name, ts)).or_insert_with(|| usage.clone());
            assert_eq!(*prev, usage, "{what} #{i}: same point, different usage for {it}");
        }
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lists_agree_slow_readers_do_not_stall_and_memory_stays_bounded() {
    let t0 = Instant::now();
    // 100 nodes x 100 pods = 10,000 pods, most of them Running.
    let st = SimThread::start(100, 100);
    let sim = st.sim();
    let expected = running_pods(sim);
    assert!(expected.len() > 8000, "only {} running pods", expected.len());
    // A kubelet answer may take seconds while the burst below competes for the two cores; a generous
    // timeout keeps every node in the lists that are compared.
    let mut ms = SimMetricsServer::start(sim, &["--kubelet-request-timeout=9s"]).await;

    // Pods are served from the second scrape on (a rate needs two points).
    let want = expected.len();
    ms.wait_items(PODS, Duration::from_secs(90), |items| items.len() >= want).await;
    let nodes = ms.wait_items(NODES, Duration::from_secs(30), |items| items.len() == 100).await;
    assert_eq!(nodes.len(), 100);
    eprintln!("ready with {want} pods after {:?}", t0.elapsed());
    let rss_before = rss_kib(ms.pid);

    let t = Instant::now();
    let (status, _) = admin_get(&ms, PODS).await;
    assert_eq!(status, 200);
    eprintln!("one pod list alone took {:?}", t.elapsed());

    let started = Instant::now();
    let ms_ref = &ms;
    let fetch = |path: &'static str| async move {
        let (status, body) = admin_get(ms_ref, path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    };
    let (pod_bodies, node_bodies) = tokio::join!(
        futures_join_all((0..50).map(|_| fetch(PODS)).collect()),
        futures_join_all((0..50).map(|_| fetch(NODES)).collect()),
    );
    let burst = started.elapsed();
    eprintln!("50 pod lists and 50 node lists in {burst:?}");
    assert!(burst < Duration::from_secs(90), "the burst took {burst:?}");
    // Parsed after the burst, so that parsing does not compete with it. Byte-identical bodies agree
    // trivially, so each distinct body is parsed once (they differ in creationTimestamp, which is the
    // time of the request as upstream sets it, and in usage after a new scrape).
    let body_bytes = pod_bodies.iter().map(String::len).max().unwrap();
    let distinct = |bodies: Vec<String>| -> Vec<Value> {
        let set: BTreeSet<String> = bodies.into_iter().collect();
        set.iter().map(|b| serde_json::from_str::<Value>(b).unwrap()).collect()
    };
    let pod_lists = distinct(pod_bodies);
    let node_lists = distinct(node_bodies);
    eprintln!("{} distinct pod lists, {} distinct node lists", pod_lists.len(), node_lists.len());
    let pods = assert_lists_agree("pod list", &pod_lists);
    let keys: BTreeSet<(String, String)> = pods.iter().map(|(ns, n, _)| (ns.clone(), n.clone())).collect();
    assert_eq!(keys, expected, "the pod lists hold exactly the Running pods");
    let node_ids = assert_lists_agree("node list", &node_lists);
    assert_eq!(node_ids.len(), 100);

    // Each in-flight list may hold its rendered body (responses are not streamed), but none may be kept
    // after the burst: the bound is far below 50 retained bodies, yet loose enough for allocator arenas.
    let rss_after = rss_kib(ms.pid);
    let body_kib = body_bytes as u64 / 1024;
    let bound = rss_before + 5 * body_kib + 64 * 1024;
    assert!(
        rss_after < bound,
        "VmRSS {rss_after} KiB after the burst, {rss_before} KiB before (bound {bound} KiB); list {body_kib} KiB"
    );
    // During it, the two cores cannot render 50 lists at once; holding all 50 bodies together (and the
    // values they were built from) would exceed this.
    let peak = peak_rss_kib(ms.pid);
    let peak_bound = rss_before + 16 * body_kib + 64 * 1024;
    assert!(peak < peak_bound, "peak VmRSS {peak} KiB during the burst (bound {peak_bound} KiB)");
    eprintln!("RSS {rss_before} KiB before, {rss_after} KiB after, peak {peak} KiB; pod list {body_kib} KiB");
    ms.assert_running();

    // Readers that stall after the first KiB, and readers that hang up mid-body.
    assert!(body_bytes > 1 << 20, "the pod list ({body_bytes} bytes) must exceed what socket buffers absorb");
    let request = format!(
        "GET {PODS} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Remote-User: admin\r\nX-Remote-Group: system:masters\r\n\r\n"
    );
    let mut stalled = Vec::new();
    for _ in 0..10 {
        let mut s = tls_connect(ms.port, Some(&ms.front)).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut buf = [0u8; 1024];
        s.read_exact(&mut buf).await.unwrap();
        assert!(buf.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..64]));
        stalled.push(s);
    }
    for _ in 0..10 {
        let mut s = tls_connect(ms.port, Some(&ms.front)).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        s.read_exact(&mut buf).await.unwrap();
        drop(s);
    }
    let t = Instant::now();
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), admin_get(&ms, PODS))
        .await
        .expect("a list completes within 30 s while 10 readers stall");
    eprintln!("a pod list with 10 stalled readers took {:?}", t.elapsed());
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let keys: BTreeSet<_> = v["items"].as_array().unwrap().iter().map(pod_key).collect();
    assert_eq!(keys, expected);
    let (status, _) = tokio::time::timeout(Duration::from_secs(10), ms.admin(NODES)).await.unwrap().unwrap();
    assert_eq!(status, 200);
    let (status, body) = ms.admin("/healthz").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "ok"));
    ms.assert_running();
    drop(stalled);
    tokio::time::sleep(Duration::from_millis(200)).await;
    ms.assert_running();
    eprintln!("test took {:?}", t0.elapsed());
}

/// GET as a front-proxied admin with a generous time limit: under a burst the server renders many bodies
/// at once on two cores.
async fn admin_get(ms: &SimMetricsServer, path: &str) -> (u16, String) {
    let run = async {
        let tls = tls_connect(ms.port, Some(&ms.front)).await?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let req = http::Request::get(path)
            .header("host", format!("127.0.0.1:{}", ms.port))
            .header("x-remote-user", "admin")
            .header("x-remote-group", "system:masters")
            .body(http_body_util::Empty::<bytes::Bytes>::new())?;
        let resp = send.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = http_body_util::BodyExt::collect(resp.into_body()).await?.to_bytes();
        anyhow::Ok((status, String::from_utf8(body.to_vec())?))
    };
    match tokio::time::timeout(Duration::from_secs(120), run).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => panic!("GET {path}: {e:#}"),
        Err(_) => panic!("GET {path}: no complete answer within 120 s"),
    }
}

/// Runs all futures concurrently on this task and returns their outputs in order.
async fn futures_join_all<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut fs: Vec<_> = fs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = fs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in fs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

/// Sends `bytes` over TLS (ignoring a write the server cut short) and returns what came back before the
/// connection closed, or `None` if it neither answered nor closed within 10 s. `Some(empty)` also covers a
/// failed handshake.
async fn send_raw_tls(port: u16, bytes: &[u8]) -> Option<Vec<u8>> {
    let Ok(s) = tls_connect(port, None).await else { return Some(Vec::new()) };
    support::send_and_read(s, bytes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_rejected_without_a_crash() {
    let sim = cluster(3, 5).await;
    let expected = running_pods(&sim);
    let mut ms = SimMetricsServer::start(&sim, &[]).await;
    let port = ms.port;

    // A request whose headers never end, left hanging while the rest of the test runs: the server must
    // drop it (upstream: ReadHeaderTimeout of 32 s), not hold it for good.
    let mut slow = tls_connect(port, None).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Partial: ").await.unwrap();
    slow.flush().await.unwrap();
    let slow_since = Instant::now();

    // Plain HTTP on the TLS port: the handshake fails and the connection closes.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "plain HTTP on the TLS port: connection left open");
    assert!(!sink.starts_with(b"HTTP/1.1 2"), "plain HTTP was answered");

    rejected("garbage request line", send_raw_tls(port, b"\x00\xff\x13 not http at all\r\n\r\n").await);
    let long = format!("GET {NODES}?{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100 * 1024));
    rejected("100 KiB request line", send_raw_tls(port, long.as_bytes()).await);
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..10_000 {
        many += &format!("X-H{i}: v\r\n");
    }
    many += "\r\n";
    rejected("10,000 headers", send_raw_tls(port, many.as_bytes()).await);
    let big_header = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(1 << 20));
    rejected("1 MiB header", send_raw_tls(port, big_header.as_bytes()).await);
    let overflow = b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    rejected("Content-Length beyond u64", send_raw_tls(port, overflow).await);
    rejected("HTTP/9", send_raw_tls(port, b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n").await);

    // Bodies are of no use to a read-only API: a huge declared or sent body is refused (no identity, so
    // 401) or answered without being read, never waited for.
    let huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n";
    let resp = send_raw_tls(port, huge).await.expect("huge Content-Length: no answer within 10 s");
    let head = String::from_utf8_lossy(&resp[..resp.len().min(200)]).into_owned();
    assert!(resp.is_empty() || head.starts_with("HTTP/1.1 4") || head.starts_with("HTTP/1.1 200"), "{head}");
    let mut post = format!("POST {PODS} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", 8 << 20).into_bytes();
    post.extend(std::iter::repeat_n(b'x', 8 << 20));
    rejected("8 MiB POST body", send_raw_tls(port, &post).await);

    // Wait for data so that the paths below reach selector parsing and lookups, not an empty store.
    let want = expected.len();
    ms.wait_items(PODS, Duration::from_secs(60), |items| items.len() == want).await;

    // Just under the 64 KiB URI limit of the client; the trailing `,!` makes it invalid.
    let long_selector = format!("{PODS}?labelSelector={}%21", "a%3Db,".repeat(9_000));
    let bad: Vec<String> = vec![
        format!("{PODS}?labelSelector=a%20in%20("),
        format!("{PODS}?labelSelector=%3D%3D%3D"),
        format!("{PODS}?labelSelector=a%3D%ZZ"),
        format!("{PODS}?labelSelector=-bad-%3Dv"),
        format!("{PODS}?fieldSelector=spec.nodeName%3Dx"),
        format!("{PODS}?fieldSelector=%3D%3D"),
        format!("{NODES}?labelSelector=x%20notin%20"),
        format!("{NODES}?fieldSelector=status.phase%3DRunning"),
        long_selector,
        "/apis/metrics.k8s.io/v1beta1/namespaces//pods".into(),
        "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/a/b/c".into(),
        "/apis/metrics.k8s.io/v1beta1/nodes/..%2F..%2Fetc%2Fpasswd".into(),
        "/apis/metrics.k8s.io/v9/pods".into(),
        "/apis/metrics.k8s.io/v1beta1/podz".into(),
        "/%00".into(),
    ];
    for path in &bad {
        let (status, body) = ms.admin(path).await.unwrap_or_else(|e| panic!("GET {:.80}: {e:#}", path));
        assert!((400..500).contains(&status), "GET {:.120}: {status} {:.200}", path, body);
        ms.assert_running();
    }

    // Namespaces no pod can be in (not valid names at all): nothing is listed, as for any namespace that
    // holds no pods, or the request is refused.
    for path in [
        "/apis/metrics.k8s.io/v1beta1/namespaces/%ff%fe/pods".to_string(),
        format!("/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods", "n".repeat(30_000)),
        "/apis/metrics.k8s.io/v1beta1/namespaces/%20/pods".to_string(),
    ] {
        let (status, body) = ms.admin(&path).await.unwrap();
        match status {
            200 => assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["items"], serde_json::json!([])),
            400..=499 => {}
            s => panic!("GET {path:.120}: {s} {body}"),
        }
    }

    // A long but valid selector that nothing matches is an empty list, not an error.
    let v = ms.admin_json(&format!("{PODS}?labelSelector={}zz%3Dzz", "a%3Db,".repeat(9_000))).await;
    assert_eq!(v["items"], serde_json::json!([]));

    // Absurd limits: the API does not paginate, so a limit is either refused or ignored — never honoured
    // halfway, never a server error.
    for q in ["limit=-1", "limit=0", "limit=99999999999999999999999", "limit=abc", "limit=1&continue=%ff"] {
        let (status, body) = ms.admin(&format!("{PODS}?{q}")).await.unwrap();
        match status {
            200 => {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["items"].as_array().unwrap().len(), want, "{q}: partial list");
            }
            400..=499 => {}
            s => panic!("{q}: {s} {body}"),
        }
    }

    ms.assert_running();
    let v = ms.admin_json(PODS).await;
    let keys: BTreeSet<_> = v["items"].as_array().unwrap().iter().map(pod_key).collect();
    assert_eq!(keys, expected, "the API still serves every pod");

    let mut sink = Vec::new();
    let left = Duration::from_secs(45).saturating_sub(slow_since.elapsed());
    let closed = tokio::time::timeout(left, slow.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "a connection with unfinished headers is still open after 45 s");
    eprintln!("unfinished headers: connection closed after {:?}", slow_since.elapsed());
    let head = String::from_utf8_lossy(&sink[..sink.len().min(100)]).into_owned();
    assert!(sink.is_empty() || head.starts_with("HTTP/1.1 4"), "{head}");
    ms.assert_running();
}
