//! Shared helpers for end-to-end tests: a kube-sim cluster, the real `kubestate` binary started against
//! it, and a small HTTP client. Everything is cleaned up on drop.
#![allow(dead_code)]

use std::future::Future;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "kubestate-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running kube-sim plus a kubeconfig pointing at it.
pub struct Cluster {
    pub sim: kube_sim::SimHandle,
    pub kubeconfig: PathBuf,
    pub dir: TempDir,
}

impl Cluster {
    /// Starts a simulator holding `objects` (created in order, metadata kept as given).
    pub async fn start(objects: &[Value]) -> Cluster {
        Self::start_with(kube_sim::SimConfig::default(), objects).await
    }

    pub async fn start_with(cfg: kube_sim::SimConfig, objects: &[Value]) -> Cluster {
        let sim = kube_sim::start(cfg).await.expect("start kube-sim");
        for o in objects {
            sim.store().create(o.clone()).unwrap_or_else(|e| panic!("create {o}: {e:?}"));
        }
        let dir = TempDir::new("cluster");
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).expect("write kubeconfig");
        Cluster { sim, kubeconfig, dir }
    }

    pub fn create(&self, o: Value) -> Value {
        self.sim.store().create(o.clone()).unwrap_or_else(|e| panic!("create {o}: {e:?}"))
    }

    pub fn update(&self, o: Value) -> Value {
        self.sim.store().update(o.clone()).unwrap_or_else(|e| panic!("update {o}: {e:?}"))
    }

    pub fn delete(&self, api_version: &str, kind: &str, ns: Option<&str>, name: &str) {
        self.sim.store().delete(api_version, kind, ns, name).unwrap_or_else(|e| panic!("delete {name}: {e:?}"));
    }
}

/// A free TCP port on 127.0.0.1 for a child process to bind. Ports come from below the kernel's ephemeral
/// range (32768 and up), so no `bind(0)` or outgoing connection can take one between this check and the
/// child's bind, and each port is handed out once per test process; the process id spreads concurrent test
/// binaries over different blocks.
pub fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    const BLOCK: u16 = 180;
    let base = 20000 + (std::process::id() % 64) as u16 * BLOCK;
    for _ in 0..BLOCK {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % BLOCK;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {base}..{}", base + BLOCK);
}

/// The `kubestate kube-state-metrics` process; killed on drop. Its log is printed if the test fails.
pub struct Ksm {
    child: Child,
    pub port: u16,
    pub telemetry_port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Ksm {
    /// The server's process id (for reading its memory from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the binary with `--kubeconfig`, loopback ports and `args`.
    pub fn spawn(kubeconfig: &Path, args: &[&str]) -> Ksm {
        let port = free_port();
        let telemetry_port = free_port();
        let dir = TempDir::new("ksm");
        let log = dir.path().join("stderr.log");
        let child = Command::new(env!("CARGO_BIN_EXE_kubestate"))
            .arg("kube-state-metrics")
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg("--host=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg("--telemetry-host=127.0.0.1")
            .arg(format!("--telemetry-port={telemetry_port}"))
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn kubestate");
        Ksm { child, port, telemetry_port, log, _dir: dir }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path_and_query)
    }

    pub fn telemetry_url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.telemetry_port, path_and_query)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails (with the log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("kubestate exited with {status}; log:\n{}", self.log());
        }
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.assert_running();
            if let Ok(r) = try_get(&self.url("/readyz"), &[]).await
                && r.status == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "not ready after 30 s; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Body of a plain GET on the main port.
    pub async fn scrape(&self, path_and_query: &str) -> String {
        let r = get(&self.url(path_and_query), &[]).await;
        assert_eq!(r.status, 200, "GET {path_and_query}");
        r.text()
    }

    /// Waits for the process to exit by itself; returns its exit code and log.
    pub fn wait_exit(&mut self, timeout: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (status.code(), self.log());
            }
            assert!(Instant::now() < deadline, "still running after {timeout:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Ksm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let mut s = String::new();
            if let Ok(mut f) = std::fs::File::open(&self.log) {
                let _ = f.read_to_string(&mut s);
            }
            let tail: String =
                s.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            eprintln!("---- kubestate log (tail) ----\n{tail}");
        }
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("utf-8 body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// GET with extra request headers; the body is read whole (and not decompressed).
pub async fn try_get(url: &str, headers: &[(&str, &str)]) -> Result<Resp, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut req = http::Request::get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(20), client.request(req))
        .await
        .map_err(|_| format!("GET {url}: timed out"))?
        .map_err(|e| format!("GET {url}: {e}"))?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| format!("GET {url}: body: {e}"))?.to_bytes();
    Ok(Resp { status: parts.status.as_u16(), headers: parts.headers, body })
}

pub async fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    try_get(url, headers).await.unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `check` every 20 ms until it returns `Ok`, failing with its last error after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(()) => return,
            Err(e) if Instant::now() >= deadline => panic!("condition not met within {timeout:?}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Go's `%g`-style value text, as the exporter writes it.
pub fn go_float(v: f64) -> String {
    let mut b = Vec::new();
    exposition::write_float(&mut b, v);
    String::from_utf8(b).unwrap()
}

/// `metadata.resourceVersion` of an object as returned by kube-sim.
pub fn rv(o: &Value) -> String {
    o["metadata"]["resourceVersion"].as_str().expect("resourceVersion").to_owned()
}

/// The lines of `body` that start with `prefix`.
pub fn lines_with<'a>(body: &'a str, prefix: &str) -> Vec<&'a str> {
    body.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// The sample lines of an exposition body (comments and blank lines dropped).
pub fn series(body: &str) -> Vec<&str> {
    body.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// The value of one telemetry sample (`name` with all of `labels`), if the telemetry port serves it.
pub async fn telemetry_value(k: &Ksm, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = try_get(&k.telemetry_url("/metrics"), &[]).await.ok()?.text();
    let samples = exposition::parse_text(&text).ok()?;
    samples.iter().find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v))).map(|s| s.value)
}

/// A label value of a sample line such as `kube_configmap_info{namespace="a",configmap="b"} 1`.
pub fn label_of<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    let start = line.find(&format!("{label}=\""))? + label.len() + 2;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// (resource, family) rows of the project's spec table, spec/families.tsv.
pub fn spec_families() -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spec/families.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap_or_else(|| panic!("spec column {n}"));
    let (c_res, c_name) = (col("resource"), col("family"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[c_res].to_owned(), f[c_name].to_owned())
        })
        .collect()
}

/// Starts kube-state-metrics with `resources`, every opt-in family and every label and annotation
/// allowlisted; returns it once ready, with one full scrape.
pub async fn spawn_with_everything(kubeconfig: &Path, resources: &[&str]) -> (Ksm, String) {
    let resources_arg = format!("--resources={}", resources.join(","));
    let mut ksm = Ksm::spawn(
        kubeconfig,
        &[
            &resources_arg,
            "--metric-opt-in-list=.*",
            "--metric-labels-allowlist=*=[*]",
            "--metric-annotations-allowlist=*=[*]",
        ],
    );
    ksm.wait_ready().await;
    let body = ksm.scrape("/metrics").await;
    (ksm, body)
}

/// VmRSS (resident size) of `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS")
}

/// VmHWM (peak resident size) of `pid` in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM")
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':'))).expect("field");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Writes `bytes` on an open connection and returns what the server sent before closing it, or `None` if
/// it neither answered nor closed within 10 s.
pub async fn send_and_read<S>(mut s: S, bytes: &[u8]) -> Option<Vec<u8>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = s.write_all(bytes).await;
    let _ = s.flush().await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return if out.is_empty() { None } else { Some(out) },
            Ok(Ok(0)) | Ok(Err(_)) => return Some(out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Asserts a raw exchange was refused: a 4xx answer, or a connection closed without one.
pub fn rejected(what: &str, resp: Option<Vec<u8>>) {
    let resp = resp.unwrap_or_else(|| panic!("{what}: no answer and connection left open for 10 s"));
    let head = String::from_utf8_lossy(&resp[..resp.len().min(200)]).into_owned();
    assert!(resp.is_empty() || head.starts_with("HTTP/1.1 4"), "{what}: {head}");
}

/// Names of the simulator's nodes, in store order.
pub fn node_names(sim: &kube_sim::SimHandle) -> Vec<String> {
    sim.store()
        .list("v1", "Node", None)
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// A StatefulSet `monitoring/ksm` of `replicas` pods, for auto-sharding.
pub fn statefulset(replicas: i64) -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "ksm", "namespace": "monitoring"},
        "spec": {
            "replicas": replicas, "serviceName": "ksm",
            "selector": {"matchLabels": {"app": "ksm"}},
            "template": {"metadata": {"labels": {"app": "ksm"}}, "spec": {"containers": [{"name": "k", "image": "k"}]}}
        }
    })
}

/// Pod `monitoring/<name>` controlled by the StatefulSet `sts` (as created by [`statefulset`]), with a
/// decoy owner reference before the controlling one.
pub fn statefulset_pod(c: &Cluster, sts: &Value, name: &str) -> Value {
    c.create(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "monitoring",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ReplicaSet", "name": "decoy", "uid": "x", "controller": false},
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "ksm",
                 "uid": sts["metadata"]["uid"], "controller": true}
            ]
        },
        "spec": {"containers": [{"name": "k", "image": "k"}]}
    }))
}
