//! Simulated kubelets: one loopback HTTPS endpoint per node serving `/metrics/resource` in the kubelet's
//! text format, for the pods a [`PodSource`] places on that node. Counters grow with wall-clock time.
//! Faults (die, hang, garbage, error status) can be injected per node.
//!
//! ```no_run
//! # async fn demo(pods: std::sync::Arc<dyn kubelet_sim::PodSource>) -> Result<(), kubelet_sim::SimError> {
//! let sim = kubelet_sim::KubeletSim::start(kubelet_sim::Config::new(pods)).await?;
//! let addr = sim.add_node("node-1")?; // put addr.ip() / addr.port() into the Node's status
//! sim.set_fault("node-1", kubelet_sim::Fault::Hang);
//! # Ok(()) }
//! ```

pub mod insecure;
pub mod pki;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;

/// A pod as the simulated kubelet sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub containers: Vec<String>,
    pub start_time: SystemTime,
}

/// Tells the simulator which pods run on a node (kube-sim implements this over its store).
pub trait PodSource: Send + Sync + 'static {
    fn pods_on(&self, node: &str) -> Vec<PodInfo>;
}

impl<F> PodSource for F
where
    F: Fn(&str) -> Vec<PodInfo> + Send + Sync + 'static,
{
    fn pods_on(&self, node: &str) -> Vec<PodInfo> {
        self(node)
    }
}

/// Per-node misbehaviour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// The port is closed: connections are refused until the fault is cleared.
    Die,
    /// Connections are accepted and requests read, but no response is ever sent.
    Hang,
    /// 200 with a body that is not the Prometheus text format (including invalid UTF-8).
    Garbage,
    /// 200 with the node's normal body plus one well-formed sample whose label value is not UTF-8.
    InvalidUtf8,
    /// Respond with this HTTP status and a short text body.
    Status(u16),
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("binding: {0}")]
    Io(#[from] std::io::Error),
    #[error("node {0:?} is not simulated")]
    UnknownNode(String),
}

/// Simulator settings.
pub struct Config {
    pub pods: Arc<dyn PodSource>,
    /// Bearer token the kubelets require; `None` accepts any request.
    pub token: Option<String>,
    pub bind: IpAddr,
}

impl Config {
    pub fn new(pods: Arc<dyn PodSource>) -> Self {
        Config { pods, token: None, bind: IpAddr::V4(Ipv4Addr::LOCALHOST) }
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

struct NodeState {
    addr: SocketAddr,
    fault: Fault,
    accept: Option<JoinHandle<()>>,
    booted: SystemTime,
    cpu: Arc<Mutex<CpuLedger>>,
}

/// What a node's cumulative CPU counter owes to containers that no longer run on it.
///
/// A real node's `node_cpu_usage_seconds_total` keeps the CPU time of pods that have left; a counter
/// rebuilt from the pods running now would drop whenever one leaves, and rate() over it would go
/// negative. The ledger remembers each container's counter at the last render and, once a container
/// is gone, keeps that value for good.
#[derive(Debug, Default)]
pub struct CpuLedger {
    last: HashMap<(String, String, String), f64>,
    departed: f64,
}

impl CpuLedger {
    /// Records the containers of this render (namespace, pod, container, counter) and returns the CPU
    /// seconds of every container seen before but absent now, departed ones included.
    fn settle<'a>(&mut self, now: impl Iterator<Item = (&'a str, &'a str, &'a str, f64)>) -> f64 {
        let mut seen = HashMap::with_capacity(self.last.len());
        for (ns, pod, c, cpu) in now {
            seen.insert((ns.to_string(), pod.to_string(), c.to_string()), cpu);
        }
        self.departed += self.last.iter().filter(|(k, _)| !seen.contains_key(*k)).map(|(_, v)| v).sum::<f64>();
        self.last = seen;
        self.departed
    }
}

struct Inner {
    pods: Arc<dyn PodSource>,
    token: Option<String>,
    bind: IpAddr,
    tls: Arc<rustls::ServerConfig>,
    ca_pem: String,
    nodes: Mutex<HashMap<String, NodeState>>,
}

/// A set of simulated kubelets sharing one CA.
#[derive(Clone)]
pub struct KubeletSim {
    inner: Arc<Inner>,
}

/// Start a simulator (same as [`KubeletSim::start`]).
pub async fn serve(cfg: Config) -> Result<KubeletSim, SimError> {
    KubeletSim::start(cfg).await
}

impl KubeletSim {
    pub async fn start(cfg: Config) -> Result<KubeletSim, SimError> {
        let ca = pki::TestCa::new("kubelet-sim-ca")?;
        let leaf = ca.issue_server(&["localhost", "127.0.0.1", "::1"])?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.cert_der.clone(), ca.ca_der().clone()], leaf.key_der())?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletSim {
            inner: Arc::new(Inner {
                pods: cfg.pods,
                token: cfg.token,
                bind: cfg.bind,
                tls: Arc::new(tls),
                ca_pem: ca.ca_pem().to_string(),
                nodes: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// PEM of the CA that signed every kubelet's serving certificate (for `--kubelet-certificate-authority`).
    pub fn ca_pem(&self) -> &str {
        &self.inner.ca_pem
    }

    /// Start a kubelet for `name` on a fresh loopback port. Must be called inside a tokio runtime.
    /// Adding an existing node returns its current address.
    pub fn add_node(&self, name: &str) -> Result<SocketAddr, SimError> {
        let mut nodes = self.nodes();
        if let Some(n) = nodes.get(name) {
            return Ok(n.addr);
        }
        let std_listener = std::net::TcpListener::bind(SocketAddr::new(self.inner.bind, 0))?;
        let addr = std_listener.local_addr()?;
        let accept = self.spawn_accept(name, std_listener)?;
        nodes.insert(
            name.to_string(),
            NodeState {
                addr,
                fault: Fault::None,
                accept: Some(accept),
                booted: SystemTime::now(),
                cpu: Arc::new(Mutex::new(CpuLedger::default())),
            },
        );
        Ok(addr)
    }

    /// Stop and forget a node's kubelet.
    pub fn remove_node(&self, name: &str) {
        if let Some(n) = self.nodes().remove(name)
            && let Some(t) = n.accept
        {
            t.abort();
        }
    }

    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.nodes().get(name).map(|n| n.addr)
    }

    /// Inject or clear a fault. Clearing `Die` re-opens the same port.
    pub fn set_fault(&self, name: &str, fault: Fault) -> Result<(), SimError> {
        let mut nodes = self.nodes();
        let n = nodes.get_mut(name).ok_or_else(|| SimError::UnknownNode(name.to_string()))?;
        let was = n.fault;
        n.fault = fault;
        if fault == Fault::Die {
            if let Some(t) = n.accept.take() {
                t.abort();
            }
        } else if was == Fault::Die && n.accept.is_none() {
            let l = std::net::TcpListener::bind(n.addr)?;
            let addr = n.addr;
            drop(nodes);
            let task = self.spawn_accept(name, l)?;
            let mut nodes = self.nodes();
            match nodes.get_mut(name) {
                Some(n) if n.addr == addr => n.accept = Some(task),
                _ => task.abort(),
            }
        }
        Ok(())
    }

    fn nodes(&self) -> std::sync::MutexGuard<'_, HashMap<String, NodeState>> {
        match self.inner.nodes.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn fault(&self, name: &str) -> Option<(Fault, SystemTime, Arc<Mutex<CpuLedger>>)> {
        self.nodes().get(name).map(|n| (n.fault, n.booted, n.cpu.clone()))
    }

    fn spawn_accept(&self, name: &str, l: std::net::TcpListener) -> Result<JoinHandle<()>, SimError> {
        l.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(l)?;
        let sim = self.clone();
        let name = name.to_string();
        let acceptor = tokio_rustls::TlsAcceptor::from(self.inner.tls.clone());
        Ok(tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let sim = sim.clone();
                let name = name.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req| {
                        let sim = sim.clone();
                        let name = name.clone();
                        async move { Ok::<_, Infallible>(sim.respond(&name, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), svc).await;
                });
            }
        }))
    }

    async fn respond<B>(&self, node: &str, req: http::Request<B>) -> http::Response<Full<Bytes>> {
        let Some((fault, booted, ledger)) = self.fault(node) else {
            return reply(404, "text/plain", Bytes::from_static(b"node removed\n"));
        };
        if let Some(tok) = &self.inner.token {
            let ok = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.strip_prefix("Bearer ") == Some(tok.as_str()));
            if !ok {
                return reply(401, "text/plain", Bytes::from_static(b"Unauthorized\n"));
            }
        }
        match fault {
            Fault::Hang => std::future::pending().await,
            Fault::Die => return reply(503, "text/plain", Bytes::new()),
            Fault::Status(code) => return reply(code, "text/plain", Bytes::from(format!("simulated status {code}\n"))),
            Fault::Garbage => return reply(200, "text/plain", garbage()),
            Fault::None | Fault::InvalidUtf8 => {}
        }
        if req.uri().path() != "/metrics/resource" {
            return reply(404, "text/plain", Bytes::from_static(b"404 page not found\n"));
        }
        // Pods and clock are read under the ledger's lock so that concurrent scrapes of one node settle
        // in order: a pod seen leaving by one must not reappear in a render based on an older list.
        let body = {
            let mut ledger = match ledger.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let pods = self.inner.pods.pods_on(node);
            render_with(node, booted, &pods, SystemTime::now(), &mut ledger)
        };
        let body = if fault == Fault::InvalidUtf8 { with_invalid_utf8(body) } else { Bytes::from(body) };
        reply(200, "text/plain; version=0.0.4; charset=utf-8", body)
    }
}

fn reply(status: u16, ct: &'static str, body: Bytes) -> http::Response<Full<Bytes>> {
    let mut r = http::Response::new(Full::new(body));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(ct));
    r
}

fn garbage() -> Bytes {
    let mut b = b"<html><body>not metrics</body></html>\nnode_cpu_usage_seconds_total{ broken\n".to_vec();
    b.extend((0..256).map(|_| rand::random::<u8>() | 0x80));
    b.push(b'\n');
    Bytes::from(b)
}

/// `body` with an extra container sample, right after the first family's TYPE line, whose `pod` label
/// holds bytes that are not UTF-8; everything else stays well-formed.
fn with_invalid_utf8(body: String) -> Bytes {
    const TYPE: &str = "# TYPE container_cpu_usage_seconds_total counter\n";
    let at = body.find(TYPE).map_or(0, |i| i + TYPE.len());
    let mut b = Vec::with_capacity(body.len() + 128);
    b.extend_from_slice(&body.as_bytes()[..at]);
    b.extend_from_slice(
        b"container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"bad-\xff\xfe-utf8\"} 1\n",
    );
    b.extend_from_slice(&body.as_bytes()[at..]);
    Bytes::from(b)
}

fn seed(parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// A container's steady CPU rate in cores (10m–500m) and base working set (8–72 MiB), from its name.
pub fn container_profile(namespace: &str, pod: &str, container: &str) -> (f64, u64) {
    let s = seed(&[namespace, pod, container]);
    let cores = 0.01 + (s % 491) as f64 / 1000.0;
    let mem = (8 + (s >> 16) % 64) * 1024 * 1024;
    (cores, mem)
}

/// Render `/metrics/resource` for a node at time `now`, in the kubelet's family order, for a node that
/// has only ever run `pods`.
pub fn render(node: &str, booted: SystemTime, pods: &[PodInfo], now: SystemTime) -> String {
    render_with(node, booted, pods, now, &mut CpuLedger::default())
}

/// [`render`] for a node whose earlier renders were recorded in `ledger`: the node's CPU counter keeps
/// the time of containers that have left since.
pub fn render_with(
    node: &str,
    booted: SystemTime,
    pods: &[PodInfo],
    now: SystemTime,
    ledger: &mut CpuLedger,
) -> String {
    let now_s = secs(now);
    let ts = (now_s * 1000.0) as i64;
    struct Row<'a> {
        ns: &'a str,
        pod: &'a str,
        c: &'a str,
        cpu: f64,
        mem: u64,
        start: f64,
    }
    let mut rows = Vec::new();
    for p in pods {
        let start = secs(p.start_time);
        let up = (now_s - start).max(0.0);
        for c in &p.containers {
            let (cores, base) = container_profile(&p.namespace, &p.name, c);
            // Working set wiggles by up to 1 MiB so successive scrapes differ.
            let wiggle = ((now_s / 7.0).sin().abs() * 1024.0 * 1024.0) as u64 & !0xfff;
            rows.push(Row { ns: &p.namespace, pod: &p.name, c, cpu: cores * up + 0.001, mem: base + wiggle, start });
        }
    }
    rows.sort_by(|a, b| (a.ns, a.pod, a.c).cmp(&(b.ns, b.pod, b.c)));
    let mut out = String::with_capacity(256 + rows.len() * 400);
    let lbl = |r: &Row| format!("container=\"{}\",namespace=\"{}\",pod=\"{}\"", r.c, r.ns, r.pod);
    out.push_str("# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds\n# TYPE container_cpu_usage_seconds_total counter\n");
    for r in &rows {
        let _ = writeln!(out, "container_cpu_usage_seconds_total{{{}}} {} {ts}", lbl(r), r.cpu);
    }
    out.push_str("# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes\n# TYPE container_memory_working_set_bytes gauge\n");
    for r in &rows {
        let _ = writeln!(out, "container_memory_working_set_bytes{{{}}} {} {ts}", lbl(r), r.mem);
    }
    out.push_str("# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds\n# TYPE container_start_time_seconds gauge\n");
    for r in &rows {
        let _ = writeln!(out, "container_start_time_seconds{{{}}} {}", lbl(r), r.start);
    }
    let node_up = (now_s - secs(booted)).max(0.0);
    let (node_cores, node_base) = container_profile("", node, "");
    let departed = ledger.settle(rows.iter().map(|r| (r.ns, r.pod, r.c, r.cpu)));
    let node_cpu = node_cores * node_up + rows.iter().map(|r| r.cpu).sum::<f64>() + departed + 1.0;
    let node_mem = 512 * 1024 * 1024 + node_base + rows.iter().map(|r| r.mem).sum::<u64>();
    out.push_str("# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter\n");
    let _ = writeln!(out, "node_cpu_usage_seconds_total {node_cpu} {ts}");
    out.push_str("# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes\n# TYPE node_memory_working_set_bytes gauge\n");
    let _ = writeln!(out, "node_memory_working_set_bytes {node_mem} {ts}");
    let mut pod_rows: Vec<(&str, &str, f64, u64)> = Vec::new();
    for r in &rows {
        match pod_rows.last_mut() {
            Some(last) if last.0 == r.ns && last.1 == r.pod => {
                last.2 += r.cpu;
                last.3 += r.mem;
            }
            _ => pod_rows.push((r.ns, r.pod, r.cpu, r.mem)),
        }
    }
    out.push_str("# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds\n# TYPE pod_cpu_usage_seconds_total counter\n");
    for (ns, pod, cpu, _) in &pod_rows {
        let _ = writeln!(out, "pod_cpu_usage_seconds_total{{namespace=\"{ns}\",pod=\"{pod}\"}} {cpu} {ts}");
    }
    out.push_str("# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes\n# TYPE pod_memory_working_set_bytes gauge\n");
    for (ns, pod, _, mem) in &pod_rows {
        let _ = writeln!(out, "pod_memory_working_set_bytes{{namespace=\"{ns}\",pod=\"{pod}\"}} {mem} {ts}");
    }
    out.push_str("# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n");
    out.push_str("# HELP scrape_error [ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE scrape_error gauge\nscrape_error 0\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods() -> Vec<PodInfo> {
        vec![PodInfo {
            namespace: "default".into(),
            name: "web-0".into(),
            containers: vec!["app".into(), "sidecar".into()],
            start_time: UNIX_EPOCH + Duration::from_secs(1_000),
        }]
    }

    fn value(body: &str, prefix: &str) -> f64 {
        let line = body.lines().find(|l| l.starts_with(prefix)).unwrap();
        line.split(' ').nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn renders_kubelet_format_with_growing_counters() {
        let boot = UNIX_EPOCH + Duration::from_secs(500);
        let t1 = UNIX_EPOCH + Duration::from_secs(1_100);
        let t2 = UNIX_EPOCH + Duration::from_secs(1_115);
        let a = render("n1", boot, &pods(), t1);
        let b = render("n1", boot, &pods(), t2);
        let sel = "container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"web-0\"}";
        let (cores, _) = container_profile("default", "web-0", "app");
        let rate = (value(&b, sel) - value(&a, sel)) / 15.0;
        assert!((rate - cores).abs() < 1e-6, "{rate} vs {cores}");
        assert!(value(&b, "node_cpu_usage_seconds_total ") > value(&a, "node_cpu_usage_seconds_total "));
        assert!(a.contains(
            "container_start_time_seconds{container=\"sidecar\",namespace=\"default\",pod=\"web-0\"} 1000\n"
        ));
        assert!(a.contains(" 1100000\n"), "timestamps in ms");
        assert!(value(&a, "container_memory_working_set_bytes{container=\"app\"") > 0.0);
        assert!(a.contains("pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"web-0\"}"));
        // Families appear in name order, like the kubelet.
        let order: Vec<&str> = a.lines().filter_map(|l| l.strip_prefix("# TYPE ")).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
    }

    #[test]
    fn node_cpu_counter_keeps_departed_pods() {
        let boot = UNIX_EPOCH + Duration::from_secs(500);
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let mut two = pods();
        two.push(PodInfo { name: "web-1".into(), ..pods()[0].clone() });
        let node = |b: &str| value(b, "node_cpu_usage_seconds_total ");
        let mut ledger = CpuLedger::default();
        let a = render_with("n1", boot, &two, at(1_100), &mut ledger);
        let b = render_with("n1", boot, &two, at(1_110), &mut ledger);
        // web-1 leaves: the node keeps its CPU time and still grows by web-0's and its own rate.
        let c = render_with("n1", boot, &pods(), at(1_120), &mut ledger);
        let d = render_with("n1", boot, &pods(), at(1_130), &mut ledger);
        assert!(node(&a) < node(&b) && node(&b) < node(&c) && node(&c) < node(&d), "{a}\n{b}\n{c}\n{d}");
        let web0 = |x: &str| value(x, "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"web-0\"}");
        let (own, _) = container_profile("", "n1", "");
        let step = web0(&d) - web0(&c) + own * 10.0;
        assert!((node(&d) - node(&c) - step).abs() < 1e-6, "{} vs {step}", node(&d) - node(&c));
        // Without history, the same pods give the lower, history-free counter.
        assert!(node(&render("n1", boot, &pods(), at(1_130))) < node(&d));
        // web-1 coming back under the same name starts a fresh counter; what it used before stays counted.
        let mut back = two.clone();
        back[1].start_time = at(1_135);
        let e = render_with("n1", boot, &back, at(1_140), &mut ledger);
        assert!(node(&e) > node(&d));
        let f = render_with("n1", boot, &back, at(1_150), &mut ledger);
        let rate = (node(&f) - node(&e)) / 10.0;
        let (c1, _) = container_profile("default", "web-0", "app");
        assert!(rate > c1 && rate < 2.0, "node rate {rate} cores");
    }

    #[tokio::test]
    async fn serves_https_with_token_and_faults() {
        let source: Arc<dyn PodSource> = Arc::new(|_: &str| pods());
        let sim = KubeletSim::start(Config::new(source).with_token("t0k")).await.unwrap();
        let addr = sim.add_node("n1").unwrap();
        assert_eq!(sim.add_node("n1").unwrap(), addr);
        let (status, body) = get(&sim, addr, Some("t0k")).await.unwrap();
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&body).contains("node_memory_working_set_bytes"));
        assert_eq!(get(&sim, addr, Some("wrong")).await.unwrap().0, 401);
        sim.set_fault("n1", Fault::Status(500)).unwrap();
        assert_eq!(get(&sim, addr, Some("t0k")).await.unwrap().0, 500);
        sim.set_fault("n1", Fault::Garbage).unwrap();
        let (s, g) = get(&sim, addr, Some("t0k")).await.unwrap();
        assert_eq!(s, 200);
        assert!(std::str::from_utf8(&g).is_err());
        sim.set_fault("n1", Fault::InvalidUtf8).unwrap();
        let (s, b) = get(&sim, addr, Some("t0k")).await.unwrap();
        assert_eq!(s, 200);
        let bad = std::str::from_utf8(&b).unwrap_err().valid_up_to();
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains("node_cpu_usage_seconds_total "), "the rest of the body is intact");
        assert!(text[..bad].ends_with("pod=\"bad-"), "{}", &text[..bad]);
        sim.set_fault("n1", Fault::Hang).unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(300), get(&sim, addr, Some("t0k"))).await.is_err());
        sim.set_fault("n1", Fault::Die).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "port closed");
        sim.set_fault("n1", Fault::None).unwrap();
        assert_eq!(get(&sim, addr, Some("t0k")).await.unwrap().0, 200);
        sim.remove_node("n1");
        assert!(sim.set_fault("n1", Fault::Hang).is_err());
    }

    async fn get(
        sim: &KubeletSim,
        addr: SocketAddr,
        token: Option<&str>,
    ) -> Result<(u16, Vec<u8>), Box<dyn std::error::Error>> {
        use http_body_util::{BodyExt, Empty};
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile_certs(sim.ca_pem()) {
            roots.add(c)?;
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(rustls::pki_types::ServerName::try_from("127.0.0.1")?, tcp)
            .await?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        let mut req = http::Request::get("/metrics/resource").header("host", "127.0.0.1");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = send.send_request(req.body(Empty::<Bytes>::new())?).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes().to_vec();
        Ok((status, body))
    }

    fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()).filter_map(Result::ok).collect()
    }
}
